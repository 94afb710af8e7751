/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* refuse.c - runs a command in a process where the kernel refuses MPTCP
 * sockets with a chosen errno, the way old kernels (EINVAL), kernels without
 * CONFIG_MPTCP (EPROTONOSUPPORT) and security policies (EACCES, EPERM) do:
 * a seccomp filter makes socket(..., IPPROTO_MPTCP) fail with that errno.
 * The refusal comes from the kernel, not from a mock.
 *
 *   refuse ERRNO COMMAND [ARGS...]      ERRNO is a number */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: refuse ERRNO COMMAND [ARGS...]\n");
		return 2;
	}
	unsigned err = (unsigned)atoi(argv[1]) & SECCOMP_RET_DATA;
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_socket, 0, 3),
		/* third argument, low 32 bits (x86_64 is little-endian) */
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[2])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 262, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | err),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0) {
		perror("refuse: seccomp");
		return 77;
	}
	execvp(argv[2], argv + 2);
	perror("refuse: exec");
	return 127;
}
