/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* policy-build.c - from text to image: every rule parsed (each bad one
 * reported, with its file, line and column when it comes from a file), then
 * the tries built, one path-compressed binary trie per family with a port
 * table on every node that carries rules, and written out as the image of
 * policy-int.h in one read-only anonymous mapping. */
#include "policy-int.h"

#include <errno.h>

struct parse_state {
	const char *text;
	struct brule *rules;
	struct rule_ref *refs; /* offsets into TEXT until the image exists */
	uint32_t *lines;       /* per rule, when from a file */
	uint32_t n;
	uint32_t errors;
	uint32_t count[3]; /* rules per family */
	size_t rule_bytes; /* the rules' texts together */
	const struct pol_file *file;
	size_t pos, line_start; /* a cursor: rules come in order */
	uint32_t line;
	policy_error_fn on_error;
	void *ctx;
};

/* Moves the line cursor to S (rules and errors come in text order, so the
 * whole text is scanned once). */
static void track_line(struct parse_state *st, const char *s)
{
	size_t to = (size_t)(s - st->text);

	for (; st->pos < to; st->pos++) {
		if (st->text[st->pos] == '\n') {
			st->line++;
			st->line_start = st->pos + 1;
		}
	}
}

static void parse_one(void *ctx, const char *s, size_t n)
{
	struct parse_state *st = ctx;
	struct brule *r = &st->rules[st->n];
	char buf[256];
	struct sbuf msg;

	sb_init(&msg, buf, sizeof(buf));
	st->refs[st->n].off = (uint32_t)(s - st->text);
	st->refs[st->n].len = (uint32_t)n;
	st->rule_bytes += n;
	if (st->file) {
		track_line(st, s);
		st->lines[st->n] = st->line;
	}
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

		if (st->file) {
			e.file = st->file->path;
			e.line = st->line;
			e.column = (unsigned)(st->pos - st->line_start) + 1;
		}
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

/* Nodes per layout block: what one page fault maps of a file in the page
 * cache (the kernel's fault-around window, 64 KiB by default). */
#define LAYOUT_BLOCK ((uint32_t)(65536 / sizeof(struct node)))

/* Copies the tries from SRC to DST in blocks: from a subtree's root, the
 * first LAYOUT_BLOCK nodes in breadth-first order (about 10 levels), then
 * the subtrees hanging below them, each a block of its own, depth first.
 * A walk from the root then crosses one block per ~10 levels: a lookup in
 * a freshly mapped image of 100,000 rules takes 2 to 4 page faults, not
 * one per level (what a plain depth-first order costs). NEWIDX and STACK
 * have room for every node, QUEUE for 2 * LAYOUT_BLOCK + 2. ROOT[] gets
 * the new indices of the roots. Returns the number of nodes copied. */
static uint32_t relayout(const struct node *src, struct node *dst, uint32_t *root,
			 uint32_t *newidx, uint32_t *stack, uint32_t *queue)
{
	uint32_t next = 0, sp = 0, y, k;
	unsigned i;

	stack[sp++] = root[1];
	stack[sp++] = root[0]; /* first: index 0 must be a root (0 = no child) */
	while (sp) {
		uint32_t head = 0, tail = 0, taken = 0;

		queue[tail++] = stack[--sp];
		while (head < tail && taken < LAYOUT_BLOCK) {
			uint32_t x = queue[head++];

			newidx[x] = next;
			dst[next++] = src[x];
			taken++;
			for (i = 0; i < 2; i++)
				if (src[x].child[i])
					queue[tail++] = src[x].child[i];
		}
		/* what did not fit: the next blocks, the leftmost first */
		for (k = tail; k-- > head;)
			stack[sp++] = queue[k];
	}
	for (y = 0; y < next; y++)
		for (i = 0; i < 2; i++)
			if (dst[y].child[i])
				dst[y].child[i] = newidx[dst[y].child[i]];
	root[0] = newidx[root[0]];
	root[1] = newidx[root[1]];
	return next;
}

/* ---- the image ---------------------------------------------------------------- */

/* Section offsets of an image with these counts; returns its size. The
 * nodes come first, in the header's page: the fault that reads the header
 * maps the top of the tries too. */
static size_t image_layout(struct img_header *h, bool lines)
{
	size_t off = align16(sizeof(*h));

	h->off_nodes = off;
	off = align16(off + (size_t)h->nnodes * sizeof(struct node));
	h->off_pool = off;
	off = align16(off + (size_t)h->npool * sizeof(struct port_iv));
	h->off_rules = off;
	off = align16(off + (size_t)h->nrules * sizeof(struct rule_ref));
	h->off_lines = lines ? off : 0;
	if (lines)
		off = align16(off + (size_t)h->nrules * sizeof(uint32_t));
	h->off_text = off;
	off += h->text_size;
	h->size = off;
	return off;
}

void pol_handle_init(struct policy *p, const struct img_header *h)
{
	const char *base = (const char *)h;

	p->img = h;
	p->nrules = h->nrules;
	p->nnodes = h->nnodes;
	p->npool = h->npool;
	p->text_size = h->text_size;
	p->root[0] = h->root[0];
	p->root[1] = h->root[1];
	p->rules = (const struct rule_ref *)(base + h->off_rules);
	p->lines = (h->flags & IMG_FROM_FILE) ? (const uint32_t *)(base + h->off_lines) : NULL;
	p->nodes = (const struct node *)(base + h->off_nodes);
	p->pool = (const struct port_iv *)(base + h->off_pool);
	p->text = base + h->off_text;
}

/* Counts the rules, parses them into a scratch mapping (reporting every bad
 * one), builds the tries there, then writes the image: handle, header, rule
 * table, lines, nodes in depth-first order, port tables, rule texts.
 * Returns 0, -EINVAL or -ENOMEM. */
int pol_build(const char *text, size_t len, const struct pol_file *file,
	      struct policy **out, policy_error_fn on_error, void *ctx)
{
	size_t scratch_size, map_size, max_nodes, max_pool, max_tmp, off, k;
	struct parse_state st = { .text = text, .file = file, .line = 1,
				  .on_error = on_error, .ctx = ctx };
	struct builder b = { 0 };
	struct img_header *h;
	struct policy *p;
	char *scratch, *base, *img;
	uint32_t n, i, f, nn, root[2];

	if (len > MAX_TEXT)
		return -ENOMEM;
	n = pol_split_rules(text, len, NULL, NULL);

	/* Scratch: parsed rules, their text positions and lines, node lists,
	 * sort space, nodes, port intervals. */
	max_nodes = 2 + 2 * (size_t)n;
	max_tmp = 10 * (size_t)n + 16;
	max_pool = 4 * (size_t)n + max_nodes;
	scratch_size = align16(n * sizeof(struct brule)) +
		       align16(n * sizeof(struct rule_ref)) +
		       align16(n * sizeof(uint32_t)) +
		       align16(2 * max_nodes * sizeof(uint32_t)) +
		       align16(max_tmp * sizeof(uint32_t)) +
		       align16(max_nodes * sizeof(struct node)) +
		       max_pool * sizeof(struct port_iv);
	scratch = map_alloc(scratch_size);
	if (!scratch)
		return -ENOMEM;
	off = 0;
	st.rules = (struct brule *)(scratch + off);
	off += align16(n * sizeof(struct brule));
	st.refs = (struct rule_ref *)(scratch + off);
	off += align16(n * sizeof(struct rule_ref));
	st.lines = (uint32_t *)(scratch + off);
	off += align16(n * sizeof(uint32_t));
	b.head = (uint32_t *)(scratch + off);
	b.tail = b.head + max_nodes;
	off += align16(2 * max_nodes * sizeof(uint32_t));
	b.tmp = (uint32_t *)(scratch + off);
	off += align16(max_tmp * sizeof(uint32_t));
	b.nodes = (struct node *)(scratch + off);
	off += align16(max_nodes * sizeof(struct node));
	b.pool = (struct port_iv *)(scratch + off);

	pol_split_rules(text, len, parse_one, &st);
	if (st.errors) {
		munmap(scratch, scratch_size);
		return -EINVAL;
	}

	b.rules = st.rules;
	for (f = 0; f < 2; f++)
		root[f] = node_new(&b, (struct key){ 0, 0 }, 0);
	for (i = 1; i <= n; i++) {
		const struct brule *r = &st.rules[i - 1];

		if (r->fam == FAM_ANY) {
			list_append(&b, root[FAM_V4], i, FAM_V4);
			list_append(&b, root[FAM_V6], i, FAM_V6);
		} else {
			list_append(&b, trie_insert(&b, root[r->fam], r->key,
						    r->plen), i, r->fam);
		}
	}
	for (f = 0; f < 2; f++)
		build_tree(&b, root[f], f);

	/* The image, exactly sized, after the handle in the same mapping. */
	{
		struct img_header hh = { .nrules = n, .nnodes = b.nn,
					 .npool = b.npool,
					 .text_size = (uint32_t)st.rule_bytes };

		off = align16(sizeof(struct policy));
		map_size = off + image_layout(&hh, file != NULL);
		base = map_alloc(map_size);
		if (!base) {
			munmap(scratch, scratch_size);
			return -ENOMEM;
		}
		img = base + off;
		h = (struct img_header *)img;
		*h = hh;
	}
	for (i = 0; i < 8; i++)
		h->magic[i] = IMG_MAGIC[i];
	h->version = IMG_VERSION;
	h->byte_order = IMG_BYTE_ORDER;
	h->elem_size = IMG_ELEM_SIZE;
	if (file) {
		h->flags = IMG_FROM_FILE;
		h->src = file->src;
		if (file->src.ctime_sec + IMG_RACY_SECONDS >= file->read_sec)
			h->flags |= IMG_RACY;
		for (i = 0; i < n; i++)
			((uint32_t *)(img + h->off_lines))[i] = st.lines[i];
	}
	for (i = 0, k = 0; i < n; i++) {
		struct rule_ref *ref = (struct rule_ref *)(img + h->off_rules) + i;
		uint32_t j;

		for (j = 0; j < st.refs[i].len; j++)
			img[h->off_text + k + j] = text[st.refs[i].off + j];
		ref->off = (uint32_t)k;
		ref->len = st.refs[i].len;
		k += st.refs[i].len;
	}
	/* the layout's work space */
	{
		size_t need = 2 * (size_t)b.nn + 2 * LAYOUT_BLOCK + 2;
		size_t lay_size = PAGE_ROUND(need * sizeof(uint32_t));
		uint32_t *lay = map_alloc(lay_size);

		if (!lay) {
			munmap(scratch, scratch_size);
			munmap(base, map_size);
			return -ENOMEM;
		}
		nn = relayout(b.nodes, (struct node *)(img + h->off_nodes), root, lay,
			      lay + b.nn, lay + 2 * (size_t)b.nn);
		munmap(lay, lay_size);
		(void)nn;
		h->root[0] = root[0];
		h->root[1] = root[1];
	}
	for (i = 0; i < b.npool; i++)
		((struct port_iv *)(img + h->off_pool))[i] = b.pool[i];
	munmap(scratch, scratch_size);

	p = (struct policy *)base;
	pol_handle_init(p, h);
	p->origin = file ? POLICY_FROM_FILE : POLICY_FROM_TEXT;
	p->read_sec = file ? file->read_sec : 0;
	p->map = base;
	p->map_size = map_size;
	p->self_size = 0;
	/* Read-only from now on: a stray write elsewhere cannot change it. */
	mprotect(base, map_size, PROT_READ);
	*out = p;
	return 0;
}

int policy_parse(const char *text, struct policy **out,
		 policy_error_fn on_error, void *ctx)
{
	size_t len = 0;

	if (!text || !out)
		return -EINVAL;
	while (text[len]) {
		if (++len > MAX_TEXT)
			return -ENOMEM;
	}
	return pol_build(text, len, NULL, out, on_error, ctx);
}

void policy_free(struct policy *p)
{
	if (!p)
		return;
	if (p->self_size || p->static_handle) {
		/* a handle over a mapped image (or one not ours: map NULL) */
		if (p->map)
			munmap(p->map, p->map_size);
		if (p->self_size)
			munmap(p, p->self_size);
	} else {
		/* a parsed policy: handle and image in one mapping */
		munmap(p->map, p->map_size);
	}
}
