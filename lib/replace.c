/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* replace.c - swapping the socket behind an fd for one of another protocol,
 * as one transaction the program cannot tell from nothing: same fd number
 * (dup3 onto it), same O_NONBLOCK, FD_CLOEXEC and other status flags, same
 * owner and signal, same bound address and port, every option it set
 * replayed, its epoll registration made again exactly. Only ever done to a
 * socket the shim made, neither listening nor connected, and only while the
 * slot is owned (slot.h): anything the program does to the fd meanwhile
 * makes the replacement give up, or, during the short commit, waits. */
#include "shim.h"
#include "tcpwould.h"
#include "tempsock.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

int sock_unconnected(int fd)
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
	struct slot_opt *o;

	for (unsigned i = 0; (o = slot_opt_at(s, i)); i++) {
		if (proto == IPPROTO_MPTCP && held_back_on_mptcp(o->level, o->name)) {
			o->flags |= OPT_F_EMULATED; /* remembered, not applied */
			continue;
		}
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
				unsigned char back[64];
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

/* ---- the epoll registration --------------------------------------------- */

/* Parses an unsigned number in BASE at *P; advances *P. */
static unsigned long long parse_num(const char **p, const char *end, int base)
{
	unsigned long long v = 0;
	while (*p < end && **p == ' ')
		(*p)++;
	for (; *p < end; (*p)++) {
		int d;
		char c = **p;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (base == 16 && c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else
			break;
		v = v * (unsigned)base + (unsigned)d;
	}
	return v;
}

/* Finds "KEY" in [P, END) and returns what follows it, or NULL. */
static const char *after(const char *p, const char *end, const char *key)
{
	size_t k = strlen(key);
	for (; p + k <= end; p++)
		if (memcmp(p, key, k) == 0)
			return p + k;
	return NULL;
}

/* Looks up FD's socket (inode INO) in the epoll set EPFD through
 * /proc/self/fdinfo: 1 with its current events and data (a ONESHOT
 * registration that fired has no event bits left), 0 when the set does not
 * hold it, -1 when that cannot be read. */
static int epoll_lookup(int epfd, int fd, unsigned long ino, uint32_t *events, uint64_t *data)
{
	char path[64], buf[4096];
	struct logbuf pb;
	size_t have = 0;
	int pfd, found = 0;

	pb.len = 0;
	lb_str(&pb, "/proc/self/fdinfo/");
	lb_int(&pb, epfd);
	memcpy(path, pb.buf, pb.len + 1);
	pfd = open(path, O_RDONLY | O_CLOEXEC);
	if (pfd < 0)
		return -1;
	for (;;) {
		ssize_t n = read(pfd, buf + have, sizeof(buf) - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			found = -1;
			break;
		}
		have += (size_t)n;
		/* every complete line */
		char *line = buf, *nl;
		while ((nl = memchr(line, '\n', have - (size_t)(line - buf)))) {
			const char *p = after(line, nl, "tfd:");
			if (p && (int)parse_num(&p, nl, 10) == fd) {
				const char *e = after(p, nl, "events:");
				const char *d = after(p, nl, "data:");
				const char *i = after(p, nl, "ino:");
				if (e && d && i && parse_num(&i, nl, 16) == ino) {
					*events = (uint32_t)parse_num(&e, nl, 16);
					*data = parse_num(&d, nl, 16);
					found = 1;
				}
			}
			line = nl + 1;
		}
		have -= (size_t)(line - buf);
		memmove(buf, line, have);
		if (found || n == 0)
			break;
		if (have == sizeof(buf)) /* a line longer than the buffer */
			have = 0;
	}
	close(pfd);
	return found;
}

/* What the program's registration of FD in S->epfd is now, read just before
 * the old socket goes: 1 (re-make it with *EV), 0 (there is none: nothing
 * to re-make), -1 (it cannot be re-made exactly: do not replace). */
static int epoll_current(int fd, struct fd_slot *s, struct epoll_event *ev)
{
	const uint32_t flag_bits = EPOLLONESHOT | EPOLLET | EPOLLEXCLUSIVE | EPOLLWAKEUP;
	struct stat stt;
	uint32_t events;
	uint64_t data;
	int r = -1;

	if (fstat(fd, &stt) == 0)
		r = epoll_lookup(s->epfd, fd, (unsigned long)stt.st_ino, &events, &data);
	if (r == 0)
		return 0;
	if (r == 1) {
		if (!(events & ~flag_bits))
			return -1; /* a ONESHOT that fired: cannot be re-made disarmed */
		ev->events = events;
		ev->data.u64 = data;
		return 1;
	}
	/* No /proc: a MOD with the same event proves the set holds this
	 * socket and changes nothing, except for registrations whose state
	 * MOD cannot show or must not touch. */
	if (s->ep_events & (EPOLLONESHOT | EPOLLEXCLUSIVE))
		return -1;
	ev->events = s->ep_events;
	ev->data.u64 = s->ep_data;
	if (real.epoll_ctl(s->epfd, EPOLL_CTL_MOD, fd, ev) == 0)
		return 1;
	return errno == ENOENT || errno == EBADF ? 0 : -1;
}

/* ---- the transaction ---------------------------------------------------- */

/* Blocks every signal that can be blocked in this thread (a handler that
 * acts on the fd must run before the replacement or after it, never
 * inside). */
static void block_signals(sigset_t *old)
{
	sigset_t all;
	sigfillset(&all);
	/* faults must still kill, not hang */
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGILL);
	sigdelset(&all, SIGFPE);
	pthread_sigmask(SIG_BLOCK, &all, old);
}

static void drop_temp(struct fd_slot *s, int newfd)
{
	s->tmpfd = -1; /* first: a fork child must never close a reused number */
	real.close(newfd);
}

int sock_replace(int fd, struct fd_slot *s, int proto)
{
	uint32_t state = slot_peek(s);
	struct sockaddr_storage local;
	socklen_t len = sizeof(local);
	int fl, fdfl, newfd, bound, user_reuse = 0, one = 1, zero = 0, err, sig = 0, epoll_rc = 0;
	struct f_owner_ex owner = { F_OWNER_PID, 0 };
	struct epoll_event ev;
	sigset_t oldmask;

	if (state & SLOT_NOREPLACE)
		return -EBUSY;
	s->tmpfd = -1;
	if (!slot_begin_replace(s))
		return -EBUSY;
	/* the same socket, and still neither listening nor connected: a
	 * connect() the shim did not see (raw syscall, io_uring) must never
	 * lead to a connection being swapped */
	if (!slot_same_socket(fd, s, state)) {
		err = ESTALE; /* not the shim's socket any more */
		goto abort;
	}
	if (!sock_unconnected(fd)) {
		err = EISCONN;
		goto abort;
	}
	fl = real.fcntl(fd, F_GETFL);
	fdfl = real.fcntl(fd, F_GETFD);
	if (fl < 0 || fdfl < 0 || real.getsockname(fd, (struct sockaddr *)&local, &len) < 0) {
		err = errno;
		goto abort;
	}
	if (fl & O_ASYNC) {
		real.fcntl(fd, F_GETOWN_EX, &owner);
		sig = real.fcntl(fd, F_GETSIG);
	}
	bound = !is_unbound(&local);

	/* From here to the end no signal handler runs in this thread: one
	 * that acts on the fd runs before the replacement or after it, and
	 * one that forks cannot find the new socket made but not yet in
	 * s->tmpfd (the child would keep it). Every call until then is a
	 * bounded syscall. */
	block_signals(&oldmask);
	/* always close-on-exec while it is the shim's: an exec in another
	 * thread must not inherit it (dup3 gives FD the program's flag) */
	newfd = temp_socket(s->family, SOCK_STREAM | (fl & O_NONBLOCK ? SOCK_NONBLOCK : 0), proto);
	if (newfd < 0) {
		err = errno;
		if (proto == IPPROTO_MPTCP && is_mptcp_refusal(err))
			shim_note_refusal(s->family, err);
		slot_end_replace(s);
		pthread_sigmask(SIG_SETMASK, &oldmask, NULL);
		return -err;
	}
	s->tmpfd = newfd;
	if (replay_options(fd, newfd, s, proto) < 0) {
		err = EOPNOTSUPP;
		goto fail;
	}
	/* properties of the open file description go on the new one now */
	if (fl & O_ASYNC) {
		real.fcntl(newfd, F_SETOWN_EX, &owner);
		real.fcntl(newfd, F_SETSIG, sig);
	}
	if (fl & ~(O_ACCMODE | O_NONBLOCK | O_LARGEFILE))
		real.fcntl(newfd, F_SETFL, fl);

	/* ---- commit: the fd changes hands; nothing of the program's can
	 * run in between in this thread, and other threads wait ---- */
	if (!slot_begin_commit(s)) {
		err = EBUSY;
		goto fail;
	}
	/* last look at the identity (a raw-syscall close and reuse) */
	if ((state & SLOT_HAVE_COOKIE) && sock_cookie(fd) != s->cookie) {
		err = ESTALE;
		goto fail_commit;
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
			goto fail_commit;
		}
		if (!user_reuse)
			real.setsockopt(newfd, SOL_SOCKET, SO_REUSEADDR, &zero, sizeof(zero));
	}
	if (state & SLOT_EPOLL) {
		epoll_rc = epoll_current(fd, s, &ev);
		if (epoll_rc < 0) {
			err = EBUSY;
			if (bound && !user_reuse)
				real.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &zero, sizeof(zero));
			goto fail_commit;
		}
	}
	/* dup3 closes the old socket and puts the new one at FD atomically:
	 * no other thread can see FD free in between. */
	if (real.dup3(newfd, fd, fdfl & FD_CLOEXEC ? O_CLOEXEC : 0) < 0) {
		err = errno;
		goto fail_commit;
	}
	if (epoll_rc == 1 && real.epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		log_msg(LOG_WARN, "could not put a replaced socket back into its epoll set");
	/* the temporary number goes while the slot is still owned: a fork
	 * child sees either it in s->tmpfd (and closes it) or neither */
	drop_temp(s, newfd);
	slot_end_replace(s);
	pthread_sigmask(SIG_SETMASK, &oldmask, NULL);
	s->proto = (uint16_t)proto;
	/* the new socket's identity, for whatever acts on the slot later */
	if (state & SLOT_HAVE_COOKIE)
		s->cookie = sock_cookie(fd);
	return 0;

fail_commit:
fail:
	/* the temporary socket goes while the slot is owned (see above);
	 * owner back to HELD before a handler may run again: it would wait
	 * for COMMITTING */
	drop_temp(s, newfd);
	slot_end_replace(s);
	pthread_sigmask(SIG_SETMASK, &oldmask, NULL);
	return -err;
abort:
	slot_end_replace(s);
	return -err;
}
