/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* epoll.c - epoll_ctl(2). An epoll set holds the socket, not the fd number:
 * a socket the shim replaces leaves the set with the old socket. So the
 * registration of an UNDECIDED socket is recorded while its slot is held
 * (one set; a second one makes the socket never replaced), and
 * sock_replace() makes it again exactly as it is at that moment. For every
 * other fd this costs one table lookup. */
#include "shim.h"

EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	struct fd_slot *s;
	uint32_t st;
	int ret, saved, err;

	shim_ensure();
	s = undecided_slot(fd);
	if (!s) {
		if (known_slot(fd) && slot_owner(slot_peek(known_slot(fd))))
			slot_touch(fd); /* a MSG_FASTOPEN step-down under way */
		return real.epoll_ctl(epfd, op, fd, ev);
	}
	/* The real call and the record happen while the slot is held, so a
	 * replacement cannot fall between them. */
	saved = errno;
	if (!slot_hold(s, &st, HOLD_WAIT)) {
		/* owned by a replacement: it gives up, the registration goes
		 * on the socket as it is */
		slot_touch(fd);
		errno = saved;
		return real.epoll_ctl(epfd, op, fd, ev);
	}
	ret = real.epoll_ctl(epfd, op, fd, ev);
	if (ret < 0) {
		err = errno;
		slot_release(s, st, st);
		errno = err;
		return ret;
	}
	switch (op) {
	case EPOLL_CTL_ADD:
		if (st & SLOT_EPOLL) {
			st |= SLOT_NOREPLACE; /* in two sets: not worth the book-keeping */
			break;
		}
		s->epfd = epfd;
		s->ep_events = ev ? ev->events : 0;
		s->ep_data = ev ? ev->data.u64 : 0;
		st |= SLOT_EPOLL;
		break;
	case EPOLL_CTL_MOD:
		if ((st & SLOT_EPOLL) && s->epfd == epfd && ev) {
			s->ep_events = ev->events;
			s->ep_data = ev->data.u64;
		}
		break;
	case EPOLL_CTL_DEL:
		if ((st & SLOT_EPOLL) && s->epfd == epfd)
			st &= ~(uint32_t)SLOT_EPOLL;
		break;
	default:
		break;
	}
	slot_release(s, st, st);
	errno = saved;
	return ret;
}
