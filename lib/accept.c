/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* accept.c - accept(2), accept4(2): a socket accepted from an MPTCP
 * listener starts with what TCP copies from its listener, including the
 * options the shim only emulated on the listener (tcpw_inherit()).
 * (Stand-in written with tcpwould's sweep; the lead's accept.c replaces it.) */
#include "shim.h"
#include "tcpwould.h"

#include <string.h>

static void inherit(int lfd, int fd)
{
	struct fd_slot *ls = fdtab_get(lfd, 0), *cs;
	struct slot_opt copy[SLOT_MAX_OPTS];
	unsigned n = 0;
	uint32_t old;

	if (!ls || !(atomic_load_explicit(&ls->state, memory_order_relaxed) & SLOT_HAVE_COOKIE))
		return;
	if (!fdtab_lock_bounded(ls, &old, FDTAB_TRIES_SHORT))
		return;
	if ((old & SLOT_HAVE_COOKIE) && ls->cookie == sock_cookie(lfd))
		for (unsigned i = 0; i < ls->nopts && i < SLOT_MAX_OPTS; i++)
			if (ls->opts[i].flags & OPT_F_EMULATED)
				copy[n++] = ls->opts[i];
	fdtab_unlock(ls, old);
	if (!n || sock_protocol(fd) != IPPROTO_MPTCP)
		return;
	cs = fdtab_get(fd, 1);
	if (!cs || !fdtab_lock_bounded(cs, &old, FDTAB_TRIES_SHORT))
		return;
	cs->family = ls->family;
	cs->proto = IPPROTO_MPTCP;
	cs->nopts = 0;
	cs->cookie = sock_cookie(fd);
	for (unsigned i = 0; i < n; i++) {
		unsigned char rec[SLOT_OPT_MAXLEN];
		socklen_t rlen = sizeof(rec);
		if (tcpw_inherit(copy[i].level, copy[i].name, copy[i].val, copy[i].len, rec, &rlen))
			slot_put_opt(cs, copy[i].level, copy[i].name, rec, rlen, OPT_F_EMULATED);
	}
	fdtab_unlock(cs, SLOT_USED | SLOT_HAVE_COOKIE);
}

EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
	int saved, nfd;

	shim_ensure();
	nfd = real.accept(fd, addr, len);
	if (nfd >= 0) {
		saved = errno;
		inherit(fd, nfd);
		errno = saved;
	}
	return nfd;
}

EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	int saved, nfd;

	shim_ensure();
	nfd = real.accept4(fd, addr, len, flags);
	if (nfd >= 0) {
		saved = errno;
		inherit(fd, nfd);
		errno = saved;
	}
	return nfd;
}
