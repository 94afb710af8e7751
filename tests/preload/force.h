/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* force.h - the hooks of libforce.so (force.c), looked up by the test
 * program with dlsym(RTLD_DEFAULT, ...). */
#ifndef MPTCPIFY_TEST_FORCE_H
#define MPTCPIFY_TEST_FORCE_H

enum {
	FORCE_AFTER_SOCKET = 0, /* a socket() made by the shim returned */
	FORCE_BEFORE_DUP3 = 1,  /* the shim is about to dup3() */
	FORCE_NHOOKS = 2,
};

void force_arm(int hook, void (*fn)(void *), void *ctx);
int force_fired(int hook);
int socket(int domain, int type, int protocol);
int dup3(int oldfd, int newfd, int flags);

typedef void (*force_arm_fn)(int hook, void (*fn)(void *), void *ctx);
typedef int (*force_fired_fn)(int hook);

#endif
