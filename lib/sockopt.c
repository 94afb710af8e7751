/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sockopt.c - setsockopt(2) and getsockopt(2). The success path only
 * remembers options set on undecided sockets (a memory copy, no syscall):
 * they are replayed if the socket is replaced. When an MPTCP socket refuses
 * an option (EOPNOTSUPP or ENOPROTOOPT from the real call, so a kernel that
 * supports it simply gets it), the option's class decides: emulate it, step
 * an undecided socket down to TCP, or return the kernel's error. */
#include "shim.h"
#include "tcpwould.h"

#include <linux/mptcp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <unistd.h>

static int refused(int err)
{
	return err == EOPNOTSUPP || err == ENOPROTOOPT;
}

/* Says once per option, at info, that it is being emulated. */
static void note_emulated(int level, int name)
{
	static atomic_ulong logged[2];
	const struct opt_info *o = optclass_find(level, name);
	unsigned idx = o ? (unsigned)(o - optclass_table) : 127;
	unsigned long bit = 1UL << (idx % 64);
	struct logbuf lb;

	atomic_fetch_add_explicit(&stats.emulated, 1, memory_order_relaxed);
	if (!log_enabled(LOG_INFO) ||
	    (atomic_fetch_or(&logged[(idx / 64) & 1], bit) & bit))
		return;
	lb_start(&lb);
	lb_str(&lb, "MPTCP socket refuses ");
	lb_str(&lb, o ? o->name : "an option");
	lb_str(&lb, ": emulated (value remembered and read back)");
	lb_emit(&lb);
}

/* Takes the slot of FD for remembering emulated state: a slot that belonged
 * to another socket (the fd was reused behind our back) is started afresh.
 * Returns the locked slot and its old state, or NULL. */
static struct fd_slot *lock_for_emulation(int fd, uint32_t *old)
{
	struct fd_slot *s = fdtab_get(fd, 1);
	uint64_t cookie;

	if (!s || !fdtab_lock_bounded(s, old, FDTAB_TRIES_SHORT))
		return NULL;
	cookie = sock_cookie(fd);
	if (!(*old & SLOT_USED) || ((*old & SLOT_HAVE_COOKIE) && s->cookie != cookie)) {
		int dom = AF_INET;
		socklen_t l = sizeof(dom);
		real.getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &l);
		s->family = (uint16_t)dom;
		s->proto = IPPROTO_MPTCP;
		s->nopts = 0;
		*old = SLOT_USED;
	}
	s->cookie = cookie;
	*old |= SLOT_HAVE_COOKIE;
	return s;
}

/* The remembered record of an emulated option of FD, into REC and *RLEN.
 * Returns 1 when found. One load when the fd has no slot. */
static int read_remembered(int fd, int level, int name, void *rec, socklen_t *rlen)
{
	struct fd_slot *s = fdtab_get(fd, 0);
	uint32_t old;
	int found = 0;

	if (!s || !(atomic_load_explicit(&s->state, memory_order_relaxed) & SLOT_HAVE_COOKIE))
		return 0;
	if (!fdtab_lock_bounded(s, &old, FDTAB_TRIES_SHORT))
		return 0;
	if ((old & SLOT_HAVE_COOKIE) && s->nopts) {
		struct slot_opt *o = slot_find_opt(s, level, name);
		if (o && (o->flags & OPT_F_EMULATED) && s->cookie == sock_cookie(fd)) {
			socklen_t n = *rlen < o->len ? *rlen : o->len;
			memcpy(rec, o->val, n);
			*rlen = n;
			found = 1;
		}
	}
	fdtab_unlock(s, old);
	return found;
}

/* Emulated setsockopt: validates like TCP, then remembers. */
static int emulate_set(int fd, int level, int name, const void *val, socklen_t len, int err)
{
	struct fd_slot *s;
	uint32_t old;

	if (len > SLOT_OPT_MAXLEN) {
		errno = err;
		return -1;
	}
	s = lock_for_emulation(fd, &old);
	if (!s) {
		/* the slot stayed busy (or no memory): a hint that cannot be
		 * remembered is still no reason for an error TCP never gives */
		note_emulated(level, name);
		return 0;
	}
	if (slot_put_opt(s, level, name, val, len, OPT_F_EMULATED) < 0) {
		fdtab_unlock(s, old);
		errno = err;
		return -1;
	}
	fdtab_unlock(s, old);
	note_emulated(level, name);
	return 0;
}

/* Steps the undecided socket FD (made by the shim) down to TCP. Returns 0
 * when FD is now a TCP socket. */
static int step_down(int fd, int level, int name)
{
	struct fd_slot *s = pending_slot(fd);
	uint32_t old;
	int rc;

	if (!s)
		return -1;
	if (!fdtab_trylock(s, &old))
		return -1;
	if (!(old & SLOT_PENDING)) {
		fdtab_unlock(s, old);
		return -1;
	}
	rc = sock_replace(fd, s, IPPROTO_TCP);
	fdtab_unlock(s, rc == 0 ? old | SLOT_PINNED_TCP : old);
	if (rc == 0) {
		const struct opt_info *o = optclass_find(level, name);
		struct logbuf lb;
		atomic_fetch_add_explicit(&stats.stepped_down, 1, memory_order_relaxed);
		if (log_enabled(LOG_INFO)) {
			lb_start(&lb);
			lb_str(&lb, "fd ");
			lb_int(&lb, fd);
			lb_str(&lb, ": MPTCP refuses ");
			lb_str(&lb, o ? o->name : "an option");
			lb_str(&lb, ": socket made plain TCP before connecting");
			lb_emit(&lb);
		}
	}
	return rc;
}

/* Does an option set on a TCP socket keep it TCP? Yes for those of class
 * tcp that no kernel accepts on MPTCP sockets (TCP_MD5SIG, SO_ATTACH_*...):
 * replaying them could only fail, and some carry pointers or fds that may
 * be gone by then. Others are replayed, and a refusal then keeps TCP. */
static int pins_tcp(int level, int name)
{
	const struct opt_info *o = optclass_find(level, name);
	return o && o->dflt == OPT_TCP && o->since == 0;
}

/* Remembers an option set successfully on an undecided socket. */
static void remember(int fd, struct fd_slot *s, int level, int name, const void *val,
		     socklen_t len)
{
	uint32_t old, add = 0;

	if (!fdtab_trylock(s, &old)) {
		atomic_fetch_or_explicit(&s->state, SLOT_NOREPLACE, memory_order_relaxed);
		return;
	}
	if (old & SLOT_PENDING) {
		if (slot_put_opt(s, level, name, val, len, 0) < 0)
			add = SLOT_NOREPLACE; /* cannot be replayed: never replace */
		else if (s->proto == IPPROTO_TCP && pins_tcp(level, name) &&
			 !tcpw_is_default(fd, level, name, val, len))
			add = SLOT_PINNED_TCP; /* e.g. SO_ATTACH_FILTER on a TCP socket */
	}
	fdtab_unlock(s, old | add);
}

EXPORT int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	int saved = errno, err, proto;
	struct fd_slot *s;

	shim_ensure();
	/* values MPTCP takes where TCP refuses them, or takes and loses */
	if (tcpw_set_may_differ(level, name)) {
		int pre = tcpw_set_precheck(fd, level, name, val, len);
		if (pre < 0)
			return -1;
		if (pre > 0) {
			unsigned char rec[SLOT_OPT_MAXLEN];
			socklen_t rlen = sizeof(rec);
			if (tcpw_set(fd, level, name, val, len, rec, &rlen, NULL, 0) < 0 ||
			    emulate_set(fd, level, name, rec, rlen, EOPNOTSUPP) < 0)
				return -1;
			errno = saved;
			return 0;
		}
	}
	if (real.setsockopt(fd, level, name, val, len) == 0) {
		if ((s = pending_slot(fd)))
			remember(fd, s, level, name, val, len);
		errno = saved;
		return 0;
	}
	err = errno;
	if (!tcpw_set_refused(err, optclass_find(level, name) != NULL) ||
	    (proto = sock_protocol(fd)) != IPPROTO_MPTCP) {
		errno = err;
		return -1;
	}
	switch (optclass_get(&cfg.opts, level, name)) {
	case OPT_EMULATE: {
		/* validated as TCP in this state would (a value TCP refuses
		 * gets TCP's error), remembered as tcpwould's record */
		unsigned char rec[SLOT_OPT_MAXLEN];
		socklen_t rlen = sizeof(rec);
		if (tcpw_set(fd, level, name, val, len, rec, &rlen, NULL, err) < 0)
			return -1;
		if (emulate_set(fd, level, name, rec, rlen, err) < 0)
			return -1;
		errno = saved;
		return 0;
	}
	case OPT_TCP: {
		unsigned char rec[SLOT_OPT_MAXLEN];
		socklen_t rlen = sizeof(rec);
		int dflt = 0;
		/* Only leave MPTCP for an option TCP accepts here: one that
		 * TCP refuses too (IPV6_V6ONLY on an IPv4 socket, a bad value,
		 * TCP_REPAIR on a listener) gets TCP's own error and the
		 * socket stays as it is. */
		if (tcpw_set(fd, level, name, val, len, rec, &rlen, &dflt, err) < 0)
			return -1;
		/* Set to what a TCP socket has anyway (HAProxy resets
		 * TCP_USER_TIMEOUT to 0 on every listener): nothing would
		 * change on TCP, so nothing is pretended by remembering it. */
		if (dflt) {
			if (emulate_set(fd, level, name, rec, rlen, err) < 0)
				return -1;
			errno = saved;
			return 0;
		}
		if (step_down(fd, level, name) == 0) {
			if (real.setsockopt(fd, level, name, val, len) < 0)
				return -1;
			errno = saved;
			return 0;
		}
		break;
	}
	default:
		break;
	}
	errno = err;
	return -1;
}

EXPORT int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	int saved = errno, err;
	unsigned char rec[SLOT_OPT_MAXLEN];
	socklen_t rlen = sizeof(rec), len_in;

	shim_ensure();
	/* A value emulated for this socket wins, also where the MPTCP kernel
	 * answers itself (SO_MAX_PACING_RATE is read from the MPTCP socket,
	 * which never got it). */
	if (read_remembered(fd, level, name, rec, &rlen)) {
		if (tcpw_get(fd, level, name, rec, rlen, val, len, 0) < 0)
			return -1;
		goto ok;
	}
	/* the rare answers where MPTCP differs from TCP */
	if (tcpw_get_answers_first(level, name)) {
		int rc;
		if (tcpw_get_first(fd, level, name, val, len, &rc)) {
			if (rc < 0)
				return -1;
			goto ok;
		}
	}
	len_in = len ? *len : 0;
	int rc = real.getsockopt(fd, level, name, val, len);
	if (tcpw_get_may_differ(level, name, len_in, rc))
		rc = tcpw_fix_get(fd, level, name, val, len, len_in, rc);
	if (rc == 0)
		goto ok;
	err = errno;
	if (!refused(err) || sock_protocol(fd) != IPPROTO_MPTCP ||
	    optclass_get(&cfg.opts, level, name) == OPT_ERROR) {
		errno = err;
		return -1;
	}
	/* Reading pretends nothing: what TCP reports for a socket in this
	 * state where nobody set it (NULL and odd lengths included). */
	if (tcpw_get(fd, level, name, NULL, 0, val, len, err) < 0)
		return -1; /* TCP refuses it too: TCP's errno */
ok:
	errno = saved;
	return 0;
}
