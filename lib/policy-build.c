/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* policy-build.c - policy_parse(): every rule parsed (each bad one
 * reported), then the tries built: one path-compressed binary trie per
 * family, a port table on every node that carries rules, laid out depth
 * first in one read-only mapping. */
#include "policy-int.h"

#include <errno.h>

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
	if (pol_parse_rule(s, n, r, &msg)) {
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
	n = pol_split_rules(text, len, NULL, NULL);

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

	pol_split_rules(text, len, parse_one, &st);
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
