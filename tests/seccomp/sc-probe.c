/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sc-probe.c - the program the seccomp tests run under `mptcpify-run
 * --seccomp`: every socket call is a raw syscall(2), as static binaries, Go
 * and hand-written code make them, so LD_PRELOAD could never see them; the
 * verdicts come from the kernel (SO_PROTOCOL, MPTCP_INFO). Built three ways
 * (glibc dynamic, glibc -static, musl-gcc -static); uses libc headers only.
 *
 *   sc-probe sockets EXPECT          candidate sockets get protocol EXPECT
 *                                    (262 or 6), flags kept; others untouched
 *   sc-probe pair EXPECT [6]         loopback listener, client, accepted: all
 *                                    EXPECT; data both ways; MPTCP_INFO
 *   sc-probe policy P1 P2            policy -a 'listen@:P1, connect@127.0.0.2':
 *                                    per listening port and per destination,
 *                                    alternating (replacements both ways)
 *   sc-probe epoll PORT              policy -a 'connect@127.0.0.2': a socket in
 *                                    an epoll set before connect() is replaced
 *                                    and still reports in that set
 *   sc-probe bound PORT              policy -a 'connect@127.0.0.2': a client
 *                                    bound before connect() keeps its port
 *   sc-probe ttl emulate|error       IP_TTL on an MPTCP socket: emulated and
 *                                    read back, or the kernel's error
 *   sc-probe usertimeout             TCP_USER_TIMEOUT before connect(): made TCP
 *   sc-probe threads N               N threads make sockets; fork; the child
 *                                    makes one, then execs `sockets 262`
 *   sc-probe hold DIR                one socket, DIR/ready, wait for DIR/go,
 *                                    another socket: prints its errno
 *   sc-probe sigwait DIR             DIR/ready, then exits 3 on SIGTERM
 *   sc-probe netns [disabled] -- CMD a new network namespace (lo up; MPTCP
 *                                    disabled), then exec CMD
 *   sc-probe fastopen PORT DST WANT  a MSG_FASTOPEN sendto() to DST:PORT (our
 *                                    listener): data arrives, protocol WANT;
 *                                    "auto": 262 if an explicit MPTCP socket
 *                                    takes MSG_FASTOPEN on this kernel, else 6
 *   sc-probe maxseg                  TCP_MAXSEG 1400 on an MPTCP socket: set
 *                                    (emulated before 6.17) and read back
 *   sc-probe as UID -- CMD           drop to UID (and GID UID), exec CMD
 *   sc-probe uname26 -- CMD          exec CMD with uname(2) saying 2.6 (an
 *                                    "old kernel" for the refusal)
 *   sc-probe noseccomp -- CMD        exec CMD where seccomp(2) fails ENOSYS
 *
 * Exit 0 when every check holds, 1 when one fails (a FAIL line says which),
 * 2 on a setup error, 77 when the kernel cannot show it here. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif
#define SOL_MPTCP_ 284
#define MPTCP_INFO_ 1

static int fails;

#define FAIL(...)                                   \
	do {                                        \
		printf("FAIL: " __VA_ARGS__);       \
		putchar('\n');                      \
		fails++;                            \
	} while (0)

static void die(const char *what)
{
	printf("ERROR: %s: %s\n", what, strerror(errno));
	exit(2);
}

/* ---- raw system calls ------------------------------------------------------ */

static int r_socket(int d, int t, int p)
{
	return (int)syscall(SYS_socket, d, t, p);
}
static int r_bind(int fd, const void *a, socklen_t l)
{
	return (int)syscall(SYS_bind, fd, a, l);
}
static int r_listen(int fd, int b)
{
	return (int)syscall(SYS_listen, fd, b);
}
static int r_connect(int fd, const void *a, socklen_t l)
{
	return (int)syscall(SYS_connect, fd, a, l);
}
static int r_accept(int fd)
{
	return (int)syscall(SYS_accept4, fd, NULL, NULL, SOCK_CLOEXEC);
}
static int r_setsockopt(int fd, int l, int n, const void *v, socklen_t len)
{
	return (int)syscall(SYS_setsockopt, fd, l, n, v, len);
}
static int r_getsockopt(int fd, int l, int n, void *v, socklen_t *len)
{
	return (int)syscall(SYS_getsockopt, fd, l, n, v, len);
}

static int int_opt(int fd, int level, int name)
{
	int v = -1;
	socklen_t l = sizeof(v);

	return r_getsockopt(fd, level, name, &v, &l) < 0 ? -1 : v;
}

static int proto(int fd)
{
	return int_opt(fd, SOL_SOCKET, SO_PROTOCOL);
}

/* Does the kernel report MPTCP state for FD, and not a fallback to TCP? */
static int mptcp_live(int fd)
{
	unsigned char info[256];
	socklen_t l = sizeof(info);
	uint32_t flags;

	memset(info, 0, sizeof(info));
	if (r_getsockopt(fd, SOL_MPTCP_, MPTCP_INFO_, info, &l) < 0) {
		/* No getsockopt(SOL_MPTCP) before 5.16. Those kernels hand
		 * the reads of a socket that fell back to its one subflow
		 * (TCP: ENOPROTOOPT for this level, TCP_INFO answered) and
		 * refuse them on a live MPTCP socket with EOPNOTSUPP. TCP_INFO
		 * is not in the option table: the supervisor never traps it,
		 * the answer is the kernel's. */
		struct tcp_info ti;
		socklen_t tl = sizeof(ti);
		if (errno != EOPNOTSUPP)
			return 0;
		return r_getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) < 0 && errno == EOPNOTSUPP;
	}
	/* struct mptcp_info: six u8 counters, then u32 mptcpi_flags (bit 0:
	 * fell back to TCP) */
	if (l < 12)
		return 0;
	memcpy(&flags, info + 8, sizeof(flags));
	return !(flags & 1);
}

static socklen_t inaddr(struct sockaddr_storage *ss, int family, const char *addr, int port)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		if (addr && strcmp(addr, "::1") == 0)
			a->sin6_addr.s6_addr[15] = 1;
		return sizeof(*a);
	}
	struct sockaddr_in *a = (struct sockaddr_in *)ss;
	unsigned b[4] = { 0, 0, 0, 0 };
	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)port);
	if (addr)
		sscanf(addr, "%u.%u.%u.%u", &b[0], &b[1], &b[2], &b[3]);
	a->sin_addr.s_addr = htonl(b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3]);
	return sizeof(*a);
}

static int port_of(int fd)
{
	struct sockaddr_storage ss;
	socklen_t l = sizeof(ss);

	if (syscall(SYS_getsockname, fd, &ss, &l) < 0)
		return -1;
	return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					      : ((struct sockaddr_in *)&ss)->sin_port);
}

static int listener(int family, const char *addr, int port, int *out_port)
{
	struct sockaddr_storage ss;
	socklen_t l = inaddr(&ss, family, addr, port);
	int one = 1, fd = r_socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket (listener)");
	r_setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (r_bind(fd, &ss, l) < 0)
		die("bind");
	if (r_listen(fd, 16) < 0)
		die("listen");
	if (out_port)
		*out_port = port_of(fd);
	return fd;
}

static int client(int family, const char *addr, int port)
{
	struct sockaddr_storage ss;
	socklen_t l = inaddr(&ss, family, addr, port);
	int fd = r_socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket (client)");
	if (r_connect(fd, &ss, l) < 0)
		die("connect");
	return fd;
}

/* Sends a line each way between C and A and checks it arrives. */
static void exchange(int c, int a)
{
	char buf[32];

	if (write(c, "ping", 4) != 4 || read(a, buf, sizeof(buf)) != 4 || memcmp(buf, "ping", 4) ||
	    write(a, "pong", 4) != 4 || read(c, buf, sizeof(buf)) != 4 || memcmp(buf, "pong", 4))
		FAIL("data did not go both ways");
}

/* ---- sockets ----------------------------------------------------------------- */

static int cmd_sockets(int expect)
{
	static const int flags[] = { 0, SOCK_NONBLOCK, SOCK_CLOEXEC, SOCK_NONBLOCK | SOCK_CLOEXEC };
	static const int families[] = { AF_INET, AF_INET6 };

	for (unsigned f = 0; f < 2; f++)
		for (unsigned i = 0; i < 4; i++)
			for (int p = 0; p <= IPPROTO_TCP; p += IPPROTO_TCP) {
				int fd = r_socket(families[f], SOCK_STREAM | flags[i], p);
				if (fd < 0) {
					if (families[f] == AF_INET6 && errno == EAFNOSUPPORT)
						continue;
					FAIL("socket(%d, %#x, %d): %s", families[f], flags[i], p,
					     strerror(errno));
					continue;
				}
				int got = proto(fd);
				int nb = !!(fcntl(fd, F_GETFL) & O_NONBLOCK);
				int ce = !!(fcntl(fd, F_GETFD) & FD_CLOEXEC);
				printf("socket(%s, SOCK_STREAM%s%s, %d): protocol %d nonblock %d cloexec %d\n",
				       families[f] == AF_INET ? "AF_INET" : "AF_INET6",
				       flags[i] & SOCK_NONBLOCK ? "|SOCK_NONBLOCK" : "",
				       flags[i] & SOCK_CLOEXEC ? "|SOCK_CLOEXEC" : "", p, got, nb, ce);
				if (got != expect)
					FAIL("protocol %d, expected %d", got, expect);
				if (nb != !!(flags[i] & SOCK_NONBLOCK) || ce != !!(flags[i] & SOCK_CLOEXEC))
					FAIL("flags not kept");
				close(fd);
			}
	/* not candidates: never touched */
	int u = r_socket(AF_INET, SOCK_DGRAM, 0), x = r_socket(AF_UNIX, SOCK_STREAM, 0);
	int m = r_socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
	if (proto(u) != IPPROTO_UDP)
		FAIL("UDP socket has protocol %d", proto(u));
	if (x < 0 || int_opt(x, SOL_SOCKET, SO_DOMAIN) != AF_UNIX)
		FAIL("AF_UNIX socket changed");
	if (m >= 0 && proto(m) != IPPROTO_MPTCP)
		FAIL("an explicit IPPROTO_MPTCP socket has protocol %d", proto(m));
	printf("UDP, AF_UNIX and explicit MPTCP sockets untouched\n");
	return fails ? 1 : 0;
}

static int cmd_pair(int expect, int family)
{
	const char *lo = family == AF_INET6 ? "::1" : "127.0.0.1";
	int port, l = listener(family, NULL, 0, &port);
	int c = client(family, lo, port), a = r_accept(l);

	if (a < 0)
		die("accept");
	exchange(c, a);
	printf("pair %s: listener %d client %d accepted %d mptcp-info client %d server %d\n",
	       family == AF_INET6 ? "IPv6" : "IPv4", proto(l), proto(c), proto(a), mptcp_live(c),
	       mptcp_live(a));
	if (proto(l) != expect || proto(c) != expect || proto(a) != expect)
		FAIL("expected protocol %d on all three", expect);
	if (expect == IPPROTO_MPTCP && (!mptcp_live(c) || !mptcp_live(a)))
		FAIL("the kernel reports no live MPTCP connection (fallback?)");
	return fails ? 1 : 0;
}

/* ---- policy ------------------------------------------------------------------ */

static int cmd_policy(int p1, int p2)
{
	int l1 = listener(AF_INET, NULL, p1, NULL), l2 = listener(AF_INET, NULL, p2, NULL);

	printf("listener :%d protocol %d, listener :%d protocol %d\n", p1, proto(l1), p2, proto(l2));
	if (proto(l1) != IPPROTO_MPTCP)
		FAIL("listen@:%d should be MPTCP", p1);
	if (proto(l2) != IPPROTO_TCP)
		FAIL("the listener on :%d should stay TCP", p2);
	/* alternate destinations: the prediction misses every time, so each
	 * connection replaces its socket, one way then the other */
	for (int round = 0; round < 3; round++) {
		static const char *const dst[] = { "127.0.0.2", "127.0.0.1" };
		for (int i = 0; i < 2; i++) {
			int c = client(AF_INET, dst[i], p1), a = r_accept(l1);
			int want = i == 0 ? IPPROTO_MPTCP : IPPROTO_TCP;
			if (a < 0)
				die("accept");
			exchange(c, a);
			printf("connect %s:%d: client %d accepted %d\n", dst[i], p1, proto(c), proto(a));
			if (proto(c) != want || proto(a) != want)
				FAIL("connect to %s: expected %d", dst[i], want);
			if (want == IPPROTO_MPTCP && !mptcp_live(c))
				FAIL("connect to %s: no live MPTCP connection", dst[i]);
			close(c);
			close(a);
		}
	}
	return fails ? 1 : 0;
}

static int cmd_epoll(int port)
{
	int l = listener(AF_INET, NULL, port, NULL), ep = epoll_create1(EPOLL_CLOEXEC);
	struct sockaddr_storage ss;
	socklen_t sl;

	/* the first connect is predicted MPTCP and stays so; the next one (to
	 * 127.0.0.1, TCP) is replaced while registered in the epoll set */
	for (int i = 0; i < 2; i++) {
		const char *dst = i == 0 ? "127.0.0.2" : "127.0.0.1";
		int c = r_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		struct epoll_event ev = { .events = EPOLLOUT, .data.u64 = 0xabc0 + (unsigned)i }, got;
		if (c < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev) < 0)
			die("socket/epoll_ctl");
		sl = inaddr(&ss, AF_INET, dst, port);
		if (r_connect(c, &ss, sl) < 0 && errno != EINPROGRESS)
			die("connect");
		int n = epoll_wait(ep, &got, 1, 5000);
		printf("epoll %s: protocol %d, %d event(s), data %#llx\n", dst, proto(c), n,
		       n > 0 ? (unsigned long long)got.data.u64 : 0ULL);
		if (n != 1 || got.data.u64 != ev.data.u64)
			FAIL("the socket no longer reports in its epoll set");
		ev.events = EPOLLIN;
		if (epoll_ctl(ep, EPOLL_CTL_MOD, c, &ev) < 0)
			FAIL("EPOLL_CTL_MOD on the fd: %s", strerror(errno));
		if (epoll_ctl(ep, EPOLL_CTL_DEL, c, NULL) < 0)
			FAIL("EPOLL_CTL_DEL on the fd: %s", strerror(errno));
		if (proto(c) != (i == 0 ? IPPROTO_MPTCP : IPPROTO_TCP))
			FAIL("%s: protocol %d", dst, proto(c));
		int a = r_accept(l);
		close(a);
		close(c);
	}
	return fails ? 1 : 0;
}

static int cmd_bound(int port)
{
	int l = listener(AF_INET, NULL, port, NULL), lp;
	struct sockaddr_storage ss;
	socklen_t sl;

	/* predicted MPTCP first (127.0.0.2), then a bound TCP-bound one */
	for (int i = 0; i < 2; i++) {
		const char *dst = i == 0 ? "127.0.0.2" : "127.0.0.1";
		int c = r_socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
		r_setsockopt(c, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
		sl = inaddr(&ss, AF_INET, "127.0.0.1", 0);
		if (r_bind(c, &ss, sl) < 0)
			die("bind (client)");
		lp = port_of(c);
		sl = inaddr(&ss, AF_INET, dst, port);
		if (r_connect(c, &ss, sl) < 0)
			die("connect");
		printf("bound client to %s: port before %d after %d, protocol %d, SO_KEEPALIVE %d\n",
		       dst, lp, port_of(c), proto(c), int_opt(c, SOL_SOCKET, SO_KEEPALIVE));
		if (port_of(c) != lp)
			FAIL("the bound port changed");
		if (int_opt(c, SOL_SOCKET, SO_KEEPALIVE) != 1)
			FAIL("SO_KEEPALIVE was not carried over");
		if (proto(c) != (i == 0 ? IPPROTO_MPTCP : IPPROTO_TCP))
			FAIL("%s: protocol %d", dst, proto(c));
		close(r_accept(l));
		close(c);
	}
	return fails ? 1 : 0;
}

/* Does an MPTCP socket asked for explicitly (never touched by the
 * supervisor) take MSG_FASTOPEN to our listener L on this kernel? */
static int mptcp_takes_fastopen(int port)
{
	int m = r_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_MPTCP);
	struct sockaddr_storage ss;
	socklen_t sl = inaddr(&ss, AF_INET, "127.0.0.1", port);
	long n;

	if (m < 0)
		return 0;
	n = syscall(SYS_sendto, m, "", 0, MSG_FASTOPEN, &ss, sl);
	n = n < 0 && errno == EOPNOTSUPP ? 0 : 1;
	close(m);
	return (int)n;
}

static int cmd_fastopen(int port, const char *dst, const char *want_s)
{
	int l = listener(AF_INET, NULL, port, NULL), want;

	if (strcmp(want_s, "auto") == 0) {
		want = mptcp_takes_fastopen(port) ? IPPROTO_MPTCP : IPPROTO_TCP;
		/* a probe that was taken left a connection in the queue */
		if (want == IPPROTO_MPTCP)
			close(r_accept(l));
	} else {
		want = atoi(want_s);
	}
	int c = r_socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), a;
	struct sockaddr_storage ss;
	socklen_t sl = inaddr(&ss, AF_INET, dst, port);
	char buf[16];
	long n;

	n = syscall(SYS_sendto, c, "ping", 4, MSG_FASTOPEN, &ss, sl);
	if (n != 4) {
		FAIL("sendto(MSG_FASTOPEN) to %s: %s", dst, n < 0 ? strerror(errno) : "short");
		return 1;
	}
	a = r_accept(l);
	if (a < 0 || read(a, buf, sizeof(buf)) != 4 || memcmp(buf, "ping", 4))
		FAIL("the Fast Open data did not arrive");
	printf("MSG_FASTOPEN to %s:%d: client protocol %d, accepted %d\n", dst, port, proto(c),
	       proto(a));
	if (proto(c) != want)
		FAIL("expected protocol %d", want);
	return fails ? 1 : 0;
}

/* ---- options ------------------------------------------------------------------- */

static int cmd_ttl(const char *cls)
{
	int fd = r_socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), v = 5;
	socklen_t l = sizeof(v);

	if (proto(fd) != IPPROTO_MPTCP) {
		FAIL("the socket is not MPTCP (%d)", proto(fd));
		return 1;
	}
	int rc = r_setsockopt(fd, SOL_IP, IP_TTL, &v, sizeof(v));
	int err = rc < 0 ? errno : 0;
	v = 0;
	int grc = r_getsockopt(fd, SOL_IP, IP_TTL, &v, &l);
	printf("IP_TTL 5 on an MPTCP socket: setsockopt %d (%s), read back %d (%s), protocol %d\n",
	       rc, rc < 0 ? strerror(err) : "ok", v, grc < 0 ? strerror(errno) : "ok", proto(fd));
	if (strcmp(cls, "emulate") == 0) {
		if (rc != 0 || grc != 0 || v != 5)
			FAIL("IP_TTL not emulated and read back");
		if (proto(fd) != IPPROTO_MPTCP)
			FAIL("the socket did not stay MPTCP");
		/* and a value TCP refuses gets TCP's error */
		v = 300;
		if (r_setsockopt(fd, SOL_IP, IP_TTL, &v, sizeof(v)) == 0 || errno != EINVAL)
			FAIL("IP_TTL 300: expected TCP's EINVAL");
	} else if (rc == 0 || (err != EOPNOTSUPP && err != ENOPROTOOPT)) {
		FAIL("IP_TTL=error: expected the kernel's refusal");
	}
	return fails ? 1 : 0;
}

static int cmd_maxseg(void)
{
	int fd = r_socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), v = 1400;
	socklen_t l = sizeof(v);
	int rc = r_setsockopt(fd, SOL_TCP, TCP_MAXSEG, &v, sizeof(v));

	v = 0;
	int grc = r_getsockopt(fd, SOL_TCP, TCP_MAXSEG, &v, &l);
	printf("TCP_MAXSEG 1400 on an MPTCP socket: setsockopt %d, read back %d (%d), protocol %d\n",
	       rc, v, grc, proto(fd));
	if (rc != 0 || grc != 0 || v != 1400 || proto(fd) != IPPROTO_MPTCP)
		FAIL("expected 1400 read back on an MPTCP socket");
	return fails ? 1 : 0;
}

static int cmd_usertimeout(void)
{
	int port, l = listener(AF_INET, NULL, 0, &port);
	int fd = r_socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), v = 10000, before = proto(fd);
	socklen_t len = sizeof(v);
	struct sockaddr_storage ss;
	socklen_t sl;

	int rc = r_setsockopt(fd, SOL_TCP, TCP_USER_TIMEOUT, &v, sizeof(v));
	v = 0;
	r_getsockopt(fd, SOL_TCP, TCP_USER_TIMEOUT, &v, &len);
	printf("TCP_USER_TIMEOUT 10000 before connect: setsockopt %d, protocol %d -> %d, read back %d\n",
	       rc, before, proto(fd), v);
	if (before != IPPROTO_MPTCP)
		FAIL("the socket did not start MPTCP");
	if (rc != 0 || proto(fd) != IPPROTO_TCP || v != 10000)
		FAIL("expected a TCP socket with the option really set");
	sl = inaddr(&ss, AF_INET, "127.0.0.1", port);
	if (r_connect(fd, &ss, sl) < 0)
		FAIL("connect after the step-down: %s", strerror(errno));
	int a = r_accept(l);
	exchange(fd, a);
	return fails ? 1 : 0;
}

/* ---- the tree ----------------------------------------------------------------- */

static void *thread_main(void *arg)
{
	int *bad = arg;

	for (int i = 0; i < 50; i++) {
		int fd = r_socket(i & 1 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || proto(fd) != IPPROTO_MPTCP)
			(*bad)++;
		close(fd);
	}
	return NULL;
}

static int cmd_threads(int n, const char *self)
{
	pthread_t th[64];
	int bad[64] = { 0 }, status;
	pid_t pid;

	if (n > 64)
		n = 64;
	for (int i = 0; i < n; i++)
		pthread_create(&th[i], NULL, thread_main, &bad[i]);
	for (int i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		if (bad[i])
			FAIL("thread %d: %d socket(s) not MPTCP", i, bad[i]);
	}
	printf("%d threads x 50 sockets checked\n", n);
	pid = fork();
	if (pid == 0) {
		int fd = r_socket(AF_INET, SOCK_STREAM, 0);
		printf("forked child: protocol %d\n", proto(fd));
		fflush(stdout);
		if (proto(fd) != IPPROTO_MPTCP)
			_exit(1);
		execl(self, self, "sockets", "262", (char *)NULL);
		_exit(2);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		FAIL("the forked and exec'd child failed (status %#x)", status);
	else
		printf("forked child exec'd %s: pass\n", self);
	return fails ? 1 : 0;
}

static int wait_file(const char *dir, const char *name, int seconds)
{
	char path[4096];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	for (int i = 0; i < seconds * 10; i++) {
		if (stat(path, &st) == 0)
			return 0;
		usleep(100000);
	}
	return -1;
}

static void touch(const char *dir, const char *name)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0)
		close(fd);
}

static int cmd_hold(const char *dir)
{
	int fd = r_socket(AF_INET, SOCK_STREAM, 0);

	printf("first socket: protocol %d\n", proto(fd));
	fflush(stdout);
	touch(dir, "ready");
	if (wait_file(dir, "go", 60) < 0) {
		printf("ERROR: no %s/go\n", dir);
		return 2;
	}
	int fd2 = r_socket(AF_INET, SOCK_STREAM, 0);
	int err = fd2 < 0 ? errno : 0;
	int u = r_socket(AF_INET, SOCK_DGRAM, 0);
	printf("second socket: %s; a UDP socket: %s\n", fd2 < 0 ? strerror(err) : "made",
	       u < 0 ? strerror(errno) : "made");
	printf("second socket errno %d\n", err);
	return 0;
}

static volatile sig_atomic_t got_term;
static void on_term(int sig)
{
	(void)sig;
	got_term = 1;
}

static int cmd_sigwait(const char *dir)
{
	signal(SIGTERM, on_term);
	touch(dir, "ready");
	for (int i = 0; i < 600 && !got_term; i++)
		usleep(100000);
	return got_term ? 3 : 2;
}

/* ---- helpers that set up and exec --------------------------------------------- */

static int cmd_netns(int disabled, char **argv)
{
	struct ifreq ifr;
	int s;

	if (unshare(CLONE_NEWNET) < 0)
		die("unshare(CLONE_NEWNET)");
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		die("SIOCGIFFLAGS lo");
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		die("SIOCSIFFLAGS lo");
	close(s);
	if (disabled) {
		int f = open("/proc/sys/net/mptcp/enabled", O_WRONLY | O_CLOEXEC);
		if (f < 0 || write(f, "0\n", 2) != 2)
			die("net.mptcp.enabled=0");
		close(f);
	}
	execvp(argv[0], argv);
	die(argv[0]);
	return 2;
}

static int cmd_as(unsigned uid, char **argv)
{
	if (setgroups(0, NULL) < 0 || setgid(uid) < 0 || setuid(uid) < 0)
		die("dropping privileges");
	execvp(argv[0], argv);
	die(argv[0]);
	return 2;
}

static int cmd_uname26(char **argv)
{
	if (personality(PER_LINUX | UNAME26) < 0)
		die("personality(UNAME26)");
	execvp(argv[0], argv);
	die(argv[0]);
	return 2;
}

/* seccomp(2) and prctl(PR_SET_SECCOMP) fail with ENOSYS below: a kernel, or
 * a container profile, without seccomp filters. */
static int cmd_noseccomp(char **argv)
{
	struct sock_filter {
		uint16_t code;
		uint8_t jt, jf;
		uint32_t k;
	} f[] = {
		{ 0x20, 0, 0, offsetof(struct { int nr; }, nr) }, /* ld [nr] */
		{ 0x15, 0, 1, SYS_seccomp },                       /* jeq seccomp */
		{ 0x06, 0, 0, 0x00050000u | ENOSYS },              /* ret ERRNO(ENOSYS) */
		{ 0x06, 0, 0, 0x7fff0000u },                       /* ret ALLOW */
	};
	struct {
		unsigned short len;
		struct sock_filter *filter;
	} prog = { 4, f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_SET_SECCOMP, 2, &prog) < 0)
		die("installing the filter");
	execvp(argv[0], argv);
	die(argv[0]);
	return 2;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	setvbuf(stdout, NULL, _IOLBF, 0);
	self[n > 0 ? n : 0] = '\0';
	if (!strcmp(cmd, "sockets") && argc == 3)
		return cmd_sockets(atoi(argv[2]));
	if (!strcmp(cmd, "pair") && argc >= 3)
		return cmd_pair(atoi(argv[2]), argc > 3 && !strcmp(argv[3], "6") ? AF_INET6 : AF_INET);
	if (!strcmp(cmd, "policy") && argc == 4)
		return cmd_policy(atoi(argv[2]), atoi(argv[3]));
	if (!strcmp(cmd, "epoll") && argc == 3)
		return cmd_epoll(atoi(argv[2]));
	if (!strcmp(cmd, "bound") && argc == 3)
		return cmd_bound(atoi(argv[2]));
	if (!strcmp(cmd, "ttl") && argc == 3)
		return cmd_ttl(argv[2]);
	if (!strcmp(cmd, "usertimeout"))
		return cmd_usertimeout();
	if (!strcmp(cmd, "threads") && argc == 3)
		return cmd_threads(atoi(argv[2]), self);
	if (!strcmp(cmd, "hold") && argc == 3)
		return cmd_hold(argv[2]);
	if (!strcmp(cmd, "sigwait") && argc == 3)
		return cmd_sigwait(argv[2]);
	if (!strcmp(cmd, "netns") && argc >= 4) {
		int disabled = !strcmp(argv[2], "disabled");
		int i = disabled ? 3 : 2;
		if (strcmp(argv[i], "--") || i + 1 >= argc)
			goto usage;
		return cmd_netns(disabled, argv + i + 1);
	}
	if (!strcmp(cmd, "as") && argc >= 5 && !strcmp(argv[3], "--"))
		return cmd_as((unsigned)atoi(argv[2]), argv + 4);
	if (!strcmp(cmd, "fastopen") && argc == 5)
		return cmd_fastopen(atoi(argv[2]), argv[3], argv[4]);
	if (!strcmp(cmd, "maxseg"))
		return cmd_maxseg();
	if (!strcmp(cmd, "uname26") && argc >= 4 && !strcmp(argv[2], "--"))
		return cmd_uname26(argv + 3);
	if (!strcmp(cmd, "noseccomp") && argc >= 4 && !strcmp(argv[2], "--"))
		return cmd_noseccomp(argv + 3);
usage:
	fprintf(stderr, "usage: see the header of sc-probe.c\n");
	return 2;
}
