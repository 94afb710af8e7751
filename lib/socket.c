/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* socket.c - socket(2): where TCP sockets first become MPTCP, and where
 * every new socket's number is claimed in the fd table. */
#include "shim.h"
#include "policy-lazy.h"

/* Creates an MPTCP socket, or falls back to TCP when the kernel refuses
 * MPTCP (the program never sees that error). *PROTO gets what was made,
 * *FELL_BACK whether the kernel refused MPTCP. */
static int create_stream(int domain, int type, int want_mptcp, int *proto, int *fell_back)
{
	int fd;

	*fell_back = 0;
	if (want_mptcp && atomic_load_explicit(&mptcp_refused[family_index(domain)],
					       memory_order_relaxed)) {
		*fell_back = 1;
		want_mptcp = 0;
	}
	if (want_mptcp) {
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
		if (fd >= 0) {
			shim_note_refusal(domain, err);
			*fell_back = 1;
		}
		return fd;
	}
	*proto = IPPROTO_TCP;
	return real.socket(domain, type, IPPROTO_TCP);
}

/* Starts tracking a socket the shim made: UNDECIDED until listen(),
 * connect() or a MSG_FASTOPEN send. With a policy the identity (SO_COOKIE)
 * is taken now so that nothing acts later on an fd number reused behind our
 * back; in all-mode no syscall is spent (see slot_same_socket()). */
static void track(int fd, int domain, int proto, int fell_back, int with_cookie)
{
	struct fd_slot *s = fdtab_get(fd, 1);
	uint32_t st;

	if (!s)
		return;
	slot_closing(fd); /* whatever the slot said, the number is new */
	if (!slot_hold(s, &st, HOLD_FREE))
		return; /* an old owner is still busy with the number: untracked */
	s->family = (uint16_t)domain;
	s->proto = (uint16_t)proto;
	s->tmpfd = -1;
	s->cookie = with_cookie ? sock_cookie(fd) : 0;
	slot_release(s, st,
		     SLOT_UNDECIDED | (s->cookie ? SLOT_HAVE_COOKIE : 0) |
			     (fell_back ? SLOT_FELL_BACK : 0));
}

/* A socket the shim leaves alone; its number is claimed all the same. */
static int plain_socket(int domain, int type, int protocol, int saved)
{
	int fd = real.socket(domain, type, protocol);
	if (fd >= 0 && known_slot(fd)) {
		/* a number the shim remembers for a socket closed behind its
		 * back (fclose, a raw close): not ours now */
		slot_closing(fd);
		errno = saved;
	}
	return fd;
}

EXPORT int socket(int domain, int type, int protocol)
{
	int saved = errno, fd, proto, want, fell_back;

	shim_ensure();
	if (!is_candidate(domain, type, protocol) || cfg.mode == MODE_NONE)
		return plain_socket(domain, type, protocol, saved);
	/* the policy is loaded by the first TCP socket (policy-lazy.h); none
	 * (invalid, empty, or being loaded by what this call interrupted):
	 * nothing is upgraded */
	if (cfg.mode == MODE_POLICY && !policy_lazy_get(&shim_addrs_policy, &cfg.policy))
		return plain_socket(domain, type, protocol, saved);

	if (cfg.mode == MODE_ALL || cfg.strategy == STRAT_MPTCP_FIRST)
		want = 1;
	else if (cfg.strategy == STRAT_TCP_FIRST)
		want = 0;
	else /* programs make runs of alike connections: start as the last did */
		want = atomic_load_explicit(&last_connect_proto[family_index(domain)],
					    memory_order_relaxed) == IPPROTO_MPTCP;
	fd = create_stream(domain, type, want, &proto, &fell_back);
	if (fd < 0)
		return -1;
	track(fd, domain, proto, fell_back, cfg.mode == MODE_POLICY);
	errno = saved;
	return fd;
}
