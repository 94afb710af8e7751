/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz-policy.c - libFuzzer target for the MPTCPIFY_ADDRS parser and matcher.
 *
 * Input: policy text, optionally followed by a NUL and probe records of 19
 * bytes (family selector, 16 address bytes, 2 port bytes) for policy_decide;
 * more probes are derived from a hash of the input. Besides crashes (ASan,
 * UBSan) it checks invariants and aborts when one fails:
 * - parse returns 0 or -EINVAL, and -EINVAL exactly when errors were
 *   reported; error positions increase, lie within the rule count, and their
 *   text lies within the input; the formatted line is well-formed, one
 *   printable line, and truncation keeps to the buffer;
 * - a valid policy's rules have non-empty text free of separators, each of
 *   which parses alone as a one-rule policy; the rules joined again with ","
 *   make a policy that decides every probe the same way;
 * - first-match: when rule R decides a probe, rule R alone matches it with
 *   the same verdict and no earlier rule alone matches it (checked for the
 *   first rules, to keep executions fast);
 * - the same text as a policy file (a memfd, "@/proc/self/fd/N") is
 *   accepted or refused alike when it has no '#', and every error's line
 *   and column lie inside it; with comments it never crashes;
 * - the policy's image, damaged in a few bytes chosen by the input, is
 *   either refused or read without a fault (ASan) for every probe; intact,
 *   it decides as the policy.
 */
#include "mptcpify/policy.h"
#include "policy-int.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/un.h>
#include <unistd.h>

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "fuzz-policy: %s:%d: check failed: %s\n", \
				__FILE__, __LINE__, #cond);                    \
			abort();                                               \
		}                                                              \
	} while (0)

#define MAX_PROBES 48
#define SINGLE_RULE_CHECKS 12

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct err_check {
	const char *text;
	size_t len;
	unsigned last_rule;
	unsigned count;
};

static bool printable_line(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

static void on_error(void *ctx, const struct policy_error *e)
{
	struct err_check *c = ctx;
	char line[1024], small[17];
	size_t n, m;

	CHECK(e->rule > c->last_rule);
	c->last_rule = e->rule;
	c->count++;
	CHECK(e->text >= c->text && e->text + e->text_len <= c->text + c->len);
	CHECK(e->msg && e->msg[0]);
	CHECK(printable_line(e->msg, strlen(e->msg)));
	n = policy_error_format(e, "MPTCPIFY_ADDRS", line, sizeof(line));
	CHECK(n == strlen(line) && n < sizeof(line));
	CHECK(strncmp(line, "mptcpify: MPTCPIFY_ADDRS rule ", 30) == 0);
	CHECK(printable_line(line, n));
	memset(small, 'x', sizeof(small));
	m = policy_error_format(e, "MPTCPIFY_ADDRS", small, sizeof(small) - 1);
	CHECK(m == strlen(small) && m <= sizeof(small) - 2 && small[16] == 'x');
	CHECK(strncmp(small, line, m) == 0);
}

struct probe {
	struct sockaddr_storage ss;
	socklen_t len;
};

static uint64_t mix(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * UINT64_C(2685821657736338717);
}

/* Builds a probe from a selector, 16 address bytes and a port. */
static void make_probe(struct probe *p, uint8_t sel, const uint8_t *a, uint16_t port)
{
	memset(&p->ss, 0, sizeof(p->ss));
	if (sel % 3 == 0) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&p->ss;

		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, a, 4);
		sin->sin_port = htons(port);
		p->len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&p->ss;

		sin6->sin6_family = AF_INET6;
		memcpy(sin6->sin6_addr.s6_addr, a, 16);
		if (sel % 3 == 2) { /* mapped */
			memset(sin6->sin6_addr.s6_addr, 0, 10);
			sin6->sin6_addr.s6_addr[10] = sin6->sin6_addr.s6_addr[11] = 0xff;
		}
		sin6->sin6_port = htons(port);
		p->len = sizeof(*sin6);
	}
}

static unsigned make_probes(const uint8_t *data, size_t size, size_t text_len,
			    struct probe *probes)
{
	unsigned n = 0;
	uint64_t h = 1469598103934665603u;
	size_t i;

	for (i = text_len + 1; i + 19 <= size && n < MAX_PROBES / 2; i += 19, n++)
		make_probe(&probes[n], data[i], data + i + 1,
			   (uint16_t)(data[i + 17] << 8 | data[i + 18]));
	for (i = 0; i < size; i++)
		h = (h ^ data[i]) * 1099511628211u;
	while (n < MAX_PROBES) {
		uint8_t a[16];
		uint64_t x = mix(&h), y = mix(&h);
		static const uint16_t ports[] = { 0, 22, 80, 443, 8080, 65535 };

		memcpy(a, &x, 8);
		memcpy(a + 8, &y, 8);
		/* some well-known ones: loopback, unspecified, private */
		if (n % 8 == 1)
			memcpy(a, (const uint8_t[]){ 127, 0, 0, 1 }, 4);
		else if (n % 8 == 2)
			memset(a, 0, 16);
		else if (n % 8 == 3)
			a[0] = 10;
		make_probe(&probes[n], (uint8_t)(x >> 40),
			   a, (x >> 60) & 1 ? ports[(y >> 56) % 6] : (uint16_t)(y >> 32));
		n++;
	}
	return n;
}

/* Parses the one-rule policy TEXT[0..len). */
static struct policy *parse_alone(const char *text, size_t len)
{
	char buf[4096];
	struct policy *p = NULL;

	CHECK(len < sizeof(buf));
	memcpy(buf, text, len);
	buf[len] = '\0';
	CHECK(policy_parse(buf, &p, NULL, NULL) == 0);
	CHECK(policy_rule_count(p) == 1);
	return p;
}

struct file_check {
	size_t len;
	unsigned lines; /* lines in the text */
	unsigned count;
};

static void on_file_error(void *ctx, const struct policy_error *e)
{
	struct file_check *c = ctx;
	char line[1024];

	c->count++;
	CHECK(e->file != NULL);
	CHECK(e->line >= 1 && e->line <= c->lines);
	CHECK(e->column >= 1 && e->column <= c->len + 1);
	policy_error_format(e, "MPTCPIFY_ADDRS", line, sizeof(line));
	CHECK(printable_line(line, strlen(line)));
}

/* TEXT as a policy file: accepted exactly when the string is (when it has
 * no comment), errors inside it. */
static void check_as_file(const char *text, size_t len, int string_ret, unsigned string_errors)
{
	struct file_check c = { .len = len, .lines = 1 };
	struct policy *p = NULL;
	char setting[64];
	size_t i;
	int fd = memfd_create("fuzz-policy", MFD_CLOEXEC), ret;

	CHECK(fd >= 0);
	CHECK(write(fd, text, len) == (ssize_t)len);
	for (i = 0; i < len; i++)
		c.lines += text[i] == '\n';
	snprintf(setting, sizeof(setting), "@/proc/self/fd/%d", fd);
	ret = policy_load(setting, &p, on_file_error, &c, 0);
	CHECK(ret == 0 || ret == -EINVAL);
	CHECK((ret == 0) == (c.count == 0));
	if (!memchr(text, '#', len)) {
		CHECK(ret == string_ret);
		CHECK(c.count == string_errors);
	}
	policy_free(p);
	close(fd);
}

/* P's image, damaged in up to 8 bytes (positions and values from SEED),
 * opened and probed. Intact (no damage), it decides as P. */
static void check_image(const struct policy *p, uint64_t seed, const struct probe *probes,
			unsigned nprobes)
{
	size_t size, i;
	const void *bytes = pol_image_bytes(p, &size);
	unsigned damage = (unsigned)(seed % 9), k;
	struct policy *q = NULL;
	char *copy = NULL;

	CHECK(posix_memalign((void **)&copy, 16, size) == 0);
	memcpy(copy, bytes, size);
	for (k = 0; k < damage; k++) {
		seed = seed * 6364136223846793005u + 1442695040888963407u;
		copy[(seed >> 20) % size] ^= (char)(1u << ((seed >> 8) & 7));
	}
	if (pol_image_open(copy, size, &q) == 0) {
		for (i = 0; i < nprobes; i++) {
			const struct sockaddr *sa = (const struct sockaddr *)&probes[i].ss;
			unsigned r1 = 0, r2 = 0;
			enum policy_verdict v1, v2;

			v1 = policy_decide(q, POLICY_CONNECT, sa, probes[i].len, &r1);
			v2 = policy_decide(p, POLICY_CONNECT, sa, probes[i].len, &r2);
			if (damage == 0)
				CHECK(v1 == v2 && r1 == r2);
			if (r1) {
				size_t tl;

				policy_rule_text(q, r1, &tl);
				(void)policy_rule_line(q, r1);
			}
		}
		policy_free(q);
	} else {
		CHECK(damage > 0);
	}
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct err_check ec = { 0 };
	struct probe probes[MAX_PROBES];
	struct policy *p = NULL, *joined = NULL, *single[SINGLE_RULE_CHECKS] = { 0 };
	unsigned nrules, nprobes, i, k;
	size_t text_len;
	char *text, *all;
	int ret;

	if (size > 1 << 16)
		return 0;
	text_len = strnlen((const char *)data, size);
	text = malloc(text_len + 1);
	CHECK(text);
	memcpy(text, data, text_len);
	text[text_len] = '\0';
	ec.text = text;
	ec.len = text_len;

	ret = policy_parse(text, &p, on_error, &ec);
	CHECK(ret == 0 || ret == -EINVAL);
	CHECK((ret == -EINVAL) == (ec.count > 0));
	check_as_file(text, text_len, ret, ec.count);
	if (ret) {
		CHECK(p == NULL);
		free(text);
		return 0;
	}
	nrules = policy_rule_count(p);
	CHECK(policy_rule_text(p, 0, NULL) == NULL);
	CHECK(policy_rule_text(p, nrules + 1, NULL) == NULL);

	/* the rules again, joined with commas */
	all = malloc(text_len + 2);
	CHECK(all);
	all[0] = '\0';
	for (i = 1, k = 0; i <= nrules; i++) {
		size_t len, j;
		const char *t = policy_rule_text(p, i, &len);

		CHECK(t && len > 0 && len <= text_len);
		for (j = 0; j < len; j++)
			CHECK(t[j] != ',' && t[j] != ' ' && t[j] != '\t' &&
			      t[j] != '\n' && t[j] != '\r' && t[j] != '\v' &&
			      t[j] != '\f' && t[j] != '\0');
		if (i > 1)
			all[k++] = ',';
		memcpy(all + k, t, len);
		k += len;
		all[k] = '\0';
		if (i <= SINGLE_RULE_CHECKS)
			single[i - 1] = parse_alone(t, len);
	}
	CHECK(policy_parse(all, &joined, NULL, NULL) == 0);
	CHECK(policy_rule_count(joined) == nrules);

	nprobes = make_probes(data, size, text_len, probes);
	for (i = 0; i < nprobes; i++) {
		enum policy_dir dir;

		for (dir = POLICY_LISTEN; dir <= POLICY_CONNECT; dir++) {
			const struct sockaddr *sa = (const struct sockaddr *)&probes[i].ss;
			unsigned r = 12345, r2 = 12345, r1, j;
			enum policy_verdict v, v2, v1;

			v = policy_decide(p, dir, sa, probes[i].len, &r);
			v2 = policy_decide(joined, dir, sa, probes[i].len, &r2);
			CHECK(v == v2 && r == r2);
			CHECK(r <= nrules);
			CHECK(r != 0 || v == POLICY_TCP);
			CHECK(v == POLICY_TCP || v == POLICY_MPTCP);
			/* first match, against the rules one by one */
			for (j = 1; j <= nrules && j <= SINGLE_RULE_CHECKS; j++) {
				if (r != 0 && j > r)
					break;
				r1 = 12345;
				v1 = policy_decide(single[j - 1], dir, sa, probes[i].len, &r1);
				if (j == r)
					CHECK(r1 == 1 && v1 == v);
				else
					CHECK(r1 == 0 && v1 == POLICY_TCP);
			}
			/* a short length or another family never matches */
			r = 12345;
			CHECK(policy_decide(p, dir, sa, probes[i].len - 9, &r) == POLICY_TCP && r == 0);
		}
	}
	{
		uint64_t h = 1469598103934665603u;

		for (i = 0; i < size; i++)
			h = (h ^ data[i]) * 1099511628211u;
		check_image(p, h, probes, nprobes);
	}
	{
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		unsigned r = 12345;

		CHECK(policy_decide(p, POLICY_CONNECT, (struct sockaddr *)&sun,
				    sizeof(sun), &r) == POLICY_TCP && r == 0);
	}

	for (i = 0; i < SINGLE_RULE_CHECKS; i++)
		policy_free(single[i]);
	policy_free(joined);
	policy_free(p);
	free(all);
	free(text);
	return 0;
}
