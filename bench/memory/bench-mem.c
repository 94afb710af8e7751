/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-mem.c - what the shim's fd table costs in memory: opens N sockets
 * (each with K options set before connect, remembered by the shim; 0 means
 * none), and prints the growth of the process's anonymous memory (Rss of
 * /proc/self/smaps_rollup's Anonymous) from before the first socket to
 * after the last. Run once without the shim and once with it; the
 * difference is the shim's. A command, not a test.
 *   bench-mem N K */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static long anon_kb(void)
{
	FILE *f = fopen("/proc/self/smaps_rollup", "r");
	char line[256];
	long kb = -1;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "Anonymous:", 10) == 0)
			kb = atol(line + 10);
	fclose(f);
	return kb;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 100000, k = argc > 2 ? atoi(argv[2]) : 0;
	struct rlimit rl = { (rlim_t)n + 64, (rlim_t)n + 64 };
	static const int opts[][2] = {
		{ SOL_SOCKET, SO_KEEPALIVE }, { SOL_TCP, TCP_NODELAY }, { SOL_SOCKET, SO_REUSEADDR },
		{ SOL_SOCKET, SO_RCVBUF },    { SOL_TCP, TCP_KEEPIDLE }, { SOL_SOCKET, SO_SNDBUF },
	};
	int *fds = calloc((size_t)n, sizeof(int)), one = 1;

	if (!fds || setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		perror("setrlimit: RLIMIT_NOFILE too low for N (run.sh picks N from the hard limit)");
		return 1;
	}
	long before = anon_kb();
	for (int i = 0; i < n; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		if (fds[i] < 0) {
			perror("socket");
			return 1;
		}
		for (int j = 0; j < k && j < 6; j++) {
			int v = opts[j][1] == SO_RCVBUF || opts[j][1] == SO_SNDBUF ? 65536
			      : opts[j][1] == TCP_KEEPIDLE ? 60 : one;
			setsockopt(fds[i], opts[j][0], opts[j][1], &v, sizeof(v));
		}
	}
	long after = anon_kb();
	printf("sockets %d options %d anon_kib %ld bytes_per_socket %.1f\n", n, k, after - before,
	       (after - before) * 1024.0 / n);
	return 0;
}
