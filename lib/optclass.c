/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* optclass.c - the table of socket options that MPTCP sockets refuse (on
 * some or all kernels), what the shim does about each, and the
 * MPTCPIFY_OPTIONS parser. docs/options.md and mptcpify(7) explain the
 * table; keep them in step with it. */
#include "mptcpify/optclass.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>

#ifndef TCP_AO_ADD_KEY
#define TCP_AO_ADD_KEY 38
#define TCP_AO_DEL_KEY 39
#define TCP_AO_INFO 40
#define TCP_AO_GET_KEYS 41
#define TCP_AO_REPAIR 42
#endif
#ifndef IP_LOCAL_PORT_RANGE
#define IP_LOCAL_PORT_RANGE 51
#endif
#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define E OPT_EMULATE
#define T OPT_TCP

/* Hints whose absence changes no correctness are emulated; what a program
 * relies on for correctness or security makes an undecided socket plain TCP.
 * Options that newer kernels support are listed too: the shim only acts when
 * the real call failed, so on a kernel that supports them nothing happens. */
const struct opt_info optclass_table[] = {
	/* refused on every kernel up to 6.16; supported from 6.17 */
	{ "TCP_MAXSEG", SOL_TCP, TCP_MAXSEG, E, 1, 1400, "MSS clamp; refused before Linux 6.17", 617 },
	/* refused on every kernel so far: hints */
	{ "TCP_QUICKACK", SOL_TCP, TCP_QUICKACK, E, 1, 1, "ACK timing hint", 0 },
	{ "TCP_WINDOW_CLAMP", SOL_TCP, TCP_WINDOW_CLAMP, E, 1, 65536, "receive window hint", 0 },
	{ "TCP_LINGER2", SOL_TCP, TCP_LINGER2, E, 1, 30, "FIN-WAIT-2 lifetime hint", 0 },
	{ "TCP_THIN_LINEAR_TIMEOUTS", SOL_TCP, TCP_THIN_LINEAR_TIMEOUTS, E, 1, 1, "thin-stream hint", 0 },
	{ "TCP_THIN_DUPACK", SOL_TCP, TCP_THIN_DUPACK, E, 0, 0, "thin-stream hint (obsolete)", 0 },
	{ "TCP_TX_DELAY", SOL_TCP, TCP_TX_DELAY, E, 0, 0, "testing aid: delays packets", 0 },
	{ "IP_TTL", SOL_IP, IP_TTL, E, 1, 64, "TTL of outgoing packets", 0 },
	{ "IP_MTU_DISCOVER", SOL_IP, IP_MTU_DISCOVER, E, 1, IP_PMTUDISC_DO, "path MTU discovery mode", 0 },
	{ "IP_RECVERR", SOL_IP, IP_RECVERR, E, 0, 0, "extended errors (unused on TCP)", 0 },
	{ "IP_PKTINFO", SOL_IP, IP_PKTINFO, E, 0, 0, "packet info cmsg (unused on TCP)", 0 },
	{ "IPV6_TCLASS", SOL_IPV6, IPV6_TCLASS, E, 1, 0, "traffic class of outgoing packets", 0 },
	{ "IPV6_UNICAST_HOPS", SOL_IPV6, IPV6_UNICAST_HOPS, E, 1, 64, "hop limit of outgoing packets", 0 },
	{ "IPV6_MTU_DISCOVER", SOL_IPV6, IPV6_MTU_DISCOVER, E, 1, IPV6_PMTUDISC_DO, "path MTU discovery mode", 0 },
	{ "IPV6_RECVERR", SOL_IPV6, IPV6_RECVERR, E, 0, 0, "extended errors (unused on TCP)", 0 },
	{ "SO_MAX_PACING_RATE", SOL_SOCKET, SO_MAX_PACING_RATE, E, 1, 1000000, "pacing rate cap", 0 },
	{ "IP_RECVTOS", SOL_IP, IP_RECVTOS, E, 1, 1, "TOS cmsg (unused on TCP)", 0 },
	/* refused on every kernel so far: correctness or security */
	{ "TCP_USER_TIMEOUT", SOL_TCP, TCP_USER_TIMEOUT, T, 1, 10000, "dead-peer detection the program relies on", 0 },
	{ "TCP_SYNCNT", SOL_TCP, TCP_SYNCNT, T, 1, 3, "connect timeout the program relies on", 0 },
	{ "TCP_MD5SIG", SOL_TCP, TCP_MD5SIG, T, 0, 0, "RFC 2385 segment authentication", 0 },
	{ "TCP_MD5SIG_EXT", SOL_TCP, TCP_MD5SIG_EXT, T, 0, 0, "RFC 2385 segment authentication", 0 },
	{ "TCP_AO_ADD_KEY", SOL_TCP, TCP_AO_ADD_KEY, T, 0, 0, "RFC 5925 authentication", 0 },
	{ "TCP_AO_DEL_KEY", SOL_TCP, TCP_AO_DEL_KEY, T, 0, 0, "RFC 5925 authentication", 0 },
	{ "TCP_AO_INFO", SOL_TCP, TCP_AO_INFO, T, 0, 0, "RFC 5925 authentication", 0 },
	{ "TCP_AO_REPAIR", SOL_TCP, TCP_AO_REPAIR, T, 0, 0, "RFC 5925 authentication", 0 },
	{ "TCP_REPAIR", SOL_TCP, TCP_REPAIR, T, 0, 0, "checkpoint/restore", 0 },
	{ "TCP_REPAIR_QUEUE", SOL_TCP, TCP_REPAIR_QUEUE, T, 0, 0, "checkpoint/restore", 0 },
	{ "TCP_QUEUE_SEQ", SOL_TCP, TCP_QUEUE_SEQ, T, 0, 0, "checkpoint/restore", 0 },
	{ "TCP_REPAIR_OPTIONS", SOL_TCP, TCP_REPAIR_OPTIONS, T, 0, 0, "checkpoint/restore", 0 },
	{ "TCP_REPAIR_WINDOW", SOL_TCP, TCP_REPAIR_WINDOW, T, 0, 0, "checkpoint/restore", 0 },
	{ "TCP_ULP", SOL_TCP, TCP_ULP, T, 0, 0, "upper-layer protocol (kTLS)", 0 },
	{ "TCP_SAVE_SYN", SOL_TCP, TCP_SAVE_SYN, T, 1, 1, "the program reads the saved SYN later", 0 },
	{ "IP_MINTTL", SOL_IP, IP_MINTTL, T, 1, 1, "RFC 5082 TTL security", 0 },
	{ "IPV6_MINHOPCOUNT", SOL_IPV6, IPV6_MINHOPCOUNT, T, 0, 0, "RFC 5082 hop-limit security", 0 },
	{ "SO_ATTACH_FILTER", SOL_SOCKET, SO_ATTACH_FILTER, T, 0, 0, "socket filter", 0 },
	{ "SO_ATTACH_BPF", SOL_SOCKET, SO_ATTACH_BPF, T, 0, 0, "socket filter", 0 },
	{ "SO_ATTACH_REUSEPORT_CBPF", SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, T, 0, 0, "reuseport steering", 0 },
	{ "SO_ATTACH_REUSEPORT_EBPF", SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF, T, 0, 0, "reuseport steering", 0 },
	{ "SO_LOCK_FILTER", SOL_SOCKET, SO_LOCK_FILTER, T, 0, 0, "socket filter lock", 0 },
	{ "SO_OOBINLINE", SOL_SOCKET, SO_OOBINLINE, T, 1, 1, "urgent data semantics", 0 },
	{ "SO_PEEK_OFF", SOL_SOCKET, SO_PEEK_OFF, T, 0, 0, "MSG_PEEK offsets", 0 },
	{ "SO_ZEROCOPY", SOL_SOCKET, SO_ZEROCOPY, T, 0, 0, "zero-copy completions", 0 },
	{ "SO_TXTIME", SOL_SOCKET, SO_TXTIME, T, 0, 0, "timed transmission", 0 },
	/* supported only by newer kernels (see docs/options.md for versions) */
	{ "TCP_DEFER_ACCEPT", SOL_TCP, TCP_DEFER_ACCEPT, E, 1, 5, "accept hint; MPTCP since 5.19", 519 },
	{ "TCP_NOTSENT_LOWAT", SOL_TCP, TCP_NOTSENT_LOWAT, E, 1, 16384, "buffering hint; MPTCP since 6.9", 609 },
	{ "TCP_FASTOPEN", SOL_TCP, TCP_FASTOPEN, E, 1, 16, "TFO listener; MPTCP since 6.2", 602 },
	{ "TCP_FASTOPEN_CONNECT", SOL_TCP, TCP_FASTOPEN_CONNECT, E, 1, 1, "TFO client; MPTCP since 6.1", 601 },
	{ "TCP_FASTOPEN_KEY", SOL_TCP, TCP_FASTOPEN_KEY, E, 0, 0, "TFO key; MPTCP since 6.2", 602 },
	{ "TCP_FASTOPEN_NO_COOKIE", SOL_TCP, TCP_FASTOPEN_NO_COOKIE, E, 1, 0, "TFO hint; MPTCP since 6.2", 602 },
	{ "TCP_NODELAY", SOL_TCP, TCP_NODELAY, E, 1, 1, "Nagle; MPTCP since 5.17", 517 },
	{ "TCP_CORK", SOL_TCP, TCP_CORK, E, 1, 0, "batching hint; MPTCP since 5.17", 517 },
	{ "TCP_CONGESTION", SOL_TCP, TCP_CONGESTION, E, 0, 0, "congestion control; MPTCP since 5.13", 513 },
	{ "IP_TOS", SOL_IP, IP_TOS, E, 1, 0, "DSCP/ECN of outgoing packets; MPTCP since 5.17", 517 },
	{ "IP_BIND_ADDRESS_NO_PORT", SOL_IP, IP_BIND_ADDRESS_NO_PORT, E, 1, 1, "port allocation hint; MPTCP since 6.8", 608 },
	{ "TCP_KEEPIDLE", SOL_TCP, TCP_KEEPIDLE, T, 1, 60, "keepalive timing; MPTCP since 6.10 (stable 6.1.y too)", 610 },
	{ "TCP_KEEPINTVL", SOL_TCP, TCP_KEEPINTVL, T, 1, 10, "keepalive timing; MPTCP since 6.10 (stable 6.1.y too)", 610 },
	{ "TCP_KEEPCNT", SOL_TCP, TCP_KEEPCNT, T, 1, 5, "keepalive timing; MPTCP since 6.10 (stable 6.1.y too)", 610 },
	{ "TCP_INQ", SOL_TCP, TCP_INQ, T, 0, 0, "the program expects a cmsg; MPTCP since 5.17", 517 },
	{ "IP_FREEBIND", SOL_IP, IP_FREEBIND, T, 0, 0, "bind would fail without it; MPTCP since 5.17", 517 },
	{ "IP_TRANSPARENT", SOL_IP, IP_TRANSPARENT, T, 0, 0, "bind would fail without it; MPTCP since 5.17", 517 },
	{ "IPV6_FREEBIND", SOL_IPV6, IPV6_FREEBIND, T, 0, 0, "bind would fail without it; MPTCP since 5.17", 517 },
	{ "IPV6_TRANSPARENT", SOL_IPV6, IPV6_TRANSPARENT, T, 0, 0, "bind would fail without it; MPTCP since 5.17", 517 },
	{ "IP_LOCAL_PORT_RANGE", SOL_IP, IP_LOCAL_PORT_RANGE, T, 0, 0, "port range the program relies on; MPTCP since 6.8", 608 },
	{ NULL, 0, 0, OPT_ERROR, 0, 0, NULL, 0 },
};

#undef E
#undef T

/* Once a socket is connected, listening or accepted it cannot step down to
 * TCP any more. Options of class emulate stay emulated. Of class tcp, those
 * listed here have nothing left to act on, or nothing the program can miss
 * more than an error: they succeed, are remembered and read back as TCP
 * would (docs/options.md says why, per option). Every other tcp option gets
 * the kernel's error: it protects or changes the data (authentication,
 * filters, kTLS, repair), and an error lets the program choose. */
static const struct {
	int level;
	int optname;
} emulated_once_decided[] = {
	{ SOL_TCP, TCP_USER_TIMEOUT }, /* not enforced: MPTCP has none */
	{ SOL_TCP, TCP_SAVE_SYN },     /* the SYN is gone by then */
	{ SOL_SOCKET, SO_OOBINLINE },  /* MPTCP delivers urgent data in-band */
	{ SOL_TCP, TCP_KEEPIDLE },     /* keepalive timing: kernel defaults */
	{ SOL_TCP, TCP_KEEPINTVL },
	{ SOL_TCP, TCP_KEEPCNT },
	{ SOL_IP, IP_FREEBIND },       /* the address is bound by then */
	{ SOL_IP, IP_TRANSPARENT },
	{ SOL_IPV6, IPV6_FREEBIND },
	{ SOL_IPV6, IPV6_TRANSPARENT },
	{ SOL_IP, IP_LOCAL_PORT_RANGE }, /* the port is chosen by then */
	{ SOL_TCP, TCP_SYNCNT },       /* the handshake is over */
	{ SOL_TCP, TCP_WINDOW_CLAMP },
};

enum opt_class optclass_decided(const struct opt_overrides *ov, int level, int optname)
{
	enum opt_class cls = optclass_get(ov, level, optname);

	if (cls != OPT_TCP)
		return cls;
	for (size_t i = 0; i < sizeof(emulated_once_decided) / sizeof(emulated_once_decided[0]); i++)
		if (emulated_once_decided[i].level == level &&
		    emulated_once_decided[i].optname == optname)
			return OPT_EMULATE;
	return OPT_ERROR;
}

const struct opt_info *optclass_find(int level, int optname)
{
	/* SOL_IP == IPPROTO_IP, SOL_TCP == IPPROTO_TCP, SOL_IPV6 == IPPROTO_IPV6 */
	for (const struct opt_info *o = optclass_table; o->name; o++)
		if (o->level == level && o->optname == optname)
			return o;
	return NULL;
}

const struct opt_info *optclass_find_name(const char *name, size_t len)
{
	for (const struct opt_info *o = optclass_table; o->name; o++)
		if (strlen(o->name) == len && memcmp(o->name, name, len) == 0)
			return o;
	return NULL;
}

const char *optclass_name(enum opt_class cls)
{
	switch (cls) {
	case OPT_EMULATE:
		return "emulate";
	case OPT_TCP:
		return "tcp";
	default:
		return "error";
	}
}

enum opt_class optclass_get(const struct opt_overrides *ov, int level, int optname)
{
	const struct opt_info *o;

	if (ov)
		for (unsigned i = 0; i < ov->n; i++)
			if (ov->e[i].opt->level == level && ov->e[i].opt->optname == optname)
				return ov->e[i].cls;
	o = optclass_find(level, optname);
	/* An option nobody listed, refused by MPTCP: TCP would have accepted
	 * it, so the safe answer for an undecided socket is plain TCP. */
	return o ? o->dflt : OPT_TCP;
}

static int is_sep(char c)
{
	return c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void report(policy_error_fn fn, void *ctx, unsigned pos, const char *text,
		   size_t len, const char *msg)
{
	struct policy_error e = { .rule = pos, .text = text, .text_len = len, .msg = msg };
	if (fn)
		fn(ctx, &e);
}

/* Splits like the address policy: commas and/or white space separate
 * entries; an empty entry between two commas is an error. */
int optclass_parse(const char *text, struct opt_overrides *out,
		   policy_error_fn on_error, void *ctx)
{
	struct opt_overrides tmp;
	const char *p = text;
	unsigned pos = 0;
	int bad = 0;

	tmp.n = 0;
	out->n = 0;
	if (!text)
		return 0;
	while (*p) {
		const char *start, *eq, *end;
		int comma_before = 0;

		while (*p && is_sep(*p)) {
			if (*p == ',') {
				if (comma_before || (pos == 0 && p == text)) {
					/* ",," or a leading comma: empty entry */
					pos++;
					report(on_error, ctx, pos, p, 0, "empty entry");
					bad = 1;
				}
				comma_before = 1;
			}
			p++;
		}
		if (!*p) {
			if (comma_before && pos > 0) {
				pos++;
				report(on_error, ctx, pos, p, 0, "empty entry");
				bad = 1;
			}
			break;
		}
		start = p;
		while (*p && !is_sep(*p))
			p++;
		end = p;
		pos++;
		eq = memchr(start, '=', (size_t)(end - start));
		if (!eq) {
			report(on_error, ctx, pos, start, (size_t)(end - start),
			       "expected NAME=emulate|tcp|error");
			bad = 1;
			continue;
		}
		const struct opt_info *o = optclass_find_name(start, (size_t)(eq - start));
		if (!o) {
			report(on_error, ctx, pos, start, (size_t)(end - start),
			       "unknown option name (see mptcpify(7) for the list)");
			bad = 1;
			continue;
		}
		size_t clen = (size_t)(end - eq - 1);
		enum opt_class cls;
		if (clen == 7 && memcmp(eq + 1, "emulate", 7) == 0)
			cls = OPT_EMULATE;
		else if (clen == 3 && memcmp(eq + 1, "tcp", 3) == 0)
			cls = OPT_TCP;
		else if (clen == 5 && memcmp(eq + 1, "error", 5) == 0)
			cls = OPT_ERROR;
		else {
			report(on_error, ctx, pos, start, (size_t)(end - start),
			       "unknown class (expected emulate, tcp or error)");
			bad = 1;
			continue;
		}
		if (tmp.n >= OPTCLASS_MAX_OVERRIDES) {
			report(on_error, ctx, pos, start, (size_t)(end - start),
			       "too many entries");
			bad = 1;
			continue;
		}
		tmp.e[tmp.n].opt = o;
		tmp.e[tmp.n].cls = cls;
		tmp.n++;
	}
	if (bad)
		return -EINVAL;
	*out = tmp;
	return 0;
}
