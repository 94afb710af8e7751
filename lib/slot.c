/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* slot.c - the slot state machine (see slot.h for the states, who moves
 * them and what each call does in each). */
#include "slot.h"

#include <sched.h>
#include <time.h>
#include <unistd.h>

#define HOLD_SPINS 200    /* sched_yield()s an owner is waited for */
#define PAUSE_YIELDS 100  /* a wait yields this often before it sleeps */
#define PAUSE_SLEEP_NS 50000L

/* Set while a fork() is being prepared: no replacement may start. */
static atomic_int fork_pending;

void slot_pause(long ns)
{
	struct timespec ts = { 0, ns };
	if (ns <= 0)
		sched_yield(); /* syscalls: async-signal-safe */
	else
		nanosleep(&ts, NULL);
}

static long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts); /* async-signal-safe, vDSO */
	return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

/* One step of a bounded wait. *WAITED starts at 0: it counts the first
 * PAUSE_YIELDS steps (sched_yield), then holds the negated monotonic time
 * of the first sleep. Returns 0 once LIMIT_NS of real time has passed
 * since then: a sleep can last far longer than asked (timer slack, a
 * loaded or emulated machine), so the budget is measured, not counted. */
static int wait_step(long *waited, long limit_ns)
{
	if (*waited >= 0 && *waited < PAUSE_YIELDS) {
		slot_pause(0);
		(*waited)++;
		return 1;
	}
	if (*waited >= 0)
		*waited = -now_ns();
	else if (now_ns() + *waited >= limit_ns)
		return 0;
	slot_pause(PAUSE_SLEEP_NS);
	return 1;
}

static int cas(struct fd_slot *s, uint32_t *cur, uint32_t next)
{
	return atomic_compare_exchange_weak_explicit(&s->state, cur, next, memory_order_acq_rel,
						     memory_order_acquire);
}

int slot_hold(struct fd_slot *s, uint32_t *st, int flags)
{
	uint32_t cur = atomic_load_explicit(&s->state, memory_order_acquire);
	long waited = 0;
	int spins = 0;

	for (;;) {
		if (!slot_owner(cur)) {
			if (slot_phase(cur) == SLOT_FREE && !(flags & HOLD_FREE))
				return 0;
			if (cas(s, &cur, cur | SLOT_HELD)) {
				*st = cur;
				return 1;
			}
			continue;
		}
		if (slot_owner(cur) == SLOT_COMMITTING) {
			if (!wait_step(&waited, SLOT_WAIT_COMMIT_NS))
				return 0;
		} else if ((flags & HOLD_WAIT) && spins < HOLD_SPINS) {
			sched_yield();
			spins++;
		} else {
			return 0;
		}
		cur = atomic_load_explicit(&s->state, memory_order_acquire);
	}
}

/* Frees an owned slot: its options go back to the pool. */
static void free_owned(struct fd_slot *s)
{
	slot_drop_opts(s, NULL);
	s->cookie = 0;
	s->tmpfd = -1;
	atomic_store_explicit(&s->state, 0, memory_order_release);
}

void slot_release(struct fd_slot *s, uint32_t held_st, uint32_t newst)
{
	uint32_t cur = atomic_load_explicit(&s->state, memory_order_acquire);

	newst &= ~(uint32_t)(SLOT_OWNER | SLOT_POISONED | SLOT_CLOSED);
	for (;;) {
		uint32_t added = cur & ~held_st & SLOT_CONTENDER;
		if (added & SLOT_CLOSED) {
			free_owned(s);
			return;
		}
		uint32_t next = newst;
		if (added & (SLOT_NOREPLACE | SLOT_POISONED))
			next |= SLOT_NOREPLACE;
		if (slot_phase(next) == SLOT_FREE) {
			free_owned(s);
			return;
		}
		if (cas(s, &cur, next))
			return;
	}
}

int slot_begin_replace(struct fd_slot *s)
{
	uint32_t cur = atomic_load_explicit(&s->state, memory_order_acquire);

	do {
		if (slot_owner(cur) != SLOT_HELD ||
		    (cur & (SLOT_POISONED | SLOT_CLOSED | SLOT_NOREPLACE)))
			return 0;
		s->owner_tid = (int32_t)gettid();
	} while (!atomic_compare_exchange_weak_explicit(&s->state, &cur,
							(cur & ~SLOT_OWNER) | SLOT_REPLACING,
							memory_order_seq_cst,
							memory_order_acquire));
	/* Pairs with slot_fork_prepare(): either it sees REPLACING and waits
	 * for us, or we see its flag and do not start. */
	if (atomic_load_explicit(&fork_pending, memory_order_seq_cst)) {
		slot_end_replace(s);
		return 0;
	}
	return 1;
}

int slot_begin_commit(struct fd_slot *s)
{
	uint32_t cur = atomic_load_explicit(&s->state, memory_order_acquire);

	do {
		if (slot_owner(cur) != SLOT_REPLACING ||
		    (cur & (SLOT_POISONED | SLOT_CLOSED | SLOT_NOREPLACE)))
			return 0;
	} while (!cas(s, &cur, (cur & ~SLOT_OWNER) | SLOT_COMMITTING));
	return 1;
}

void slot_end_replace(struct fd_slot *s)
{
	uint32_t cur = atomic_load_explicit(&s->state, memory_order_acquire);
	while (!cas(s, &cur, (cur & ~SLOT_OWNER) | SLOT_HELD))
		;
}

/* Adds FLAGS to an owned slot, or runs the idle case: returns 1 when the
 * slot was idle (nothing added), 0 when flagged or FREE. A COMMITTING
 * owner is waited for first (bounded). */
static int flag_owned(struct fd_slot *s, uint32_t flags, uint32_t *idle_st)
{
	uint32_t cur = atomic_load_explicit(&s->state, memory_order_acquire);
	long waited = 0;

	for (;;) {
		if (!cur)
			return 0;
		if (!slot_owner(cur)) {
			*idle_st = cur;
			return 1;
		}
		if (slot_owner(cur) == SLOT_COMMITTING && wait_step(&waited, SLOT_WAIT_COMMIT_NS)) {
			cur = atomic_load_explicit(&s->state, memory_order_acquire);
			continue;
		}
		if (cas(s, &cur, cur | flags))
			return 0;
	}
}

static void closing(struct fd_slot *s)
{
	uint32_t cur;

	while (flag_owned(s, SLOT_CLOSED | SLOT_POISONED, &cur)) {
		/* idle: own it for a moment, so that nobody takes the
		 * options while they go back to the pool */
		if (cas(s, &cur, cur | SLOT_HELD)) {
			free_owned(s);
			return;
		}
	}
}

void slot_closing(int fd)
{
	struct fd_slot *s = known_slot(fd);
	if (s)
		closing(s);
}

static void closing_cb(int fd, struct fd_slot *s, void *ctx)
{
	(void)fd;
	(void)ctx;
	closing(s);
}

void slot_closing_range(unsigned first, unsigned last)
{
	fdtab_foreach(first, last, closing_cb, NULL);
}

static void touch(struct fd_slot *s)
{
	uint32_t idle;
	(void)flag_owned(s, SLOT_POISONED, &idle);
}

void slot_touch(int fd)
{
	struct fd_slot *s = known_slot(fd);
	if (s)
		touch(s);
}

static void touch_cb(int fd, struct fd_slot *s, void *ctx)
{
	(void)fd;
	(void)ctx;
	touch(s);
}

void slot_touch_range(unsigned first, unsigned last)
{
	fdtab_foreach(first, last, touch_cb, NULL);
}

void slot_shared(int fd)
{
	struct fd_slot *s = known_slot(fd);
	uint32_t cur;

	if (!s)
		return;
	while (flag_owned(s, SLOT_NOREPLACE | SLOT_POISONED, &cur))
		if (cas(s, &cur, cur | SLOT_NOREPLACE))
			return;
}

void slot_duplicated(int oldfd, int newfd)
{
	struct fd_slot *o, *n;
	uint32_t ost, nst;
	struct slot_opt *opt;

	slot_closing(newfd); /* whatever the number held before */
	o = known_slot(oldfd);
	if (!o || !slot_hold(o, &ost, HOLD_WAIT))
		return;
	if (slot_phase(ost) == SLOT_FREE || !(n = fdtab_get(newfd, 1)) ||
	    !slot_hold(n, &nst, HOLD_FREE)) {
		slot_release(o, ost, ost);
		return;
	}
	n->family = o->family;
	n->proto = o->proto;
	n->cookie = o->cookie;
	n->tmpfd = -1;
	for (unsigned i = 0; (opt = slot_opt_at(o, i)); i++)
		slot_put_opt(n, opt->level, opt->name, opt->val, opt->len, opt->flags);
	/* the registration belongs to the other number */
	slot_release(n, nst, (ost & ~(uint32_t)(SLOT_OWNER | SLOT_CONTENDER | SLOT_EPOLL)) |
				     SLOT_NOREPLACE);
	slot_release(o, ost, ost | SLOT_NOREPLACE);
}

/* ---- fork --------------------------------------------------------------- */

static long fork_waited;

static void prepare_cb(int fd, struct fd_slot *s, void *ctx)
{
	uint32_t cur = atomic_load_explicit(&s->state, memory_order_acquire);
	int32_t self = *(int32_t *)ctx;
	long commit_waited = 0;

	(void)fd;
	for (;;) {
		uint32_t own = slot_owner(cur);
		if (!cur)
			return;
		/* a replacement in another thread, or its commit (which no
		 * signal interrupts): let it finish, so that parent and child
		 * share one socket; a replacement only ever waits for a
		 * commit, so this ends */
		if ((own == SLOT_COMMITTING || (own == SLOT_REPLACING && s->owner_tid != self)) &&
		    wait_step(&commit_waited, SLOT_WAIT_COMMIT_NS)) {
			cur = atomic_load_explicit(&s->state, memory_order_acquire);
			continue;
		}
		/* a short edit in another thread */
		if (own == SLOT_HELD && wait_step(&fork_waited, SLOT_WAIT_FORK_NS)) {
			cur = atomic_load_explicit(&s->state, memory_order_acquire);
			continue;
		}
		if (own) {
			/* it does not finish (it is the code this fork
			 * interrupted, or it is stuck): it must give up */
			if (cas(s, &cur, cur | SLOT_POISONED | SLOT_NOREPLACE))
				return;
			continue;
		}
		/* shared by parent and child from now on */
		if (slot_phase(cur) != SLOT_UNDECIDED || (cur & SLOT_NOREPLACE) ||
		    cas(s, &cur, cur | SLOT_NOREPLACE))
			return;
	}
}

void slot_fork_prepare(void)
{
	atomic_store_explicit(&fork_pending, 1, memory_order_seq_cst);
	int32_t self = (int32_t)gettid();
	fork_waited = 0;
	fdtab_foreach(0, FDTAB_MAX_FD - 1, prepare_cb, &self);
}

void slot_fork_parent(void)
{
	atomic_store_explicit(&fork_pending, 0, memory_order_seq_cst);
}

/* The child has one thread: an owner that was still working at the fork
 * does not exist here. Its half-built socket is closed; the slot keeps the
 * socket as it was, never to be replaced. */
static void child_cb(int fd, struct fd_slot *s, void *ctx)
{
	uint32_t cur = atomic_load_explicit(&s->state, memory_order_relaxed);

	(void)fd;
	(void)ctx;
	if (!slot_owner(cur))
		return;
	if ((slot_owner(cur) == SLOT_REPLACING || slot_owner(cur) == SLOT_COMMITTING) &&
	    s->tmpfd >= 0) {
		close(s->tmpfd);
		s->tmpfd = -1;
	}
	if (cur & SLOT_CLOSED) {
		free_owned(s);
		return;
	}
	atomic_store_explicit(&s->state,
			      (cur & ~(uint32_t)(SLOT_OWNER | SLOT_POISONED)) | SLOT_NOREPLACE,
			      memory_order_relaxed);
}

void slot_fork_child(void)
{
	atomic_store_explicit(&fork_pending, 0, memory_order_relaxed);
	fdtab_foreach(0, FDTAB_MAX_FD - 1, child_cb, NULL);
}
