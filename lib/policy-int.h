/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* policy-int.h - what the files of the MPTCPIFY_ADDRS module share: the
 * parsed-rule and trie types, key arithmetic, the bounded message builder.
 * Not installed; the API is include/mptcpify/policy.h.
 *
 * The module, by concern:
 *   policy-parse.c  the rule language: one rule's text to a struct brule
 *   policy-error.c  message text: escaping, addresses, the error line
 *   policy-build.c  policy_parse(): rules into tries and port tables
 *   policy-match.c  policy_decide() and the accessors
 *
 * Edge cases, decided in policy-parse.c (the language itself is in policy.h):
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
#ifndef MPTCPIFY_POLICY_INT_H
#define MPTCPIFY_POLICY_INT_H

#include "mptcpify/policy.h"

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
static inline unsigned key_common(struct key a, struct key b)
{
	uint64_t x = a.hi ^ b.hi;

	if (x)
		return (unsigned)__builtin_clzll(x);
	x = a.lo ^ b.lo;
	if (x)
		return 64 + (unsigned)__builtin_clzll(x);
	return 128;
}

/* ---- memory ---------------------------------------------------------------- */

static inline void *map_alloc(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static inline size_t align16(size_t n)
{
	return (n + 15) & ~(size_t)15;
}

/* ---- parsed rules (policy-parse.c) ------------------------------------------ */

/* One rule as parsed, before it goes into the tries. */
struct brule {
	struct key key;
	uint32_t next[2]; /* next rule (1-based) on the same node, per family */
	uint16_t lo, hi;  /* ports */
	uint8_t fam, plen, dirs, neg;
};


/* Parses one rule S[0..N) into R. Returns false with MSG filled in. */
struct sbuf;
bool pol_parse_rule(const char *s, size_t n, struct brule *r, struct sbuf *msg);

/* Calls FN(ctx, start, len) for each rule of TEXT[0..len) in order, empty
 * rules included (see the top of this file). Returns the number of rules. */
typedef void (*pol_rule_fn)(void *ctx, const char *s, size_t n);
uint32_t pol_split_rules(const char *text, size_t len, pol_rule_fn fn, void *ctx);

/* ---- bounded string building, for messages (policy-error.c) ----------------- */

struct sbuf {
	char *buf;
	size_t size, len;
};

void sb_init(struct sbuf *b, char *buf, size_t size);
void sb_putc(struct sbuf *b, char c);
void sb_puts(struct sbuf *b, const char *s);
void sb_putu(struct sbuf *b, unsigned long v);
/* User text, with control bytes, non-ASCII, '"' and '\\' as \xNN. */
void sb_putesc(struct sbuf *b, const char *s, size_t n);
/* User text in double quotes, escaped. */
void sb_putq(struct sbuf *b, const char *s, size_t n);
/* Dotted IPv4 text of the address A (host order). */
void sb_put_v4(struct sbuf *b, uint32_t a);
/* RFC 5952 text of the IPv6 address K. */
void sb_put_v6(struct sbuf *b, struct key k);

#endif /* MPTCPIFY_POLICY_INT_H */
