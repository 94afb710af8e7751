/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-policy.c - nanoseconds per policy_decide() for policies of 10, 1,000,
 * 10,000 and 100,000 random rules (IPv4 and IPv6 prefixes, some ports, negations),
 * for addresses that match a rule (hit) and that match none (miss), plus a
 * few pathological shapes. A command, not a test: it reports, never asserts.
 *
 *   bench-policy [SECONDS_PER_ROW]     (default 0.2)
 */
#include "mptcpify/policy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NPROBES 4096

struct rule {
	int fam; /* 4 or 6 */
	uint8_t addr[16];
	unsigned plen, lo, hi;
};

struct probe {
	struct sockaddr_storage ss;
	socklen_t len;
	enum policy_dir dir;
};

static uint64_t rng = 88172645463325252u;

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

static void mask_bits(uint8_t *a, unsigned nbits, unsigned plen)
{
	unsigned i;

	for (i = plen; i < nbits; i++)
		a[i / 8] &= (uint8_t)~(0x80u >> (i % 8));
}

/* A random rule and its text; global unicast-looking addresses so that
 * random IPv6 probes rarely fall inside. */
static int random_rule(struct rule *r, char *buf, size_t size)
{
	char addr[INET6_ADDRSTRLEN], ports[16] = "";
	const char *neg = rnd() % 5 == 0 ? "!" : "";
	const char *qual = rnd() % 10 == 0 ? (rnd() % 2 ? "listen@" : "connect@") : "";
	unsigned i;

	r->fam = rnd() % 2 ? 4 : 6;
	for (i = 0; i < 16; i++)
		r->addr[i] = (uint8_t)rnd();
	r->lo = 0;
	r->hi = 65535;
	if (rnd() % 10 == 0) {
		r->lo = rnd() % 65536;
		r->hi = rnd() % 2 ? r->lo : r->lo + rnd() % (65536 - r->lo);
		snprintf(ports, sizeof(ports), ":%u-%u", r->lo, r->hi);
	}
	if (r->fam == 4) {
		r->plen = 8 + rnd() % 25;
		mask_bits(r->addr, 32, r->plen);
		inet_ntop(AF_INET, r->addr, addr, sizeof(addr));
		return snprintf(buf, size, "%s%s%s/%u%s", neg, qual, addr, r->plen, ports);
	}
	r->addr[0] = 0x20 | (r->addr[0] & 0x1f);
	r->plen = 16 + rnd() % 113;
	mask_bits(r->addr, 128, r->plen);
	inet_ntop(AF_INET6, r->addr, addr, sizeof(addr));
	return snprintf(buf, size, "%s%s[%s/%u]%s", neg, qual, addr, r->plen, ports);
}

static void set_probe(struct probe *p, int fam, const uint8_t *a, unsigned port)
{
	memset(p, 0, sizeof(*p));
	p->dir = rnd() % 2 ? POLICY_LISTEN : POLICY_CONNECT;
	if (fam == 4) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&p->ss;

		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, a, 4);
		sin->sin_port = htons((uint16_t)port);
		p->len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&p->ss;

		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, a, 16);
		sin6->sin6_port = htons((uint16_t)port);
		p->len = sizeof(*sin6);
	}
}

/* Fills PROBES with addresses of family FAM that hit (inside a rule, which
 * then decides) or miss (no rule decides), as the policy itself says. */
static unsigned make_probes(const struct policy *pol, const struct rule *rules,
			    unsigned nrules, int fam, bool hit, struct probe *probes)
{
	unsigned n = 0, tries;

	for (tries = 0; n < NPROBES && tries < 200 * NPROBES; tries++) {
		uint8_t a[16];
		unsigned i, port = rnd() % 65536, r;

		for (i = 0; i < 16; i++)
			a[i] = (uint8_t)rnd();
		if (fam == 6)
			a[0] = 0x20 | (a[0] & 0x1f);
		if (hit) {
			const struct rule *ru = &rules[rnd() % nrules];
			unsigned bits = ru->fam == 4 ? 32 : 128;

			if (ru->fam != fam)
				continue;
			for (i = 0; i < ru->plen; i++) {
				uint8_t m = (uint8_t)(0x80u >> (i % 8));

				a[i / 8] = (uint8_t)((a[i / 8] & ~m) | (ru->addr[i / 8] & m));
			}
			(void)bits;
			port = ru->lo + rnd() % (ru->hi - ru->lo + 1);
		}
		set_probe(&probes[n], fam, a, port);
		policy_decide(pol, probes[n].dir, (struct sockaddr *)&probes[n].ss,
			      probes[n].len, &r);
		if ((r != 0) == hit)
			n++;
	}
	return n;
}

static double seconds_per_row = 0.2;

struct timing {
	double median, min; /* ns per decision over one pass of the probes */
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Times passes over the N probes for about seconds_per_row. The machine
 * may be shared: the median says what a decision usually costs, the
 * minimum what it costs undisturbed. */
static struct timing time_decide(const struct policy *pol,
				 const struct probe *probes, unsigned n)
{
	static double pass_ns[100000];
	volatile unsigned sink = 0;
	unsigned npass = 0, i;
	double start = now();
	struct timing t;

	do {
		double t0 = now();

		for (i = 0; i < n; i++) {
			unsigned r;

			sink += policy_decide(pol, probes[i].dir,
					      (const struct sockaddr *)&probes[i].ss,
					      probes[i].len, &r) + r;
		}
		pass_ns[npass++] = (now() - t0) * 1e9 / n;
	} while (now() - start < seconds_per_row && npass < 100000);
	(void)sink;
	qsort(pass_ns, npass, sizeof(pass_ns[0]), cmp_double);
	t.median = pass_ns[npass / 2];
	t.min = pass_ns[0];
	return t;
}

static struct policy *parse_timed(const char *text, double *ms)
{
	struct policy *p = NULL;
	double t0 = now();

	if (policy_parse(text, &p, NULL, NULL) != 0) {
		fprintf(stderr, "bench-policy: generated policy rejected\n");
		exit(1);
	}
	*ms = (now() - t0) * 1e3;
	return p;
}

static void print_cell(unsigned n, struct timing t)
{
	char cell[32];

	if (n == 0)
		snprintf(cell, sizeof(cell), "-");
	else
		snprintf(cell, sizeof(cell), "%.0f/%.0f", t.median, t.min);
	printf(" %11s", cell);
}

static void random_rows(const unsigned *sizes, unsigned nsizes)
{
	static struct probe probes[NPROBES];
	unsigned s;

	printf("%-34s %8s %11s %11s %11s %11s\n", "policy", "parse ms",
	       "v4 hit", "v4 miss", "v6 hit", "v6 miss");
	for (s = 0; s < nsizes; s++) {
		unsigned nrules = sizes[s], i, f;
		struct rule *rules = calloc(nrules, sizeof(*rules));
		size_t size = (size_t)nrules * 80 + 1, len = 0;
		char *text = malloc(size), label[64];
		struct policy *pol;
		double ms;

		if (!rules || !text)
			exit(1);
		for (i = 0; i < nrules; i++) {
			len += (size_t)random_rule(&rules[i], text + len, size - len);
			if (i + 1 < nrules)
				len += (size_t)snprintf(text + len, size - len, ", ");
		}
		pol = parse_timed(text, &ms);
		snprintf(label, sizeof(label), "%u random rules", nrules);
		printf("%-34s %8.2f", label, ms);
		for (f = 0; f < 2; f++) {
			int fam = f ? 6 : 4;
			unsigned n;

			n = make_probes(pol, rules, nrules, fam, true, probes);
			print_cell(n, time_decide(pol, probes, n));
			n = make_probes(pol, rules, nrules, fam, false, probes);
			print_cell(n, time_decide(pol, probes, n));
		}
		printf("\n");
		policy_free(pol);
		free(text);
		free(rules);
	}
}

/* One pathological policy: TEXT, probed at PROBE_FN's addresses. */
static void shape_row(const char *label, const char *text, int fam,
		      const uint8_t *base, unsigned keep_bits)
{
	static struct probe probes[NPROBES];
	struct policy *pol;
	double ms;
	unsigned i, j;

	pol = parse_timed(text, &ms);
	for (i = 0; i < NPROBES; i++) {
		uint8_t a[16];

		for (j = 0; j < 16; j++)
			a[j] = (uint8_t)rnd();
		for (j = 0; j < keep_bits; j++) {
			uint8_t m = (uint8_t)(0x80u >> (j % 8));

			a[j / 8] = (uint8_t)((a[j / 8] & ~m) | (base[j / 8] & m));
		}
		set_probe(&probes[i], fam, a, rnd() % 65536);
	}
	{
		struct timing t = time_decide(pol, probes, NPROBES);

		printf("%-34s %8.2f %5.0f/%-5.0f (%s)\n", label, ms, t.median,
		       t.min, fam == 4 ? "IPv4" : "IPv6");
	}
	policy_free(pol);
}

static void pathological_rows(void)
{
	static char text[10000 * 40];
	static const uint8_t ten[16] = { 10 };
	uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8 };
	char addr[INET6_ADDRSTRLEN];
	size_t len = 0;
	unsigned i;

	printf("\n%-34s %8s %11s\n", "pathological shape", "parse ms", "ns");
	for (i = 0; i < 10000; i++) {
		unsigned lo = rnd() % 65536, hi = lo + rnd() % (65536 - lo) % 200;

		len += (size_t)snprintf(text + len, sizeof(text) - len, "%s10.0.0.0/8:%u-%u ",
					i % 3 ? "" : "!", lo, hi);
	}
	shape_row("10000 rules on 10.0.0.0/8, ports", text, 4, ten, 8);

	len = 0;
	for (i = 0; i < 10000; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len, ":%u ",
					rnd() % 65536);
	shape_row("10000 :PORT rules", text, 6, v6, 0);

	len = 0;
	for (i = 0; i <= 128; i++) {
		uint8_t a[16];

		memcpy(a, v6, 16);
		a[15] = 1;
		mask_bits(a, 128, 128 - i);
		inet_ntop(AF_INET6, a, addr, sizeof(addr));
		len += (size_t)snprintf(text + len, sizeof(text) - len, "[%s/%u]:%u ",
					addr, 128 - i, 7 + i);
	}
	v6[15] = 1;
	shape_row("129 nested IPv6 prefixes, ports", text, 6, v6, 128);

	len = 0;
	for (i = 0; i < 10000; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len,
					"[2001:db8:%x:%x::/64] ", i / 65536, i % 65536);
	v6[4] = v6[5] = 0;
	shape_row("10000 IPv6 /64s under one /32", text, 6, v6, 32);
}

int main(int argc, char **argv)
{
	static const unsigned sizes[] = { 10, 1000, 10000, 100000 };

	if (argc > 1)
		seconds_per_row = atof(argv[1]) / 4;
	printf("ns per policy_decide(), median/minimum over passes of %u probes;\n"
	       "hit: a rule decides, miss: none does\n\n", NPROBES);
	{
		/* the cost of the call and the loop alone: another family
		 * returns at once */
		static struct probe probes[NPROBES];
		struct policy *pol = NULL;
		struct timing t;
		unsigned i;

		policy_parse("*", &pol, NULL, NULL);
		for (i = 0; i < NPROBES; i++) {
			probes[i].ss.ss_family = AF_UNIX;
			probes[i].len = sizeof(probes[i].ss);
			probes[i].dir = POLICY_CONNECT;
		}
		t = time_decide(pol, probes, NPROBES);
		printf("%-34s %8s %5.0f/%-5.0f\n\n", "baseline: call returning at once",
		       "", t.median, t.min);
		policy_free(pol);
	}
	random_rows(sizes, sizeof(sizes) / sizeof(sizes[0]));
	pathological_rows();
	return 0;
}
