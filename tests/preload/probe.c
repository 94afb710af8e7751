/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* probe.c - the program the preload tests run under libmptcpify.so. It uses
 * plain libc calls for what it does (so the shim sees them) and raw
 * syscalls for what it reports (so the shim cannot colour the evidence: the
 * protocol, flags and options come from the kernel).
 *
 *   probe listen ADDR             bind+listen; prints "proto N port P"
 *   probe connect ADDR            nonblocking connect; prints "proto N"
 *   probe pair [N]                N loopback connections to itself (IPv4),
 *                                 prints per connection client/server proto
 *                                 and the MPTCP_INFO fallback flag
 *   probe serve PORTFILE N        accepts N connections on 127.0.0.1:0, echoes
 *   probe client PORT N           N connections to 127.0.0.1:PORT
 *   probe state MODE              sets many options, then MODE (listen |
 *                                 connect | none) and dumps the socket state
 *   probe opt NAME VALUE WHEN     sets option NAME on an upgraded socket
 *                                 before or after connect, dumps the outcome
 *   probe churn THREADS N         THREADS x N socket/connect/close cycles
 *   probe identity                fd reuse behind the shim's back
 *   probe errno                   errno preserved across interposed calls
 *   probe fork                    undecided socket shared by fork
 *   probe regress NAME            one regression check (see cmd_regress);
 *                                 prints "NAME ok" or "NAME FAIL: why"
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/mptcp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <dirent.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <unistd.h>

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif
#ifndef SOL_MPTCP
#define SOL_MPTCP 284
#endif
#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

static void die(const char *what)
{
	fprintf(stderr, "probe: %s: %s\n", what, strerror(errno));
	exit(2);
}

/* ---- the kernel's view, bypassing any interposer ---- */
static int k_getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	return (int)syscall(SYS_getsockopt, fd, level, name, val, len);
}

static int k_proto(int fd)
{
	int p = -1;
	socklen_t l = sizeof(p);
	if (k_getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &p, &l) < 0)
		return -errno;
	return p;
}

static int k_fcntl(int fd, int cmd)
{
	return (int)syscall(SYS_fcntl, fd, cmd, 0);
}

static int parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[128];
	const char *colon;
	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		const char *end = strchr(s, ']');
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
		if (!end || end[1] != ':' || (size_t)(end - s - 1) >= sizeof(host))
			return -1;
		memcpy(host, s + 1, (size_t)(end - s - 1));
		host[end - s - 1] = 0;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((unsigned short)atoi(end + 2));
		*len = sizeof(*in6);
		return inet_pton(AF_INET6, host, &in6->sin6_addr) == 1 ? 0 : -1;
	}
	colon = strrchr(s, ':');
	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -1;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = 0;
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	in->sin_family = AF_INET;
	in->sin_port = htons((unsigned short)atoi(colon + 1));
	*len = sizeof(*in);
	return inet_pton(AF_INET, host, &in->sin_addr) == 1 ? 0 : -1;
}

static int port_of(int fd)
{
	struct sockaddr_storage ss;
	socklen_t l = sizeof(ss);
	if (syscall(SYS_getsockname, fd, &ss, &l) < 0)
		return -1;
	return ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					     : ((struct sockaddr_in6 *)&ss)->sin6_port);
}

static int count_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the DIR's own fd */
}

/* Kernels before 5.16 have no getsockopt(SOL_MPTCP) at all. */
static int kernel_has_mptcp_info(void)
{
	struct utsname u;
	int ma = 0, mi = 0;
	uname(&u);
	sscanf(u.release, "%d.%d", &ma, &mi);
	return ma > 5 || (ma == 5 && mi >= 16);
}

/* MPTCP_INFO flags, or -errno (after fallback SOL_MPTCP reads fail). Where
 * the kernel has no MPTCP_INFO (before 5.16), the kernel still tells: a
 * socket that fell back passes TCP-level getsockopt to its one subflow,
 * while an MPTCP socket of those kernels refuses them (TCP_MAXSEG is
 * refused before 6.17); the answer then is what 5.16+ would give: 0, or
 * -EOPNOTSUPP after fallback. */
static int k_mptcp_fallback(int fd)
{
	struct mptcp_info mi;
	socklen_t l = sizeof(mi);
	memset(&mi, 0, sizeof(mi));
	if (k_getsockopt(fd, SOL_MPTCP, MPTCP_INFO, &mi, &l) < 0) {
		int err = errno, mss;
		socklen_t ml = sizeof(mss);
		if (err != EOPNOTSUPP || kernel_has_mptcp_info())
			return -err;
		if (k_getsockopt(fd, SOL_TCP, TCP_MAXSEG, &mss, &ml) < 0)
			return errno == EOPNOTSUPP ? 0 : -errno;
		return -EOPNOTSUPP;
	}
	return (int)(mi.mptcpi_flags & MPTCP_INFO_FLAG_FALLBACK);
}

static int loopback_listener(int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 4096) < 0)
		die("listener");
	if (getsockname(fd, (struct sockaddr *)&a, &l) < 0)
		die("getsockname");
	*port = ntohs(a.sin_port);
	return fd;
}

static int connect_to(int port, int nonblock)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((unsigned short)port) };
	int fd = socket(AF_INET, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

static void no_time_wait(int fd)
{
	struct linger lg = { 1, 0 };
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

/* ---- subcommands ---- */
static int cmd_listen(const char *addr)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, off = 0;

	if (parse_addr(addr, &ss, &len) < 0)
		die("address");
	fd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (fd < 0)
		die("socket");
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0)
		die("bind");
	if (listen(fd, 8) < 0)
		die("listen");
	printf("proto %d port %d\n", k_proto(fd), port_of(fd));
	return 0;
}

static int cmd_connect(const char *addr)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd;

	if (parse_addr(addr, &ss, &len) < 0)
		die("address");
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (fd < 0)
		die("socket");
	int rc = connect(fd, (struct sockaddr *)&ss, len);
	printf("proto %d connect %s\n", k_proto(fd), rc == 0 ? "ok" : strerror(errno));
	return 0;
}

static int cmd_pair(int n)
{
	int port, l = loopback_listener(&port);
	for (int i = 0; i < n; i++) {
		int c = connect_to(port, 0);
		int s = c < 0 ? -1 : accept(l, NULL, NULL);
		if (c < 0 || s < 0)
			die("pair");
		if (write(c, "x", 1) != 1)
			die("write");
		char b;
		if (read(s, &b, 1) != 1)
			die("read");
		printf("conn %d client %d server %d client_fallback %d server_fallback %d\n", i,
		       k_proto(c), k_proto(s), k_mptcp_fallback(c), k_mptcp_fallback(s));
		no_time_wait(c);
		close(c);
		close(s);
	}
	printf("listener %d\n", k_proto(l));
	return 0;
}

/* probe fd2 socket|peer: a daemon closes its stderr, then number 2 goes to
 * its own socket (socket: the socket it makes; peer: one end of a
 * connected pair, whose other end must receive nothing of the shim's).
 * Then it makes and connects a TCP socket, which the shim logs at info. */
static int cmd_fd2(const char *how)
{
	int port, l, sv[2] = { -1, -1 };
	char buf[512];

	close(2);
	if (strcmp(how, "peer") == 0) {
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0 || (sv[0] != 2 && sv[1] != 2))
			die("socketpair at fd 2");
	} else {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd != 2)
			die("socket did not get fd 2");
	}
	l = loopback_listener(&port); /* after: the first socket is at fd 2 */
	int c = connect_to(port, 0);
	if (c < 0)
		die("connect");
	int s2 = accept(l, NULL, NULL);
	close(s2);
	close(c);
	if (sv[0] >= 0) {
		int peer = sv[0] == 2 ? sv[1] : sv[0];
		ssize_t n = recv(peer, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0) {
			printf("fd2 FAIL: the peer received %zd bytes: %.*s\n", n, (int)n, buf);
			return 0;
		}
	}
	printf("fd2 ok\n");
	return 0;
}

static int cmd_serve(const char *portfile, int n)
{
	int port, l = loopback_listener(&port);
	FILE *f = fopen(portfile, "w");
	if (!f)
		die("portfile");
	fprintf(f, "%d\n", port);
	fclose(f);
	for (int i = 0; i < n; i++) {
		struct pollfd p = { l, POLLIN, 0 };
		if (poll(&p, 1, 10000) != 1)
			die("accept timeout");
		int s = accept(l, NULL, NULL);
		char b[16];
		if (s < 0)
			die("accept");
		ssize_t r = read(s, b, sizeof(b));
		if (r > 0 && write(s, b, (size_t)r) != r)
			die("echo");
		printf("server conn %d proto %d fallback %d\n", i, k_proto(s), k_mptcp_fallback(s));
		close(s);
	}
	return 0;
}

static int cmd_client(int port, int n)
{
	for (int i = 0; i < n; i++) {
		int c = connect_to(port, 0);
		char b[4];
		if (c < 0)
			die("connect");
		/* an HTTP/1.0 request: echoed back by `probe serve`, answered
		 * by a web server; either way the first 4 bytes come back */
		static const char req[] = "GET / HTTP/1.0\r\n\r\n";
		if (write(c, req, sizeof(req) - 1) != (ssize_t)sizeof(req) - 1 || read(c, b, 4) != 4)
			die("echo");
		printf("client conn %d proto %d fallback %d\n", i, k_proto(c), k_mptcp_fallback(c));
		close(c);
	}
	return 0;
}

/* Options the state test sets before the decision, with the values used. */
struct optdef {
	const char *name;
	int level, opt, val;
	int fam6; /* 1: only on AF_INET6 */
};
static const struct optdef state_opts[] = {
	{ "SO_REUSEADDR", SOL_SOCKET, SO_REUSEADDR, 1, 0 },
	{ "SO_REUSEPORT", SOL_SOCKET, SO_REUSEPORT, 1, 0 },
	{ "SO_KEEPALIVE", SOL_SOCKET, SO_KEEPALIVE, 1, 0 },
	{ "SO_RCVBUF", SOL_SOCKET, SO_RCVBUF, 65536, 0 },
	{ "SO_SNDBUF", SOL_SOCKET, SO_SNDBUF, 131072, 0 },
	{ "SO_MARK", SOL_SOCKET, SO_MARK, 42, 0 },
	{ "SO_PRIORITY", SOL_SOCKET, SO_PRIORITY, 5, 0 },
	{ "IP_TOS", SOL_IP, IP_TOS, 0x20, 0 },
	{ "IP_FREEBIND", SOL_IP, IP_FREEBIND, 1, 0 },
	{ "IP_TRANSPARENT", SOL_IP, IP_TRANSPARENT, 1, 0 },
	{ "IP_BIND_ADDRESS_NO_PORT", SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1, 0 },
	{ "IPV6_V6ONLY", SOL_IPV6, IPV6_V6ONLY, 1, 1 },
	{ "TCP_NODELAY", SOL_TCP, TCP_NODELAY, 1, 0 },
	{ "TCP_KEEPIDLE", SOL_TCP, TCP_KEEPIDLE, 77, 0 },
	{ "TCP_KEEPINTVL", SOL_TCP, TCP_KEEPINTVL, 11, 0 },
	{ "TCP_KEEPCNT", SOL_TCP, TCP_KEEPCNT, 4, 0 },
	{ "TCP_FASTOPEN", SOL_TCP, TCP_FASTOPEN, 16, 0 },
	{ "TCP_FASTOPEN_CONNECT", SOL_TCP, TCP_FASTOPEN_CONNECT, 1, 0 },
	{ "TCP_DEFER_ACCEPT", SOL_TCP, TCP_DEFER_ACCEPT, 3, 0 },
	{ "TCP_NOTSENT_LOWAT", SOL_TCP, TCP_NOTSENT_LOWAT, 12345, 0 },
	{ "TCP_MAXSEG", SOL_TCP, TCP_MAXSEG, 1200, 0 },
	{ NULL, 0, 0, 0, 0 },
};

/* probe state FAMILY MODE: FAMILY 4|6, MODE listen|connect|none */
static int cmd_state(const char *fam, const char *mode)
{
	int six = strcmp(fam, "6") == 0;
	int fd = socket(six ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct linger lg = { 1, 7 };
	struct sockaddr_storage ss;
	socklen_t len;
	char buf[64];

	if (fd < 0)
		die("socket");
	for (const struct optdef *o = state_opts; o->name; o++) {
		if (o->fam6 && !six)
			continue;
		/* a listener binding port 0 must get its port at bind() */
		if (o->opt == IP_BIND_ADDRESS_NO_PORT && o->level == SOL_IP && strcmp(mode, "listen") == 0)
			continue;
		int lvl = (o->level == SOL_IP && six) ? SOL_IPV6 : o->level;
		int opt = o->opt;
		if (six && o->level == SOL_IP) {
			/* the IPv6 twins of the IPv4 options */
			if (opt == IP_TOS)
				opt = IPV6_TCLASS, lvl = SOL_IPV6;
			else if (opt == IP_FREEBIND)
				opt = IPV6_FREEBIND;
			else if (opt == IP_TRANSPARENT)
				opt = IPV6_TRANSPARENT;
			else
				lvl = SOL_IP; /* IP_BIND_ADDRESS_NO_PORT works on both */
		}
		if (setsockopt(fd, lvl, opt, &o->val, sizeof(int)) < 0)
			printf("set %s failed: %s\n", o->name, strerror(errno));
	}
	if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) < 0)
		printf("set SO_LINGER failed: %s\n", strerror(errno));
	if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, "lo", 3) < 0)
		printf("set SO_BINDTODEVICE failed: %s\n", strerror(errno));
	if (setsockopt(fd, SOL_TCP, TCP_CONGESTION, "reno", 4) < 0)
		printf("set TCP_CONGESTION failed: %s\n", strerror(errno));

	memset(&ss, 0, sizeof(ss));
	parse_addr(six ? "[::1]:0" : "127.0.0.1:0", &ss, &len);
	if (strcmp(mode, "listen") == 0) {
		if (bind(fd, (struct sockaddr *)&ss, len) < 0)
			die("bind");
		int before = port_of(fd);
		if (listen(fd, 8) < 0)
			die("listen");
		printf("port_kept %d\n", before != 0 && before == port_of(fd));
	} else if (strcmp(mode, "connect") == 0) {
		int lport;
		/* an MPTCP listener: an upgraded client makes a real MPTCP
		 * connection (a plain one falls back to TCP) */
		int l = (int)syscall(SYS_socket, six ? AF_INET6 : AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
		struct sockaddr_storage ls = ss;
		if (l < 0 || syscall(SYS_bind, l, &ls, len) < 0 || syscall(SYS_listen, l, 8) < 0)
			die("helper listener");
		lport = port_of(l);
		if (six)
			((struct sockaddr_in6 *)&ss)->sin6_port = htons((unsigned short)lport);
		else
			((struct sockaddr_in *)&ss)->sin_port = htons((unsigned short)lport);
		/* bind a source address first, as HAProxy's `source` does */
		struct sockaddr_storage src;
		socklen_t slen;
		parse_addr(six ? "[::1]:0" : "127.0.0.1:0", &src, &slen);
		if (bind(fd, (struct sockaddr *)&src, slen) < 0)
			die("bind source");
		if (connect(fd, (struct sockaddr *)&ss, len) < 0 && errno != EINPROGRESS)
			die("connect");
		struct pollfd p = { fd, POLLOUT, 0 };
		poll(&p, 1, 5000);
	}
	/* dump, from the kernel */
	int emulated = 0;
	{
		/* the bound address (ports are the kernel's pick in both runs,
		 * compared separately for listeners: port_kept) */
		struct sockaddr_storage me;
		socklen_t ml = sizeof(me);
		char host[64] = "?";
		if (syscall(SYS_getsockname, fd, &me, &ml) == 0)
			inet_ntop(me.ss_family,
				  me.ss_family == AF_INET ? (void *)&((struct sockaddr_in *)&me)->sin_addr
							  : (void *)&((struct sockaddr_in6 *)&me)->sin6_addr,
				  host, sizeof(host));
		printf("local %s\n", host);
	}
	printf("flags nonblock %d cloexec %d\n", !!(k_fcntl(fd, F_GETFL) & O_NONBLOCK),
	       !!(k_fcntl(fd, F_GETFD) & FD_CLOEXEC));
	for (const struct optdef *o = state_opts; o->name; o++) {
		int v = -1;
		socklen_t l = sizeof(v);
		int lvl = o->level, opt = o->opt;
		if (o->fam6 && !six)
			continue;
		if (six && o->level == SOL_IP) {
			if (opt == IP_TOS)
				opt = IPV6_TCLASS, lvl = SOL_IPV6;
			else if (opt == IP_FREEBIND)
				opt = IPV6_FREEBIND, lvl = SOL_IPV6;
			else if (opt == IP_TRANSPARENT)
				opt = IPV6_TRANSPARENT, lvl = SOL_IPV6;
		}
		int got = k_getsockopt(fd, lvl, opt, &v, &l) == 0;
		if (got && lvl == SOL_TCP && opt == TCP_DEFER_ACCEPT && k_proto(fd) == 262) {
			/* held back on MPTCP listeners (it breaks MP_JOIN):
			 * the program reads what it set, the kernel "unset" */
			l = sizeof(v);
			got = getsockopt(fd, lvl, opt, &v, &l) == 0;
		} else if (!got && (errno == EOPNOTSUPP || errno == ENOPROTOOPT)) {
			/* the kernel refuses it on this (MPTCP) socket: what the
			 * program sees is the shim's emulation */
			l = sizeof(v);
			got = getsockopt(fd, lvl, opt, &v, &l) == 0;
			emulated += got;
		}
		if (!got)
			printf("opt %s error %d\n", o->name, errno);
		else if (o->level == SOL_TCP && o->opt == TCP_MAXSEG && strcmp(mode, "connect") == 0)
			/* connected, TCP reports the MSS in use (at most the clamp,
			 * less TCP options); before 6.17 an MPTCP socket could not
			 * clamp and the shim reports the value set */
			printf("opt %s %s\n", o->name, v > 0 && v <= o->val ? "within-clamp" : "beyond-clamp");
		else
			printf("opt %s %d\n", o->name, v);
	}
	socklen_t l = sizeof(lg);
	memset(&lg, 0, sizeof(lg));
	k_getsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, &l);
	printf("opt SO_LINGER %d/%d\n", lg.l_onoff, lg.l_linger);
	l = sizeof(buf);
	memset(buf, 0, sizeof(buf));
	k_getsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, buf, &l);
	printf("opt SO_BINDTODEVICE %s\n", buf);
	l = sizeof(buf);
	memset(buf, 0, sizeof(buf));
	k_getsockopt(fd, SOL_TCP, TCP_CONGESTION, buf, &l);
	printf("opt TCP_CONGESTION %s\n", buf);
	printf("fd %d\n", fd);
	printf("protocol %d\n", k_proto(fd));
	printf("emulated %d\n", emulated);
	return 0;
}

static const struct {
	const char *name;
	int level, opt;
} opt_names[] = {
	{ "TCP_MAXSEG", SOL_TCP, TCP_MAXSEG },
	{ "TCP_QUICKACK", SOL_TCP, TCP_QUICKACK },
	{ "TCP_WINDOW_CLAMP", SOL_TCP, TCP_WINDOW_CLAMP },
	{ "TCP_LINGER2", SOL_TCP, TCP_LINGER2 },
	{ "TCP_USER_TIMEOUT", SOL_TCP, TCP_USER_TIMEOUT },
	{ "TCP_SAVE_SYN", SOL_TCP, TCP_SAVE_SYN },
	{ "TCP_THIN_LINEAR_TIMEOUTS", SOL_TCP, TCP_THIN_LINEAR_TIMEOUTS },
	{ "IP_TTL", SOL_IP, IP_TTL },
	{ "IP_MTU_DISCOVER", SOL_IP, IP_MTU_DISCOVER },
	{ "IP_MINTTL", SOL_IP, IP_MINTTL },
	{ "SO_OOBINLINE", SOL_SOCKET, SO_OOBINLINE },
	{ "SO_MAX_PACING_RATE", SOL_SOCKET, SO_MAX_PACING_RATE },
	{ "TCP_KEEPIDLE", SOL_TCP, TCP_KEEPIDLE },
	{ "IPV6_V6ONLY", SOL_IPV6, IPV6_V6ONLY }, /* on an IPv4 socket: TCP refuses it too */
	{ "IP_RECVERR", SOL_IP, IP_RECVERR },
	{ "IP_PKTINFO", SOL_IP, IP_PKTINFO },
	{ "TCP_TX_DELAY", SOL_TCP, TCP_TX_DELAY },
	{ "SO_LOCK_FILTER", SOL_SOCKET, SO_LOCK_FILTER },
	{ "SO_ZEROCOPY", SOL_SOCKET, SO_ZEROCOPY },
	/* on an IPv6 socket (probe opt6) */
	{ "IPV6_TCLASS", SOL_IPV6, IPV6_TCLASS },
	{ "IPV6_UNICAST_HOPS", SOL_IPV6, IPV6_UNICAST_HOPS },
	{ "IPV6_MTU_DISCOVER", SOL_IPV6, IPV6_MTU_DISCOVER },
	{ "IPV6_RECVERR", SOL_IPV6, IPV6_RECVERR },
	/* structures, built by the probe */
	{ "TCP_MD5SIG", SOL_TCP, TCP_MD5SIG },
	{ "SO_ATTACH_FILTER", SOL_SOCKET, SO_ATTACH_FILTER },
	{ NULL, 0, 0 },
};

/* probe opt NAME VALUE before|after: on an IPv4 socket that the shim
 * upgrades, set NAME, connect to a loopback listener (created with raw
 * syscalls, so it is plain TCP), and report. */
static int cmd_opt(const char *name, int val, const char *when, int six)
{
	int level = -1, opt = -1, after = strcmp(when, "after") == 0;
	int rc, err = 0, got = -1, getrc, geterr = 0;
	socklen_t gl = sizeof(got);
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct sockaddr *sa = six ? (struct sockaddr *)&a6 : (struct sockaddr *)&a;
	socklen_t salen = six ? sizeof(a6) : sizeof(a);
	/* the option's value: an int, or a structure for two of them */
	struct tcp_md5sig md5;
	struct sock_filter accept_all = BPF_STMT(BPF_RET | BPF_K, 0xffff);
	struct sock_fprog fprog = { 1, &accept_all };
	const void *optval = &val;
	socklen_t optlen = sizeof(val);

	for (int i = 0; opt_names[i].name; i++)
		if (strcmp(opt_names[i].name, name) == 0)
			level = opt_names[i].level, opt = opt_names[i].opt;
	if (level < 0) {
		fprintf(stderr, "probe: unknown option %s\n", name);
		return 2;
	}
	/* an MPTCP listener, so that "after" is an MPTCP connection, not a
	 * fallback to TCP (which accepts every TCP option) */
	if (level == SOL_TCP && opt == TCP_MD5SIG) {
		/* a key for another peer: our own SYN goes out unsigned */
		struct sockaddr_in *peer = (struct sockaddr_in *)&md5.tcpm_addr;
		memset(&md5, 0, sizeof(md5));
		peer->sin_family = AF_INET;
		inet_pton(AF_INET, "192.0.2.7", &peer->sin_addr);
		md5.tcpm_keylen = 6;
		memcpy(md5.tcpm_key, "secret", 6);
		optval = &md5, optlen = sizeof(md5);
	} else if (level == SOL_SOCKET && opt == SO_ATTACH_FILTER) {
		optval = &fprog, optlen = sizeof(fprog);
	}
	int l = (int)syscall(SYS_socket, six ? AF_INET6 : AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (l < 0 || syscall(SYS_bind, l, sa, salen) < 0 || syscall(SYS_listen, l, 8) < 0)
		die("helper listener");
	a.sin_port = a6.sin6_port = htons((unsigned short)port_of(l));

	int fd = socket(six ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		die("socket");
	if (after && connect(fd, sa, salen) < 0)
		die("connect");
	rc = setsockopt(fd, level, opt, optval, optlen);
	if (rc < 0)
		err = errno;
	if (!after && connect(fd, sa, salen) < 0)
		die("connect");
	getrc = getsockopt(fd, level, opt, &got, &gl);
	if (getrc < 0)
		geterr = errno;
	int kgot = -1;
	socklen_t kl = sizeof(kgot);
	int krc;
	if (optval == &fprog) {
		/* SO_GET_FILTER with length 0 answers the filter's length */
		kl = 0;
		krc = k_getsockopt(fd, level, opt, NULL, &kl);
		kgot = (int)kl;
		got = getrc == 0 ? 1 : -1; /* compared with the kernel's 1 */
		val = 1;
	} else if (optval == &md5) {
		/* no getsockopt: in effect means set on a TCP socket */
		krc = k_proto(fd) == IPPROTO_TCP && rc == 0 ? 0 : -1;
		kgot = got = val;
		errno = EOPNOTSUPP;
	} else {
		krc = k_getsockopt(fd, level, opt, &kgot, &kl);
	}
	printf("set %d errno %d get %d errno %d value %d kernel_get %d kernel_value %d protocol %d fallback %d\n",
	       rc, err, getrc, geterr, got, krc, krc == 0 ? kgot : -errno, k_proto(fd),
	       k_proto(fd) == IPPROTO_MPTCP ? k_mptcp_fallback(fd) : -1);
	return 0;
}

struct churn_arg {
	int port, n, failures;
};

static void *churn_thread(void *p)
{
	struct churn_arg *a = p;
	for (int i = 0; i < a->n; i++) {
		int c = connect_to(a->port, 0);
		if (c < 0) {
			a->failures++;
			continue;
		}
		no_time_wait(c);
		close(c);
	}
	return NULL;
}

static atomic_int accept_stop;

static void *accept_thread(void *p)
{
	int l = *(int *)p;
	for (;;) {
		int s = accept(l, NULL, NULL);
		if (s < 0) {
			if (errno == EINVAL || errno == EBADF)
				break;
			continue;
		}
		close(s);
		if (atomic_load(&accept_stop))
			break;
	}
	return NULL;
}

/* Stops accept_thread: one last connection wakes it. (shutdown() of the
 * listener wakes a waiting accept() on TCP, and on MPTCP from 5.11; on
 * 5.10 an MPTCP listener's accept() stays blocked, see guest-options.) */
static void stop_accept_thread(pthread_t t, int l, int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((unsigned short)port) };
	int c = (int)syscall(SYS_socket, AF_INET, SOCK_STREAM, IPPROTO_TCP);

	atomic_store(&accept_stop, 1);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (c >= 0)
		syscall(SYS_connect, c, &a, sizeof(a));
	pthread_join(t, NULL);
	if (c >= 0)
		syscall(SYS_close, c);
	shutdown(l, SHUT_RDWR);
}

static int cmd_churn(int threads, int n)
{
	pthread_t acc, th[64];
	struct churn_arg args[64];
	int before = count_fds(), port, l, failures = 0;

	if (threads > 64)
		threads = 64;
	l = loopback_listener(&port);
	pthread_create(&acc, NULL, accept_thread, &l);
	for (int i = 0; i < threads; i++) {
		args[i] = (struct churn_arg){ port, n, 0 };
		pthread_create(&th[i], NULL, churn_thread, &args[i]);
	}
	for (int i = 0; i < threads; i++) {
		pthread_join(th[i], NULL);
		failures += args[i].failures;
	}
	stop_accept_thread(acc, l, port);
	close(l);
	printf("fds_before %d fds_after %d failures %d\n", before, count_fds(), failures);
	return 0;
}

/* The shim remembered fd N as its own undecided socket; the program closes
 * it with a raw syscall and gets the same number for an MPTCP socket it
 * makes itself (raw syscall too). A connect that the policy wants as TCP
 * must not replace that socket. */
static int cmd_identity(void)
{
	int port, l = loopback_listener(&port);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		die("socket");
	syscall(SYS_close, fd);
	int again = (int)syscall(SYS_socket, AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
	if (again != fd) {
		printf("fd not reused (%d != %d)\n", again, fd);
		return 3;
	}
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((unsigned short)port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int rc = connect(again, (struct sockaddr *)&a, sizeof(a));
	printf("identity connect %d protocol %d\n", rc, k_proto(again));
	close(l);
	return 0;
}

static int cmd_errno(void)
{
	int port, l = loopback_listener(&port), bad = 0;
	errno = 4242;
	int c = socket(AF_INET, SOCK_STREAM, 0);
	bad += errno != 4242;
	int one = 1;
	errno = 4243;
	setsockopt(c, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	bad += errno != 4243;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((unsigned short)port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	errno = 4244;
	connect(c, (struct sockaddr *)&a, sizeof(a));
	bad += errno != 4244;
	errno = 4245;
	close(c);
	bad += errno != 4245;
	printf("errno_changed %d\n", bad);
	close(l);
	return 0;
}

/* A socket created before fork and connected in the child: the parent still
 * holds it, so the shim must not swap it under either. */
static int cmd_fork(void)
{
	int port, l = loopback_listener(&port);
	int c = socket(AF_INET, SOCK_STREAM, 0);
	pid_t pid = fork();
	if (pid == 0) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((unsigned short)port) };
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		int rc = connect(c, (struct sockaddr *)&a, sizeof(a));
		_exit(rc == 0 ? 0 : 1);
	}
	int st;
	waitpid(pid, &st, 0);
	/* the parent's fd must see the child's connection: the same socket */
	struct sockaddr_storage peer;
	socklen_t pl = sizeof(peer);
	int connected = syscall(SYS_getpeername, c, &peer, &pl) == 0;
	printf("child_ok %d parent_sees_connection %d\n", WIFEXITED(st) && WEXITSTATUS(st) == 0,
	       connected);
	close(l);
	return 0;
}

/* Regression checks, each for a bug the shim once had. */
static int cmd_regress(const char *name)
{
	int port, l = loopback_listener(&port);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((unsigned short)port) };
	char why[256] = "";
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

	if (strcmp(name, "epoll") == 0) {
		/* nginx: epoll_ctl(ADD) before connect(); a replaced socket must
		 * stay in the epoll set */
		int ep = epoll_create1(0), fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		struct epoll_event ev = { .events = EPOLLOUT | EPOLLET, .data.u64 = 4242 }, got;
		epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
		connect(fd, (struct sockaddr *)&a, sizeof(a));
		int n = epoll_wait(ep, &got, 1, 3000);
		if (n != 1 || got.data.u64 != 4242)
			snprintf(why, sizeof(why), "epoll_wait = %d (protocol %d)", n, k_proto(fd));
		else
			printf("protocol %d\n", k_proto(fd));
	} else if (strcmp(name, "badflags") == 0) {
		/* EINVAL for bad type flags is not an MPTCP refusal */
		int bad = socket(AF_INET, SOCK_STREAM | 0x100, 0);
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		if (bad >= 0 || k_proto(fd) != IPPROTO_MPTCP)
			snprintf(why, sizeof(why), "bad=%d, then protocol %d", bad, k_proto(fd));
	} else if (strcmp(name, "rawconnect") == 0) {
		/* connected behind the shim's back: an option must not swap it */
		int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1, t = 5000;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (syscall(SYS_connect, fd, &a, sizeof(a)) < 0)
			die("raw connect");
		setsockopt(fd, SOL_TCP, TCP_USER_TIMEOUT, &t, sizeof(t));
		struct sockaddr_storage peer;
		socklen_t pl = sizeof(peer);
		if (syscall(SYS_getpeername, fd, &peer, &pl) < 0)
			snprintf(why, sizeof(why), "the connected socket was replaced");
	} else if (strcmp(name, "emulated-values") == 0) {
		/* read back as TCP would: IP_TTL -1 reads the default 64 */
		int fd = socket(AF_INET, SOCK_STREAM, 0), v = -1, got = 0;
		socklen_t gl = sizeof(got);
		if (setsockopt(fd, SOL_IP, IP_TTL, &v, sizeof(v)) < 0 ||
		    getsockopt(fd, SOL_IP, IP_TTL, &got, &gl) < 0 || got != 64)
			snprintf(why, sizeof(why), "IP_TTL -1 reads %d", got);
	} else if (strcmp(name, "getsockopt-errno") == 0) {
		int fd = socket(AF_INET, SOCK_STREAM, 0), v;
		socklen_t vl = sizeof(v);
		if (getsockopt(fd, SOL_TCP, 9999, &v, &vl) == 0 || errno != ENOPROTOOPT)
			snprintf(why, sizeof(why), "errno %d, TCP gives %d", errno, ENOPROTOOPT);
	} else if (strcmp(name, "setown") == 0) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		signal(SIGRTMIN + 1, SIG_IGN); /* the signal itself is not under test */
		fcntl(fd, F_SETOWN, getpid());
		fcntl(fd, F_SETSIG, SIGRTMIN + 1);
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_ASYNC);
		connect(fd, (struct sockaddr *)&a, sizeof(a));
		if (fcntl(fd, F_GETOWN) != getpid() || fcntl(fd, F_GETSIG) != SIGRTMIN + 1 ||
		    !(fcntl(fd, F_GETFL) & O_ASYNC))
			snprintf(why, sizeof(why), "owner %d sig %d", fcntl(fd, F_GETOWN),
				 fcntl(fd, F_GETSIG));
		printf("protocol %d\n", k_proto(fd));
	} else if (strcmp(name, "failed-dup2") == 0) {
		/* a dup2 that fails must not make the shim forget the socket */
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		if (dup2(100000, fd) >= 0)
			die("dup2 should fail");
		connect(fd, (struct sockaddr *)&a, sizeof(a));
		printf("protocol %d\n", k_proto(fd));
	} else if (strcmp(name, "predict-uto") == 0) {
		/* after an excluded connect the next socket starts TCP; an
		 * option set to TCP's default must not keep it TCP */
		int c = socket(AF_INET, SOCK_STREAM, 0), zero = 0;
		connect(c, (struct sockaddr *)&a, sizeof(a));
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in me = { .sin_family = AF_INET };
		me.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		setsockopt(fd, SOL_TCP, TCP_USER_TIMEOUT, &zero, sizeof(zero));
		if (bind(fd, (struct sockaddr *)&me, sizeof(me)) < 0 || listen(fd, 4) < 0)
			die("listen");
		printf("protocol %d\n", k_proto(fd));
	} else if (strcmp(name, "fclose-dup") == 0) {
		/* stdio closes through libc internals the shim does not see; the
		 * "shared" mark of that socket must not stick to the next one */
		int fd = socket(AF_INET, SOCK_STREAM, 0), num = fd;
		FILE *f1 = fdopen(fd, "r+"), *f2 = fdopen(dup(fd), "r+");
		if (!f1 || !f2)
			die("fdopen");
		fclose(f1);
		fclose(f2);
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd != num)
			printf("note: fd %d reused as %d\n", num, fd);
		struct sockaddr_in me = { .sin_family = AF_INET };
		me.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (bind(fd, (struct sockaddr *)&me, sizeof(me)) < 0 || listen(fd, 4) < 0)
			die("listen");
		printf("protocol %d\n", k_proto(fd));
	} else if (strcmp(name, "epfd-reuse") == 0) {
		/* the epoll set the socket was in is closed and its number
		 * reused by another set: a replacement must not register the
		 * socket there */
		int ep1 = epoll_create1(0), fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		struct epoll_event ev = { .events = EPOLLOUT, .data.u64 = 0xdeadbeef }, got;
		epoll_ctl(ep1, EPOLL_CTL_ADD, fd, &ev);
		close(ep1);
		int ep2 = epoll_create1(0);
		connect(fd, (struct sockaddr *)&a, sizeof(a));
		int n = epoll_wait(ep2, &got, 1, 300);
		if (n != 0)
			snprintf(why, sizeof(why), "%d event(s) in an unrelated epoll set (%d reused %d)",
				 n, ep2, ep1);
		printf("protocol %d\n", k_proto(fd));
	} else if (strcmp(name, "epoll-exclusive") == 0) {
		/* an EPOLLEXCLUSIVE registration made before connect(): MOD is
		 * refused on it, so it cannot be probed that way; after a
		 * replacement it must still deliver */
		int ep = epoll_create1(0), fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		struct epoll_event ev = { .events = EPOLLOUT | EPOLLEXCLUSIVE, .data.u64 = 77 }, got;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
			die("epoll_ctl EXCLUSIVE");
		connect(fd, (struct sockaddr *)&a, sizeof(a));
		int n = epoll_wait(ep, &got, 1, 3000);
		if (n != 1 || got.data.u64 != 77)
			snprintf(why, sizeof(why), "epoll_wait = %d (protocol %d)", n, k_proto(fd));
		printf("protocol %d\n", k_proto(fd));
	} else if (strcmp(name, "epoll-oneshot-fired") == 0) {
		/* a ONESHOT registration whose event the program already took:
		 * it must not come back armed after connect() */
		int ep = epoll_create1(0), fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		struct epoll_event ev = { .events = EPOLLOUT | EPOLLONESHOT, .data.u64 = 78 }, got;
		epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
		if (epoll_wait(ep, &got, 1, 3000) != 1) /* an unconnected socket is writable */
			die("first event");
		connect(fd, (struct sockaddr *)&a, sizeof(a));
		int n = epoll_wait(ep, &got, 1, 300);
		if (n != 0)
			snprintf(why, sizeof(why), "a disarmed ONESHOT fired again (protocol %d)", k_proto(fd));
		printf("protocol %d\n", k_proto(fd));
	} else if (strcmp(name, "epoll-oneshot-armed") == 0) {
		/* an armed ONESHOT registration: replaced, it fires once */
		int ep = epoll_create1(0), fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		struct epoll_event ev = { .events = EPOLLIN | EPOLLONESHOT, .data.u64 = 79 }, got;
		epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
		connect(fd, (struct sockaddr *)&a, sizeof(a));
		int c = accept(l, NULL, NULL);
		if (c < 0 || write(c, "x", 1) != 1)
			die("accept/write");
		int n1 = epoll_wait(ep, &got, 1, 3000);
		if (write(c, "y", 1) != 1)
			die("write");
		int n2 = epoll_wait(ep, &got, 1, 300);
		if (n1 != 1 || n2 != 0)
			snprintf(why, sizeof(why), "events %d then %d (protocol %d)", n1, n2, k_proto(fd));
		printf("protocol %d\n", k_proto(fd));
	} else if (strcmp(name, "fclose-own-mptcp") == 0) {
		/* all-mode: a shim-made socket closed inside glibc (fclose), the
		 * number then reused by the program's own MPTCP socket: the shim
		 * must not act on it (without the shim: ENOPROTOOPT, MPTCP) */
		int fd = socket(AF_INET, SOCK_STREAM, 0), t = 5000;
		FILE *f = fdopen(fd, "r+");
		if (!f)
			die("fdopen");
		fclose(f);
		int own = socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
		if (own != fd)
			printf("note: fd %d reused as %d\n", fd, own);
		int rc = setsockopt(own, SOL_TCP, TCP_USER_TIMEOUT, &t, sizeof(t));
		if (rc == 0 || (errno != ENOPROTOOPT && errno != EOPNOTSUPP) || k_proto(own) != 262)
			snprintf(why, sizeof(why), "setsockopt = %d errno %d, protocol %d", rc, errno,
				 k_proto(own));
		printf("protocol %d\n", k_proto(own));
	} else if (strcmp(name, "foreign-mptcp") == 0 || strcmp(name, "scm-rights") == 0) {
		/* MPTCP sockets the shim never made (a raw syscall; received over
		 * SCM_RIGHTS into a number the shim remembers for a socket closed
		 * behind its back): refused options get the kernel's answer */
		int fd, ttl = 33, t = 5000;
		if (strcmp(name, "foreign-mptcp") == 0) {
			fd = (int)syscall(SYS_socket, AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
		} else {
			int sv[2], stale = socket(AF_INET, SOCK_STREAM, 0);
			int m = (int)syscall(SYS_socket, AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
			char b = 0, cbuf[CMSG_SPACE(sizeof(int))];
			struct iovec iov = { &b, 1 };
			struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
					     .msg_controllen = sizeof(cbuf) };
			if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0 || m < 0)
				die("socketpair");
			struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(cm), &m, sizeof(int));
			if (sendmsg(sv[0], &mh, 0) != 1)
				die("sendmsg");
			syscall(SYS_close, m);
			syscall(SYS_close, stale); /* behind the shim's back */
			mh.msg_controllen = sizeof(cbuf);
			if (recvmsg(sv[1], &mh, 0) != 1)
				die("recvmsg");
			memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&mh)), sizeof(int));
			if (fd != stale)
				printf("note: received fd %d, stale %d\n", fd, stale);
		}
		int r1 = setsockopt(fd, SOL_IP, IP_TTL, &ttl, sizeof(ttl));
		int e1 = errno;
		int r2 = setsockopt(fd, SOL_TCP, TCP_USER_TIMEOUT, &t, sizeof(t));
		int e2 = errno;
		if (r1 == 0 || r2 == 0 || k_proto(fd) != 262)
			snprintf(why, sizeof(why), "IP_TTL %d (errno %d), TCP_USER_TIMEOUT %d (errno %d), protocol %d",
				 r1, e1, r2, e2, k_proto(fd));
	} else if (strcmp(name, "inherited") == 0) {
		/* an fd inherited across exec (systemd socket activation): the
		 * new process's shim never saw it made */
		const char *arg = getenv("PROBE_INHERITED");
		if (!arg) {
			int fd = (int)syscall(SYS_socket, AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
			char num[16];
			snprintf(num, sizeof(num), "%d", fd);
			setenv("PROBE_INHERITED", num, 1);
			execl("/proc/self/exe", "probe", "regress", "inherited", (char *)NULL);
			die("exec");
		}
		int fd = atoi(arg), ttl = 33;
		int r1 = setsockopt(fd, SOL_IP, IP_TTL, &ttl, sizeof(ttl));
		if (r1 == 0 || k_proto(fd) != 262)
			snprintf(why, sizeof(why), "IP_TTL on an inherited MPTCP socket: %d, protocol %d", r1,
				 k_proto(fd));
	} else if (strcmp(name, "fdlimit") == 0) {
		/* at RLIMIT_NOFILE the shim still answers as TCP would and the
		 * policy still holds (its own sockets need one more fd) */
		struct rlimit rl;
		int t = 5000, ttl = 0;
		socklen_t tl = sizeof(ttl);
		int fd = socket(AF_INET, SOCK_STREAM, 0), fd2 = socket(AF_INET, SOCK_STREAM, 0);
		getrlimit(RLIMIT_NOFILE, &rl);
		rl.rlim_cur = (rlim_t)(fd2 > fd ? fd2 : fd) + 1;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			die("setrlimit");
		if (dup(0) >= 0 || errno != EMFILE)
			die("not at the limit");
		int r1 = setsockopt(fd2, SOL_TCP, TCP_USER_TIMEOUT, &t, sizeof(t));
		int e1 = errno;
		int r2 = getsockopt(fd2, SOL_IP, IP_TTL, &ttl, &tl);
		int e2 = errno;
		connect(fd, (struct sockaddr *)&a, sizeof(a));
		if (r1 != 0 || r2 != 0 || ttl != 64)
			snprintf(why, sizeof(why), "TCP_USER_TIMEOUT %d (errno %d), IP_TTL %d (errno %d) = %d", r1,
				 e1, r2, e2, ttl);
		struct rlimit now;
		getrlimit(RLIMIT_NOFILE, &now);
		if (now.rlim_cur != rl.rlim_cur)
			snprintf(why, sizeof(why), "the limit was left at %llu", (unsigned long long)now.rlim_cur);
		printf("protocol %d\n", k_proto(fd));
	} else if (strcmp(name, "accepted-options") == 0) {
		/* vsftpd sets SO_OOBINLINE on every accepted control connection,
		 * PostgreSQL TCP_USER_TIMEOUT: nothing to step down there */
		int c = socket(AF_INET, SOCK_STREAM, 0), one = 1, t = 7000, v = 0;
		socklen_t vl = sizeof(v);
		connect(c, (struct sockaddr *)&a, sizeof(a));
		int s2 = accept(l, NULL, NULL);
		if (s2 < 0)
			die("accept");
		int r1 = setsockopt(s2, SOL_SOCKET, SO_OOBINLINE, &one, sizeof(one));
		int r2 = getsockopt(s2, SOL_SOCKET, SO_OOBINLINE, &v, &vl);
		int r3 = setsockopt(s2, SOL_TCP, TCP_USER_TIMEOUT, &t, sizeof(t));
		int u = 0;
		vl = sizeof(u);
		int r4 = getsockopt(s2, SOL_TCP, TCP_USER_TIMEOUT, &u, &vl);
		if (r1 || r2 || v != 1 || r3 || r4 || u != 7000)
			snprintf(why, sizeof(why), "SO_OOBINLINE %d/%d=%d TCP_USER_TIMEOUT %d/%d=%d (accepted protocol %d)",
				 r1, r2, v, r3, r4, u, k_proto(s2));
		printf("protocol %d\n", k_proto(s2));
	} else if (strcmp(name, "accepted-dup2") == 0) {
		/* vsftpd moves the accepted socket to fd 0 first: the copy is
		 * still the shim's */
		int c = socket(AF_INET, SOCK_STREAM, 0), one = 1;
		connect(c, (struct sockaddr *)&a, sizeof(a));
		int s2 = accept(l, NULL, NULL);
		if (s2 < 0 || dup2(s2, 50) != 50)
			die("accept/dup2");
		close(s2);
		int r1 = setsockopt(50, SOL_SOCKET, SO_OOBINLINE, &one, sizeof(one));
		if (r1 != 0)
			snprintf(why, sizeof(why), "SO_OOBINLINE on the dup: %d errno %d (protocol %d)", r1,
				 errno, k_proto(50));
		printf("protocol %d\n", k_proto(50));
	} else if (strcmp(name, "defer-accept") == 0) {
		/* TCP_DEFER_ACCEPT on an MPTCP listener: remembered, read back,
		 * not given to the kernel (it breaks MP_JOIN) */
		int fd = socket(AF_INET, SOCK_STREAM, 0), v = 5, got = 0, kgot = -1;
		socklen_t gl = sizeof(got);
		struct sockaddr_in me = { .sin_family = AF_INET };
		me.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (setsockopt(fd, SOL_TCP, TCP_DEFER_ACCEPT, &v, sizeof(v)) < 0 ||
		    bind(fd, (struct sockaddr *)&me, sizeof(me)) < 0 || listen(fd, 4) < 0)
			die("listener");
		getsockopt(fd, SOL_TCP, TCP_DEFER_ACCEPT, &got, &gl);
		gl = sizeof(kgot);
		if (syscall(SYS_getsockopt, fd, SOL_TCP, TCP_DEFER_ACCEPT, &kgot, &gl) < 0 &&
		    errno == EOPNOTSUPP && k_proto(fd) == 262)
			kgot = 0; /* before 5.19 MPTCP has no such option: nothing applied */
		/* what plain TCP reads back (it rounds to retransmissions) */
		int tcp = (int)syscall(SYS_socket, AF_INET, SOCK_STREAM, IPPROTO_TCP), tv = -1;
		syscall(SYS_setsockopt, tcp, SOL_TCP, TCP_DEFER_ACCEPT, &v, sizeof(v));
		gl = sizeof(tv);
		syscall(SYS_getsockopt, tcp, SOL_TCP, TCP_DEFER_ACCEPT, &tv, &gl);
		if (got != tv || (k_proto(fd) == 262 && kgot != 0) || (k_proto(fd) == 6 && kgot != tv))
			snprintf(why, sizeof(why), "program reads %d, kernel has %d (protocol %d)", got, kgot,
				 k_proto(fd));
		printf("protocol %d\n", k_proto(fd));
	} else if (strcmp(name, "count-once") == 0) {
		/* one socket stepped down for TCP_USER_TIMEOUT, one upgraded,
		 * one closed before connecting: counted once each, the last
		 * not at all (stats line at exit) */
		int a1 = socket(AF_INET, SOCK_STREAM, 0), t = 5000;
		setsockopt(a1, SOL_TCP, TCP_USER_TIMEOUT, &t, sizeof(t));
		connect(a1, (struct sockaddr *)&a, sizeof(a));
		int a2 = socket(AF_INET, SOCK_STREAM, 0);
		connect(a2, (struct sockaddr *)&a, sizeof(a));
		close(socket(AF_INET, SOCK_STREAM, 0));
		printf("protocol %d\n", k_proto(a1));
	} else if (strcmp(name, "efault") == 0) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		const struct sockaddr *bad = (const struct sockaddr *)(uintptr_t)8;
		if (connect(fd, bad, sizeof(struct sockaddr_in)) == 0 || errno != EFAULT)
			snprintf(why, sizeof(why), "connect(bad pointer): errno %d", errno);
	} else {
		fprintf(stderr, "probe: unknown regression %s\n", name);
		return 2;
	}
	close(l);
	if (why[0])
		printf("%s FAIL: %s\n", name, why);
	else
		printf("%s ok\n", name);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 3 && strcmp(argv[1], "listen") == 0)
		return cmd_listen(argv[2]);
	if (argc >= 3 && strcmp(argv[1], "connect") == 0)
		return cmd_connect(argv[2]);
	if (argc >= 2 && strcmp(argv[1], "pair") == 0)
		return cmd_pair(argc >= 3 ? atoi(argv[2]) : 1);
	if (argc >= 4 && strcmp(argv[1], "serve") == 0)
		return cmd_serve(argv[2], atoi(argv[3]));
	if (argc >= 4 && strcmp(argv[1], "client") == 0)
		return cmd_client(atoi(argv[2]), atoi(argv[3]));
	if (argc >= 4 && strcmp(argv[1], "state") == 0)
		return cmd_state(argv[2], argv[3]);
	if (argc >= 5 && strcmp(argv[1], "opt") == 0)
		return cmd_opt(argv[2], atoi(argv[3]), argv[4], 0);
	if (argc >= 5 && strcmp(argv[1], "opt6") == 0)
		return cmd_opt(argv[2], atoi(argv[3]), argv[4], 1);
	if (argc >= 4 && strcmp(argv[1], "churn") == 0)
		return cmd_churn(atoi(argv[2]), atoi(argv[3]));
	if (argc >= 2 && strcmp(argv[1], "identity") == 0)
		return cmd_identity();
	if (argc >= 2 && strcmp(argv[1], "errno") == 0)
		return cmd_errno();
	if (argc >= 2 && strcmp(argv[1], "fork") == 0)
		return cmd_fork();
	if (argc >= 3 && strcmp(argv[1], "fd2") == 0)
		return cmd_fd2(argv[2]);
	if (argc >= 3 && strcmp(argv[1], "regress") == 0)
		return cmd_regress(argv[2]);
	fprintf(stderr, "usage: probe listen|connect|pair|serve|client|state|opt|churn|identity|errno|fork ...\n");
	return 2;
}
