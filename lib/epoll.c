/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* epoll.c - epoll_ctl(2). An epoll set holds the socket, not the fd number:
 * a socket the shim replaces leaves the set with the old socket. So the
 * registration of an undecided socket is remembered (one set; a second one
 * makes the socket never replaced) and sock_replace() makes it again. For
 * every other fd this costs one flag test. */
#include "shim.h"

EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	struct fd_slot *s;
	uint32_t old, add = 0;
	int ret, saved;

	shim_ensure();
	s = pending_slot(fd);
	if (!s)
		return real.epoll_ctl(epfd, op, fd, ev);
	/* The real call and the record happen under the slot's lock, so a
	 * replacement in another thread cannot fall between them (the
	 * registration would then be made on the socket being dropped). */
	saved = errno;
	if (!fdtab_lock_bounded(s, &old, FDTAB_TRIES_LONG)) {
		/* cannot remember it: the socket must then never be replaced */
		atomic_fetch_or_explicit(&s->state, SLOT_NOREPLACE, memory_order_relaxed);
		errno = saved;
		return real.epoll_ctl(epfd, op, fd, ev);
	}
	ret = real.epoll_ctl(epfd, op, fd, ev);
	if (ret < 0) {
		int err = errno;
		fdtab_unlock(s, old);
		errno = err;
		return ret;
	}
	saved = errno;
	switch (op) {
	case EPOLL_CTL_ADD:
		if (old & SLOT_EPOLL) {
			add = SLOT_NOREPLACE; /* in two sets: not worth the book-keeping */
			break;
		}
		s->epfd = epfd;
		s->ep_events = ev ? ev->events : 0;
		s->ep_data = ev ? ev->data.u64 : 0;
		add = SLOT_EPOLL;
		break;
	case EPOLL_CTL_MOD:
		if ((old & SLOT_EPOLL) && s->epfd == epfd && ev) {
			s->ep_events = ev->events;
			s->ep_data = ev->data.u64;
		}
		break;
	case EPOLL_CTL_DEL:
		if ((old & SLOT_EPOLL) && s->epfd == epfd)
			old &= ~(uint32_t)SLOT_EPOLL;
		break;
	default:
		break;
	}
	fdtab_unlock(s, old | add);
	errno = saved;
	return ret;
}
