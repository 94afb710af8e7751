/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* policy-match.c - policy_decide(): one walk down the family's trie, no
 * allocation, no lock, async-signal-safe; and the read-only accessors.
 * Every index read from the image is checked before it is followed (a
 * mapped image is a file: see policy-int.h), at the cost of a few
 * well-predicted compares per step. */
#include "policy-int.h"

#include <netinet/in.h>

unsigned policy_rule_count(const struct policy *p)
{
	return p ? p->nrules : 0;
}

const char *policy_rule_text(const struct policy *p, unsigned n, size_t *len)
{
	struct rule_ref r;

	if (len)
		*len = 0;
	if (!p || n == 0 || n > p->nrules)
		return NULL;
	r = p->rules[n - 1];
	if (r.off > p->text_size || r.len > p->text_size - r.off)
		return NULL;
	if (len)
		*len = r.len;
	return p->text + r.off;
}

unsigned policy_rule_line(const struct policy *p, unsigned n)
{
	if (!p || !p->lines || n == 0 || n > p->nrules)
		return 0;
	return p->lines[n - 1];
}

enum policy_origin policy_origin(const struct policy *p)
{
	return p ? p->origin : POLICY_FROM_TEXT;
}

/* masks[len]: the top LEN bits of a key, built by the compiler: read-only
 * data of the library, shared by every process from the page cache. */
#define MASK_HI(i) ((i) == 0 ? 0 : ~UINT64_C(0) << ((64 - ((i) < 64 ? (i) : 64)) & 63))
#define MASK_LO(i) ((i) <= 64 ? 0 : ~UINT64_C(0) << ((128 - (i)) & 63))
#define M1(i) { MASK_HI(i), MASK_LO(i) }
#define M4(i) M1(i), M1((i) + 1), M1((i) + 2), M1((i) + 3)
#define M16(i) M4(i), M4((i) + 4), M4((i) + 8), M4((i) + 12)
#define M64(i) M16(i), M16((i) + 16), M16((i) + 32), M16((i) + 48)
static const struct key masks[129] = { M64(0), M64(64), M1(128) };

/* The entry of node N for direction D and PORT. */
static inline uint32_t node_entry(const struct policy *p, const struct node *n,
				  unsigned d, uint32_t port)
{
	const struct port_iv *iv;
	uint32_t lo = 0, hi = n->nint;

	if (hi == 1)
		return n->ent[d];
	if (n->tab >= p->npool || hi > p->npool - n->tab)
		return ENT_NONE;
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
 * length on the path (at most 33 or 129 times, also in a damaged image:
 * the prefix length must grow at every step). */
static uint32_t trie_lookup(const struct policy *p, unsigned fam, struct key k,
			    unsigned d, uint32_t port)
{
	const struct node *nodes = p->nodes, *n = &nodes[p->root[fam]];
	const uint32_t nnodes = p->nnodes;
	const uint64_t w[2] = { k.hi, k.lo };
	const unsigned maxlen = fam == FAM_V4 ? 32 : 128;
	uint32_t best = ENT_NONE, e, c;
	unsigned plen = n->plen, next;

	if (plen > maxlen)
		return ENT_NONE;
	for (;;) {
		const struct key *m = &masks[plen];

		if (n->sub_min >= best ||
		    (((k.hi ^ n->key.hi) & m->hi) | ((k.lo ^ n->key.lo) & m->lo)))
			break;
		if (n->nint) {
			e = node_entry(p, n, d, port);
			if (e < best)
				best = e;
		}
		if (plen >= maxlen)
			break;
		c = n->child[(w[plen >> 6] >> (63 - (plen & 63))) & 1];
		if (!c || c >= nnodes)
			break;
		n = &nodes[c];
		next = n->plen;
		if (next <= plen || next > maxlen)
			break;
		plen = next;
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
	if (e == ENT_NONE || (e >> 1) == 0 || (e >> 1) > p->nrules)
		return POLICY_TCP;
	if (rule)
		*rule = e >> 1;
	return (e & 1) ? POLICY_TCP : POLICY_MPTCP;
}
