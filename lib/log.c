/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* log.c - the async-signal-safe logger (see log.h). Formats by hand: printf
 * and strerror are neither async-signal-safe nor lock-free. */
#include "log.h"

#include <errno.h>
#include <netinet/in.h>
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

void lb_start(struct logbuf *lb)
{
	lb->len = 0;
	lb->buf[0] = '\0';
	lb_str(lb, "mptcpify[");
	lb_int(lb, (long)getpid());
	lb_str(lb, "]: ");
}

void lb_emit(struct logbuf *lb)
{
	int saved = errno;
	size_t off = 0;

	lb->buf[lb->len++] = '\n';
	while (off < lb->len) {
		ssize_t n = write(STDERR_FILENO, lb->buf + off, lb->len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	lb->len--;
	errno = saved;
}

void log_msg(enum log_level lvl, const char *msg)
{
	struct logbuf lb;
	if (!log_enabled(lvl))
		return;
	lb_start(&lb);
	lb_str(&lb, msg);
	lb_emit(&lb);
}
