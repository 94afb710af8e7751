/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* oneconn.c - the "one connection" program of bench/startup: connects to
 * 127.0.0.1:PORT, closes, exits. Asks for protocol 0, as an unmodified
 * program does; whatever it gets is the shim's doing.
 *
 *   oneconn PORT */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int fd;

	if (argc != 2)
		return 2;
	sin.sin_port = htons((unsigned short)atoi(argv[1]));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		return 1;
	close(fd);
	return 0;
}
