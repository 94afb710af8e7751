/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bpf-sockproto.c - what protocol do this process's TCP sockets get?
 *   bpf-sockproto EXPECTED     (EXPECTED: 262 for MPTCP, 6 for TCP)
 * Makes stream sockets the ways programs do (protocol 0 and IPPROTO_TCP,
 * SOCK_NONBLOCK|SOCK_CLOEXEC, AF_INET6) plus a UDP socket that must stay
 * UDP, then a loopback connection; checks SO_PROTOCOL of each and the
 * kernel's MPTcpExt MPCapableSYNRX counter (rises by one per MPTCP
 * connection, stays put for TCP). Built twice: statically linked with
 * socket(), and with -DUSE_RAW_SYSCALL calling syscall(SYS_socket), the two
 * kinds of program LD_PRELOAD cannot reach. Exit 0 when all match, 1 if not,
 * 2 on a setup error. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

#ifdef USE_RAW_SYSCALL
#define HOW "syscall(SYS_socket)"
static int make_socket(int family, int type, int protocol)
{
	return (int)syscall(SYS_socket, family, type, protocol);
}
#else
#define HOW "socket()"
static int make_socket(int family, int type, int protocol)
{
	return socket(family, type, protocol);
}
#endif

static int failures;

/* Returns SO_PROTOCOL of fd, or -1. */
static int sock_protocol(int fd)
{
	int proto = -1;
	socklen_t len = sizeof proto;

	if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len) < 0)
		return -1;
	return proto;
}

static void expect(const char *what, int fd, int want)
{
	int got = fd < 0 ? -1 : sock_protocol(fd);

	printf("%-40s protocol %d%s\n", what, got, got == want ? "" : "  <-- WRONG");
	if (got != want)
		failures++;
}

/* Returns MPTcpExt's MPCapableSYNRX from /proc/net/netstat, or -1. */
static long long syn_rx_counter(void)
{
	char names[4096], values[4096];
	FILE *f = fopen("/proc/net/netstat", "re");
	long long result = -1;

	if (!f)
		return -1;
	while (fgets(names, sizeof names, f) && fgets(values, sizeof values, f)) {
		char *n_save, *v_save, *n, *v;

		if (strncmp(names, "MPTcpExt:", 9))
			continue;
		n = strtok_r(names, " \n", &n_save);
		v = strtok_r(values, " \n", &v_save);
		while (n && v) {
			if (!strcmp(n, "MPCapableSYNRX")) {
				result = atoll(v);
				break;
			}
			n = strtok_r(NULL, " \n", &n_save);
			v = strtok_r(NULL, " \n", &v_save);
		}
	}
	fclose(f);
	return result;
}

/* A fresh guest has lo down; bring it up (needs CAP_NET_ADMIN there). */
static void loopback_up(void)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0)
		return;
	memset(&ifr, 0, sizeof ifr);
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0 && !(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
			perror("bpf-sockproto: bringing lo up");
	}
	close(fd);
}

/* Connects over 127.0.0.1 and checks listener, client and accepted socket,
 * data flow, and the MPTCP handshake counter. Returns 0, or -1 on a setup
 * error. */
static int check_connection(int want)
{
	struct sockaddr_in addr;
	socklen_t alen = sizeof addr;
	long long before = syn_rx_counter(), after;
	int lfd, cfd = -1, afd = -1, ret = -1;
	char buf[8];

	memset(&addr, 0, sizeof addr);
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = make_socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0
	    || listen(lfd, 1) < 0 || getsockname(lfd, (struct sockaddr *)&addr, &alen) < 0) {
		perror("bpf-sockproto: listener");
		goto out;
	}
	cfd = make_socket(AF_INET, SOCK_STREAM, 0);
	if (cfd < 0 || connect(cfd, (struct sockaddr *)&addr, sizeof addr) < 0) {
		perror("bpf-sockproto: connect");
		goto out;
	}
	afd = accept(lfd, NULL, NULL);
	if (afd < 0 || write(cfd, "ping", 4) != 4 || read(afd, buf, sizeof buf) != 4
	    || memcmp(buf, "ping", 4)) {
		perror("bpf-sockproto: data over the connection");
		goto out;
	}
	expect("listener (AF_INET, SOCK_STREAM, 0)", lfd, want);
	expect("client (AF_INET, SOCK_STREAM, 0)", cfd, want);
	expect("accepted", afd, want);

	after = syn_rx_counter();
	if (want == IPPROTO_MPTCP && (before < 0 || after < 0)) {
		printf("MPTcpExt MPCapableSYNRX missing from /proc/net/netstat  <-- WRONG\n");
		failures++;
	} else if (before >= 0 && after >= 0) {
		int ok = want == IPPROTO_MPTCP ? after > before : after == before;

		printf("MPTcpExt MPCapableSYNRX %lld -> %lld%s\n", before, after,
		       ok ? "" : "  <-- WRONG");
		if (!ok)
			failures++;
	}
	ret = 0;
out:
	if (afd >= 0)
		close(afd);
	if (cfd >= 0)
		close(cfd);
	if (lfd >= 0)
		close(lfd);
	return ret;
}

int main(int argc, char *argv[])
{
	int want, fd;

	if (argc != 2 || (atoi(argv[1]) != IPPROTO_MPTCP && atoi(argv[1]) != IPPROTO_TCP)) {
		fprintf(stderr, "usage: bpf-sockproto 262|6\n");
		return 2;
	}
	want = atoi(argv[1]);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("bpf-sockproto via " HOW ", pid %ld, expecting %d\n", (long)getpid(), want);

	fd = make_socket(AF_INET, SOCK_STREAM, 0);
	expect("AF_INET, SOCK_STREAM, 0", fd, want);
	close(fd);
	fd = make_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
	expect("AF_INET, STREAM|NONBLOCK|CLOEXEC, TCP", fd, want);
	close(fd);
	fd = make_socket(AF_INET6, SOCK_STREAM, 0);
	if (fd < 0 && errno == EAFNOSUPPORT) {
		printf("%-40s no IPv6 here, not checked\n", "AF_INET6, SOCK_STREAM, 0");
	} else {
		expect("AF_INET6, SOCK_STREAM, 0", fd, want);
		close(fd);
	}
	fd = make_socket(AF_INET, SOCK_DGRAM, 0);
	expect("AF_INET, SOCK_DGRAM, 0 (stays UDP)", fd, IPPROTO_UDP);
	close(fd);

	loopback_up();
	if (check_connection(want) < 0)
		return 2;
	printf("%s\n", failures ? "FAIL" : "ok");
	return failures ? 1 : 0;
}
