/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* close.c - close(2), fclose(3), the dup family, fcntl(2), ioctl(2)'s flag
 * requests, close_range(2) and closefrom(3): every way a libc call can end
 * an fd number, give a socket a second descriptor, or change a socket's
 * descriptor flags, told to the slot state machine (slot.h) before the real
 * call, so that a replacement in another thread never lands on a number
 * the program reused, and never loses what the program did meanwhile.
 * These add memory operations only, except while a replacement of that
 * very fd is committing (microseconds: then they wait). */
/* fcntl and fcntl64 are both exported: keep the headers from renaming one
 * to the other (meson builds with _FILE_OFFSET_BITS=64). */
#undef _FILE_OFFSET_BITS
#include "shim.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

EXPORT int close(int fd)
{
	shim_ensure();
	slot_closing(fd);
	return real.close(fd);
}

EXPORT int fclose(FILE *f)
{
	int fd;

	shim_ensure();
	/* glibc closes the fd itself, without calling close() */
	if (f && (fd = fileno_unlocked(f)) >= 0)
		slot_closing(fd);
	return real.fclose(f);
}

/* A dup of OLDFD returned RET: that number now holds OLDFD's socket. */
static int after_dup(int oldfd, int ret)
{
	if (ret >= 0 && (known_slot(ret) || known_slot(oldfd))) {
		int saved = errno;
		slot_duplicated(oldfd, ret);
		errno = saved;
	}
	return ret;
}

/* NEWFD is about to hold a copy of OLDFD's socket: a replacement of either
 * must not go on (OLDFD's would split the socket; NEWFD's would land on
 * what the dup puts there). NEWFD is forgotten only once the dup succeeded:
 * a failed dup2 leaves its socket as it was, tracked. */
static void before_dup(int oldfd, int newfd)
{
	if (newfd != oldfd) {
		slot_shared(oldfd);
		slot_touch(newfd);
	}
}

static int after_dup2(int oldfd, int newfd, int ret)
{
	if (ret >= 0 && newfd != oldfd)
		after_dup(oldfd, ret);
	return ret;
}

EXPORT int dup(int fd)
{
	shim_ensure();
	slot_shared(fd);
	return after_dup(fd, real.dup(fd));
}

EXPORT int dup2(int oldfd, int newfd)
{
	shim_ensure();
	before_dup(oldfd, newfd);
	return after_dup2(oldfd, newfd, real.dup2(oldfd, newfd));
}

EXPORT int dup3(int oldfd, int newfd, int flags)
{
	shim_ensure();
	before_dup(oldfd, newfd);
	return after_dup2(oldfd, newfd, real.dup3(oldfd, newfd, flags));
}

/* fcntl's third argument is an int or a pointer depending on CMD; like
 * libc itself, take it as a pointer-sized value and pass it on. */
static int fcntl_common(int (*fn)(int, int, ...), int fd, int cmd, void *arg)
{
	if (!fn) {
		errno = ENOSYS;
		return -1;
	}
	switch (cmd) {
	case F_DUPFD:
	case F_DUPFD_CLOEXEC:
		slot_shared(fd);
		return after_dup(fd, fn(fd, cmd, arg));
	case F_SETFD:
	case F_SETFL:
	case F_SETOWN:
	case F_SETOWN_EX:
	case F_SETSIG:
		/* what a replacement copies from the old descriptor */
		slot_touch(fd);
		break;
	default:
		break;
	}
	return fn(fd, cmd, arg);
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

EXPORT int ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	shim_ensure();
	if (req == FIONBIO || req == FIOASYNC)
		slot_touch(fd); /* O_NONBLOCK / O_ASYNC by another name */
	return real.ioctl(fd, req, arg);
}

EXPORT int close_range(unsigned first, unsigned last, int flags)
{
	shim_ensure();
	if (!real.close_range) {
		errno = ENOSYS;
		return -1;
	}
	/* told before (a freed number may be reused by another thread at
	 * once), but only for a call the kernel will accept */
	if (!(flags & ~(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC)) && first <= last) {
		if (flags & CLOSE_RANGE_CLOEXEC)
			slot_touch_range(first, last);
		else
			slot_closing_range(first, last);
	}
	return real.close_range(first, last, flags);
}

EXPORT void closefrom(int lowfd)
{
	shim_ensure();
	if (lowfd >= 0)
		slot_closing_range((unsigned)lowfd, FDTAB_MAX_FD - 1);
	if (real.closefrom)
		real.closefrom(lowfd);
}
