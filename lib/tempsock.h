/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tempsock.h - the shim's own short-lived sockets (a replacement being
 * built, a TCP socket asked what TCP would answer), made so that the
 * program cannot tell: always close-on-exec, and possible even when the
 * program is at its RLIMIT_NOFILE. */
#ifndef MPTCPIFY_TEMPSOCK_H
#define MPTCPIFY_TEMPSOCK_H

/* socket(DOMAIN, TYPE | SOCK_CLOEXEC, PROTOCOL) through the real libc
 * function. When that fails with EMFILE and the soft RLIMIT_NOFILE is below
 * the hard one, the soft limit is raised by one for the call and put back
 * right after (the new fd then sits at the old limit, which the kernel
 * allows). Returns the fd, or -1 with errno (EMFILE when even that cannot
 * be done). Async-signal-safe; never waits. */
int temp_socket(int domain, int type, int protocol);

#endif
