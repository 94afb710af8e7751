/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-startup.c - what a big MPTCPIFY_ADDRS costs a process at start-up:
 * exec of /bin/true (no socket) and of a one-connection client (oneconn),
 * under the shim with no policy and with a 100,000-rule policy file, parsed
 * (no image beside it) or compiled (FILE.compiled). Also, for /bin/true,
 * what eager loading in a constructor would cost (eagerload.so) and the
 * 9,000-rule environment string of issue 14. A command, not a test: it
 * reports, never judges.
 *
 *   bench-startup --lib LIBMPTCPIFY --client ONECONN --eager EAGERLOAD
 *                 [--rules N] [--rounds N] [--slow-every K] [--dir DIR]
 *
 * Runs are paired and interleaved: every round runs each configuration once,
 * starting one further along each round, and a configuration is compared
 * with the baseline (shim, MPTCPIFY_ADDRS unset) of the same round; the
 * ratio shown is the median of those per-round ratios. Configurations that
 * parse 100,000 rules run only every K-th round (default 5). Each time is
 * fork+exec+exit+wait, wall clock; "faults" are the child's minor page
 * faults (getrusage), which dominate exec costs on virtual machines. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/mptcp.h>
#include <netinet/in.h>
#include <pthread.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mptcpify/policy.h"

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif
#ifndef SOL_MPTCP
#define SOL_MPTCP 284
#endif

enum prog { P_TRUE, P_CLIENT };

struct config {
	const char *name;
	enum prog prog;
	int preload;       /* 0 none, 1 shim, 2 shim + eagerload */
	const char *addrs; /* MPTCPIFY_ADDRS, NULL unset */
	bool slow;
	bool baseline;
	/* results */
	double *t, *cpu;
	long *faults;
	double *ratio, *cpu_ratio;
	unsigned n, nratio;
	int proto_seen;    /* what the server got from this config's client */
};

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what)
{
	fprintf(stderr, "bench-startup: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* One random rule that cannot match 127.0.0.0/8 (so that the policy's last
 * rule, 127.0.0.0/8, decides the client's connection after a full walk). */
static int random_rule(char *buf, size_t size, bool v4only)
{
	const char *neg = rnd() % 5 == 0 ? "!" : "";
	const char *qual = rnd() % 10 == 0 ? (rnd() % 2 ? "listen@" : "connect@") : "";
	char ports[16] = "";

	if (rnd() % 10 == 0) {
		unsigned lo = rnd() % 65536, hi = lo + rnd() % (65536 - lo);

		snprintf(ports, sizeof(ports), ":%u-%u", lo, hi);
	}
	if (v4only) {
		neg = "";
		qual = "";
		ports[0] = '\0';
	}
	if (v4only || rnd() % 3) {
		unsigned plen = 8 + rnd() % 25, a0;
		uint32_t a;

		do
			a0 = rnd() % 256;
		while (a0 == 127);
		a = a0 << 24 | (rnd() & 0xffffff);
		a &= plen == 32 ? ~0u : ~(~0u >> plen);
		return snprintf(buf, size, "%s%s%u.%u.%u.%u/%u%s", neg, qual, a >> 24,
				(a >> 16) & 255, (a >> 8) & 255, a & 255, plen, ports);
	}
	{
		unsigned plen = 16 + rnd() % 49, g[4], i;

		for (i = 0; i < 4; i++)
			g[i] = rnd() & 0xffff;
		g[0] = 0x2000 | (g[0] & 0x1fff);
		for (i = 0; i < 4; i++) {
			unsigned keep = plen > 16 * i ? plen - 16 * i : 0;

			if (keep < 16)
				g[i] &= keep ? (0xffffu << (16 - keep)) & 0xffff : 0;
		}
		return snprintf(buf, size, "%s%s[%x:%x:%x:%x::/%u]%s", neg, qual, g[0], g[1],
				g[2], g[3], plen, ports);
	}
}

/* N rules, then 127.0.0.0/8: for a FILE a few per line and some comments,
 * else one line of IPv4 prefixes (an environment string has at most
 * 128 KiB). Returns a malloc'd string. */
static char *make_policy(unsigned n, bool file, size_t cap, unsigned *made)
{
	size_t size = (size_t)n * 64 + 256, len = 0;
	char *t = malloc(size);
	unsigned i;

	if (!t)
		die("malloc");
	if (file)
		len += (size_t)snprintf(t + len, size - len,
					"# bench/startup: %u random rules, then loopback\n", n);
	for (i = 0; i + 1 < n && len + 64 < cap; i++) {
		len += (size_t)random_rule(t + len, size - len, !file);
		if (file && rnd() % 3 == 0)
			len += (size_t)snprintf(t + len, size - len, "  # rule %u\n", i + 1);
		else
			len += (size_t)snprintf(t + len, size - len, file && rnd() % 2 ? "\n" : " ");
	}
	snprintf(t + len, size - len, "127.0.0.0/8\n");
	if (made)
		*made = i + 1;
	return t;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		die(path);
}

/* ---- the server: MPTCP listener on 127.0.0.1, accepts and closes ---------- */

static int listener;
static _Atomic int last_proto;

static void *serve(void *arg)
{
	(void)arg;
	for (;;) {
		int c = accept(listener, NULL, NULL);
		struct mptcp_info mi;
		socklen_t l = sizeof(mi);

		if (c < 0)
			continue;
		/* MPTCP for real: MPTCP_INFO readable and no fallback */
		if (getsockopt(c, SOL_MPTCP, MPTCP_INFO, &mi, &l) == 0 &&
		    !(mi.mptcpi_flags & MPTCP_INFO_FLAG_FALLBACK))
			last_proto = IPPROTO_MPTCP;
		else
			last_proto = IPPROTO_TCP;
		close(c);
	}
	return NULL;
}

static int start_server(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	pthread_t th;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	listener = socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
	if (listener < 0)
		listener = socket(AF_INET, SOCK_STREAM, 0);
	if (listener < 0 || bind(listener, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    listen(listener, 4096) < 0 || getsockname(listener, (struct sockaddr *)&sin, &len) < 0)
		die("listener");
	if (pthread_create(&th, NULL, serve, NULL))
		die("pthread_create");
	return ntohs(sin.sin_port);
}

/* ---- running one exec ----------------------------------------------------- */

static const char *lib, *client, *eager;
static char port_arg[16];

/* Runs C once; returns the wall time in seconds, *FAULTS its minor faults,
 * *CPU its user + system time in seconds. */
static double run_once(const struct config *c, long *faults, double *cpu, int *status)
{
	char preload[8192], addrs_env[256 * 1024];
	char *envp[4], *argv[3];
	struct rusage ru;
	unsigned ne = 0;
	double t0, t1;
	pid_t pid;

	if (c->preload) {
		snprintf(preload, sizeof(preload), "LD_PRELOAD=%s%s%s", lib,
			 c->preload == 2 ? " " : "", c->preload == 2 ? eager : "");
		envp[ne++] = preload;
	}
	if (c->addrs) {
		snprintf(addrs_env, sizeof(addrs_env), "MPTCPIFY_ADDRS=%s", c->addrs);
		envp[ne++] = addrs_env;
	}
	envp[ne] = NULL;
	argv[0] = (char *)(c->prog == P_TRUE ? "/bin/true" : client);
	argv[1] = c->prog == P_TRUE ? NULL : port_arg;
	argv[2] = NULL;
	t0 = now();
	if (posix_spawn(&pid, argv[0], NULL, NULL, argv, envp))
		die("posix_spawn");
	if (wait4(pid, status, 0, &ru) != pid)
		die("wait4");
	t1 = now();
	*faults = ru.ru_minflt;
	*cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
	return t1 - t0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n ? (n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2) : 0;
}

static double mean(const double *v, unsigned n)
{
	double sum = 0;
	unsigned i;

	for (i = 0; i < n; i++)
		sum += v[i];
	return n ? sum / n : 0;
}

static double quantile(double *v, unsigned n, double q)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n ? v[(unsigned)(q * (n - 1) + 0.5)] : 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "lib", required_argument, NULL, 'l' },
		{ "client", required_argument, NULL, 'c' },
		{ "eager", required_argument, NULL, 'e' },
		{ "rules", required_argument, NULL, 'r' },
		{ "rounds", required_argument, NULL, 'n' },
		{ "slow-every", required_argument, NULL, 'k' },
		{ "dir", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned rules = 100000, rounds = 200, slow_every = 5, r, i, j, nconf;
	char dir[1024] = "", raw[1100], compiled[1100], path[1200];
	char *text, *env9k, env_label[64];
	unsigned env_rules = 0;
	struct policy *pol = NULL;
	double t0;
	int o, rc;

	while ((o = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (o) {
		case 'l': lib = optarg; break;
		case 'c': client = optarg; break;
		case 'e': eager = optarg; break;
		case 'r': rules = (unsigned)atoi(optarg); break;
		case 'n': rounds = (unsigned)atoi(optarg); break;
		case 'k': slow_every = (unsigned)atoi(optarg); break;
		case 'd': snprintf(dir, sizeof(dir), "%s", optarg); break;
		default: return 2;
		}
	}
	if (!lib || !client || !eager || rules < 2 || rounds < 1 || slow_every < 1) {
		fprintf(stderr, "usage: bench-startup --lib PATH --client PATH --eager PATH "
			"[--rules N] [--rounds N] [--slow-every K] [--dir DIR]\n");
		return 2;
	}
	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "/tmp/mptcpify-startup.XXXXXX");
		if (!mkdtemp(dir))
			die("mkdtemp");
	}

	/* The same policy twice: one file parsed, one compiled. */
	text = make_policy(rules, true, SIZE_MAX, NULL);
	snprintf(path, sizeof(path), "%s/raw", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/compiled", dir);
	mkdir(path, 0755);
	snprintf(raw, sizeof(raw), "%s/raw/addrs", dir);
	snprintf(compiled, sizeof(compiled), "%s/compiled/addrs", dir);
	write_file(raw, text);
	write_file(compiled, text);
	snprintf(path, sizeof(path), "%s/raw/addrs" POLICY_IMAGE_SUFFIX, dir);
	unlink(path);
	/* An image made right after the file changed must have its hash
	 * checked by every process (policy-image.c): compile once the file's
	 * timestamp is safely in the past, as an operator's would be. */
	sleep(3);
	snprintf(path, sizeof(path), "@%s", compiled);
	t0 = now();
	rc = policy_load(path, &pol, NULL, NULL, POLICY_LOAD_PARSE);
	printf("policy: %u rules, %zu bytes; parsed in %.0f ms", rules, strlen(text),
	       (now() - t0) * 1e3);
	if (rc || policy_image_write(pol, compiled) != 0) {
		fprintf(stderr, "\nbench-startup: cannot compile %s\n", compiled);
		return 1;
	}
	policy_free(pol);
	{
		struct stat st;

		snprintf(path, sizeof(path), "%s" POLICY_IMAGE_SUFFIX, compiled);
		if (stat(path, &st) == 0)
			printf("; image %lld bytes", (long long)st.st_size);
	}
	printf("\n");
	free(text);
	/* as many rules as an environment string holds (exec's limit for one
	 * string is 128 KiB): issue 14's "9,000-rule policy" */
	env9k = make_policy(20000, false, 127 * 1024, &env_rules);
	snprintf(env_label, sizeof(env_label), "shim, %u rules in env", env_rules);

	snprintf(port_arg, sizeof(port_arg), "%d", start_server());

	snprintf(path, sizeof(path), "@%s", raw);
	char *at_raw = strdup(path);
	snprintf(path, sizeof(path), "@%s", compiled);
	char *at_compiled = strdup(path);
	struct config confs[] = {
		{ .name = "no shim", .prog = P_TRUE, .preload = 0, .addrs = NULL, .slow = false, .baseline = false },
		{ .name = "shim, no policy", .prog = P_TRUE, .preload = 1, .addrs = NULL, .slow = false, .baseline = true },
		{ .name = "shim, file parsed", .prog = P_TRUE, .preload = 1, .addrs = at_raw, .slow = false, .baseline = false },
		{ .name = "shim, file compiled", .prog = P_TRUE, .preload = 1, .addrs = at_compiled, .slow = false, .baseline = false },
		{ .name = env_label, .prog = P_TRUE, .preload = 1, .addrs = env9k, .slow = false, .baseline = false },
		{ .name = "shim+eager, no policy", .prog = P_TRUE, .preload = 2, .addrs = NULL, .slow = false, .baseline = false },
		{ .name = "shim+eager, file parsed", .prog = P_TRUE, .preload = 2, .addrs = at_raw, .slow = true, .baseline = false },
		{ .name = "shim+eager, file compiled", .prog = P_TRUE, .preload = 2, .addrs = at_compiled, .slow = false, .baseline = false },
		{ .name = "no shim", .prog = P_CLIENT, .preload = 0, .addrs = NULL, .slow = false, .baseline = false },
		{ .name = "shim, no policy", .prog = P_CLIENT, .preload = 1, .addrs = NULL, .slow = false, .baseline = true },
		{ .name = "shim, file parsed", .prog = P_CLIENT, .preload = 1, .addrs = at_raw, .slow = true, .baseline = false },
		{ .name = "shim, file compiled", .prog = P_CLIENT, .preload = 1, .addrs = at_compiled, .slow = false, .baseline = false },
		{ .name = env_label, .prog = P_CLIENT, .preload = 1, .addrs = env9k, .slow = true, .baseline = false },
	};
	nconf = sizeof(confs) / sizeof(confs[0]);
	for (i = 0; i < nconf; i++) {
		confs[i].t = calloc(rounds, sizeof(double));
		confs[i].faults = calloc(rounds, sizeof(long));
		confs[i].ratio = calloc(rounds, sizeof(double));
		confs[i].cpu = calloc(rounds, sizeof(double));
		confs[i].cpu_ratio = calloc(rounds, sizeof(double));
		if (!confs[i].t || !confs[i].faults || !confs[i].ratio || !confs[i].cpu ||
		    !confs[i].cpu_ratio)
			die("calloc");
	}

	/* Once each, untimed: warms the page cache, and shows what the kernel
	 * made of each client's connection. */
	for (i = 0; i < nconf; i++) {
		double cpu;
		long f;
		int st;

		last_proto = 0;
		run_once(&confs[i], &f, &cpu, &st);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "bench-startup: %s (%s) failed: status %d\n", confs[i].name,
				confs[i].prog == P_TRUE ? "true" : "oneconn", st);
			return 1;
		}
		if (confs[i].prog == P_CLIENT) {
			for (j = 0; j < 100 && !last_proto; j++)
				usleep(1000);
			confs[i].proto_seen = last_proto;
		}
	}

	for (r = 0; r < rounds; r++) {
		double t[32], cpu[32], base[2] = { 0, 0 }, cbase[2] = { 0, 0 };
		bool ran[32];

		for (j = 0; j < nconf; j++) {
			struct config *c;
			long f;
			int st;

			i = (r + j) % nconf;
			c = &confs[i];
			ran[i] = !c->slow || r % slow_every == 0;
			if (!ran[i])
				continue;
			t[i] = run_once(c, &f, &cpu[i], &st);
			if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
				fprintf(stderr, "bench-startup: %s failed in round %u\n", c->name, r);
				return 1;
			}
			c->t[c->n] = t[i];
			c->cpu[c->n] = cpu[i];
			c->faults[c->n++] = f;
			if (c->baseline) {
				base[c->prog] = t[i];
				cbase[c->prog] = cpu[i];
			}
		}
		for (i = 0; i < nconf; i++) {
			if (!ran[i])
				continue;
			confs[i].ratio[confs[i].nratio] = t[i] / base[confs[i].prog];
			/* CPU time is counted in ticks of the scheduler: a run of
			 * 0 s is possible; such a pair says nothing */
			confs[i].cpu_ratio[confs[i].nratio++] =
				cbase[confs[i].prog] > 0 ? cpu[i] / cbase[confs[i].prog] : 0;
		}
	}

	printf("rounds: %u (parsing configurations every %u-th: %u)\n\n", rounds, slow_every,
	       (rounds + slow_every - 1) / slow_every);
	printf("| program | configuration | runs | wall ms, median | p10-p90 | CPU ms, mean | "
	       "minor faults | wall ratio (median of paired) | CPU ratio (mean/mean) | goal |\n");
	printf("|---|---|---:|---:|---:|---:|---:|---:|---:|---|\n");
	for (i = 0; i < nconf; i++) {
		struct config *c = &confs[i];
		double lo = quantile(c->t, c->n, 0.1), hi = quantile(c->t, c->n, 0.9);
		double med = median(c->t, c->n), ratio = median(c->ratio, c->nratio);
		double cpu = mean(c->cpu, c->n), cbase = 0;
		const char *goal = "";

		for (j = 0; j < nconf; j++)
			if (confs[j].baseline && confs[j].prog == c->prog)
				cbase = mean(confs[j].cpu, confs[j].n);

		qsort(c->faults, c->n, sizeof(long), cmp_long);
		if (c->addrs && strcmp(c->addrs, at_compiled) == 0 && c->preload == 1)
			goal = c->prog == P_TRUE ? (ratio <= 1.05 ? "<= 1.05: met" : "<= 1.05: MISSED")
						 : (ratio <= 1.25 ? "<= 1.25: met" : "<= 1.25: MISSED");
		printf("| %s | %s | %u | %.2f | %.2f-%.2f | %.3f | %ld | %.3f | %.3f | %s |\n",
		       c->prog == P_TRUE ? "/bin/true" : "oneconn", c->name, c->n, med * 1e3,
		       lo * 1e3, hi * 1e3, cpu * 1e3, c->faults[c->n / 2], ratio,
		       cbase > 0 ? cpu / cbase : 0, goal);
	}
	printf("\nWhat the kernel made of each client's connection (MPTCP_INFO at the server):\n");
	for (i = 0; i < nconf; i++)
		if (confs[i].prog == P_CLIENT)
			printf("  %-26s %s\n", confs[i].name,
			       confs[i].proto_seen == IPPROTO_MPTCP ? "MPTCP" :
			       confs[i].proto_seen == IPPROTO_TCP ? "TCP" : "?");
	printf("\nfiles: %s\n", dir);
	return 0;
}
