/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* send.c - sendto(2) and sendmsg(2). A MSG_FASTOPEN send on an UNDECIDED
 * socket is an implicit connect: the policy decides on its destination.
 * A kernel whose MPTCP sockets refuse MSG_FASTOPEN (nothing is sent: the
 * socket is still unconnected) gets the socket stepped down to TCP and the
 * send made again, since TCP would not have failed; after the first such
 * refusal the step-down comes before the send. Everything else costs one
 * flag test. */
#include "shim.h"

#include <fcntl.h>
#include <unistd.h>

/* Set once an MPTCP socket refused MSG_FASTOPEN in this process. */
static atomic_int mptcp_refuses_fastopen;

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

/* Steps the (still unconnected) MPTCP socket FD down to TCP. Returns 0
 * when FD is now a TCP socket. */
static int fastopen_stepdown(int fd)
{
	struct fd_slot *s = known_slot(fd);
	uint32_t st;
	int rc = -1;

	if (!s || !slot_hold(s, &st, HOLD_WAIT))
		return -1;
	if (s->proto == IPPROTO_MPTCP && tcp_client_fastopen() &&
	    sock_protocol(fd) == IPPROTO_MPTCP) {
		rc = sock_replace(fd, s, IPPROTO_TCP);
		if (rc == 0) {
			st |= SLOT_STEPPED;
			log_msg(LOG_INFO, "MSG_FASTOPEN refused on an MPTCP socket: stepped down to TCP");
		}
	}
	slot_release(s, st, st);
	return rc;
}

static int is_inet(const struct sockaddr *sa, socklen_t len)
{
	return sa && len >= sizeof(sa_family_t) &&
	       (sa->sa_family == AF_INET || sa->sa_family == AF_INET6);
}

/* Decides FD for a MSG_FASTOPEN send to SA; the options stay remembered
 * until the send has shown whether MPTCP takes MSG_FASTOPEN. */
static void fastopen_decide(int fd, const struct sockaddr *sa, socklen_t len)
{
	if (cfg.mode != MODE_POLICY)
		shim_decide_fastopen(fd, NULL, 0);
	else if (is_inet(sa, len))
		shim_decide_fastopen(fd, sa, len);
	if (atomic_load_explicit(&mptcp_refuses_fastopen, memory_order_relaxed))
		fastopen_stepdown(fd); /* known: before the send */
}

/* A MSG_FASTOPEN send that the MPTCP socket refused: step down and send
 * again, or keep the refusal. Returns the final result; errno is the
 * caller's on success and the kernel's on failure. */
#define RETRY_FASTOPEN(call)                                                  \
	do {                                                                  \
		int saved_ = errno;                                           \
		ret = (call);                                                 \
		if (ret < 0 && errno == EOPNOTSUPP) {                         \
			if (sock_protocol(fd) == IPPROTO_MPTCP)               \
				atomic_store(&mptcp_refuses_fastopen, 1);     \
			if (fastopen_stepdown(fd) == 0)                       \
				ret = (call);                                 \
			else                                                  \
				errno = EOPNOTSUPP;                           \
		}                                                             \
		if (ret >= 0)                                                 \
			errno = saved_;                                       \
		shim_fastopen_done(fd);                                       \
	} while (0)

EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags,
		      const struct sockaddr *addr, socklen_t alen)
{
	ssize_t ret;

	shim_ensure();
	/* one flag test on the data path; the address is read only for a
	 * socket the shim still has to decide */
	if (!(flags & MSG_FASTOPEN) || !undecided_slot(fd))
		return real.sendto(fd, buf, n, flags, addr, alen);
	fastopen_decide(fd, addr, alen);
	RETRY_FASTOPEN(real.sendto(fd, buf, n, flags, addr, alen));
	return ret;
}

EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	ssize_t ret;

	shim_ensure();
	if (!(flags & MSG_FASTOPEN) || !msg || !undecided_slot(fd))
		return real.sendmsg(fd, msg, flags);
	fastopen_decide(fd, msg->msg_name, msg->msg_namelen);
	RETRY_FASTOPEN(real.sendmsg(fd, msg, flags));
	return ret;
}
