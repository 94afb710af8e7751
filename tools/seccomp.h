/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* seccomp.h - the seccomp mode of mptcpify-run (--seccomp): a supervisor
 * that answers the command's socket calls through seccomp user
 * notification, with the library's policy and option classes. What its
 * files share:
 *   seccomp-run.c      refusals, the child and its filter, signals, workers
 *   seccomp-filter.c   which calls are trapped (the BPF filter), option probes
 *   seccomp-notify.c   one handler per trapped call: the decisions
 *   seccomp-replace.c  putting a socket of another protocol over the same fd
 *   seccomp-target.c   reaching into the target: memory, fds, its netns
 *   seccomp-state.c    what is remembered per socket; counters; log lines
 *   seccomp-mode.c     which mode a COMMAND needs (PT_INTERP, Go build info)
 *   seccomp-check.c    the --check lines, with a trial run
 * Threads: a few workers each receive and answer notifications, so that one
 * slow answer (a target's memory being paged in) holds up only the thread
 * that made that call; sc.lock serialises decisions and the socket table.
 * See docs/mptcpify-run.1 (THE SECCOMP MODE) for what it does and costs. */
#ifndef MPTCPIFY_SECCOMP_H
#define MPTCPIFY_SECCOMP_H

#include <linux/seccomp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "lib/log.h"
#include "mptcpify/optclass.h"
#include "mptcpify/policy.h"

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif
#ifndef SOL_MPTCP
#define SOL_MPTCP 284
#endif

/* 6.6+: the kernel hands over between the target and the supervisor on the
 * same CPU instead of waking each other across CPUs; about halves the CPU
 * time of a notification (docs/benchmarks.md). Not in 6.1's headers. */
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP 1
#endif

/* Exit status when the mode cannot run here (as --bpf's refusals). */
#define SC_EXIT_REFUSED 125

/* Oldest kernel the mode runs on: SECCOMP_IOCTL_NOTIF_ADDFD with
 * SECCOMP_ADDFD_FLAG_SETFD came in 5.9 (user notification 5.0, CONTINUE
 * 5.5, pidfd_getfd 5.6 all come before). As major * 100 + minor. */
#define SC_MIN_KERNEL 509

/* ---- configuration ------------------------------------------------------ */

enum sc_mode {
	SC_ALL = 0,    /* MPTCPIFY_ADDRS unset: every candidate socket is MPTCP */
	SC_POLICY = 1, /* decided at listen/connect by the policy */
	SC_NONE = 2,   /* set but empty: nothing upgraded, options still handled */
};

enum sc_strategy {
	SC_PREDICT = 0,     /* start as the family's last connect() decision */
	SC_MPTCP_FIRST = 1, /* start MPTCP, step down on a miss */
	SC_TCP_FIRST = 2,   /* start TCP, upgrade on a match */
};

struct sc_config {
	enum sc_mode mode;
	enum sc_strategy strategy;
	const struct policy *policy;        /* SC_POLICY only */
	const struct opt_overrides *opts;   /* MPTCPIFY_OPTIONS */
	bool stats;                         /* one line at the end */
	int verbose;                        /* mptcpify-run's own messages */
};

/* ---- kernel features ---------------------------------------------------- */

struct sc_kernel {
	unsigned version;    /* major * 100 + minor, from uname */
	char release[65];    /* uname -r */
	bool user_notif;     /* SECCOMP_RET_USER_NOTIF (5.0) */
	bool addfd_send;     /* SECCOMP_ADDFD_FLAG_SEND (5.14) */
	bool killable;       /* SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (5.19) */
	bool pidfd_getfd;    /* pidfd_getfd(2) (5.6) */
};

/* Fills K. Returns 0 when the mode can run here, else -1 with a one-line
 * reason in WHY (no prefix, no newline). */
int sc_kernel_probe(struct sc_kernel *k, char *why, size_t len);

/* ---- what this kernel's MPTCP refuses ----------------------------------- */

/* Per entry of optclass_table: does an MPTCP socket refuse it (EOPNOTSUPP or
 * ENOPROTOOPT) for set and for get, per family (0 AF_INET, 1 AF_INET6), and
 * with which errno. Probed once at start-up on fresh MPTCP sockets: only
 * refused (level, name) pairs are trapped. */
struct sc_optinfo {
	bool set_refused[2], get_refused[2];
	int set_err[2], get_err[2];
};

/* Probes every table option (and MSG_FASTOPEN). Without MPTCP here (the
 * sockets cannot be made), every option counts as refused. */
void sc_probe_options(void);

/* Entry of optclass_table for LEVEL/NAME with its probe result, or NULL. */
const struct opt_info *sc_opt_find(int level, int name, const struct sc_optinfo **info);

/* Options that carry a pointer or an fd of the target (SO_ATTACH_FILTER...):
 * the supervisor never performs them itself. */
bool sc_opt_is_indirect(int level, int name);

/* ---- the filter --------------------------------------------------------- */

struct sock_fprog;
/* Builds the filter for CFG and the probe results into *PROG (malloc'd
 * instructions). Returns 0 or -ENOMEM. */
int sc_filter_build(const struct sc_config *cfg, struct sock_fprog *prog);
/* How many (level, name) pairs are trapped, for set and for get. */
void sc_filter_counts(unsigned *nset, unsigned *nget);

/* ---- the supervisor's shared state -------------------------------------- */

struct sc_stats {
	atomic_ulong upgraded;     /* ended up MPTCP */
	atomic_ulong kept_policy;  /* kept TCP because the policy said so */
	atomic_ulong fell_back;    /* kept TCP because the kernel refused MPTCP */
	atomic_ulong stepped_down; /* made TCP because of an option */
	atomic_ulong emulated;     /* option calls answered by emulation */
	atomic_ulong notifications;/* trapped calls handled (debug) */
};

struct sc_sup {
	struct sc_config cfg;
	struct sc_kernel k;
	int listener;                       /* the seccomp notification fd */
	struct seccomp_notif_sizes sizes;
	ino_t netns;                        /* our network namespace */
	int netns_fd;                       /* to return to after setns() */
	bool can_setns;                     /* CAP_SYS_ADMIN: may enter others */
	atomic_bool netns_varies;           /* a process of the tree may be in
					       another netns (unshare/setns/clone
					       with CLONE_NEWNET was seen) */
	bool mptcp_fastopen;                /* MPTCP accepts MSG_FASTOPEN */
	bool tcp_fastopen;                  /* TCP's client bit is on */
	bool sync_wakeup;                   /* SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (6.6) */
	struct sc_optinfo *optinfo;         /* per optclass_table entry */
	unsigned nopts;
	pthread_mutex_t lock;               /* decisions, the socket table */
	atomic_int last_connect_proto[2];   /* STRAT predict, per family */
	struct sc_stats stats;
};
extern struct sc_sup sc;

/* ---- per-socket memory (seccomp-state.c); callers hold sc.lock ---------- */

#define SC_OPT_MAXLEN 40 /* as the library: longer values are not emulated */
#define SC_MAX_EMU 8     /* emulated options remembered per socket */

enum {
	SC_S_OURS = 1,       /* the supervisor made it (socket() or a replacement) */
	SC_S_DECIDED = 2,    /* listen/connect/MSG_FASTOPEN was seen */
	SC_S_PINNED_TCP = 4, /* a TCP-only option is set: stays TCP */
};

struct sc_emu {
	int level, name;
	unsigned char len;
	unsigned char val[SC_OPT_MAXLEN];
};

struct sc_sock {
	uint64_t id;          /* SO_COOKIE, or the inode with bit 63 set */
	uint16_t flags;       /* SC_S_* */
	uint8_t nemu;
	struct sc_emu *emu;   /* malloc'd, SC_MAX_EMU entries, or NULL */
};

/* Allocates the table (CAP sockets remembered at most; the oldest are
 * forgotten first). Returns 0 or -ENOMEM. */
int sc_state_init(unsigned cap);
struct sc_sock *sc_state_get(uint64_t id);
/* The entry for ID, made when missing (may forget the oldest one). */
struct sc_sock *sc_state_add(uint64_t id);
void sc_state_del(uint64_t id);
/* The emulated value of LEVEL/NAME on S, or NULL. */
struct sc_emu *sc_emu_find(struct sc_sock *s, int level, int name);
/* Remembers VAL (LEN <= SC_OPT_MAXLEN). Returns 0 or -ENOSPC/-ENOMEM. */
int sc_emu_put(struct sc_sock *s, int level, int name, const void *val, socklen_t len);

/* ---- log lines (seccomp-state.c) ---------------------------------------- */

/* Starts "mptcpify[PID]: " with the target's PID (the library's format, the
 * process the line is about rather than the supervisor). */
void sc_lb_start(struct logbuf *lb, pid_t pid);
/* The kernel-refuses-MPTCP warning, once for the whole tree. */
void sc_note_refusal(pid_t pid, int family, int err);
/* One warning line, at most once per KEY (a small bit index). */
void sc_warn_once(unsigned key, pid_t pid, const char *msg);
/* The MPTCPIFY_STATS line for the whole tree. */
void sc_print_stats(pid_t pid);

enum {
	SC_ONCE_NETNS = 0,   /* another netns the supervisor cannot enter */
	SC_ONCE_PTRACE = 1,  /* a target whose fds or memory are out of reach */
	SC_ONCE_EPOLL = 2,   /* epoll registration not carried over */
	SC_ONCE_MAX = 32,
};

/* ---- the target of one notification (seccomp-target.c) ------------------ */

struct sc_target {
	const struct seccomp_notif *req;
	pid_t tid;       /* the thread that made the call */
	int pidfd;       /* of its process, -1 until needed (cached per worker) */
	bool other_table;/* not the leader: fds are checked against /proc/TID/fd */
	bool unchecked;  /* memory was read or a pidfd opened since the last
			    SECCOMP_IOCTL_NOTIF_ID_VALID */
};

void sc_target_init(struct sc_target *t, const struct seccomp_notif *req);
void sc_target_done(struct sc_target *t);

/* Is the notification still pending (the thread alive and waiting)? */
bool sc_target_valid(const struct sc_target *t);
/* What was read from the target (memory, a pidfd of its tid) is the
 * caller's only if the call is still pending afterwards: one
 * SECCOMP_IOCTL_NOTIF_ID_VALID after the reads, before acting on them.
 * Returns true when nothing was read since, or the notification is valid. */
bool sc_target_check(struct sc_target *t);
/* Copies LEN bytes at the target's ADDR (check before acting on them).
 * Returns 0 or a negative errno. */
int sc_target_read(struct sc_target *t, uint64_t addr, void *buf, size_t len);
/* Writes LEN bytes to the target's ADDR, after sc_target_check(). Returns 0
 * or a negative errno. */
int sc_target_write(struct sc_target *t, uint64_t addr, const void *buf, size_t len);
/* A copy of the target's FD in the supervisor (pidfd_getfd), checked to be
 * the socket the calling thread sees at that number, and the notification
 * checked valid. Returns the new fd or a negative errno. */
int sc_target_getfd(struct sc_target *t, int fd);
/* Whether the target's FD has FD_CLOEXEC (from /proc/TID/fdinfo). */
int sc_target_cloexec(const struct sc_target *t, int fd);
/* A socket like socket(2) would make in the target's network namespace NS
 * (from sc_target_netns()). Always close-on-exec in the
 * supervisor. Returns the fd or a negative errno; -EXDEV when the target is
 * in another namespace the supervisor cannot enter. */
int sc_target_socket(const struct sc_target *t, ino_t ns, int domain, int type, int proto);
/* The target's network namespace (inode); ours when it cannot be read. */
ino_t sc_target_netns(const struct sc_target *t);

/* ---- answers ------------------------------------------------------------- */

/* Lets the trapped call run as the program made it. */
void sc_continue(const struct sc_target *t);
/* Answers the trapped call with -1 and ERR (> 0), or with VAL. */
void sc_answer_error(const struct sc_target *t, int err);
void sc_answer_value(const struct sc_target *t, int64_t val);
/* Puts SRCFD into the target (at NEWFD with SECCOMP_ADDFD_FLAG_SETFD when
 * NEWFD >= 0, else the lowest free number); with SEND, as the call's result.
 * Returns the target's fd number or a negative errno. */
int sc_addfd(const struct sc_target *t, int srcfd, int newfd, bool cloexec, bool send);

/* ---- the handlers (seccomp-notify.c) -------------------------------------- */

/* Handles one notification; always answers it (or finds it gone). */
void sc_handle(const struct seccomp_notif *req);

/* MPTCP-refusal state per network namespace and family. */
int sc_refused(ino_t ns, int family);
void sc_set_refused(ino_t ns, int family, int err);

/* The socket's identity: SO_COOKIE, or its inode with bit 63 set. */
uint64_t sc_sock_id(int fd);
int sc_sock_protocol(int fd);
int sc_sock_domain(int fd);

/* ---- replacement (seccomp-replace.c) -------------------------------------- */

/* Is the socket behind FD neither listening nor connected nor connecting? */
bool sc_undecided(int fd);

/* Replaces the target's socket at TFD (our copy: COPY, remembered as OLD,
 * may be NULL) with a new socket of PROTO: same flags, options, bound
 * address, epoll registrations. On success returns 0 and *OUT is the new
 * socket's entry (SC_S_OURS, OLD's other flags, the values emulated on it),
 * OLD being forgotten; else a negative errno with the target's socket
 * untouched. Caller holds sc.lock. */
int sc_replace(struct sc_target *t, int tfd, int copy, struct sc_sock *old, int proto,
	       struct sc_sock **out);

/* What a fresh TCP socket of FAMILY in the target's namespace answers for
 * the option, into VAL/LEN. Returns 0 or a negative errno (TCP's). */
int sc_tcp_default(const struct sc_target *t, int family, int level, int name, void *val,
		   socklen_t *len);
/* Would TCP accept the setsockopt? 0 when it would (NORM/NORMLEN then get
 * what TCP reads back after it, when NORM is not NULL), else TCP's negative
 * errno. */
int sc_tcp_accepts(const struct sc_target *t, int family, int level, int name,
		   const void *val, socklen_t len, void *norm, socklen_t *normlen);

/* ---- the runner (seccomp-run.c) and --check (seccomp-check.c) ------------- */

/* Runs ARGV under the supervisor. Returns the exit status. */
struct run_settings;
int sc_run(const struct run_settings *s, char *const argv[]);

/* For --check: one line per feature into CB; 0 when the mode can run. */
int sc_check(const struct run_settings *s,
	     void (*cb)(void *ctx, const char *level, const char *line), void *ctx);

/* ---- mode choice (seccomp-mode.c) ----------------------------------------- */

enum sc_binary {
	SC_BIN_UNKNOWN = 0, /* not found, not ELF, unreadable: the preload */
	SC_BIN_DYNAMIC,     /* PT_INTERP */
	SC_BIN_STATIC,      /* no PT_INTERP */
	SC_BIN_GO,          /* Go build information, static or not */
};

/* Looks COMMAND up in PATH like execvp(3) and reads its ELF headers.
 * PATH_OUT (may be NULL) gets the file found; *SETID true when it is setuid,
 * setgid or has file capabilities. */
enum sc_binary sc_inspect(const char *command, char *path_out, size_t len, bool *setid);

#endif /* MPTCPIFY_SECCOMP_H */
