/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sockopt.c - setsockopt(2) and getsockopt(2). On an UNDECIDED socket the
 * slot is held around the real call, and a successful option is remembered
 * (a memory copy) to be replayed if the socket is replaced. When an MPTCP
 * socket the shim made refuses an option (EOPNOTSUPP or ENOPROTOOPT from
 * the real call, so a kernel that supports it simply gets it), the
 * option's class decides: emulate it, step an undecided socket down to
 * TCP, or return the kernel's error; once decided, optclass_decided() says.
 * Sockets the shim did not make are never acted on. */
#include "shim.h"
#include "tcpwould.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>

/* ENOTSUPP (524, kernel-internal) leaks out of Linux 5.10's
 * setsockopt(SO_ZEROCOPY) on an MPTCP socket, which TCP accepts. */
#define ENOTSUPP_KERNEL 524

static int refused(int err)
{
	return err == EOPNOTSUPP || err == ENOPROTOOPT || err == ENOTSUPP_KERNEL;
}

/* Says once per option, at info, that it is being emulated (or held
 * back). */
static void note_emulated(int level, int name, const char *how)
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
	lb_start(&lb, LOG_INFO);
	lb_str(&lb, o ? o->name : "an option");
	lb_str(&lb, how);
	lb_emit(&lb);
}

static const char EMULATED[] = " refused by the MPTCP socket: emulated (value remembered and read back)";
static const char HELD_BACK[] =
	" on an MPTCP socket: remembered and read back, not applied (it breaks MP_JOIN here)";

/* Remembers VAL as the emulated value of LEVEL/NAME in the held slot S,
 * binding it to the socket's identity. Returns 0, or -1 when it cannot be
 * remembered. */
static int store_emulated(int fd, struct fd_slot *s, uint32_t *st, int level, int name,
			  const void *val, socklen_t len)
{
	if (!(*st & SLOT_HAVE_COOKIE)) {
		/* all-mode took no identity at socket(): take it now, so
		 * that a reused number never reads this value back */
		s->cookie = sock_cookie(fd);
		if (s->cookie)
			*st |= SLOT_HAVE_COOKIE;
	}
	return slot_put_opt(s, level, name, val, len, OPT_F_EMULATED);
}

/* Validates VAL as TCP in FD's state would, then remembers tcpwould's
 * record. Returns 0, or -1 with TCP's errno (or ERR when it cannot be
 * remembered). *IS_DEFAULT (may be NULL) says whether TCP has that value
 * anyway. */
static int emulate_set(int fd, struct fd_slot *s, uint32_t *st, int level, int name,
		       const void *val, socklen_t len, int err, const char *how)
{
	unsigned char rec[SLOT_OPT_MAXLEN];
	socklen_t rlen = sizeof(rec);

	if (tcpw_set(fd, level, name, val, len, rec, &rlen, NULL, err) < 0)
		return -1;
	if (store_emulated(fd, s, st, level, name, rec, rlen) < 0) {
		errno = err;
		return -1;
	}
	note_emulated(level, name, how);
	return 0;
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

static void log_stepped_down(int fd, int level, int name)
{
	const struct opt_info *o = optclass_find(level, name);
	struct logbuf lb;

	if (!log_enabled(LOG_INFO))
		return;
	lb_start(&lb, LOG_INFO);
	lb_str(&lb, "fd ");
	lb_int(&lb, fd);
	lb_str(&lb, ": MPTCP refuses ");
	lb_str(&lb, o ? o->name : "an option");
	lb_str(&lb, ": socket made plain TCP before connecting");
	lb_emit(&lb);
}

/* setsockopt on an UNDECIDED socket whose slot S (state *ST) is held.
 * Returns the call's result with errno set on failure. */
static int set_undecided(int fd, struct fd_slot *s, uint32_t *st, int level, int name,
			 const void *val, socklen_t len)
{
	int err, rc;

	if (s->proto == IPPROTO_MPTCP && held_back_on_mptcp(level, name))
		return emulate_set(fd, s, st, level, name, val, len, EOPNOTSUPP, HELD_BACK);
	if (s->proto == IPPROTO_MPTCP && tcpw_set_may_differ(level, name)) {
		/* values MPTCP takes where TCP refuses them, or takes and loses */
		int pre = tcpw_set_precheck(fd, level, name, val, len);
		if (pre < 0)
			return -1;
		if (pre > 0)
			return emulate_set(fd, s, st, level, name, val, len, EOPNOTSUPP, EMULATED);
	}
	if (real.setsockopt(fd, level, name, val, len) == 0) {
		if (slot_put_opt(s, level, name, val, len, 0) < 0)
			*st |= SLOT_NOREPLACE; /* cannot be replayed: never replace */
		else if (s->proto == IPPROTO_TCP && pins_tcp(level, name) &&
			 !tcpw_is_default(fd, level, name, val, len))
			*st |= SLOT_PINNED_TCP; /* e.g. SO_ATTACH_FILTER on TCP */
		return 0;
	}
	err = errno;
	/* only a refusal by an MPTCP socket the shim made is acted on; the
	 * rest is the kernel's answer, as TCP would give it */
	if (err == ENOTSUPP_KERNEL)
		err = EOPNOTSUPP; /* the errno a program knows */
	if (!tcpw_set_refused(err, optclass_find(level, name) != NULL) || s->proto != IPPROTO_MPTCP ||
	    !slot_same_socket(fd, s, *st)) {
		errno = err;
		return -1;
	}
	switch (optclass_get(&cfg.opts, level, name)) {
	case OPT_EMULATE:
		return emulate_set(fd, s, st, level, name, val, len, err, EMULATED);
	case OPT_TCP: {
		unsigned char rec[SLOT_OPT_MAXLEN];
		socklen_t rlen = sizeof(rec);
		int dflt = 0;
		/* Only leave MPTCP for an option TCP accepts here: one that
		 * TCP refuses too (IPV6_V6ONLY on an IPv4 socket, a bad value)
		 * gets TCP's own error and the socket stays as it is. */
		if (tcpw_set(fd, level, name, val, len, rec, &rlen, &dflt, err) < 0)
			return -1;
		/* Set to what a TCP socket has anyway (HAProxy resets
		 * TCP_USER_TIMEOUT to 0 on every listener): nothing would
		 * change on TCP, so nothing is pretended by remembering it. */
		if (dflt) {
			if (store_emulated(fd, s, st, level, name, rec, rlen) < 0) {
				errno = err;
				return -1;
			}
			note_emulated(level, name, EMULATED);
			return 0;
		}
		rc = sock_replace(fd, s, IPPROTO_TCP);
		if (rc == -ESTALE)
			*st = SLOT_FREE; /* the number holds another socket */
		if (rc < 0) {
			if (rc != -EBUSY && rc != -ESTALE)
				shim_warn_unreplaced(-rc);
			break;
		}
		*st |= SLOT_STEPPED | (pins_tcp(level, name) ? SLOT_PINNED_TCP : 0);
		log_stepped_down(fd, level, name);
		if (real.setsockopt(fd, level, name, val, len) < 0)
			return -1;
		if (slot_put_opt(s, level, name, val, len, 0) < 0)
			*st |= SLOT_NOREPLACE;
		return 0;
	}
	default:
		break;
	}
	errno = err;
	return -1;
}

/* setsockopt's failure on a DECIDED socket (connected, listening or
 * accepted): emulate or the kernel's error, by optclass_decided(). */
static int set_decided_refused(int fd, struct fd_slot *s, int level, int name, const void *val,
			       socklen_t len, int err, const char *how)
{
	unsigned char rec[SLOT_OPT_MAXLEN];
	socklen_t rlen = sizeof(rec);
	uint32_t st;
	int rc, dflt = 0;

	if (!slot_hold(s, &st, HOLD_WAIT)) {
		errno = err;
		return -1;
	}
	if (slot_phase(st) != SLOT_DECIDED || !slot_same_socket(fd, s, st)) {
		slot_release(s, st, slot_phase(st) == SLOT_DECIDED ? SLOT_FREE : st);
		errno = err;
		return -1;
	}
	/* TCP's verdict in this state first (its errno when it refuses);
	 * then the class: emulate, or, for the others, only a value TCP has
	 * anyway (nothing changes) is remembered; else the kernel's error */
	rc = tcpw_set(fd, level, name, val, len, rec, &rlen, &dflt, err);
	if (rc == 0 && how == EMULATED && !dflt &&
	    optclass_decided(&cfg.opts, level, name) != OPT_EMULATE) {
		errno = err;
		rc = -1;
	} else if (rc == 0 && store_emulated(fd, s, &st, level, name, rec, rlen) < 0) {
		errno = err;
		rc = -1;
	} else if (rc == 0) {
		note_emulated(level, name, how);
	}
	err = errno;
	slot_release(s, st, st);
	errno = err;
	return rc;
}

EXPORT int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	int saved = errno, err, rc;
	struct fd_slot *s;
	uint32_t st;

	shim_ensure();
	s = known_slot(fd);
	if (!s)
		return real.setsockopt(fd, level, name, val, len);
	if (slot_phase(slot_peek(s)) == SLOT_UNDECIDED) {
		if (!slot_hold(s, &st, HOLD_WAIT)) {
			/* owned elsewhere: act on the socket as it is, and
			 * make that owner give up rather than lose this */
			slot_touch(fd);
			return real.setsockopt(fd, level, name, val, len);
		}
		if (slot_phase(st) == SLOT_UNDECIDED) {
			rc = set_undecided(fd, s, &st, level, name, val, len);
			err = errno;
			slot_release(s, st, st);
			errno = rc == 0 ? saved : err;
			return rc;
		}
		slot_release(s, st, st); /* decided meanwhile: below */
	}
	if (slot_owner(slot_peek(s)))
		slot_touch(fd); /* a MSG_FASTOPEN step-down may be under way */
	if (s->proto == IPPROTO_MPTCP && held_back_on_mptcp(level, name) &&
	    slot_phase(slot_peek(s)) == SLOT_DECIDED &&
	    sock_protocol(fd) == IPPROTO_MPTCP) {
		rc = set_decided_refused(fd, s, level, name, val, len, EOPNOTSUPP, HELD_BACK);
		if (rc == 0)
			errno = saved;
		return rc;
	}
	if (s->proto == IPPROTO_MPTCP && tcpw_set_may_differ(level, name) &&
	    slot_phase(slot_peek(s)) == SLOT_DECIDED) {
		int pre = tcpw_set_precheck(fd, level, name, val, len);
		if (pre < 0)
			return -1;
		if (pre > 0) {
			rc = set_decided_refused(fd, s, level, name, val, len, EOPNOTSUPP, EMULATED);
			if (rc == 0)
				errno = saved;
			return rc;
		}
	}
	if (real.setsockopt(fd, level, name, val, len) == 0)
		return 0;
	err = errno == ENOTSUPP_KERNEL ? EOPNOTSUPP : errno;
	if (!tcpw_set_refused(err, optclass_find(level, name) != NULL) ||
	    slot_phase(slot_peek(s)) != SLOT_DECIDED ||
	    optclass_get(&cfg.opts, level, name) == OPT_ERROR || sock_protocol(fd) != IPPROTO_MPTCP) {
		errno = err;
		return -1;
	}
	rc = set_decided_refused(fd, s, level, name, val, len, err, EMULATED);
	if (rc == 0)
		errno = saved;
	return rc;
}

/* The record remembered for the emulated option LEVEL/NAME of FD's
 * socket (identity checked), into REC and *RLEN: 1 when found. */
static int read_remembered(int fd, struct fd_slot *s, int level, int name, void *rec,
			   socklen_t *rlen)
{
	uint32_t st;
	int found = 0;

	if (!slot_hold(s, &st, HOLD_WAIT))
		return 0;
	struct slot_opt *o = slot_find_opt(s, level, name);
	if (o && (o->flags & OPT_F_EMULATED) && (st & SLOT_HAVE_COOKIE) &&
	    s->cookie == sock_cookie(fd)) {
		socklen_t n = *rlen < o->len ? *rlen : o->len;
		memcpy(rec, o->val, n);
		*rlen = n;
		found = 1;
	}
	slot_release(s, st, st);
	return found;
}

EXPORT int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	int saved = errno, err, rc;
	unsigned char rec[SLOT_OPT_MAXLEN];
	socklen_t rlen = sizeof(rec), len_in;
	struct fd_slot *s;

	shim_ensure();
	s = known_slot(fd);
	if (!s)
		return real.getsockopt(fd, level, name, val, len);
	/* A value emulated for this socket wins over the kernel's answer:
	 * some refused options still read (SO_OOBINLINE 0, SO_MAX_PACING_RATE
	 * the MPTCP socket's own), held-back ones read "unset". Sockets with
	 * no remembered option pay one load. */
	if (__atomic_load_n(&s->opts, __ATOMIC_RELAXED) &&
	    read_remembered(fd, s, level, name, rec, &rlen)) {
		if (tcpw_get(fd, level, name, rec, rlen, val, len, 0) < 0)
			return -1;
		goto ok;
	}
	/* the rare answers where MPTCP differs from TCP (the shim's sockets
	 * only: tcpwould acts only when FD is MPTCP) */
	if (tcpw_get_answers_first(level, name) && tcpw_get_first(fd, level, name, val, len, &rc)) {
		if (rc < 0)
			return -1;
		goto ok;
	}
	len_in = len ? *len : 0;
	rc = real.getsockopt(fd, level, name, val, len);
	if (tcpw_get_may_differ(level, name, len_in, rc))
		rc = tcpw_fix_get(fd, level, name, val, len, len_in, rc);
	if (rc == 0)
		return 0;
	err = errno;
	if (!refused(err) || slot_phase(slot_peek(s)) == SLOT_FREE ||
	    optclass_get(&cfg.opts, level, name) == OPT_ERROR || sock_protocol(fd) != IPPROTO_MPTCP) {
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
