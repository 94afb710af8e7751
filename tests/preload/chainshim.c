/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* chainshim.c - a second LD_PRELOAD shim for the chaining test: it wraps
 * socket() through dlsym(RTLD_NEXT) and reports at exit how many MPTCP
 * sockets it saw being created. Preloaded after libmptcpify.so, it only sees
 * calls if libmptcpify.so itself goes through the dynamic linker. */
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static atomic_int mptcp_seen;

int socket(int domain, int type, int protocol);
int socket(int domain, int type, int protocol)
{
	static int (*next)(int, int, int);
	if (!next)
		next = (int (*)(int, int, int))dlsym(RTLD_NEXT, "socket");
	if (protocol == 262)
		atomic_fetch_add(&mptcp_seen, 1);
	return next(domain, type, protocol);
}

__attribute__((destructor)) static void report(void)
{
	char buf[64];
	int n = snprintf(buf, sizeof(buf), "chainshim: mptcp sockets %d\n", atomic_load(&mptcp_seen));
	if (write(2, buf, (size_t)n) < 0)
		return;
}
