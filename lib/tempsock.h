/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tempsock.h - the shim's own short-lived sockets (a replacement being
 * built, a TCP socket asked what TCP would answer), made so that the
 * program cannot tell: always close-on-exec, and possible even when the
 * program is at its RLIMIT_NOFILE. */
#ifndef MPTCPIFY_TEMPSOCK_H
#define MPTCPIFY_TEMPSOCK_H

/* socket(DOMAIN, TYPE | SOCK_CLOEXEC, PROTOCOL) through the real libc
 * function. The normal path is that one call. Only when it fails with
 * EMFILE is the soft RLIMIT_NOFILE raised by one for the call and put back
 * right after (the new fd then sits at the old limit, which the kernel
 * allows); when soft == hard, both are raised if the process may
 * (CAP_SYS_RESOURCE), else the call fails. One thread at a time raises
 * the limit; others wait for it (boundedly); a signal handler interrupting
 * the raise in its own thread does not wait and gets EMFILE.
 * Returns the fd, or -1 with errno (EMFILE when no fd can be had).
 * Async-signal-safe; no locks, no allocation. */
int temp_socket(int domain, int type, int protocol);

#endif
