/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fdtab.h - where the shim keeps what it remembers per file descriptor:
 * the storage only. Who may change a slot, and when, is slot.h's business.
 *
 * A two-level table indexed by fd number: a static directory of chunk
 * pointers, chunks mmap()ed on first use and installed with compare-and-
 * swap, never freed. A slot is 40 bytes; the options remembered for a
 * socket live out of line, in blocks taken from a lock-free pool (mmap()ed
 * arenas, a tagged free list), so a socket that remembers nothing costs
 * its slot only. No malloc, no locks: usable from signal handlers. */
#ifndef MPTCPIFY_FDTAB_H
#define MPTCPIFY_FDTAB_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>

/* fds at or beyond this are passed through untracked. */
#define FDTAB_MAX_FD (1 << 20)

/* Options remembered per socket (replayed when a socket is replaced, read
 * back when emulated), at most SLOT_OPT_MAXLEN bytes each. */
#define SLOT_MAX_OPTS 24
#define SLOT_OPT_MAXLEN 40

/* slot_opt.flags */
enum {
	OPT_F_EMULATED = 1, /* the kernel refused it (or it was held back): the
			       value is only remembered, and read back */
};

struct slot_opt {
	int level;
	int name;
	uint8_t len;
	uint8_t flags;
	unsigned char val[SLOT_OPT_MAXLEN];
};

/* One fd's slot. `state` is the only field read or written without owning
 * the slot (see slot.h); the others belong to its owner. */
struct fd_slot {
	_Atomic uint32_t state;
	uint16_t family;    /* AF_INET / AF_INET6 */
	uint16_t proto;     /* IPPROTO_TCP or IPPROTO_MPTCP, as the shim made it */
	uint64_t cookie;    /* SO_COOKIE, with SLOT_HAVE_COOKIE */
	uint32_t opts;      /* first option block (0: none) */
	int32_t epfd;       /* with SLOT_EPOLL: the epoll set, and */
	uint64_t ep_data;   /* the registration's data and */
	uint32_t ep_events; /* events, as the program made them */
	int32_t tmpfd;      /* the new socket while a replacement is being
			       built (-1: none): a fork child closes it */
	int32_t owner_tid;  /* the thread replacing it (a fork in that very
			       thread must not wait for itself) */
};

/* The slot for FD, allocating its chunk when CREATE; NULL when FD is out of
 * range, or (without CREATE) when nothing was ever stored near it, or when
 * memory is exhausted. */
struct fd_slot *fdtab_get(int fd, int create);

/* Calls FN for every slot from FIRST to LAST (inclusive) whose state is
 * not 0, skipping chunks never allocated. */
void fdtab_foreach(unsigned first, unsigned last,
		   void (*fn)(int fd, struct fd_slot *s, void *ctx), void *ctx);

/* Bytes of memory the table holds now (slots and option blocks): for the
 * benchmarks' memory figures. */
unsigned long fdtab_memory(void);

/* The options of a slot (its owner only). */
struct slot_opt *slot_find_opt(struct fd_slot *s, int level, int name);
/* Remembers (or overwrites) an option. Returns 0, or -1 when it cannot be
 * remembered (too long, SLOT_MAX_OPTS reached, no memory). */
int slot_put_opt(struct fd_slot *s, int level, int name, const void *val,
		 socklen_t len, int flags);
/* The Nth remembered option in the order they were first set, or NULL. */
struct slot_opt *slot_opt_at(struct fd_slot *s, unsigned n);
/* Forgets every option (NULL keeps none) or those FILTER returns 0 for,
 * giving emptied blocks back to the pool. */
void slot_drop_opts(struct fd_slot *s, int (*keep)(const struct slot_opt *o));

#endif
