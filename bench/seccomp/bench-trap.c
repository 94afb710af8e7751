/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-trap.c - the cost of one call the seccomp supervisor intercepts,
 * and that it costs nothing on calls it does not. Run it directly and under
 * `mptcpify-run --seccomp` and compare the time per call; every call is a
 * raw syscall(2), as a static or Go program makes it.
 *
 *   bench-trap -t TEST [-d SECONDS] [-n COUNT]
 *     untrapped     getsockopt(SO_TYPE) on a TCP socket: never trapped
 *     socket        socket(AF_INET, SOCK_STREAM, 0) + close: trapped, answered
 *                   with a socket of the supervisor's making (ADDFD)
 *     unix-connect  connect() of an AF_UNIX socket (nobody listens): with a
 *                   policy, trapped; the supervisor reads the address family
 *                   and lets the call continue
 *     ttl-set       setsockopt(IP_TTL) on an MPTCP socket: trapped where
 *                   MPTCP refuses it, emulated (fd copy, TCP validation)
 *     ttl-get       getsockopt(IP_TTL) on it: trapped, answered from memory
 *   bench-trap --tree COMMAND...
 *     runs COMMAND and prints the CPU time of it and everything it waited
 *     for (the supervisor and the program), in microseconds, and their
 *     voluntary context switches
 * -n stops after COUNT calls (rounded up to 64) if that comes first.
 *
 * Prints one key=value line, e.g.
 *   bench-trap test=socket ops=81234 seconds=1.000 ns_per_call=12310.2 cpu_us_per_op=3.1
 * (cpu_us_per_op: this process only; the supervisor's comes from --tree).
 * Reports; never judges. */
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu(int who)
{
	struct rusage ru;

	getrusage(who, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void die(const char *what)
{
	fprintf(stderr, "bench-trap: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int tree(char **argv)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		execvp(argv[0], argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		die("running the command");
	struct rusage ru;
	getrusage(RUSAGE_CHILDREN, &ru);
	printf("tree_cpu_us=%.0f tree_vcsw=%ld\n", cpu(RUSAGE_CHILDREN) * 1e6, ru.ru_nvcsw);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

int main(int argc, char **argv)
{
	const char *test = NULL;
	double duration = 1.0, t0, t1, c0;
	unsigned long ops = 0, count = (unsigned long)-1;
	int c, fd = -1, v = 64;
	socklen_t len;
	struct sockaddr_un un = { .sun_family = AF_UNIX };

	if (argc > 2 && strcmp(argv[1], "--tree") == 0)
		return tree(argv + 2);
	while ((c = getopt(argc, argv, "t:d:n:")) != -1) {
		if (c == 't')
			test = optarg;
		else if (c == 'd')
			duration = atof(optarg);
		else if (c == 'n')
			count = strtoul(optarg, NULL, 10);
		else
			return 2;
	}
	if (!test || duration <= 0) {
		fprintf(stderr, "usage: bench-trap -t untrapped|socket|unix-connect|ttl-set|ttl-get "
				"[-d SECONDS] [-n COUNT] | --tree COMMAND...\n");
		return 2;
	}
	alarm((unsigned)duration + 30);
	if (!strcmp(test, "untrapped"))
		fd = (int)syscall(SYS_socket, AF_INET, SOCK_STREAM, IPPROTO_TCP);
	else if (!strcmp(test, "unix-connect")) {
		fd = (int)syscall(SYS_socket, AF_UNIX, SOCK_DGRAM, 0);
		/* abstract name nobody uses: ECONNREFUSED, no file system */
		memcpy(un.sun_path, "\0bench-trap-nobody", 18);
	} else if (!strncmp(test, "ttl-", 4))
		fd = (int)syscall(SYS_socket, AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
	else if (strcmp(test, "socket") != 0)
		return 2;
	if (strcmp(test, "socket") != 0 && fd < 0)
		die("socket");

	c0 = cpu(RUSAGE_SELF);
	t0 = now();
	t1 = t0 + duration;
	for (;;) {
		for (int i = 0; i < 64; i++) {
			if (!strcmp(test, "untrapped")) {
				len = sizeof(v);
				syscall(SYS_getsockopt, fd, SOL_SOCKET, SO_TYPE, &v, &len);
			} else if (!strcmp(test, "socket")) {
				int s = (int)syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
				if (s < 0)
					die("socket");
				close(s);
			} else if (!strcmp(test, "unix-connect")) {
				syscall(SYS_connect, fd, &un, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 18));
			} else if (!strcmp(test, "ttl-set")) {
				v = 64 + (int)(ops & 1);
				syscall(SYS_setsockopt, fd, SOL_IP, IP_TTL, &v, sizeof(v));
			} else {
				len = sizeof(v);
				syscall(SYS_getsockopt, fd, SOL_IP, IP_TTL, &v, &len);
			}
		}
		ops += 64;
		if (ops >= count || now() >= t1)
			break;
	}
	t1 = now();
	printf("bench-trap test=%s ops=%lu seconds=%.3f ns_per_call=%.1f cpu_us_per_op=%.3f\n", test,
	       ops, t1 - t0, (t1 - t0) * 1e9 / (double)ops, (cpu(RUSAGE_SELF) - c0) * 1e6 / (double)ops);
	return 0;
}
