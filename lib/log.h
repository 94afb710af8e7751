/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* log.h - async-signal-safe logging: a line is built in a stack buffer with
 * the lb_*() helpers and handed to the sink, which never changes the
 * program's fate: no signal (SIGPIPE, SIGXFSZ) is raised, nothing blocks,
 * and a line goes only to the stderr the process started with (checked at
 * each write: fd 2 may have been closed and reused), to MPTCPIFY_LOG_FILE,
 * or to syslog; when in doubt the line is dropped. No malloc, no stdio, no
 * locks; errno is preserved. */
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
	int level; /* for syslog's priority */
};

/* Notes which stderr the process started with (call once, early). */
void log_init(void);

/* Sends lines to SPEC instead of stderr: an absolute path (opened
 * append-only for each line, created 0600 if missing) "syslog" (the
 * local syslog socket, /dev/log) or "stderr" (the default). Returns 0, or -1 when SPEC is neither
 * (the target is then unchanged). */
int log_set_target(const char *spec);

/* Starts a line "mptcpify[PID]: " at level LVL. */
void lb_start(struct logbuf *lb, enum log_level lvl);
void lb_str(struct logbuf *lb, const char *s);
void lb_strn(struct logbuf *lb, const char *s, size_t n);
void lb_int(struct logbuf *lb, long v);
void lb_uint(struct logbuf *lb, unsigned long v);
/* "1.2.3.4:80", "[::1]:80", or "?" for anything else. */
void lb_addr(struct logbuf *lb, const struct sockaddr *sa, socklen_t len);
/* Symbolic errno name ("ENOPROTOOPT"), or the number. */
void lb_errno(struct logbuf *lb, int err);
/* Appends '\n' and hands the line to the sink, preserving errno. */
void lb_emit(struct logbuf *lb);

/* One fixed message at LVL: "mptcpify[PID]: MSG\n". */
void log_msg(enum log_level lvl, const char *msg);

#endif
