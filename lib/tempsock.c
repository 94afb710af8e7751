/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tempsock.c - sockets the shim makes for itself (see tempsock.h). */
#include "tempsock.h"

#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim.h"

/* The thread (kernel tid) raising the limit, 0 when none. Two threads
 * raising and putting back at once could leave the limit raised (the
 * second one reads the first one's raised value as the program's), so the
 * raise is held by one thread at a time. */
static atomic_int raiser;

/* How often a thread that finds the raise held by another one yields
 * before giving up: the holder only makes four syscalls. */
#define RAISE_TRIES 2000

static int take_raise(void)
{
	int self = (int)syscall(SYS_gettid);

	for (int i = 0; i < RAISE_TRIES; i++) {
		int none = 0;
		if (atomic_compare_exchange_strong(&raiser, &none, self))
			return 1;
		/* a signal handler that interrupted its own thread's raise
		 * must not wait for itself */
		if (none == self)
			return 0;
		sched_yield();
	}
	return 0;
}

/* Puts OLD back, unless the program changed the limit while it was raised
 * (another thread's setrlimit): then the program's value stays. prlimit()
 * sets and reads back in one call, so only a change in the few
 * instructions between reading and restoring could be lost; and that only
 * if the program set exactly the raised value. */
static void put_back(const struct rlimit *old, const struct rlimit *raised)
{
	struct rlimit seen;

	if (prlimit(0, RLIMIT_NOFILE, old, &seen) < 0)
		return;
	if (seen.rlim_cur != raised->rlim_cur || seen.rlim_max != raised->rlim_max)
		prlimit(0, RLIMIT_NOFILE, &seen, NULL); /* the program's own */
}

int temp_socket(int domain, int type, int protocol)
{
	struct rlimit rl, up;
	int fd, err = EMFILE;

	fd = real.socket(domain, type | SOCK_CLOEXEC, protocol);
	if (fd >= 0 || errno != EMFILE)
		return fd;
	if (!take_raise()) {
		errno = EMFILE;
		return -1;
	}
	fd = -1;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		goto out;
	up = rl;
	up.rlim_cur++;
	if (up.rlim_cur > up.rlim_max) {
		/* soft == hard: raising the hard limit needs CAP_SYS_RESOURCE
		 * (and stays within fs.nr_open); the kernel says whether */
		if (rl.rlim_max == RLIM_INFINITY)
			goto out;
		up.rlim_max = up.rlim_cur;
	}
	if (setrlimit(RLIMIT_NOFILE, &up) < 0)
		goto out;
	fd = real.socket(domain, type | SOCK_CLOEXEC, protocol);
	err = errno;
	put_back(&rl, &up);
out:
	atomic_store(&raiser, 0);
	if (fd < 0)
		errno = err;
	return fd;
}
