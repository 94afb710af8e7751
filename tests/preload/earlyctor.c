/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* earlyctor.c - a preloaded library whose constructor calls socket() before
 * libmptcpify.so's own constructor has run (it is initialised first because
 * it comes later in LD_PRELOAD). Reports the kernel's SO_PROTOCOL. */
#include <stdio.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

__attribute__((constructor)) static void early(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0), p = -1;
	socklen_t l = sizeof(p);
	syscall(SYS_getsockopt, fd, SOL_SOCKET, SO_PROTOCOL, &p, &l);
	fprintf(stderr, "earlyctor: protocol %d\n", p);
	close(fd);
}
