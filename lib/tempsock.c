/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tempsock.c - sockets the shim makes for itself (see tempsock.h). */
#include "tempsock.h"

#include <errno.h>
#include <stdatomic.h>
#include <sys/resource.h>

#include "shim.h"

/* One thread at a time raises the limit: two raising and restoring at once
 * could leave it raised. A thread that finds the dance taken gets EMFILE,
 * as it would have without the shim's own socket. */
static atomic_int raising;

int temp_socket(int domain, int type, int protocol)
{
	struct rlimit rl, up;
	int fd, err;

	fd = real.socket(domain, type | SOCK_CLOEXEC, protocol);
	if (fd >= 0 || errno != EMFILE)
		return fd;
	if (atomic_exchange(&raising, 1)) {
		errno = EMFILE;
		return -1;
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur >= rl.rlim_max) {
		atomic_store(&raising, 0);
		errno = EMFILE;
		return -1;
	}
	up = rl;
	up.rlim_cur++;
	if (setrlimit(RLIMIT_NOFILE, &up) < 0) {
		atomic_store(&raising, 0);
		errno = EMFILE;
		return -1;
	}
	fd = real.socket(domain, type | SOCK_CLOEXEC, protocol);
	err = errno;
	/* put back the program's limit, unless it changed it meanwhile */
	struct rlimit now;
	if (getrlimit(RLIMIT_NOFILE, &now) == 0 && now.rlim_cur == up.rlim_cur &&
	    now.rlim_max == up.rlim_max)
		setrlimit(RLIMIT_NOFILE, &rl);
	atomic_store(&raising, 0);
	errno = err;
	return fd;
}
