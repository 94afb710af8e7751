/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-fdlimit.c - a program at its RLIMIT_NOFILE gets the same option
 * answers under the shim as on plain TCP (issue 12, part 5).
 *
 * The same sequence runs twice as a child, without the shim (the
 * reference, plain TCP) and under it in all-mode (the sockets MPTCP, from
 * a raw SO_PROTOCOL); the parent compares the two transcripts line by
 * line. The child makes its sockets first, then lowers the soft limit to
 * the number of fds it has open (no fd can be opened), then:
 *  - setsockopt(TCP_USER_TIMEOUT, 5000) on an unconnected socket (the
 *    shim makes it plain TCP, which needs a new socket) and reads it back;
 *  - getsockopt(IP_TTL) and a few emulated options, unconnected, listening
 *    and connected, set and unset;
 *  - 8 threads asking IP_TTL at once, 300 times each (the shim raises the
 *    limit for one of them at a time: every one must get 64);
 *  - that the limit is still exactly where the program put it;
 * and again with soft = hard and without CAP_SYS_RESOURCE (no fd can be
 * had at all: the shim answers from what it knows).
 *
 * Usage: test-fdlimit (MPTCPIFY_LIB from the environment). */
#include <errno.h>
#include <linux/capability.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "testlib.h"

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

#define NTHREADS 8
#define ROUNDS 300

static int raw_protocol(int fd)
{
	int v = -1;
	socklen_t l = sizeof(v);
	if (syscall(SYS_getsockopt, fd, SOL_SOCKET, SO_PROTOCOL, &v, &l) < 0)
		return -errno;
	return v;
}

static void get_int(const char *what, int fd, int level, int name)
{
	int v = -12345;
	socklen_t l = sizeof(v);
	int rc = getsockopt(fd, level, name, &v, &l);
	if (rc < 0)
		printf("%s get :: E%d\n", what, errno);
	else
		printf("%s get :: ok l=%u v=%d\n", what, (unsigned)l, v);
}

/* getsockopt with a negative length: TCP and IP check it before the name,
 * except IP's multicast-routing names (200..212: EOPNOTSUPP) */
static void get_neglen(const char *what, int fd, int level, int name)
{
	int v = -12345;
	socklen_t l = (socklen_t)-1;
	int rc = getsockopt(fd, level, name, &v, &l);
	if (rc < 0)
		printf("%s get(len -1) :: E%d\n", what, errno);
	else
		printf("%s get(len -1) :: ok l=%d v=%d\n", what, (int)l, v);
}

static void set_int(const char *what, int fd, int level, int name, int v)
{
	int rc = setsockopt(fd, level, name, &v, sizeof(v));
	if (rc < 0)
		printf("%s set(%d) :: E%d\n", what, v, errno);
	else
		printf("%s set(%d) :: ok\n", what, v);
}

static int listener(struct sockaddr_in *a)
{
	socklen_t l = sizeof(*a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)a, sizeof(*a)) < 0 || listen(fd, 8) < 0 ||
	    getsockname(fd, (struct sockaddr *)a, &l) < 0) {
		printf("!fatal listener: %s\n", strerror(errno));
		exit(3);
	}
	return fd;
}

static void drop_cap_sys_resource(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d) < 0)
		return;
	d[CAP_SYS_RESOURCE / 32].effective &= ~(1u << (CAP_SYS_RESOURCE % 32));
	d[CAP_SYS_RESOURCE / 32].permitted &= ~(1u << (CAP_SYS_RESOURCE % 32));
	syscall(SYS_capset, &h, d);
}

static int thread_fds[NTHREADS];
static int thread_bad[NTHREADS];

static void *asker(void *p)
{
	long i = (long)p;
	for (int r = 0; r < ROUNDS; r++) {
		int v = 0;
		socklen_t l = sizeof(v);
		if (getsockopt(thread_fds[i], IPPROTO_IP, IP_TTL, &v, &l) < 0 || v != 64)
			thread_bad[i]++;
		if (r % 16 == 0)
			sched_yield();
	}
	return NULL;
}

/* Every fd below the lowest free one is open: the soft limit goes there. */
static rlim_t to_limit(int hard_too)
{
	struct rlimit rl;
	int next = dup(0);
	if (next < 0) {
		printf("!fatal dup: %s\n", strerror(errno));
		exit(3);
	}
	close(next);
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = (rlim_t)next;
	if (hard_too) {
		rl.rlim_max = (rlim_t)next;
		drop_cap_sys_resource();
	}
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		printf("!fatal setrlimit: %s\n", strerror(errno));
		exit(3);
	}
	return rl.rlim_cur;
}

static void check_limit(rlim_t want)
{
	struct rlimit rl;
	int fd = dup(0);
	int err = errno;
	getrlimit(RLIMIT_NOFILE, &rl);
	printf("#limit %s\n", fd < 0 && err == EMFILE && rl.rlim_cur == want ? "kept" : "LOST");
	if (fd >= 0)
		close(fd);
}

static int child(int hard_too)
{
	struct sockaddr_in a;
	int u1, u2, l, c, s;

	alarm(120); /* bounded */
	u1 = socket(AF_INET, SOCK_STREAM, 0);
	u2 = socket(AF_INET6, SOCK_STREAM, 0);
	l = listener(&a);
	c = socket(AF_INET, SOCK_STREAM, 0);
	if (u1 < 0 || u2 < 0 || c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)) < 0) {
		printf("!fatal sockets: %s\n", strerror(errno));
		return 3;
	}
	struct pollfd p = { l, POLLIN, 0 };
	if (poll(&p, 1, 10000) != 1 || (s = accept(l, NULL, NULL)) < 0) {
		printf("!fatal accept: %s\n", strerror(errno));
		return 3;
	}
	for (int i = 0; i < NTHREADS; i++)
		thread_fds[i] = socket(AF_INET, SOCK_STREAM, 0);
	printf("#proto u1 %d\n#proto c %d\n#proto s %d\n#proto t0 %d\n", raw_protocol(u1),
	       raw_protocol(c), raw_protocol(s), raw_protocol(thread_fds[0]));

	int mroute = access("/proc/net/ip_mr_vif", F_OK) == 0;
	rlim_t lim = to_limit(hard_too);

	get_int("u1 IP_TTL", u1, IPPROTO_IP, IP_TTL);
	get_int("u2 IPV6_UNICAST_HOPS", u2, IPPROTO_IPV6, IPV6_UNICAST_HOPS);
	get_int("u2 IP_TTL", u2, IPPROTO_IP, IP_TTL);
	get_int("l IP_TTL", l, IPPROTO_IP, IP_TTL);
	get_int("c IP_TTL", c, IPPROTO_IP, IP_TTL);
	get_int("s IP_TTL", s, IPPROTO_IP, IP_TTL);
	get_int("c TCP_WINDOW_CLAMP", c, IPPROTO_TCP, TCP_WINDOW_CLAMP);
	get_int("s TCP_QUICKACK", s, IPPROTO_TCP, TCP_QUICKACK);
	get_int("c TCP_LINGER2", c, IPPROTO_TCP, TCP_LINGER2);
	get_int("u1 TCP_USER_TIMEOUT", u1, IPPROTO_TCP, TCP_USER_TIMEOUT);
	set_int("c IP_TTL", c, IPPROTO_IP, IP_TTL, 300);
	set_int("c IP_TTL", c, IPPROTO_IP, IP_TTL, 33);
	get_int("c IP_TTL", c, IPPROTO_IP, IP_TTL);
	set_int("l TCP_LINGER2", l, IPPROTO_TCP, TCP_LINGER2, 1000);
	get_int("l TCP_LINGER2", l, IPPROTO_TCP, TCP_LINGER2);
	set_int("c TCP_WINDOW_CLAMP", c, IPPROTO_TCP, TCP_WINDOW_CLAMP, 0);
	set_int("u2 IPV6_TCLASS", u2, IPPROTO_IPV6, IPV6_TCLASS, 0x101);
	set_int("u2 IPV6_TCLASS", u2, IPPROTO_IPV6, IPV6_TCLASS, 0x28);
	get_int("u2 IPV6_TCLASS", u2, IPPROTO_IPV6, IPV6_TCLASS);
	if (mroute) { /* the kernel has multicast routing (CONFIG_IP_MROUTE) */
		get_neglen("u1 SOL_IP 200", u1, IPPROTO_IP, 200);
		get_neglen("u2 SOL_IP 206", u2, IPPROTO_IP, 206);
	}
	get_neglen("u1 SOL_IP 9999", u1, IPPROTO_IP, 9999);
	get_neglen("c IP_TTL", c, IPPROTO_IP, IP_TTL);
	check_limit(lim);

	/* the option the program relies on: TCP would take it */
	set_int("u1 TCP_USER_TIMEOUT", u1, IPPROTO_TCP, TCP_USER_TIMEOUT, 5000);
	get_int("u1 TCP_USER_TIMEOUT", u1, IPPROTO_TCP, TCP_USER_TIMEOUT);
	printf("#proto-after u1 %d\n", raw_protocol(u1));
	check_limit(lim);

	pthread_t t[NTHREADS];
	for (long i = 0; i < NTHREADS; i++)
		pthread_create(&t[i], NULL, asker, (void *)i);
	int bad = 0;
	for (int i = 0; i < NTHREADS; i++) {
		pthread_join(t[i], NULL);
		bad += thread_bad[i];
	}
	printf("threads IP_TTL :: %d of %d answers not 64\n", bad, NTHREADS * ROUNDS);
	check_limit(lim);
	return 0;
}

/* ---- the parent ---- */

static int run(const char *self, const char *lib, const char *mode, char *out, size_t cap)
{
	int st, fd = test_run_self(self, lib, mode, "error", &st);
	if (fd < 0)
		return -1;
	ssize_t n = pread(fd, out, cap - 1, 0);
	out[n > 0 ? n : 0] = 0;
	close(fd);
	return st;
}

/* Compares the result lines (not '#') of REF and GOT; checks GOT's
 * evidence lines. Returns the number of problems. */
static int compare(const char *mode, char *ref, char *got, int hard)
{
	int bad = 0, after_uto = 0;
	char *rs, *gs;
	char *r = strtok_r(ref, "\n", &rs);
	char *g = strtok_r(got, "\n", &gs);

	for (;;) {
		while (r && r[0] == '#')
			r = strtok_r(NULL, "\n", &rs);
		while (g && (g[0] == '#' || g[0] == '!')) {
			if (g[0] == '!' || (!strncmp(g, "#proto ", 7) && atoi(strrchr(g, ' ') + 1) != IPPROTO_MPTCP) ||
			    (!strncmp(g, "#limit", 6) && strstr(g, "LOST"))) {
				printf("[%s] %s\n", mode, g);
				bad++;
			} else if (!strncmp(g, "#proto-after", 12)) {
				printf("[%s] (after TCP_USER_TIMEOUT the socket is %s)\n", mode,
				       atoi(strrchr(g, ' ') + 1) == 6 ? "plain TCP" : "still MPTCP");
			}
			g = strtok_r(NULL, "\n", &gs);
		}
		if (!r || !g)
			break;
		/* at soft = hard the shim cannot make the socket plain TCP:
		 * what it does then is the caller's policy, reported only */
		if (strstr(r, "u1 TCP_USER_TIMEOUT set"))
			after_uto = 1;
		int info = hard && after_uto && strstr(r, "u1 TCP_USER_TIMEOUT");
		/* before 5.16 the kernel says nothing about an MPTCP socket's
		 * subflows (no MPTCP_TCPINFO): TCP's values that come from the
		 * connection (window clamp, MSS) cannot be modelled, as in
		 * test-optsweep */
		int approx = !info && !test_kernel_at_least(5, 16) && r[0] == 'c' &&
			     (strstr(r, " TCP_WINDOW_CLAMP get") || strstr(r, " TCP_MAXSEG get") ||
			      strstr(r, " TCP_QUICKACK get"));
		if (strcmp(r, g)) {
			printf("[%s] %s\n      tcp  %s\n      shim %s\n", mode,
			       info     ? "INFO (not judged)" :
			       approx ? "APPROX (no subflow information before 5.16)" :
					"MISMATCH",
			       r, g);
			bad += !info && !approx;
		}
		r = strtok_r(NULL, "\n", &rs);
		g = strtok_r(NULL, "\n", &gs);
	}
	if (r || g) {
		printf("[%s] transcripts differ in length\n", mode);
		bad++;
	}
	return bad;
}

int main(int argc, char **argv)
{
	static char ref[16384], got[16384], refc[16384];
	const char *lib = getenv("MPTCPIFY_LIB");
	char self[4096];
	int bad = 0;

	if (argc >= 3 && !strcmp(argv[1], "child"))
		return child(!strcmp(argv[2], "hard"));
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!lib || access(lib, R_OK) < 0) {
		printf("test-fdlimit: SKIP: MPTCPIFY_LIB is not set to the shim\n");
		return 77;
	}
	int m = socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
	if (m < 0) {
		printf("test-fdlimit: SKIP: this kernel gives no MPTCP socket (%s)\n", strerror(errno));
		return 77;
	}
	close(m);
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return 1;
	self[n] = 0;
	if (unshare(CLONE_NEWNET) == 0) {
		int s = socket(AF_INET, SOCK_DGRAM, 0);
		struct ifreq ifr;
		memset(&ifr, 0, sizeof(ifr));
		strcpy(ifr.ifr_name, "lo");
		if (s >= 0 && ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
			ifr.ifr_flags |= IFF_UP;
			ioctl(s, SIOCSIFFLAGS, &ifr);
		}
		if (s >= 0)
			close(s);
	}
	static const char *modes[] = { "soft", "hard" };
	for (int k = 0; k < 2; k++) {
		int rr = run(self, NULL, modes[k], ref, sizeof(ref));
		int rg = run(self, lib, modes[k], got, sizeof(got));
		if (rr || rg) {
			printf("[%s] child exit status: reference %d, shim %d\n%s\n", modes[k], rr, rg, got);
			bad++;
		}
		memcpy(refc, ref, sizeof(ref));
		int b = compare(modes[k], refc, got, k == 1);
		printf("fdlimit [%s]: %d problems\n", modes[k], b);
		bad += b;
	}
	if (bad) {
		printf("test-fdlimit: FAIL: %d problems\n", bad);
		return 1;
	}
	printf("test-fdlimit: PASS\n");
	return 0;
}
