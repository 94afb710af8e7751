/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tcpwould.h - "what would a plain TCP socket answer?": the one question
 * behind every emulated option. Asked only on failure paths (an MPTCP
 * socket refused an option), usually of a short-lived TCP socket of the
 * same family (see tempsock.h, which works at RLIMIT_NOFILE too).
 * Async-signal-safe: syscalls and memory copies only. */
#ifndef MPTCPIFY_TCPWOULD_H
#define MPTCPIFY_TCPWOULD_H

#include <sys/socket.h>

/* What a TCP socket in FD's state (unconnected, listening, connected)
 * reports for LEVEL/NAME when nobody set it, copied into VAL and *LEN as TCP's
 * getsockopt() would. Returns 0, or -1 with TCP's errno (or EOPNOTSUPP
 * when TCP cannot be asked at all). */
int tcpw_default(int fd, int level, int name, void *val, socklen_t *len);

/* Would a TCP socket of FAMILY accept setsockopt(LEVEL, NAME, VAL, LEN)?
 * Returns 0 when it would (then, when NORM is not NULL, NORM and *NORMLEN
 * get what TCP reads back afterwards with a large buffer: TCP clamps and
 * rounds some values, IP_TTL -1 reads 64), or -1 with TCP's errno. When TCP
 * cannot be asked (no fd even at the limit) it answers "accepts", with
 * NORM = VAL. */
int tcpw_accepts(int family, int level, int name, const void *val, socklen_t len,
		 void *norm, socklen_t *normlen);

/* Is VAL/LEN what a TCP socket in FD's state reports for an option nobody
 * set (setting it would change nothing)? 0 when unsure. */
int tcpw_is_default(int fd, int level, int name, const void *val, socklen_t len);

/* Copies STORED/SLEN (a value as TCP reads it back with a large buffer)
 * into VAL and *LEN the way TCP's getsockopt() copies LEVEL's options out for
 * a caller buffer of *LEN bytes (e.g. IP-level integers 0..255 fit one
 * byte when the buffer is short). */
void tcpw_copy_out(int level, int name, const void *stored, socklen_t slen, void *val,
		   socklen_t *len);

#endif
