/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* shim.c - start-up of libmptcpify.so: resolves the real libc functions,
 * reads MPTCPIFY_* from the environment, and prints the statistics line at
 * exit. Also the small kernel queries the other files share. */
#include "shim.h"
#include "policy-lazy.h"

#include <dlfcn.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

struct real_funcs real;
struct shim_config cfg;
struct shim_stats stats;
atomic_int mptcp_refused[2];
atomic_int last_connect_proto[2] = { IPPROTO_MPTCP, IPPROTO_MPTCP };
atomic_int shim_ready;

static void resolve_real(void)
{
#define X(ret, name, args)                                                   \
	if (!real.name)                                                      \
		real.name = (ret(*) args)dlsym(RTLD_NEXT, #name);
	SHIM_REAL_FUNCS(X)
#undef X
}

/* Reports one malformed entry of MPTCPIFY_ADDRS or MPTCPIFY_OPTIONS. */
static void report_error(void *ctx, const struct policy_error *e)
{
	struct logbuf lb;
	lb_start(&lb, LOG_ERROR);
	lb.len = 0;
	size_t n = policy_error_format(e, (const char *)ctx, lb.buf, sizeof(lb.buf) - 2);
	lb.len = n;
	if (log_enabled(LOG_ERROR))
		lb_emit(&lb);
}

static void read_config(void)
{
	const char *v;

	/* secure_getenv: nothing from the environment in setuid/setgid
	 * processes; they run with the defaults (warn, all-mode). */
	log_init();
	v = secure_getenv("MPTCPIFY_LOG_FILE");
	if (v && v[0] && log_set_target(v) < 0)
		log_msg(LOG_WARN, "MPTCPIFY_LOG_FILE: expected an absolute path or syslog; logging to stderr");
	v = secure_getenv("MPTCPIFY_LOG");
	if (v) {
		int lvl = log_parse_level(v);
		if (lvl >= 0)
			log_level = lvl;
		else
			log_msg(LOG_WARN, "MPTCPIFY_LOG: expected error, warn, info or debug; using warn");
	}
	v = secure_getenv("MPTCPIFY_STATS");
	cfg.stats = v && strcmp(v, "1") == 0;
	if (v && !cfg.stats && strcmp(v, "0") != 0 && v[0])
		log_msg(LOG_WARN, "MPTCPIFY_STATS: expected 1 or 0; statistics stay off");
	v = secure_getenv("MPTCPIFY_STRATEGY");
	if (v && strcmp(v, "tcp-first") == 0)
		cfg.strategy = STRAT_TCP_FIRST;
	else if (v && strcmp(v, "mptcp-first") == 0)
		cfg.strategy = STRAT_MPTCP_FIRST;
	else if (v && strcmp(v, "predict") != 0)
		log_msg(LOG_WARN, "MPTCPIFY_STRATEGY: expected predict, mptcp-first or tcp-first; using predict");

	v = secure_getenv("MPTCPIFY_OPTIONS");
	if (v && optclass_parse(v, &cfg.opts, report_error, (void *)"MPTCPIFY_OPTIONS") < 0)
		log_msg(LOG_ERROR, "MPTCPIFY_OPTIONS is invalid: using the default option classes");

	v = secure_getenv("MPTCPIFY_ADDRS");
	if (!v) {
		cfg.mode = MODE_ALL;
		return;
	}
	/* Read and checked when the first TCP socket needs it (socket.c), not
	 * here: a process that never makes one pays nothing for a big policy.
	 * An invalid one is reported then, and nothing is upgraded. */
	policy_lazy_arm(&shim_addrs_policy, "MPTCPIFY_ADDRS", v);
	cfg.mode = MODE_POLICY;
}

static void atfork_prepare(void);
static void atfork_parent(void);
static void atfork_child(void);

static void init_once(int from_constructor);

void shim_init(void)
{
	init_once(0);
}

static void init_once(int from_constructor)
{
	static atomic_int once;
	int expected = 0;

	resolve_real();
	if (!atomic_compare_exchange_strong(&once, &expected, 1)) {
		/* Another thread is initialising (only when the first socket
		 * calls race at start-up): wait for it, briefly, so this call
		 * sees the configuration. Never in a signal handler's path:
		 * the constructor has run long before any handler. */
		for (int i = 0; i < 100000 && !atomic_load(&shim_ready); i++)
			sched_yield();
		return;
	}
	int saved = errno;
	read_config();
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
	if (!from_constructor)
		log_msg(LOG_DEBUG, "initialised by a call made before the library's constructor ran");
	errno = saved;
	atomic_store_explicit(&shim_ready, 1, memory_order_release);
}

__attribute__((constructor)) static void shim_constructor(void)
{
	init_once(1);
}

/* A socket still undecided when the process forks is shared by parent and
 * child: replacing it in one would split it, so it keeps its protocol; a
 * replacement under way is let finish first (slot.c). */
static void atfork_prepare(void)
{
	slot_fork_prepare();
}

static void atfork_parent(void)
{
	slot_fork_parent();
}

static void atfork_child(void)
{
	slot_fork_child();
	/* the child reports only what it does itself */
	atomic_store(&stats.upgraded, 0);
	atomic_store(&stats.kept_policy, 0);
	atomic_store(&stats.fell_back, 0);
	atomic_store(&stats.stepped_down, 0);
	atomic_store(&stats.emulated, 0);
	atomic_store(&stats.stuck, 0);
}

__attribute__((destructor)) static void shim_destructor(void)
{
	struct logbuf lb;

	unsigned long any;

	if (!cfg.stats)
		return;
	/* a process that did nothing with TCP sockets has nothing to say
	 * (a compiler run by a server, a pre-authentication child) */
	any = atomic_load(&stats.upgraded) | atomic_load(&stats.kept_policy) |
	      atomic_load(&stats.fell_back) | atomic_load(&stats.stepped_down) |
	      atomic_load(&stats.emulated) | atomic_load(&stats.stuck);
	if (!any)
		return;
	lb_start(&lb, LOG_ERROR);
	lb_str(&lb, "stats: upgraded ");
	lb_uint(&lb, atomic_load(&stats.upgraded));
	lb_str(&lb, ", kept TCP by policy ");
	lb_uint(&lb, atomic_load(&stats.kept_policy));
	lb_str(&lb, ", fell back (kernel refused MPTCP) ");
	lb_uint(&lb, atomic_load(&stats.fell_back));
	lb_str(&lb, ", downgraded for options ");
	lb_uint(&lb, atomic_load(&stats.stepped_down));
	lb_str(&lb, ", options emulated ");
	lb_uint(&lb, atomic_load(&stats.emulated));
	if (atomic_load(&stats.stuck)) {
		lb_str(&lb, ", left as made (could not be replaced) ");
		lb_uint(&lb, atomic_load(&stats.stuck));
	}
	lb_emit(&lb);
}

void shim_note_refusal(int family, int err)
{
	int expected = 0;
	struct logbuf lb;

	static atomic_int warned;

	if (!atomic_compare_exchange_strong(&mptcp_refused[family_index(family)], &expected, err))
		return;
	/* one warning per process, whichever family met the refusal first */
	if (!log_enabled(LOG_WARN) || atomic_exchange(&warned, 1))
		return;
	lb_start(&lb, LOG_WARN);
	lb_str(&lb, "warning: the kernel refuses MPTCP sockets (");
	lb_errno(&lb, err);
	switch (err) {
	case ENOPROTOOPT:
		lb_str(&lb, ": net.mptcp.enabled=0 in this network namespace");
		break;
	case EPROTONOSUPPORT:
		lb_str(&lb, ": kernel built without MPTCP");
		break;
	case EINVAL:
		lb_str(&lb, ": kernel older than 5.6");
		break;
	default:
		lb_str(&lb, ": refused by security policy");
		break;
	}
	lb_str(&lb, "); using plain TCP");
	lb_emit(&lb);
}

int sock_protocol(int fd)
{
	int proto = -1;
	socklen_t len = sizeof(proto);
	if (real.getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len) < 0)
		return -1;
	return proto;
}

uint64_t sock_cookie(int fd)
{
	uint64_t cookie = 0;
	socklen_t len = sizeof(cookie);
	if (real.getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &len) < 0)
		return 0;
	return cookie;
}

int slot_same_socket(int fd, struct fd_slot *s, uint32_t st)
{
	int dom = 0;
	socklen_t l = sizeof(dom);

	if (st & SLOT_HAVE_COOKIE)
		return sock_cookie(fd) == s->cookie;
	/* no identity was taken (all-mode): every libc path that ends or
	 * makes an fd number keeps the table right; what is left to check is
	 * that the number holds a socket of the kind the shim made */
	return sock_protocol(fd) == s->proto &&
	       real.getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &l) == 0 && dom == s->family;
}

void stats_count(int proto, enum why_tcp why)
{
	atomic_ulong *c;

	if (proto == IPPROTO_MPTCP)
		c = &stats.upgraded;
	else if (why == WHY_OPTION)
		c = &stats.stepped_down;
	else if (why == WHY_KERNEL)
		c = &stats.fell_back;
	else if (why == WHY_STUCK)
		c = &stats.stuck;
	else
		c = &stats.kept_policy;
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

void shim_warn_unreplaced(int err)
{
	static atomic_int warned;
	struct logbuf lb;

	if (!log_enabled(LOG_WARN) || atomic_exchange(&warned, 1))
		return;
	lb_start(&lb, LOG_WARN);
	lb_str(&lb, "warning: a socket the policy decides could not be replaced (");
	lb_errno(&lb, err);
	lb_str(&lb, err == EMFILE || err == ENFILE ? ": at the file-descriptor limit" : "");
	lb_str(&lb, "): it keeps the protocol it was made with; said once");
	lb_emit(&lb);
}

/* Kernels on which an MPTCP listener accepts TCP_DEFER_ACCEPT but its
 * connections then never complete an MP_JOIN (tests/kernels measures it
 * per kernel; docs/kernels.md). Read once, from uname(2). */
int defer_accept_breaks_joins(void)
{
	static atomic_int known; /* 0 unknown, 1 no, 2 yes */
	int k = atomic_load_explicit(&known, memory_order_relaxed);
	struct utsname u;

	if (k)
		return k == 2;
	k = 2;
	if (uname(&u) == 0) {
		unsigned major = 0, minor = 0;
		const char *p = u.release;
		while (*p >= '0' && *p <= '9')
			major = major * 10 + (unsigned)(*p++ - '0');
		if (*p == '.')
			p++;
		while (*p >= '0' && *p <= '9')
			minor = minor * 10 + (unsigned)(*p++ - '0');
		/* before 5.19 MPTCP refuses the option (it is emulated) */
		k = major * 100 + minor >= 519 ? 2 : 1;
	}
	atomic_store_explicit(&known, k, memory_order_relaxed);
	return k == 2;
}
