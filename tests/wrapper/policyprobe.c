/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* policyprobe.c - for test-policyfile.sh: writes a big random policy file
 * and addresses to try against it, and, run under the shim, asks the
 * kernel what each socket became.
 *
 *   policyprobe gen RULES SEED POLICY-FILE SAMPLE-FILE SAMPLES
 *       POLICY-FILE: RULES random rules (IPv4 and IPv6 prefixes, port
 *       ranges, listen@/connect@, negations, a few :PORT rules), one to
 *       four per line, comma and/or space separated, comments, blank and
 *       CRLF lines. SAMPLE-FILE: "listen|connect ADDRESS" lines, ADDRESS
 *       as --explain takes it; most inside a rule (its port, its
 *       direction), the rest anywhere, some IPv4-mapped IPv6.
 *   policyprobe probe < SAMPLE-FILE
 *       one line per sample: "mptcp", "tcp" (SO_PROTOCOL of the socket
 *       after connect() or listen()) or "error ...". A connect is
 *       non-blocking and is meant to fail at once (run in a network
 *       namespace of its own, where nothing is routed); a listener binds
 *       any address there (net.ipv{4,6}.ip_nonlocal_bind=1: no socket
 *       option that the shim would have to deal with). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

static uint64_t rng;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

struct rule {
	int v6;
	uint8_t a[16];
	unsigned plen, lo, hi;
	int dirs; /* 1 listen, 2 connect, 3 both */
};

static void mask(uint8_t *a, unsigned bits, unsigned plen)
{
	unsigned i;

	for (i = plen; i < bits; i++)
		a[i / 8] &= (uint8_t)~(0x80u >> (i % 8));
}

static void random_rule(struct rule *r, char *buf, size_t size)
{
	char addr[INET6_ADDRSTRLEN], ports[24] = "";
	const char *neg = rnd() % 4 == 0 ? "!" : "";
	unsigned q = rnd() % 8, i;

	r->dirs = q == 0 ? 1 : q == 1 ? 2 : 3;
	r->lo = 0;
	r->hi = 65535;
	if (rnd() % 6 == 0) {
		r->lo = 1 + rnd() % 65535;
		r->hi = rnd() % 3 ? r->lo : r->lo + rnd() % (65536 - r->lo);
		if (r->lo == r->hi)
			snprintf(ports, sizeof(ports), ":%u", r->lo);
		else
			snprintf(ports, sizeof(ports), ":%u-%u", r->lo, r->hi);
	}
	for (i = 0; i < 16; i++)
		r->a[i] = (uint8_t)rnd();
	r->v6 = rnd() % 3 == 0;
	if (rnd() % 400 == 0) { /* a port alone: both families */
		r->v6 = -1;
		if (!ports[0]) {
			r->lo = r->hi = 1 + rnd() % 65535;
			snprintf(ports, sizeof(ports), ":%u", r->lo);
		}
		snprintf(buf, size, "%s%s%s", neg, q == 0 ? "listen@" : q == 1 ? "connect@" : "",
			 ports);
		return;
	}
	if (!r->v6) {
		r->plen = 8 + rnd() % 25;
		mask(r->a, 32, r->plen);
		inet_ntop(AF_INET, r->a, addr, sizeof(addr));
		snprintf(buf, size, "%s%s%s/%u%s", neg,
			 q == 0 ? "listen@" : q == 1 ? "connect@" : "", addr, r->plen, ports);
	} else {
		r->a[0] = (uint8_t)(0x20 | (r->a[0] & 0x1f));
		r->plen = 16 + rnd() % 113;
		mask(r->a, 128, r->plen);
		inet_ntop(AF_INET6, r->a, addr, sizeof(addr));
		snprintf(buf, size, "%s%s[%s/%u]%s", neg,
			 q == 0 ? "listen@" : q == 1 ? "connect@" : "", addr, r->plen, ports);
	}
}

/* A sample inside R (or anywhere when R is NULL), as --explain takes it. */
static void sample(const struct rule *r, FILE *out)
{
	uint8_t a[16];
	char text[INET6_ADDRSTRLEN];
	unsigned i, port = 1 + rnd() % 65535, v6 = rnd() % 2;
	int dir = rnd() % 2 ? 1 : 2;

	for (i = 0; i < 16; i++)
		a[i] = (uint8_t)rnd();
	if (r) {
		if (r->v6 >= 0) {
			v6 = (unsigned)r->v6;
			for (i = 0; i < r->plen; i++) {
				uint8_t m = (uint8_t)(0x80u >> (i % 8));

				a[i / 8] = (uint8_t)((a[i / 8] & ~m) | (r->a[i / 8] & m));
			}
		}
		port = r->lo + rnd() % (r->hi - r->lo + 1);
		if (r->dirs != 3)
			dir = r->dirs;
	}
	if (port == 0)
		port = 1; /* port 0 on a listener is the kernel's pick */
	if (v6) {
		if (!r)
			a[0] = (uint8_t)(0x20 | (a[0] & 0x1f));
		inet_ntop(AF_INET6, a, text, sizeof(text));
		fprintf(out, "%s [%s]:%u\n", dir == 1 ? "listen" : "connect", text, port);
	} else {
		inet_ntop(AF_INET, a, text, sizeof(text));
		if (rnd() % 5 == 0) /* the same, IPv4-mapped */
			fprintf(out, "%s [::ffff:%s]:%u\n", dir == 1 ? "listen" : "connect", text, port);
		else
			fprintf(out, "%s %s:%u\n", dir == 1 ? "listen" : "connect", text, port);
	}
}

static int gen(unsigned n, unsigned seed, const char *pfile, const char *sfile,
	       unsigned nsamples)
{
	FILE *pf = fopen(pfile, "w"), *sf = fopen(sfile, "w");
	struct rule *rules = calloc(n, sizeof(*rules));
	unsigned i = 0, k;

	if (!pf || !sf || !rules)
		return 1;
	rng = 0x9e3779b97f4a7c15u ^ seed;
	fprintf(pf, "# %u random rules (tests/wrapper/policyprobe.c, seed %u)\n\n", n, seed);
	while (i < n) {
		unsigned per_line = 1 + rnd() % 4;

		for (k = 0; k < per_line && i < n; k++, i++) {
			char buf[96];

			random_rule(&rules[i], buf, sizeof(buf));
			fprintf(pf, "%s%s", k ? (rnd() % 2 ? ", " : " ") : "", buf);
		}
		switch (rnd() % 10) {
		case 0: fprintf(pf, "   # a comment, with a , and 10.0.0.0/33\n"); break;
		case 1: fprintf(pf, "\r\n"); break;
		case 2: fprintf(pf, i < n ? ",\n" : "\n"); break; /* a comma may end a line */
		case 3: fprintf(pf, "\n\n# section\n"); break;
		default: fprintf(pf, "\n"); break;
		}
	}
	for (k = 0; k < nsamples; k++)
		sample(rnd() % 10 < 7 ? &rules[rnd() % n] : NULL, sf);
	free(rules);
	return fclose(pf) || fclose(sf);
}

static int parse(const char *text, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(text, ':');
	size_t hl;

	memset(ss, 0, sizeof(*ss));
	if (!colon || (hl = (size_t)(colon - text)) >= sizeof(host))
		return -1;
	memcpy(host, text, hl);
	host[hl] = '\0';
	if (host[0] == '[') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		host[hl - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1)
			return -1;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)atoi(colon + 1));
		*len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return -1;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)atoi(colon + 1));
		*len = sizeof(*s4);
	}
	return 0;
}

static int probe(void)
{
	char line[256], dir[16], addr[200];

	while (fgets(line, sizeof(line), stdin)) {
		struct sockaddr_storage ss;
		socklen_t len, pl = sizeof(int);
		int fd, proto = 0, rc;

		if (sscanf(line, "%15s %199s", dir, addr) != 2 || parse(addr, &ss, &len)) {
			printf("error bad sample\n");
			continue;
		}
		fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (fd < 0) {
			printf("error socket %s\n", strerror(errno));
			continue;
		}
		if (strcmp(dir, "listen") == 0) {
			rc = bind(fd, (struct sockaddr *)&ss, len) == 0 ? listen(fd, 1) : -1;
			if (rc < 0) {
				printf("error listen %s\n", strerror(errno));
				close(fd);
				continue;
			}
		} else {
			/* fails at once here (nothing routed); the policy has
			 * decided before the kernel was asked */
			connect(fd, (struct sockaddr *)&ss, len);
		}
		if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &pl) < 0)
			printf("error SO_PROTOCOL %s\n", strerror(errno));
		else
			printf("%s\n", proto == IPPROTO_MPTCP ? "mptcp" : proto == IPPROTO_TCP ? "tcp" : "other");
		close(fd);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 7 && strcmp(argv[1], "gen") == 0)
		return gen((unsigned)atoi(argv[2]), (unsigned)atoi(argv[3]), argv[4], argv[5],
			   (unsigned)atoi(argv[6]));
	if (argc == 2 && strcmp(argv[1], "probe") == 0)
		return probe();
	fprintf(stderr, "usage: policyprobe gen RULES SEED POLICY SAMPLES N | probe\n");
	return 2;
}
