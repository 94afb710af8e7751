/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-optsweep.c - every option the shim answers for (class emulate, and
 * class tcp set to TCP's default), in every socket state, both families,
 * every getsockopt buffer length from 0 to 8 and larger: the shim must give
 * what plain TCP gives.
 *
 * The same binary runs the same sequence twice as a child: once without
 * LD_PRELOAD (the reference: plain TCP sockets) and once under the shim in
 * all-mode (every socket MPTCP, checked from the kernel with a raw
 * SO_PROTOCOL and MPTCP_INFO). Every call's return value, errno, returned
 * length and bytes are printed, one line per step, keyed; the parent
 * compares the two transcripts key by key. The shim's run is repeated with
 * the process at its RLIMIT_NOFILE: soft limit = open fds (the shim may
 * raise it for a moment), soft = hard without CAP_SYS_RESOURCE (the shim
 * cannot ask TCP at all and answers from what it knows), and soft = hard
 * as root (the shim may raise both).
 *
 * States: U unconnected, L listening, C connected client, A accepted,
 * B set before connect and read after (client), I set on the listener and
 * read on the accepted socket, D after a request/response exchange (server
 * side R, client side Q).
 *
 * Usage: test-optsweep            (parent; MPTCPIFY_LIB from the environment)
 *        test-optsweep child MODE (one transcript on stdout) */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testlib.h"

#include "mptcpify/optclass.h"

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif
#ifndef SOL_MPTCP
#define SOL_MPTCP 284
#endif
#define MPTCP_INFO_OPT 1

/* ---- the transcript ---------------------------------------------------- */

static const char *fam_tag;  /* "v4" / "v6" */
static const char *st_tag;   /* state letter(s) */
static const char *opt_tag;  /* option name */
static int step;             /* counter within (family, state, option) */

static void key(const char *what)
{
	printf("%s %s %s #%03d %s ::", fam_tag, st_tag, opt_tag, step++, what);
}

static void hex(const unsigned char *b, socklen_t n)
{
	putchar(' ');
	for (socklen_t i = 0; i < n; i++)
		printf("%02x", b[i]);
}

/* The kernel matrix (MPTCPIFY_KERNEL set, qemu without KVM) runs a
 * lighter sweep: fewer lengths and values, no soft-limit run (test-fdlimit
 * covers that path). OPTSWEEP_FULL=1 runs all of it there too. */
static int matrix;

/* Buffer lengths every read is made with. */
static const int all_lens[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 64, -1 };
static const int matrix_lens[] = { 0, 1, 2, 3, 4, 8, 64, -1 };
#define NLENS (matrix ? (int)(sizeof(matrix_lens) / sizeof(int)) : (int)(sizeof(all_lens) / sizeof(int)))
#define get_lens (matrix ? matrix_lens : all_lens)

/* getsockopt with every buffer length, the NULL cases, one line. */
static void do_get(int fd, int level, int name, const char *what)
{
	key(what);
	for (int i = 0; i < NLENS; i++) {
		unsigned char buf[512]; /* a length of -1 is taken as large by some */
		socklen_t l = (socklen_t)get_lens[i];
		memset(buf, 0xa5, sizeof(buf));
		errno = 0;
		int rc = getsockopt(fd, level, name, buf, &l);
		printf(" [%d:", get_lens[i]);
		if (rc < 0)
			printf("E%d", errno);
		else {
			printf("ok l=%u", (unsigned)l);
			hex(buf, l <= sizeof(buf) ? l : sizeof(buf));
			/* nothing written beyond what was reported */
			for (socklen_t j = l; j < sizeof(buf) && (int)j < get_lens[i]; j++)
				if (buf[j] != 0xa5) {
					printf(" overwrite@%u", (unsigned)j);
					break;
				}
		}
		putchar(']');
	}
	/* NULL value with a length, NULL value with length 0, NULL length */
	{
		socklen_t l = 4;
		errno = 0;
		int rc = getsockopt(fd, level, name, NULL, &l);
		printf(" [null4:%s%d l=%u]", rc < 0 ? "E" : "ok", rc < 0 ? errno : 0, (unsigned)l);
		l = 0;
		errno = 0;
		rc = getsockopt(fd, level, name, NULL, &l);
		printf(" [null0:%s%d l=%u]", rc < 0 ? "E" : "ok", rc < 0 ? errno : 0, (unsigned)l);
		unsigned char buf[8];
		errno = 0;
		rc = getsockopt(fd, level, name, buf, NULL);
		printf(" [nolen:%s%d]", rc < 0 ? "E" : "ok", rc < 0 ? errno : 0);
	}
	putchar('\n');
}

static int do_set(int fd, int level, int name, const void *val, socklen_t len, const char *what)
{
	key(what);
	errno = 0;
	int rc = setsockopt(fd, level, name, val, len);
	int err = errno;
	if (rc < 0)
		printf(" E%d\n", err);
	else
		printf(" ok\n");
	return rc;
}

/* ---- evidence from the kernel (raw syscalls: never the shim's word) ---- */

static int raw_protocol(int fd)
{
	int v = -1;
	socklen_t l = sizeof(v);
	if (syscall(SYS_getsockopt, fd, SOL_SOCKET, SO_PROTOCOL, &v, &l) < 0)
		return -errno;
	return v;
}

/* 1 when FD is an MPTCP connection that did not fall back to TCP. */
static int raw_mptcp_ok(int fd)
{
	unsigned char info[256];
	socklen_t l = sizeof(info);
	uint32_t flags;
	if (syscall(SYS_getsockopt, fd, SOL_MPTCP, MPTCP_INFO_OPT, info, &l) < 0) {
		/* before 5.16 there is no getsockopt(SOL_MPTCP): a socket that
		 * fell back hands TCP-level reads to its one subflow, an
		 * MPTCP one of those kernels refuses them (TCP_MAXSEG) */
		int mss;
		socklen_t ml = sizeof(mss);
		if (errno != EOPNOTSUPP)
			return 0;
		return syscall(SYS_getsockopt, fd, SOL_TCP, TCP_MAXSEG, &mss, &ml) < 0 &&
		       errno == EOPNOTSUPP;
	}
	/* mptcpi_flags follows 8 u8 fields and ... at offset 8 in every
	 * version of struct mptcp_info: subflows, add_addr_signal,
	 * add_addr_accepted, subflows_max, add_addr_signal_max,
	 * add_addr_accepted_max (u8 each), then u32 flags at 8 */
	if (l < 12)
		return 0;
	memcpy(&flags, info + 8, sizeof(flags));
	return !(flags & 1); /* MPTCP_INFO_FLAG_FALLBACK */
}

static void note_proto(int fd, const char *who)
{
	printf("#proto %s %s %s %s %d\n", fam_tag, st_tag, opt_tag, who, raw_protocol(fd));
}

static void note_mptcp(int fd, const char *who)
{
	printf("#mptcp %s %s %s %s %s\n", fam_tag, st_tag, opt_tag, who,
	       raw_protocol(fd) == IPPROTO_MPTCP ? (raw_mptcp_ok(fd) ? "ok" : "fallback") : "tcp");
}

/* ---- sockets ----------------------------------------------------------- */

static int family;

static socklen_t loopback(struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;
		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		return sizeof(*a);
	}
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
	a6->sin6_family = AF_INET6;
	a6->sin6_addr = in6addr_loopback;
	return sizeof(*a6);
}

static void die(const char *what)
{
	printf("!fatal %s %s %s: %s: %s\n", fam_tag, st_tag, opt_tag, what, strerror(errno));
	fflush(stdout);
	exit(3);
}

static int new_socket(void)
{
	int fd = socket(family, SOCK_STREAM, 0);
	if (fd < 0)
		die("socket");
	return fd;
}

/* A listening socket on loopback, port chosen by the kernel. */
static int new_listener(struct sockaddr_storage *ss, socklen_t *sl)
{
	int fd = new_socket();
	*sl = loopback(ss);
	if (bind(fd, (struct sockaddr *)ss, *sl) < 0 || listen(fd, 16) < 0)
		die("bind/listen");
	*sl = sizeof(*ss);
	if (getsockname(fd, (struct sockaddr *)ss, sl) < 0)
		die("getsockname");
	return fd;
}

static int wait_fd(int fd, short ev)
{
	struct pollfd p = { fd, ev, 0 };
	return poll(&p, 1, 10000) == 1; /* bounded: a lost connection is a failure */
}

/* Connects C to SS and accepts it on L. Returns the accepted fd or -1
 * (printed: part of the transcript). */
static int connect_accept(int c, int l, const struct sockaddr_storage *ss, socklen_t sl,
			  int send_byte)
{
	if (connect(c, (const struct sockaddr *)ss, sl) < 0) {
		key("connect");
		printf(" E%d\n", errno);
		return -1;
	}
	/* a byte from the client, for listeners that defer accept() */
	if (send_byte && write(c, "x", 1) != 1)
		die("write");
	if (!wait_fd(l, POLLIN)) {
		key("accept");
		printf(" timeout\n");
		return -1;
	}
	int a = accept(l, NULL, NULL);
	if (a < 0)
		die("accept");
	if (send_byte) {
		char b;
		if (!wait_fd(a, POLLIN) || read(a, &b, 1) != 1)
			die("read");
	}
	return a;
}

/* ---- the options and their values -------------------------------------- */

enum kind { K_INT, K_STR, K_KEY };

struct opt {
	const struct opt_info *info;
	enum kind kind;
	int tcp_class;     /* class tcp: only TCP's default value is set */
	int tcp_default;   /* that value (from a raw TCP socket) */
	int have_default;
};

static const int generic_vals[] = { 0, 1, -1, 2, 64, 255, 256, 65536, 100000, INT_MAX, INT_MIN };
static const int matrix_vals[] = { 0, 1, -1, 255, 256, 65536, INT_MAX };

struct extra {
	const char *name;
	int vals[8];
	int n;
};
static const struct extra extras[] = {
	{ "TCP_MAXSEG", { 88, 536, 1400, 32767, 65535 }, 5 },
	{ "TCP_WINDOW_CLAMP", { 1000, 1152, 5000, 131072, 1000000 }, 5 },
	{ "TCP_LINGER2", { 30, 120, 121, 1000, -5 }, 5 },
	{ "TCP_DEFER_ACCEPT", { 3, 5, 100 }, 3 },
	{ "TCP_TX_DELAY", { 10, 1000 }, 2 },
	{ "IP_TTL", { 128, -2 }, 2 },
	{ "IP_MTU_DISCOVER", { 3, 4, 5, 6 }, 4 },
	{ "IP_TOS", { 0x10, 0xb8, 0xff }, 3 },
	{ "IPV6_TCLASS", { 0x10, 0xff, -2 }, 3 },
	{ "IPV6_UNICAST_HOPS", { 128, -2 }, 2 },
	{ "IPV6_MTU_DISCOVER", { 3, 4, 5, 6 }, 4 },
	{ "TCP_NOTSENT_LOWAT", { 16384 }, 1 },
	{ "TCP_FASTOPEN", { 5, 16 }, 2 },
};

static const struct extra *extra_for(const char *name)
{
	for (size_t i = 0; i < sizeof(extras) / sizeof(extras[0]); i++)
		if (strcmp(extras[i].name, name) == 0)
			return &extras[i];
	return NULL;
}

/* Values that would stop a later connect() or data exchange on TCP (a
 * transmit delay of minutes, a listener that defers accept until data a
 * client without the byte never sends...) are only set after them. */
static int safe_before_connect(const struct opt *o, int v)
{
	const char *n = o->info->name;
	if (!strcmp(n, "TCP_TX_DELAY"))
		return v >= 0 && v <= 1000;
	if (!strcmp(n, "TCP_FASTOPEN_CONNECT"))
		return v == 0; /* connect() would return before any SYN */
	if (!strcmp(n, "SO_MAX_PACING_RATE"))
		return v == -1 || v >= 100000;
	if (!strcmp(n, "TCP_DEFER_ACCEPT") || !strcmp(n, "TCP_LINGER2") ||
	    !strcmp(n, "TCP_WINDOW_CLAMP") || !strcmp(n, "IP_TTL") ||
	    !strcmp(n, "IPV6_UNICAST_HOPS"))
		return v != INT_MAX && v != INT_MIN && v != 100000; /* keep it short */
	return v != INT_MIN && v != INT_MAX;
}

static struct opt opts[128];
static int nopts;

/* The options under test, from the shim's own table. */
static void build_opts(void)
{
	int probe = (int)syscall(SYS_socket, AF_INET6, SOCK_STREAM, IPPROTO_TCP);
	for (const struct opt_info *i = optclass_table; i->name; i++) {
		struct opt o = { .info = i };
		if (i->level == SOL_TCP && i->optname == TCP_CONGESTION)
			o.kind = K_STR;
		else if (i->level == SOL_TCP && i->optname == TCP_FASTOPEN_KEY)
			o.kind = K_KEY;
		else
			o.kind = K_INT;
		o.tcp_class = i->dflt == OPT_TCP;
		if (o.tcp_class && o.kind == K_INT && probe >= 0) {
			/* TCP's default, from a plain TCP socket made with a
			 * raw syscall (the same in both runs) */
			int v;
			socklen_t l = sizeof(v);
			if (syscall(SYS_getsockopt, probe, i->level, i->optname, &v, &l) == 0 &&
			    l == sizeof(v)) {
				o.tcp_default = v;
				o.have_default = 1;
			}
		}
		opts[nopts++] = o;
	}
	if (probe >= 0)
		close(probe);
}

/* The int values set on option O (all of them, or only the safe ones). */
static int values_of(const struct opt *o, int *out, int safe_only)
{
	int n = 0;
	if (o->tcp_class) {
		if (o->have_default)
			out[n++] = o->tcp_default;
		return n;
	}
	const int *g = matrix ? matrix_vals : generic_vals;
	size_t ng = matrix ? sizeof(matrix_vals) / sizeof(int) : sizeof(generic_vals) / sizeof(int);
	for (size_t i = 0; i < ng; i++)
		out[n++] = g[i];
	const struct extra *e = extra_for(o->info->name);
	for (int i = 0; e && i < e->n && (!matrix || i < 2); i++)
		out[n++] = e->vals[i];
	if (safe_only) {
		int m = 0;
		for (int i = 0; i < n; i++)
			if (safe_before_connect(o, out[i]))
				out[m++] = out[i];
		n = m;
	}
	return n;
}

/* Unset read, then every value set and read back, then odd set lengths. */
static void sweep_one(int fd, const struct opt *o, int with_sets)
{
	int lvl = o->info->level, nm = o->info->optname;
	char what[96];

	do_get(fd, lvl, nm, "unset");
	if (!with_sets)
		return;
	if (o->kind == K_STR) {
		static const char *names[] = { "reno", "cubic", "bogus", "" };
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			snprintf(what, sizeof(what), "set(\"%s\")", names[i]);
			do_set(fd, lvl, nm, names[i], (socklen_t)strlen(names[i]), what);
			do_get(fd, lvl, nm, "get");
		}
		return;
	}
	if (o->kind == K_KEY) {
		unsigned char k[32];
		for (int i = 0; i < 32; i++)
			k[i] = (unsigned char)(i * 7 + 1);
		static const int klens[] = { 16, 32, 15, 0 };
		for (size_t i = 0; i < sizeof(klens) / sizeof(klens[0]); i++) {
			snprintf(what, sizeof(what), "set(key,len%d)", klens[i]);
			do_set(fd, lvl, nm, k, (socklen_t)klens[i], what);
			do_get(fd, lvl, nm, "get");
		}
		return;
	}
	int vals[32];
	int n = values_of(o, vals, 0);
	for (int i = 0; i < n; i++) {
		snprintf(what, sizeof(what), "set(%d)", vals[i]);
		do_set(fd, lvl, nm, &vals[i], sizeof(int), what);
		do_get(fd, lvl, nm, "get");
	}
	if (o->tcp_class)
		return;
	/* odd lengths: short, one byte (IP-level takes a byte), long, NULL */
	{
		unsigned char b[8] = { 7, 0, 0, 0, 0, 0, 0, 0 };
		do_set(fd, lvl, nm, b, 0, "set(len0)");
		do_get(fd, lvl, nm, "get");
		do_set(fd, lvl, nm, b, 1, "set(7,len1)");
		do_get(fd, lvl, nm, "get");
		if (!matrix) {
			do_set(fd, lvl, nm, b, 2, "set(7,len2)");
			do_get(fd, lvl, nm, "get");
			uint64_t big = (1ULL << 33) | 3;
			do_set(fd, lvl, nm, &big, 8, "set(2^33+3,len8)");
			do_get(fd, lvl, nm, "get");
		}
		uint64_t small = 200000;
		do_set(fd, lvl, nm, &small, 8, "set(200000,len8)");
		do_get(fd, lvl, nm, "get");
		do_set(fd, lvl, nm, NULL, 4, "set(NULL,len4)");
		do_get(fd, lvl, nm, "get");
	}
}

/* ---- the fd limit ------------------------------------------------------ */

enum limit_mode { LIM_NONE, LIM_SOFT, LIM_HARD, LIM_HARDCAP };
static enum limit_mode limit_mode;

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

/* Puts the process at its limit: no fd can be opened. */
static void go_to_limit(void)
{
	int next = dup(0);
	struct rlimit rl;
	if (next < 0)
		die("dup");
	close(next);
	/* every fd below NEXT is open: open fds == NEXT */
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = (rlim_t)next;
	if (limit_mode != LIM_SOFT)
		rl.rlim_max = (rlim_t)next;
	if (limit_mode == LIM_HARD)
		drop_cap_sys_resource();
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		die("setrlimit");
	if (dup(0) >= 0 || errno != EMFILE)
		die("not at the limit");
}

/* Runs FN(ARG) in a child at the limit (when a limit mode is set), which
 * writes its lines to the same stdout; the transcript order is kept. */
static void at_limit(void (*fn)(void *), void *arg)
{
	if (limit_mode == LIM_NONE) {
		fn(arg);
		return;
	}
	fflush(stdout);
	pid_t p = fork();
	if (p < 0)
		die("fork");
	if (p == 0) {
		go_to_limit();
		fn(arg);
		fflush(stdout);
		_exit(0);
	}
	int st;
	if (waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		printf("!fatal %s %s %s: child at the limit died (%d)\n", fam_tag, st_tag, opt_tag, st);
		exit(3);
	}
	/* the shim must have put the limit back, in the child: checked there */
}

/* The sockets of one option's states, made before the limit is reached. */
struct states {
	const struct opt *o;
	int u, l, c, a, rs, rc; /* unconnected, listener, client/accepted, exchanged server/client */
};

static void sweep_state(const char *tag, int fd, const struct opt *o)
{
	st_tag = tag;
	step = 0;
	sweep_one(fd, o, 1);
}

static void states_cb(void *p)
{
	struct states *s = p;
	sweep_state("U", s->u, s->o);
	sweep_state("L", s->l, s->o);
	sweep_state("C", s->c, s->o);
	sweep_state("A", s->a, s->o);
	sweep_state("R", s->rs, s->o);
	sweep_state("Q", s->rc, s->o);
	if (limit_mode != LIM_NONE) {
		/* still at the limit, exactly: the shim put back what it raised */
		int next = dup(0);
		printf("#limit %s %s %s\n", fam_tag, opt_tag,
		       next < 0 && errno == EMFILE ? "kept" : "LOST");
		if (next >= 0)
			close(next);
	}
}

/* U unconnected, L listening, C/A a connected client and the socket its
 * listener accepted, R/Q the server and client of a request/response (TCP
 * enters delayed-ACK "pingpong" mode on the server: TCP_QUICKACK 0). */
static void sweep_states(const struct opt *o)
{
	struct sockaddr_storage ss, ss2;
	socklen_t sl, sl2;
	struct states s = { .o = o };
	char b[8];

	st_tag = "-";
	s.u = new_socket();
	s.l = new_listener(&ss, &sl);
	s.c = new_socket();
	if ((s.a = connect_accept(s.c, s.l, &ss, sl, 0)) < 0)
		die("connect");
	int l2 = new_listener(&ss2, &sl2);
	s.rc = new_socket();
	if ((s.rs = connect_accept(s.rc, l2, &ss2, sl2, 0)) < 0)
		die("connect");
	close(l2);
	if (write(s.rc, "ping", 4) != 4 || !wait_fd(s.rs, POLLIN) || read(s.rs, b, 4) != 4 ||
	    write(s.rs, "pong", 4) != 4 || !wait_fd(s.rc, POLLIN) || read(s.rc, b, 4) != 4)
		die("exchange");
	/* The kernel's pingpong rule depends on the reply coming within the
	 * delayed-ACK timeout of the request: say which case this run was
	 * (from TCP_INFO; the parent reruns when the two runs differ). */
	struct tcp_info ti;
	socklen_t tl = sizeof(ti);
	memset(&ti, 0, sizeof(ti));
	syscall(SYS_getsockopt, s.rs, SOL_TCP, TCP_INFO, &ti, &tl);
	printf("#regime %s %s %s\n", fam_tag, opt_tag,
	       (uint64_t)(ti.tcpi_last_data_recv - ti.tcpi_last_data_sent) * 1000 < ti.tcpi_ato
		       ? "reply-within-ato"
		       : "slow-reply");
	note_proto(s.u, "u");
	note_proto(s.l, "l");
	note_mptcp(s.c, "c");
	note_mptcp(s.a, "a");
	note_mptcp(s.rs, "rs");
	note_mptcp(s.rc, "rc");
	at_limit(states_cb, &s);
	st_tag = "-";
	note_proto(s.u, "u-after");
	note_proto(s.l, "l-after");
	note_mptcp(s.c, "c-after");
	note_mptcp(s.a, "a-after");
	close(s.u);
	close(s.l);
	close(s.c);
	close(s.a);
	close(s.rs);
	close(s.rc);
}

/* Set before connect(), read after: on the client. */
static void state_before_connect(const struct opt *o)
{
	int vals[32], n;
	struct sockaddr_storage ss;
	socklen_t sl;
	char what[64];

	st_tag = "B";
	step = 0;
	if (o->kind != K_INT)
		return;
	n = values_of(o, vals, 1);
	int l = new_listener(&ss, &sl);
	for (int i = 0; i < n; i++) {
		int c = new_socket();
		snprintf(what, sizeof(what), "set(%d)", vals[i]);
		do_set(c, o->info->level, o->info->optname, &vals[i], sizeof(int), what);
		int a = connect_accept(c, l, &ss, sl, 1);
		if (a >= 0) {
			note_mptcp(c, "c");
			do_get(c, o->info->level, o->info->optname, "client-after-connect");
			close(a);
		}
		close(c);
	}
	close(l);
}

/* Set on a listener, read on the socket it accepts (and on the listener). */
static void state_inherited(const struct opt *o)
{
	int vals[32], n;
	char what[64];

	st_tag = "I";
	step = 0;
	if (o->kind != K_INT)
		return;
	n = values_of(o, vals, 1);
	for (int i = 0; i < n; i++) {
		struct sockaddr_storage ss;
		socklen_t sl;
		int l = new_listener(&ss, &sl);
		snprintf(what, sizeof(what), "set-on-listener(%d)", vals[i]);
		do_set(l, o->info->level, o->info->optname, &vals[i], sizeof(int), what);
		int c = new_socket();
		int a = connect_accept(c, l, &ss, sl, 1);
		if (a >= 0) {
			note_mptcp(a, "a");
			do_get(a, o->info->level, o->info->optname, "accepted");
			close(a);
		}
		do_get(l, o->info->level, o->info->optname, "listener");
		close(c);
		close(l);
	}
}

static int child(const char *mode)
{
	if (!strcmp(mode, "soft"))
		limit_mode = LIM_SOFT;
	else if (!strcmp(mode, "hard"))
		limit_mode = LIM_HARD;
	else if (!strcmp(mode, "hardcap"))
		limit_mode = LIM_HARDCAP;
	matrix = getenv("MPTCPIFY_KERNEL") && !getenv("OPTSWEEP_FULL");
	alarm(900); /* every run is bounded */
	signal(SIGPIPE, SIG_IGN);
	build_opts();
	for (int f = 0; f < 2; f++) {
		family = f ? AF_INET6 : AF_INET;
		fam_tag = f ? "v6" : "v4";
		for (int i = 0; i < nopts; i++) {
			opt_tag = opts[i].info->name;
			sweep_states(&opts[i]);
			if (limit_mode == LIM_NONE) {
				/* connect() and accept() need fds of their own */
				state_before_connect(&opts[i]);
				state_inherited(&opts[i]);
			}
		}
	}
	printf("#done\n");
	return 0;
}

/* ---- the parent -------------------------------------------------------- */

struct transcript {
	char *text;
	size_t len;
	char **lines;
	size_t nlines;
};

/* Runs this program as a child in MODE, with the shim or without. */
static int run_child(const char *self, const char *lib, const char *mode, struct transcript *t)
{
	int st, fd = test_run_self(self, lib, mode, "warn", &st);
	if (fd < 0)
		return -1;
	off_t n = lseek(fd, 0, SEEK_END);
	t->text = malloc((size_t)n + 1);
	if (!t->text || pread(fd, t->text, (size_t)n, 0) != n)
		return -1;
	t->text[n] = 0;
	t->len = (size_t)n;
	close(fd);
	t->nlines = 0;
	for (size_t i = 0; i < t->len; i++)
		t->nlines += t->text[i] == '\n';
	t->lines = calloc(t->nlines + 1, sizeof(char *));
	size_t k = 0;
	for (char *s = t->text, *e; *s; s = e + 1) {
		e = strchr(s, '\n');
		if (!e)
			break;
		*e = 0;
		t->lines[k++] = s;
	}
	t->nlines = k;
	return st;
}

static int cmp_key(const void *a, const void *b)
{
	const char *x = *(char *const *)a, *y = *(char *const *)b;
	const char *xe = strstr(x, " ::"), *ye = strstr(y, " ::");
	size_t xl = xe ? (size_t)(xe - x) : strlen(x), yl = ye ? (size_t)(ye - y) : strlen(y);
	int c = memcmp(x, y, xl < yl ? xl : yl);
	return c ? c : (xl > yl) - (xl < yl);
}

static const char *find_line(struct transcript *t, const char *line)
{
	char **hit = bsearch(&line, t->lines, t->nlines, sizeof(char *), cmp_key);
	return hit ? *hit : NULL;
}

/* Prints the fields of two result lines that differ. */
static void print_diff(const char *ref, const char *got)
{
	const char *r = strstr(ref, " ::"), *g = strstr(got, " ::");
	printf("MISMATCH %.*s\n", (int)(r - ref), ref);
	/* field by field ("[len:...]" groups, or the whole result) */
	r += 3;
	g += 3;
	while (*r || *g) {
		const char *re = strchr(r + 1, '['), *ge = strchr(g + 1, '[');
		size_t rl = re ? (size_t)(re - r) : strlen(r), gl = ge ? (size_t)(ge - g) : strlen(g);
		if (rl != gl || memcmp(r, g, rl))
			printf("    tcp %.*s\n   shim %.*s\n", (int)rl, r, (int)gl, g);
		r += rl;
		g += gl;
	}
}

/* The int a result line reports for the largest buffer, or -1. */
static long full_value(const char *line)
{
	const char *p = strstr(line, "[64:ok l=4 ");
	unsigned b[4];
	if (!p || sscanf(p + 11, "%2x%2x%2x%2x", &b[0], &b[1], &b[2], &b[3]) != 4)
		return -1;
	return (long)(b[0] | b[1] << 8 | b[2] << 16 | (unsigned long)b[3] << 24);
}

/* The one value the shim can only approximate: TCP_MAXSEG on a connection
 * depends on the window the peer's TCP would advertise (mss_cache is at
 * most half of it), which an MPTCP peer advertises at its own level. On
 * loopback (MTU 65536) that bound applies; within 1% is accepted and
 * reported, nothing else. */
static int approx_mss(const char *ref, const char *got, long *tv, long *sv)
{
	char st[8];
	if (!strstr(ref, " TCP_MAXSEG ") || sscanf(ref, "%*s %7s", st) != 1 || !strcmp(st, "U") ||
	    !strcmp(st, "L"))
		return 0;
	*tv = full_value(ref);
	*sv = full_value(got);
	if (*tv <= 0 || *sv <= 0)
		return 0;
	long d = *tv > *sv ? *tv - *sv : *sv - *tv;
	if (d == 0 || d * 100 > *tv)
		return 0;
	/* every other difference must be in the bytes only: both answers
	 * succeed with the same length for every buffer */
	const char *r = strstr(ref, " ::") + 3, *g = strstr(got, " ::") + 3;
	while (*r || *g) {
		const char *re = strchr(r + 1, '['), *ge = strchr(g + 1, '[');
		size_t rl = re ? (size_t)(re - r) : strlen(r), gl = ge ? (size_t)(ge - g) : strlen(g);
		if (rl != gl || memcmp(r, g, rl)) {
			const char *rk = strstr(r, ":ok l="), *gk = strstr(g, ":ok l=");
			if (!rk || !gk || rk >= r + rl || gk >= g + gl || rk - r != gk - g || memcmp(r, g, (size_t)(rk - r)) ||
			    atoi(rk + 6) != atoi(gk + 6))
				return 0;
		}
		r += rl;
		g += gl;
	}
	return 1;
}

/* Is R's answer one that TCP computes from the connection (MSS, window
 * clamp, delayed-ACK state), on a kernel that tells nothing about the
 * MPTCP socket's subflows (MPTCP_TCPINFO came in 5.16)? Also TCP_CONGESTION
 * when no TCP socket can be had (soft = hard): names are TCP's to know. */
static int no_subflow_info(const char *r, const char *mode)
{
	static int old = -1;
	if (old < 0)
		old = !test_kernel_at_least(5, 16);
	if (!old)
		return 0;
	if (strstr(r, " TCP_CONGESTION "))
		return strcmp(mode, "hard") == 0;
	return (strstr(r, " TCP_MAXSEG ") || strstr(r, " TCP_WINDOW_CLAMP ") ||
		strstr(r, " TCP_QUICKACK ")) &&
	       (strstr(r, " C ") || strstr(r, " A ") || strstr(r, " R ") || strstr(r, " Q ") ||
		strstr(r, " B ") || strstr(r, " I "));
}

/* Compares the shim's transcript GOT with the reference REF. With FULL,
 * every reference step must be in GOT. Returns the number of problems. */
static int compare(struct transcript *ref, struct transcript *got, const char *mode, int full)
{
	int bad = 0, compared = 0, approx = 0;
	for (size_t i = 0; i < got->nlines; i++) {
		const char *l = got->lines[i];
		if (l[0] == '!') {
			printf("[%s] %s\n", mode, l);
			bad++;
			continue;
		}
		if (!strncmp(l, "#proto ", 7)) {
			const char *v = strrchr(l, ' ');
			if (atoi(v + 1) != IPPROTO_MPTCP) {
				printf("[%s] NOT MPTCP: %s\n", mode, l);
				bad++;
			}
			continue;
		}
		if (!strncmp(l, "#mptcp ", 7)) {
			if (!strstr(l, " ok")) {
				printf("[%s] NOT AN MPTCP CONNECTION: %s\n", mode, l);
				bad++;
			}
			continue;
		}
		if (!strncmp(l, "#limit ", 7)) {
			if (strstr(l, "LOST")) {
				printf("[%s] LIMIT NOT RESTORED: %s\n", mode, l);
				bad++;
			}
			continue;
		}
		if (l[0] == '#')
			continue;
	}
	qsort(got->lines, got->nlines, sizeof(char *), cmp_key);
	for (size_t i = 0; i < ref->nlines; i++) {
		const char *r = ref->lines[i];
		if (r[0] == '#' || r[0] == '!')
			continue;
		const char *g = find_line(got, r);
		if (!g) {
			if (full) {
				printf("[%s] MISSING %s\n", mode, r);
				bad++;
			}
			continue;
		}
		compared++;
		if (strcmp(strstr(r, " ::"), strstr(g, " ::"))) {
			long tv, sv;
			if (no_subflow_info(r, mode)) {
				printf("[%s] APPROX %.*s: no subflow information before 5.16 "
				       "(MPTCP_TCPINFO): TCP's connection-derived value cannot be "
				       "modelled\n",
				       mode, (int)(strstr(r, " ::") - r), r);
				approx++;
				continue;
			}
			if (approx_mss(r, g, &tv, &sv)) {
				printf("[%s] APPROX %.*s: TCP %ld, shim %ld (off by %ld: the half-window "
				       "bound of an MPTCP subflow, see model_mss())\n",
				       mode, (int)(strstr(r, " ::") - r), r, tv, sv, sv - tv);
				approx++;
				continue;
			}
			printf("[%s] ", mode);
			print_diff(r, g);
			bad++;
		}
	}
	printf("optsweep [%s]: %d steps compared, %d problems, %d known approximations\n", mode,
	       compared, bad, approx);
	return bad;
}

static void bring_lo_up(void)
{
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

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int have_cap_sys_resource(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d) < 0)
		return 0;
	return !!(d[CAP_SYS_RESOURCE / 32].effective & (1u << (CAP_SYS_RESOURCE % 32)));
}

/* Same "#regime" lines in both runs? */
static int same_regimes(struct transcript *a, struct transcript *b)
{
	size_t i = 0, j = 0;
	for (;;) {
		while (i < a->nlines && strncmp(a->lines[i], "#regime ", 8))
			i++;
		while (j < b->nlines && strncmp(b->lines[j], "#regime ", 8))
			j++;
		if (i >= a->nlines || j >= b->nlines)
			return (i >= a->nlines) == (j >= b->nlines);
		if (strcmp(a->lines[i], b->lines[j]))
			return 0;
		i++;
		j++;
	}
}

int main(int argc, char **argv)
{
	static const char *modes[] = { "none", "soft", "hard", "hardcap" };
	const char *lib = getenv("MPTCPIFY_LIB");
	char self[4096];
	int bad = 0;

	if (argc >= 3 && !strcmp(argv[1], "child"))
		return child(argv[2]);
	setvbuf(stdout, NULL, _IOLBF, 0);
	matrix = getenv("MPTCPIFY_KERNEL") && !getenv("OPTSWEEP_FULL");
	if (!lib || access(lib, R_OK) < 0) {
		printf("test-optsweep: SKIP: MPTCPIFY_LIB is not set to the shim\n");
		return 77;
	}
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return 1;
	self[n] = 0;
	int m = socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
	if (m < 0) {
		printf("test-optsweep: SKIP: this kernel gives no MPTCP socket (%s)\n", strerror(errno));
		return 77;
	}
	close(m);
	/* a namespace of our own when we may (only loopback is used) */
	if (unshare(CLONE_NEWNET) == 0)
		bring_lo_up();
	const char *only = getenv("OPTSWEEP_MODES"); /* e.g. "none,soft" */
	for (size_t k = 0; k < sizeof(modes) / sizeof(modes[0]); k++) {
		struct transcript ref, got;
		if (only && !strstr(only, modes[k]))
			continue;
		if (!only && matrix && (!strcmp(modes[k], "soft") || !strcmp(modes[k], "hardcap")))
			continue; /* the kernel matrix: none and hard */
		if (!strcmp(modes[k], "hardcap") && !have_cap_sys_resource()) {
			printf("optsweep [hardcap]: not run: no CAP_SYS_RESOURCE here (it would be [hard] again)\n");
			continue;
		}
		double t0 = now_s();
		for (int attempt = 0;; attempt++) {
			int rr = run_child(self, NULL, modes[k], &ref);
			int rg = run_child(self, lib, modes[k], &got);
			if (rr != 0 || rg != 0) {
				printf("[%s] child exit status: reference %d, shim %d\n", modes[k], rr, rg);
				bad++;
			}
			/* the request/response timing decides TCP_QUICKACK: the
			 * two runs must have been in the same case (a run that
			 * stalled is run again, boundedly) */
			if (same_regimes(&ref, &got) || attempt == 4)
				break;
			printf("[%s] the runs differ in reply timing: again\n", modes[k]);
		}
		bad += compare(&ref, &got, modes[k], 1);
		printf("optsweep [%s]: %.1f s (both runs)\n", modes[k], now_s() - t0);
	}
	if (bad) {
		printf("test-optsweep: FAIL: %d problems (lines above: MISMATCH key, then TCP's and the shim's answer)\n", bad);
		return 1;
	}
	printf("test-optsweep: PASS\n");
	return 0;
}
