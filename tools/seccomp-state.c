/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* seccomp-state.c - what the supervisor remembers per socket (keyed by its
 * SO_COOKIE: which sockets it made, which are decided, emulated option
 * values), the counters, and its log lines in the library's format. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "seccomp.h"

/* The supervisor cannot see a socket close, so memory is bounded instead:
 * the table is a ring in creation order, and when it is full the oldest
 * entry is forgotten (a socket left undecided while 65,536 newer ones were
 * made loses its "made by us" mark, so it is never replaced; an emulated
 * value on it reads back as TCP's default). Lookups go through an open
 * addressing index (linear probing, backward-shift deletion). */
static struct sc_sock *ring;
static unsigned ring_cap, ring_next, ring_used;
static uint32_t *index_tab; /* ring slot + 1, 0 = empty */
static unsigned index_mask;

int sc_state_init(unsigned cap)
{
	unsigned n = 1;

	while (n < cap * 2)
		n <<= 1;
	ring = calloc(cap, sizeof(*ring));
	index_tab = calloc(n, sizeof(*index_tab));
	if (!ring || !index_tab)
		return -ENOMEM;
	ring_cap = cap;
	index_mask = n - 1;
	return 0;
}

static unsigned hash_id(uint64_t id)
{
	id ^= id >> 33;
	id *= 0xff51afd7ed558ccdULL;
	id ^= id >> 33;
	return (unsigned)id & index_mask;
}

/* The index position holding ID, or the empty one where it would go. */
static unsigned index_pos(uint64_t id)
{
	unsigned i = hash_id(id);

	while (index_tab[i] && ring[index_tab[i] - 1].id != id)
		i = (i + 1) & index_mask;
	return i;
}

static void index_remove(unsigned i)
{
	unsigned j = i;

	index_tab[i] = 0;
	for (;;) {
		j = (j + 1) & index_mask;
		if (!index_tab[j])
			return;
		unsigned home = hash_id(ring[index_tab[j] - 1].id);
		/* move j back to i unless its home lies cyclically in (i, j] */
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			index_tab[i] = index_tab[j];
			index_tab[j] = 0;
			i = j;
		}
	}
}

struct sc_sock *sc_state_get(uint64_t id)
{
	unsigned i;

	if (!id || !ring)
		return NULL;
	i = index_pos(id);
	return index_tab[i] ? &ring[index_tab[i] - 1] : NULL;
}

static void forget_slot(unsigned slot)
{
	struct sc_sock *s = &ring[slot];

	if (!s->id)
		return;
	unsigned i = index_pos(s->id);
	if (index_tab[i] == slot + 1)
		index_remove(i);
	free(s->emu);
	memset(s, 0, sizeof(*s));
	ring_used--;
}

struct sc_sock *sc_state_add(uint64_t id)
{
	struct sc_sock *s = sc_state_get(id);
	unsigned slot;

	if (s || !id || !ring)
		return s;
	/* the next ring slot; what it held is the oldest entry */
	slot = ring_next;
	ring_next = (ring_next + 1) % ring_cap;
	forget_slot(slot);
	s = &ring[slot];
	s->id = id;
	index_tab[index_pos(id)] = slot + 1;
	ring_used++;
	return s;
}

void sc_state_del(uint64_t id)
{
	struct sc_sock *s = sc_state_get(id);

	if (s)
		forget_slot((unsigned)(s - ring));
}

struct sc_emu *sc_emu_find(struct sc_sock *s, int level, int name)
{
	for (unsigned i = 0; s && i < s->nemu; i++)
		if (s->emu[i].level == level && s->emu[i].name == name)
			return &s->emu[i];
	return NULL;
}

int sc_emu_put(struct sc_sock *s, int level, int name, const void *val, socklen_t len)
{
	struct sc_emu *e = sc_emu_find(s, level, name);

	if (len > SC_OPT_MAXLEN)
		return -ENOSPC;
	if (!e) {
		if (!s->emu && !(s->emu = calloc(SC_MAX_EMU, sizeof(*s->emu))))
			return -ENOMEM;
		if (s->nemu >= SC_MAX_EMU)
			return -ENOSPC;
		e = &s->emu[s->nemu++];
		e->level = level;
		e->name = name;
	}
	memcpy(e->val, val, len);
	e->len = (unsigned char)len;
	return 0;
}

/* ---- log lines ----------------------------------------------------------- */

void sc_lb_start(struct logbuf *lb, pid_t pid)
{
	lb->len = 0;
	lb->level = LOG_WARN;
	lb->buf[0] = '\0';
	lb_str(lb, "mptcpify[");
	lb_int(lb, pid);
	lb_str(lb, "]: ");
}

static atomic_ulong once_bits;

void sc_warn_once(unsigned key, pid_t pid, const char *msg)
{
	unsigned long bit = 1UL << (key % SC_ONCE_MAX);
	struct logbuf lb;

	if (!log_enabled(LOG_WARN) || (atomic_fetch_or(&once_bits, bit) & bit))
		return;
	sc_lb_start(&lb, pid);
	lb_str(&lb, "warning: ");
	lb_str(&lb, msg);
	lb_emit(&lb);
}

void sc_note_refusal(pid_t pid, int family, int err)
{
	static atomic_int warned;
	struct logbuf lb;

	(void)family;
	/* one warning for the whole tree, whichever family met it first */
	if (!log_enabled(LOG_WARN) || atomic_exchange(&warned, 1))
		return;
	sc_lb_start(&lb, pid);
	lb_str(&lb, "warning: the kernel refuses MPTCP sockets (");
	lb_errno(&lb, err);
	switch (err) {
	case ENOPROTOOPT:
		lb_str(&lb, ": net.mptcp.enabled=0 in this network namespace");
		break;
	case EPROTONOSUPPORT:
		lb_str(&lb, ": kernel built without MPTCP");
		break;
	case EINVAL:
		lb_str(&lb, ": kernel older than 5.6");
		break;
	default:
		lb_str(&lb, ": refused by security policy");
		break;
	}
	lb_str(&lb, "); using plain TCP");
	lb_emit(&lb);
}

void sc_print_stats(pid_t pid)
{
	struct logbuf lb;

	sc_lb_start(&lb, pid);
	lb_str(&lb, "stats: upgraded ");
	lb_uint(&lb, atomic_load(&sc.stats.upgraded));
	lb_str(&lb, ", kept TCP by policy ");
	lb_uint(&lb, atomic_load(&sc.stats.kept_policy));
	lb_str(&lb, ", fell back (kernel refused MPTCP) ");
	lb_uint(&lb, atomic_load(&sc.stats.fell_back));
	lb_str(&lb, ", downgraded for options ");
	lb_uint(&lb, atomic_load(&sc.stats.stepped_down));
	lb_str(&lb, ", options emulated ");
	lb_uint(&lb, atomic_load(&sc.stats.emulated));
	lb_emit(&lb);
}
