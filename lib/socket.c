/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* socket.c - socket(2): where TCP sockets first become MPTCP. */
#include "shim.h"
#include "policy-lazy.h"

/* Creates an MPTCP socket, or falls back to TCP when the kernel refuses
 * MPTCP (the program never sees that error). *PROTO gets what was made. */
static int create_stream(int domain, int type, int want_mptcp, int *proto)
{
	int fd;

	if (want_mptcp && !atomic_load_explicit(&mptcp_refused[family_index(domain)],
						 memory_order_relaxed)) {
		fd = real.socket(domain, type, IPPROTO_MPTCP);
		if (fd >= 0) {
			*proto = IPPROTO_MPTCP;
			return fd;
		}
		int err = errno;
		if (!is_mptcp_refusal(err))
			return -1; /* EMFILE, ENOBUFS...: TCP would fail alike */
		*proto = IPPROTO_TCP;
		fd = real.socket(domain, type, IPPROTO_TCP);
		/* the kernel refused MPTCP only if it accepts the same call
		 * for TCP (EINVAL is also what bad type flags get) */
		if (fd >= 0)
			shim_note_refusal(domain, err);
		return fd;
	}
	*proto = IPPROTO_TCP;
	return real.socket(domain, type, IPPROTO_TCP);
}

/* Starts tracking a socket the shim made: it is undecided until listen(),
 * connect() or a MSG_FASTOPEN send. With a policy the identity (SO_COOKIE)
 * is taken now so that nothing acts later on an fd number reused behind our
 * back; in all-mode no syscall is spent (nothing will be replaced unless an
 * option forces TCP, and that path checks the kernel's state). */
static void track(int fd, int domain, int proto, int with_cookie)
{
	struct fd_slot *s = fdtab_get(fd, 1);
	uint32_t old;

	if (!s || !fdtab_trylock(s, &old))
		return;
	s->family = (uint16_t)domain;
	s->proto = (uint16_t)proto;
	s->nopts = 0;
	s->cookie = with_cookie ? sock_cookie(fd) : 0;
	fdtab_unlock(s, SLOT_USED | SLOT_PENDING | (s->cookie ? SLOT_HAVE_COOKIE : 0));
}

EXPORT int socket(int domain, int type, int protocol)
{
	int saved = errno, fd, proto, want;

	shim_ensure();
	if (!is_candidate(domain, type, protocol) || cfg.mode == MODE_NONE)
		return real.socket(domain, type, protocol);
	/* the policy is loaded by the first TCP socket (policy-lazy.h); none
	 * (invalid, empty, or being loaded by what this call interrupted):
	 * nothing is upgraded */
	if (cfg.mode == MODE_POLICY && !policy_lazy_get(&shim_addrs_policy, &cfg.policy))
		return real.socket(domain, type, protocol);

	if (cfg.mode == MODE_ALL || cfg.strategy == STRAT_MPTCP_FIRST)
		want = 1;
	else if (cfg.strategy == STRAT_TCP_FIRST)
		want = 0;
	else /* programs make runs of alike connections: start as the last did */
		want = atomic_load_explicit(&last_connect_proto[family_index(domain)],
					    memory_order_relaxed) == IPPROTO_MPTCP;
	fd = create_stream(domain, type, want, &proto);
	if (fd < 0)
		return -1;
	if (cfg.mode == MODE_ALL) {
		atomic_fetch_add_explicit(proto == IPPROTO_MPTCP ? &stats.upgraded : &stats.fell_back,
					  1, memory_order_relaxed);
		track(fd, domain, proto, 0);
	} else {
		track(fd, domain, proto, 1);
	}
	errno = saved;
	return fd;
}
