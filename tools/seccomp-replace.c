/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* seccomp-replace.c - putting a socket of the other protocol over the
 * target's fd number, so that the program cannot tell (lib/replace.c does
 * the same in-process). The supervisor holds a copy of the target's socket
 * (pidfd_getfd): the options the program set are read from it (compared
 * with a fresh socket of the same protocol, so that only what the program
 * changed is carried over), the new socket gets them, the same bound
 * address, the same O_NONBLOCK and close-on-exec, and the target's epoll
 * registrations; SECCOMP_IOCTL_NOTIF_ADDFD with SECCOMP_ADDFD_FLAG_SETFD
 * then swaps it in atomically, and the trapped call continues on it. Only
 * ever done to a socket that is neither listening nor connected. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "seccomp.h"

#ifndef IP_LOCAL_PORT_RANGE
#define IP_LOCAL_PORT_RANGE 51
#endif
#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif
#ifndef SO_PREFER_BUSY_POLL
#define SO_PREFER_BUSY_POLL 69
#endif
#ifndef SO_BUSY_POLL_BUDGET
#define SO_BUSY_POLL_BUDGET 70
#endif

bool sc_undecided(int fd)
{
	int acc = 0;
	socklen_t len = sizeof(acc);
	struct sockaddr_storage peer;
	struct tcp_info ti;

	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) < 0 || acc)
		return false;
	len = sizeof(peer);
	if (getpeername(fd, (struct sockaddr *)&peer, &len) == 0 || errno != ENOTCONN)
		return false;
	/* a connect() in progress is ENOTCONN too: ask the (first subflow's)
	 * TCP state */
	len = sizeof(ti);
	if (getsockopt(fd, SOL_TCP, TCP_INFO, &ti, &len) == 0 && len >= 1 &&
	    ti.tcpi_state != TCP_CLOSE)
		return false;
	return true;
}

/* A fresh socket of FAMILY and PROTO in the target's namespace, or < 0. */
static int twin(const struct sc_target *t, int family, int proto)
{
	return sc_target_socket(t, sc_target_netns(t), family, SOCK_STREAM, proto);
}

int sc_tcp_default(const struct sc_target *t, int family, int level, int name, void *val,
		   socklen_t *len)
{
	int tmp = twin(t, family, IPPROTO_TCP), rc;

	if (tmp < 0)
		return -EOPNOTSUPP; /* cannot ask (EMFILE...): not TCP's answer */
	rc = getsockopt(tmp, level, name, val, len) < 0 ? -errno : 0;
	close(tmp);
	return rc;
}

int sc_tcp_accepts(const struct sc_target *t, int family, int level, int name,
		   const void *val, socklen_t len, void *norm, socklen_t *normlen)
{
	int tmp, rc;

	if (norm) {
		*normlen = len <= *normlen ? len : *normlen;
		if (val)
			memcpy(norm, val, *normlen);
	}
	tmp = twin(t, family, IPPROTO_TCP);
	if (tmp < 0)
		return 0; /* cannot tell: assume TCP would */
	rc = setsockopt(tmp, level, name, val, len) < 0 ? -errno : 0;
	if (rc == 0 && norm) {
		/* TCP clamps and rounds some values: IP_TTL -1 reads 64 */
		unsigned char back[SC_OPT_MAXLEN];
		socklen_t blen = sizeof(back);
		if (getsockopt(tmp, level, name, back, &blen) == 0) {
			*normlen = blen < SC_OPT_MAXLEN ? blen : SC_OPT_MAXLEN;
			memcpy(norm, back, *normlen);
		}
	}
	close(tmp);
	return rc;
}

/* ---- the options carried over ------------------------------------------------- */

enum { K_INT, K_BUF, K_BUFSIZE /* SO_SNDBUF/SO_RCVBUF read back doubled */ };

struct copy_opt {
	int level, name;
	unsigned char kind;
};

/* Read from the old socket, compared with a fresh one of the same protocol,
 * set on the new one when they differ. Options without a way to read them
 * back (TCP_MD5SIG, SO_ATTACH_*...) pin the socket to TCP when they are set
 * (seccomp-notify.c), so they never need carrying. */
static const struct copy_opt copy_opts[] = {
	{ SOL_SOCKET, SO_REUSEADDR, K_INT },
	{ SOL_SOCKET, SO_REUSEPORT, K_INT },
	{ SOL_SOCKET, SO_KEEPALIVE, K_INT },
	{ SOL_SOCKET, SO_PRIORITY, K_INT },
	{ SOL_SOCKET, SO_SNDBUF, K_BUFSIZE },
	{ SOL_SOCKET, SO_RCVBUF, K_BUFSIZE },
	{ SOL_SOCKET, SO_MARK, K_INT },
	{ SOL_SOCKET, SO_LINGER, K_BUF },
	{ SOL_SOCKET, SO_RCVLOWAT, K_INT },
	{ SOL_SOCKET, SO_RCVTIMEO, K_BUF },
	{ SOL_SOCKET, SO_SNDTIMEO, K_BUF },
	{ SOL_SOCKET, SO_BINDTOIFINDEX, K_INT },
	{ SOL_SOCKET, SO_TIMESTAMP, K_INT },
	{ SOL_SOCKET, SO_TIMESTAMPNS, K_INT },
	{ SOL_SOCKET, SO_TIMESTAMPING, K_INT },
	{ SOL_SOCKET, SO_BUSY_POLL, K_INT },
	{ SOL_SOCKET, SO_PREFER_BUSY_POLL, K_INT },
	{ SOL_SOCKET, SO_BUSY_POLL_BUDGET, K_INT },
	{ SOL_SOCKET, SO_INCOMING_CPU, K_INT },
	{ SOL_SOCKET, SO_OOBINLINE, K_INT },
	{ SOL_SOCKET, SO_DONTROUTE, K_INT },
	{ SOL_SOCKET, SO_PEEK_OFF, K_INT },
	{ SOL_SOCKET, SO_MAX_PACING_RATE, K_INT },
	{ SOL_SOCKET, SO_ZEROCOPY, K_INT },
	{ SOL_IP, IP_TOS, K_INT },
	{ SOL_IP, IP_TTL, K_INT },
	{ SOL_IP, IP_MTU_DISCOVER, K_INT },
	{ SOL_IP, IP_RECVERR, K_INT },
	{ SOL_IP, IP_PKTINFO, K_INT },
	{ SOL_IP, IP_MINTTL, K_INT },
	{ SOL_IP, IP_FREEBIND, K_INT },
	{ SOL_IP, IP_TRANSPARENT, K_INT },
	{ SOL_IP, IP_BIND_ADDRESS_NO_PORT, K_INT },
	{ SOL_IP, IP_LOCAL_PORT_RANGE, K_INT },
	{ SOL_IPV6, IPV6_V6ONLY, K_INT },
	{ SOL_IPV6, IPV6_TCLASS, K_INT },
	{ SOL_IPV6, IPV6_UNICAST_HOPS, K_INT },
	{ SOL_IPV6, IPV6_MTU_DISCOVER, K_INT },
	{ SOL_IPV6, IPV6_RECVERR, K_INT },
	{ SOL_IPV6, IPV6_FREEBIND, K_INT },
	{ SOL_IPV6, IPV6_TRANSPARENT, K_INT },
	{ SOL_IPV6, IPV6_MINHOPCOUNT, K_INT },
	{ SOL_IPV6, IPV6_AUTOFLOWLABEL, K_INT },
	{ SOL_IPV6, IPV6_DONTFRAG, K_INT },
	{ SOL_TCP, TCP_NODELAY, K_INT },
	{ SOL_TCP, TCP_MAXSEG, K_INT },
	{ SOL_TCP, TCP_CORK, K_INT },
	{ SOL_TCP, TCP_KEEPIDLE, K_INT },
	{ SOL_TCP, TCP_KEEPINTVL, K_INT },
	{ SOL_TCP, TCP_KEEPCNT, K_INT },
	{ SOL_TCP, TCP_SYNCNT, K_INT },
	{ SOL_TCP, TCP_LINGER2, K_INT },
	{ SOL_TCP, TCP_DEFER_ACCEPT, K_INT },
	{ SOL_TCP, TCP_WINDOW_CLAMP, K_INT },
	{ SOL_TCP, TCP_QUICKACK, K_INT },
	{ SOL_TCP, TCP_CONGESTION, K_BUF },
	{ SOL_TCP, TCP_USER_TIMEOUT, K_INT },
	{ SOL_TCP, TCP_THIN_LINEAR_TIMEOUTS, K_INT },
	{ SOL_TCP, TCP_THIN_DUPACK, K_INT },
	{ SOL_TCP, TCP_FASTOPEN, K_INT },
	{ SOL_TCP, TCP_FASTOPEN_CONNECT, K_INT },
	{ SOL_TCP, TCP_FASTOPEN_NO_COOKIE, K_INT },
	{ SOL_TCP, TCP_NOTSENT_LOWAT, K_INT },
	{ SOL_TCP, TCP_INQ, K_INT },
	{ SOL_TCP, TCP_SAVE_SYN, K_INT },
	{ SOL_TCP, TCP_TX_DELAY, K_INT },
};
#define NCOPY (sizeof(copy_opts) / sizeof(copy_opts[0]))

static int refusal(int err)
{
	return err == EOPNOTSUPP || err == ENOPROTOOPT;
}

/* Carries the options of OLDFD (remembered as OLD; DFLT is a fresh socket of
 * the old protocol) over to NEWFD (protocol PROTO). What the new socket
 * refuses is emulated when its class allows, into EMU (NEMU entries). Returns 0, or
 * a negative errno when one cannot be carried over. */
static int copy_options(const struct sc_target *t, int family, int oldfd, int dflt,
			const struct sc_sock *old, int newfd, int proto, struct sc_emu *emu,
			unsigned *nemu)
{
	for (unsigned i = 0; i < NCOPY; i++) {
		const struct copy_opt *c = &copy_opts[i];
		unsigned char v[SC_OPT_MAXLEN], d[SC_OPT_MAXLEN];
		socklen_t vl = sizeof(v), dl = sizeof(d);
		struct sc_emu *e;
		bool from_emu = false;

		if (c->level == SOL_IPV6 && family != AF_INET6)
			continue;
		/* a value emulated on the old socket wins: the kernel's copy
		 * of it (if any) is not what the program set */
		e = old ? sc_emu_find((struct sc_sock *)old, c->level, c->name) : NULL;
		if (e) {
			memcpy(v, e->val, e->len);
			vl = e->len;
			from_emu = true;
		} else if (getsockopt(oldfd, c->level, c->name, v, &vl) < 0) {
			continue; /* not readable here: not set either */
		} else if (dflt >= 0 && getsockopt(dflt, c->level, c->name, d, &dl) == 0 &&
			   dl == vl && memcmp(d, v, vl) == 0) {
			continue; /* what a fresh socket has: the program left it */
		}
		if (c->kind == K_BUFSIZE && vl >= sizeof(int)) {
			int half = *(int *)v / 2; /* the kernel doubles it back */
			memcpy(v, &half, sizeof(half));
		}
		if (setsockopt(newfd, c->level, c->name, v, vl) == 0)
			continue;
		int err = errno;
		if (proto == IPPROTO_MPTCP && refusal(err)) {
			/* MPTCP refuses what the TCP socket had: emulated when
			 * the class says so or when it is TCP's default anyway,
			 * remembered as the old socket reads it back */
			unsigned char td[SC_OPT_MAXLEN];
			socklen_t tl = sizeof(td);
			bool is_default = sc_tcp_default(t, family, c->level, c->name, td, &tl) == 0 &&
					  tl == vl && memcmp(td, v, vl) == 0;
			if ((optclass_get(sc.cfg.opts, c->level, c->name) == OPT_EMULATE || is_default) &&
			    *nemu < SC_MAX_EMU) {
				struct sc_emu *n = &emu[(*nemu)++];
				n->level = c->level;
				n->name = c->name;
				n->len = (unsigned char)vl;
				memcpy(n->val, v, vl);
				continue;
			}
		}
		if (proto == IPPROTO_TCP && from_emu)
			continue; /* TCP refuses it as well: nothing to carry */
		return -err;
	}
	return 0;
}

/* ---- epoll registrations --------------------------------------------------------- */

struct ep_reg {
	int epfd;            /* in the target */
	uint32_t events;
	uint64_t data;
};

/* Finds the target's epoll instances holding (TFD, socket inode INO): epoll
 * registers the socket, not the number, so closing the old socket drops it
 * from them (nginx adds upstream sockets before connect()). Read from
 * /proc/TID/fdinfo of each eventpoll fd; costs a readlink per fd of the
 * target, paid on replacements only. Returns how many were found. */
static unsigned find_epoll(const struct sc_target *t, int tfd, unsigned long ino,
			   struct ep_reg *regs, unsigned max)
{
	char path[64], link[64];
	unsigned n = 0;
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)t->tid);
	d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d)) && n < max) {
		char info[384], line[256];
		ssize_t l;
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		l = readlinkat(dirfd(d), de->d_name, link, sizeof(link) - 1);
		if (l <= 0)
			continue;
		link[l] = '\0';
		if (strcmp(link, "anon_inode:[eventpoll]") != 0)
			continue;
		snprintf(info, sizeof(info), "/proc/%d/fdinfo/%s", (int)t->tid, de->d_name);
		f = fopen(info, "re");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f) && n < max) {
			int fd;
			unsigned ev;
			unsigned long long data;
			unsigned long eino;
			long long pos;
			if (sscanf(line, "tfd: %d events: %x data: %llx pos:%lli ino:%lx", &fd, &ev,
				   &data, &pos, &eino) == 5 &&
			    fd == tfd && eino == ino) {
				regs[n].epfd = atoi(de->d_name);
				regs[n].events = ev;
				regs[n].data = data;
				n++;
			}
		}
		fclose(f);
	}
	closedir(d);
	return n;
}

/* Registers NEWFD (ours) in the target's epoll instance R under the target's
 * number TFD. epoll keys a registration on (file, fd number) and later
 * EPOLL_CTL_MOD/DEL from the target look it up by its own number, so the
 * registration is made by a short-lived child whose fd table has the new
 * socket at exactly TFD. Returns 0 or a negative errno. */
static int epoll_readd(struct sc_target *t, const struct ep_reg *r, int tfd, int newfd)
{
	struct epoll_event ev = { .events = r->events, .data.u64 = r->data };
	int ep = sc_target_getfd(t, r->epfd), status;
	pid_t pid;

	if (ep < 0)
		return ep;
	pid = fork();
	if (pid == 0) {
		/* only async-signal-safe calls in this child of a threaded process */
		if (newfd != tfd && dup2(newfd, tfd) < 0)
			_exit(1);
		_exit(epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev) == 0 ? 0 : 2);
	}
	close(ep);
	if (pid < 0)
		return -errno;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

/* ---- the replacement -------------------------------------------------------------- */

static bool is_unbound(const struct sockaddr_storage *sa)
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
	return true;
}

#define MAX_EP_REGS 8

int sc_replace(struct sc_target *t, int tfd, int copy, struct sc_sock *old, int proto,
	       struct sc_sock **out)
{
	struct sockaddr_storage local;
	socklen_t len = sizeof(local);
	struct f_owner_ex owner = { F_OWNER_PID, 0 };
	struct sc_emu emu[SC_MAX_EMU];
	struct ep_reg regs[MAX_EP_REGS];
	unsigned nemu = 0, nregs;
	int family, fl, cloexec, newfd, dflt, bound, user_reuse = 0, one = 1, zero = 0, sig = 0;
	int rc, old_proto;
	uint16_t old_flags = old ? old->flags : 0;
	uint64_t old_id = old ? old->id : 0;
	struct stat st;
	ino_t ns = sc_target_netns(t);

	family = sc_sock_domain(copy);
	old_proto = sc_sock_protocol(copy);
	fl = fcntl(copy, F_GETFL);
	if (fl < 0 || fstat(copy, &st) < 0 || getsockname(copy, (struct sockaddr *)&local, &len) < 0)
		return -errno;
	if (fl & O_ASYNC) {
		fcntl(copy, F_GETOWN_EX, &owner);
		sig = fcntl(copy, F_GETSIG);
	}
	cloexec = sc_target_cloexec(t, tfd);
	bound = !is_unbound(&local);

	newfd = sc_target_socket(t, ns, family, SOCK_STREAM | (fl & O_NONBLOCK ? SOCK_NONBLOCK : 0),
				 proto);
	if (newfd < 0)
		return newfd;
	dflt = sc_target_socket(t, ns, family, SOCK_STREAM, old_proto);
	rc = copy_options(t, family, copy, dflt, old, newfd, proto, emu, &nemu);
	if (dflt >= 0)
		close(dflt);
	if (rc < 0)
		goto fail;
	if (bound) {
		/* The old socket still holds the port: both need SO_REUSEADDR
		 * (neither listens) for the new one to bind it. */
		socklen_t l = sizeof(user_reuse);
		getsockopt(copy, SOL_SOCKET, SO_REUSEADDR, &user_reuse, &l);
		if (!user_reuse) {
			setsockopt(copy, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
			setsockopt(newfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		}
		if (bind(newfd, (struct sockaddr *)&local, len) < 0) {
			rc = -errno;
			if (!user_reuse)
				setsockopt(copy, SOL_SOCKET, SO_REUSEADDR, &zero, sizeof(zero));
			goto fail;
		}
	}
	nregs = find_epoll(t, tfd, (unsigned long)st.st_ino, regs, MAX_EP_REGS);
	/* the swap: the target's fd now holds the new socket, atomically */
	rc = sc_addfd(t, newfd, tfd, cloexec, false);
	if (rc < 0) {
		if (bound && !user_reuse)
			setsockopt(copy, SOL_SOCKET, SO_REUSEADDR, &zero, sizeof(zero));
		goto fail;
	}
	if (bound && !user_reuse)
		setsockopt(newfd, SOL_SOCKET, SO_REUSEADDR, &zero, sizeof(zero));
	for (unsigned i = 0; i < nregs; i++)
		if (epoll_readd(t, &regs[i], tfd, newfd) < 0)
			sc_warn_once(SC_ONCE_EPOLL, t->tid,
				     "could not put a replaced socket back into its epoll set");
	if (fl & O_ASYNC) {
		/* signal-driven I/O: the owner and the signal go with it */
		fcntl(newfd, F_SETOWN_EX, &owner);
		fcntl(newfd, F_SETSIG, sig);
	}
	if (fl & ~(O_ACCMODE | O_NONBLOCK | O_LARGEFILE))
		fcntl(newfd, F_SETFL, fl);

	/* the new socket's memory: OLD's marks, the values emulated on it */
	uint64_t id = sc_sock_id(newfd);
	close(newfd);
	if (old_id)
		sc_state_del(old_id);
	struct sc_sock *n = sc_state_add(id);
	if (n) {
		n->flags = (uint16_t)(old_flags | SC_S_OURS);
		for (unsigned i = 0; i < nemu; i++)
			sc_emu_put(n, emu[i].level, emu[i].name, emu[i].val, emu[i].len);
	}
	*out = n;
	return n ? 0 : -ENOMEM;
fail:
	close(newfd);
	return rc;
}
