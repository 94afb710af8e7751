/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* accept.c - accept(2), accept4(2) and recvmsg(2): the calls that give the
 * program new fds other than socket() and dup. A connection accepted from
 * a listener the shim made is the shim's too: its options get the answers
 * of a decided socket (emulated where MPTCP refuses a hint), while a
 * socket accepted from anyone else's listener, or received over
 * SCM_RIGHTS, is never acted on: its number is claimed in the table, in
 * case the shim still remembered a socket closed there behind its back.
 * Memory operations only: no syscall is added. */
#include "shim.h"
#include "tcpwould.h"

#include <string.h>

/* TCP copies most options from a listener to the sockets it accepts: the
 * emulated ones of listener LS go to the accepted socket's slot S as TCP
 * would pass them on (tcpw_inherit). Returns the attributes to add (the
 * identity, taken only when there is something to remember). */
static uint32_t inherit(struct fd_slot *ls, struct fd_slot *s, int fd)
{
	uint32_t lst, add = 0;
	struct slot_opt *o;

	if (!slot_hold(ls, &lst, HOLD_WAIT))
		return 0;
	for (unsigned i = 0; (o = slot_opt_at(ls, i)); i++) {
		unsigned char rec[SLOT_OPT_MAXLEN];
		socklen_t rlen = sizeof(rec);
		if (!(o->flags & OPT_F_EMULATED) ||
		    !tcpw_inherit(o->level, o->name, o->val, o->len, rec, &rlen))
			continue;
		if (!add) {
			s->cookie = sock_cookie(fd);
			if (!s->cookie)
				break;
			add = SLOT_HAVE_COOKIE;
		}
		slot_put_opt(s, o->level, o->name, rec, rlen, OPT_F_EMULATED);
	}
	slot_release(ls, lst, lst);
	return add;
}

/* RET is the accepted fd of LFD: claim its number. */
static int accepted(int lfd, int ret)
{
	struct fd_slot *ls, *s;
	uint32_t lst, st;
	int saved;

	if (ret < 0)
		return ret;
	saved = errno;
	if (known_slot(ret))
		slot_closing(ret); /* a stale record of that number */
	ls = known_slot(lfd);
	lst = ls ? slot_peek(ls) : 0;
	if (ls && slot_phase(lst) == SLOT_DECIDED && (lst & SLOT_LISTENER) &&
	    ls->proto == IPPROTO_MPTCP && (s = fdtab_get(ret, 1)) &&
	    slot_hold(s, &st, HOLD_FREE)) {
		s->family = ls->family;
		s->proto = IPPROTO_MPTCP; /* or TCP, for a plain TCP client:
					     option paths ask the kernel */
		s->tmpfd = -1;
		s->cookie = 0;
		st = SLOT_DECIDED | SLOT_ACCEPTED;
		if (__atomic_load_n(&ls->opts, __ATOMIC_RELAXED))
			st |= inherit(ls, s, ret);
		slot_release(s, 0, st);
	}
	errno = saved;
	return ret;
}

EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
	shim_ensure();
	return accepted(fd, real.accept(fd, addr, len));
}

EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	shim_ensure();
	return accepted(fd, real.accept4(fd, addr, len, flags));
}

EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	ssize_t ret;

	shim_ensure();
	ret = real.recvmsg(fd, msg, flags);
	/* one test on the data path: most messages carry no control data */
	if (ret >= 0 && msg && msg->msg_controllen) {
		int saved = errno;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			const unsigned char *p = CMSG_DATA(c);
			for (size_t i = 0; i < n; i++) {
				int nfd;
				memcpy(&nfd, p + i * sizeof(int), sizeof(int));
				if (known_slot(nfd))
					slot_closing(nfd);
			}
		}
		errno = saved;
	}
	return ret;
}
