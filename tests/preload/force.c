/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* force.c - libforce.so, a test library preloaded AFTER libmptcpify.so:
 * its socket() and dup3() are what the shim's dlsym(RTLD_NEXT) resolves,
 * so a test can run code at the exact moment a replacement creates its new
 * socket (just after) or puts it at the program's fd number (just before):
 * what another thread or a signal handler could do there. A hook fires once,
 * and only in the thread that armed it. */

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "force.h"

static void (*_Atomic hook_fn[FORCE_NHOOKS])(void *);
static void *hook_ctx[FORCE_NHOOKS];
static pthread_t hook_thread[FORCE_NHOOKS];
static atomic_int fired[FORCE_NHOOKS];

__attribute__((visibility("default"))) void force_arm(int hook, void (*fn)(void *), void *ctx)
{
	hook_ctx[hook] = ctx;
	hook_thread[hook] = pthread_self();
	atomic_store(&fired[hook], 0);
	atomic_store(&hook_fn[hook], fn);
}

__attribute__((visibility("default"))) int force_fired(int hook)
{
	atomic_store(&hook_fn[hook], NULL);
	return atomic_load(&fired[hook]);
}

static void run(int hook)
{
	void (*fn)(void *) = atomic_load(&hook_fn[hook]);
	if (fn && pthread_equal(hook_thread[hook], pthread_self()) &&
	    atomic_compare_exchange_strong(&hook_fn[hook], &fn, NULL)) {
		atomic_store(&fired[hook], 1);
		fn(hook_ctx[hook]);
	}
}

__attribute__((visibility("default"))) int socket(int domain, int type, int protocol)
{
	static int (*next)(int, int, int);
	if (!next)
		next = (int (*)(int, int, int))dlsym(RTLD_NEXT, "socket");
	int fd = next(domain, type, protocol);
	if (fd >= 0)
		run(FORCE_AFTER_SOCKET);
	return fd;
}

__attribute__((visibility("default"))) int dup3(int oldfd, int newfd, int flags)
{
	static int (*next)(int, int, int);
	if (!next)
		next = (int (*)(int, int, int))dlsym(RTLD_NEXT, "dup3");
	run(FORCE_BEFORE_DUP3);
	return next(oldfd, newfd, flags);
}
