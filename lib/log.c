/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* log.c - the async-signal-safe logger (see log.h). Formats by hand: printf
 * and strerror are neither async-signal-safe nor lock-free. */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int log_level = LOG_WARN;

static int streq(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return *a == *b;
}

int log_parse_level(const char *s)
{
	static const char *const names[] = { "none", "error", "warn", "info", "debug" };
	for (int i = 0; i < 5; i++)
		if (streq(s, names[i]))
			return i;
	return -1;
}

void lb_strn(struct logbuf *lb, const char *s, size_t n)
{
	/* keep room for '\n' and NUL */
	while (n-- && *s && lb->len < sizeof(lb->buf) - 2)
		lb->buf[lb->len++] = *s++;
	lb->buf[lb->len] = '\0';
}

void lb_str(struct logbuf *lb, const char *s)
{
	lb_strn(lb, s, (size_t)-1);
}

void lb_uint(struct logbuf *lb, unsigned long v)
{
	char tmp[24];
	int i = sizeof(tmp);
	tmp[--i] = '\0';
	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	lb_str(lb, tmp + i);
}

void lb_int(struct logbuf *lb, long v)
{
	if (v < 0) {
		lb_str(lb, "-");
		lb_uint(lb, 0UL - (unsigned long)v);
	} else {
		lb_uint(lb, (unsigned long)v);
	}
}

static void lb_hex16(struct logbuf *lb, unsigned v)
{
	char tmp[5];
	int i = sizeof(tmp);
	tmp[--i] = '\0';
	do {
		tmp[--i] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v);
	lb_str(lb, tmp + i);
}

static void lb_ipv4(struct logbuf *lb, const unsigned char *a)
{
	for (int i = 0; i < 4; i++) {
		if (i)
			lb_str(lb, ".");
		lb_uint(lb, a[i]);
	}
}

/* RFC 5952 style: longest run of two or more zero groups becomes "::". */
static void lb_ipv6(struct logbuf *lb, const unsigned char *a)
{
	unsigned g[8];
	int best = -1, bestlen = 0;

	for (int i = 0; i < 8; i++)
		g[i] = (unsigned)a[2 * i] << 8 | a[2 * i + 1];
	for (int i = 0; i < 8;) {
		int j = i;
		while (j < 8 && g[j] == 0)
			j++;
		if (j - i > bestlen && j - i >= 2) {
			best = i;
			bestlen = j - i;
		}
		i = j > i ? j : i + 1;
	}
	for (int i = 0; i < 8; i++) {
		if (i == best) {
			lb_str(lb, "::");
			i += bestlen - 1;
			continue;
		}
		if (i && i != best + bestlen)
			lb_str(lb, ":");
		lb_hex16(lb, g[i]);
	}
}

void lb_addr(struct logbuf *lb, const struct sockaddr *sa, socklen_t len)
{
	if (sa && sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		lb_ipv4(lb, (const unsigned char *)&in->sin_addr);
		lb_str(lb, ":");
		lb_uint(lb, ntohs(in->sin_port));
	} else if (sa && sa->sa_family == AF_INET6 &&
		   len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		lb_str(lb, "[");
		lb_ipv6(lb, in6->sin6_addr.s6_addr);
		lb_str(lb, "]:");
		lb_uint(lb, ntohs(in6->sin6_port));
	} else {
		lb_str(lb, "?");
	}
}

void lb_errno(struct logbuf *lb, int err)
{
	static const struct {
		int e;
		const char *name;
	} names[] = {
		{ EINVAL, "EINVAL" },		{ EPROTONOSUPPORT, "EPROTONOSUPPORT" },
		{ ENOPROTOOPT, "ENOPROTOOPT" }, { EACCES, "EACCES" },
		{ EPERM, "EPERM" },		{ EOPNOTSUPP, "EOPNOTSUPP" },
		{ EADDRINUSE, "EADDRINUSE" },	{ EMFILE, "EMFILE" },
		{ ENFILE, "ENFILE" },		{ ENOMEM, "ENOMEM" },
		{ ENOBUFS, "ENOBUFS" },		{ EAFNOSUPPORT, "EAFNOSUPPORT" },
		{ EBADF, "EBADF" },		{ ENOTSOCK, "ENOTSOCK" },
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].e == err) {
			lb_str(lb, names[i].name);
			return;
		}
	lb_str(lb, "errno ");
	lb_int(lb, err);
}

void lb_start(struct logbuf *lb, enum log_level lvl)
{
	lb->len = 0;
	lb->level = lvl;
	lb->buf[0] = '\0';
	lb_str(lb, "mptcpify[");
	lb_int(lb, (long)getpid());
	lb_str(lb, "]: ");
}

/* ---- the sink ------------------------------------------------------------ */

enum { TARGET_STDERR, TARGET_FILE, TARGET_SYSLOG };
static int target = TARGET_STDERR;
static char target_path[256];

/* The stderr the process started with. */
static int stderr_known;
static dev_t stderr_dev;
static ino_t stderr_ino;

void log_init(void)
{
	struct stat st;

	if (fstat(STDERR_FILENO, &st) == 0) {
		stderr_dev = st.st_dev;
		stderr_ino = st.st_ino;
		stderr_known = 1;
	}
}

int log_set_target(const char *spec)
{
	size_t n = 0;

	if (streq(spec, "syslog")) {
		target = TARGET_SYSLOG;
		return 0;
	}
	if (streq(spec, "stderr")) {
		target = TARGET_STDERR;
		return 0;
	}
	while (spec[n])
		n++;
	if (spec[0] != '/' || n >= sizeof(target_path))
		return -1;
	for (size_t i = 0; i <= n; i++)
		target_path[i] = spec[i];
	target = TARGET_FILE;
	return 0;
}

/* Would LEN more bytes at FD (a regular file) pass RLIMIT_FSIZE? The kernel
 * would cut the line short and raise SIGXFSZ. */
static int fits_size_limit(int fd, const struct stat *st, size_t len)
{
	struct rlimit rl;
	off_t at;

	if (getrlimit(RLIMIT_FSIZE, &rl) < 0)
		return 0;
	if (rl.rlim_cur == RLIM_INFINITY)
		return 1;
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return 0;
	at = (fl & O_APPEND) ? st->st_size : lseek(fd, 0, SEEK_CUR);
	return at >= 0 && (unsigned long long)at + len <= (unsigned long long)rl.rlim_cur;
}

/* Writes BUF to FD with SIGPIPE and SIGXFSZ blocked in this thread; one the
 * write raised is taken back before they are unblocked. Nothing is written
 * when one is already pending (it cannot be told apart). SOCK: FD is a
 * socket (send with MSG_NOSIGNAL, never block). */
static void write_guarded(int fd, const char *buf, size_t len, int sock)
{
	sigset_t block, old, pend;
	size_t off = 0;
	int raised = 0;

	sigemptyset(&block);
	sigaddset(&block, SIGPIPE);
	sigaddset(&block, SIGXFSZ);
	if (sigprocmask(SIG_BLOCK, &block, &old) < 0)
		return;
	if (sigpending(&pend) == 0 && !sigismember(&pend, SIGPIPE) &&
	    !sigismember(&pend, SIGXFSZ)) {
		while (off < len) {
			ssize_t n = sock ? send(fd, buf + off, len - off, MSG_DONTWAIT | MSG_NOSIGNAL)
					 : write(fd, buf + off, len - off);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && (errno == EPIPE || errno == EFBIG))
				raised = 1;
			if (n <= 0)
				break;
			off += (size_t)n;
		}
		if (raised && sigpending(&pend) == 0) {
			static const struct timespec zero = { 0, 0 };
			const int sigs[2] = { SIGPIPE, SIGXFSZ };
			for (int i = 0; i < 2; i++)
				if (sigismember(&pend, sigs[i])) {
					sigset_t one;
					sigemptyset(&one);
					sigaddset(&one, sigs[i]);
					sigtimedwait(&one, NULL, &zero);
				}
		}
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
}

/* Writes BUF to FD (described by ST) in a way that cannot block: sockets
 * with MSG_DONTWAIT, regular files directly (within RLIMIT_FSIZE), pipes and
 * character devices (terminals) through a non-blocking descriptor of their
 * own, opened from /proc (the program's descriptor must keep its flags). */
static void write_to(int fd, const struct stat *st, const char *buf, size_t len)
{
	if (S_ISSOCK(st->st_mode)) {
		write_guarded(fd, buf, len, 1);
	} else if (S_ISREG(st->st_mode)) {
		if (fits_size_limit(fd, st, len))
			write_guarded(fd, buf, len, 0);
	} else if (S_ISFIFO(st->st_mode) || S_ISCHR(st->st_mode)) {
		struct logbuf p;
		p.len = 0;
		lb_str(&p, "/proc/self/fd/");
		lb_int(&p, fd);
		int own = open(p.buf, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		struct stat ost;
		if (own < 0)
			return; /* no /proc, or a FIFO nobody reads (ENXIO) */
		if (fstat(own, &ost) == 0 && ost.st_dev == st->st_dev && ost.st_ino == st->st_ino)
			write_guarded(own, buf, len, 0);
		close(own);
	}
	/* directories, block devices, anything else: dropped */
}

static void emit_stderr(const char *buf, size_t len)
{
	struct stat st;

	if (!stderr_known || fstat(STDERR_FILENO, &st) < 0 || st.st_dev != stderr_dev ||
	    st.st_ino != stderr_ino)
		return; /* not the stderr the process started with */
	write_to(STDERR_FILENO, &st, buf, len);
}

static void emit_file(const char *buf, size_t len)
{
	struct stat st;
	int fd = open(target_path, O_WRONLY | O_APPEND | O_CREAT | O_NOCTTY | O_NONBLOCK | O_CLOEXEC,
		      0600);

	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0)
		write_to(fd, &st, buf, len);
	close(fd);
}

static void emit_syslog(const char *buf, size_t len, int level)
{
	static const int sev[] = { 3, 3, 4, 6, 7 }; /* err err warning info debug */
	struct sockaddr_un sun = { .sun_family = AF_UNIX, .sun_path = "/dev/log" };
	struct logbuf pri;
	int fd;

	pri.len = 0;
	lb_str(&pri, "<");
	lb_int(&pri, 8 + sev[level >= 0 && level <= 4 ? level : 2]); /* LOG_USER */
	lb_str(&pri, ">");
	lb_strn(&pri, buf, len - 1); /* without the newline */
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	sendto(fd, pri.buf, pri.len, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&sun,
	       sizeof(sun));
	close(fd);
}

void lb_emit(struct logbuf *lb)
{
	int saved = errno;

	lb->buf[lb->len++] = '\n';
	switch (target) {
	case TARGET_FILE:
		emit_file(lb->buf, lb->len);
		break;
	case TARGET_SYSLOG:
		emit_syslog(lb->buf, lb->len, lb->level);
		break;
	default:
		emit_stderr(lb->buf, lb->len);
		break;
	}
	lb->len--;
	lb->buf[lb->len] = '\0';
	errno = saved;
}

void log_msg(enum log_level lvl, const char *msg)
{
	struct logbuf lb;
	if (!log_enabled(lvl))
		return;
	lb_start(&lb, lvl);
	lb_str(&lb, msg);
	lb_emit(&lb);
}
