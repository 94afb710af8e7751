/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* close.c - close(2), the dup family, fcntl(F_DUPFD...), close_range(2) and
 * closefrom(3): keeping the fd table honest. A slot is forgotten before its
 * fd is closed (so a number reused by another thread is never cleared by
 * mistake), and a socket that gains a second fd is never replaced (the other
 * fd would keep the old socket). These add memory operations only. */
/* fcntl and fcntl64 are both exported: keep the headers from renaming one
 * to the other (meson builds with _FILE_OFFSET_BITS=64). */
#undef _FILE_OFFSET_BITS
#include "shim.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <stdarg.h>
#include <unistd.h>

static void duplicated(int oldfd, int newfd)
{
	if (newfd >= 0 && newfd != oldfd) {
		fdtab_clear(newfd);
		fdtab_set_bits(oldfd, SLOT_NOREPLACE);
	}
}

EXPORT int close(int fd)
{
	shim_ensure();
	fdtab_clear(fd);
	return real.close(fd);
}

EXPORT int dup(int fd)
{
	int ret;
	shim_ensure();
	ret = real.dup(fd);
	duplicated(fd, ret);
	return ret;
}

EXPORT int dup2(int oldfd, int newfd)
{
	int ret;
	shim_ensure();
	/* cleared after success: until then NEWFD is the program's, and no
	 * other thread can be given that number while the dup holds it */
	ret = real.dup2(oldfd, newfd);
	duplicated(oldfd, ret);
	return ret;
}

EXPORT int dup3(int oldfd, int newfd, int flags)
{
	int ret;
	shim_ensure();
	ret = real.dup3(oldfd, newfd, flags);
	duplicated(oldfd, ret);
	return ret;
}

/* fcntl's third argument is an int or a pointer depending on CMD; like
 * libc itself, take it as a pointer-sized value and pass it on. */
static int fcntl_common(int (*fn)(int, int, ...), int fd, int cmd, void *arg)
{
	int ret;
	if (!fn) {
		errno = ENOSYS;
		return -1;
	}
	ret = fn(fd, cmd, arg);
	if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)
		duplicated(fd, ret);
	return ret;
}

EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	shim_ensure();
	return fcntl_common(real.fcntl, fd, cmd, arg);
}

EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	shim_ensure();
	return fcntl_common(real.fcntl64 ? real.fcntl64 : real.fcntl, fd, cmd, arg);
}

EXPORT int close_range(unsigned first, unsigned last, int flags)
{
	shim_ensure();
	if (!real.close_range) {
		errno = ENOSYS;
		return -1;
	}
	/* cleared before (a freed number may be reused by another thread at
	 * once), but only for a call the kernel will accept */
	if (!(flags & ~(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC)) &&
	    !(flags & CLOSE_RANGE_CLOEXEC) && first <= last)
		fdtab_clear_range(first, last);
	return real.close_range(first, last, flags);
}

EXPORT void closefrom(int lowfd)
{
	shim_ensure();
	if (lowfd >= 0)
		fdtab_clear_range((unsigned)lowfd, FDTAB_MAX_FD - 1);
	if (real.closefrom)
		real.closefrom(lowfd);
}
