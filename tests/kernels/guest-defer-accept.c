/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/kernels/guest-defer-accept.c: the measurement behind
 * guest-defer-accept.sh. Does an MP_JOIN to a connection of an MPTCP
 * listener complete when the listener has TCP_DEFER_ACCEPT? Runs between
 * two network namespaces the script made (server side SERVER_NS with
 * address SERVER_ADDR on path 1, client side CLIENT_NS with a `subflow`
 * endpoint on path 2), entering each with setns(): one connection from a
 * listener without the option, one from a listener with it, the client
 * sending data first (as an HTTP client does). Evidence: the MPTcpExt
 * counters of each namespace. Prints one verdict line per mode and
 *   defer-accept: kernel K: setsockopt(TCP_DEFER_ACCEPT, S) ok|ERRNO,
 *     join without it: prompt|deferred|fails, join with it: ...
 *
 *   guest-defer-accept-probe SERVER_NS CLIENT_NS SERVER_ADDR SECONDS
 * Exit 0 when both connections carried data and the join without the
 * option completed (the topology works), 1 otherwise; the per-kernel
 * expectation is checked by the script. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/mptcp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "guest-common.h"

#ifndef SOL_MPTCP
#define SOL_MPTCP 284
#endif

static const char *name = "guest-defer-accept";
static int ns_server, ns_client;

static void enter(int nsfd)
{
	if (setns(nsfd, CLONE_NEWNET) < 0)
		guest_fail(name, "setns: %s", strerror(errno));
}

/* The counters this test reads, in both namespaces. */
static const char *const counters[] = {
	"MPCapableSYNRX", "MPCapableACKRX", "MPJoinSynRx", "MPJoinSynAckRx",
	"MPJoinAckRx", "MPJoinAckHMacFailure", "MPRstTx", "MPRstRx",
	"TcpExt:TCPSynRetrans", "TcpExt:TCPDeferAcceptDrop",
};
#define NCOUNTERS (sizeof(counters) / sizeof(counters[0]))

struct snap {
	long long s[NCOUNTERS], c[NCOUNTERS];
};

/* Counter "Group:Name" (MPTcpExt when no group is given) of
 * /proc/net/netstat in this network namespace, or -1. */
static long long counter(const char *spec)
{
	char names[8192], values[8192], group[32] = "MPTcpExt:";
	const char *field = strchr(spec, ':');
	long long result = -1;
	FILE *f = fopen("/proc/net/netstat", "r");

	if (field) {
		snprintf(group, sizeof(group), "%.*s", (int)(field - spec + 1), spec);
		field++;
	} else {
		field = spec;
	}
	if (!f)
		return -1;
	while (result < 0 && fgets(names, sizeof(names), f) && fgets(values, sizeof(values), f)) {
		char *np, *vp, *n, *v;

		if (strncmp(names, group, strlen(group)) != 0)
			continue;
		n = strtok_r(names + strlen(group), " \n", &np);
		v = strtok_r(values + strlen(group), " \n", &vp);
		for (; n && v; n = strtok_r(NULL, " \n", &np), v = strtok_r(NULL, " \n", &vp))
			if (strcmp(n, field) == 0) {
				result = strtoll(v, NULL, 10);
				break;
			}
	}
	fclose(f);
	return result;
}

static void snapshot(struct snap *sn)
{
	enter(ns_server);
	for (size_t i = 0; i < NCOUNTERS; i++)
		sn->s[i] = counter(counters[i]);
	enter(ns_client);
	for (size_t i = 0; i < NCOUNTERS; i++)
		sn->c[i] = counter(counters[i]);
}

static long long delta(const struct snap *a, const struct snap *b, int server, const char *what)
{
	for (size_t i = 0; i < NCOUNTERS; i++)
		if (strcmp(counters[i], what) == 0) {
			long long x = server ? a->s[i] : a->c[i], y = server ? b->s[i] : b->c[i];
			return x < 0 || y < 0 ? -1 : y - x;
		}
	return -1;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int wait_fd(int fd, short ev, int ms)
{
	struct pollfd p = { fd, ev, 0 };
	return poll(&p, 1, ms) == 1 && (p.revents & ev);
}

/* Extra subflows of an MPTCP socket by MPTCP_INFO, or -1 (kernels before
 * 5.16 have no getsockopt(SOL_MPTCP)). */
static int extra_subflows(int fd)
{
	struct mptcp_info mi;
	socklen_t l = sizeof(mi);

	memset(&mi, 0, sizeof(mi));
	if (getsockopt(fd, SOL_MPTCP, MPTCP_INFO, &mi, &l) < 0)
		return -1;
	return mi.mptcpi_subflows;
}

/* One connection. Returns 1 when the join completed (server MPJoinAckRx
 * rose), 0 when not; *data_ok tells whether the bytes went both ways;
 * *set_err is the errno of setsockopt(TCP_DEFER_ACCEPT, SECS) (0:
 * accepted); *retrans the SYN-ACKs the server retransmitted meanwhile (a
 * deferring listener holds the join's request until the defer period
 * ends, retransmitting its SYN-ACK). */
static int one_connection(const char *addr, int defer, int secs, int *set_err, int *data_ok,
			  long long *retrans)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	struct snap before, after;
	char buf[1000], back[1000];
	int lfd, cfd, afd, one = 1, joined = 0, sub_c = -1, sub_s = -1;
	double limit = defer ? secs + 20.0 : 20.0;
	struct timeval tv = { 10, 0 };
	ssize_t n, got = 0;
	double t0;

	*set_err = 0;
	*data_ok = 0;
	inet_pton(AF_INET, addr, &sa.sin_addr);
	snapshot(&before);

	enter(ns_server);
	lfd = socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
	if (lfd < 0)
		guest_fail(name, "socket(IPPROTO_MPTCP) in the server namespace: %s", strerror(errno));
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (defer && setsockopt(lfd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs, sizeof(secs)) < 0)
		*set_err = errno;
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 8) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &sl) < 0)
		guest_fail(name, "listener on %s: %s", addr, strerror(errno));

	enter(ns_client);
	cfd = socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
	if (cfd < 0)
		guest_fail(name, "socket(IPPROTO_MPTCP) in the client namespace: %s", strerror(errno));
	setsockopt(cfd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(cfd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		guest_fail(name, "connect to %s:%d: %s", addr, ntohs(sa.sin_port), strerror(errno));
	/* The client speaks first, as an HTTP client does. */
	memset(buf, 'x', sizeof(buf));
	if (send(cfd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf))
		guest_fail(name, "send: %s", strerror(errno));

	enter(ns_server);
	if (!wait_fd(lfd, POLLIN, 10000))
		guest_fail(name, "no connection to accept within 10 s (defer %d)", defer);
	afd = accept(lfd, NULL, NULL);
	if (afd < 0)
		guest_fail(name, "accept: %s", strerror(errno));
	while (got < (ssize_t)sizeof(buf) && wait_fd(afd, POLLIN, 10000) &&
	       (n = recv(afd, back + got, sizeof(back) - (size_t)got, 0)) > 0)
		got += n;
	if (got == (ssize_t)sizeof(buf) && send(afd, back, sizeof(back), 0) == (ssize_t)sizeof(back)) {
		enter(ns_client);
		got = 0;
		while (got < (ssize_t)sizeof(buf) && wait_fd(cfd, POLLIN, 10000) &&
		       (n = recv(cfd, back + got, sizeof(back) - (size_t)got, 0)) > 0)
			got += n;
		*data_ok = got == (ssize_t)sizeof(buf) && memcmp(buf, back, sizeof(buf)) == 0;
	}

	/* The client's path manager opens the second subflow once the
	 * connection is established. A deferring listener may hold the join
	 * for the whole defer period: wait for that and 20 s more. */
	t0 = now();
	do {
		struct timespec pause = { 0, 100 * 1000 * 1000 };
		struct snap mid;
		snapshot(&mid);
		if (delta(&before, &mid, 1, "MPJoinAckRx") > 0) {
			joined = 1;
			break;
		}
		nanosleep(&pause, NULL);
	} while (now() - t0 < limit);
	/* A moment for the other side's counters (the client's SYN-ACK and
	 * reset counters) to settle, then the picture after. */
	{
		struct timespec pause = { 0, 300 * 1000 * 1000 };
		nanosleep(&pause, NULL);
	}
	snapshot(&after);
	enter(ns_client);
	sub_c = extra_subflows(cfd);
	enter(ns_server);
	sub_s = extra_subflows(afd);

	*retrans = delta(&before, &after, 1, "TcpExt:TCPSynRetrans");
	printf("defer-accept: listener %s TCP_DEFER_ACCEPT%s: data %s, join %s (%.1fs);"
	       " server: MPCapableSYNRX %+lld MPJoinSynRx %+lld MPJoinAckRx %+lld MPRstRx %+lld"
	       " TCPSynRetrans %+lld TCPDeferAcceptDrop %+lld;"
	       " client: MPJoinSynAckRx %+lld MPRstTx %+lld TCPSynRetrans %+lld;"
	       " extra subflows by MPTCP_INFO: client %d server %d (-1: no MPTCP_INFO)\n",
	       defer ? "with" : "without",
	       defer ? (*set_err ? " (refused)" : " (accepted)") : "",
	       *data_ok ? "ok" : "BROKEN", joined ? "completed" : "did not complete", now() - t0,
	       delta(&before, &after, 1, "MPCapableSYNRX"), delta(&before, &after, 1, "MPJoinSynRx"),
	       delta(&before, &after, 1, "MPJoinAckRx"), delta(&before, &after, 1, "MPRstRx"),
	       *retrans, delta(&before, &after, 1, "TcpExt:TCPDeferAcceptDrop"),
	       delta(&before, &after, 0, "MPJoinSynAckRx"), delta(&before, &after, 0, "MPRstTx"),
	       delta(&before, &after, 0, "TcpExt:TCPSynRetrans"), sub_c, sub_s);
	close(afd);
	close(lfd);
	enter(ns_client);
	close(cfd);
	return joined;
}

static int open_ns(const char *ns)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "/run/netns/%s", ns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		guest_fail(name, "%s: %s", path, strerror(errno));
	return fd;
}

int main(int argc, char **argv)
{
	int set_err, data_plain, data_defer, join_plain, join_defer, secs;
	long long rt_plain, rt_defer;
	struct utsname u;

	if (argc != 5)
		guest_fail(name, "usage: guest-defer-accept-probe SERVER_NS CLIENT_NS SERVER_ADDR SECONDS");
	setvbuf(stdout, NULL, _IOLBF, 0);
	uname(&u);
	ns_server = open_ns(argv[1]);
	ns_client = open_ns(argv[2]);
	secs = atoi(argv[4]);

	join_plain = one_connection(argv[3], 0, secs, &set_err, &data_plain, &rt_plain);
	join_defer = one_connection(argv[3], 1, secs, &set_err, &data_defer, &rt_defer);
	/* Completed promptly: no SYN-ACK retransmitted on the way; deferred:
	 * only after the server retransmitted its SYN-ACK (the defer period). */
	printf("defer-accept: kernel %s: setsockopt(TCP_DEFER_ACCEPT, %d) %s, join without it: %s,"
	       " join with it: %s\n",
	       u.release, secs, set_err ? strerrorname_np(set_err) : "ok",
	       !join_plain ? "fails" : rt_plain > 0 ? "deferred" : "prompt",
	       !join_defer ? "fails" : rt_defer > 0 ? "deferred" : "prompt");
	if (!data_plain || !data_defer)
		guest_fail(name, "data did not go both ways (without: %s, with: %s)",
			   data_plain ? "ok" : "broken", data_defer ? "ok" : "broken");
	if (!join_plain)
		guest_fail(name, "no join completed even without TCP_DEFER_ACCEPT: the two-path setup does not work");
	return 0;
}
