/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* connect.c - listen(2) and connect(2): where a socket is decided. A socket
 * the shim made stays UNDECIDED until the program names the address that
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
	lb_start(&lb, LOG_INFO);
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

/* A decided socket keeps only the values it must read back. */
static int keep_emulated(const struct slot_opt *o)
{
	return o->flags & OPT_F_EMULATED;
}

static enum why_tcp why_of(struct fd_slot *s, uint32_t st, enum why_tcp why)
{
	if (s->proto == IPPROTO_TCP && (st & SLOT_STEPPED))
		return WHY_OPTION;
	if (s->proto == IPPROTO_TCP && (st & SLOT_FELL_BACK) && why != WHY_POLICY)
		return WHY_KERNEL;
	return why;
}

/* Ends the decision: DECIDED, counted once. A MSG_FASTOPEN send (KEEP)
 * keeps the options and is counted once the send has shown whether MPTCP
 * takes it (shim_fastopen_done()). */
static void decided(struct fd_slot *s, uint32_t st, enum policy_dir dir, enum why_tcp why,
		    int keep)
{
	if (!keep) {
		stats_count(s->proto, why_of(s, st, why));
		slot_drop_opts(s, keep_emulated);
	} else if (why == WHY_POLICY && s->proto == IPPROTO_TCP) {
		st |= SLOT_POLICY_TCP;
	}
	slot_release(s, st,
		     (st & ~(uint32_t)SLOT_PHASE) | SLOT_DECIDED |
			     (dir == POLICY_LISTEN ? SLOT_LISTENER : 0));
}

void shim_fastopen_done(int fd)
{
	struct fd_slot *s = known_slot(fd);
	uint32_t st;
	int saved = errno;

	if (!s || !slot_hold(s, &st, HOLD_WAIT))
		return;
	if (slot_phase(st) == SLOT_DECIDED && !(st & SLOT_COUNTED)) {
		stats_count(s->proto, why_of(s, st, (st & SLOT_POLICY_TCP) ? WHY_POLICY : WHY_KERNEL));
		slot_drop_opts(s, keep_emulated);
		st |= SLOT_COUNTED;
	}
	slot_release(s, st, st);
	errno = saved;
}

static void decide(int fd, enum policy_dir dir, const struct sockaddr *sa, socklen_t len,
		   int keep);

void shim_decide(int fd, enum policy_dir dir, const struct sockaddr *sa, socklen_t len)
{
	decide(fd, dir, sa, len, 0);
}

void shim_decide_fastopen(int fd, const struct sockaddr *sa, socklen_t len)
{
	decide(fd, POLICY_CONNECT, sa, len, 1);
}

static void decide(int fd, enum policy_dir dir, const struct sockaddr *sa, socklen_t len,
		   int keep)
{
	struct fd_slot *s = undecided_slot(fd);
	struct sockaddr_storage local;
	uint32_t st;
	unsigned rule = 0;
	int saved = errno, want, rc;
	enum why_tcp why = WHY_POLICY;
	const char *note = NULL;

	/* the only cost for sockets the shim did not make or already decided */
	if (!s)
		return;
	if (!slot_hold(s, &st, HOLD_WAIT)) {
		/* another call keeps the slot: the socket cannot be decided
		 * now, and must never be replaced once connected/listening */
		slot_shared(fd);
		errno = saved;
		return;
	}
	if (slot_phase(st) != SLOT_UNDECIDED) {
		slot_release(s, st, st);
		errno = saved;
		return;
	}
	if (cfg.mode != MODE_POLICY) {
		decided(s, st, dir, WHY_KERNEL, keep);
		errno = saved;
		return;
	}
	if (dir == POLICY_LISTEN && !sa) {
		/* listen_address() may bind: only on our own socket (a
		 * connect only reads; acting on the socket checks again) */
		if (!slot_same_socket(fd, s, st)) {
			slot_release(s, st, SLOT_FREE); /* not ours any more */
			errno = saved;
			return;
		}
		if (listen_address(fd, s->family, &local, &len) < 0) {
			decided(s, st, dir, WHY_POLICY, keep);
			errno = saved;
			return;
		}
		sa = (struct sockaddr *)&local;
	}
	want = policy_decide(cfg.policy, dir, sa, len, &rule) == POLICY_MPTCP ? IPPROTO_MPTCP
									      : IPPROTO_TCP;
	if (want == IPPROTO_MPTCP && (st & SLOT_PINNED_TCP)) {
		want = IPPROTO_TCP;
		why = WHY_OPTION;
		note = "kept TCP: a TCP-only option is set";
	} else if (want == IPPROTO_MPTCP &&
		   atomic_load_explicit(&mptcp_refused[family_index(s->family)], memory_order_relaxed)) {
		want = IPPROTO_TCP;
		why = WHY_KERNEL;
		note = "kernel refuses MPTCP";
	}
	if (dir == POLICY_CONNECT)
		atomic_store_explicit(&last_connect_proto[family_index(s->family)], want,
				      memory_order_relaxed);
	if (want != s->proto) {
		rc = sock_replace(fd, s, want);
		if (rc == -ESTALE) {
			/* the number holds another socket now: not ours */
			slot_release(s, st, SLOT_FREE);
			errno = saved;
			return;
		}
		if (rc < 0) {
			if (want == IPPROTO_MPTCP && is_mptcp_refusal(-rc)) {
				why = WHY_KERNEL;
				note = "kernel refuses MPTCP";
			} else {
				why = WHY_STUCK;
				note = rc == -EBUSY ? "socket shared or in use: left as it is"
						    : "could not replace the socket: left as it is";
				if (rc != -EBUSY)
					shim_warn_unreplaced(-rc);
			}
			if (log_enabled(LOG_DEBUG)) {
				struct logbuf lb;
				lb_start(&lb, LOG_DEBUG);
				lb_str(&lb, "fd ");
				lb_int(&lb, fd);
				lb_str(&lb, ": replacement failed: ");
				lb_errno(&lb, -rc);
				lb_emit(&lb);
			}
		}
		/* a replacement (or its attempt) may add contender flags;
		 * what the slot says now is what counts */
	}
	log_decision(fd, dir, sa, len, s->proto, rule, note);
	decided(s, st, dir, why, keep);
	errno = saved;
}

EXPORT int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
	shim_ensure();
	slot_touch(fd); /* a replacement under way would lose the address */
	return real.bind(fd, addr, len);
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
	if (!undecided_slot(fd))
		return real.connect(fd, addr, len);
	if (cfg.mode != MODE_POLICY)
		shim_decide(fd, POLICY_CONNECT, NULL, 0); /* nothing to read */
	else if (addr && len >= sizeof(sa_family_t) &&
		 (addr->sa_family == AF_INET || addr->sa_family == AF_INET6))
		shim_decide(fd, POLICY_CONNECT, addr, len);
	return real.connect(fd, addr, len);
}
