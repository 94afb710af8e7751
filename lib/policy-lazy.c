/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* policy-lazy.c - loading MPTCPIFY_ADDRS at the first TCP socket, once per
 * process, from any thread or signal handler (the rules are in
 * policy-lazy.h). */
#include "policy-lazy.h"

#include <errno.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

struct policy_lazy shim_addrs_policy;

void policy_lazy_arm(struct policy_lazy *l, const char *var, const char *setting)
{
	l->var = var;
	l->setting = setting;
	l->policy = NULL;
	l->rule_errors = l->file_errors = 0;
	atomic_store_explicit(&l->state, LAZY_ARMED, memory_order_release);
}

static unsigned my_tid(void)
{
	return (unsigned)syscall(SYS_gettid);
}

static double monotonic(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Does thread TID still exist in this process? (Not after fork(): the
 * child has only the thread that forked.) */
static bool thread_alive(unsigned tid)
{
	return syscall(SYS_tgkill, getpid(), (pid_t)tid, 0) == 0 || errno != ESRCH;
}

/* One line per bad rule (the first LAZY_MAX_ERRORS), as at start-up. A
 * problem with the file is the only line: it says what follows. */
static void report(void *ctx, const struct policy_error *e)
{
	struct policy_lazy *l = ctx;
	struct logbuf lb;
	size_t n;

	if (e->rule)
		l->rule_errors++;
	else
		l->file_errors++;
	if (!log_enabled(LOG_ERROR) || (e->rule && l->rule_errors > LAZY_MAX_ERRORS))
		return;
	lb.level = LOG_ERROR;
	n = policy_error_format(e, l->var, lb.buf, sizeof(lb.buf) - 2);
	lb.len = n;
	if (!e->rule)
		lb_str(&lb, ": nothing is upgraded");
	lb_emit(&lb);
}

static void load(struct policy_lazy *l, struct policy **publish)
{
	struct policy *p = NULL;
	int rc = policy_load(l->setting, &p, report, l, 0);

	if (rc == 0 && policy_rule_count(p) == 0) {
		policy_free(p); /* set but empty: nothing is upgraded */
		p = NULL;
	} else if (rc == -ENOMEM) {
		log_msg(LOG_ERROR, "MPTCPIFY_ADDRS: out of memory: nothing is upgraded");
	} else if (rc < 0 && l->rule_errors > LAZY_MAX_ERRORS) {
		struct logbuf lb;

		lb_start(&lb, LOG_ERROR);
		lb_str(&lb, "MPTCPIFY_ADDRS is invalid (");
		lb_uint(&lb, l->rule_errors);
		lb_str(&lb, " bad rules, the first ");
		lb_uint(&lb, LAZY_MAX_ERRORS);
		lb_str(&lb, " shown): nothing is upgraded");
		if (log_enabled(LOG_ERROR))
			lb_emit(&lb);
	} else if (rc < 0 && !l->file_errors) {
		log_msg(LOG_ERROR, "MPTCPIFY_ADDRS is invalid: nothing is upgraded");
	}
	if (p && log_enabled(LOG_DEBUG)) {
		struct logbuf lb;

		lb_start(&lb, LOG_ERROR);
		lb_str(&lb, "MPTCPIFY_ADDRS: ");
		lb_uint(&lb, policy_rule_count(p));
		lb_str(&lb, policy_origin(p) == POLICY_FROM_IMAGE ? " rules, compiled image mapped"
			    : policy_origin(p) == POLICY_FROM_FILE ? " rules, file parsed (no current compiled image)"
								   : " rules parsed");
		lb_emit(&lb);
	}
	l->policy = p;
	if (publish)
		*publish = p;
}

/* Makes the calling thread the loader (from EXPECTED), loads, publishes.
 * Returns false when another thread got there first. */
static bool try_load(struct policy_lazy *l, unsigned expected, unsigned me,
		     struct policy **publish)
{
	if (!atomic_compare_exchange_strong_explicit(&l->state, &expected, me << 2 | LAZY_LOADING,
						     memory_order_acquire, memory_order_acquire))
		return false;
	if (l->test_hook)
		l->test_hook(l);
	load(l, publish);
	atomic_store_explicit(&l->state, LAZY_DONE, memory_order_release);
	syscall(SYS_futex, &l->state, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
	return true;
}

static struct policy *get_slow(struct policy_lazy *l, struct policy **publish)
{
	unsigned me = my_tid();
	double deadline = 0;

	for (;;) {
		unsigned s = atomic_load_explicit(&l->state, memory_order_acquire);
		struct timespec slice = { 0, 50 * 1000 * 1000 };

		if (s == LAZY_DONE)
			return l->policy;
		if (s == LAZY_UNSET)
			return NULL;
		if (s == LAZY_ARMED) {
			try_load(l, s, me, publish);
			continue;
		}
		/* loading: by this very thread (a signal handler interrupted
		 * the load), by a thread this process no longer has (fork),
		 * or by another thread, which is waited for */
		if (s >> 2 == me)
			return NULL;
		if (!thread_alive(s >> 2)) {
			try_load(l, s, me, publish);
			continue;
		}
		if (deadline == 0) {
			deadline = monotonic() + LAZY_WAIT_SECONDS;
		} else if (monotonic() > deadline) {
			log_msg(LOG_DEBUG, "MPTCPIFY_ADDRS still loading in another thread: "
					   "this socket stays TCP");
			return NULL;
		}
		syscall(SYS_futex, &l->state, FUTEX_WAIT_PRIVATE, s, &slice, NULL, 0);
	}
}

struct policy *policy_lazy_get(struct policy_lazy *l, struct policy **publish)
{
	unsigned s = atomic_load_explicit(&l->state, memory_order_acquire);
	struct policy *p;
	int saved;

	if (s == LAZY_DONE)
		return l->policy;
	if (s == LAZY_UNSET)
		return NULL;
	saved = errno;
	p = get_slow(l, publish);
	errno = saved;
	return p;
}
