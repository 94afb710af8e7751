/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sockpeek.c - the kernel's view of another process's TCP-family sockets:
 * copies each socket fd of PID with pidfd_getfd(2) (Linux 5.6) and asks the
 * kernel for SO_PROTOCOL, SO_ACCEPTCONN and the local port. The systemd test
 * uses it on nginx: its listeners and the socket a worker accepted, whatever
 * the kernel's socket diagnostics (ss -M needs mptcp_diag) can list.
 *
 *   sockpeek PID    one line per stream socket of PID:
 *                   "fd N proto P listening L port X"
 * Exits 0, or 1 when PID cannot be inspected. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

static int sockopt_int(int fd, int name)
{
	int v = -1;
	socklen_t l = sizeof(v);

	return getsockopt(fd, SOL_SOCKET, name, &v, &l) < 0 ? -errno : v;
}

/* The local port of FD, or -1. */
static int local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t l = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &l) < 0)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return -1;
}

int main(int argc, char **argv)
{
	char dir[64], path[320], target[64];
	struct dirent *de;
	int pid, pidfd;
	DIR *d;

	if (argc != 2 || (pid = atoi(argv[1])) <= 0) {
		fprintf(stderr, "usage: sockpeek PID\n");
		return 2;
	}
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	snprintf(dir, sizeof(dir), "/proc/%d/fd", pid);
	if (pidfd < 0 || !(d = opendir(dir))) {
		fprintf(stderr, "sockpeek: %d: %s\n", pid, strerror(errno));
		return 1;
	}
	while ((de = readdir(d))) {
		ssize_t n;
		int fd, num = atoi(de->d_name);

		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (strncmp(target, "socket:", 7) != 0)
			continue;
		fd = (int)syscall(SYS_pidfd_getfd, pidfd, num, 0);
		if (fd < 0) {
			fprintf(stderr, "sockpeek: pidfd_getfd %d %d: %s\n", pid, num,
				strerror(errno));
			continue;
		}
		if (sockopt_int(fd, SO_TYPE) == SOCK_STREAM &&
		    (sockopt_int(fd, SO_DOMAIN) == AF_INET ||
		     sockopt_int(fd, SO_DOMAIN) == AF_INET6))
			printf("fd %d proto %d listening %d port %d\n", num,
			       sockopt_int(fd, SO_PROTOCOL),
			       sockopt_int(fd, SO_ACCEPTCONN), local_port(fd));
		close(fd);
	}
	closedir(d);
	close(pidfd);
	return 0;
}
