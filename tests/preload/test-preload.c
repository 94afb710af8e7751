/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-preload.c - libmptcpify.so under real programs, judged by the kernel.
 *
 * The test runs in a network namespace of its own (so nstat counters are
 * ours alone and connections to 10.x never leave the machine: the namespace
 * has only its loopback device). It starts `probe` (probe.c) under the shim
 * with various MPTCPIFY_* settings and reads what probe reports from raw
 * syscalls: SO_PROTOCOL, MPTCP_INFO, option values, fd flags.
 *
 * Environment: MPTCPIFY_LIB (the shim), PROBE, CHAINSHIM, EARLYCTOR. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

#include "mptcpify/optclass.h"

static const char *lib, *probe;

/* ---- running the probe ---- */
struct run {
	char out[65536];
	char err[16384];
	int status;
};

/* Runs PROBE ARGS... under the shim. ADDRS NULL leaves MPTCPIFY_ADDRS unset;
 * ENV is an extra "K=V" (or NULL); PRELOAD overrides LD_PRELOAD. */
static void run_exe(struct run *r, const char *exe, const char *addrs, const char *env,
		    const char *preload, const char *const *args)
{
	char outf[] = "/tmp/mptcpify-test-out-XXXXXX", errf[] = "/tmp/mptcpify-test-err-XXXXXX";
	int of = mkstemp(outf), ef = mkstemp(errf);
	pid_t pid;

	ck_assert_int_ge(of, 0);
	ck_assert_int_ge(ef, 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char *argv[16];
		int n = 0;
		argv[n++] = (char *)exe;
		for (int i = 0; args[i] && n < 15; i++)
			argv[n++] = (char *)args[i];
		argv[n] = NULL;
		dup2(of, 1);
		dup2(ef, 2);
		unsetenv("MPTCPIFY_ADDRS");
		unsetenv("MPTCPIFY_OPTIONS");
		unsetenv("MPTCPIFY_STRATEGY");
		setenv("MPTCPIFY_LOG", "warn", 1);
		if (addrs)
			setenv("MPTCPIFY_ADDRS", addrs, 1);
		if (env)
			putenv((char *)env);
		setenv("LD_PRELOAD", preload ? preload : lib, 1);
		alarm(120); /* every run is bounded */
		execv(exe, argv);
		_exit(127);
	}
	ck_assert_int_eq(waitpid(pid, &r->status, 0), pid);
	ssize_t n = pread(of, r->out, sizeof(r->out) - 1, 0);
	r->out[n > 0 ? n : 0] = 0;
	n = pread(ef, r->err, sizeof(r->err) - 1, 0);
	r->err[n > 0 ? n : 0] = 0;
	close(of);
	close(ef);
	unlink(outf);
	unlink(errf);
	if (!WIFEXITED(r->status) || WEXITSTATUS(r->status) != 0)
		ck_abort_msg("probe %s failed (status %d): %s %s", args[0], r->status, r->out, r->err);
}

static void run_probe(struct run *r, const char *addrs, const char *env, const char *preload,
		      const char *const *args)
{
	run_exe(r, probe, addrs, env, preload, args);
}

/* Value after "KEY " in the probe's output, or -9999. */
static int field(const char *out, const char *key)
{
	char pat[64];
	const char *p;
	snprintf(pat, sizeof(pat), "%s ", key);
	p = strstr(out, pat);
	return p ? atoi(p + strlen(pat)) : -9999;
}

static int count_lines(const char *s, const char *needle)
{
	int n = 0;
	for (const char *p = s; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static int proto_listen(const char *addrs, const char *addr)
{
	struct run r;
	const char *args[] = { "listen", addr, NULL };
	run_probe(&r, addrs, NULL, NULL, args);
	return field(r.out, "proto");
}

static int proto_connect(const char *addrs, const char *addr)
{
	struct run r;
	const char *args[] = { "connect", addr, NULL };
	run_probe(&r, addrs, NULL, NULL, args);
	return field(r.out, "proto");
}

/* MPTcpExt counter NAME in this namespace, from /proc/net/netstat. */
static long mptcp_counter(const char *name)
{
	static char buf[65536];
	FILE *f = fopen("/proc/net/netstat", "r");
	size_t n;
	char *hdr, *val;

	ck_assert_ptr_nonnull(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	hdr = strstr(buf, "MPTcpExt: ");
	ck_assert_ptr_nonnull(hdr);
	val = strstr(hdr + 1, "MPTcpExt: ");
	ck_assert_ptr_nonnull(val);
	/* walk the two lines in step */
	char *h = hdr + 10, *v = val + 10;
	while (*h && *h != '\n') {
		size_t hl = strcspn(h, " \n"), vl = strcspn(v, " \n");
		if (hl == strlen(name) && strncmp(h, name, hl) == 0)
			return atol(v);
		h += hl + (h[hl] == ' ');
		v += vl + (v[vl] == ' ');
	}
	ck_abort_msg("no counter %s", name);
	return -1;
}

/* ---- MPTCPIFY_ADDRS examples of the foundation issue ---- */
START_TEST(policy_example_listen_connect)
{
	const char *p = "listen@:443, connect@10.0.0.0/8";
	ck_assert_int_eq(proto_listen(p, "0.0.0.0:443"), 262);
	ck_assert_int_eq(proto_listen(p, "[::]:443"), 262);
	ck_assert_int_eq(proto_connect(p, "10.1.2.3:80"), 262);
	ck_assert_int_eq(proto_connect(p, "192.0.2.1:80"), 6);
	ck_assert_int_eq(proto_listen(p, "10.1.2.3:80"), 6);
}
END_TEST

START_TEST(policy_example_not_loopback)
{
	const char *p = "!127.0.0.0/8, !::1, *";
	ck_assert_int_eq(proto_connect(p, "127.0.0.1:9"), 6);
	ck_assert_int_eq(proto_connect(p, "[::1]:9"), 6);
	ck_assert_int_eq(proto_connect(p, "[::ffff:127.0.0.1]:9"), 6);
	ck_assert_int_eq(proto_connect(p, "10.9.9.9:9"), 262);
	ck_assert_int_eq(proto_listen(p, "0.0.0.0:0"), 262);
	ck_assert_int_eq(proto_listen(p, "127.0.0.1:0"), 6);
}
END_TEST

START_TEST(policy_example_families)
{
	ck_assert_int_eq(proto_listen("0.0.0.0/0", "0.0.0.0:80"), 262);
	ck_assert_int_eq(proto_connect("0.0.0.0/0", "10.200.0.1:80"), 262);
	ck_assert_int_eq(proto_listen("0.0.0.0/0", "[::]:80"), 6);
	ck_assert_int_eq(proto_listen(":80", "0.0.0.0:80"), 262);
	ck_assert_int_eq(proto_listen(":80", "[::]:80"), 262);
}
END_TEST

START_TEST(policy_example_order)
{
	ck_assert_int_eq(proto_connect("!10.1.0.0/16, 10.0.0.0/8", "10.2.0.1:1"), 262);
	ck_assert_int_eq(proto_connect("!10.1.0.0/16, 10.0.0.0/8", "10.1.2.3:1"), 6);
	ck_assert_int_eq(proto_connect("10.0.0.0/8, !10.1.0.0/16", "10.2.0.1:1"), 262);
	ck_assert_int_eq(proto_connect("10.0.0.0/8, !10.1.0.0/16", "10.1.2.3:1"), 262);
}
END_TEST

START_TEST(policy_unset_empty_invalid)
{
	struct run r;
	const char *args[] = { "pair", "1", NULL };
	ck_assert_int_eq(proto_connect(NULL, "10.9.9.9:9"), 262);
	ck_assert_int_eq(proto_listen(NULL, "0.0.0.0:0"), 262);
	ck_assert_int_eq(proto_connect("", "10.9.9.9:9"), 6);
	ck_assert_int_eq(proto_listen("", "0.0.0.0:0"), 6);
	/* invalid: reported once, then the program runs as plain TCP */
	run_probe(&r, "*, 10.0.0.0/33", NULL, NULL, args);
	ck_assert_int_eq(field(r.out, "client"), 6);
	ck_assert_int_eq(field(r.out, "server"), 6);
	ck_assert_int_eq(count_lines(r.err, "rule 2 \"10.0.0.0/33\": prefix length 33 exceeds 32"), 1);
}
END_TEST

START_TEST(policy_listener_port_zero)
{
	/* the decision sees the port the kernel picked */
	struct run r;
	const char *args[] = { "listen", "127.0.0.1:0", NULL };
	run_probe(&r, "listen@127.0.0.1:1024-65535", NULL, NULL, args);
	ck_assert_int_eq(field(r.out, "proto"), 262);
	ck_assert_int_gt(field(r.out, "port"), 0);
}
END_TEST

/* ---- the kernel's counters: exactly the upgraded connections ---- */
START_TEST(counters_exact)
{
	struct run r;
	const char *args[] = { "pair", "5", NULL };
	long before = mptcp_counter("MPCapableSYNRX");

	run_probe(&r, "listen@127.0.0.1, connect@127.0.0.1", NULL, NULL, args);
	ck_assert_int_eq(count_lines(r.out, "client 262 server 262"), 5);
	ck_assert_int_eq(mptcp_counter("MPCapableSYNRX") - before, 5);
	/* excluded connections (listener still MPTCP): not a single MP_CAPABLE SYN */
	before = mptcp_counter("MPCapableSYNRX");
	run_probe(&r, "listen@127.0.0.1, !connect@127.0.0.1", NULL, NULL, args);
	ck_assert_int_eq(count_lines(r.out, "client 6 server 6"), 5);
	ck_assert_int_eq(field(r.out, "listener"), 262);
	ck_assert_int_eq(mptcp_counter("MPCapableSYNRX") - before, 0);
}
END_TEST

/* Two shimmed processes: an established MPTCP connection, no fallback. */
START_TEST(mptcp_info_two_processes)
{
	char portfile[] = "/tmp/mptcpify-port-XXXXXX";
	int fd = mkstemp(portfile), port = 0;
	struct run r;
	pid_t server;

	ck_assert_int_ge(fd, 0);
	close(fd);
	unlink(portfile);
	server = fork();
	if (server == 0) {
		struct run sr;
		const char *args[] = { "serve", portfile, "3", NULL };
		run_probe(&sr, NULL, NULL, NULL, args);
		_exit(count_lines(sr.out, "proto 262 fallback 0") == 3 ? 0 : 1);
	}
	for (int i = 0; i < 500 && port <= 0; i++) {
		FILE *f = fopen(portfile, "r");
		if (f) {
			if (fscanf(f, "%d", &port) != 1)
				port = 0;
			fclose(f);
		}
		if (port <= 0)
			usleep(10000);
	}
	ck_assert_int_gt(port, 0);
	char ps[16];
	snprintf(ps, sizeof(ps), "%d", port);
	const char *args[] = { "client", ps, "3", NULL };
	run_probe(&r, NULL, NULL, NULL, args);
	ck_assert_int_eq(count_lines(r.out, "proto 262 fallback 0"), 3);
	int st;
	ck_assert_int_eq(waitpid(server, &st, 0), server);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "server side saw fallback or TCP");
	unlink(portfile);
}
END_TEST

/* ---- state: a replaced socket is indistinguishable ---- */
static void compare_state(const char *fam, const char *mode, const char *addrs, const char *env,
			  int want_proto)
{
	struct run plain, shim;
	const char *args[] = { "state", fam, mode, NULL };
	/* "plain": the same probe with no shim at all */
	run_probe(&plain, NULL, NULL, "", args);
	run_probe(&shim, addrs, env, NULL, args);
	ck_assert_int_eq(field(plain.out, "protocol"), 6);
	ck_assert_int_eq(field(shim.out, "protocol"), want_proto);
	/* everything but the protocol line must be identical */
	char *pa = strstr(plain.out, "protocol"), *sa = strstr(shim.out, "protocol");
	ck_assert_ptr_nonnull(pa);
	ck_assert_ptr_nonnull(sa);
	*pa = *sa = 0;
	ck_assert_msg(strcmp(plain.out, shim.out) == 0, "state differs (%s %s %s):\n--- plain\n%s--- shim\n%s",
		      fam, mode, addrs, plain.out, shim.out);
	if (strcmp(mode, "listen") == 0)
		ck_assert_int_eq(field(shim.out, "port_kept"), 1);
}

START_TEST(state_step_down)
{
	/* MPTCP first, the policy says TCP: replaced by a TCP socket */
	compare_state("4", "listen", "!*", "MPTCPIFY_STRATEGY=mptcp-first", 6);
	compare_state("6", "listen", "!*", "MPTCPIFY_STRATEGY=mptcp-first", 6);
	compare_state("4", "connect", "!*", "MPTCPIFY_STRATEGY=mptcp-first", 6);
	compare_state("6", "connect", "!*", "MPTCPIFY_STRATEGY=mptcp-first", 6);
	/* the default (predict) starts MPTCP too, and steps down the same */
	compare_state("4", "connect", "!*", NULL, 6);
}
END_TEST

/* The protocol an upgraded `probe state` socket ends with: MPTCP, unless
 * this kernel's MPTCP sockets refuse one of the class-tcp options the probe
 * set (Linux 5.10 refuses every TCP- and IP-level option): replaying it
 * fails, and the socket rightly stays TCP. Asked of the kernel directly. */
static int upgraded_proto(int six)
{
	static const struct { int level4, level6, opt4, opt6, val; } tcp_class[] = {
		{ SOL_IP, SOL_IPV6, IP_FREEBIND, IPV6_FREEBIND, 1 },
		{ SOL_IP, SOL_IPV6, IP_TRANSPARENT, IPV6_TRANSPARENT, 1 },
		{ SOL_TCP, SOL_TCP, TCP_KEEPIDLE, TCP_KEEPIDLE, 77 },
		{ SOL_TCP, SOL_TCP, TCP_KEEPINTVL, TCP_KEEPINTVL, 11 },
		{ SOL_TCP, SOL_TCP, TCP_KEEPCNT, TCP_KEEPCNT, 4 },
	};
	int fd = socket(six ? AF_INET6 : AF_INET, SOCK_STREAM, IPPROTO_MPTCP), proto = 262;

	ck_assert_int_ge(fd, 0);
	for (size_t i = 0; i < sizeof(tcp_class) / sizeof(tcp_class[0]); i++) {
		const int v = tcp_class[i].val;
		if (setsockopt(fd, six ? tcp_class[i].level6 : tcp_class[i].level4,
			       six ? tcp_class[i].opt6 : tcp_class[i].opt4, &v, sizeof(v)) < 0 &&
		    (errno == EOPNOTSUPP || errno == ENOPROTOOPT))
			proto = 6;
	}
	close(fd);
	return proto;
}

START_TEST(state_upgrade)
{
	/* TCP first, the policy says MPTCP: replaced by an MPTCP socket */
	compare_state("4", "listen", "*", "MPTCPIFY_STRATEGY=tcp-first", upgraded_proto(0));
	compare_state("6", "listen", "*", "MPTCPIFY_STRATEGY=tcp-first", upgraded_proto(1));
	compare_state("4", "connect", "*", "MPTCPIFY_STRATEGY=tcp-first", upgraded_proto(0));
	compare_state("6", "connect", "*", "MPTCPIFY_STRATEGY=tcp-first", upgraded_proto(1));
}
END_TEST

/* ---- options MPTCP refuses (issue 4) ---- */
struct optcase {
	const char *name;
	int value;
	int six; /* on an IPv6 socket */
};
static const struct optcase optcases[] = {
	{ "TCP_MAXSEG", 1200, 0 },	   { "TCP_QUICKACK", 1, 0 },
	{ "TCP_WINDOW_CLAMP", 40000, 0 },  { "TCP_LINGER2", 20, 0 },
	{ "TCP_USER_TIMEOUT", 7000, 0 },   { "TCP_SAVE_SYN", 1, 0 },
	{ "TCP_THIN_LINEAR_TIMEOUTS", 1, 0 }, { "TCP_TX_DELAY", 10, 0 },
	{ "IP_TTL", 33, 0 },		   { "IP_MTU_DISCOVER", 1, 0 },
	{ "IP_RECVERR", 1, 0 },		   { "IP_PKTINFO", 1, 0 },
	{ "IP_MINTTL", 2, 0 },		   { "SO_OOBINLINE", 1, 0 },
	{ "SO_MAX_PACING_RATE", 1000000, 0 }, { "SO_LOCK_FILTER", 1, 0 },
	{ "SO_ZEROCOPY", 1, 0 },	   { "TCP_KEEPIDLE", 99, 0 },
	{ "IPV6_TCLASS", 8, 1 },	   { "IPV6_UNICAST_HOPS", 9, 1 },
	{ "IPV6_MTU_DISCOVER", 1, 1 },	   { "IPV6_RECVERR", 1, 1 },
	/* security options: step down before, error after, never pretended */
	{ "TCP_MD5SIG", 1, 0 },		   { "SO_ATTACH_FILTER", 1, 0 },
};

static void check_option(const struct optcase *c, const char *when)
{
	const struct opt_info *info = optclass_find_name(c->name, strlen(c->name));
	struct run r;
	char val[16];
	snprintf(val, sizeof(val), "%d", c->value);
	const char *args[] = { c->six ? "opt6" : "opt", c->name, val, when, NULL };
	int after = strcmp(when, "after") == 0;

	ck_assert_ptr_nonnull(info);
	run_probe(&r, NULL, NULL, NULL, args);
	int set = field(r.out, "set"), proto = field(r.out, "protocol");
	int kget = field(r.out, "kernel_get"), value = field(r.out, "value");
	int kval = field(r.out, "kernel_value");

	if (proto == 262 && set == 0 && kget == 0 && kval == value)
		return; /* this kernel supports it on MPTCP: the real call was used */
	/* some refused options still read (SO_OOBINLINE reads 0,
	 * SO_MAX_PACING_RATE ~0): the program must see the emulated value */
	switch (info->dflt) {
	case OPT_EMULATE:
		if (!strcmp(c->name, "TCP_MAXSEG")) {
			/* read once connected, as TCP reads it: the clamp set
			 * before less the timestamp option; set after, no
			 * effect (loopback's own MSS is far larger) */
			if (!test_kernel_at_least(5, 16))
				/* no MPTCP_TCPINFO before 5.16: the subflow's MSS
				 * cannot be read, the shim answers the clamp set
				 * (TCP: the clamp less options; set after connect,
				 * the connection's own MSS) */
				ck_assert_msg(set == 0 && proto == 262 && value > 0 &&
						      (after || value == c->value),
					      "%s %s (emulate, < 5.16): %s", c->name, when, r.out);
			else
				ck_assert_msg(set == 0 && proto == 262 &&
						      (after ? value > c->value : value == c->value - 12),
					      "%s %s (emulate): %s", c->name, when, r.out);
			break;
		}
		ck_assert_msg(set == 0 && proto == 262 && value == c->value,
			      "%s %s (emulate): %s", c->name, when, r.out);
		ck_assert_msg(kget != 0 || kval != value,
			      "%s: the kernel took it, yet it is emulated: %s", c->name, r.out);
		break;
	case OPT_TCP:
		if (!after)
			ck_assert_msg(set == 0 && proto == 6 && kget == 0 && kval == value,
				      "%s before (tcp): %s", c->name, r.out);
		else if (optclass_decided(NULL, info->level, info->optname) == OPT_EMULATE)
			/* nothing left to act on once connected: remembered
			 * and read back, as TCP would */
			ck_assert_msg(set == 0 && proto == 262 && value == c->value,
				      "%s after (tcp, emulated once connected): %s", c->name, r.out);
		else
			ck_assert_msg(set == -1 && proto == 262 &&
					      (field(r.out, "errno") == EOPNOTSUPP ||
					       field(r.out, "errno") == ENOPROTOOPT),
				      "%s after (tcp): %s", c->name, r.out);
		break;
	default:
		ck_abort_msg("%s: class error not expected by default", c->name);
	}
}

START_TEST(options_before_connect)
{
	check_option(&optcases[_i], "before");
}
END_TEST

START_TEST(options_after_connect)
{
	check_option(&optcases[_i], "after");
}
END_TEST

START_TEST(options_maxseg_real_or_fallback)
{
	/* On 6.17+ the real call works; before, the shim answers. */
	struct run r;
	const char *args[] = { "opt", "TCP_MAXSEG", "1300", "before", NULL };
	run_probe(&r, NULL, NULL, NULL, args);
	ck_assert_int_eq(field(r.out, "set"), 0);
	ck_assert_int_eq(field(r.out, "protocol"), 262);
	if (test_kernel_at_least(6, 17))
		ck_assert_msg(field(r.out, "kernel_get") == 0, "6.17+ should support TCP_MAXSEG: %s", r.out);
	else if (!test_kernel_at_least(5, 16))
		/* no subflow information before 5.16: the clamp as set */
		ck_assert_msg(field(r.out, "kernel_get") != 0 && field(r.out, "value") == 1300,
			      "pre-5.16: kernel refuses, shim answers the clamp: %s", r.out);
	else
		/* read after connect(): TCP's mss_cache, the clamp less the
		 * 12-byte timestamp option on loopback (6.17+ reads it so) */
		ck_assert_msg(field(r.out, "kernel_get") != 0 && field(r.out, "value") == 1288,
			      "pre-6.17: kernel refuses, shim answers as TCP: %s", r.out);
}
END_TEST

START_TEST(options_tcp_class_default_value)
{
	/* TCP_USER_TIMEOUT=0 is what TCP has anyway (HAProxy sets it on every
	 * listener): remembered, the socket stays MPTCP */
	struct run r;
	const char *args[] = { "opt", "TCP_USER_TIMEOUT", "0", "before", NULL };
	run_probe(&r, NULL, NULL, NULL, args);
	ck_assert_int_eq(field(r.out, "set"), 0);
	ck_assert_int_eq(field(r.out, "value"), 0);
	ck_assert_int_eq(field(r.out, "protocol"), 262);
	ck_assert_int_eq(field(r.out, "fallback"), 0);
}
END_TEST

START_TEST(options_refused_by_tcp_too)
{
	/* python3 -m http.server sets IPV6_V6ONLY=0 on its IPv4 socket and
	 * ignores the error: TCP's error, and the socket stays MPTCP */
	struct run r;
	const char *args[] = { "opt", "IPV6_V6ONLY", "0", "before", NULL };
	run_probe(&r, NULL, NULL, NULL, args);
	ck_assert_int_eq(field(r.out, "set"), -1);
	ck_assert_int_eq(field(r.out, "errno"), ENOPROTOOPT);
	ck_assert_int_eq(field(r.out, "protocol"), 262);
}
END_TEST

START_TEST(options_override)
{
	/* MPTCPIFY_OPTIONS moves IP_TTL to error and TCP_USER_TIMEOUT to emulate */
	struct run r;
	const char *a1[] = { "opt", "IP_TTL", "33", "before", NULL };
	run_probe(&r, NULL, "MPTCPIFY_OPTIONS=IP_TTL=error", NULL, a1);
	ck_assert_int_eq(field(r.out, "set"), -1);
	ck_assert_int_eq(field(r.out, "protocol"), 262);
	const char *a2[] = { "opt", "TCP_USER_TIMEOUT", "7000", "before", NULL };
	run_probe(&r, NULL, "MPTCPIFY_OPTIONS=TCP_USER_TIMEOUT=emulate", NULL, a2);
	ck_assert_int_eq(field(r.out, "set"), 0);
	ck_assert_int_eq(field(r.out, "value"), 7000);
	ck_assert_int_eq(field(r.out, "protocol"), 262);
}
END_TEST

/* ---- robustness ---- */
START_TEST(identity_reused_fd)
{
	struct run r;
	const char *args[] = { "identity", NULL };
	run_probe(&r, "!*", NULL, NULL, args);
	ck_assert_int_eq(field(r.out, "identity connect"), 0);
	ck_assert_int_eq(field(r.out, "protocol"), 262); /* the program's own socket, untouched */
}
END_TEST

START_TEST(errno_preserved)
{
	struct run r;
	const char *args[] = { "errno", NULL };
	run_probe(&r, NULL, NULL, NULL, args);
	ck_assert_int_eq(field(r.out, "errno_changed"), 0);
	run_probe(&r, "!*", NULL, NULL, args);
	ck_assert_int_eq(field(r.out, "errno_changed"), 0);
	run_probe(&r, "*", "MPTCPIFY_STRATEGY=tcp-first", NULL, args);
	ck_assert_int_eq(field(r.out, "errno_changed"), 0);
}
END_TEST

START_TEST(fork_shared_socket)
{
	struct run r;
	const char *args[] = { "fork", NULL };
	run_probe(&r, "!*", NULL, NULL, args);
	ck_assert_int_eq(field(r.out, "child_ok"), 1);
	ck_assert_int_eq(field(r.out, "parent_sees_connection"), 1);
}
END_TEST

START_TEST(no_fd_leak_100k)
{
	/* every connection replaced (the most work the shim ever does) */
	struct run r;
	/* 100,000 here; 2,000 in the kernel matrix, where qemu emulates the
	 * CPU (10,000 took over the probe's 120 s on 5.10, whose MPTCP socket
	 * creates its first subflow in socket()); one leaked fd per cycle
	 * shows either way */
	const char *args[] = { "churn", "1", getenv("MPTCPIFY_TESTDIR") ? "2000" : "100000", NULL };
	run_probe(&r, "!connect@*, *", NULL, NULL, args);
	ck_assert_int_eq(field(r.out, "failures"), 0);
	ck_assert_int_eq(field(r.out, "fds_before"), field(r.out, "fds_after"));
}
END_TEST

START_TEST(kernel_refuses_mptcp)
{
	/* a namespace of its own with net.mptcp.enabled=0 */
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct run r;
		const char *args[] = { "pair", "3", NULL };
		int fd;
		if (unshare(CLONE_NEWNET) < 0)
			_exit(3);
		fd = open("/proc/sys/net/mptcp/enabled", O_WRONLY);
		if (fd < 0 || write(fd, "0", 1) != 1)
			_exit(4);
		close(fd);
		int s = socket(AF_INET, SOCK_DGRAM, 0);
		struct ifreq ifr;
		memset(&ifr, 0, sizeof(ifr));
		strcpy(ifr.ifr_name, "lo");
		ifr.ifr_flags = IFF_UP;
		ioctl(s, SIOCSIFFLAGS, &ifr);
		close(s);
		run_probe(&r, NULL, NULL, NULL, args);
		if (count_lines(r.out, "client 6 server 6") != 3)
			_exit(5);
		if (count_lines(r.err, "warning: the kernel refuses MPTCP") != 1)
			_exit(6);
		run_probe(&r, "*", NULL, NULL, args);
		if (count_lines(r.out, "client 6 server 6") != 3)
			_exit(7);
		_exit(0);
	}
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "failed at step %d", WEXITSTATUS(st));
}
END_TEST

/* Every way the kernel refuses MPTCP sockets: the program gets TCP, works,
 * and sees one warning that says why. */
static const struct {
	int err;
	const char *why;
} refusals[] = {
	{ EINVAL, "EINVAL: kernel older than 5.6" },
	{ EPROTONOSUPPORT, "EPROTONOSUPPORT: kernel built without MPTCP" },
	{ ENOPROTOOPT, "ENOPROTOOPT: net.mptcp.enabled=0" },
	{ EACCES, "EACCES: refused by security policy" },
	{ EPERM, "EPERM: refused by security policy" },
};

START_TEST(kernel_refusal_errnos)
{
	const char *refuse = getenv("REFUSE");
	char num[16], pbuf[4096];
	struct run r;
	ck_assert_msg(refuse != NULL, "REFUSE is not set");
	snprintf(num, sizeof(num), "%d", refusals[_i].err);
	snprintf(pbuf, sizeof(pbuf), "%s", probe);
	/* the shim preloaded into `refuse`, which execs the probe */
	const char *args[] = { num, pbuf, "pair", "2", NULL };
	const char *saved = probe;
	probe = refuse;
	run_probe(&r, NULL, NULL, NULL, args);
	probe = saved;
	ck_assert_int_eq(count_lines(r.out, "client 6 server 6"), 2);
	ck_assert_int_eq(count_lines(r.err, "warning: the kernel refuses MPTCP"), 1);
	ck_assert_msg(strstr(r.err, refusals[_i].why), "%s", r.err);
}
END_TEST

START_TEST(chains_with_another_shim)
{
	const char *chain = getenv("CHAINSHIM");
	char preload[4096];
	struct run r;
	const char *args[] = { "pair", "2", NULL };
	ck_assert_msg(chain != NULL, "CHAINSHIM is not set");
	snprintf(preload, sizeof(preload), "%s %s", lib, chain);
	run_probe(&r, NULL, NULL, preload, args);
	/* the second shim saw our calls, already turned into MPTCP */
	ck_assert_int_eq(count_lines(r.out, "client 262 server 262"), 2);
	ck_assert_msg(strstr(r.err, "chainshim: mptcp sockets 3") != NULL, "%s", r.err);
}
END_TEST

START_TEST(socket_from_early_constructor)
{
	const char *early = getenv("EARLYCTOR");
	char preload[4096];
	struct run r;
	const char *args[] = { "errno", NULL };
	ck_assert_msg(early != NULL, "EARLYCTOR is not set");
	snprintf(preload, sizeof(preload), "%s %s", lib, early);
	run_probe(&r, NULL, "MPTCPIFY_LOG=debug", preload, args);
	ck_assert_msg(strstr(r.err, "earlyctor: protocol 262") != NULL, "%s", r.err);
	ck_assert_msg(strstr(r.err, "before the library's constructor") != NULL,
		      "the early path was not exercised: %s", r.err);
}
END_TEST

START_TEST(info_log_line)
{
	struct run r;
	const char *args[] = { "connect", "10.1.2.3:80", NULL };
	run_probe(&r, "!192.0.2.0/24, connect@10.0.0.0/8", "MPTCPIFY_LOG=info", NULL, args);
	ck_assert_msg(strstr(r.err, "connect 10.1.2.3:80: mptcp (rule 2 \"connect@10.0.0.0/8\")"), "%s",
		      r.err);
	ck_assert_msg(strstr(r.err, "]: fd "), "%s", r.err);
}
END_TEST

/* Regressions: [name, MPTCPIFY_ADDRS (NULL: unset), expected protocol or 0] */
static const struct {
	const char *name, *addrs;
	int proto;
} regressions[] = {
	{ "epoll", "!127.0.0.0/8", 6 },        /* replaced: must stay in the epoll set */
	{ "epoll", "*", 262 },
	{ "epoll", NULL, 262 },
	{ "badflags", NULL, 0 },
	{ "badflags", "*", 0 },
	{ "rawconnect", "*", 0 },
	{ "rawconnect", NULL, 0 },
	{ "emulated-values", NULL, 0 },
	{ "getsockopt-errno", NULL, 0 },
	{ "setown", "!127.0.0.0/8", 6 },
	{ "failed-dup2", "!127.0.0.0/8", 6 },
	{ "efault", NULL, 0 },
	{ "predict-uto", "listen@127.0.0.1, !connect@*", 262 },
	{ "fclose-dup", "connect@*", 6 },
	{ "epfd-reuse", "!127.0.0.0/8", 6 },
	/* issue 12 */
	{ "epoll-exclusive", "!127.0.0.0/8, *", 6 },
	{ "epoll-oneshot-fired", "!127.0.0.0/8, *", 262 }, /* not replaced: cannot be re-made */
	{ "epoll-oneshot-armed", "!127.0.0.0/8, *", 6 },
	{ "fclose-own-mptcp", NULL, 262 },
	{ "foreign-mptcp", NULL, 0 },
	{ "foreign-mptcp", "*", 0 },
	{ "scm-rights", NULL, 0 },
	{ "scm-rights", "*", 0 },
	{ "inherited", NULL, 0 },
	{ "fdlimit", "!127.0.0.0/8, *", 6 },
	{ "fdlimit", NULL, 262 },
	{ "accepted-options", NULL, 262 },
	{ "defer-accept", NULL, 262 },
	{ "accepted-dup2", NULL, 262 },
	{ "accepted-dup2", "*", 262 },
};

START_TEST(regression)
{
	struct run r;
	char want[64];
	const char *args[] = { "regress", regressions[_i].name, NULL };
	run_probe(&r, regressions[_i].addrs, NULL, NULL, args);
	snprintf(want, sizeof(want), "%s ok", regressions[_i].name);
	ck_assert_msg(strstr(r.out, want), "%s (MPTCPIFY_ADDRS=%s): %s", regressions[_i].name,
		      regressions[_i].addrs ? regressions[_i].addrs : "unset", r.out);
	if (regressions[_i].proto)
		ck_assert_int_eq(field(r.out, "protocol"), regressions[_i].proto);
}
END_TEST

/* ---- transactions: what the program does during a replacement ---- */
static const char *const txn_scenarios[] = {
	"close-open", "dup2", "close-range", "setsockopt", "nonblock", "fork",
	"handler-close", "handler-epoll", "handler-setsockopt", "handler-fork",
};

/* OUT without its '#' lines. */
static void observations(const char *out, char *dst, size_t size)
{
	size_t n = 0;
	for (const char *p = out; *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p + 1) : strlen(p);
		if (*p != '#' && n + len < size) {
			memcpy(dst + n, p, len);
			n += len;
		}
		p += len;
	}
	dst[n] = 0;
}

START_TEST(transaction)
{
	const char *scn = txn_scenarios[_i / 2], *when = _i % 2 ? "dup3" : "socket";
	static struct run before, after, shim;
	static char ob[4096], oa[4096], os[4096], both[16384];
	const char *txn = getenv("TXN"), *force = getenv("LIBFORCE");
	const char *ab[] = { scn, "before", NULL }, *aa[] = { scn, "after", NULL },
		   *as[] = { scn, when, NULL };

	ck_assert_ptr_nonnull(txn);
	snprintf(both, sizeof(both), "%s %s", lib, force);
	/* the two orders a program sees without the shim */
	run_exe(&before, txn, NULL, NULL, force, ab);
	run_exe(&after, txn, NULL, NULL, force, aa);
	/* the action forced into the middle of the replacement */
	run_exe(&shim, txn, "!127.0.0.0/8, *", NULL, both, as);
	ck_assert_msg(strstr(shim.out, "# hook 1"), "%s at %s: no replacement happened:\n%s%s", scn,
		      when, shim.out, shim.err);
	/* the interleaving really forced: at socket the other thread's
	 * action ran inside the replacement (a fork waited for it); at dup3
	 * the commit is under way and the action was seen waiting for it */
	if (strcmp(when, "socket") == 0 && strcmp(scn, "fork") == 0)
		ck_assert_msg(strstr(shim.out, "# fork still waiting for the replacement: 1"),
			      "fork at socket: the fork did not wait for the replacement:\n%s%s",
			      shim.out, shim.err);
	else if (strcmp(when, "socket") == 0 && strncmp(scn, "handler-", 8) != 0)
		ck_assert_msg(strstr(shim.out, "# action done inside the replacement: 1"),
			      "%s at socket: the action did not end inside the replacement:\n%s%s",
			      scn, shim.out, shim.err);
	else if (strcmp(when, "dup3") == 0 && strncmp(scn, "handler-", 8) != 0)
		ck_assert_msg(strstr(shim.out, "# other thread seen waiting in the shim: 1"),
			      "%s at dup3: the other thread's action was not seen waiting for the "
			      "commit:\n%s%s",
			      scn, shim.out, shim.err);
	observations(before.out, ob, sizeof(ob));
	observations(after.out, oa, sizeof(oa));
	observations(shim.out, os, sizeof(os));
	/* close-open is two steps of the other thread: without the shim the
	 * connect can also come between them, and fails with EBADF (the
	 * file is opened after it) */
	static char om[4096];
	char *e;
	snprintf(om, sizeof(om), "%s", ob);
	if (strcmp(scn, "close-open") == 0 && (e = strstr(om, "errno=ENOTSOCK\n")))
		memmove(e + 11, e + 14, strlen(e + 14) + 1), memcpy(e + 6, "EBADF", 5);
	ck_assert_msg(strcmp(os, ob) == 0 || strcmp(os, oa) == 0 ||
			      (strcmp(scn, "close-open") == 0 && strcmp(os, om) == 0),
		      "%s at %s: the program sees what TCP never shows it\n--- shim\n%s--- TCP, "
		      "action before connect\n%s--- TCP, action after connect\n%s",
		      scn, when, shim.out, before.out, after.out);
	ck_assert_msg(strstr(shim.err, "mptcpify") == NULL, "%s at %s: shim said: %s", scn, when,
		      shim.err);
}
END_TEST

/* ---- accounting: one socket counts once ---- */
START_TEST(stats_count_once)
{
	struct run r;
	const char *args[] = { "regress", "count-once", NULL };
	/* the listener counts too: 2 MPTCP (listener, second client), 1 TCP
	 * for the option */
	run_probe(&r, _i ? "*" : NULL, "MPTCPIFY_STATS=1", NULL, args);
	ck_assert_msg(strstr(r.err, "stats: upgraded 2, kept TCP by policy 0, fell back (kernel "
				    "refused MPTCP) 0, downgraded for options 1,"),
		      "%s: %s", _i ? "policy *" : "all-mode", r.err);
}
END_TEST

static Suite *preload_suite(void)
{
	Suite *s = suite_create("preload");
	TCase *tc = tcase_create("policy");
	tcase_add_test(tc, policy_example_listen_connect);
	tcase_add_test(tc, policy_example_not_loopback);
	tcase_add_test(tc, policy_example_families);
	tcase_add_test(tc, policy_example_order);
	tcase_add_test(tc, policy_unset_empty_invalid);
	tcase_add_test(tc, policy_listener_port_zero);
	tcase_add_test(tc, info_log_line);
	suite_add_tcase(s, tc);

	tc = tcase_create("kernel-evidence");
	tcase_add_test(tc, counters_exact);
	tcase_add_test(tc, mptcp_info_two_processes);
	tcase_add_test(tc, kernel_refuses_mptcp);
	tcase_add_loop_test(tc, kernel_refusal_errnos, 0, sizeof(refusals) / sizeof(refusals[0]));
	suite_add_tcase(s, tc);

	tc = tcase_create("stats");
	tcase_add_loop_test(tc, stats_count_once, 0, 2);
	suite_add_tcase(s, tc);

	tc = tcase_create("transactions");
	/* three runs of txn, each bounded (hooks wait at most 5 s): a hang guard
	 * for slow emulated kernels, not a timing */
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, transaction, 0, 2 * (int)(sizeof(txn_scenarios) / sizeof(txn_scenarios[0])));
	suite_add_tcase(s, tc);

	tc = tcase_create("state");
	tcase_add_test(tc, state_step_down);
	tcase_add_test(tc, state_upgrade);
	suite_add_tcase(s, tc);

	tc = tcase_create("options");
	tcase_add_loop_test(tc, options_before_connect, 0, sizeof(optcases) / sizeof(optcases[0]));
	tcase_add_loop_test(tc, options_after_connect, 0, sizeof(optcases) / sizeof(optcases[0]));
	tcase_add_test(tc, options_maxseg_real_or_fallback);
	tcase_add_test(tc, options_override);
	tcase_add_test(tc, options_tcp_class_default_value);
	tcase_add_test(tc, options_refused_by_tcp_too);
	suite_add_tcase(s, tc);

	tc = tcase_create("regressions");
	tcase_add_loop_test(tc, regression, 0, sizeof(regressions) / sizeof(regressions[0]));
	suite_add_tcase(s, tc);

	tc = tcase_create("robustness");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, identity_reused_fd);
	tcase_add_test(tc, errno_preserved);
	tcase_add_test(tc, fork_shared_socket);
	tcase_add_test(tc, chains_with_another_shim);
	tcase_add_test(tc, socket_from_early_constructor);
	tcase_add_test(tc, no_fd_leak_100k);
	suite_add_tcase(s, tc);
	return s;
}

static void bring_lo_up(void)
{
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	ifr.ifr_flags = IFF_UP | IFF_LOOPBACK | IFF_RUNNING;
	if (s < 0 || ioctl(s, SIOCSIFFLAGS, &ifr) < 0) {
		perror("lo up");
		exit(1);
	}
	close(s);
}

int main(void)
{
	SRunner *sr;
	int failed;

	lib = getenv("MPTCPIFY_LIB");
	probe = getenv("PROBE");
	/* in the kernel matrix (docs/kernels.md) everything is in one folder */
	const char *dir = getenv("MPTCPIFY_TESTDIR");
	static char pbuf[4096], cbuf[4096], ebuf[4096];
	if (dir && !probe) {
		snprintf(pbuf, sizeof(pbuf), "%s/probe", dir);
		snprintf(cbuf, sizeof(cbuf), "%s/libchainshim.so", dir);
		snprintf(ebuf, sizeof(ebuf), "%s/libearlyctor.so", dir);
		probe = pbuf;
		setenv("CHAINSHIM", cbuf, 0);
		setenv("EARLYCTOR", ebuf, 0);
		static char rbuf[4096], tbuf[4096], fbuf[4096];
		snprintf(rbuf, sizeof(rbuf), "%s/refuse", dir);
		setenv("REFUSE", rbuf, 0);
		snprintf(tbuf, sizeof(tbuf), "%s/txn", dir);
		setenv("TXN", tbuf, 0);
		snprintf(fbuf, sizeof(fbuf), "%s/libforce.so", dir);
		setenv("LIBFORCE", fbuf, 0);
	}
	if (!lib || !probe) {
		fprintf(stderr, "test-preload: MPTCPIFY_LIB and PROBE must be set\n");
		return 1;
	}
	if (access("/proc/net/mptcp", F_OK) < 0 && access("/proc/sys/net/mptcp/enabled", F_OK) < 0) {
		printf("SKIP: this kernel has no MPTCP\n");
		return 77;
	}
	if (unshare(CLONE_NEWNET) < 0) {
		printf("SKIP: cannot create a network namespace (%s): run as root\n", strerror(errno));
		return 77;
	}
	bring_lo_up();
	/* the address the listen@ example binds to, on this namespace's lo */
	if (system("ip addr add 10.1.2.3/32 dev lo") != 0) {
		fprintf(stderr, "test-preload: cannot add 10.1.2.3 to lo\n");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	sr = srunner_create(preload_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
