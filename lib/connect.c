/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* connect.c - listen(2) and connect(2): where the policy decides. A socket
 * the shim made stays undecided until the program names the address that
 * matters: its local address when it listens, the destination when it
 * connects (or sends with MSG_FASTOPEN, see send.c). */
#include "shim.h"

#include <netinet/in.h>
#include <string.h>

/* The local address a listener will have: bind to the wildcard address with
 * port 0 first if the program did not bind (listen() would do just that). */
static int listen_address(int fd, int family, struct sockaddr_storage *ss, socklen_t *len)
{
	*len = sizeof(*ss);
	if (real.getsockname(fd, (struct sockaddr *)ss, len) < 0)
		return -1;
	if ((family == AF_INET && ((struct sockaddr_in *)ss)->sin_port == 0) ||
	    (family == AF_INET6 && ((struct sockaddr_in6 *)ss)->sin6_port == 0)) {
		struct sockaddr_storage any;
		memset(&any, 0, sizeof(any));
		any.ss_family = (sa_family_t)family;
		if (real.bind(fd, (struct sockaddr *)&any,
			      family == AF_INET ? sizeof(struct sockaddr_in)
						: sizeof(struct sockaddr_in6)) < 0 &&
		    errno != EINVAL /* already bound (port kept for later) */)
			return -1;
		*len = sizeof(*ss);
		if (real.getsockname(fd, (struct sockaddr *)ss, len) < 0)
			return -1;
	}
	return 0;
}

static void log_decision(int fd, enum policy_dir dir, const struct sockaddr *sa,
			 socklen_t len, int proto, unsigned rule, const char *note)
{
	struct logbuf lb;
	size_t tlen = 0;
	const char *text;

	if (!log_enabled(LOG_INFO))
		return;
	lb_start(&lb);
	lb_str(&lb, "fd ");
	lb_int(&lb, fd);
	lb_str(&lb, dir == POLICY_LISTEN ? " listen " : " connect ");
	lb_addr(&lb, sa, len);
	lb_str(&lb, proto == IPPROTO_MPTCP ? ": mptcp" : ": tcp");
	if (note) {
		lb_str(&lb, " (");
		lb_str(&lb, note);
		lb_str(&lb, ")");
	} else if (rule && (text = policy_rule_text(cfg.policy, rule, &tlen))) {
		lb_str(&lb, " (rule ");
		lb_uint(&lb, rule);
		lb_str(&lb, " \"");
		lb_strn(&lb, text, tlen);
		lb_str(&lb, "\")");
	} else {
		lb_str(&lb, " (no rule matched)");
	}
	lb_emit(&lb);
}

void shim_decide(int fd, enum policy_dir dir, const struct sockaddr *sa, socklen_t len)
{
	struct fd_slot *s = pending_slot(fd);
	struct sockaddr_storage local;
	uint32_t old;
	unsigned rule = 0;
	int saved = errno, want, rc;
	const char *note = NULL;

	/* the only cost for sockets the shim did not make or already decided */
	if (!s)
		return;
	if (!fdtab_trylock(s, &old)) {
		/* busy (an option call on this fd in another thread): the
		 * socket cannot be decided now, and must never be replaced
		 * later, once it is connected or listening */
		atomic_fetch_or_explicit(&s->state, SLOT_NOREPLACE, memory_order_relaxed);
		return;
	}
	if (!(old & SLOT_PENDING) || cfg.mode != MODE_POLICY) {
		fdtab_unlock(s, old & ~(uint32_t)SLOT_PENDING);
		errno = saved;
		return;
	}
	if (dir == POLICY_LISTEN && !sa) {
		/* listen_address() may bind: only our own socket */
		if (((old & SLOT_HAVE_COOKIE) && sock_cookie(fd) != s->cookie) ||
		    listen_address(fd, s->family, &local, &len) < 0)
			goto out;
		sa = (struct sockaddr *)&local;
	}
	want = policy_decide(cfg.policy, dir, sa, len, &rule) == POLICY_MPTCP ? IPPROTO_MPTCP
									      : IPPROTO_TCP;
	if (want == IPPROTO_MPTCP && (old & SLOT_PINNED_TCP)) {
		want = IPPROTO_TCP;
		note = "kept TCP: a TCP-only option is set";
		atomic_fetch_add_explicit(&stats.stepped_down, 1, memory_order_relaxed);
	} else if (want == IPPROTO_MPTCP &&
		   atomic_load_explicit(&mptcp_refused[family_index(s->family)], memory_order_relaxed)) {
		want = IPPROTO_TCP;
		note = "kernel refuses MPTCP";
		atomic_fetch_add_explicit(&stats.fell_back, 1, memory_order_relaxed);
	} else if (want == IPPROTO_MPTCP) {
		atomic_fetch_add_explicit(&stats.upgraded, 1, memory_order_relaxed);
	} else {
		atomic_fetch_add_explicit(&stats.kept_policy, 1, memory_order_relaxed);
	}
	if (dir == POLICY_CONNECT)
		atomic_store_explicit(&last_connect_proto[family_index(s->family)], want,
				      memory_order_relaxed);
	if (want != s->proto) {
		rc = sock_replace(fd, s, want);
		if (rc < 0) {
			note = rc == -EBUSY ? "socket shared (dup/fork): left as it is"
					    : "could not replace the socket: left as it is";
			if (log_enabled(LOG_DEBUG)) {
				struct logbuf lb;
				lb_start(&lb);
				lb_str(&lb, "fd ");
				lb_int(&lb, fd);
				lb_str(&lb, ": replacement failed: ");
				lb_errno(&lb, -rc);
				lb_emit(&lb);
			}
		}
	}
	log_decision(fd, dir, sa, len, s->proto, rule, note);
out:
	fdtab_unlock(s, old & ~(uint32_t)SLOT_PENDING);
	errno = saved;
}

EXPORT int listen(int fd, int backlog)
{
	shim_ensure();
	shim_decide(fd, POLICY_LISTEN, NULL, 0);
	return real.listen(fd, backlog);
}

EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	shim_ensure();
	/* the address is read only for a socket the shim has to decide: a
	 * bad pointer anywhere else gets the kernel's EFAULT, not a crash */
	if (!shim_pending(fd))
		return real.connect(fd, addr, len);
	if (cfg.mode != MODE_POLICY)
		shim_decide(fd, POLICY_CONNECT, NULL, 0); /* nothing to read */
	else if (addr && len >= sizeof(sa_family_t) &&
		 (addr->sa_family == AF_INET || addr->sa_family == AF_INET6))
		shim_decide(fd, POLICY_CONNECT, addr, len);
	return real.connect(fd, addr, len);
}
