/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/kernels/guest-options.c: guest test printing, for this kernel, which
 * socket options an MPTCP socket refuses where a TCP socket in the same
 * state accepts them (setsockopt and getsockopt; new, listening, connected
 * and accepted sockets), and whether options the kernel accepts reach the
 * first subflow (inet_diag). Asserts that lib/optclass.c's `since` column
 * is right for this kernel: an option is refused on a new socket before its
 * version and accepted from it (before 5.13, SOL_SOCKET options are
 * accepted by the MPTCP socket and not applied to its subflows). Also the
 * data path: send/recv flags, sendfile and splice. Not run under the shim:
 * what it prints is the kernel's answer. docs/kernels.md holds the tables
 * it printed. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/inet_diag.h>
#include <linux/net_tstamp.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/mptcp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "guest-common.h"
#include "mptcpify/optclass.h"

#ifndef SOL_MPTCP
#define SOL_MPTCP 284
#endif
#ifndef MPTCP_FULL_INFO
#define MPTCP_FULL_INFO 4
#endif
#ifndef TCP_IS_MPTCP
#define TCP_IS_MPTCP 43
#endif
#ifndef IP_LOCAL_PORT_RANGE
#define IP_LOCAL_PORT_RANGE 51
#endif
#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif
#ifndef SO_BUSY_POLL
#define SO_BUSY_POLL 46
#endif
#ifndef SO_INCOMING_CPU
#define SO_INCOMING_CPU 49
#endif

static const char *name = "guest-options";

/* How the value of an option is built. */
enum kind { K_INT, K_STR, K_LINGER, K_TIMEVAL, K_FPROG, K_FD, K_MD5, K_TXTIME, K_BYTES16, K_GETONLY };

struct opt {
	const char *name;
	int level, optname;
	enum kind kind;
	int ival;          /* K_INT value */
	const char *sval;  /* K_STR value */
	int v6;            /* 1: an IPv6 socket */
	const struct opt_info *table; /* lib/optclass.c's row, if any */
};

/* Options not in lib/optclass.c that real programs set or read. */
static struct opt extra[] = {
	{ "SO_KEEPALIVE", SOL_SOCKET, SO_KEEPALIVE, K_INT, 1, NULL, 0, NULL },
	{ "SO_REUSEADDR", SOL_SOCKET, SO_REUSEADDR, K_INT, 1, NULL, 0, NULL },
	{ "SO_REUSEPORT", SOL_SOCKET, SO_REUSEPORT, K_INT, 1, NULL, 0, NULL },
	{ "SO_SNDBUF", SOL_SOCKET, SO_SNDBUF, K_INT, 65536, NULL, 0, NULL },
	{ "SO_RCVBUF", SOL_SOCKET, SO_RCVBUF, K_INT, 65536, NULL, 0, NULL },
	{ "SO_LINGER", SOL_SOCKET, SO_LINGER, K_LINGER, 0, NULL, 0, NULL },
	{ "SO_PRIORITY", SOL_SOCKET, SO_PRIORITY, K_INT, 3, NULL, 0, NULL },
	{ "SO_MARK", SOL_SOCKET, SO_MARK, K_INT, 7, NULL, 0, NULL },
	{ "SO_BINDTODEVICE", SOL_SOCKET, SO_BINDTODEVICE, K_STR, 0, "lo", 0, NULL },
	{ "SO_RCVLOWAT", SOL_SOCKET, SO_RCVLOWAT, K_INT, 1, NULL, 0, NULL },
	{ "SO_RCVTIMEO", SOL_SOCKET, SO_RCVTIMEO, K_TIMEVAL, 0, NULL, 0, NULL },
	{ "SO_SNDTIMEO", SOL_SOCKET, SO_SNDTIMEO, K_TIMEVAL, 0, NULL, 0, NULL },
	{ "SO_TIMESTAMP", SOL_SOCKET, SO_TIMESTAMP, K_INT, 1, NULL, 0, NULL },
	{ "SO_DONTROUTE", SOL_SOCKET, SO_DONTROUTE, K_INT, 1, NULL, 0, NULL },
	{ "SO_INCOMING_CPU", SOL_SOCKET, SO_INCOMING_CPU, K_INT, 0, NULL, 0, NULL },
	{ "SO_BUSY_POLL", SOL_SOCKET, SO_BUSY_POLL, K_INT, 0, NULL, 0, NULL },
	{ "IPV6_V6ONLY", SOL_IPV6, IPV6_V6ONLY, K_INT, 1, NULL, 1, NULL },
	{ "TCP_IS_MPTCP", SOL_TCP, TCP_IS_MPTCP, K_GETONLY, 0, NULL, 0, NULL },
	{ "MPTCP_INFO", SOL_MPTCP, MPTCP_INFO, K_GETONLY, 0, NULL, 0, NULL },
	{ "MPTCP_TCPINFO", SOL_MPTCP, MPTCP_TCPINFO, K_GETONLY, 0, NULL, 0, NULL },
	{ "MPTCP_SUBFLOW_ADDRS", SOL_MPTCP, MPTCP_SUBFLOW_ADDRS, K_GETONLY, 0, NULL, 0, NULL },
	{ "MPTCP_FULL_INFO", SOL_MPTCP, MPTCP_FULL_INFO, K_GETONLY, 0, NULL, 0, NULL },
};

static char congestion[32] = "reno";

/* Support that stable kernels got after their release: on these series an
 * option may be accepted before its `since` (the mainline version), or
 * not, depending on the point release. TCP_KEEP*: mainline 6.10 (commit
 * bd11dc4fb969, "mptcp: fix full TCP keep-alive support"), backported to
 * the stable series; Debian's 6.1.0-57 (6.1.192) has it. */
static const struct {
	const char *name;
	int series; /* major * 1000 + minor */
} backports[] = {
	{ "TCP_KEEPIDLE", 6001 }, { "TCP_KEEPINTVL", 6001 }, { "TCP_KEEPCNT", 6001 },
	{ "TCP_KEEPIDLE", 6006 }, { "TCP_KEEPINTVL", 6006 }, { "TCP_KEEPCNT", 6006 },
};

static int backported(const char *opt, int version)
{
	for (size_t i = 0; i < sizeof(backports) / sizeof(backports[0]); i++)
		if (backports[i].series == version && strcmp(backports[i].name, opt) == 0)
			return 1;
	return 0;
}

/* The value for setsockopt, into BUF; returns its length. */
static socklen_t build_value(const struct opt *o, unsigned char *buf)
{
	static struct sock_filter accept_all[] = { BPF_STMT(BPF_RET | BPF_K, 0xffffffff) };
	static struct sock_filter pick_zero[] = { BPF_STMT(BPF_RET | BPF_K, 0) };

	switch (o->kind) {
	case K_INT:
		memcpy(buf, &o->ival, sizeof(int));
		return sizeof(int);
	case K_STR: {
		const char *s = o->sval;
		if (!s)
			s = congestion; /* TCP_CONGESTION: the default, allowed to anyone */
		memcpy(buf, s, strlen(s));
		return (socklen_t)strlen(s);
	}
	case K_LINGER: {
		struct linger l = { 1, 1 };
		memcpy(buf, &l, sizeof(l));
		return sizeof(l);
	}
	case K_TIMEVAL: {
		struct timeval tv = { 5, 0 };
		memcpy(buf, &tv, sizeof(tv));
		return sizeof(tv);
	}
	case K_FPROG: {
		struct sock_fprog p = { 1, o->optname == SO_ATTACH_FILTER ? accept_all : pick_zero };
		memcpy(buf, &p, sizeof(p));
		return sizeof(p);
	}
	case K_FD: {
		int fd = -1; /* TCP: EBADF; MPTCP refusing first: its own errno */
		memcpy(buf, &fd, sizeof(fd));
		return sizeof(fd);
	}
	case K_MD5: {
		struct tcp_md5sig m;
		struct sockaddr_in *a = (struct sockaddr_in *)&m.tcpm_addr;
		memset(&m, 0, sizeof(m));
		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(0x7f000002);
		m.tcpm_keylen = 4;
		memcpy(m.tcpm_key, "key!", 4);
		memcpy(buf, &m, sizeof(m));
		return sizeof(m);
	}
	case K_TXTIME: {
		struct sock_txtime t = { CLOCK_MONOTONIC, 0 };
		memcpy(buf, &t, sizeof(t));
		return sizeof(t);
	}
	case K_BYTES16:
		memset(buf, 0x5a, 16);
		return 16;
	case K_GETONLY:
		break;
	}
	return 0;
}

/* What the table's option names need beyond an int. */
static void kind_for_table_row(struct opt *o)
{
	static const struct { const char *n; enum kind k; } special[] = {
		{ "TCP_CONGESTION", K_STR }, { "TCP_ULP", K_STR },
		{ "TCP_MD5SIG", K_MD5 }, { "TCP_MD5SIG_EXT", K_MD5 },
		{ "SO_ATTACH_FILTER", K_FPROG }, { "SO_ATTACH_REUSEPORT_CBPF", K_FPROG },
		{ "SO_ATTACH_BPF", K_FD }, { "SO_ATTACH_REUSEPORT_EBPF", K_FD },
		{ "SO_TXTIME", K_TXTIME }, { "TCP_FASTOPEN_KEY", K_BYTES16 },
		{ "TCP_AO_INFO", K_GETONLY }, { "TCP_AO_ADD_KEY", K_BYTES16 },
		{ "TCP_INFO", K_GETONLY }, { "TCP_CC_INFO", K_GETONLY },
		{ "TCP_AO_DEL_KEY", K_BYTES16 }, { "TCP_AO_REPAIR", K_BYTES16 },
		{ "TCP_REPAIR_WINDOW", K_BYTES16 }, { "TCP_REPAIR_OPTIONS", K_BYTES16 },
	};
	o->kind = K_INT;
	o->ival = o->table->probe ? o->table->probe_value : 1;
	for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++)
		if (strcmp(special[i].n, o->name) == 0)
			o->kind = special[i].k;
	if (strcmp(o->name, "TCP_ULP") == 0)
		o->sval = "tls";
	if (strcmp(o->name, "TCP_CONGESTION") == 0)
		o->sval = NULL;
	if (strcmp(o->name, "IP_LOCAL_PORT_RANGE") == 0)
		o->ival = 40000 | (50000 << 16);
	if (strcmp(o->name, "TCP_REPAIR") == 0)
		o->ival = 0; /* TCP_REPAIR_OFF: allowed, and leaves no socket in repair mode */
	if (strcmp(o->name, "TCP_FASTOPEN_CONNECT") == 0 || strcmp(o->name, "TCP_CORK") == 0)
		o->ival = 1;
	o->v6 = o->level == SOL_IPV6;
}

/* ---- sockets in the four states -------------------------------------- */

static int k_setsockopt(int fd, int level, int opt, const void *v, socklen_t l)
{
	return (int)syscall(SYS_setsockopt, fd, level, opt, v, l);
}

static int k_getsockopt(int fd, int level, int opt, void *v, socklen_t *l)
{
	return (int)syscall(SYS_getsockopt, fd, level, opt, v, l);
}

enum state { S_NEW, S_LISTEN, S_CONN, S_ACC, S_N };
static const char *state_name[S_N] = { "new", "listen", "conn", "acc" };

struct sockset {
	int fd[S_N];
	int extra[2]; /* the listener behind CONN/ACC, the peer */
};

static void loopback(int v6, struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		*len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;
		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		*len = sizeof(*a);
	}
}

static int listener(int v6, int proto, struct sockaddr_storage *ss, socklen_t *len)
{
	int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, proto);

	loopback(v6, ss, len);
	if (fd < 0 || bind(fd, (struct sockaddr *)ss, *len) < 0 || listen(fd, 8) < 0 ||
	    getsockname(fd, (struct sockaddr *)ss, len) < 0)
		guest_fail(name, "listener (%s, proto %d): %s", v6 ? "IPv6" : "IPv4", proto,
			   strerror(errno));
	return fd;
}

static void open_set(struct sockset *s, int v6, int proto)
{
	struct sockaddr_storage ss;
	socklen_t len;

	s->fd[S_NEW] = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, proto);
	if (s->fd[S_NEW] < 0)
		guest_fail(name, "socket(proto %d): %s", proto, strerror(errno));
	s->fd[S_LISTEN] = listener(v6, proto, &ss, &len);
	s->extra[0] = listener(v6, proto, &ss, &len);
	s->fd[S_CONN] = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, proto);
	if (s->fd[S_CONN] < 0 || connect(s->fd[S_CONN], (struct sockaddr *)&ss, len) < 0)
		guest_fail(name, "connect (proto %d): %s", proto, strerror(errno));
	s->fd[S_ACC] = accept4(s->extra[0], NULL, NULL, SOCK_CLOEXEC);
	if (s->fd[S_ACC] < 0)
		guest_fail(name, "accept (proto %d): %s", proto, strerror(errno));
	s->extra[1] = -1;
}

static void close_set(struct sockset *s)
{
	for (int i = 0; i < S_N; i++)
		close(s->fd[i]);
	close(s->extra[0]);
}

/* One outcome: 0 or the errno. */
struct outcome {
	int set, get;
};

static void try_opt(const struct opt *o, int fd, struct outcome *out)
{
	unsigned char val[256], back[512];
	socklen_t vlen = build_value(o, val), blen = sizeof(back);

	out->set = 0;
	if (o->kind != K_GETONLY)
		out->set = k_setsockopt(fd, o->level, o->optname, val, vlen) < 0 ? errno : 0;
	if (o->level == SOL_MPTCP && o->optname != MPTCP_INFO) {
		/* struct mptcp_subflow_data header: sizes the kernel checks */
		struct mptcp_subflow_data d = { sizeof(d), 0, 0, sizeof(struct tcp_info) };
		memset(back, 0, sizeof(back));
		if (o->optname == MPTCP_SUBFLOW_ADDRS)
			d.size_user = sizeof(struct mptcp_subflow_addrs);
		/* MPTCP_FULL_INFO: all sizes 0, no arrays: only the mptcp_info */
		if (o->optname != MPTCP_FULL_INFO)
			memcpy(back, &d, sizeof(d));
	}
	if (o->optname == TCP_REPAIR_WINDOW && o->level == SOL_TCP)
		blen = 20; /* struct tcp_repair_window */
	out->get = k_getsockopt(fd, o->level, o->optname, back, &blen) < 0 ? errno : 0;
}

static int is_refusal(int e)
{
	return e == EOPNOTSUPP || e == ENOPROTOOPT || e == 524 /* ENOTSUPP, kernel-internal */;
}

/* Short errno names, so that a row fits: EOPNOTSUPP is OPNOTSUPP... */
static const char *ename(int e)
{
	static char buf[8][16];
	static int n;
	const char *s;

	if (e == 0)
		return "ok";
	if (e == 524)
		return "NOTSUPP"; /* ENOTSUPP: kernel-internal, leaks out of SO_ZEROCOPY */
	s = strerrorname_np(e);
	n = (n + 1) % 8;
	if (s)
		snprintf(buf[n], sizeof(buf[n]), "%s", s + 1);
	else
		snprintf(buf[n], sizeof(buf[n]), "E%d", e);
	return buf[n];
}

/* A cell: "ok" (both work), MPTCP's errno alone (MPTCP refuses what TCP
 * accepts), "=E" (TCP gives the same), "E(tcp:F)" (they differ otherwise). */
static void cell(char *out, size_t n, int m, int t)
{
	if (m == t)
		snprintf(out, n, "%s%s", m ? "=" : "", ename(m));
	else if (t == 0)
		snprintf(out, n, "%s", ename(m));
	else
		snprintf(out, n, "%s(tcp:%s)", ename(m), ename(t));
}

/* ---- the first subflow as inet_diag sees it ---------------------------- */

struct diag {
	int found;
	unsigned mark, tos, ifindex, timer, sndbuf, rcvbuf;
	char cong[32];
};

/* Looks up the TCP socket (an MPTCP subflow or a TCP socket) whose local
 * port is SPORT, IPv4 loopback. */
static int diag_lookup(int sport, struct diag *d)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 r;
	} req;
	char buf[16384];
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	ssize_t n;

	memset(d, 0, sizeof(*d));
	if (fd < 0)
		return -1;
	memset(&req, 0, sizeof(req));
	req.nlh.nlmsg_len = sizeof(req);
	req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.r.sdiag_family = AF_INET;
	req.r.sdiag_protocol = IPPROTO_TCP;
	req.r.idiag_states = ~0u;
	req.r.idiag_ext = (1 << (INET_DIAG_TOS - 1)) | (1 << (INET_DIAG_CONG - 1)) |
			  (1 << (INET_DIAG_SKMEMINFO - 1));
	if (send(fd, &req, sizeof(req), 0) < 0) {
		close(fd);
		return -1;
	}
	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) {
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
		     h = NLMSG_NEXT(h, n)) {
			struct inet_diag_msg *m = NLMSG_DATA(h);
			struct rtattr *a;
			int alen;

			if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) {
				close(fd);
				return d->found ? 0 : -1;
			}
			if (ntohs(m->id.idiag_sport) != sport || m->idiag_state != 1 /* ESTABLISHED */)
				continue;
			d->found = 1;
			d->ifindex = m->id.idiag_if;
			d->timer = m->idiag_timer;
			alen = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*m)));
			for (a = (struct rtattr *)(m + 1); RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
				if (a->rta_type == INET_DIAG_MARK)
					memcpy(&d->mark, RTA_DATA(a), 4);
				else if (a->rta_type == INET_DIAG_TOS)
					d->tos = *(unsigned char *)RTA_DATA(a);
				else if (a->rta_type == INET_DIAG_CONG)
					snprintf(d->cong, sizeof(d->cong), "%s", (char *)RTA_DATA(a));
				else if (a->rta_type == INET_DIAG_SKMEMINFO) {
					uint32_t *mi = RTA_DATA(a);
					d->rcvbuf = mi[SK_MEMINFO_RCVBUF];
					d->sndbuf = mi[SK_MEMINFO_SNDBUF];
				}
			}
		}
	}
	close(fd);
	return d->found ? 0 : -1;
}

/* Sets option O on a new client socket of PROTO before connecting, then
 * reads the first subflow's state. Returns the diag or found = 0. */
static void effect_probe(const struct opt *o, int proto, struct diag *d, int *set_err)
{
	struct sockaddr_storage ss, me;
	socklen_t len, mlen = sizeof(me);
	unsigned char val[256];
	socklen_t vlen = build_value(o, val);
	int lfd = listener(0, proto, &ss, &len);
	int cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, proto), afd;

	memset(d, 0, sizeof(*d));
	*set_err = 0;
	if (o->kind != K_GETONLY)
		*set_err = k_setsockopt(cfd, o->level, o->optname, val, vlen) < 0 ? errno : 0;
	if (connect(cfd, (struct sockaddr *)&ss, len) < 0)
		guest_fail(name, "connect for %s: %s", o->name, strerror(errno));
	afd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (afd < 0 || getsockname(cfd, (struct sockaddr *)&me, &mlen) < 0)
		guest_fail(name, "accept/getsockname for %s: %s", o->name, strerror(errno));
	diag_lookup(ntohs(((struct sockaddr_in *)&me)->sin_port), d);
	close(afd);
	close(cfd);
	close(lfd);
}

static void effects(void)
{
	static const struct {
		struct opt o;
		const char *what;
	} probes[] = {
		{ { "SO_KEEPALIVE", SOL_SOCKET, SO_KEEPALIVE, K_INT, 1, NULL, 0, NULL }, "timer" },
		{ { "SO_MARK", SOL_SOCKET, SO_MARK, K_INT, 7, NULL, 0, NULL }, "mark" },
		{ { "SO_BINDTODEVICE", SOL_SOCKET, SO_BINDTODEVICE, K_STR, 0, "lo", 0, NULL }, "ifindex" },
		{ { "SO_SNDBUF", SOL_SOCKET, SO_SNDBUF, K_INT, 65536, NULL, 0, NULL }, "sndbuf" },
		{ { "SO_RCVBUF", SOL_SOCKET, SO_RCVBUF, K_INT, 65536, NULL, 0, NULL }, "rcvbuf" },
		{ { "IP_TOS", SOL_IP, IP_TOS, K_INT, 0x20, NULL, 0, NULL }, "tos" },
		{ { "TCP_CONGESTION", SOL_TCP, TCP_CONGESTION, K_STR, 0, "reno", 0, NULL }, "cong" },
	};

	printf("\neffect on the first subflow (inet_diag) of an option set before connect;\n"
	       "'-' = the MPTCP socket refused it:\n");
	printf("%-18s %-8s %-22s %-22s %-22s\n", "option", "field", "TCP socket", "MPTCP unset",
	       "MPTCP set");
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		struct opt none = { "SO_DEBUG", SOL_SOCKET, SO_DEBUG, K_GETONLY, 0, NULL, 0, NULL };
		struct diag d[3];
		int err[3];
		char col[3][40];

		effect_probe(&probes[i].o, IPPROTO_TCP, &d[0], &err[0]);
		effect_probe(&none, IPPROTO_MPTCP, &d[1], &err[1]);
		effect_probe(&probes[i].o, IPPROTO_MPTCP, &d[2], &err[2]);
		for (int j = 0; j < 3; j++) {
			const char *f = probes[i].what;
			if (!d[j].found)
				snprintf(col[j], sizeof(col[j]), "(no subflow found)");
			else if (j != 1 && err[j])
				snprintf(col[j], sizeof(col[j]), "- (%s)", ename(err[j]));
			else if (!strcmp(f, "timer"))
				snprintf(col[j], sizeof(col[j]), "timer %u%s", d[j].timer,
					 d[j].timer == 2 ? " (keepalive)" : "");
			else if (!strcmp(f, "mark"))
				snprintf(col[j], sizeof(col[j]), "mark %u", d[j].mark);
			else if (!strcmp(f, "ifindex"))
				snprintf(col[j], sizeof(col[j]), "bound if %u", d[j].ifindex);
			else if (!strcmp(f, "sndbuf"))
				snprintf(col[j], sizeof(col[j]), "sndbuf %u", d[j].sndbuf);
			else if (!strcmp(f, "rcvbuf"))
				snprintf(col[j], sizeof(col[j]), "rcvbuf %u", d[j].rcvbuf);
			else if (!strcmp(f, "tos"))
				snprintf(col[j], sizeof(col[j]), "tos 0x%02x", d[j].tos);
			else
				snprintf(col[j], sizeof(col[j]), "cong %s", d[j].cong);
		}
		printf("%-18s %-8s %-22s %-22s %-22s\n", probes[i].o.name, probes[i].what, col[0],
		       col[1], col[2]);
	}
}

/* ---- the data path: send and recv flags, sendfile, splice --------------- */

/* A connected pair of PROTO over IPv4 loopback: *c the client, *a the
 * accepted socket, with 10 bytes waiting on *a. */
static void pair(int proto, int *c, int *a)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int lfd = listener(0, proto, &ss, &len);

	*c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, proto);
	if (*c < 0 || connect(*c, (struct sockaddr *)&ss, len) < 0)
		guest_fail(name, "connect (proto %d): %s", proto, strerror(errno));
	*a = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (*a < 0 || send(*c, "0123456789", 10, 0) != 10)
		guest_fail(name, "accept/send (proto %d): %s", proto, strerror(errno));
	close(lfd);
	{
		struct pollfd p = { *a, POLLIN, 0 };
		poll(&p, 1, 5000);
	}
}

enum dp { DP_SEND, DP_RECV, DP_SENDFILE, DP_SPLICE };

/* One data-path call on a fresh pair; 0 or the errno. */
static int data_call(int proto, enum dp what, int flags)
{
	char buf[64], path[] = "/tmp/guest-options.XXXXXX";
	int c, a, err = 0, one = 1;
	ssize_t r = 0;

	pair(proto, &c, &a);
	if (flags & MSG_ZEROCOPY)
		setsockopt(c, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one));
	if (what == DP_SEND) {
		r = send(c, "x", 1, flags | MSG_DONTWAIT);
	} else if (what == DP_RECV) {
		r = recv(a, buf, sizeof(buf), flags | MSG_DONTWAIT);
	} else if (what == DP_SENDFILE) {
		/* several pages: splice marks all but the last one "more to
		 * come" (MSG_SENDPAGE_NOTLAST), which 5.10 refuses */
		static char big[32768];
		int f = mkstemp(path);
		if (f < 0 || write(f, big, sizeof(big)) != (ssize_t)sizeof(big))
			guest_fail(name, "temporary file: %s", strerror(errno));
		unlink(path);
		r = sendfile(c, f, &(off_t){ 0 }, sizeof(big));
		close(f);
	} else {
		static char big[32768];
		int pp[2];
		if (pipe(pp) < 0 || write(pp[1], big, sizeof(big)) != (ssize_t)sizeof(big))
			guest_fail(name, "pipe: %s", strerror(errno));
		r = splice(pp[0], NULL, c, NULL, sizeof(big), 0);
		close(pp[0]);
		close(pp[1]);
	}
	if (r < 0)
		err = errno;
	close(c);
	close(a);
	return err;
}

/* shutdown(SHUT_RDWR) of a listener while another thread waits in
 * accept(): TCP wakes the waiter with EINVAL (programs stop their accept
 * threads so). */
struct acc_wait {
	int fd;
	atomic_int done, err;
};

static void *acc_waiter(void *p)
{
	struct acc_wait *w = p;
	int s = accept(w->fd, NULL, NULL);

	atomic_store(&w->err, s < 0 ? errno : 0);
	atomic_store(&w->done, 1);
	if (s >= 0)
		close(s);
	return NULL;
}

/* "EINVAL" and so on: what the waiting accept() returned, "still blocked"
 * when it did not return within 5 s. */
static const char *shutdown_wakes_accept(int proto, char *out, size_t n)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct acc_wait w = { .fd = listener(0, proto, &ss, &len) };
	struct timespec pause = { 0, 200 * 1000 * 1000 };
	pthread_t t;
	int i;

	pthread_create(&t, NULL, acc_waiter, &w);
	nanosleep(&pause, NULL);
	shutdown(w.fd, SHUT_RDWR);
	for (i = 0; i < 50 && !atomic_load(&w.done); i++)
		nanosleep(&(struct timespec){ 0, 100 * 1000 * 1000 }, NULL);
	if (!atomic_load(&w.done)) {
		/* one connection wakes it (no pthread_cancel: it needs
		 * libgcc_s, which a guest may not have) */
		int c = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
		if (c < 0 || connect(c, (struct sockaddr *)&ss, len) < 0)
			guest_fail(name, "cannot wake the blocked accept(): %s", strerror(errno));
		pthread_join(t, NULL);
		close(c);
		snprintf(out, n, "still blocked after 5 s");
		close(w.fd);
		return out;
	} else {
		snprintf(out, n, "accept() returns %s", ename(atomic_load(&w.err)));
	}
	pthread_join(t, NULL);
	close(w.fd);
	return out;
}

static void data_path(void)
{
	static const struct {
		const char *what;
		enum dp dp;
		int flags;
	} calls[] = {
		{ "send()", DP_SEND, 0 },
		{ "send(MSG_MORE)", DP_SEND, MSG_MORE },
		{ "send(MSG_NOSIGNAL)", DP_SEND, MSG_NOSIGNAL },
		{ "send(MSG_OOB)", DP_SEND, MSG_OOB },
		{ "send(MSG_EOR)", DP_SEND, MSG_EOR },
		{ "send(MSG_ZEROCOPY)", DP_SEND, MSG_ZEROCOPY },
		{ "recv()", DP_RECV, 0 },
		{ "recv(MSG_PEEK)", DP_RECV, MSG_PEEK },
		{ "recv(MSG_TRUNC)", DP_RECV, MSG_TRUNC },
		{ "recv(MSG_WAITALL)", DP_RECV, MSG_WAITALL },
		{ "recv(MSG_OOB)", DP_RECV, MSG_OOB },
		{ "recv(MSG_ERRQUEUE)", DP_RECV, MSG_ERRQUEUE },
		{ "sendfile() 32 KiB", DP_SENDFILE, 0 },
		{ "splice() 32 KiB", DP_SPLICE, 0 },
	};

	printf("\nthe data path on a connected socket (cells as above):\n");
	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		char c[48];
		int m = data_call(IPPROTO_MPTCP, calls[i].dp, calls[i].flags);
		int t = data_call(IPPROTO_TCP, calls[i].dp, calls[i].flags);

		cell(c, sizeof(c), m, t);
		printf("%-26s %s\n", calls[i].what, c);
	}
	{
		char m[48], t[48];
		printf("%-26s MPTCP: %s; TCP: %s\n", "shutdown() of a listener", shutdown_wakes_accept(IPPROTO_MPTCP, m, sizeof(m)),
		       shutdown_wakes_accept(IPPROTO_TCP, t, sizeof(t)));
	}
}

/* ---- main ------------------------------------------------------------- */

int main(void)
{
	struct opt all[160];
	size_t n = 0;
	struct utsname u;
	int version, bad = 0;
	FILE *f;

	uname(&u);
	version = kernel_version_code(u.release);
	if (version == 0)
		guest_skip(name, "cannot parse kernel release %s", u.release);
	f = fopen("/proc/sys/net/ipv4/tcp_congestion_control", "r");
	if (f) {
		if (fgets(congestion, sizeof(congestion), f))
			congestion[strcspn(congestion, "\n")] = '\0';
		fclose(f);
	}
	{
		int fd = socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
		if (fd < 0)
			guest_fail(name, "socket(IPPROTO_MPTCP): %s", strerror(errno));
		close(fd);
	}
	for (const struct opt_info *t = optclass_table; t->name; t++) {
		all[n] = (struct opt){ t->name, t->level, t->optname, K_INT, 1, NULL, 0, t };
		kind_for_table_row(&all[n]);
		n++;
	}
	for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++)
		all[n++] = extra[i];

	printf("%s: kernel %s: what an MPTCP socket answers to setsockopt,getsockopt\n", name,
	       u.release);
	printf("cells: ok = works; E = MPTCP fails with errno E where TCP works; =E = TCP fails\n"
	       "alike; E(tcp:F) = TCP fails differently; - = not tried. States: new (before\n"
	       "bind), listen, conn (connected client), acc (accepted). Last column:\n"
	       "lib/optclass.c's since and class, and whether this kernel agrees.\n");
	printf("%-24s %-22s %-22s %-22s %-22s %s\n", "option", "new", "listen", "conn",
	       "acc", "table");
	for (size_t i = 0; i < n; i++) {
		struct sockset m, t;
		struct outcome om[S_N], ot[S_N];
		char line[S_N][112];
		char verdict[96] = "";

		open_set(&m, all[i].v6, IPPROTO_MPTCP);
		open_set(&t, all[i].v6, IPPROTO_TCP);
		for (int s = 0; s < S_N; s++) {
			char a[48], b[48];
			try_opt(&all[i], m.fd[s], &om[s]);
			try_opt(&all[i], t.fd[s], &ot[s]);
			cell(a, sizeof(a), om[s].set, ot[s].set);
			cell(b, sizeof(b), om[s].get, ot[s].get);
			if (all[i].kind == K_GETONLY)
				snprintf(line[s], sizeof(line[s]), "-,%s", b);
			else
				snprintf(line[s], sizeof(line[s]), "%s,%s", a, b);
		}
		close_set(&m);
		close_set(&t);

		if (all[i].table) {
			/* The row's claim, on a new socket (a listener for the
			 * listener options): refused before `since`, accepted
			 * from it. Only where TCP accepts the value. */
			const struct opt_info *ti = all[i].table;
			int listen_opt = all[i].optname == TCP_DEFER_ACCEPT || all[i].optname == TCP_FASTOPEN;
			enum state s = listen_opt && all[i].level == SOL_TCP ? S_LISTEN : S_NEW;
			int getonly = all[i].kind == K_GETONLY;
			int tcp_err = getonly ? ot[s].get : ot[s].set;
			int mp_err = getonly ? om[s].get : om[s].set;
			int since = ti->since ? (ti->since / 100) * 1000 + ti->since % 100 : 0;
			int expect_ok = since && version >= since;
			const char *cls = optclass_name(ti->dflt);
			char sv[16];

			snprintf(sv, sizeof(sv), ti->since ? "%d.%d" : "never", ti->since / 100,
				 ti->since % 100);
			if (tcp_err != 0 && is_refusal(tcp_err))
				snprintf(verdict, sizeof(verdict), "%s %s: n/a (unknown to this kernel)", sv, cls);
			else if (tcp_err != 0 && mp_err == tcp_err)
				snprintf(verdict, sizeof(verdict), "%s %s: n/a (TCP refuses the value too)", sv, cls);
			else if (expect_ok && mp_err == 0)
				snprintf(verdict, sizeof(verdict), "%s %s: ok (accepted)", sv, cls);
			else if (!expect_ok && mp_err == 0 && backported(all[i].name, version))
				snprintf(verdict, sizeof(verdict), "%s %s: ok (accepted: stable backport)", sv, cls);
			else if (!expect_ok && mp_err == 0 && ti->level == SOL_SOCKET && version < 5013)
				/* Before 5.13 every SOL_SOCKET option goes to the MPTCP
				 * socket's own struct sock (sock_setsockopt), which the
				 * subflows never read: accepted, and not applied. */
				snprintf(verdict, sizeof(verdict), "%s %s: ok (accepted, not applied: before 5.13)", sv, cls);
			else if (!expect_ok && is_refusal(mp_err))
				snprintf(verdict, sizeof(verdict), "%s %s: ok (refused)", sv, cls);
			else {
				snprintf(verdict, sizeof(verdict), "%s %s: WRONG (%s on %s socket)", sv, cls,
					 ename(mp_err), state_name[s]);
				bad++;
			}
		}
		printf("%-24s %-22s %-22s %-22s %-22s %s\n", all[i].name, line[S_NEW], line[S_LISTEN],
		       line[S_CONN], line[S_ACC], verdict);
	}
	effects();
	data_path();
	if (bad)
		guest_fail(name, "%d rows of lib/optclass.c have a wrong `since` for %s", bad, u.release);
	printf("%s: every `since` of lib/optclass.c holds on %s\n", name, u.release);
	return 0;
}
