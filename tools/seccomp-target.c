/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* seccomp-target.c - reaching the process that made a trapped call: its
 * memory (process_vm_readv/writev, or /proc/TID/mem where the kernel has
 * no cross-memory attach), its fds (pidfd_getfd), its network
 * namespace, and the answers to the notification. Every reach is checked
 * with SECCOMP_IOCTL_NOTIF_ID_VALID before anything is done with it: a
 * thread id names the caller only while its call is pending. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "seccomp.h"
#include "seccomp-maps.h"

void sc_target_init(struct sc_target *t, const struct seccomp_notif *req)
{
	t->req = req;
	t->tid = (pid_t)req->pid;
	t->pidfd = -1;
	t->other_table = false;
	t->unchecked = false;
}

void sc_target_done(struct sc_target *t)
{
	/* pidfds belong to the worker's cache */
	t->pidfd = -1;
}

bool sc_target_valid(const struct sc_target *t)
{
	uint64_t id = t->req->id;

	return ioctl(sc.listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

bool sc_target_check(struct sc_target *t)
{
	if (!t->unchecked)
		return true;
	t->unchecked = false;
	/* the thread still waits in its call, so its tid was not reused */
	return sc_target_valid(t);
}

/* Copies LEN bytes between BUF and ADDR in TID through /proc/TID/mem, for
 * kernels without process_vm_readv/writev (CONFIG_CROSS_MEMORY_ATTACH is
 * off: ENOSYS). Same access check (ptrace attach), files opened per call:
 * this is the rare path. /proc/TID/mem reads and writes through protected
 * pages (FOLL_FORCE: PROT_NONE guard pages, read-only data), which the
 * kernel's own copy, and process_vm_readv/writev, refuse with EFAULT: the
 * mappings are checked first (/proc/TID/maps). Returns the bytes copied,
 * or -1 with errno. */
static ssize_t proc_mem_copy(pid_t tid, uint64_t addr, void *buf, size_t len, bool to_target)
{
	char path[64];
	ssize_t n;
	bool ok;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ok = fd >= 0 && sc_maps_allow(fd, addr, len, to_target ? 'w' : 'r');
	if (fd >= 0)
		close(fd);
	if (!ok) {
		errno = EFAULT;
		return -1;
	}
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)tid);
	fd = open(path, (to_target ? O_WRONLY : O_RDONLY) | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = to_target ? pwrite(fd, buf, len, (off_t)addr) : pread(fd, buf, len, (off_t)addr);
	if (n < 0 && (errno == EIO || errno == EINVAL))
		errno = EFAULT; /* an unmapped address */
	close(fd);
	return n;
}

int sc_target_read(struct sc_target *t, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = { buf, len };
	struct iovec remote = { (void *)(uintptr_t)addr, len };
	ssize_t n;

	if (len == 0)
		return 0;
	n = process_vm_readv(t->tid, &local, 1, &remote, 1, 0);
	if (n < 0 && errno == ENOSYS)
		n = proc_mem_copy(t->tid, addr, buf, len, false);
	t->unchecked = true;
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EFAULT;
}

int sc_target_write(struct sc_target *t, uint64_t addr, const void *buf, size_t len)
{
	struct iovec local = { (void *)buf, len };
	struct iovec remote = { (void *)(uintptr_t)addr, len };
	ssize_t n;

	/* After sc_target_check(): the thread waits in its call until
	 * answered; it can only go by being killed, and its tid is free again
	 * only after pid_max other allocations. process_vm_writev keeps the
	 * page protections the kernel's own copy would meet. */
	if (!sc_target_check(t))
		return -ESRCH;
	n = process_vm_writev(t->tid, &local, 1, &remote, 1, 0);
	if (n < 0 && errno == ENOSYS)
		n = proc_mem_copy(t->tid, addr, (void *)buf, len, true);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EFAULT;
}

/* The thread group of TID, from /proc/TID/status. */
static pid_t read_tgid(pid_t tid)
{
	char path[64], buf[1024];
	int fd;
	ssize_t n;
	const char *p;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strstr(buf, "\nTgid:");
	return p ? (pid_t)atoi(p + 6) : 0;
}

/* The inode of the socket the target's thread sees at FD, or 0. */
static unsigned long target_fd_inode(pid_t tid, int fd)
{
	char path[64], link[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)tid, fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0)
		return 0;
	link[n] = '\0';
	if (strncmp(link, "socket:[", 8) != 0)
		return 0;
	return strtoul(link + 8, NULL, 10);
}

/* pidfds, per worker thread, by tid. A pidfd never names another process
 * than the one it was opened for: a stale entry (that process gone, its
 * tid reused) fails with ESRCH and is opened again. For a thread that is
 * not its group's leader, the entry holds the group's pidfd, and every fd
 * taken through it is checked against /proc/TID/fd (the tid may now be a
 * thread of another process). */
#define PIDFD_CACHE 64
static __thread struct {
	pid_t tid;
	int pidfd;
	bool leader;
} pidfds[PIDFD_CACHE];

static void cache_drop(pid_t tid)
{
	unsigned i = (unsigned)tid % PIDFD_CACHE;

	if (pidfds[i].tid == tid && pidfds[i].pidfd > 0) {
		close(pidfds[i].pidfd);
		pidfds[i].tid = 0;
		pidfds[i].pidfd = 0;
	}
}

/* A pidfd for the target's process (pidfd_open takes only a thread group
 * leader before 6.9, so another thread's calls go through its tgid). */
static int target_pidfd(struct sc_target *t)
{
	unsigned i = (unsigned)t->tid % PIDFD_CACHE;
	pid_t tgid = t->tid;
	int fd;

	if (pidfds[i].tid == t->tid && pidfds[i].pidfd > 0) {
		t->pidfd = pidfds[i].pidfd;
		t->other_table = !pidfds[i].leader;
		return 0;
	}
	fd = (int)syscall(SYS_pidfd_open, t->tid, 0);
	if (fd < 0 && errno == EINVAL) {
		tgid = read_tgid(t->tid);
		if (!tgid)
			return -ESRCH;
		fd = (int)syscall(SYS_pidfd_open, tgid, 0);
	}
	if (fd < 0)
		return -errno;
	/* the pidfd names the caller's process only if the call still waits */
	t->unchecked = true;
	if (!sc_target_check(t)) {
		close(fd);
		return -ESRCH;
	}
	if (pidfds[i].pidfd > 0)
		close(pidfds[i].pidfd);
	pidfds[i].tid = t->tid;
	pidfds[i].pidfd = fd;
	pidfds[i].leader = tgid == t->tid;
	t->pidfd = fd;
	t->other_table = tgid != t->tid;
	return 0;
}

int sc_target_getfd(struct sc_target *t, int fd)
{
	int rc, copy;

	for (int attempt = 0;; attempt++) {
		rc = target_pidfd(t);
		if (rc < 0)
			return rc;
		copy = (int)syscall(SYS_pidfd_getfd, t->pidfd, fd, 0);
		if (copy >= 0 || errno != ESRCH || attempt)
			break;
		/* a cached pidfd of a process that is gone: open it afresh */
		cache_drop(t->tid);
		t->pidfd = -1;
	}
	if (copy < 0)
		return -errno;
	if (t->other_table) {
		/* pidfd_getfd reads the leader's fd table: the calling thread
		 * must see the same socket (it shares the table unless it was
		 * cloned without CLONE_FILES; its tid may be reused) */
		struct stat st;
		if (fstat(copy, &st) < 0 || target_fd_inode(t->tid, fd) != (unsigned long)st.st_ino) {
			close(copy);
			cache_drop(t->tid);
			return -ESTALE;
		}
	}
	if (!sc_target_check(t)) {
		close(copy);
		return -ESRCH;
	}
	return copy;
}

int sc_target_cloexec(const struct sc_target *t, int fd)
{
	char path[64], buf[256];
	int f;
	ssize_t n;
	const char *p;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", (int)t->tid, fd);
	f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return 0;
	n = read(f, buf, sizeof(buf) - 1);
	close(f);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strstr(buf, "flags:");
	return p && (strtoul(p + 6, NULL, 8) & O_CLOEXEC);
}

ino_t sc_target_netns(const struct sc_target *t)
{
	char path[64];
	struct stat st;

	/* A process leaves our namespace only through unshare, setns or
	 * clone with CLONE_NEWNET, which the filter shows us: until one was
	 * seen, no need to ask. Unreadable (another user): taken as ours,
	 * where sockets are made anyway. */
	if (!atomic_load_explicit(&sc.netns_varies, memory_order_acquire))
		return sc.netns;
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)t->tid);
	return stat(path, &st) == 0 ? st.st_ino : sc.netns;
}

int sc_target_socket(const struct sc_target *t, ino_t ns, int domain, int type, int proto)
{
	char path[64];
	int nsfd, fd, err;

	/* A socket belongs to the namespace of whoever creates it: one made
	 * here must be made in the target's. */
	if (ns == sc.netns) {
		fd = socket(domain, type | SOCK_CLOEXEC, proto);
		return fd < 0 ? -errno : fd;
	}
	if (!sc.can_setns)
		return -EXDEV;
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)t->tid);
	nsfd = open(path, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0)
		return -EXDEV;
	/* setns() moves only this worker thread; it comes back at once */
	if (setns(nsfd, CLONE_NEWNET) < 0) {
		close(nsfd);
		return -EXDEV;
	}
	close(nsfd);
	fd = socket(domain, type | SOCK_CLOEXEC, proto);
	err = errno;
	if (setns(sc.netns_fd, CLONE_NEWNET) < 0) {
		/* a worker stuck in another namespace would make every
		 * later socket there: stop here rather than guess */
		log_msg(LOG_ERROR, "mptcpify-run: --seccomp: cannot return to the supervisor's "
				   "network namespace; stopping");
		abort();
	}
	return fd < 0 ? -err : fd;
}

/* ---- answers ------------------------------------------------------------- */

static void send_resp(const struct sc_target *t, int64_t val, int err, unsigned flags)
{
	/* the kernel's struct may be larger than ours: size from the kernel */
	union {
		struct seccomp_notif_resp r;
		unsigned char raw[256];
	} u;
	size_t sz = sc.sizes.seccomp_notif_resp;

	if (sz > sizeof(u))
		sz = sizeof(u);
	memset(&u, 0, sizeof(u));
	u.r.id = t->req->id;
	u.r.val = val;
	u.r.error = err ? -err : 0;
	u.r.flags = flags;
	/* ENOENT: the caller is gone (killed, or interrupted by a signal:
	 * then its call restarts and comes again) */
	ioctl(sc.listener, SECCOMP_IOCTL_NOTIF_SEND, &u.r);
}

void sc_continue(const struct sc_target *t)
{
	send_resp(t, 0, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE);
}

void sc_answer_error(const struct sc_target *t, int err)
{
	send_resp(t, -1, err, 0);
}

void sc_answer_value(const struct sc_target *t, int64_t val)
{
	send_resp(t, val, 0, 0);
}

int sc_addfd(const struct sc_target *t, int srcfd, int newfd, bool cloexec, bool send)
{
	struct seccomp_notif_addfd a;
	int rc;

	memset(&a, 0, sizeof(a));
	a.id = t->req->id;
	a.srcfd = (uint32_t)srcfd;
	a.newfd = newfd >= 0 ? (uint32_t)newfd : 0;
	a.flags = (newfd >= 0 ? SECCOMP_ADDFD_FLAG_SETFD : 0) | (send ? SECCOMP_ADDFD_FLAG_SEND : 0);
	a.newfd_flags = cloexec ? O_CLOEXEC : 0;
	rc = ioctl(sc.listener, SECCOMP_IOCTL_NOTIF_ADDFD, &a);
	return rc < 0 ? -errno : rc;
}
