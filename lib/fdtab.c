/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fdtab.c - the per-fd table (see fdtab.h). */
#include "fdtab.h"

#include <sched.h>
#include <string.h>
#include <sys/mman.h>

#define CHUNK_SHIFT 8
#define CHUNK_SLOTS (1 << CHUNK_SHIFT)
#define DIR_SIZE (FDTAB_MAX_FD >> CHUNK_SHIFT)

struct chunk {
	struct fd_slot slots[CHUNK_SLOTS];
};

static struct chunk *_Atomic dir[DIR_SIZE];

struct fd_slot *fdtab_get(int fd, int create)
{
	struct chunk *c, *fresh = NULL;

	if (fd < 0 || fd >= FDTAB_MAX_FD)
		return NULL;
	c = atomic_load_explicit(&dir[fd >> CHUNK_SHIFT], memory_order_acquire);
	if (c || !create)
		return c ? &c->slots[fd & (CHUNK_SLOTS - 1)] : NULL;

	/* mmap is a plain syscall: async-signal-safe, unlike malloc. */
	fresh = mmap(NULL, sizeof(struct chunk), PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (fresh == MAP_FAILED)
		return NULL;
	if (!atomic_compare_exchange_strong(&dir[fd >> CHUNK_SHIFT], &c, fresh))
		munmap(fresh, sizeof(struct chunk)); /* lost the race: c is set */
	else
		c = fresh;
	return &c->slots[fd & (CHUNK_SLOTS - 1)];
}

int fdtab_trylock(struct fd_slot *s, uint32_t *old_state)
{
	uint32_t cur = atomic_load_explicit(&s->state, memory_order_relaxed);
	do {
		if (cur & SLOT_BUSY)
			return 0;
	} while (!atomic_compare_exchange_weak_explicit(&s->state, &cur, cur | SLOT_BUSY,
							memory_order_acquire,
							memory_order_relaxed));
	s->locked_state = cur;
	*old_state = cur;
	return 1;
}

void fdtab_unlock(struct fd_slot *s, uint32_t new_state)
{
	uint32_t cur = atomic_load_explicit(&s->state, memory_order_relaxed);
	while (cur & SLOT_BUSY) {
		uint32_t added = cur & ~s->locked_state & SLOT_STICKY_BITS;
		uint32_t next = (new_state | added) & ~(uint32_t)SLOT_BUSY;
		if (atomic_compare_exchange_weak_explicit(&s->state, &cur, next,
							  memory_order_release,
							  memory_order_relaxed))
			return;
	}
	/* cleared (close) while we held it: the clear wins */
}

int fdtab_lock_bounded(struct fd_slot *s, uint32_t *old_state, int tries)
{
	for (int i = 0; i < tries; i++) {
		if (fdtab_trylock(s, old_state))
			return 1;
		sched_yield(); /* a syscall: async-signal-safe */
	}
	return 0;
}

void fdtab_clear(int fd)
{
	struct fd_slot *s = fdtab_get(fd, 0);
	if (s && atomic_load_explicit(&s->state, memory_order_relaxed))
		atomic_store_explicit(&s->state, 0, memory_order_release);
}

void fdtab_clear_range(unsigned first, unsigned last)
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
			atomic_store_explicit(&s->state, 0, memory_order_release);
		fd++;
	}
}

void fdtab_set_bits(int fd, uint32_t bits)
{
	struct fd_slot *s = fdtab_get(fd, 0);
	if (s && (atomic_load_explicit(&s->state, memory_order_relaxed) & SLOT_USED))
		atomic_fetch_or_explicit(&s->state, bits, memory_order_relaxed);
}

void fdtab_foreach(void (*fn)(int fd, struct fd_slot *s, void *ctx), void *ctx)
{
	for (int d = 0; d < DIR_SIZE; d++) {
		struct chunk *c = atomic_load_explicit(&dir[d], memory_order_acquire);
		if (!c)
			continue;
		for (int i = 0; i < CHUNK_SLOTS; i++)
			if (atomic_load_explicit(&c->slots[i].state, memory_order_relaxed) & SLOT_USED)
				fn((d << CHUNK_SHIFT) | i, &c->slots[i], ctx);
	}
}

struct slot_opt *slot_find_opt(struct fd_slot *s, int level, int name)
{
	for (unsigned i = 0; i < s->nopts && i < SLOT_MAX_OPTS; i++)
		if (s->opts[i].level == level && s->opts[i].name == name)
			return &s->opts[i];
	return NULL;
}

int slot_put_opt(struct fd_slot *s, int level, int name, const void *val,
		 socklen_t len, int flags)
{
	struct slot_opt *o;

	if (len > SLOT_OPT_MAXLEN || (len && !val))
		return -1;
	o = slot_find_opt(s, level, name);
	if (!o) {
		if (s->nopts >= SLOT_MAX_OPTS)
			return -1;
		o = &s->opts[s->nopts++];
		o->level = level;
		o->name = name;
	}
	o->len = (uint8_t)len;
	o->flags = (uint8_t)flags;
	if (len)
		memcpy(o->val, val, len);
	return 0;
}
