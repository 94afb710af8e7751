/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* shim.h - shared state of libmptcpify.so: the real libc functions, the
 * configuration read from the environment, counters, and the helpers the
 * per-family files (socket.c, connect.c, send.c, sockopt.c, close.c) share. */
#ifndef MPTCPIFY_SHIM_H
#define MPTCPIFY_SHIM_H

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "fdtab.h"
#include "log.h"
#include "mptcpify/optclass.h"
#include "mptcpify/policy.h"

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif
#ifndef SOL_MPTCP
#define SOL_MPTCP 284
#endif

#define EXPORT __attribute__((visibility("default")))
#define unlikely(x) __builtin_expect(!!(x), 0)

/* Every libc function the shim calls through, resolved with
 * dlsym(RTLD_NEXT, ...) so that other preloaded shims still see the calls.
 * X(return type, name, parameter list) */
#define SHIM_REAL_FUNCS(X)                                                        \
	X(int, socket, (int, int, int))                                           \
	X(int, bind, (int, const struct sockaddr *, socklen_t))                   \
	X(int, listen, (int, int))                                                \
	X(int, connect, (int, const struct sockaddr *, socklen_t))                \
	X(ssize_t, sendto, (int, const void *, size_t, int, const struct sockaddr *, socklen_t)) \
	X(ssize_t, sendmsg, (int, const struct msghdr *, int))                    \
	X(ssize_t, sendfile, (int, int, off_t *, size_t))                         \
	X(ssize_t, sendfile64, (int, int, off64_t *, size_t))                     \
	X(int, setsockopt, (int, int, int, const void *, socklen_t))              \
	X(int, getsockopt, (int, int, int, void *, socklen_t *))                  \
	X(int, getsockname, (int, struct sockaddr *, socklen_t *))                \
	X(int, getpeername, (int, struct sockaddr *, socklen_t *))                \
	X(int, close, (int))                                                      \
	X(int, dup, (int))                                                        \
	X(int, dup2, (int, int))                                                  \
	X(int, dup3, (int, int, int))                                             \
	X(int, fcntl, (int, int, ...))                                            \
	X(int, fcntl64, (int, int, ...))                                          \
	X(int, close_range, (unsigned, unsigned, int))                            \
	X(void, closefrom, (int))                                                 \
	X(int, epoll_ctl, (int, int, int, struct epoll_event *))

struct real_funcs {
#define X(ret, name, args) ret(*name) args;
	SHIM_REAL_FUNCS(X)
#undef X
};
extern struct real_funcs real;

/* How sockets are chosen (from MPTCPIFY_ADDRS). */
enum shim_mode {
	MODE_ALL = 0,    /* unset: every TCP socket is created MPTCP */
	MODE_POLICY = 1, /* decide at listen/connect by the policy */
	MODE_NONE = 2,   /* set but empty, or invalid: nothing is upgraded */
};

/* How a policy-mode socket starts (MPTCPIFY_STRATEGY). */
enum shim_strategy {
	STRAT_PREDICT = 0,     /* create what this family's last connect()
				  decision was (MPTCP at first): default */
	STRAT_MPTCP_FIRST = 1, /* create MPTCP, step down on a miss */
	STRAT_TCP_FIRST = 2,   /* create TCP, upgrade on a match */
};

/* The protocol the last policy decision for an outgoing connection chose,
 * per family (index as mptcp_refused); what STRAT_PREDICT creates. */
extern atomic_int last_connect_proto[2];

struct shim_config {
	enum shim_mode mode;
	enum shim_strategy strategy;
	struct policy *policy;
	struct opt_overrides opts;
	int stats;
};
extern struct shim_config cfg;

/* Counters for MPTCPIFY_STATS. */
struct shim_stats {
	atomic_ulong upgraded;     /* ended up MPTCP */
	atomic_ulong kept_policy;  /* kept TCP because the policy said so */
	atomic_ulong fell_back;    /* kept TCP because the kernel refused MPTCP */
	atomic_ulong stepped_down; /* made TCP because of an option */
	atomic_ulong emulated;     /* option calls answered by emulation */
};
extern struct shim_stats stats;

/* Set once the kernel refused IPPROTO_MPTCP for a family (index 0: AF_INET,
 * 1: AF_INET6); holds the errno. */
extern atomic_int mptcp_refused[2];

/* Makes sure configuration and real functions are ready; called first by
 * every stub (another library's constructor may run before ours). */
void shim_init(void);
extern atomic_int shim_ready;
static inline void shim_ensure(void)
{
	if (unlikely(!atomic_load_explicit(&shim_ready, memory_order_acquire)))
		shim_init();
}

static inline int family_index(int family)
{
	return family == AF_INET6;
}

/* Is this socket(2) call a candidate (AF_INET/6, SOCK_STREAM, 0 or TCP)? */
static inline int is_candidate(int domain, int type, int protocol)
{
	/* exactly SOCK_STREAM plus the two creation flags: anything else is
	 * the kernel's to refuse, and must not look like an MPTCP refusal */
	return (domain == AF_INET || domain == AF_INET6) &&
	       (type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) == SOCK_STREAM &&
	       (protocol == 0 || protocol == IPPROTO_TCP);
}

/* Notes that the kernel refused MPTCP for FAMILY with ERR (warns once). */
void shim_note_refusal(int family, int err);

/* Is ERR one of the errnos socket(IPPROTO_MPTCP) gives when MPTCP is off? */
static inline int is_mptcp_refusal(int err)
{
	return err == EINVAL || err == EPROTONOSUPPORT || err == ENOPROTOOPT ||
	       err == EACCES || err == EPERM;
}

/* The socket's protocol from the kernel (SO_PROTOCOL), or -1. */
int sock_protocol(int fd);
/* The socket's SO_COOKIE, or 0. */
uint64_t sock_cookie(int fd);

/* Replaces the unconnected socket behind FD (whose slot S the caller has
 * locked) with a new socket of protocol PROTO, invisibly: same fd, status
 * and descriptor flags, bound address, options. Returns 0, or a negative
 * errno with the original socket untouched. */
int sock_replace(int fd, struct fd_slot *s, int proto);

/* Decides an undecided socket FD for DIR and address SA (the destination, or
 * the local address for listeners; may be NULL for listeners: then read
 * from the socket) and replaces it when its protocol must change. Never
 * fails: on any problem the socket is left as it is. */
void shim_decide(int fd, enum policy_dir dir, const struct sockaddr *sa, socklen_t len);

/* Is VAL what a fresh TCP socket of FD's family reports for the option?
 * (A temporary socket is asked: failure paths only.) */
int sockopt_is_tcp_default(int fd, int level, int name, const void *val, socklen_t len);

/* The slot of FD when FD is a socket the shim made and has not decided
 * yet, else NULL. One load, no lock: callers lock and check again. */
static inline struct fd_slot *pending_slot(int fd)
{
	struct fd_slot *s = fdtab_get(fd, 0);
	return s && (atomic_load_explicit(&s->state, memory_order_relaxed) & SLOT_PENDING) ? s
											    : NULL;
}

static inline int shim_pending(int fd)
{
	return pending_slot(fd) != NULL;
}

/* Is FD, an MPTCP socket, still undecided (neither listening nor
 * connecting)? Locks nothing. */
int sock_undecided(int fd);

#endif
