/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* replace.c - swapping the socket behind an fd for one of another protocol,
 * so that the program cannot tell: same fd number (dup3 onto it), same
 * O_NONBLOCK and FD_CLOEXEC, same bound address and port, every option it
 * set replayed. Only ever done to sockets that are neither listening nor
 * connected, and only after checking the fd still holds the socket the
 * shim made (SO_COOKIE). */
#include "shim.h"
#include "tcpwould.h"
#include "tempsock.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/epoll.h>

int sock_undecided(int fd)
{
	int acc = 0;
	socklen_t len = sizeof(acc);
	struct sockaddr_storage peer;
	struct tcp_info ti;

	if (real.getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) < 0 || acc)
		return 0;
	len = sizeof(peer);
	if (real.getpeername(fd, (struct sockaddr *)&peer, &len) == 0 || errno != ENOTCONN)
		return 0;
	/* a connect() in progress is ENOTCONN too: ask the (first subflow's)
	 * TCP state */
	len = sizeof(ti);
	if (real.getsockopt(fd, SOL_TCP, TCP_INFO, &ti, &len) == 0 && len >= 1 &&
	    ti.tcpi_state != TCP_CLOSE)
		return 0;
	return 1;
}

/* Is SA a wildcard address with port 0, i.e. what an unbound socket reports? */
static int is_unbound(const struct sockaddr_storage *sa)
{
	static const unsigned char zero[16];
	if (sa->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		return in->sin_port == 0 && in->sin_addr.s_addr == 0;
	}
	if (sa->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		return in6->sin6_port == 0 && memcmp(&in6->sin6_addr, zero, 16) == 0;
	}
	return 1;
}

/* Replays the remembered options of S on NEWFD (protocol PROTO). Options the
 * new socket refuses are emulated when their class allows; returns -1 when
 * one cannot be carried over (then the replacement is abandoned). */
static int replay_options(int oldfd, int newfd, struct fd_slot *s, int proto)
{
	for (unsigned i = 0; i < s->nopts; i++) {
		struct slot_opt *o = &s->opts[i];
		if (real.setsockopt(newfd, o->level, o->name, o->val,
				    tcpw_record_value_len(o->level, o->name, o->val, o->len)) == 0) {
			o->flags &= (uint8_t)~OPT_F_EMULATED;
			continue;
		}
		if (proto == IPPROTO_MPTCP && (errno == EOPNOTSUPP || errno == ENOPROTOOPT) &&
		    (optclass_get(&cfg.opts, o->level, o->name) == OPT_EMULATE ||
		     tcpw_is_default(oldfd, o->level, o->name, o->val, o->len))) {
			/* remembered as the old (TCP) socket reads it back */
			if (!(o->flags & OPT_F_EMULATED)) {
				unsigned char back[SLOT_OPT_MAXLEN];
				socklen_t blen = sizeof(back);
				if (real.getsockopt(oldfd, o->level, o->name, back, &blen) == 0 &&
				    blen <= SLOT_OPT_MAXLEN) {
					memcpy(o->val, back, blen);
					o->len = (uint8_t)blen;
				}
			}
			o->flags |= OPT_F_EMULATED;
			continue;
		}
		if (proto == IPPROTO_TCP && (o->flags & OPT_F_EMULATED))
			continue; /* TCP refuses it as well: stays remembered only */
		return -1;
	}
	return 0;
}

int sock_replace(int fd, struct fd_slot *s, int proto)
{
	uint32_t state = atomic_load_explicit(&s->state, memory_order_relaxed);
	struct sockaddr_storage local;
	socklen_t len = sizeof(local);
	int fl, fdfl, newfd, bound, user_reuse = 0, one = 1, zero = 0, err, sig = 0;
	struct f_owner_ex owner = { F_OWNER_PID, 0 };

	if (state & SLOT_NOREPLACE)
		return -EBUSY;
	/* the same socket (when its identity was taken), and still neither
	 * listening nor connected: a connect() the shim did not see (raw
	 * syscall, io_uring) must never lead to a connection being swapped */
	if ((state & SLOT_HAVE_COOKIE) && sock_cookie(fd) != s->cookie)
		return -ESTALE;
	if (!sock_undecided(fd))
		return -ESTALE;
	fl = real.fcntl(fd, F_GETFL);
	fdfl = real.fcntl(fd, F_GETFD);
	if (fl >= 0 && (fl & O_ASYNC)) {
		real.fcntl(fd, F_GETOWN_EX, &owner);
		sig = real.fcntl(fd, F_GETSIG);
	}
	if (fl < 0 || fdfl < 0 || real.getsockname(fd, (struct sockaddr *)&local, &len) < 0)
		return -errno;
	bound = !is_unbound(&local);

	/* temp_socket: possible at RLIMIT_NOFILE too; close-on-exec until
	 * dup3 gives FD its own flags */
	newfd = temp_socket(s->family, SOCK_STREAM | (fl & O_NONBLOCK ? SOCK_NONBLOCK : 0), proto);
	if (newfd < 0) {
		err = errno;
		if (proto == IPPROTO_MPTCP && is_mptcp_refusal(err))
			shim_note_refusal(s->family, err);
		return -err;
	}
	if (replay_options(fd, newfd, s, proto) < 0) {
		err = EOPNOTSUPP;
		goto fail;
	}
	if (bound) {
		/* The old socket still holds the port: both sockets need
		 * SO_REUSEADDR (neither listens) for the new one to bind it. */
		struct slot_opt *o = slot_find_opt(s, SOL_SOCKET, SO_REUSEADDR);
		user_reuse = o && o->len >= sizeof(int) && *(int *)o->val;
		if (!user_reuse) {
			real.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
			real.setsockopt(newfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		}
		if (real.bind(newfd, (struct sockaddr *)&local, len) < 0) {
			err = errno;
			if (!user_reuse)
				real.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &zero, sizeof(zero));
			goto fail;
		}
	}
	/* Is the remembered epoll set still the one holding this socket (the
	 * program may have closed it and got the number for another set)?
	 * A MOD with the same event answers without changing anything. */
	int reregister = 0;
	if (state & SLOT_EPOLL) {
		struct epoll_event cur = { .events = s->ep_events, .data.u64 = s->ep_data };
		reregister = real.epoll_ctl(s->epfd, EPOLL_CTL_MOD, fd, &cur) == 0;
	}
	/* dup3 closes the old socket and puts the new one at FD atomically:
	 * no other thread can see FD free in between. */
	if (real.dup3(newfd, fd, fdfl & FD_CLOEXEC ? O_CLOEXEC : 0) < 0) {
		err = errno;
		goto fail;
	}
	real.close(newfd);
	if (bound && !user_reuse)
		real.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &zero, sizeof(zero));
	if (reregister) {
		/* epoll registers the socket, not the number: closing the old
		 * one dropped it from the program's epoll set (nginx adds its
		 * upstream sockets before connect()) */
		struct epoll_event ev = { .events = s->ep_events, .data.u64 = s->ep_data };
		if (real.epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
			log_msg(LOG_WARN, "could not put a replaced socket back into its epoll set");
	}
	if (fl & O_ASYNC) {
		/* signal-driven I/O: the owner and the signal go with it */
		real.fcntl(fd, F_SETOWN_EX, &owner);
		real.fcntl(fd, F_SETSIG, sig);
	}
	if (fl & ~(O_ACCMODE | O_NONBLOCK | O_LARGEFILE))
		real.fcntl(fd, F_SETFL, fl); /* O_ASYNC and the like */
	s->proto = (uint16_t)proto;
	/* the new socket's identity, for whatever acts on the slot later
	 * (emulated values, a MSG_FASTOPEN step-down) */
	if (state & SLOT_HAVE_COOKIE)
		s->cookie = sock_cookie(fd);
	return 0;
fail:
	real.close(newfd);
	return -err;
}
