/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fdtab.c - the per-fd table and the option-block pool (see fdtab.h). */
#include "fdtab.h"

#include <string.h>
#include <sys/mman.h>

#define CHUNK_SHIFT 8
#define CHUNK_SLOTS (1 << CHUNK_SHIFT)
#define DIR_SIZE (FDTAB_MAX_FD >> CHUNK_SHIFT)

struct chunk {
	struct fd_slot slots[CHUNK_SLOTS];
};

static struct chunk *_Atomic dir[DIR_SIZE];
static atomic_ulong chunks_mapped;

/* Installs the pointer mapped by MAP (a chunk or an arena) at *WHERE unless
 * another thread was first; returns what is there. */
static void *install(void *_Atomic *where, size_t size)
{
	void *cur = atomic_load_explicit(where, memory_order_acquire), *fresh;

	if (cur)
		return cur;
	/* mmap is a plain syscall: async-signal-safe, unlike malloc */
	fresh = mmap(NULL, size, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (fresh == MAP_FAILED)
		return NULL;
	if (!atomic_compare_exchange_strong(where, &cur, fresh)) {
		munmap(fresh, size); /* lost the race: cur is set */
		return cur;
	}
	return fresh;
}

struct fd_slot *fdtab_get(int fd, int create)
{
	struct chunk *c;

	if (fd < 0 || fd >= FDTAB_MAX_FD)
		return NULL;
	c = atomic_load_explicit(&dir[fd >> CHUNK_SHIFT], memory_order_acquire);
	if (!c && create) {
		c = install((void *_Atomic *)&dir[fd >> CHUNK_SHIFT], sizeof(struct chunk));
		if (c)
			atomic_fetch_add_explicit(&chunks_mapped, 1, memory_order_relaxed);
	}
	return c ? &c->slots[fd & (CHUNK_SLOTS - 1)] : NULL;
}

void fdtab_foreach(unsigned first, unsigned last,
		   void (*fn)(int fd, struct fd_slot *s, void *ctx), void *ctx)
{
	if (last >= FDTAB_MAX_FD)
		last = FDTAB_MAX_FD - 1;
	for (unsigned fd = first; fd <= last;) {
		struct chunk *c = atomic_load_explicit(&dir[fd >> CHUNK_SHIFT], memory_order_acquire);
		if (!c) {
			fd = ((fd >> CHUNK_SHIFT) + 1) << CHUNK_SHIFT; /* skip the chunk */
			continue;
		}
		struct fd_slot *s = &c->slots[fd & (CHUNK_SLOTS - 1)];
		if (atomic_load_explicit(&s->state, memory_order_relaxed))
			fn((int)fd, s, ctx);
		fd++;
	}
}

/* ---- option blocks ------------------------------------------------------ */

#define OPTS_PER_BLOCK 5
#define ARENA_SHIFT 8
#define ARENA_BLOCKS (1u << ARENA_SHIFT)
#define MAX_ARENAS 4096

struct opt_block {
	uint32_t next; /* next block of the same slot, or on the free list */
	uint32_t n;    /* options used in this block */
	struct slot_opt o[OPTS_PER_BLOCK];
};

struct arena {
	struct opt_block b[ARENA_BLOCKS];
};

static struct arena *_Atomic arenas[MAX_ARENAS];
static atomic_uint next_block = 1; /* 0 means "none" */
/* free list head: (ABA tag << 32) | block index */
static _Atomic uint64_t free_head;
static atomic_ulong arenas_mapped;

static struct opt_block *block(uint32_t idx)
{
	struct arena *a = atomic_load_explicit(&arenas[idx >> ARENA_SHIFT], memory_order_acquire);
	return a ? &a->b[idx & (ARENA_BLOCKS - 1)] : NULL;
}

static uint32_t block_alloc(void)
{
	uint64_t head = atomic_load_explicit(&free_head, memory_order_acquire);
	uint32_t idx;

	while ((uint32_t)head) {
		/* blocks are never unmapped: reading a block that another
		 * thread just took is harmless, the tag makes the CAS fail */
		uint32_t nxt = block((uint32_t)head)->next;
		uint64_t want = ((head >> 32) + 1) << 32 | nxt;
		if (atomic_compare_exchange_weak_explicit(&free_head, &head, want,
							  memory_order_acquire,
							  memory_order_acquire)) {
			idx = (uint32_t)head;
			goto got;
		}
	}
	idx = atomic_fetch_add_explicit(&next_block, 1, memory_order_relaxed);
	if ((idx >> ARENA_SHIFT) >= MAX_ARENAS)
		return 0;
	if (!atomic_load_explicit(&arenas[idx >> ARENA_SHIFT], memory_order_acquire)) {
		if (!install((void *_Atomic *)&arenas[idx >> ARENA_SHIFT], sizeof(struct arena)))
			return 0; /* the index is lost; so is the memory we lacked */
		atomic_fetch_add_explicit(&arenas_mapped, 1, memory_order_relaxed);
	}
got:
	block(idx)->next = 0;
	block(idx)->n = 0;
	return idx;
}

static void block_free(uint32_t idx)
{
	uint64_t head = atomic_load_explicit(&free_head, memory_order_relaxed);
	do {
		block(idx)->next = (uint32_t)head;
	} while (!atomic_compare_exchange_weak_explicit(&free_head, &head,
							((head >> 32) + 1) << 32 | idx,
							memory_order_release,
							memory_order_relaxed));
}

unsigned long fdtab_memory(void)
{
	return atomic_load(&chunks_mapped) * sizeof(struct chunk) +
	       atomic_load(&arenas_mapped) * sizeof(struct arena);
}

struct slot_opt *slot_opt_at(struct fd_slot *s, unsigned n)
{
	for (uint32_t b = s->opts; b; b = block(b)->next) {
		struct opt_block *ob = block(b);
		if (n < ob->n)
			return &ob->o[n];
		n -= ob->n;
	}
	return NULL;
}

struct slot_opt *slot_find_opt(struct fd_slot *s, int level, int name)
{
	for (uint32_t b = s->opts; b; b = block(b)->next) {
		struct opt_block *ob = block(b);
		for (uint32_t i = 0; i < ob->n; i++)
			if (ob->o[i].level == level && ob->o[i].name == name)
				return &ob->o[i];
	}
	return NULL;
}

int slot_put_opt(struct fd_slot *s, int level, int name, const void *val,
		 socklen_t len, int flags)
{
	struct slot_opt *o;
	unsigned count = 0;
	uint32_t last = 0;

	if (len > SLOT_OPT_MAXLEN || (len && !val))
		return -1;
	o = slot_find_opt(s, level, name);
	if (!o) {
		for (uint32_t b = s->opts; b; b = block(b)->next) {
			count += block(b)->n;
			last = b;
		}
		if (count >= SLOT_MAX_OPTS)
			return -1;
		if (!last || block(last)->n == OPTS_PER_BLOCK) {
			uint32_t nb = block_alloc();
			if (!nb)
				return -1;
			if (last)
				block(last)->next = nb;
			else /* read without owning the slot (a hint) */
				__atomic_store_n(&s->opts, nb, __ATOMIC_RELAXED);
			last = nb;
		}
		o = &block(last)->o[block(last)->n++];
		o->level = level;
		o->name = name;
	}
	o->len = (uint8_t)len;
	o->flags = (uint8_t)flags;
	if (len)
		memcpy(o->val, val, len);
	return 0;
}

void slot_drop_opts(struct fd_slot *s, int (*keep)(const struct slot_opt *o))
{
	struct slot_opt kept[SLOT_MAX_OPTS];
	unsigned nk = 0;
	uint32_t b = s->opts;

	if (!b)
		return;
	if (keep)
		for (uint32_t x = b; x; x = block(x)->next)
			for (uint32_t i = 0; i < block(x)->n; i++)
				if (nk < SLOT_MAX_OPTS && keep(&block(x)->o[i]))
					kept[nk++] = block(x)->o[i];
	__atomic_store_n(&s->opts, 0, __ATOMIC_RELAXED);
	while (b) {
		uint32_t nxt = block(b)->next;
		block_free(b);
		b = nxt;
	}
	for (unsigned i = 0; i < nk; i++)
		slot_put_opt(s, kept[i].level, kept[i].name, kept[i].val, kept[i].len,
			     kept[i].flags);
}
