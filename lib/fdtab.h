/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fdtab.h - what the shim remembers per file descriptor.
 *
 * A two-level table indexed by fd number: a static directory of chunk
 * pointers, chunks mmap()ed on first use and installed with compare-and-swap,
 * never freed. No malloc and no locks: each slot has an atomic state word
 * whose SLOT_BUSY bit is taken with a compare-and-swap (try-lock, never
 * waited on, so a signal handler that interrupts its holder just passes the
 * call through). Fields other than `state` are only touched while BUSY.
 *
 * Remembered state is only trusted after checking the socket's identity
 * (SO_COOKIE), since an fd may be closed or replaced behind the shim's back
 * (raw syscalls, close_range, exec). */
#ifndef MPTCPIFY_FDTAB_H
#define MPTCPIFY_FDTAB_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>

/* fds at or beyond this are passed through untracked. */
#define FDTAB_MAX_FD (1 << 20)

/* Options remembered per socket (replayed when a socket is replaced, read
 * back when emulated). */
#define SLOT_MAX_OPTS 24
#define SLOT_OPT_MAXLEN 40

/* slot.state bits */
enum {
	SLOT_USED = 1u << 0,      /* the slot describes a socket */
	SLOT_PENDING = 1u << 1,   /* created by the shim, listen/connect not yet seen */
	SLOT_BUSY = 1u << 2,      /* a thread is working on the slot */
	SLOT_NOREPLACE = 1u << 3, /* never replace: shared by dup/fork, or an
				     option could not be remembered */
	SLOT_HAVE_COOKIE = 1u << 4,
	SLOT_PINNED_TCP = 1u << 5, /* an option that exists only on TCP was set */
	SLOT_EPOLL = 1u << 6,      /* registered in one epoll set (epfd, ev) */
};

/* Bits that another thread may add without the lock (atomic OR) and that
 * an unlock must not drop. */
#define SLOT_STICKY_BITS ((uint32_t)SLOT_NOREPLACE)

/* opt.flags */
enum {
	OPT_F_EMULATED = 1, /* the kernel refused it; value only remembered */
};

struct slot_opt {
	int level;
	int name;
	uint8_t len;
	uint8_t flags;
	unsigned char val[SLOT_OPT_MAXLEN];
};

struct fd_slot {
	_Atomic uint32_t state;
	uint32_t locked_state; /* state when the holder took it (sticky bits) */
	uint16_t family;    /* AF_INET / AF_INET6 */
	uint16_t proto;     /* IPPROTO_TCP or IPPROTO_MPTCP, as the shim made it */
	uint16_t nopts;
	uint64_t cookie;    /* SO_COOKIE when SLOT_HAVE_COOKIE */
	int epfd;           /* with SLOT_EPOLL: the epoll set and ... */
	uint32_t ep_events; /* ... the registration, re-made after a replacement */
	uint64_t ep_data;
	struct slot_opt opts[SLOT_MAX_OPTS];
};

/* The slot for FD, allocating its chunk when CREATE; NULL when FD is out of
 * range, or (without CREATE) when nothing was ever stored near it, or when
 * memory is exhausted. */
struct fd_slot *fdtab_get(int fd, int create);

/* Try-locks SLOT: returns 1 and stores the state it had in *OLD_STATE, or
 * returns 0 (and does nothing) when another thread or an interrupted
 * caller holds it: callers then pass the call through untouched. */
int fdtab_trylock(struct fd_slot *s, uint32_t *old_state);

/* Releases SLOT, storing NEW_STATE (without SLOT_BUSY) plus any sticky bit
 * (SLOT_NOREPLACE) another thread added while it was held (not one the slot
 * had before: a holder that starts the slot afresh drops those). If the slot was cleared
 * by fdtab_clear() meanwhile (close from another thread), the clear wins
 * and nothing is stored. */
void fdtab_unlock(struct fd_slot *s, uint32_t new_state);

/* Forgets FD (close, dup2 onto it). Lock-free; safe on any fd. */
void fdtab_clear(int fd);

/* Forgets every fd from FIRST to LAST inclusive (close_range, closefrom). */
void fdtab_clear_range(unsigned first, unsigned last);

/* Sets bits in FD's state without locking (e.g. SLOT_NOREPLACE on dup). */
void fdtab_set_bits(int fd, uint32_t bits);

/* Takes SLOT's lock, trying up to TRIES times (yielding the CPU between)
 * while another thread holds it; gives up (returns 0) when the holder does
 * not let go, e.g. because it is the code this signal handler interrupted. */
int fdtab_lock_bounded(struct fd_slot *s, uint32_t *old_state, int tries);

/* Tries for a quick option call, and for epoll_ctl(), which must not run
 * beside a replacement of the same socket (a few milliseconds at most). */
#define FDTAB_TRIES_SHORT 200
#define FDTAB_TRIES_LONG 20000

/* Calls FN for every slot in use (fork preparation). */
void fdtab_foreach(void (*fn)(int fd, struct fd_slot *s, void *ctx), void *ctx);

/* Remembered option LEVEL/NAME of a locked slot, or NULL. */
struct slot_opt *slot_find_opt(struct fd_slot *s, int level, int name);

/* Remembers (or overwrites) an option in a locked slot. Returns 0, or -1
 * when it cannot be remembered (too long, table full). */
int slot_put_opt(struct fd_slot *s, int level, int name, const void *val,
		 socklen_t len, int flags);

#endif
