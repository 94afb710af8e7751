/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sockopt.c - setsockopt(2) and getsockopt(2). The success path only
 * remembers options set on undecided sockets (a memory copy, no syscall):
 * they are replayed if the socket is replaced. When an MPTCP socket refuses
 * an option (EOPNOTSUPP or ENOPROTOOPT from the real call, so a kernel that
 * supports it simply gets it), the option's class decides: emulate it, step
 * an undecided socket down to TCP, or return the kernel's error. */
#include "shim.h"

#include <linux/mptcp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <unistd.h>

#define TCP_MSS_DEFAULT_VALUE 536 /* what TCP reports before a connection */

/* ENOTSUPP (524, kernel-internal) leaks out of Linux 5.10's
 * setsockopt(SO_ZEROCOPY) on an MPTCP socket, which TCP accepts. */
#define ENOTSUPP_KERNEL 524

static int refused(int err)
{
	return err == EOPNOTSUPP || err == ENOPROTOOPT || err == ENOTSUPP_KERNEL;
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

/* The remembered value of an emulated option, into VAL/LEN as TCP would
 * copy it. Returns 1 when found. */
static int read_remembered(int fd, int level, int name, void *val, socklen_t *len)
{
	struct fd_slot *s = fdtab_get(fd, 0);
	uint32_t old;
	int found = 0;

	if (!s || !(atomic_load_explicit(&s->state, memory_order_relaxed) & SLOT_HAVE_COOKIE))
		return 0;
	if (!fdtab_lock_bounded(s, &old, FDTAB_TRIES_SHORT))
		return 0;
	if ((old & SLOT_HAVE_COOKIE) && s->cookie == sock_cookie(fd)) {
		struct slot_opt *o = slot_find_opt(s, level, name);
		if (o) {
			socklen_t n = *len < o->len ? *len : o->len;
			memcpy(val, o->val, n);
			*len = n;
			found = 1;
		}
	}
	fdtab_unlock(s, old);
	return found;
}

/* The MSS of the first subflow of a connected MPTCP socket, or -1. */
static int first_subflow_mss(int fd)
{
	struct {
		struct mptcp_subflow_data d;
		struct tcp_info ti;
	} buf;
	socklen_t len = sizeof(buf);

	memset(&buf, 0, sizeof(buf));
	buf.d.size_subflow_data = sizeof(buf.d);
	buf.d.size_user = sizeof(buf.ti);
	if (real.getsockopt(fd, SOL_MPTCP, MPTCP_TCPINFO, &buf, &len) < 0 ||
	    buf.d.num_subflows < 1 || len < sizeof(buf.d) + offsetof(struct tcp_info, tcpi_rcv_mss))
		return -1;
	return (int)buf.ti.tcpi_snd_mss;
}

/* A fresh TCP socket of FD's family, to ask what TCP would do (failure
 * paths only; the caller closes it), or -1. */
static int tcp_twin(int fd)
{
	int dom = AF_INET;
	socklen_t l = sizeof(dom);

	real.getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &l);
	return real.socket(dom, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
}

/* What a TCP socket would answer for an option nobody set on this one. */
static int default_value(int fd, int level, int name, void *val, socklen_t *len)
{
	struct sockaddr_storage peer;
	socklen_t plen = sizeof(peer);
	int tmp, rc, err;
	socklen_t l;

	if (level == SOL_TCP && name == TCP_MAXSEG) {
		int mss = TCP_MSS_DEFAULT_VALUE;
		if (real.getpeername(fd, (struct sockaddr *)&peer, &plen) == 0) {
			int sub = first_subflow_mss(fd);
			if (sub > 0)
				mss = sub;
		}
		l = *len < sizeof(int) ? *len : sizeof(int);
		memcpy(val, &mss, l);
		*len = l;
		return 0;
	}
	tmp = tcp_twin(fd);
	if (tmp < 0) {
		errno = EOPNOTSUPP; /* cannot ask (EMFILE...): not TCP's answer */
		return -1;
	}
	rc = real.getsockopt(tmp, level, name, val, len);
	err = errno;
	real.close(tmp);
	errno = err;
	return rc;
}

int sockopt_is_tcp_default(int fd, int level, int name, const void *val, socklen_t len)
{
	unsigned char dflt[SLOT_OPT_MAXLEN];
	socklen_t dlen = sizeof(dflt);

	if (!val || len == 0 || len > sizeof(dflt))
		return 0;
	if (default_value(fd, level, name, dflt, &dlen) < 0 || dlen != len)
		return 0;
	return memcmp(dflt, val, len) == 0;
}

/* Would a fresh TCP socket of FD's family accept this setsockopt? When not,
 * *ERR gets the errno TCP gives. When it would, and NORM is given, NORM and
 * *NORMLEN get what TCP reads back after it (TCP clamps and rounds some
 * values: IP_TTL -1 reads 64, TCP_LINGER2 0 reads 60), else VAL as is. */
static int tcp_accepts(int fd, int level, int name, const void *val, socklen_t len, int *err,
		       void *norm, socklen_t *normlen)
{
	int tmp, ok;

	if (norm) {
		*normlen = len <= *normlen ? len : *normlen;
		if (val)
			memcpy(norm, val, *normlen);
	}
	tmp = tcp_twin(fd);
	if (tmp < 0)
		return 1; /* cannot tell: assume TCP would */
	ok = real.setsockopt(tmp, level, name, val, len) == 0;
	if (!ok) {
		*err = errno;
	} else if (norm) {
		unsigned char back[SLOT_OPT_MAXLEN];
		socklen_t blen = sizeof(back);
		if (real.getsockopt(tmp, level, name, back, &blen) == 0) {
			*normlen = blen < SLOT_OPT_MAXLEN ? blen : SLOT_OPT_MAXLEN;
			memcpy(norm, back, *normlen);
		}
	}
	real.close(tmp);
	return ok;
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
			 !sockopt_is_tcp_default(fd, level, name, val, len))
			add = SLOT_PINNED_TCP; /* e.g. SO_ATTACH_FILTER on a TCP socket */
	}
	fdtab_unlock(s, old | add);
}

EXPORT int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	int saved = errno, err, proto;
	struct fd_slot *s;

	shim_ensure();
	if (real.setsockopt(fd, level, name, val, len) == 0) {
		if ((s = pending_slot(fd)))
			remember(fd, s, level, name, val, len);
		errno = saved;
		return 0;
	}
	err = errno;
	if (!refused(err) || (proto = sock_protocol(fd)) != IPPROTO_MPTCP) {
		errno = err;
		return -1;
	}
	if (err == ENOTSUPP_KERNEL)
		err = EOPNOTSUPP; /* the errno a program knows, where one is returned */
	switch (optclass_get(&cfg.opts, level, name)) {
	case OPT_EMULATE: {
		/* validated as TCP would (a value TCP refuses gets TCP's
		 * error), and remembered as TCP would read it back */
		unsigned char norm[SLOT_OPT_MAXLEN];
		socklen_t nlen = sizeof(norm);
		if (len > SLOT_OPT_MAXLEN) {
			errno = err;
			return -1;
		}
		if (!tcp_accepts(fd, level, name, val, len, &err, norm, &nlen)) {
			errno = err;
			return -1;
		}
		if (emulate_set(fd, level, name, norm, nlen, err) < 0)
			return -1;
		errno = saved;
		return 0;
	}
	case OPT_TCP:
		/* Set to what a TCP socket has anyway (HAProxy resets
		 * TCP_USER_TIMEOUT to 0 on every listener): nothing would
		 * change on TCP, so nothing is pretended by remembering it. */
		if (sockopt_is_tcp_default(fd, level, name, val, len)) {
			if (emulate_set(fd, level, name, val, len, err) < 0)
				return -1;
			errno = saved;
			return 0;
		}
		/* Only leave MPTCP for an option TCP accepts: one that TCP
		 * refuses too (IPV6_V6ONLY on an IPv4 socket, a bad value)
		 * gets TCP's own error and the socket stays as it is. */
		if (tcp_accepts(fd, level, name, val, len, &err, NULL, NULL) &&
		    step_down(fd, level, name) == 0) {
			if (real.setsockopt(fd, level, name, val, len) < 0)
				return -1;
			errno = saved;
			return 0;
		}
		break;
	default:
		break;
	}
	errno = err;
	return -1;
}

EXPORT int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	int saved = errno, err;

	shim_ensure();
	if (real.getsockopt(fd, level, name, val, len) == 0)
		return 0;
	err = errno;
	if (!refused(err) || !val || !len || sock_protocol(fd) != IPPROTO_MPTCP) {
		errno = err;
		return -1;
	}
	/* Reading pretends nothing: the value remembered for this socket, else
	 * what TCP reports for a socket where nobody set it. */
	if (optclass_get(&cfg.opts, level, name) == OPT_ERROR) {
		errno = err;
		return -1;
	}
	if (read_remembered(fd, level, name, val, len))
		goto ok;
	if (default_value(fd, level, name, val, len) == 0)
		goto ok;
	return -1; /* TCP refuses it too: TCP's errno, left by default_value() */
ok:
	errno = saved;
	return 0;
}
