/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* send.c - sendto(2) and sendmsg(2). A MSG_FASTOPEN send on an unconnected
 * socket is an implicit connect: the policy decides on its destination.
 * Everything else costs one flag test. */
#include "shim.h"

#include <fcntl.h>
#include <unistd.h>

/* Would TCP itself accept MSG_FASTOPEN here (net.ipv4.tcp_fastopen has the
 * client bit)? When it would not, TCP gives the same EOPNOTSUPP and there
 * is nothing to step down for. Read on the failure path only. */
static int tcp_client_fastopen(void)
{
	char buf[16] = "";
	int fd = open("/proc/sys/net/ipv4/tcp_fastopen", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return 1; /* cannot tell: assume the default (client on) */
	n = read(fd, buf, sizeof(buf) - 1);
	real.close(fd);
	return n <= 0 || (buf[0] - '0') & 1;
}

/* When a kernel refuses MSG_FASTOPEN on an MPTCP socket (nothing was sent:
 * the socket is still unconnected), the socket steps down to TCP and the
 * send is retried: TCP would not have failed. */
static int fastopen_stepdown(int fd)
{
	struct fd_slot *s = fdtab_get(fd, 0);
	uint32_t old;
	int rc = -1;

	if (!s || !tcp_client_fastopen() || sock_protocol(fd) != IPPROTO_MPTCP ||
	    !sock_undecided(fd))
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

/* A MSG_FASTOPEN send that the MPTCP socket refused: step down and send
 * again, or keep the refusal. Returns the final result; errno is the
 * caller's on success and the kernel's on failure. */
#define RETRY_FASTOPEN(call)                                                  \
	do {                                                                  \
		int saved_ = errno;                                           \
		ret = (call);                                                 \
		if (ret < 0 && errno == EOPNOTSUPP) {                         \
			if (fastopen_stepdown(fd) == 0)                       \
				ret = (call);                                 \
			else                                                  \
				errno = EOPNOTSUPP;                           \
		}                                                             \
		if (ret >= 0)                                                 \
			errno = saved_;                                       \
	} while (0)

EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags,
		      const struct sockaddr *addr, socklen_t alen)
{
	ssize_t ret;

	shim_ensure();
	/* one flag test on the data path; the address is read only for a
	 * socket the shim still has to decide */
	if (!(flags & MSG_FASTOPEN) || !shim_pending(fd))
		return real.sendto(fd, buf, n, flags, addr, alen);
	if (cfg.mode != MODE_POLICY)
		shim_decide(fd, POLICY_CONNECT, NULL, 0);
	else if (is_inet(addr, alen))
		shim_decide(fd, POLICY_CONNECT, addr, alen);
	RETRY_FASTOPEN(real.sendto(fd, buf, n, flags, addr, alen));
	return ret;
}

EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	ssize_t ret;

	shim_ensure();
	if (!(flags & MSG_FASTOPEN) || !msg || !shim_pending(fd))
		return real.sendmsg(fd, msg, flags);
	if (cfg.mode != MODE_POLICY)
		shim_decide(fd, POLICY_CONNECT, NULL, 0);
	else if (is_inet(msg->msg_name, msg->msg_namelen))
		shim_decide(fd, POLICY_CONNECT, msg->msg_name, msg->msg_namelen);
	RETRY_FASTOPEN(real.sendmsg(fd, msg, flags));
	return ret;
}
