/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* send.c - sendto(2) and sendmsg(2). A MSG_FASTOPEN send on an unconnected
 * socket is an implicit connect: the policy decides on its destination.
 * Everything else costs one flag test. */
#include "shim.h"

/* When a kernel refuses MSG_FASTOPEN on an MPTCP socket (nothing was sent:
 * the socket is still unconnected), the socket steps down to TCP and the
 * send is retried: TCP would not have failed. */
static int fastopen_stepdown(int fd)
{
	struct fd_slot *s = fdtab_get(fd, 0);
	uint32_t old;
	int rc = -1;

	if (!s || sock_protocol(fd) != IPPROTO_MPTCP || !sock_undecided(fd))
		return -1;
	if (!fdtab_trylock(s, &old))
		return -1;
	if (old & SLOT_USED) {
		rc = sock_replace(fd, s, IPPROTO_TCP);
		if (rc == 0) {
			atomic_fetch_add_explicit(&stats.stepped_down, 1, memory_order_relaxed);
			log_msg(LOG_INFO, "MSG_FASTOPEN refused on an MPTCP socket: stepped down to TCP");
		}
	}
	fdtab_unlock(s, old);
	return rc;
}

static int is_inet(const struct sockaddr *sa, socklen_t len)
{
	return sa && len >= sizeof(sa_family_t) &&
	       (sa->sa_family == AF_INET || sa->sa_family == AF_INET6);
}

EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags,
		      const struct sockaddr *addr, socklen_t alen)
{
	ssize_t ret;

	shim_ensure();
	if (!(flags & MSG_FASTOPEN))
		return real.sendto(fd, buf, n, flags, addr, alen);
	if (is_inet(addr, alen))
		shim_decide(fd, POLICY_CONNECT, addr, alen);
	ret = real.sendto(fd, buf, n, flags, addr, alen);
	if (ret < 0 && errno == EOPNOTSUPP) {
		if (fastopen_stepdown(fd) == 0)
			ret = real.sendto(fd, buf, n, flags, addr, alen);
		else
			errno = EOPNOTSUPP;
	}
	return ret;
}

EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	ssize_t ret;

	shim_ensure();
	if (!(flags & MSG_FASTOPEN) || !msg)
		return real.sendmsg(fd, msg, flags);
	if (is_inet(msg->msg_name, msg->msg_namelen))
		shim_decide(fd, POLICY_CONNECT, msg->msg_name, msg->msg_namelen);
	ret = real.sendmsg(fd, msg, flags);
	if (ret < 0 && errno == EOPNOTSUPP) {
		if (fastopen_stepdown(fd) == 0)
			ret = real.sendmsg(fd, msg, flags);
		else
			errno = EOPNOTSUPP;
	}
	return ret;
}
