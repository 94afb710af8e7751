/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* accept.c - accept(2) and accept4(2). A connection accepted from a
 * listener the shim made is the shim's too: its options get the answers
 * of a decided socket (emulated where MPTCP refuses a hint), while a
 * socket accepted from anyone else's listener is never acted on. Memory
 * operations only: no syscall is added. */
#include "shim.h"

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
		s->opts = 0;
		s->tmpfd = -1;
		s->cookie = 0;
		slot_release(s, st, SLOT_DECIDED | SLOT_ACCEPTED);
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
