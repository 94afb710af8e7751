/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* seccomp-run.c - running a command under the supervisor: the refusals
 * (kernel before 5.9, seccomp unavailable, a setuid COMMAND, a policy that
 * cannot be applied), the child that sets no_new_privs, installs the filter
 * and hands the notification fd over before it execs COMMAND, the worker
 * threads that answer notifications, and the main thread that forwards
 * signals and waits for the last process of the tree. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include "run.h"
#include "seccomp.h"

#define PREFIX PROG ": --seccomp: "

struct sc_sup sc = {
	.listener = -1,
	.netns_fd = -1,
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.last_connect_proto = { IPPROTO_MPTCP, IPPROTO_MPTCP },
};

#define WORKERS 4 /* a target blocked on a slow read does not stop the others */


/* ---- what the kernel offers ------------------------------------------------ */

static unsigned parse_version(const char *rel)
{
	unsigned major = 0, minor = 0;

	sscanf(rel, "%u.%u", &major, &minor);
	return major * 100 + minor;
}

int sc_kernel_probe(struct sc_kernel *k, char *why, size_t len)
{
	struct utsname u;
	uint32_t action = SECCOMP_RET_USER_NOTIF;
	int fd;

	memset(k, 0, sizeof(*k));
	if (uname(&u) == 0)
		snprintf(k->release, sizeof(k->release), "%s", u.release);
	k->version = parse_version(k->release);
	k->addfd_send = k->version >= 514;
	k->killable = k->version >= 519;
	if (k->version < SC_MIN_KERNEL) {
		snprintf(why, len, "kernel %s is older than 5.9: the seccomp mode needs "
			 "SECCOMP_IOCTL_NOTIF_ADDFD with SECCOMP_ADDFD_FLAG_SETFD (Linux 5.9)",
			 k->release[0] ? k->release : "?");
		return -1;
	}
	if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) < 0 && errno == EINVAL) {
		snprintf(why, len, "the kernel has no seccomp (CONFIG_SECCOMP is off)");
		return -1;
	}
	if (syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) < 0) {
		int err = errno;
		if (err == EOPNOTSUPP)
			snprintf(why, len, "seccomp user notification (SECCOMP_RET_USER_NOTIF) "
				 "is not available in this kernel");
		else
			snprintf(why, len, "seccomp filters are not available here: seccomp(2) "
				 "fails with %s (%s)%s", strerrorname_np(err) ? strerrorname_np(err) : "?",
				 strerror(err), err == ENOSYS || err == EPERM
				 ? "; a container's own seccomp profile may forbid it" : "");
		return -1;
	}
	k->user_notif = true;
	fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	if (fd < 0) {
		int err = errno;
		snprintf(why, len, "pidfd_open(2) fails with %s (%s)",
			 strerrorname_np(err) ? strerrorname_np(err) : "?", strerror(err));
		return -1;
	}
	/* pidfd_getfd on an fd number that is not open: EBADF means it exists */
	k->pidfd_getfd = syscall(SYS_pidfd_getfd, fd, 0x7fffffff, 0) >= 0 || errno != ENOSYS;
	close(fd);
	if (!k->pidfd_getfd) {
		snprintf(why, len, "pidfd_getfd(2) is not available (Linux 5.6)");
		return -1;
	}
	if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sc.sizes) < 0) {
		snprintf(why, len, "seccomp cannot report its notification sizes: %s",
			 strerror(errno));
		return -1;
	}
	return 0;
}

/* CAP_SYS_ADMIN in our own user namespace: setns() into another network
 * namespace is then possible. */
static bool have_sys_admin(void)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data) != 0)
		return false;
	return (data[CAP_SYS_ADMIN / 32].effective >> (CAP_SYS_ADMIN % 32)) & 1u;
}

/* ---- configuration ------------------------------------------------------------ */

static int load_config(const struct run_settings *s)
{
	const char *v;

	memset(&sc.cfg, 0, sizeof(sc.cfg));
	if (!s->policy)
		sc.cfg.mode = SC_ALL;
	else if (policy_rule_count(s->policy) == 0)
		sc.cfg.mode = SC_NONE;
	else
		sc.cfg.mode = SC_POLICY;
	sc.cfg.policy = s->policy;
	sc.cfg.opts = &s->overrides;
	sc.cfg.verbose = s->verbose;

	/* the same settings as the library, read by the supervisor, and the
	 * same warnings for bad values; the same log sink (the stderr it
	 * started with, or MPTCPIFY_LOG_FILE) */
	log_init();
	v = getenv("MPTCPIFY_LOG_FILE");
	if (v && v[0] && log_set_target(v) < 0)
		log_msg(LOG_WARN, "MPTCPIFY_LOG_FILE: expected an absolute path or syslog; logging to stderr");
	v = getenv("MPTCPIFY_STRATEGY");
	if (v && strcmp(v, "tcp-first") == 0)
		sc.cfg.strategy = SC_TCP_FIRST;
	else if (v && strcmp(v, "mptcp-first") == 0)
		sc.cfg.strategy = SC_MPTCP_FIRST;
	else if (v && strcmp(v, "predict") != 0)
		log_msg(LOG_WARN, "MPTCPIFY_STRATEGY: expected predict, mptcp-first or tcp-first; "
				  "using predict");
	v = getenv("MPTCPIFY_LOG");
	if (s->verbose)
		log_level = s->verbose > 1 ? LOG_DEBUG : LOG_INFO;
	else if (v) {
		int lvl = log_parse_level(v);
		if (lvl >= 0)
			log_level = lvl;
		else
			log_msg(LOG_WARN, "MPTCPIFY_LOG: expected error, warn, info or debug; using warn");
	}
	v = getenv("MPTCPIFY_STATS");
	sc.cfg.stats = s->stats || (v && strcmp(v, "1") == 0);
	if (v && !sc.cfg.stats && strcmp(v, "0") != 0 && v[0])
		log_msg(LOG_WARN, "MPTCPIFY_STATS: expected 1 or 0; statistics stay off");
	return 0;
}

/* The child's environment: no copy of the library (it would act on sockets
 * the supervisor answers for), and Go's own MPTCP switch off unless GODEBUG
 * names it, so that the policy decides for Go's sockets too (Go 1.24 would
 * make its listeners MPTCP by itself). */
static int child_env(const struct run_settings *s)
{
	const char *old = getenv("LD_PRELOAD"), *gd = getenv("GODEBUG");

	if (old && *old) {
		char *stripped = ldpreload_strip(old);
		if (!stripped)
			return -1;
		if (strcmp(stripped, old) != 0 && s->verbose)
			fprintf(stderr, PREFIX "libmptcpify.so dropped from LD_PRELOAD: the "
				"supervisor does its work\n");
		if (*stripped)
			setenv("LD_PRELOAD", stripped, 1);
		else
			unsetenv("LD_PRELOAD");
		free(stripped);
	}
	bool named = false;
	for (const char *p = gd; p && *p; p += strcspn(p, ","), p += strspn(p, ","))
		if (strncmp(p, "multipathtcp=", 13) == 0)
			named = true;
	if (!named) {
		char *merged = godebug_merge(gd, 0);
		if (!merged || setenv("GODEBUG", merged, 1) != 0) {
			free(merged);
			return -1;
		}
		free(merged);
	}
	return 0;
}

/* ---- the child ------------------------------------------------------------------ */

/* Sends FD (or, when FD < 0, the errno ERR) over the socket SOCK. */
static void send_fd(int sock, int fd, int err)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { &err, sizeof(err) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (fd >= 0) {
		memset(cbuf, 0, sizeof(cbuf));
		m.msg_control = cbuf;
		m.msg_controllen = sizeof(cbuf);
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	if (sendmsg(sock, &m, MSG_NOSIGNAL) < 0)
		_exit(SC_EXIT_REFUSED);
}

/* Receives what send_fd() sent: the fd, or -1 with *ERR set. */
static int recv_fd(int sock, int *err)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { err, sizeof(*err) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	ssize_t n;

	*err = EPIPE;
	do
		n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < (ssize_t)sizeof(int))
		return -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			int fd;
			memcpy(&fd, CMSG_DATA(c), sizeof(fd));
			return fd;
		}
	}
	return -1;
}

/* Installs the filter in this process (the child) and returns the
 * notification fd, or -errno. */
static int install_filter(const struct sock_fprog *prog)
{
	unsigned long flags = SECCOMP_FILTER_FLAG_NEW_LISTENER;
	int fd;

	/* unprivileged processes may install a filter only with
	 * no_new_privs: setuid and file capabilities stop working below */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	/* 5.19+: once the supervisor holds a call, only a fatal signal ends
	 * the wait, so a signal cannot restart it half-answered */
	if (sc.k.killable)
		flags |= SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
	fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, prog);
	if (fd < 0 && errno == EINVAL && (flags & SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV)) {
		flags &= ~(unsigned long)SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
		fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, prog);
	}
	return fd < 0 ? -errno : fd;
}

static const int forwarded[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };
#define NFORWARDED (sizeof(forwarded) / sizeof(forwarded[0]))

static void child_main(int sock, const struct sock_fprog *prog, char *const argv[],
		       const sigset_t *oldmask, const struct sigaction *oldpipe)
{
	int listener, err;
	char go;

	/* the command gets the signal state mptcpify-run was given */
	sigaction(SIGPIPE, oldpipe, NULL);
	sigprocmask(SIG_SETMASK, oldmask, NULL);
	listener = install_filter(prog);
	if (listener < 0) {
		send_fd(sock, -1, -listener);
		_exit(SC_EXIT_REFUSED);
	}
	send_fd(sock, listener, 0);
	/* the supervisor alone holds it: if it dies, trapped calls fail with
	 * ENOSYS rather than wait for ever */
	close(listener);
	if (read(sock, &go, 1) != 1 || go != 'g')
		_exit(SC_EXIT_REFUSED);
	close(sock);
	execvp(argv[0], argv);
	err = errno;
	fprintf(stderr, PROG ": %s: %s\n", argv[0], strerror(err));
	_exit(err == ENOENT || err == ENOTDIR ? EXIT_NOT_FOUND : EXIT_CANNOT_RUN);
}

/* ---- workers ----------------------------------------------------------------------- */

static void *worker_main(void *arg)
{
	struct seccomp_notif *req = malloc(sc.sizes.seccomp_notif);
	unsigned failures = 0;

	(void)arg;
	if (!req)
		return NULL;
	for (;;) {
		memset(req, 0, sc.sizes.seccomp_notif);
		if (ioctl(sc.listener, SECCOMP_IOCTL_NOTIF_RECV, req) < 0) {
			/* ENOENT: the caller went away before we read it */
			if (errno == EINTR || errno == ENOENT)
				continue;
			if (++failures > 1000) {
				/* never leave calls unanswered: without us the
				 * kernel answers them with ENOSYS */
				fprintf(stderr, PREFIX "cannot receive notifications: %s; "
					"stopping the supervisor\n", strerror(errno));
				_exit(SC_EXIT_REFUSED);
			}
			usleep(1000);
			continue;
		}
		failures = 0;
		sc_handle(req);
	}
	return NULL;
}

/* ---- the run ------------------------------------------------------------------------- */

static void refuse(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void refuse(const char *fmt, ...)
{
	va_list ap;

	fputs(PREFIX, stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static const char *mode_name(enum sc_mode m)
{
	return m == SC_ALL ? "every TCP socket becomes MPTCP"
	       : m == SC_POLICY ? "the policy decides at listen() and connect()"
				: "nothing is upgraded (empty policy)";
}

/* Everything that can be checked before the child exists. Returns 0 or the
 * exit status. */
static int prepare(const struct run_settings *s, char *const argv[], struct sock_fprog *prog)
{
	char why[512], path[4096];
	bool setid = false;
	struct stat st;

	if (sc_kernel_probe(&sc.k, why, sizeof(why)) < 0) {
		refuse("%s", why);
		return SC_EXIT_REFUSED;
	}
	if (sc_inspect(argv[0], path, sizeof(path), &setid) != SC_BIN_UNKNOWN && setid) {
		refuse("%s is setuid, setgid or has file capabilities: under the seccomp mode "
		       "(no_new_privs) it would run without its privileges; run it without "
		       "--seccomp", path);
		return SC_EXIT_REFUSED;
	}
	if (load_config(s) < 0)
		return EXIT_OWN_ERROR;
	if (sc_state_init(65536) < 0) {
		refuse("out of memory");
		return SC_EXIT_REFUSED;
	}
	if (stat("/proc/self/ns/net", &st) < 0 ||
	    (sc.netns_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) < 0) {
		refuse("cannot read /proc/self/ns/net: %s (is /proc mounted?)", strerror(errno));
		return SC_EXIT_REFUSED;
	}
	sc.netns = st.st_ino;
	sc.can_setns = have_sys_admin();
	sc_probe_options();
	if (sc_filter_build(&sc.cfg, prog) < 0) {
		refuse("cannot build the seccomp filter");
		return SC_EXIT_REFUSED;
	}
	if (s->verbose) {
		unsigned nset, nget;
		sc_filter_counts(&nset, &nget);
		fprintf(stderr, PREFIX "kernel %s; %s; trapping socket(), %s%u "
			"setsockopt and %u getsockopt option(s) that MPTCP refuses here%s\n",
			sc.k.release, mode_name(sc.cfg.mode),
			sc.cfg.mode == SC_POLICY ? "listen(), connect(), " : "", nset, nget,
			sc.cfg.mode == SC_POLICY || !sc.mptcp_fastopen ? ", MSG_FASTOPEN sends" : "");
	}
	return 0;
}

int sc_run(const struct run_settings *s, char *const argv[])
{
	struct sock_fprog prog = { 0, NULL };
	struct sigaction ign = { .sa_handler = SIG_IGN }, oldpipe;
	struct rlimit rl;
	sigset_t block, oldmask;
	pthread_t th;
	int sp[2] = { -1, -1 }, rc, err = 0, status = 0, sfd = -1, pidfd;
	bool child_done = false, hup = false;
	pid_t child;

	if ((rc = prepare(s, argv, &prog)) != 0)
		return rc;
	if (child_env(s) < 0) {
		refuse("cannot set up the environment: out of memory");
		return SC_EXIT_REFUSED;
	}
	/* the supervisor must outlive every write to a closed log pipe */
	sigaction(SIGPIPE, &ign, &oldpipe);
	sigemptyset(&block);
	for (size_t i = 0; i < NFORWARDED; i++)
		sigaddset(&block, forwarded[i]);
	sigaddset(&block, SIGCHLD);
	sigprocmask(SIG_BLOCK, &block, &oldmask);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
		refuse("socketpair: %s", strerror(errno));
		return SC_EXIT_REFUSED;
	}
	fflush(NULL);
	child = fork();
	if (child < 0) {
		refuse("cannot fork: %s", strerror(errno));
		return SC_EXIT_REFUSED;
	}
	if (child == 0) {
		close(sp[0]);
		child_main(sp[1], &prog, argv, &oldmask, &oldpipe);
	}
	close(sp[1]);
	/* copies of the target's fds land here, and it may have more: our
	 * own limit only, the command keeps the one it was given */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	free(prog.filter);

	sc.listener = recv_fd(sp[0], &err);
	if (sc.listener < 0) {
		if (err == EBUSY)
			refuse("this process is already under a seccomp supervisor (a filter with "
			       "a listener): the seccomp mode cannot be nested");
		else if (err == EACCES || err == EPERM)
			refuse("the kernel refuses to install the seccomp filter (%s)",
			       strerror(err));
		else
			refuse("cannot install the seccomp filter: %s", strerror(err));
		close(sp[0]);
		while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
			;
		return SC_EXIT_REFUSED;
	}
	sc.sync_wakeup = ioctl(sc.listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS,
			       (uint64_t)SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) == 0;
	/* Can we reach the command's fds and memory (ptrace access)? The
	 * policy and the option classes need it. */
	pidfd = (int)syscall(SYS_pidfd_open, child, 0);
	if (pidfd >= 0) {
		int probe = (int)syscall(SYS_pidfd_getfd, pidfd, sp[1], 0);
		err = probe < 0 ? errno : 0;
		if (probe >= 0)
			close(probe);
		close(pidfd);
	} else {
		err = errno;
	}
	if (err && sc.cfg.mode == SC_POLICY) {
		refuse("cannot reach the command's sockets and memory (pidfd_getfd: %s; a "
		       "ptrace restriction such as kernel.yama.ptrace_scope?): address rules "
		       "cannot be applied", strerror(err));
		kill(child, SIGKILL);
		while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
			;
		return SC_EXIT_REFUSED;
	}
	if (err)
		fprintf(stderr, PREFIX "warning: cannot reach the command's sockets (%s): "
			"socket options MPTCP refuses reach the program as errors\n",
			strerror(err));
	for (int i = 0; i < WORKERS; i++) {
		if ((errno = pthread_create(&th, NULL, worker_main, NULL)) != 0) {
			refuse("cannot start a worker thread: %s", strerror(errno));
			kill(child, SIGKILL);
			while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
				;
			return SC_EXIT_REFUSED;
		}
		pthread_detach(th);
	}
	if (s->verbose)
		fprintf(stderr, PREFIX "supervising %s (pid %d)%s\n", argv[0], (int)child,
			sc.sync_wakeup ? "" : "; no same-CPU hand-off (SYNC_WAKE_UP, 6.6)");
	if (write(sp[0], "g", 1) != 1) {
		refuse("the child went away before running %s", argv[0]);
		while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
			;
		return SC_EXIT_REFUSED;
	}
	close(sp[0]);

	/* Until the last process using the filter is gone (POLLHUP on the
	 * notification fd, 5.8+): reap the child, forward signals. */
	sfd = signalfd(-1, &block, SFD_CLOEXEC);
	while (!(child_done && hup)) {
		struct pollfd p[2] = { { sfd, POLLIN, 0 }, { sc.listener, 0, 0 } };
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents & (POLLHUP | POLLERR | POLLNVAL))
			hup = true;
		if (p[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) != sizeof(si))
				continue;
			if (si.ssi_signo == SIGCHLD) {
				int st;
				if (!child_done && waitpid(child, &st, WNOHANG) == child) {
					child_done = true;
					status = WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
				}
				continue;
			}
			/* typed at the terminal, the child had it already */
			if ((si.ssi_signo == SIGINT || si.ssi_signo == SIGQUIT) &&
			    si.ssi_code == SI_KERNEL)
				continue;
			if (!child_done)
				kill(child, (int)si.ssi_signo);
		}
		if (hup && !child_done) {
			/* the filter is released once the child is reaped: wait */
			int st;
			if (waitpid(child, &st, 0) == child) {
				child_done = true;
				status = WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
			}
		}
	}
	if (sc.cfg.stats)
		sc_print_stats(getpid());
	if (s->verbose)
		fprintf(stderr, PREFIX "%lu call(s) handled; command exited with status %d\n",
			(unsigned long)atomic_load(&sc.stats.notifications), status);
	return status;
}
