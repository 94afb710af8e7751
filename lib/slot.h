/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* slot.h - the life of a slot: the one state machine every interposed
 * call goes through before it acts on what the shim remembers about an fd.
 *
 * A slot's atomic `state` word holds a phase, an owner and flags:
 *
 *   phase      FREE        nothing known about the fd
 *              UNDECIDED   a socket the shim made; listen(), connect() or a
 *                          MSG_FASTOPEN send not seen yet: it may still be
 *                          replaced by one of the other protocol
 *              DECIDED     a socket the shim made (or accepted from a
 *                          listener it made), decided: never replaced again
 *                          (except a refused MSG_FASTOPEN, see send.c); the
 *                          slot only keeps emulated option values
 *   owner      none        idle: anyone may take it
 *              HELD        one call works on the slot's fields (remember an
 *                          option, record an epoll registration, decide)
 *              REPLACING   a replacement socket is being built (replace.c)
 *              COMMITTING  the replacement is being put at the fd number
 *                          (signals are blocked in that thread from the
 *                          replacement's socket() to the end)
 *   contender  NOREPLACE   never replace (shared by dup/fork, or something
 *   flags                  could not be remembered)
 *              POISONED    the program acted on the fd while the slot was
 *                          owned: the owner must not carry on as if nothing
 *                          happened (a replacement gives up)
 *              CLOSED      the program closed the fd (or its number now
 *                          holds another object) while the slot was owned
 *
 * Who moves it:
 *   idle -> HELD             slot_hold(): the interposed call that needs
 *                            the slot's fields (socket() with FREE)
 *   HELD -> REPLACING        slot_begin_replace(): only when neither
 *                            POISONED, CLOSED nor NOREPLACE, and no fork()
 *                            is being prepared
 *   REPLACING -> COMMITTING  slot_begin_commit(): the same conditions,
 *                            checked in one compare-and-swap
 *   REPLACING/COMMITTING -> HELD  slot_end_replace()
 *   HELD -> idle             slot_release(): POISONED becomes NOREPLACE;
 *                            CLOSED frees the slot
 *   any -> contender flags   slot_closing(), slot_touch(), slot_shared():
 *                            any thread, or a signal handler, acting on the
 *                            fd without owning the slot
 *
 * What the program's own calls do, by owner state (a signal handler in
 * the owner's own thread only meets HELD: a replacement is built and
 * committed with its signals blocked):
 *                 idle            HELD/REPLACING         COMMITTING
 *   close(fd)     frees the slot  CLOSED|POISONED, then  waits (bounded) for
 *   dup2/dup3     (owning it for  the real close: the    the commit to end,
 *   onto fd,      a moment)       owner gives up         then as idle: acts
 *   close_range,                                         on the new socket
 *   fclose
 *   setsockopt,   (takes it)      POISONED, then the     waits, then acts on
 *   epoll_ctl,                    real call on the old   the new socket
 *   fcntl(SET..)                  socket
 *   dup(fd)       NOREPLACE       NOREPLACE|POISONED     waits, then NOREPLACE
 *   fork()        undecided ones  waits (bounded) for    waits (bounded)
 *                 get NOREPLACE   the owner; then
 *                                 POISONED
 * Nothing waits for long: only COMMITTING (a handful of syscalls in a
 * thread that cannot be interrupted by a signal) is waited for, up to
 * SLOT_WAIT_COMMIT_NS; a fork waits up to SLOT_WAIT_FORK_NS for owners.
 * No locks, no allocation: async-signal-safe. */
#ifndef MPTCPIFY_SLOT_H
#define MPTCPIFY_SLOT_H

#include <stddef.h>
#include <stdint.h>

#include "fdtab.h"

/* phase */
#define SLOT_FREE 0u
#define SLOT_UNDECIDED 1u
#define SLOT_DECIDED 2u
#define SLOT_PHASE 3u
/* owner */
#define SLOT_HELD (1u << 2)
#define SLOT_REPLACING (2u << 2)
#define SLOT_COMMITTING (3u << 2)
#define SLOT_OWNER (3u << 2)
/* contender flags: any thread may add them with an atomic OR */
#define SLOT_NOREPLACE (1u << 4)
#define SLOT_POISONED (1u << 5)
#define SLOT_CLOSED (1u << 6)
#define SLOT_CONTENDER (SLOT_NOREPLACE | SLOT_POISONED | SLOT_CLOSED)
/* attributes: only the owner changes them */
#define SLOT_HAVE_COOKIE (1u << 7) /* cookie holds the socket's SO_COOKIE */
#define SLOT_PINNED_TCP (1u << 8)  /* an option that exists only on TCP was
				      set: the socket stays TCP */
#define SLOT_STEPPED (1u << 9)     /* made TCP because of an option */
#define SLOT_FELL_BACK (1u << 10)  /* made TCP because the kernel refused MPTCP */
#define SLOT_EPOLL (1u << 11)      /* registered in one epoll set (epfd, ep_*) */
#define SLOT_LISTENER (1u << 12)   /* decided by listen() */
#define SLOT_ACCEPTED (1u << 13)   /* accepted from a listener the shim made */
#define SLOT_POLICY_TCP (1u << 14) /* the policy chose TCP (MSG_FASTOPEN, until counted) */
#define SLOT_COUNTED (1u << 15)    /* counted in the statistics (MSG_FASTOPEN) */

#define SLOT_WAIT_COMMIT_NS 1000000000L /* 1 s: a commit takes microseconds */
#define SLOT_WAIT_FORK_NS 50000000L     /* 50 ms per fork, in all */

static inline uint32_t slot_phase(uint32_t st)
{
	return st & SLOT_PHASE;
}

static inline uint32_t slot_owner(uint32_t st)
{
	return st & SLOT_OWNER;
}

/* The state word, for a first look (one relaxed load). */
static inline uint32_t slot_peek(struct fd_slot *s)
{
	return atomic_load_explicit(&s->state, memory_order_relaxed);
}

/* The slot of FD when it is UNDECIDED (at a first look), else NULL. */
static inline struct fd_slot *undecided_slot(int fd)
{
	struct fd_slot *s = fdtab_get(fd, 0);
	return s && slot_phase(slot_peek(s)) == SLOT_UNDECIDED ? s : NULL;
}

/* The slot of FD when it is not FREE, else NULL. */
static inline struct fd_slot *known_slot(int fd)
{
	struct fd_slot *s = fdtab_get(fd, 0);
	return s && slot_peek(s) ? s : NULL;
}

/* slot_hold() flags */
#define HOLD_FREE 1 /* a FREE slot may be taken (socket(), accept()) */
#define HOLD_WAIT 2 /* wait a little (bounded) for another owner */

/* Takes an idle slot: returns 1 with the state it had in *ST. Returns 0
 * when the slot is FREE (without HOLD_FREE) or owned and stays owned (a
 * COMMITTING owner is always waited for, bounded). */
int slot_hold(struct fd_slot *s, uint32_t *st, int flags);

/* Gives the slot back with NEWST (phase and attributes, no owner). HELD_ST
 * is what slot_hold() returned: contender flags added since are kept
 * (POISONED as NOREPLACE); a CLOSED slot is freed instead. */
void slot_release(struct fd_slot *s, uint32_t held_st, uint32_t newst);

/* HELD -> REPLACING; 0 when the replacement may not start. */
int slot_begin_replace(struct fd_slot *s);
/* REPLACING -> COMMITTING; 0 when the program acted on the fd meanwhile. */
int slot_begin_commit(struct fd_slot *s);
/* REPLACING or COMMITTING -> HELD. */
void slot_end_replace(struct fd_slot *s);

/* The program closes FD, or FD's number now holds another object (a dup2
 * onto it, socket() or accept() returning it): forget what the slot says,
 * or tell its owner. Call before the real close. */
void slot_closing(int fd);
/* Same for every fd from FIRST to LAST. */
void slot_closing_range(unsigned first, unsigned last);
/* The program changes FD's socket or description (an option, a flag, an
 * epoll registration, a bind) without owning the slot: an owner building a
 * replacement gives up; a commit is waited for. */
void slot_touch(int fd);
/* Same for every fd from FIRST to LAST (close_range(CLOSE_RANGE_CLOEXEC)). */
void slot_touch_range(unsigned first, unsigned last);
/* FD's socket gets a second descriptor (dup, F_DUPFD): never replace it. */
void slot_shared(int fd);
/* NEWFD now holds OLDFD's socket (a dup that succeeded): NEWFD's slot
 * becomes a copy of OLDFD's (the shim's socket under a second number:
 * vsftpd moves accepted sockets to fd 0), both never replaced. */
void slot_duplicated(int oldfd, int newfd);

/* fork(): pthread_atfork handlers. */
void slot_fork_prepare(void);
void slot_fork_parent(void);
void slot_fork_child(void);

/* Bounded sleep helper shared by the waits (nanoseconds). */
void slot_pause(long ns);

#endif
