/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* policy-lazy.h - the process's MPTCPIFY_ADDRS, loaded when the first TCP
 * socket needs it rather than at start-up: a process that never makes one
 * (a shell, /bin/true, most of a build) pays nothing for a large policy.
 *
 * Safe in every context socket() may be called from:
 * - threads: one loads; the others wait for it (futex, bounded: after
 *   LAZY_WAIT_SECONDS they go on without a policy: that socket is plain TCP);
 * - a signal handler that interrupted the load in the same thread does not
 *   wait for itself: its socket is plain TCP, untracked;
 * - fork() while another thread loads: the child's first caller finds the
 *   loading thread missing (tgkill(..., 0) says ESRCH) and loads itself;
 * - errno is preserved; only async-signal-safe system calls are made
 *   (policy_load()); the load is bounded by the file limit (16 MiB).
 * A bad policy is reported once, at the first TCP socket, as at start-up
 * before: each bad rule on a line (the first LAZY_MAX_ERRORS), then
 * "nothing is upgraded". */
#ifndef MPTCPIFY_POLICY_LAZY_H
#define MPTCPIFY_POLICY_LAZY_H

#include <stdatomic.h>
#include <stdint.h>

#include "mptcpify/policy.h"

#define LAZY_WAIT_SECONDS 10 /* longest wait for another thread's load */
#define LAZY_MAX_ERRORS 10   /* bad rules reported one by one */

struct policy_lazy {
	/* LAZY_UNSET, LAZY_ARMED, LAZY_DONE, or (tid << 2 | LAZY_LOADING) */
	atomic_uint state;
	const char *var;         /* "MPTCPIFY_ADDRS", for messages */
	const char *setting;     /* the environment's string (see arm) */
	struct policy *policy;   /* the result; NULL: nothing is upgraded */
	unsigned rule_errors, file_errors;
	/* tests only: called by the loading thread once it owns the load */
	void (*test_hook)(struct policy_lazy *l);
};

enum { LAZY_UNSET = 0, LAZY_ARMED = 1, LAZY_DONE = 2, LAZY_LOADING = 3 };

/* The shim's MPTCPIFY_ADDRS. */
extern struct policy_lazy shim_addrs_policy;

/* Remembers SETTING (not copied: a string of the environment, which glibc
 * never frees or changes; a program that putenv()s its own buffer for
 * MPTCPIFY_ADDRS and rewrites it before its first socket gets what it
 * wrote) for the first policy_lazy_get(). VAR names it in messages. */
void policy_lazy_arm(struct policy_lazy *l, const char *var, const char *setting);

/* The policy, loaded by the first call. NULL when the setting is invalid
 * or has no rules (nothing is upgraded), when not armed, or when it cannot
 * be had now (see the top of this file). The loading thread stores the
 * result in *PUBLISH (may be NULL) before any other thread can see it. */
struct policy *policy_lazy_get(struct policy_lazy *l, struct policy **publish);

#endif /* MPTCPIFY_POLICY_LAZY_H */
