/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-conn.c - loopback socket and connection rates, for comparing
 * libmptcpify.so with a program that asks for IPPROTO_MPTCP itself, with
 * libmptcpwrap and with plain TCP. It never loads a shim itself: run it
 * under LD_PRELOAD, with protocol 0 (what an unmodified program asks for),
 * or with -p 262 to be the "direct MPTCP" program.
 *
 * Tests (-t):
 *   socket  socket() + close()
 *   conn    client thread: socket, SO_LINGER {1,0}, connect, close;
 *           server thread: accept, close
 *   serial  the same cycle in one thread (connect, then accept): the same
 *           syscalls every cycle, for strace and callgrind counts
 *   cookie  getsockopt(SO_COOKIE) on one unconnected socket: the price of
 *           the one syscall a policy adds per socket, to turn syscall
 *           counts into time
 *   bulk    one connection, the client send()s 64 KiB blocks for the whole
 *           duration, a server thread recv()s; an operation is 1 MiB
 *           received (so rate is MiB/s and cpu_us_per_op is per MiB)
 *
 * Prints one line of key=value pairs, e.g.
 *   bench-conn test=conn proto=0 family=4 ops=52000 seconds=1.000 rate=52000
 *              cpu_us_per_op=38.123 client_proto=262 server_proto=262
 * where cpu_us_per_op is the user + system CPU time of the whole process per
 * operation (less sensitive than the rate to other load on the machine), and
 * client_proto/server_proto are the kernel's SO_PROTOCOL of the first
 * connection's two ends (262: MPTCP, 6: TCP; the server end of an MPTCP
 * listener's connection from a TCP client is TCP). Exit status 0, or 1 with
 * one line on stderr. Bounded: the run stops after -n operations or -d
 * seconds, whichever comes first, and a watchdog ends the process if it
 * is stuck. Reports; never judges. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

#define MAX_IN_FLIGHT 256 /* connections the client may be ahead of accept() */
#define STALL_SECONDS 3.0 /* no accept() progress for this long: give up */

enum test { T_SOCKET, T_CONN, T_SERIAL, T_BULK, T_COOKIE };

#define BULK_BLOCK (64 * 1024)

struct opts {
	enum test test;
	int proto;
	int family;
	unsigned long count;
	double duration;
};

struct server {
	int lfd;
	atomic_ulong accepted;
	atomic_int stop;
	atomic_int first_proto;
	int err;
};

static void die(const char *what)
{
	fprintf(stderr, "bench-conn: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: bench-conn [-t socket|conn|serial|bulk|cookie] [-p PROTOCOL] [-6]\n"
		"                  [-n COUNT] [-d SECONDS]\n"
		"  -p 0 (default) lets a preloaded shim decide; -p 262 asks for MPTCP,\n"
		"  -p 6 for TCP. Stops after COUNT operations or SECONDS, whichever\n"
		"  comes first (defaults: unlimited count, 1 second).\n");
	exit(2);
}

/* CPU time (user + system, all threads) this process has used, seconds. */
static double cpu_time(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The kernel's SO_PROTOCOL of FD, or -1. */
static int protocol_of(int fd)
{
	int proto = -1;
	socklen_t len = sizeof(proto);
	if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len) < 0)
		return -1;
	return proto;
}

/* The loopback address of FAMILY, port 0, in SS; returns its length. */
static socklen_t loopback(int family, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
		in6->sin6_family = AF_INET6;
		in6->sin6_addr = in6addr_loopback;
		return sizeof(*in6);
	}
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	in->sin_family = AF_INET;
	in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sizeof(*in);
}

/* A listener on the loopback address; its address (with the port the
 * kernel picked) goes to SS/LEN. */
static int make_listener(const struct opts *o, int type_flags, struct sockaddr_storage *ss,
			 socklen_t *len)
{
	int fd = socket(o->family, SOCK_STREAM | SOCK_CLOEXEC | type_flags, o->proto);
	if (fd < 0)
		die("socket (listener)");
	*len = loopback(o->family, ss);
	if (bind(fd, (struct sockaddr *)ss, *len) < 0)
		die("bind");
	if (listen(fd, 4096) < 0)
		die("listen");
	*len = sizeof(*ss);
	if (getsockname(fd, (struct sockaddr *)ss, len) < 0)
		die("getsockname");
	return fd;
}

/* One client connection: socket, SO_LINGER {1,0} (close sends a reset, so
 * no TIME_WAIT piles up), connect. Returns the connected fd. */
static int client_connect(const struct opts *o, const struct sockaddr_storage *ss, socklen_t len)
{
	static const struct linger lg = {.l_onoff = 1, .l_linger = 0};
	int fd = socket(o->family, SOCK_STREAM | SOCK_CLOEXEC, o->proto);
	if (fd < 0)
		die("socket");
	if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) < 0)
		die("setsockopt SO_LINGER");
	if (connect(fd, (const struct sockaddr *)ss, len) < 0)
		die("connect");
	return fd;
}

static void *server_main(void *arg)
{
	struct server *srv = arg;
	struct pollfd pfd = {.fd = srv->lfd, .events = POLLIN};

	while (!atomic_load_explicit(&srv->stop, memory_order_relaxed)) {
		int r = poll(&pfd, 1, 50);
		if (r < 0 && errno != EINTR) {
			srv->err = errno;
			return NULL;
		}
		if (r <= 0)
			continue;
		for (;;) {
			int cfd = accept4(srv->lfd, NULL, NULL, SOCK_CLOEXEC);
			if (cfd < 0) {
				if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
					break;
				srv->err = errno;
				return NULL;
			}
			if (atomic_load_explicit(&srv->first_proto, memory_order_relaxed) == 0)
				atomic_store(&srv->first_proto, protocol_of(cfd));
			close(cfd);
			atomic_fetch_add_explicit(&srv->accepted, 1, memory_order_release);
		}
	}
	return NULL;
}

/* Is it time to stop after OPS operations? Reads the clock every 64. */
static int done(const struct opts *o, unsigned long ops, double end)
{
	if (ops >= o->count)
		return 1;
	return (ops & 63) == 0 && now() >= end;
}

static unsigned long run_socket(const struct opts *o, double end, int *cproto)
{
	unsigned long ops = 0;

	while (!done(o, ops, end)) {
		int fd = socket(o->family, SOCK_STREAM | SOCK_CLOEXEC, o->proto);
		if (fd < 0)
			die("socket");
		if (ops == 0)
			*cproto = protocol_of(fd);
		close(fd);
		ops++;
	}
	return ops;
}

/* getsockopt(SO_COOKIE) in a loop on one socket. */
static unsigned long run_cookie(const struct opts *o, double end, int *cproto)
{
	unsigned long ops = 0;
	uint64_t cookie;
	socklen_t len;
	int fd = socket(o->family, SOCK_STREAM | SOCK_CLOEXEC, o->proto);

	if (fd < 0)
		die("socket");
	*cproto = protocol_of(fd);
	while (!done(o, ops, end)) {
		len = sizeof(cookie);
		if (getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &len) < 0)
			die("getsockopt SO_COOKIE");
		ops++;
	}
	close(fd);
	return ops;
}

/* The client/server run; *T_END gets the time the last connection was
 * accepted (not counting the server thread's exit). */
static unsigned long run_conn(const struct opts *o, double end, int *cproto, int *sproto,
			      double *t_end)
{
	struct server srv = {.err = 0};
	struct sockaddr_storage ss;
	socklen_t len;
	pthread_t th;
	unsigned long ops = 0;

	srv.lfd = make_listener(o, SOCK_NONBLOCK, &ss, &len);
	if ((errno = pthread_create(&th, NULL, server_main, &srv)) != 0)
		die("pthread_create");
	while (!done(o, ops, end)) {
		/* keep the accept queue short: never more than MAX_IN_FLIGHT
		 * connections ahead of the server thread */
		if (ops - atomic_load_explicit(&srv.accepted, memory_order_acquire) >= MAX_IN_FLIGHT) {
			double stall = now() + STALL_SECONDS;
			while (ops - atomic_load_explicit(&srv.accepted, memory_order_acquire) >=
			       MAX_IN_FLIGHT) {
				if (srv.err || now() > stall) {
					errno = srv.err ? srv.err : ETIMEDOUT;
					die("server thread stalled");
				}
				sched_yield();
			}
		}
		int fd = client_connect(o, &ss, len);
		if (ops == 0)
			*cproto = protocol_of(fd);
		close(fd);
		ops++;
	}
	/* let the server catch up, so that what is counted was accepted too */
	double stall = now() + STALL_SECONDS;
	while (atomic_load_explicit(&srv.accepted, memory_order_acquire) < ops && !srv.err &&
	       now() < stall)
		sched_yield();
	*t_end = now();
	atomic_store(&srv.stop, 1);
	pthread_join(th, NULL);
	if (srv.err) {
		errno = srv.err;
		die("accept");
	}
	if (atomic_load(&srv.accepted) < ops) {
		fprintf(stderr, "bench-conn: %lu connections made, only %lu accepted\n", ops,
			(unsigned long)atomic_load(&srv.accepted));
		exit(1);
	}
	*sproto = atomic_load(&srv.first_proto);
	close(srv.lfd);
	return ops;
}

static unsigned long run_serial(const struct opts *o, double end, int *cproto, int *sproto)
{
	struct sockaddr_storage ss;
	socklen_t len;
	unsigned long ops = 0;
	int lfd = make_listener(o, 0, &ss, &len);

	while (!done(o, ops, end)) {
		int fd = client_connect(o, &ss, len);
		int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (cfd < 0)
			die("accept");
		if (ops == 0) {
			*cproto = protocol_of(fd);
			*sproto = protocol_of(cfd);
		}
		close(fd);
		close(cfd);
		ops++;
	}
	close(lfd);
	return ops;
}

struct sink {
	int lfd;
	unsigned long long bytes;
	int proto;
	int err;
};

static void *sink_main(void *arg)
{
	static char buf[4 * BULK_BLOCK];
	struct sink *k = arg;
	int fd = accept4(k->lfd, NULL, NULL, SOCK_CLOEXEC);
	ssize_t n;

	if (fd < 0) {
		k->err = errno;
		return NULL;
	}
	k->proto = protocol_of(fd);
	while ((n = recv(fd, buf, sizeof(buf), 0)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			k->err = errno;
			break;
		}
		k->bytes += (unsigned long long)n;
	}
	close(fd);
	return NULL;
}

/* Bulk transfer for the duration (-n counts MiB); returns MiB received and
 * sets *T_END when the receiver saw the end of the stream. */
static unsigned long run_bulk(const struct opts *o, double end, int *cproto, int *sproto,
			      double *t_end)
{
	static char block[BULK_BLOCK];
	struct sink k = {.err = 0};
	struct sockaddr_storage ss;
	socklen_t len;
	pthread_t th;
	unsigned long long sent = 0, limit;
	int fd;

	limit = o->count == (unsigned long)-1 ? ~0ULL : (unsigned long long)o->count << 20;
	memset(block, 'x', sizeof(block));
	k.lfd = make_listener(o, 0, &ss, &len);
	if ((errno = pthread_create(&th, NULL, sink_main, &k)) != 0)
		die("pthread_create");
	fd = socket(o->family, SOCK_STREAM | SOCK_CLOEXEC, o->proto);
	if (fd < 0)
		die("socket");
	if (connect(fd, (struct sockaddr *)&ss, len) < 0)
		die("connect");
	*cproto = protocol_of(fd);
	while (sent < limit && ((sent >> 16) & 15 || now() < end)) {
		ssize_t n = send(fd, block, sizeof(block), MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("send");
		}
		sent += (unsigned long long)n;
	}
	if (shutdown(fd, SHUT_WR) < 0)
		die("shutdown");
	pthread_join(th, NULL);
	*t_end = now();
	close(fd);
	close(k.lfd);
	if (k.err) {
		errno = k.err;
		die("receiver");
	}
	*sproto = k.proto;
	return (unsigned long)(k.bytes >> 20);
}

static void parse(int argc, char **argv, struct opts *o)
{
	int c;
	char *end;

	*o = (struct opts){.test = T_CONN, .proto = 0, .family = AF_INET,
			   .count = (unsigned long)-1, .duration = 1.0};
	while ((c = getopt(argc, argv, "t:p:n:d:6h")) != -1) {
		switch (c) {
		case 't':
			if (strcmp(optarg, "socket") == 0)
				o->test = T_SOCKET;
			else if (strcmp(optarg, "conn") == 0)
				o->test = T_CONN;
			else if (strcmp(optarg, "serial") == 0)
				o->test = T_SERIAL;
			else if (strcmp(optarg, "bulk") == 0)
				o->test = T_BULK;
			else if (strcmp(optarg, "cookie") == 0)
				o->test = T_COOKIE;
			else
				usage();
			break;
		case 'p':
			o->proto = (int)strtol(optarg, &end, 10);
			if (*end || end == optarg)
				usage();
			break;
		case 'n':
			o->count = strtoul(optarg, &end, 10);
			if (*end || end == optarg)
				usage();
			break;
		case 'd':
			o->duration = strtod(optarg, &end);
			if (*end || end == optarg || !(o->duration > 0))
				usage();
			break;
		case '6':
			o->family = AF_INET6;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
}

int main(int argc, char **argv)
{
	static const char *names[] = {"socket", "conn", "serial", "bulk", "cookie"};
	struct opts o;
	unsigned long ops = 0;
	int cproto = -1, sproto = -1;
	double t0, t1 = 0, c0, c1;

	parse(argc, argv, &o);
	/* watchdog: nothing here may run unbounded (default SIGALRM action) */
	alarm((unsigned)o.duration + 30);

	c0 = cpu_time();
	t0 = now();
	switch (o.test) {
	case T_SOCKET:
		ops = run_socket(&o, t0 + o.duration, &cproto);
		break;
	case T_CONN:
		ops = run_conn(&o, t0 + o.duration, &cproto, &sproto, &t1);
		break;
	case T_SERIAL:
		ops = run_serial(&o, t0 + o.duration, &cproto, &sproto);
		break;
	case T_BULK:
		ops = run_bulk(&o, t0 + o.duration, &cproto, &sproto, &t1);
		break;
	case T_COOKIE:
		ops = run_cookie(&o, t0 + o.duration, &cproto);
		break;
	}
	if (o.test != T_CONN && o.test != T_BULK)
		t1 = now();
	c1 = cpu_time();
	printf("bench-conn test=%s proto=%d family=%d ops=%lu seconds=%.3f rate=%.0f "
	       "cpu_us_per_op=%.3f client_proto=%d server_proto=%d\n",
	       names[o.test], o.proto, o.family == AF_INET6 ? 6 : 4, ops, t1 - t0,
	       (double)ops / (t1 - t0), ops ? (c1 - c0) * 1e6 / (double)ops : 0.0, cproto,
	       sproto);
	return 0;
}
