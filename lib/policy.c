/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* policy.c - MPTCPIFY_ADDRS: the rule parser, its error messages, and the
 * matcher (one path-compressed binary trie per family, with a port table on
 * every node that carries rules).
 *
 * Edge cases, decided here (the language itself is in policy.h):
 * - Separators. Rules are separated by commas and/or white space (space, tab,
 *   newline, CR, VT, FF). A comma needs a rule on each side: "a,,b" has an
 *   empty rule 2, and a leading or trailing comma is an empty rule too. Empty
 *   rules count in the numbering. Text of white space only (or "") is a valid
 *   policy with no rules, which matches nothing.
 * - Host bits set under a prefix ("10.1.2.3/8") are an ERROR, not silently
 *   masked: the user probably meant a narrower network, and widening an
 *   allowlist behind their back is the worse failure. The message names the
 *   network they may have meant ("host bits set (the network is 10.0.0.0/8)").
 * - IPv4-mapped IPv6. A rule inside ::ffff:0:0/96 with a length of at least
 *   96 is an IPv4 rule: [::ffff:10.0.0.0/104] is 10.0.0.0/8. Sockets are
 *   matched the same way, so a connection to ::ffff:127.0.0.1 is matched as
 *   127.0.0.1. Consequently an IPv6 rule shorter than /96 (like ::/0) never
 *   matches a mapped address: that traffic is IPv4.
 * - IPv4 addresses are exactly four decimal parts; a part with a leading zero
 *   ("010") is rejected because inet_aton would read it as octal.
 * - IPv6: brackets are needed when a port follows; "[2001:db8::/32]:443" and
 *   "[2001:db8::]/32:443" are both accepted. Without brackets a string with
 *   two or more colons is taken as an IPv6 address, so "::1:443" is the
 *   address ::1:443, not ::1 port 443 (only brackets can say that).
 *   "2001:db8::/32:443" is an error asking for brackets. Zone indices
 *   ("fe80::1%eth0") are not supported.
 * - "*" takes neither a prefix length nor a port ("*:80" is an error that
 *   suggests ":80"). "*" and ":PORTS" apply to both families.
 * - Ports: 0 to 65535, a range N-M is inclusive (N <= M), "*" is all ports.
 * - Qualifiers are lower case; "!" comes before the qualifier.
 * - A sockaddr_in6 of 24 bytes (RFC 2133, without sin6_scope_id) is accepted,
 *   as the kernel accepts it; anything shorter decides TCP with rule 0.
 *
 * No malloc, stdio, locale or lock anywhere here: memory comes from mmap, a
 * parsed policy is one read-only mapping, and policy_decide() only reads it.
 *
 * Cost. Rules go into a path-compressed binary trie per family ('*' and
 * ":PORTS" on both roots). A decision walks one path from the root: only the
 * prefixes on it can match, so the walk meets about log2(rules) nodes for
 * scattered prefixes and at most one per prefix length (33 for IPv4, 129 for
 * IPv6) when prefixes nest. A node with rules holds a port table: the port
 * space cut at its rules' bounds, each piece owned per direction by the
 * earliest rule, searched by bisection; so many rules on one prefix cost a
 * few extra steps, not a scan. Every node knows the earliest rule below it,
 * which ends the walk once nothing deeper can win. Building is
 * O(n log n): see bench/policy for the measured figures.
 */
#include "mptcpify/policy.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>

#define ENT_NONE UINT32_MAX     /* no rule decides */
#define MAX_TEXT (16u << 20)    /* longer policies are refused (-ENOMEM) */
#define PORT_MAX 65535u

enum fam { FAM_V4 = 0, FAM_V6 = 1, FAM_ANY = 2 };

#define DIRS_LISTEN 1u
#define DIRS_CONNECT 2u
#define DIRS_BOTH 3u

/* An address or prefix, most significant bit first; IPv4 lives in the top
 * 32 bits of hi. */
struct key {
	uint64_t hi, lo;
};

/* A trie node: the prefix KEY/PLEN, and the verdicts of the rules written
 * for exactly that prefix. An entry is (rule << 1 | negated), so the smaller
 * entry is the earlier rule; ENT_NONE when no rule applies. */
struct node {
	struct key key;
	uint32_t child[2]; /* node indices; 0 = none (a root is never a child) */
	uint32_t ent[2];   /* nint == 1: entries for listen, connect */
	uint32_t tab;      /* nint > 1: first interval in the pool */
	uint32_t nint;     /* port intervals; 0 when no rule is attached here */
	uint32_t sub_min;  /* smallest entry in this subtree: prunes the walk */
	uint32_t plen;
};

/* Ports START up to the next interval's start, and who decides there. */
struct port_iv {
	uint32_t start;
	uint32_t ent[2];
};

struct rule_ref {
	uint32_t off, len;
};

/* The whole policy is one mapping: this header, then the text, the rule
 * table, the nodes and the port intervals. */
struct policy {
	size_t map_size;
	const char *text;
	const struct rule_ref *rules;
	const struct node *nodes;
	const struct port_iv *pool;
	uint32_t nrules;
	uint32_t root[2];
	struct key masks[129]; /* masks[len]: the top LEN bits set */
};

/* ---- small helpers (no libc) --------------------------------------------- */

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	       c == '\f';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int hex_value(char c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool all_digits(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return false;
	for (i = 0; i < n; i++)
		if (!is_digit(s[i]))
			return false;
	return true;
}

/* Value of the decimal digits S[0..N), saturating at UINT32_MAX. */
static uint32_t dec_value(const char *s, size_t n)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > UINT32_MAX)
			return UINT32_MAX;
	}
	return (uint32_t)v;
}

/* Index of the first C in S[from..n), or N. */
static size_t find_char(const char *s, size_t from, size_t n, char c)
{
	while (from < n && s[from] != c)
		from++;
	return from;
}

static bool same_text(const char *s, size_t n, const char *word)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (word[i] != s[i])
			return false;
	return word[n] == '\0';
}

static void *map_alloc(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static size_t align16(size_t n)
{
	return (n + 15) & ~(size_t)15;
}

/* ---- bounded string building, for messages -------------------------------- */

struct sbuf {
	char *buf;
	size_t size, len;
};

static void sb_init(struct sbuf *b, char *buf, size_t size)
{
	b->buf = buf;
	b->size = size;
	b->len = 0;
	if (size)
		buf[0] = '\0';
}

static void sb_putc(struct sbuf *b, char c)
{
	if (b->len + 1 < b->size) {
		b->buf[b->len++] = c;
		b->buf[b->len] = '\0';
	}
}

static void sb_puts(struct sbuf *b, const char *s)
{
	while (*s)
		sb_putc(b, *s++);
}

static void sb_putu(struct sbuf *b, unsigned long v)
{
	char t[24];
	int i = 0;

	do {
		t[i++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (i)
		sb_putc(b, t[--i]);
}

static void sb_puthex(struct sbuf *b, unsigned v)
{
	static const char digits[] = "0123456789abcdef";
	char t[8];
	int i = 0;

	do {
		t[i++] = digits[v & 15];
		v >>= 4;
	} while (v);
	while (i)
		sb_putc(b, t[--i]);
}

/* User text, with control bytes, non-ASCII, '"' and '\' as \xNN so that a
 * message is one printable line that cannot drive a terminal. */
static void sb_putesc(struct sbuf *b, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
			sb_puts(b, "\\x");
			sb_putc(b, "0123456789abcdef"[c >> 4]);
			sb_putc(b, "0123456789abcdef"[c & 15]);
		} else {
			sb_putc(b, (char)c);
		}
	}
}

static void sb_putq(struct sbuf *b, const char *s, size_t n)
{
	sb_putc(b, '"');
	sb_putesc(b, s, n);
	sb_putc(b, '"');
}

static void sb_put_v4(struct sbuf *b, uint32_t a)
{
	int i;

	for (i = 3; i >= 0; i--) {
		sb_putu(b, (a >> (8 * i)) & 255);
		if (i)
			sb_putc(b, '.');
	}
}

/* RFC 5952 text: lower case, the longest run of two or more zero groups as
 * "::", mapped addresses as ::ffff:a.b.c.d. */
static void sb_put_v6(struct sbuf *b, struct key k)
{
	unsigned g[8], i, run = 0, best = 8, best_len = 0;

	for (i = 0; i < 8; i++)
		g[i] = (unsigned)((i < 4 ? k.hi >> (48 - 16 * i)
					 : k.lo >> (48 - 16 * (i - 4))) &
				  0xffff);
	if (k.hi == 0 && (k.lo >> 32) == 0xffff) {
		sb_puts(b, "::ffff:");
		sb_put_v4(b, (uint32_t)k.lo);
		return;
	}
	for (i = 0; i < 8; i++) {
		run = g[i] ? 0 : run + 1;
		if (run > best_len && run >= 2) {
			best_len = run;
			best = i + 1 - run;
		}
	}
	for (i = 0; i < 8; i++) {
		if (i == best) {
			sb_puts(b, "::");
			i += best_len - 1;
			continue;
		}
		if (i > 0 && i != best + best_len)
			sb_putc(b, ':');
		sb_puthex(b, g[i]);
	}
}

/* ---- keys ------------------------------------------------------------------ */

/* The top BITS (0..64) bits of a word. */
static inline uint64_t mask64(unsigned bits)
{
	return bits == 0 ? 0 : ~UINT64_C(0) << (64 - bits);
}

static inline struct key key_masked(struct key k, unsigned plen)
{
	struct key m;

	m.hi = k.hi & mask64(plen < 64 ? plen : 64);
	m.lo = k.lo & mask64(plen > 64 ? plen - 64 : 0);
	return m;
}

/* Bit I (0 = most significant) of K. */
static inline unsigned key_bit(struct key k, unsigned i)
{
	return i < 64 ? (unsigned)(k.hi >> (63 - i)) & 1
		      : (unsigned)(k.lo >> (127 - i)) & 1;
}

/* Number of leading bits A and B share (128 when equal). */
static unsigned key_common(struct key a, struct key b)
{
	uint64_t x = a.hi ^ b.hi;

	if (x)
		return (unsigned)__builtin_clzll(x);
	x = a.lo ^ b.lo;
	if (x)
		return 64 + (unsigned)__builtin_clzll(x);
	return 128;
}

/* ---- the parser ------------------------------------------------------------ */

/* One rule as parsed, before it goes into the tries. */
struct brule {
	struct key key;
	uint32_t next[2]; /* next rule (1-based) on the same node, per family */
	uint16_t lo, hi;  /* ports */
	uint8_t fam, plen, dirs, neg;
};

/* Parses dotted IPv4 S[0..N) into *OUT. Returns false with MSG filled in. */
static bool parse_v4(const char *s, size_t n, uint32_t *out, struct sbuf *msg)
{
	unsigned parts = 0;
	uint32_t a = 0;
	size_t i = 0, j;

	for (;;) {
		j = find_char(s, i, n, '.');
		if (j == i) {
			sb_puts(msg, "bad IPv4 address: empty part");
			return false;
		}
		if (!all_digits(s + i, j - i)) {
			sb_puts(msg, "bad IPv4 address: ");
			sb_putq(msg, s + i, j - i);
			sb_puts(msg, " is not a decimal number");
			return false;
		}
		if (j - i > 1 && s[i] == '0') {
			sb_puts(msg, "bad IPv4 address: leading zero in ");
			sb_putesc(msg, s + i, j - i);
			sb_puts(msg, " (octal is not accepted)");
			return false;
		}
		if (dec_value(s + i, j - i) > 255) {
			sb_puts(msg, "bad IPv4 address: ");
			sb_putesc(msg, s + i, j - i);
			sb_puts(msg, " exceeds 255");
			return false;
		}
		parts++;
		a = a << 8 | dec_value(s + i, j - i);
		if (j == n)
			break;
		i = j + 1;
	}
	if (parts != 4) {
		sb_puts(msg, "bad IPv4 address: ");
		sb_putu(msg, parts);
		sb_puts(msg, parts == 1 ? " part, expected 4" : " parts, expected 4");
		if (parts == 1) {
			sb_puts(msg, " (a port alone is written :");
			sb_putesc(msg, s, n);
			sb_putc(msg, ')');
		}
		return false;
	}
	*out = a;
	return true;
}

static bool v6_fail(struct sbuf *msg, const char *why)
{
	sb_puts(msg, "bad IPv6 address: ");
	sb_puts(msg, why);
	return false;
}

/* Parses IPv6 text S[0..N) (no brackets, no length) into *OUT. Returns false
 * with MSG filled in. */
static bool parse_v6(const char *s, size_t n, struct key *out, struct sbuf *msg)
{
	unsigned g[8], ng = 0, gap = 9, i;
	size_t p = 0, q;

	if (n == 0)
		return v6_fail(msg, "empty");
	if (find_char(s, 0, n, '%') < n)
		return v6_fail(msg, "zone indices (%...) are not supported");
	if (s[0] == ':') {
		if (n < 2 || s[1] != ':')
			return v6_fail(msg, "starts with a single ':'");
		gap = 0;
		p = 2;
	}
	while (p < n) {
		q = p;
		while (q < n && hex_value(s[q]) >= 0)
			q++;
		if (q < n && s[q] == '.') {
			uint32_t v4;

			if (ng > 6)
				return v6_fail(msg, "too many groups");
			if (!parse_v4(s + p, n - p, &v4, msg))
				return false;
			g[ng++] = v4 >> 16;
			g[ng++] = v4 & 0xffff;
			p = n;
			break;
		}
		if (q == p) {
			if (s[p] == ':')
				return v6_fail(msg, "more than one '::'");
			sb_puts(msg, "bad IPv6 address: unexpected ");
			sb_putq(msg, s + p, 1);
			return false;
		}
		if (q - p > 4)
			return v6_fail(msg, "a group has more than 4 hex digits");
		if (ng == 8)
			return v6_fail(msg, "too many groups");
		g[ng] = 0;
		for (; p < q; p++)
			g[ng] = g[ng] << 4 | (unsigned)hex_value(s[p]);
		ng++;
		if (p == n)
			break;
		if (s[p] != ':') {
			sb_puts(msg, "bad IPv6 address: unexpected ");
			sb_putq(msg, s + p, 1);
			return false;
		}
		p++;
		if (p < n && s[p] == ':') {
			if (gap != 9)
				return v6_fail(msg, "more than one '::'");
			gap = ng;
			p++;
		} else if (p == n) {
			return v6_fail(msg, "ends with a single ':'");
		}
	}
	if (gap != 9) {
		if (ng > 7)
			return v6_fail(msg, "too many groups");
		for (i = 8; i-- > 0;) {
			/* Move the groups after "::" to the end, zeros between. */
			if (i >= 8 - (ng - gap))
				g[i] = g[i - (8 - ng)];
			else if (i >= gap)
				g[i] = 0;
		}
	} else if (ng != 8) {
		return v6_fail(msg, "too few groups");
	}
	out->hi = out->lo = 0;
	for (i = 0; i < 4; i++) {
		out->hi = out->hi << 16 | g[i];
		out->lo = out->lo << 16 | g[i + 4];
	}
	return true;
}

/* Parses the prefix length S[0..N) (the text after '/'). */
static bool parse_plen(const char *s, size_t n, unsigned max, unsigned *out,
		       struct sbuf *msg)
{
	if (n == 0) {
		sb_puts(msg, "missing prefix length after '/'");
		return false;
	}
	if (!all_digits(s, n)) {
		sb_puts(msg, "bad prefix length ");
		sb_putq(msg, s, n);
		return false;
	}
	if (dec_value(s, n) > max) {
		sb_puts(msg, "prefix length ");
		sb_putesc(msg, s, n);
		sb_puts(msg, " exceeds ");
		sb_putu(msg, max);
		return false;
	}
	*out = dec_value(s, n);
	return true;
}

static bool parse_port(const char *s, size_t n, const char *what,
		       uint32_t *out, struct sbuf *msg)
{
	if (!all_digits(s, n)) {
		sb_puts(msg, what);
		sb_putc(msg, ' ');
		sb_putq(msg, s, n);
		return false;
	}
	*out = dec_value(s, n);
	if (*out > PORT_MAX) {
		sb_puts(msg, "port ");
		sb_putesc(msg, s, n);
		sb_puts(msg, " exceeds 65535");
		return false;
	}
	return true;
}

/* Parses PORTS S[0..N) (the text after ':') into R. */
static bool parse_ports(const char *s, size_t n, struct brule *r,
			struct sbuf *msg)
{
	size_t dash = find_char(s, 0, n, '-');
	uint32_t lo, hi;

	if (n == 0) {
		sb_puts(msg, "missing port after ':'");
		return false;
	}
	if (n == 1 && s[0] == '*') {
		r->lo = 0;
		r->hi = PORT_MAX;
		return true;
	}
	if (dash == n) {
		if (!parse_port(s, n, "bad port", &lo, msg))
			return false;
		hi = lo;
	} else {
		if (dash == 0 || dash + 1 == n ||
		    !all_digits(s, dash) || !all_digits(s + dash + 1, n - dash - 1)) {
			sb_puts(msg, "bad port range ");
			sb_putq(msg, s, n);
			return false;
		}
		if (!parse_port(s, dash, "bad port", &lo, msg) ||
		    !parse_port(s + dash + 1, n - dash - 1, "bad port", &hi, msg))
			return false;
		if (lo > hi) {
			sb_puts(msg, "reversed port range ");
			sb_putesc(msg, s, n);
			return false;
		}
	}
	r->lo = (uint16_t)lo;
	r->hi = (uint16_t)hi;
	return true;
}

/* Whether S[0..N) looks like a DNS name rather than a mistyped address. */
static bool looks_like_host(const char *s, size_t n)
{
	bool alpha = false;
	size_t i;

	for (i = 0; i < n; i++) {
		if (is_alpha(s[i]))
			alpha = true;
		else if (!is_digit(s[i]) && s[i] != '.' && s[i] != '-' &&
			 s[i] != '_')
			return false;
	}
	return alpha;
}

/* Checks host bits and turns mapped IPv6 rules into IPv4 ones. */
static bool finish_prefix(struct brule *r, struct sbuf *msg)
{
	struct key net = key_masked(r->key, r->plen);

	if (net.hi != r->key.hi || net.lo != r->key.lo) {
		sb_puts(msg, "host bits set (the network is ");
		if (r->fam == FAM_V4)
			sb_put_v4(msg, (uint32_t)(net.hi >> 32));
		else
			sb_put_v6(msg, net);
		sb_putc(msg, '/');
		sb_putu(msg, r->plen);
		sb_putc(msg, ')');
		return false;
	}
	if (r->fam == FAM_V6 && r->plen >= 96 && r->key.hi == 0 &&
	    (r->key.lo >> 32) == 0xffff) {
		r->fam = FAM_V4;
		r->key.hi = r->key.lo << 32;
		r->key.lo = 0;
		r->plen = (uint8_t)(r->plen - 96);
	}
	return true;
}

/* TARGET in brackets: "[ADDR[/LEN]][/LEN][:PORTS]". */
static bool parse_bracketed(const char *t, size_t n, struct brule *r,
			    struct sbuf *msg)
{
	size_t close = find_char(t, 1, n, ']'), slash, p;
	unsigned plen = 128;
	bool have_len = false;

	if (close == n) {
		sb_puts(msg, "missing ']' after IPv6 address");
		return false;
	}
	slash = find_char(t, 1, close, '/');
	if (!parse_v6(t + 1, slash - 1, &r->key, msg))
		return false;
	if (slash < close) {
		if (!parse_plen(t + slash + 1, close - slash - 1, 128, &plen, msg))
			return false;
		have_len = true;
	}
	p = close + 1;
	if (p < n && t[p] == '/') {
		size_t end = find_char(t, p + 1, n, ':');

		if (have_len) {
			sb_puts(msg, "two prefix lengths");
			return false;
		}
		if (!parse_plen(t + p + 1, end - p - 1, 128, &plen, msg))
			return false;
		p = end;
	}
	r->fam = FAM_V6;
	r->plen = (uint8_t)plen;
	if (p < n && t[p] == ':') {
		if (!parse_ports(t + p + 1, n - p - 1, r, msg))
			return false;
	} else if (p < n) {
		sb_puts(msg, "unexpected ");
		sb_putq(msg, t + p, n - p);
		sb_puts(msg, " after ']'");
		return false;
	}
	return finish_prefix(r, msg);
}

/* IPv6 without brackets: "ADDR[/LEN]", no port. */
static bool parse_bare_v6(const char *t, size_t n, struct brule *r,
			  struct sbuf *msg)
{
	size_t slash = find_char(t, 0, n, '/');
	unsigned plen = 128;

	if (!parse_v6(t, slash, &r->key, msg))
		return false;
	if (slash < n) {
		size_t end = find_char(t, slash + 1, n, ':');

		if (end < n) {
			sb_puts(msg, "an IPv6 address with a port needs brackets, as in [");
			sb_putesc(msg, t, end);
			sb_putc(msg, ']');
			sb_putesc(msg, t + end, n - end);
			return false;
		}
		if (!parse_plen(t + slash + 1, n - slash - 1, 128, &plen, msg))
			return false;
	}
	r->fam = FAM_V6;
	r->plen = (uint8_t)plen;
	return finish_prefix(r, msg);
}

/* IPv4 (or a host name, which is an error): "ADDR[/LEN][:PORTS]". */
static bool parse_v4_target(const char *t, size_t n, struct brule *r,
			    struct sbuf *msg)
{
	size_t end = 0, p;
	unsigned plen = 32;
	uint32_t a;

	while (end < n && t[end] != '/' && t[end] != ':')
		end++;
	if (end == 0) {
		sb_puts(msg, "missing address before ");
		sb_putq(msg, t, 1);
		return false;
	}
	if (looks_like_host(t, end)) {
		sb_puts(msg, "host name ");
		sb_putq(msg, t, end);
		sb_puts(msg, " where an address is required");
		return false;
	}
	for (p = 0; p < end; p++) {
		if (!is_digit(t[p]) && t[p] != '.') {
			sb_puts(msg, "bad address ");
			sb_putq(msg, t, end);
			return false;
		}
	}
	if (!parse_v4(t, end, &a, msg))
		return false;
	p = end;
	if (p < n && t[p] == '/') {
		end = find_char(t, p + 1, n, ':');
		if (!parse_plen(t + p + 1, end - p - 1, 32, &plen, msg))
			return false;
		p = end;
	}
	r->fam = FAM_V4;
	r->key.hi = (uint64_t)a << 32;
	r->key.lo = 0;
	r->plen = (uint8_t)plen;
	if (p < n && !parse_ports(t + p + 1, n - p - 1, r, msg))
		return false;
	return finish_prefix(r, msg);
}

/* Parses one rule S[0..N) into R. Returns false with MSG filled in. */
static bool parse_rule(const char *s, size_t n, struct brule *r,
		       struct sbuf *msg)
{
	const char *qual = "!";
	size_t i = 0, at, colons = 0, k;
	const char *t;

	*r = (struct brule){ .dirs = DIRS_BOTH, .lo = 0, .hi = PORT_MAX };
	if (n == 0) {
		sb_puts(msg, "empty rule");
		return false;
	}
	if (s[0] == '!') {
		r->neg = 1;
		i = 1;
		if (i < n && s[i] == '!') {
			sb_puts(msg, "'!' given twice");
			return false;
		}
	}
	at = find_char(s, i, n, '@');
	if (at < n) {
		if (same_text(s + i, at - i, "listen")) {
			r->dirs = DIRS_LISTEN;
			qual = "listen@";
		} else if (same_text(s + i, at - i, "connect")) {
			r->dirs = DIRS_CONNECT;
			qual = "connect@";
		} else {
			sb_puts(msg, "unknown qualifier ");
			sb_putq(msg, s + i, at + 1 - i);
			sb_puts(msg, " (expected listen@ or connect@)");
			return false;
		}
		i = at + 1;
		if (find_char(s, i, n, '@') < n) {
			sb_puts(msg, "more than one qualifier");
			return false;
		}
		if (i < n && s[i] == '!') {
			sb_puts(msg, "'!' goes before the qualifier");
			return false;
		}
	}
	if (i == n) {
		sb_puts(msg, "no target after ");
		sb_puts(msg, qual);
		return false;
	}
	t = s + i;
	n -= i;
	if (t[0] == '*') {
		if (n == 1) {
			r->fam = FAM_ANY;
			return true;
		}
		if (t[1] == '/') {
			sb_puts(msg, "* takes no prefix length");
		} else if (t[1] == ':') {
			sb_puts(msg, "* takes no port (for any address write ");
			sb_putesc(msg, t + 1, n - 1);
			sb_putc(msg, ')');
		} else {
			sb_puts(msg, "bad address ");
			sb_putq(msg, t, n);
		}
		return false;
	}
	if (t[0] == ':' && !(n > 1 && t[1] == ':')) {
		r->fam = FAM_ANY;
		return parse_ports(t + 1, n - 1, r, msg);
	}
	if (t[0] == '[')
		return parse_bracketed(t, n, r, msg);
	for (k = 0; k < n; k++)
		colons += t[k] == ':';
	if (colons >= 2)
		return parse_bare_v6(t, n, r, msg);
	return parse_v4_target(t, n, r, msg);
}

/* Calls FN(ctx, start, len) for each rule of TEXT[0..len) in order, empty
 * rules included (see the top of the file). Returns the number of rules. */
typedef void (*rule_fn)(void *ctx, const char *s, size_t n);

static uint32_t split_rules(const char *text, size_t len, rule_fn fn,
			    void *ctx)
{
	bool need_rule = false, at_start = true;
	uint32_t count = 0;
	size_t p = 0, start;

	for (;;) {
		while (p < len && is_space(text[p]))
			p++;
		if (p == len) {
			if (need_rule) {
				if (fn)
					fn(ctx, text + p, 0);
				count++;
			}
			return count;
		}
		if (text[p] == ',') {
			if (need_rule || at_start) {
				if (fn)
					fn(ctx, text + p, 0);
				count++;
			}
			p++;
			need_rule = true;
			at_start = false;
			continue;
		}
		start = p;
		while (p < len && !is_space(text[p]) && text[p] != ',')
			p++;
		if (fn)
			fn(ctx, text + start, p - start);
		count++;
		need_rule = false;
		at_start = false;
	}
}

struct parse_state {
	const char *text;
	struct brule *rules;
	struct rule_ref *refs; /* in the scratch area until the policy exists */
	uint32_t n;
	uint32_t errors;
	uint32_t count[3]; /* rules per family */
	policy_error_fn on_error;
	void *ctx;
};

static void parse_one(void *ctx, const char *s, size_t n)
{
	struct parse_state *st = ctx;
	struct brule *r = &st->rules[st->n];
	char buf[256];
	struct sbuf msg;

	sb_init(&msg, buf, sizeof(buf));
	st->refs[st->n].off = (uint32_t)(s - st->text);
	st->refs[st->n].len = (uint32_t)n;
	st->n++;
	if (parse_rule(s, n, r, &msg)) {
		st->count[r->fam]++;
		return;
	}
	st->errors++;
	if (st->on_error) {
		struct policy_error e = {
			.rule = st->n, .text = s, .text_len = n, .msg = buf,
		};
		st->on_error(st->ctx, &e);
	}
}

/* ---- building the tries ------------------------------------------------------ */

struct builder {
	struct node *nodes;
	uint32_t nn;
	uint32_t *head, *tail; /* per node: first and last rule (1-based) */
	struct brule *rules;
	struct port_iv *pool;
	uint32_t npool;
	uint32_t *tmp;
};

static uint32_t node_new(struct builder *b, struct key k, unsigned plen)
{
	struct node *n = &b->nodes[b->nn];

	*n = (struct node){ .key = key_masked(k, plen), .plen = plen,
			    .ent = { ENT_NONE, ENT_NONE }, .sub_min = ENT_NONE };
	b->head[b->nn] = b->tail[b->nn] = 0;
	return b->nn++;
}

/* Returns the node for K/PLEN under ROOT, creating it (and at most one
 * branching node) when missing. */
static uint32_t trie_insert(struct builder *b, uint32_t root, struct key k,
			    unsigned plen)
{
	uint32_t cur = root;

	for (;;) {
		struct node *n = &b->nodes[cur];
		unsigned bit, common;
		uint32_t c, x, y;

		if (n->plen == plen)
			return cur;
		bit = key_bit(k, n->plen);
		c = n->child[bit];
		if (!c) {
			x = node_new(b, k, plen);
			b->nodes[cur].child[bit] = x;
			return x;
		}
		common = key_common(b->nodes[c].key, k);
		if (common > b->nodes[c].plen)
			common = b->nodes[c].plen;
		if (common > plen)
			common = plen;
		if (common == b->nodes[c].plen) {
			cur = c;
			continue;
		}
		/* Split: a new node at COMMON goes between CUR and C. */
		x = node_new(b, k, common);
		b->nodes[x].child[key_bit(b->nodes[c].key, common)] = c;
		b->nodes[cur].child[bit] = x;
		if (common == plen)
			return x;
		y = node_new(b, k, plen);
		b->nodes[x].child[key_bit(k, common)] = y;
		return y;
	}
}

static void list_append(struct builder *b, uint32_t node, uint32_t rule,
			unsigned fam)
{
	b->rules[rule - 1].next[fam] = 0;
	if (b->tail[node])
		b->rules[b->tail[node] - 1].next[fam] = rule;
	else
		b->head[node] = rule;
	b->tail[node] = rule;
}

static void heap_sift(uint32_t *a, size_t i, size_t n)
{
	for (;;) {
		size_t c = 2 * i + 1;
		uint32_t t;

		if (c >= n)
			return;
		if (c + 1 < n && a[c + 1] > a[c])
			c++;
		if (a[i] >= a[c])
			return;
		t = a[i];
		a[i] = a[c];
		a[c] = t;
		i = c;
	}
}

static void heap_sort(uint32_t *a, size_t n)
{
	size_t i;

	for (i = n / 2; i-- > 0;)
		heap_sift(a, i, n);
	for (i = n; i-- > 1;) {
		uint32_t t = a[0];

		a[0] = a[i];
		a[i] = t;
		heap_sift(a, 0, i);
	}
}

/* Index of the last of the M sorted STARTS that is <= V (starts[0] == 0). */
static uint32_t iv_index(const uint32_t *starts, uint32_t m, uint32_t v)
{
	uint32_t lo = 0, hi = m;

	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (starts[mid] <= v)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

static uint32_t dsu_find(uint32_t *par, uint32_t x)
{
	while (par[x] != x) {
		par[x] = par[par[x]];
		x = par[x];
	}
	return x;
}

/* Turns the rule list of node X (family FAM) into its port table: the port
 * space cut at every rule's bounds, each piece owned per direction by the
 * earliest rule covering it. Each piece is painted once (union-find skips
 * painted ones), so many rules on one prefix stay near-linear. */
static void build_ports(struct builder *b, uint32_t x, unsigned fam)
{
	struct node *n = &b->nodes[x];
	uint32_t *starts = b->tmp, *ent[2], *par[2];
	uint32_t m = 0, w, i, d, r, own_min = ENT_NONE;

	if (!b->head[x])
		return;
	starts[m++] = 0;
	for (r = b->head[x]; r; r = b->rules[r - 1].next[fam]) {
		starts[m++] = b->rules[r - 1].lo;
		if (b->rules[r - 1].hi < PORT_MAX)
			starts[m++] = b->rules[r - 1].hi + 1u;
	}
	heap_sort(starts, m);
	for (w = 1, i = 1; i < m; i++)
		if (starts[i] != starts[w - 1])
			starts[w++] = starts[i];
	m = w;
	ent[0] = starts + m;
	ent[1] = ent[0] + m;
	par[0] = ent[1] + m;
	par[1] = par[0] + m + 1;
	for (i = 0; i <= m; i++) {
		if (i < m)
			ent[0][i] = ent[1][i] = ENT_NONE;
		par[0][i] = par[1][i] = i;
	}
	for (r = b->head[x]; r; r = b->rules[r - 1].next[fam]) {
		const struct brule *br = &b->rules[r - 1];
		uint32_t e = r << 1 | br->neg;
		uint32_t first = iv_index(starts, m, br->lo);
		uint32_t last = iv_index(starts, m, br->hi);

		for (d = 0; d < 2; d++) {
			uint32_t y;

			if (!(br->dirs & (1u << d)))
				continue;
			for (y = dsu_find(par[d], first); y <= last;
			     y = dsu_find(par[d], y + 1)) {
				ent[d][y] = e;
				par[d][y] = y + 1;
			}
		}
	}
	/* Merge neighbours that decide alike. */
	for (w = 0, i = 0; i < m; i++) {
		if (w && ent[0][i] == ent[0][w - 1] && ent[1][i] == ent[1][w - 1])
			continue;
		starts[w] = starts[i];
		ent[0][w] = ent[0][i];
		ent[1][w] = ent[1][i];
		w++;
	}
	for (i = 0; i < w; i++)
		for (d = 0; d < 2; d++)
			if (ent[d][i] < own_min)
				own_min = ent[d][i];
	n->sub_min = own_min;
	n->nint = w;
	if (w == 1) {
		n->ent[0] = ent[0][0];
		n->ent[1] = ent[1][0];
		return;
	}
	n->tab = b->npool;
	for (i = 0; i < w; i++) {
		struct port_iv *iv = &b->pool[b->npool++];

		iv->start = starts[i];
		iv->ent[0] = ent[0][i];
		iv->ent[1] = ent[1][i];
	}
}

/* Builds the port tables of the trie under X (family FAM) and fills in
 * sub_min; returns it. Recursion depth is at most 129 nodes. */
static uint32_t build_tree(struct builder *b, uint32_t x, unsigned fam)
{
	uint32_t m, c, kids[2];
	unsigned i;

	build_ports(b, x, fam);
	m = b->nodes[x].sub_min;
	kids[0] = b->nodes[x].child[0];
	kids[1] = b->nodes[x].child[1];
	for (i = 0; i < 2; i++) {
		if (!kids[i])
			continue;
		c = build_tree(b, kids[i], fam);
		if (c < m)
			m = c;
	}
	b->nodes[x].sub_min = m;
	return m;
}

/* Copies the trie under X from SRC to DST in depth-first order, so that a
 * subtree's nodes lie together and the deep, rarely cached end of a walk
 * touches few cache lines. Returns X's new index. */
static uint32_t relayout(const struct node *src, struct node *dst, uint32_t *nn,
			 uint32_t x)
{
	uint32_t y = (*nn)++;
	unsigned i;

	dst[y] = src[x];
	for (i = 0; i < 2; i++)
		if (src[x].child[i])
			dst[y].child[i] = relayout(src, dst, nn, src[x].child[i]);
	return y;
}

/* ---- the public interface ---------------------------------------------------- */

/* Counts the rules, parses them into a scratch mapping (reporting every bad
 * one), then builds the policy mapping: text, rule table, tries, port
 * tables. Returns 0, -EINVAL or -ENOMEM as policy.h says. */
int policy_parse(const char *text, struct policy **out,
		 policy_error_fn on_error, void *ctx)
{
	size_t len = 0, scratch_size, map_size, off_text, off_rules, off_nodes,
	       off_pool, max_nodes, max_pool, max_tmp;
	struct parse_state st = { .text = text, .on_error = on_error, .ctx = ctx };
	struct builder b = { 0 };
	struct policy *p = NULL;
	char *scratch, *base;
	uint32_t n, i, f, nn;

	if (!text || !out)
		return -EINVAL;
	while (text[len]) {
		if (++len > MAX_TEXT)
			return -ENOMEM;
	}
	n = split_rules(text, len, NULL, NULL);

	/* Scratch: parsed rules, their text positions, node lists, sort space. */
	max_nodes = 2 + 2 * (size_t)n;
	max_tmp = 10 * (size_t)n + 16;
	scratch_size = align16(n * sizeof(struct brule)) +
		       align16(n * sizeof(struct rule_ref)) +
		       align16(2 * max_nodes * sizeof(uint32_t)) +
		       align16(max_tmp * sizeof(uint32_t)) +
		       max_nodes * sizeof(struct node);
	scratch = map_alloc(scratch_size);
	if (!scratch)
		return -ENOMEM;
	st.rules = (struct brule *)scratch;
	st.refs = (struct rule_ref *)(scratch + align16(n * sizeof(struct brule)));
	b.head = (uint32_t *)((char *)st.refs + align16(n * sizeof(struct rule_ref)));
	b.tail = b.head + max_nodes;
	b.tmp = (uint32_t *)((char *)b.head + align16(2 * max_nodes * sizeof(uint32_t)));
	b.nodes = (struct node *)((char *)b.tmp + align16(max_tmp * sizeof(uint32_t)));

	split_rules(text, len, parse_one, &st);
	if (st.errors) {
		munmap(scratch, scratch_size);
		return -EINVAL;
	}

	max_nodes = 2 + 2 * ((size_t)st.count[FAM_V4] + st.count[FAM_V6]);
	max_pool = 2 * ((size_t)n + st.count[FAM_ANY]) + max_nodes;
	off_text = align16(sizeof(struct policy));
	off_rules = off_text + align16(len + 1);
	off_nodes = off_rules + align16(n * sizeof(struct rule_ref));
	off_pool = off_nodes + align16(max_nodes * sizeof(struct node));
	map_size = off_pool + max_pool * sizeof(struct port_iv);
	base = map_alloc(map_size);
	if (!base) {
		munmap(scratch, scratch_size);
		return -ENOMEM;
	}
	p = (struct policy *)base;
	p->map_size = map_size;
	for (i = 0; i <= 128; i++)
		p->masks[i] = key_masked((struct key){ ~UINT64_C(0), ~UINT64_C(0) }, i);
	p->nrules = n;
	for (i = 0; i <= len; i++)
		base[off_text + i] = text[i];
	for (i = 0; i < n; i++)
		((struct rule_ref *)(base + off_rules))[i] = st.refs[i];
	p->text = base + off_text;
	p->rules = (const struct rule_ref *)(base + off_rules);

	b.pool = (struct port_iv *)(base + off_pool);
	b.rules = st.rules;
	for (f = 0; f < 2; f++)
		p->root[f] = node_new(&b, (struct key){ 0, 0 }, 0);
	for (i = 1; i <= n; i++) {
		const struct brule *r = &st.rules[i - 1];

		if (r->fam == FAM_ANY) {
			list_append(&b, p->root[FAM_V4], i, FAM_V4);
			list_append(&b, p->root[FAM_V6], i, FAM_V6);
		} else {
			list_append(&b, trie_insert(&b, p->root[r->fam], r->key,
						    r->plen), i, r->fam);
		}
	}
	for (f = 0; f < 2; f++)
		build_tree(&b, p->root[f], f);
	nn = 0;
	for (f = 0; f < 2; f++)
		p->root[f] = relayout(b.nodes, (struct node *)(base + off_nodes), &nn,
				      p->root[f]);
	p->nodes = (const struct node *)(base + off_nodes);
	p->pool = b.pool;
	munmap(scratch, scratch_size);
	/* Read-only from now on: a stray write elsewhere cannot change it. */
	mprotect(base, map_size, PROT_READ);
	*out = p;
	return 0;
}

void policy_free(struct policy *p)
{
	if (p)
		munmap(p, p->map_size);
}

unsigned policy_rule_count(const struct policy *p)
{
	return p ? p->nrules : 0;
}

const char *policy_rule_text(const struct policy *p, unsigned n, size_t *len)
{
	if (!p || n == 0 || n > p->nrules) {
		if (len)
			*len = 0;
		return NULL;
	}
	if (len)
		*len = p->rules[n - 1].len;
	return p->text + p->rules[n - 1].off;
}

/* The entry of node N for direction D and PORT. */
static inline uint32_t node_entry(const struct policy *p, const struct node *n,
				  unsigned d, uint32_t port)
{
	const struct port_iv *iv;
	uint32_t lo = 0, hi = n->nint;

	if (hi == 1)
		return n->ent[d];
	iv = p->pool + n->tab;
	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (iv[mid].start <= port)
			lo = mid;
		else
			hi = mid;
	}
	return iv[lo].ent[d];
}

/* Walks the trie of FAM along K: every node on the way whose prefix holds K
 * may decide; the smallest entry wins. Stops early when nothing below can
 * beat what was found. Returns the entry or ENT_NONE. The step is kept free
 * of data-dependent branches but the loop's own: it runs once per prefix
 * length on the path (at most 33 or 129 times). */
static uint32_t trie_lookup(const struct policy *p, unsigned fam, struct key k,
			    unsigned d, uint32_t port)
{
	const struct node *n = &p->nodes[p->root[fam]];
	const uint64_t w[2] = { k.hi, k.lo };
	const unsigned maxlen = fam == FAM_V4 ? 32 : 128;
	uint32_t best = ENT_NONE, e, c;

	for (;;) {
		const struct key *m = &p->masks[n->plen];

		if (n->sub_min >= best ||
		    (((k.hi ^ n->key.hi) & m->hi) | ((k.lo ^ n->key.lo) & m->lo)))
			break;
		if (n->nint) {
			e = node_entry(p, n, d, port);
			if (e < best)
				best = e;
		}
		if (n->plen >= maxlen)
			break;
		c = n->child[(w[n->plen >> 6] >> (63 - (n->plen & 63))) & 1];
		if (!c)
			break;
		n = &p->nodes[c];
	}
	return best;
}

enum policy_verdict policy_decide(const struct policy *p, enum policy_dir dir,
				  const struct sockaddr *sa, socklen_t len,
				  unsigned *rule)
{
	const unsigned char *a;
	struct key k = { 0, 0 };
	unsigned fam, d, i;
	uint32_t port, e;

	if (rule)
		*rule = 0;
	if (!p || !sa || len < sizeof(sa_family_t))
		return POLICY_TCP;
	if (dir == POLICY_LISTEN)
		d = 0;
	else if (dir == POLICY_CONNECT)
		d = 1;
	else
		return POLICY_TCP;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)sa;

		if (len < sizeof(*sin))
			return POLICY_TCP;
		a = (const unsigned char *)&sin->sin_addr;
		k.hi = (uint64_t)a[0] << 56 | (uint64_t)a[1] << 48 |
		       (uint64_t)a[2] << 40 | (uint64_t)a[3] << 32;
		a = (const unsigned char *)&sin->sin_port;
		fam = FAM_V4;
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;

		/* 24 bytes: the RFC 2133 layout without sin6_scope_id. */
		if (len < offsetof(struct sockaddr_in6, sin6_scope_id))
			return POLICY_TCP;
		a = sin6->sin6_addr.s6_addr;
		for (i = 0; i < 8; i++) {
			k.hi = k.hi << 8 | a[i];
			k.lo = k.lo << 8 | a[i + 8];
		}
		if (k.hi == 0 && (k.lo >> 32) == 0xffff) {
			k.hi = k.lo << 32;
			k.lo = 0;
			fam = FAM_V4;
		} else {
			fam = FAM_V6;
		}
		a = (const unsigned char *)&sin6->sin6_port;
	} else {
		return POLICY_TCP;
	}
	port = (uint32_t)a[0] << 8 | a[1];

	e = trie_lookup(p, fam, k, d, port);
	if (e == ENT_NONE)
		return POLICY_TCP;
	if (rule)
		*rule = e >> 1;
	return (e & 1) ? POLICY_TCP : POLICY_MPTCP;
}

size_t policy_error_format(const struct policy_error *err, const char *var,
			   char *buf, size_t size)
{
	struct sbuf b;

	sb_init(&b, buf, size);
	if (!err)
		return 0;
	sb_puts(&b, "mptcpify: ");
	sb_puts(&b, var ? var : "MPTCPIFY_ADDRS");
	sb_puts(&b, " rule ");
	sb_putu(&b, err->rule);
	sb_putc(&b, ' ');
	sb_putq(&b, err->text, err->text ? err->text_len : 0);
	sb_puts(&b, ": ");
	sb_puts(&b, err->msg ? err->msg : "malformed");
	return b.len;
}
