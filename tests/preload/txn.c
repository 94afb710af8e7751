/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* txn.c - "a replacement is one transaction": what another thread or a
 * signal handler does to a socket's fd while the shim replaces that socket
 * inside connect() must be neither lost nor undone.
 *
 *   txn SCENARIO WHEN
 *
 * SCENARIO is what the other party does to the fd (close-open, dup2,
 * close-range, setsockopt, nonblock, fork: another thread;
 * handler-close, handler-epoll, handler-setsockopt, handler-fork: a signal
 * handler). WHEN is `before` or
 * `after` (the action runs before / after connect(): the two orders a
 * program without the shim can see), or `socket` / `dup3` (the action runs
 * from libforce.so's hooks, at the moment the shim's replacement creates
 * its socket / is about to dup3 it over the fd; needs
 * LD_PRELOAD="libmptcpify.so libforce.so" and MPTCPIFY_ADDRS that replaces,
 * e.g. '!127.0.0.0/8, *'). Prints what the program observes, one fact a
 * line; lines starting with '#' are not observations (protocol, whether
 * the hook fired). test-preload.c compares the runs. */

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "force.h"

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

static const char *scenario;
static int fd = -1, epfd = -1, filefd = -1, childpipe[2] = { -1, -1 };
static char path[64];
static sem_t go, done;
static int before_fds[1024], nbefore;

static void die(const char *what)
{
	printf("# error %s: %s\n", what, strerror(errno));
	exit(2);
}

/* ---- the other party's actions ---- */

static void list_fds(int *out, int *n)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	*n = 0;
	if (!d)
		return;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && *n < 1024)
			out[(*n)++] = atoi(e->d_name);
	closedir(d);
}

static uint64_t cookie_of(int f)
{
	uint64_t c = 0;
	socklen_t l = sizeof(c);
	syscall(SYS_getsockopt, f, SOL_SOCKET, SO_COOKIE, &c, &l);
	return c;
}

static int is_fork(void)
{
	return strcmp(scenario, "fork") == 0 || strcmp(scenario, "handler-fork") == 0;
}

static void act(void)
{
	int one = 1;
	if (strcmp(scenario, "close-open") == 0) {
		close(fd);
		int nf = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (nf != fd)
			printf("# note: the file got fd %d, not %d\n", nf, fd);
		if (write(nf, "hello", 5) != 5)
			printf("# note: write failed\n");
	} else if (strcmp(scenario, "dup2") == 0) {
		dup2(filefd, fd);
	} else if (strcmp(scenario, "close-range") == 0) {
		close_range((unsigned)fd, (unsigned)fd, 0);
	} else if (strcmp(scenario, "setsockopt") == 0 ||
		   strcmp(scenario, "handler-setsockopt") == 0) {
		setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	} else if (strcmp(scenario, "nonblock") == 0) {
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	} else if (strcmp(scenario, "handler-close") == 0) {
		close(fd);
	} else if (strcmp(scenario, "handler-epoll") == 0) {
		struct epoll_event ev = { .events = EPOLLOUT, .data.u64 = 0x1234 };
		epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
	} else if (is_fork()) {
		pid_t pid = fork();
		if (pid == 0) {
			int now[1024], n, leaked = 0;
			list_fds(now, &n);
			for (int i = 0; i < n; i++) {
				int known = now[i] == childpipe[1];
				for (int j = 0; j < nbefore && !known; j++)
					known = now[i] == before_fds[j];
				leaked += !known;
			}
			uint64_t c = cookie_of(fd);
			char line[64];
			/* the listing's own fd has a number from before_fds */
			int len = snprintf(line, sizeof(line), "%llu %d\n", (unsigned long long)c,
					   leaked);
			if (write(childpipe[1], line, (size_t)len) < 0)
				_exit(1);
			_exit(0);
		}
		if (pid > 0)
			waitpid(pid, NULL, 0);
	}
}

static int is_handler(void)
{
	return strncmp(scenario, "handler-", 8) == 0;
}

static void on_signal(int sig)
{
	(void)sig;
	act();
}

static volatile pid_t other_tid; /* the other thread's id */

static void *other_thread(void *arg)
{
	(void)arg;
	other_tid = (pid_t)syscall(SYS_gettid);
	for (;;) {
		while (sem_wait(&go) < 0 && errno == EINTR)
			;
		act();
		sem_post(&done);
	}
	return NULL;
}

/* Runs the other party's action now: a signal to this thread, or the other
 * thread (waited for up to WAIT_MS: in a hook it may have to wait for the
 * shim, which waits for this thread). */
static int outstanding; /* the other thread's action did not end in time */

static void trigger(long wait_ms)
{
	if (is_handler()) {
		pthread_kill(pthread_self(), SIGUSR1);
		return;
	}
	sem_post(&go);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += (wait_ms % 1000) * 1000000L;
	ts.tv_sec += wait_ms / 1000 + ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	int rc;
	while ((rc = sem_timedwait(&done, &ts)) < 0 && errno == EINTR)
		;
	outstanding = rc < 0;
}

/* Is the other thread inside the shim's bounded wait for a commit (its
 * sched_yield() spins or nanosleep()s: slot.c), by the kernel's word
 * (/proc/self/task/TID/syscall names the call a thread is blocked in)? */
static int other_waits_in_shim(void)
{
	char where[64], buf[64] = "";
	snprintf(where, sizeof(where), "/proc/self/task/%d/syscall", (int)other_tid);
	int f = open(where, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return 0;
	ssize_t n = read(f, buf, sizeof(buf) - 1);
	close(f);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	long nr = strtol(buf, NULL, 10);
	return nr == SYS_sched_yield || nr == SYS_nanosleep || nr == SYS_clock_nanosleep;
}

static int hook_moment; /* FORCE_AFTER_SOCKET or FORCE_BEFORE_DUP3 */
static int seen_waiting = -1; /* the other thread was seen waiting in the shim */

static void hook(void *ctx)
{
	(void)ctx;
	if (is_handler()) {
		/* signals are blocked while a replacement is made: the
		 * handler runs once it is over */
		trigger(0);
		return;
	}
	if (hook_moment == FORCE_AFTER_SOCKET && strcmp(scenario, "fork") == 0) {
		/* fork() waits (up to 1 s) for a replacement under way, so
		 * that parent and child share the socket it ends with: it
		 * must still be waiting when this returns */
		trigger(300);
		printf("# fork still waiting for the replacement: %d\n", outstanding);
		return;
	}
	if (hook_moment == FORCE_AFTER_SOCKET) {
		/* a replacement being built makes nobody wait (close, dup2,
		 * setsockopt... act at once): the action ends inside the
		 * window */
		trigger(5000);
		printf("# action done inside the replacement: %d\n", !outstanding);
		return;
	}
	/* During the commit the other thread's action waits for it: start
	 * the action, and return (letting the commit end) only once the
	 * other thread is seen inside the shim's wait, or done. */
	sem_post(&go);
	seen_waiting = 0;
	for (int i = 0; i < 5000; i++) {
		if (other_waits_in_shim()) {
			seen_waiting = 1;
			break;
		}
		if (sem_trywait(&done) == 0) {
			sem_post(&done); /* for the wait after connect() */
			break;
		}
		usleep(1000);
	}
	outstanding = 1;
}

static const char *errname(int e)
{
	switch (e) {
	case 0: return "0";
	case EBADF: return "EBADF";
	case ENOTSOCK: return "ENOTSOCK";
	case EINPROGRESS: return "EINPROGRESS";
	case EISCONN: return "EISCONN";
	default: return strerror(e);
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	const char *when;
	int l, rc, err, hook_id = -1;
	pthread_t t;

	if (argc != 3) {
		fprintf(stderr, "usage: txn SCENARIO before|after|socket|dup3\n");
		return 2;
	}
	scenario = argv[1];
	when = argv[2];
	setvbuf(stdout, NULL, _IONBF, 0);
	snprintf(path, sizeof(path), "/tmp/mptcpify-txn.%d", (int)getpid());
	sem_init(&go, 0, 0);
	sem_init(&done, 0, 0);
	signal(SIGUSR1, on_signal);
	if (pthread_create(&t, NULL, other_thread, NULL))
		die("pthread_create");

	/* a listener that is none of the shim's business */
	l = (int)syscall(SYS_socket, AF_INET, SOCK_STREAM, IPPROTO_TCP);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (l < 0 || syscall(SYS_bind, l, &a, sizeof(a)) < 0 || syscall(SYS_listen, l, 8) < 0 ||
	    syscall(SYS_getsockname, l, &a, &al) < 0)
		die("listener");
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (strcmp(scenario, "dup2") == 0) {
		filefd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (filefd < 0 || write(filefd, "hello", 5) != 5)
			die("file");
	}
	if (is_fork() && pipe2(childpipe, O_CLOEXEC) < 0)
		die("pipe");
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		die("socket");
	list_fds(before_fds, &nbefore);

	if (strcmp(when, "before") == 0) {
		trigger(5000);
	} else if (strcmp(when, "socket") == 0 || strcmp(when, "dup3") == 0) {
		force_arm_fn arm = (force_arm_fn)dlsym(RTLD_DEFAULT, "force_arm");
		if (!arm)
			die("libforce.so is not preloaded");
		hook_id = strcmp(when, "socket") == 0 ? FORCE_AFTER_SOCKET : FORCE_BEFORE_DUP3;
		hook_moment = hook_id;
		arm(hook_id, hook, NULL);
	}
	errno = 0;
	rc = connect(fd, (struct sockaddr *)&a, sizeof(a));
	err = rc < 0 ? errno : 0;
	if (hook_id >= 0) {
		force_fired_fn fired = (force_fired_fn)dlsym(RTLD_DEFAULT, "force_fired");
		printf("# hook %d\n", fired(hook_id));
		if (seen_waiting >= 0)
			printf("# other thread seen waiting in the shim: %d\n", seen_waiting);
		/* the other thread may still be finishing (it waited for the
		 * shim's commit): let it */
		if (outstanding) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 5;
			sem_timedwait(&done, &ts);
		}
	}
	if (strcmp(when, "after") == 0)
		trigger(5000);
	/* EINPROGRESS: wait for the connection, as a program would */
	if (err == EINPROGRESS) {
		struct epoll_event ev = { .events = EPOLLOUT };
		int ep = epoll_create1(EPOLL_CLOEXEC);
		epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
		epoll_wait(ep, &ev, 1, 5000);
		close(ep);
		err = rc = 0; /* either way connected: the order is what differs */
	}
	printf("connect rc=%d errno=%s\n", rc, errname(err));

	struct stat st;
	if (fcntl(fd, F_GETFD) < 0)
		printf("fd closed\n");
	else if (fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode)) {
		int v = -1, proto = -1;
		socklen_t vl = sizeof(v);
		printf("fd socket\n");
		syscall(SYS_getsockopt, fd, SOL_SOCKET, SO_KEEPALIVE, &v, &vl);
		printf("keepalive %d\n", v);
		printf("nonblock %d\n", !!(fcntl(fd, F_GETFL) & O_NONBLOCK));
		vl = sizeof(proto);
		syscall(SYS_getsockopt, fd, SOL_SOCKET, SO_PROTOCOL, &proto, &vl);
		printf("# protocol %d\n", proto);
	} else {
		printf("fd file\n");
		/* the program goes on writing to what it believes is its file */
		if (write(fd, "world", 5) != 5)
			printf("# note: write to the file failed\n");
	}
	if (strncmp(scenario, "handler-epoll", 13) == 0) {
		struct epoll_event ev[4];
		int n = epoll_wait(epfd, ev, 4, 1000);
		printf("epoll n=%d events=%x data=%llx\n", n, n > 0 ? ev[0].events : 0,
		       n > 0 ? (unsigned long long)ev[0].data.u64 : 0ULL);
	}
	if (is_fork()) {
		char line[64] = "";
		unsigned long long c = 0;
		int leaked = -1;
		struct pollfd pf = { childpipe[0], POLLIN, 0 };
		ssize_t n = poll(&pf, 1, 10000) == 1 ? read(childpipe[0], line, sizeof(line) - 1) : -1;
		if (n > 0)
			line[n] = 0;
		sscanf(line, "%llu %d", &c, &leaked);
		printf("child same-socket %d leaked-fds %d\n", c != 0 && c == cookie_of(fd), leaked);
	}
	if (strcmp(scenario, "close-open") == 0 || strcmp(scenario, "dup2") == 0) {
		char buf[64] = "";
		int f = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t n = f >= 0 ? read(f, buf, sizeof(buf) - 1) : -1;
		if (n >= 0)
			buf[n] = 0;
		printf("file \"%s\"\n", buf);
		unlink(path);
	}
	return 0;
}
