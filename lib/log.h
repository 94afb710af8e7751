/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* log.h - async-signal-safe logging: a line is built in a stack buffer with
 * the lb_*() helpers and written with one write(2) to stderr. No malloc, no
 * stdio, no locks; errno is preserved. */
#ifndef MPTCPIFY_LOG_H
#define MPTCPIFY_LOG_H

#include <stddef.h>
#include <sys/socket.h>

enum log_level {
	LOG_NONE = 0,
	LOG_ERROR = 1,
	LOG_WARN = 2,
	LOG_INFO = 3,
	LOG_DEBUG = 4,
};

/* Current level; read without locks (set once at start-up). */
extern int log_level;

static inline int log_enabled(enum log_level lvl)
{
	return (int)lvl <= log_level;
}

/* Parses "error|warn|info|debug" (also "none"); returns the level or -1. */
int log_parse_level(const char *s);

/* A line being built; always NUL-terminated, silently truncated. */
struct logbuf {
	char buf[512];
	size_t len;
};

/* Starts a line "mptcpify[PID]: ". */
void lb_start(struct logbuf *lb);
void lb_str(struct logbuf *lb, const char *s);
void lb_strn(struct logbuf *lb, const char *s, size_t n);
void lb_int(struct logbuf *lb, long v);
void lb_uint(struct logbuf *lb, unsigned long v);
/* "1.2.3.4:80", "[::1]:80", or "?" for anything else. */
void lb_addr(struct logbuf *lb, const struct sockaddr *sa, socklen_t len);
/* Symbolic errno name ("ENOPROTOOPT"), or the number. */
void lb_errno(struct logbuf *lb, int err);
/* Appends '\n' and writes the line to stderr (fd 2), preserving errno. */
void lb_emit(struct logbuf *lb);

/* One fixed message at LVL: "mptcpify[PID]: MSG\n". */
void log_msg(enum log_level lvl, const char *msg);

#endif
