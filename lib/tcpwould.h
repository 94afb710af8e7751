/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tcpwould.h - "what would a plain TCP socket answer?": the one question
 * behind every emulated option. Asked only off the normal path (an MPTCP
 * socket refused an option, or answered a rare case differently from TCP),
 * of a short-lived TCP socket of the same family (tempsock.h: works at
 * RLIMIT_NOFILE too) plus what TCP computes from the socket's state: the
 * state of an MPTCP socket is read from the kernel (SO_ACCEPTCONN,
 * getpeername, TCP_INFO of its first subflow, SO_RCVBUF). When no TCP
 * socket can be had at all (soft == hard limit, no CAP_SYS_RESOURCE), the
 * answer comes from what an earlier question learnt (per family) or from
 * the kernel's documented defaults and checks.
 *
 * A "record" is what the caller remembers for an emulated option; callers
 * treat it as opaque bytes, at most TCPW_RECORD_MAX long. It starts with
 * the value to replay with setsockopt() (tcpw_record_value_len() bytes of
 * it); tcpwould may keep more after that (TCP_MAXSEG: the value read back;
 * TCP_WINDOW_CLAMP and TCP_MAXSEG: whether it was set on an established
 * socket, which TCP treats differently).
 *
 * The caller's side (sockopt.c, accept, replace.c):
 *  setsockopt(): before the real call, when tcpw_set_may_differ(): run
 *    tcpw_set_precheck(); -1: return it; 1: emulate without the real call
 *    (as below). After a failure on an MPTCP socket that
 *    tcpw_set_refused() calls a refusal: by the option's class, emulate =
 *    tcpw_set(..., kernel_err = the errno) then remember the record
 *    (flagged emulated); -1 from tcpw_set is the answer (TCP's errno).
 *    Class tcp: tcpw_set() first too (TCP refuses it: its errno, nothing
 *    changes); *IS_DEFAULT: remember the record as emulated; else step
 *    down as before.
 *  getsockopt(): an emulated record of this socket (identity checked)
 *    answers first, whatever the real call would say: tcpw_get(fd, ...,
 *    rec, reclen, val, len, 0). Else, when tcpw_get_answers_first(),
 *    tcpw_get_first(). Else the real call, then, when
 *    tcpw_get_may_differ(), tcpw_fix_get(). A refusal on an MPTCP socket
 *    (class not error): tcpw_get(fd, ..., NULL, 0, val, len, errno), also
 *    with a NULL VAL or LEN (TCP's EFAULT comes from there).
 *  accept(): for each emulated record of an MPTCP listener, tcpw_inherit()
 *    gives the accepted socket's record (remember it, emulated), or none.
 *  replace.c: the new socket from temp_socket() (at RLIMIT_NOFILE too);
 *    replay tcpw_record_value_len() bytes of a record.
 *
 * Every function is async-signal-safe (syscalls and memory copies) and
 * keeps no lock. */
#ifndef MPTCPIFY_TCPWOULD_H
#define MPTCPIFY_TCPWOULD_H

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#define TCPW_RECORD_MAX 40

/* setsockopt(FD, LEVEL, NAME, VAL, LEN) as a TCP socket in FD's state
 * (unconnected, listening, connecting, connected) would take it: TCP's
 * checks, in TCP's order (length, then the value, then the state).
 * Returns 0 when TCP accepts it: REC and *RECLEN (capacity in, length out)
 * then get the record to remember, and *IS_DEFAULT (may be NULL) says
 * whether the value is what such a socket has anyway (setting it changes
 * nothing TCP would show). Returns -1 with TCP's errno when TCP refuses
 * it. Never fails for lack of an fd: then the kernel's documented checks
 * are applied, and where nothing is known the value is taken, unless
 * KERNEL_ERR (the MPTCP call's errno, or 0) is EINVAL: then that. */
int tcpw_set(int fd, int level, int name, const void *val, socklen_t len, void *rec,
	     socklen_t *reclen, int *is_default, int kernel_err);

/* getsockopt(FD, LEVEL, NAME, VAL, LEN) as TCP would answer it on a socket
 * in FD's state, for an option whose remembered record is REC/RECLEN, or
 * that nobody set (REC NULL). VAL and LEN are the caller's, unchecked
 * (NULL and negative lengths give TCP's EFAULT/EINVAL). Returns 0 or -1
 * with TCP's errno; when TCP cannot be asked and nothing is known, with
 * KERNEL_ERR (the MPTCP call's errno; 0 gives EOPNOTSUPP). */
int tcpw_get(int fd, int level, int name, const void *rec, socklen_t reclen, void *val,
	     socklen_t *len, int kernel_err);

/* The MPTCP kernel answers a few calls it supports differently from TCP.
 * Each hook has an inline test of a few compares, callable on the normal
 * path; the function behind it runs only when the test is true, and acts
 * only when FD is an MPTCP socket.
 *
 * Before setsockopt(): MPTCP takes TCP_MAXSEG values TCP refuses,
 * TCP_DEFER_ACCEPT with a short or NULL value, and TCP_DEFER_ACCEPT on a
 * connected socket without keeping it (it reads back 0). tcpw_set_precheck()
 * returns 0 (go on with the real call), -1 with TCP's errno, or 1: make no
 * real call, emulate the option (tcpw_set() and remember the record). */
static inline int tcpw_set_may_differ(int level, int name)
{
	return level == SOL_TCP && (name == TCP_MAXSEG || name == TCP_DEFER_ACCEPT);
}
int tcpw_set_precheck(int fd, int level, int name, const void *val, socklen_t len);

/* Before getsockopt(): TCP_ULP, which MPTCP answers "mptcp" (TCP: no ULP,
 * length 0, the buffer untouched). tcpw_get_first() returns 1 when it
 * answered (*RC: 0, or -1 with errno), 0 when the real call should run. */
static inline int tcpw_get_answers_first(int level, int name)
{
	return level == SOL_TCP && name == TCP_ULP;
}
int tcpw_get_first(int fd, int level, int name, void *val, socklen_t *len, int *rc);

/* After getsockopt() returned RC (errno set when -1), with a buffer of
 * LEN_IN bytes (*LEN before the call): a successful read into 2..3 bytes
 * at SOL_TCP or SOL_IPV6 (MPTCP copies one byte of an int where TCP
 * copies them all), SOL_IPV6 on an IPv4 socket (TCP: EOPNOTSUPP whatever
 * the pointers; MPTCP answers the options it has), and a negative length
 * at SOL_IPV6 (MPTCP refuses it, IPv6 takes it as large).
 * tcpw_fix_get() returns the call's result as TCP would give it: 0, or
 * -1 with errno. */
static inline int tcpw_get_may_differ(int level, int name, socklen_t len_in, int rc)
{
	if (level == SOL_TCP)
		return rc == 0 && len_in > 1 && len_in < sizeof(int);
	if (level == SOL_IPV6)
		return rc != 0 || (len_in > 1 && len_in < sizeof(int)) || name == IPV6_V6ONLY ||
		       name == IPV6_TRANSPARENT || name == IPV6_FREEBIND;
	return 0;
}
int tcpw_fix_get(int fd, int level, int name, void *val, socklen_t *len, socklen_t len_in, int rc);

/* setsockopt() on an MPTCP socket failed with ERR: is it MPTCP's refusal
 * (EOPNOTSUPP, ENOPROTOOPT; and EINVAL, which MPTCP gives for options of
 * the shim's table it cannot apply once listening or connected, e.g.
 * IP_FREEBIND) rather than a verdict TCP would give too? For the caller's
 * class decision; tcpw_set() then tells what TCP says. */
static inline int tcpw_set_refused(int err, int in_table)
{
	return err == EOPNOTSUPP || err == ENOPROTOOPT || (err == EINVAL && in_table);
}

/* The record an accepted socket starts with when its listener has record
 * LREC/LLEN for LEVEL/NAME (TCP copies most options from the listener to
 * the sockets it accepts; not TCP_DEFER_ACCEPT, TCP_FASTOPEN and
 * TCP_FASTOPEN_KEY, which belong to the listener's queue). Returns 1 with
 * CREC and *CLEN filled (capacity in *CLEN), or 0: the accepted socket has
 * TCP's default, remember nothing. */
int tcpw_inherit(int level, int name, const void *lrec, socklen_t llen, void *crec,
		 socklen_t *clen);

/* How many bytes of record REC/RECLEN to pass to setsockopt() when the
 * option is replayed on a new socket (the value without tcpwould's own). */
socklen_t tcpw_record_value_len(int level, int name, const void *rec, socklen_t reclen);

/* Is VAL/LEN what a TCP socket in FD's state has for LEVEL/NAME when
 * nobody set it, and would TCP accept it there? 0 when unsure. Same as
 * tcpw_set()'s *IS_DEFAULT. */
int tcpw_is_default(int fd, int level, int name, const void *val, socklen_t len);

/* The interface of before tcpw_set()/tcpw_get(), kept until every caller
 * has moved (same answers as before, plus the fd-limit fallbacks):
 * tcpw_default(FD, ...) is tcpw_get(FD, ..., NULL, 0, VAL, LEN, 0);
 * tcpw_accepts() asks a fresh socket of FAMILY (no state checks) and gives
 * the value read back; tcpw_copy_out() copies a value as TCP would. */
int tcpw_default(int fd, int level, int name, void *val, socklen_t *len);
int tcpw_accepts(int family, int level, int name, const void *val, socklen_t len, void *norm,
		 socklen_t *normlen);
void tcpw_copy_out(int level, int name, const void *stored, socklen_t slen, void *val,
		   socklen_t *len);

#endif
