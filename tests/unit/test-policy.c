/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-policy.c - the MPTCPIFY_ADDRS parser and matcher (lib/policy-*.c):
 * the examples of issue 2, every class of error with its exact message,
 * both families, mapped addresses, ports, order and negation, and a large
 * random policy checked against a naive matcher written here. */
#include "test-common.h"

#include "mptcpify/policy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

/* ---- helpers ---------------------------------------------------------------- */

#define MAX_ERRS 16

struct errs {
	unsigned n;
	unsigned rule[MAX_ERRS];
	char text[MAX_ERRS][128];
	char msg[MAX_ERRS][256];
	char line[MAX_ERRS][512];
};

static void collect(void *ctx, const struct policy_error *e)
{
	struct errs *c = ctx;

	ck_assert_uint_lt(c->n, MAX_ERRS);
	ck_assert_uint_lt(e->text_len, sizeof(c->text[0]));
	c->rule[c->n] = e->rule;
	memcpy(c->text[c->n], e->text, e->text_len);
	c->text[c->n][e->text_len] = '\0';
	snprintf(c->msg[c->n], sizeof(c->msg[0]), "%s", e->msg);
	policy_error_format(e, "MPTCPIFY_ADDRS", c->line[c->n], sizeof(c->line[0]));
	c->n++;
}

static struct policy *parse_ok(const char *text)
{
	struct policy *p = NULL;
	struct errs e = { 0 };
	int ret = policy_parse(text, &p, collect, &e);

	ck_assert_msg(ret == 0, "\"%.200s\" was rejected: %s", text,
		      e.n ? e.line[0] : "(no message)");
	ck_assert_uint_eq(e.n, 0);
	ck_assert_ptr_nonnull(p);
	return p;
}

/* Parses TEXT expecting exactly one bad rule, at POS, with message MSG. */
static void expect_error(const char *text, unsigned pos, const char *msg)
{
	struct policy *p = (struct policy *)0x1;
	struct errs e = { 0 };
	int ret = policy_parse(text, &p, collect, &e);

	ck_assert_msg(ret == -EINVAL, "\"%s\" was accepted", text);
	ck_assert_msg(p == (struct policy *)0x1, "*out touched on error");
	ck_assert_msg(e.n == 1, "\"%s\": %u errors", text, e.n);
	ck_assert_uint_eq(e.rule[0], pos);
	ck_assert_str_eq(e.msg[0], msg);
}

/* Fills SS from "1.2.3.4:80" or "[::1]:80"; returns its length. */
static socklen_t make_addr(const char *s, struct sockaddr_storage *ss)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon;
	size_t n;

	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
		const char *close = strchr(s, ']');

		ck_assert_ptr_nonnull(close);
		n = (size_t)(close - s - 1);
		memcpy(host, s + 1, n);
		host[n] = '\0';
		sin6->sin6_family = AF_INET6;
		ck_assert_int_eq(inet_pton(AF_INET6, host, &sin6->sin6_addr), 1);
		sin6->sin6_port = htons((uint16_t)atoi(close + 2));
		return sizeof(*sin6);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		colon = strchr(s, ':');
		ck_assert_ptr_nonnull(colon);
		n = (size_t)(colon - s);
		memcpy(host, s, n);
		host[n] = '\0';
		sin->sin_family = AF_INET;
		ck_assert_int_eq(inet_pton(AF_INET, host, &sin->sin_addr), 1);
		sin->sin_port = htons((uint16_t)atoi(colon + 1));
		return sizeof(*sin);
	}
}

/* The verdict for ADDR; RULE gets the deciding rule (may be NULL). */
static enum policy_verdict decide(const struct policy *p, enum policy_dir dir,
				  const char *addr, unsigned *rule)
{
	struct sockaddr_storage ss;
	socklen_t len = make_addr(addr, &ss);

	return policy_decide(p, dir, (struct sockaddr *)&ss, len, rule);
}

#define L POLICY_LISTEN
#define C POLICY_CONNECT
#define MPTCP POLICY_MPTCP
#define TCP POLICY_TCP

/* Asserts the verdict and the deciding rule for one address. */
#define ck_decide(p, dir, addr, verdict, want_rule)                            \
	do {                                                                   \
		unsigned r_ = 999;                                             \
		enum policy_verdict v_ = decide(p, dir, addr, &r_);            \
		ck_assert_msg(v_ == (verdict) && r_ == (want_rule),            \
			      "%s %s: got %s by rule %u, want %s by rule %u",  \
			      (dir) == L ? "listen" : "connect", addr,         \
			      v_ == MPTCP ? "mptcp" : "tcp", r_,               \
			      (verdict) == MPTCP ? "mptcp" : "tcp",            \
			      (unsigned)(want_rule));                          \
	} while (0)

/* ---- the examples of issue 2 ---------------------------------------------------- */

START_TEST(example_listen_connect)
{
	struct policy *p = parse_ok("listen@:443, connect@10.0.0.0/8");

	ck_decide(p, L, "0.0.0.0:443", MPTCP, 1);
	ck_decide(p, L, "[::]:443", MPTCP, 1);
	ck_decide(p, C, "10.1.2.3:80", MPTCP, 2);
	ck_decide(p, C, "192.0.2.1:80", TCP, 0);
	ck_decide(p, L, "10.1.2.3:80", TCP, 0);
	/* and the qualifiers really keep to their side */
	ck_decide(p, C, "10.1.2.3:443", MPTCP, 2);
	ck_decide(p, C, "192.0.2.1:443", TCP, 0);
	policy_free(p);
}
END_TEST

START_TEST(example_all_but_loopback)
{
	struct policy *p = parse_ok("!127.0.0.0/8, !::1, *");

	ck_decide(p, C, "127.0.0.1:80", TCP, 1);
	ck_decide(p, C, "127.255.0.9:80", TCP, 1);
	ck_decide(p, C, "[::1]:80", TCP, 2);
	ck_decide(p, C, "[::ffff:127.0.0.1]:80", TCP, 1);
	ck_decide(p, L, "[::ffff:127.0.0.1]:80", TCP, 1);
	ck_decide(p, C, "192.0.2.1:80", MPTCP, 3);
	ck_decide(p, C, "[2001:db8::1]:80", MPTCP, 3);
	ck_decide(p, C, "[::2]:80", MPTCP, 3);
	ck_decide(p, L, "0.0.0.0:80", MPTCP, 3);
	ck_decide(p, L, "[::]:80", MPTCP, 3);
	policy_free(p);
}
END_TEST

START_TEST(example_families)
{
	struct policy *p = parse_ok("0.0.0.0/0");

	ck_decide(p, L, "0.0.0.0:80", MPTCP, 1);
	ck_decide(p, C, "192.0.2.1:1", MPTCP, 1);
	ck_decide(p, C, "255.255.255.255:65535", MPTCP, 1);
	ck_decide(p, L, "[::]:80", TCP, 0);
	ck_decide(p, C, "[2001:db8::1]:80", TCP, 0);
	policy_free(p);

	p = parse_ok(":80");
	ck_decide(p, L, "0.0.0.0:80", MPTCP, 1);
	ck_decide(p, L, "[::]:80", MPTCP, 1);
	ck_decide(p, C, "192.0.2.1:80", MPTCP, 1);
	ck_decide(p, C, "[2001:db8::1]:80", MPTCP, 1);
	ck_decide(p, C, "192.0.2.1:81", TCP, 0);
	policy_free(p);
}
END_TEST

START_TEST(example_order)
{
	struct policy *p = parse_ok("!10.1.0.0/16, 10.0.0.0/8");

	ck_decide(p, C, "10.2.0.1:80", MPTCP, 2);
	ck_decide(p, C, "10.1.2.3:80", TCP, 1);
	policy_free(p);

	p = parse_ok("10.0.0.0/8, !10.1.0.0/16");
	ck_decide(p, C, "10.2.0.1:80", MPTCP, 1);
	ck_decide(p, C, "10.1.2.3:80", MPTCP, 1);
	policy_free(p);
}
END_TEST

/* ---- empty policies and separators ---------------------------------------------- */

START_TEST(empty_matches_nothing)
{
	static const char *texts[] = { "", " ", "\t\n\r\v\f " };
	unsigned i;

	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct policy *p = parse_ok(texts[i]);

		ck_assert_uint_eq(policy_rule_count(p), 0);
		ck_assert_ptr_null(policy_rule_text(p, 1, NULL));
		ck_decide(p, L, "0.0.0.0:80", TCP, 0);
		ck_decide(p, C, "[::1]:443", TCP, 0);
		policy_free(p);
	}
}
END_TEST

static void expect_rules(const char *text, unsigned n, const char *const *want)
{
	struct policy *p = parse_ok(text);
	unsigned i;

	ck_assert_uint_eq(policy_rule_count(p), n);
	for (i = 0; i < n; i++) {
		size_t len = 0;
		const char *t = policy_rule_text(p, i + 1, &len);

		ck_assert_ptr_nonnull(t);
		ck_assert_uint_eq(len, strlen(want[i]));
		ck_assert_msg(memcmp(t, want[i], len) == 0, "rule %u of \"%s\"",
			      i + 1, text);
	}
	ck_assert_ptr_null(policy_rule_text(p, 0, NULL));
	ck_assert_ptr_null(policy_rule_text(p, n + 1, NULL));
	policy_free(p);
}

START_TEST(separators)
{
	static const char *const two[] = { "10.0.0.1", ":80" };
	static const char *const three[] = { "!::1", "listen@:443", "*" };

	expect_rules("10.0.0.1,:80", 2, two);
	expect_rules("10.0.0.1 :80", 2, two);
	expect_rules("10.0.0.1, :80", 2, two);
	expect_rules("10.0.0.1 ,:80", 2, two);
	expect_rules("  10.0.0.1\t,\n :80  ", 2, two);
	expect_rules("10.0.0.1\n:80\n", 2, two);
	expect_rules("!::1 listen@:443,*", 3, three);
	expect_rules("!::1\tlisten@:443\r\n*", 3, three);
}
END_TEST

START_TEST(empty_rules)
{
	expect_error("10.0.0.1,,:80", 2, "empty rule");
	expect_error("10.0.0.1 , , :80", 2, "empty rule");
	expect_error(",10.0.0.1", 1, "empty rule");
	expect_error(" , 10.0.0.1", 1, "empty rule");
	expect_error("10.0.0.1,", 2, "empty rule");
	expect_error("10.0.0.1 , ", 2, "empty rule");
}
END_TEST

/* ---- errors ----------------------------------------------------------------------- */

static const struct {
	const char *text;
	const char *msg;
} bad_rules[] = {
	/* prefix length */
	{ "10.0.0.0/33", "prefix length 33 exceeds 32" },
	{ "10.0.0.0/4294967296", "prefix length 4294967296 exceeds 32" },
	{ "[2001:db8::/129]", "prefix length 129 exceeds 128" },
	{ "2001:db8::/200", "prefix length 200 exceeds 128" },
	{ "[::ffff:10.0.0.0/129]", "prefix length 129 exceeds 128" },
	{ "10.0.0.0/", "missing prefix length after '/'" },
	{ "10.0.0.0/x", "bad prefix length \"x\"" },
	{ "10.0.0.0/-1", "bad prefix length \"-1\"" },
	{ "[::/]", "missing prefix length after '/'" },
	{ "[::1/64]/64", "two prefix lengths" },
	/* ports */
	{ "10.0.0.1:65536", "port 65536 exceeds 65535" },
	{ ":99999999999999999999", "port 99999999999999999999 exceeds 65535" },
	{ "[::1]:70000", "port 70000 exceeds 65535" },
	{ ":1-65536", "port 65536 exceeds 65535" },
	{ ":9000-8000", "reversed port range 9000-8000" },
	{ "10.0.0.0/8:2-1", "reversed port range 2-1" },
	{ "10.0.0.1:", "missing port after ':'" },
	{ ":", "missing port after ':'" },
	{ "10.0.0.1:http", "bad port \"http\"" },
	{ ":80-", "bad port range \"80-\"" },
	{ ":-80", "bad port range \"-80\"" },
	{ ":1-2-3", "bad port range \"1-2-3\"" },
	{ ":**", "bad port \"**\"" },
	/* qualifiers and negation */
	{ "lisen@:80", "unknown qualifier \"lisen@\" (expected listen@ or connect@)" },
	{ "LISTEN@:80", "unknown qualifier \"LISTEN@\" (expected listen@ or connect@)" },
	{ "@:80", "unknown qualifier \"@\" (expected listen@ or connect@)" },
	{ "!conect@10.0.0.1", "unknown qualifier \"conect@\" (expected listen@ or connect@)" },
	{ "listen@connect@:80", "more than one qualifier" },
	{ "listen@!10.0.0.1", "'!' goes before the qualifier" },
	{ "!!10.0.0.1", "'!' given twice" },
	{ "!", "no target after !" },
	{ "listen@", "no target after listen@" },
	{ "!connect@", "no target after connect@" },
	/* host names */
	{ "example.com:80", "host name \"example.com\" where an address is required" },
	{ "localhost", "host name \"localhost\" where an address is required" },
	{ "connect@my-host/24", "host name \"my-host\" where an address is required" },
	/* IPv4 */
	{ "10.0.0.256", "bad IPv4 address: 256 exceeds 255" },
	{ "10.0.0", "bad IPv4 address: 3 parts, expected 4" },
	{ "10.0.0.0.0", "bad IPv4 address: 5 parts, expected 4" },
	{ "80", "bad IPv4 address: 1 part, expected 4 (a port alone is written :80)" },
	{ "10..0.1", "bad IPv4 address: empty part" },
	{ "10.0.0.1.", "bad IPv4 address: empty part" },
	{ "010.0.0.1", "bad IPv4 address: leading zero in 010 (octal is not accepted)" },
	{ "10.0.0.1+", "bad address \"10.0.0.1+\"" },
	{ "/8", "missing address before \"/\"" },
	{ "10.1.2.3/8", "host bits set (the network is 10.0.0.0/8)" },
	{ "192.168.1.1/24:80", "host bits set (the network is 192.168.1.0/24)" },
	{ "0.0.0.1/0", "host bits set (the network is 0.0.0.0/0)" },
	/* IPv6 */
	{ "[::1", "missing ']' after IPv6 address" },
	{ "[::1]x", "unexpected \"x\" after ']'" },
	{ "[::1]80", "unexpected \"80\" after ']'" },
	{ "[]", "bad IPv6 address: empty" },
	{ "[10.0.0.1]", "bad IPv6 address: too few groups" },
	{ "1:2:3:4:5:6:7:8:9", "bad IPv6 address: too many groups" },
	{ "1:2:3:4:5:6:7::8", "bad IPv6 address: too many groups" },
	{ "1:2:3:4:5:6:7", "bad IPv6 address: too few groups" },
	{ "1::2::3", "bad IPv6 address: more than one '::'" },
	{ "[:::1]", "bad IPv6 address: more than one '::'" },
	{ "[:1::]", "bad IPv6 address: starts with a single ':'" },
	{ "[1::2:]", "bad IPv6 address: ends with a single ':'" },
	{ "12345::", "bad IPv6 address: a group has more than 4 hex digits" },
	{ "fe80::1%eth0", "bad IPv6 address: zone indices (%...) are not supported" },
	{ "2001:db8::g", "bad IPv6 address: unexpected \"g\"" },
	{ "[::ffff:1.2.3.256]", "bad IPv4 address: 256 exceeds 255" },
	{ "[::ffff:1.2.3.x]", "bad IPv4 address: \"x\" is not a decimal number" },
	{ "[1::2x]", "bad IPv6 address: unexpected \"x\"" },
	{ "[::1]/x", "bad prefix length \"x\"" },
	{ "[::1]/129:80", "prefix length 129 exceeds 128" },
	{ "1:2:3:4:5:6:7:1.2.3.4", "bad IPv6 address: too many groups" },
	{ "2001:db8::/32:443",
	  "an IPv6 address with a port needs brackets, as in [2001:db8::/32]:443" },
	{ "[2001:db8::1/32]", "host bits set (the network is 2001:db8::/32)" },
	{ "[::ffff:10.1.0.0/104]", "host bits set (the network is ::ffff:10.0.0.0/104)" },
	/* '*' */
	{ "*/8", "* takes no prefix length" },
	{ "*/0", "* takes no prefix length" },
	{ "*:80", "* takes no port (for any address write :80)" },
	{ "**", "bad address \"**\"" },
	/* user text in messages is escaped */
	{ "lis\"en@:1", "unknown qualifier \"lis\\x22en@\" (expected listen@ or connect@)" },
	{ "10.0.0.1:8\x01", "bad port \"8\\x01\"" },
};

START_TEST(bad_rule)
{
	char text[256];

	/* alone, then as the third rule of a valid policy */
	expect_error(bad_rules[_i].text, 1, bad_rules[_i].msg);
	snprintf(text, sizeof(text), "10.0.0.1, listen@:443 %s *",
		 bad_rules[_i].text);
	expect_error(text, 3, bad_rules[_i].msg);
}
END_TEST

START_TEST(error_line_format)
{
	struct policy *p = NULL;
	struct errs e = { 0 };

	ck_assert_int_eq(policy_parse("::1, 10.0.0.0/33", &p, collect, &e), -EINVAL);
	ck_assert_ptr_null(p);
	ck_assert_uint_eq(e.n, 1);
	ck_assert_str_eq(e.line[0], "mptcpify: MPTCPIFY_ADDRS rule 2 \"10.0.0.0/33\": "
				    "prefix length 33 exceeds 32");
	ck_assert_str_eq(e.text[0], "10.0.0.0/33");
}
END_TEST

START_TEST(error_line_truncates_and_escapes)
{
	struct policy_error err = { .rule = 12, .text = "a\x1b[31m\"b", .text_len = 8,
				    .msg = "bad" };
	char buf[128];
	size_t n;

	n = policy_error_format(&err, "MPTCPIFY_X", buf, sizeof(buf));
	ck_assert_str_eq(buf, "mptcpify: MPTCPIFY_X rule 12 \"a\\x1b[31m\\x22b\": bad");
	ck_assert_uint_eq(n, strlen(buf));

	memset(buf, 'z', sizeof(buf));
	n = policy_error_format(&err, "MPTCPIFY_X", buf, 10);
	ck_assert_uint_eq(n, 9);
	ck_assert_str_eq(buf, "mptcpify:");
	ck_assert_int_eq(buf[10], 'z');
	n = policy_error_format(&err, "MPTCPIFY_X", buf, 1);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(buf[0], '\0');
	buf[0] = 'z';
	n = policy_error_format(&err, "MPTCPIFY_X", buf, 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(buf[0], 'z');
}
END_TEST

START_TEST(several_errors)
{
	struct policy *p = NULL;
	struct errs e = { 0 };
	int ret = policy_parse("10.0.0.0/33 ::1 lisen@:1,,:2 example.com:80 :70000-1 *",
			       &p, collect, &e);

	ck_assert_int_eq(ret, -EINVAL);
	ck_assert_ptr_null(p);
	ck_assert_uint_eq(e.n, 5);
	ck_assert_uint_eq(e.rule[0], 1);
	ck_assert_str_eq(e.text[0], "10.0.0.0/33");
	ck_assert_uint_eq(e.rule[1], 3);
	ck_assert_str_eq(e.text[1], "lisen@:1");
	ck_assert_uint_eq(e.rule[2], 4);
	ck_assert_str_eq(e.text[2], "");
	ck_assert_str_eq(e.line[2], "mptcpify: MPTCPIFY_ADDRS rule 4 \"\": empty rule");
	ck_assert_uint_eq(e.rule[3], 6);
	ck_assert_str_eq(e.text[3], "example.com:80");
	ck_assert_uint_eq(e.rule[4], 7);
	ck_assert_str_eq(e.msg[4], "port 70000 exceeds 65535");
}
END_TEST

START_TEST(oversized_text)
{
	/* more than 16 MiB is refused before anything is parsed */
	size_t n = (16u << 20) + 1;
	char *text = malloc(n + 1);
	struct policy *p = NULL;

	ck_assert_ptr_nonnull(text);
	memset(text, ' ', n);
	text[n] = '\0';
	ck_assert_int_eq(policy_parse(text, &p, NULL, NULL), -ENOMEM);
	ck_assert_ptr_null(p);
	text[n - 1] = '\0';
	ck_assert_int_eq(policy_parse(text, &p, NULL, NULL), 0);
	ck_assert_uint_eq(policy_rule_count(p), 0);
	policy_free(p);
	free(text);
}
END_TEST

START_TEST(null_arguments)
{
	struct policy *p = NULL;

	ck_assert_int_eq(policy_parse(NULL, &p, NULL, NULL), -EINVAL);
	ck_assert_int_eq(policy_parse("*", NULL, NULL, NULL), -EINVAL);
	/* no callback: still rejected */
	ck_assert_int_eq(policy_parse("10.0.0.0/33", &p, NULL, NULL), -EINVAL);
	ck_assert_ptr_null(p);
	policy_free(NULL);
	ck_assert_uint_eq(policy_rule_count(NULL), 0);
	ck_assert_uint_eq(policy_error_format(NULL, "X", (char[8]){ 0 }, 8), 0);
	ck_assert_ptr_null(policy_rule_text(NULL, 1, NULL));
}
END_TEST

/* ---- accepted forms and matching --------------------------------------------------- */

START_TEST(accepted_forms)
{
	static const char *const ok[] = {
		"*", "!*", "listen@*", "connect@*", "!listen@*",
		"10.0.0.1", "10.0.0.0/8", "10.0.0.0/8:80", "10.0.0.1:0-65535",
		"10.0.0.1:*", "0.0.0.0/0", "255.255.255.255/32", "0.0.0.0",
		"::", "::/0", "::1", "::1/128", "2001:db8::/32", "[2001:db8::/32]:443",
		"[2001:db8::]/32:443", "[2001:db8::]/32", "[::1]", "[::1]:*",
		"1:2:3:4:5:6:7:8", "1:2:3:4:5:6:1.2.3.4", "::ffff:1.2.3.4",
		"[::ffff:10.0.0.0/104]", "[::ffff:0:0/96]:80", "::1.2.3.4",
		"ABCD:EF01::", "1::", "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8",
		":0", ":65535", ":0-0", ":1-1", ":0-65535", ":*", ":080",
		"10.0.0.0/08", "connect@10.0.0.0/8:8000-8999",
	};
	unsigned i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct policy *p = parse_ok(ok[i]);

		ck_assert_uint_eq(policy_rule_count(p), 1);
		policy_free(p);
	}
}
END_TEST

START_TEST(port_matching)
{
	struct policy *p = parse_ok("10.0.0.1:0, 10.0.0.1:65535, 10.0.0.2:8000-8999, "
				    "[::1]:0, [::1]:65535, !:1000-1999, :1000-2999");

	ck_decide(p, C, "10.0.0.1:0", MPTCP, 1);
	ck_decide(p, C, "10.0.0.1:65535", MPTCP, 2);
	ck_decide(p, C, "10.0.0.1:1", TCP, 0);
	ck_decide(p, C, "10.0.0.1:65534", TCP, 0);
	ck_decide(p, C, "10.0.0.2:7999", TCP, 0);
	ck_decide(p, C, "10.0.0.2:8000", MPTCP, 3);
	ck_decide(p, C, "10.0.0.2:8500", MPTCP, 3);
	ck_decide(p, C, "10.0.0.2:8999", MPTCP, 3);
	ck_decide(p, C, "10.0.0.2:9000", TCP, 0);
	ck_decide(p, L, "[::1]:0", MPTCP, 4);
	ck_decide(p, L, "[::1]:65535", MPTCP, 5);
	ck_decide(p, L, "[::1]:999", TCP, 0);
	ck_decide(p, L, "[::1]:1000", TCP, 6);
	ck_decide(p, L, "[::1]:1999", TCP, 6);
	ck_decide(p, L, "[::1]:2000", MPTCP, 7);
	ck_decide(p, C, "192.0.2.1:2999", MPTCP, 7);
	ck_decide(p, C, "192.0.2.1:3000", TCP, 0);
	policy_free(p);

	p = parse_ok("10.0.0.1:*, :*");
	ck_decide(p, C, "10.0.0.1:0", MPTCP, 1);
	ck_decide(p, C, "10.0.0.1:65535", MPTCP, 1);
	ck_decide(p, C, "10.0.0.2:65535", MPTCP, 2);
	policy_free(p);
}
END_TEST

START_TEST(both_families)
{
	struct policy *p = parse_ok("2001:db8::/32, [2001:db8:1::/48]:443, 192.0.2.0/24, "
				    "[fe80::/10]:22, ::/0");

	ck_decide(p, C, "[2001:db8::1]:80", MPTCP, 1);
	ck_decide(p, C, "[2001:db8:ffff:ffff:ffff:ffff:ffff:ffff]:80", MPTCP, 1);
	ck_decide(p, C, "[2001:db9::]:80", MPTCP, 5);
	ck_decide(p, C, "192.0.2.255:80", MPTCP, 3);
	ck_decide(p, C, "192.0.3.0:80", TCP, 0);
	ck_decide(p, C, "[fe80::1]:22", MPTCP, 4);
	ck_decide(p, C, "[febf::1]:22", MPTCP, 4);
	ck_decide(p, C, "[fec0::1]:22", MPTCP, 5);
	/* ::/0 is IPv6 only: mapped addresses are IPv4 */
	ck_decide(p, C, "[::ffff:198.51.100.1]:80", TCP, 0);
	ck_decide(p, C, "[::ffff:192.0.2.1]:80", MPTCP, 3);
	ck_decide(p, C, "[::]:80", MPTCP, 5);
	policy_free(p);
}
END_TEST

START_TEST(mapped_rules)
{
	struct policy *p = parse_ok("[::ffff:10.0.0.0/104], ::ffff:192.0.2.1, "
				    "[::ffff:0:0/96]:80");

	ck_decide(p, C, "10.9.8.7:1", MPTCP, 1);
	ck_decide(p, C, "[::ffff:10.9.8.7]:1", MPTCP, 1);
	ck_decide(p, C, "192.0.2.1:1", MPTCP, 2);
	ck_decide(p, C, "192.0.2.2:1", TCP, 0);
	ck_decide(p, C, "192.0.2.2:80", MPTCP, 3);
	ck_decide(p, C, "[::ffff:192.0.2.2]:80", MPTCP, 3);
	ck_decide(p, C, "[2001:db8::1]:80", TCP, 0);
	/* an IPv4-compatible (deprecated) address is not mapped */
	ck_decide(p, C, "[::10.9.8.7]:1", TCP, 0);
	policy_free(p);
}
END_TEST

START_TEST(qualifiers_and_negation)
{
	struct policy *p = parse_ok("!listen@10.0.0.1, connect@10.0.0.0/8:22, "
				    "!connect@10.0.0.0/8, listen@10.0.0.0/8, "
				    "!:22, 10.0.0.0/8");

	ck_decide(p, L, "10.0.0.1:80", TCP, 1);
	ck_decide(p, C, "10.0.0.1:80", TCP, 3);
	ck_decide(p, C, "10.0.0.1:22", MPTCP, 2);
	ck_decide(p, L, "10.0.0.1:22", TCP, 1);
	ck_decide(p, L, "10.0.0.2:22", MPTCP, 4);
	ck_decide(p, C, "10.0.0.2:23", TCP, 3);
	ck_decide(p, L, "11.0.0.2:22", TCP, 5);
	ck_decide(p, L, "11.0.0.2:23", TCP, 0);
	policy_free(p);

	/* an unknown direction, another family, a short length: TCP, rule 0 */
	p = parse_ok("*");
	{
		struct sockaddr_storage ss;
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		socklen_t len = make_addr("[::1]:80", &ss);
		unsigned r = 7;

		ck_assert_int_eq(policy_decide(p, (enum policy_dir)3,
					       (struct sockaddr *)&ss, len, &r), TCP);
		ck_assert_uint_eq(r, 0);
		r = 7;
		ck_assert_int_eq(policy_decide(p, C, (struct sockaddr *)&sun,
					       sizeof(sun), &r), TCP);
		ck_assert_uint_eq(r, 0);
		r = 7;
		ck_assert_int_eq(policy_decide(p, C, (struct sockaddr *)&ss, 23, &r), TCP);
		ck_assert_uint_eq(r, 0);
		/* the RFC 2133 sockaddr_in6, without sin6_scope_id, is enough */
		ck_assert_int_eq(policy_decide(p, C, (struct sockaddr *)&ss, 24, &r), MPTCP);
		ck_assert_uint_eq(r, 1);
		len = make_addr("10.0.0.1:80", &ss);
		r = 7;
		ck_assert_int_eq(policy_decide(p, C, (struct sockaddr *)&ss, len - 1, &r), TCP);
		ck_assert_uint_eq(r, 0);
		ck_assert_int_eq(policy_decide(p, C, (struct sockaddr *)&ss, len, NULL), MPTCP);
		ck_assert_int_eq(policy_decide(NULL, C, (struct sockaddr *)&ss, len, &r), TCP);
		ck_assert_uint_eq(r, 0);
		ck_assert_int_eq(policy_decide(p, C, NULL, len, &r), TCP);
	}
	policy_free(p);
}
END_TEST

START_TEST(nested_prefixes)
{
	char text[8192];
	size_t n = 0;
	unsigned len;
	struct policy *p;

	/* /128 down to /0, all of them holding 2001:db8::1 and ports: the walk
	 * meets a rule on every level and must keep the earliest */
	for (len = 128; len + 1 > 0; len--) {
		char addr[64];
		struct in6_addr a;
		unsigned i;

		inet_pton(AF_INET6, "2001:db8::1", &a);
		for (i = len; i < 128; i++)
			a.s6_addr[i / 8] &= (unsigned char)~(0x80u >> (i % 8));
		inet_ntop(AF_INET6, &a, addr, sizeof(addr));
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%s[%s/%u]:%u ",
				      len % 2 ? "!" : "", addr, len, 1000 + len);
		if (len == 0)
			break;
	}
	p = parse_ok(text);
	ck_assert_uint_eq(policy_rule_count(p), 129);
	ck_decide(p, C, "[2001:db8::1]:1128", MPTCP, 1);
	ck_decide(p, C, "[2001:db8::1]:1127", TCP, 2);
	ck_decide(p, C, "[2001:db8::1]:1000", MPTCP, 129);
	ck_decide(p, C, "[2001:db8::1]:1064", MPTCP, 65);
	ck_decide(p, C, "[2001:db8::1]:1001", TCP, 128);
	ck_decide(p, C, "[2001:db8::]:1001", TCP, 128);
	ck_decide(p, C, "[2001:db8::]:1127", TCP, 2);
	ck_decide(p, C, "[2001:db8::2]:1127", TCP, 0);
	ck_decide(p, C, "[2001:db8::2]:1126", MPTCP, 3);
	ck_decide(p, C, "[8000::]:1001", TCP, 0);
	ck_decide(p, C, "[8000::]:1000", MPTCP, 129);
	policy_free(p);
}
END_TEST

START_TEST(many_ports_on_one_prefix)
{
	static char text[10000 * 24];
	size_t n = 0;
	unsigned i;
	struct policy *p;

	/* rule i: 10.0.0.0/8 with ports [i*5, i*5+20] for i < 10000, odd ones
	 * negated; the earliest covering rule must win */
	for (i = 0; i < 10000; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%s10.0.0.0/8:%u-%u ",
				      i % 2 ? "!" : "", i * 5 % 65536,
				      (i * 5 + 20) > 65535 ? 65535 : (i * 5 + 20) % 65536);
	p = parse_ok(text);
	ck_assert_uint_eq(policy_rule_count(p), 10000);
	for (i = 0; i < 65536; i += 7) {
		unsigned want = 0, k, r = 0;
		char addr[32];
		enum policy_verdict v;

		for (k = 0; k < 10000; k++) {
			unsigned lo = k * 5 % 65536;
			unsigned hi = (k * 5 + 20) > 65535 ? 65535 : (k * 5 + 20) % 65536;

			if (lo <= hi && i >= lo && i <= hi) {
				want = k + 1;
				break;
			}
		}
		snprintf(addr, sizeof(addr), "10.1.2.3:%u", i);
		v = decide(p, C, addr, &r);
		ck_assert_uint_eq(r, want);
		ck_assert_int_eq(v, want && want % 2 ? MPTCP : TCP);
	}
	policy_free(p);
}
END_TEST

/* ---- a large random policy against a naive matcher --------------------------------- */

struct ref_rule {
	int fam; /* 4, 6, or 0 for both ('*' and ':PORTS') */
	uint8_t addr[16];
	unsigned plen;
	unsigned lo, hi;
	unsigned dirs; /* 1 listen, 2 connect */
	bool neg;
};

static uint64_t rng_state;

static uint32_t rnd(void)
{
	/* xorshift64*: reproducible from the seed printed on failure */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * UINT64_C(2685821657736338717)) >> 32);
}

static void mask_bits(uint8_t *a, unsigned nbytes, unsigned plen)
{
	unsigned i;

	for (i = plen; i < nbytes * 8; i++)
		a[i / 8] &= (uint8_t)~(0x80u >> (i % 8));
}

static bool prefix_holds(const uint8_t *net, const uint8_t *a, unsigned plen)
{
	unsigned i;

	for (i = 0; i < plen; i++)
		if (((net[i / 8] ^ a[i / 8]) >> (7 - i % 8)) & 1)
			return false;
	return true;
}

/* The obvious reading of the language: the first rule that applies wins. */
static unsigned ref_decide(const struct ref_rule *rules, unsigned n, unsigned dir,
			   int fam, const uint8_t *a, unsigned port)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		const struct ref_rule *r = &rules[i];

		if (!(r->dirs & dir) || port < r->lo || port > r->hi)
			continue;
		if (r->fam && (r->fam != fam || !prefix_holds(r->addr, a, r->plen)))
			continue;
		return i + 1;
	}
	return 0;
}

static const unsigned port_pool[] = { 0, 22, 80, 443, 8080, 65535, 1000, 1001 };

static unsigned random_port(void)
{
	return rnd() % 4 ? port_pool[rnd() % 8] : rnd() % 65536;
}

/* Writes rule R as text into BUF, choosing among equivalent spellings. */
static int write_rule(const struct ref_rule *r, char *buf, size_t size)
{
	static const char *const quals[] = { "", "listen@", "connect@" };
	char addr[INET6_ADDRSTRLEN], ports[16] = "";
	bool mapped = false;

	if (r->lo != 0 || r->hi != 65535 || (r->fam && rnd() % 8 == 0)) {
		if (r->lo == 0 && r->hi == 65535)
			snprintf(ports, sizeof(ports), ":*");
		else if (r->lo == r->hi && rnd() % 2)
			snprintf(ports, sizeof(ports), ":%u", r->lo);
		else
			snprintf(ports, sizeof(ports), ":%u-%u", r->lo, r->hi);
	}
	const char *q = quals[r->dirs == 3 ? 0 : r->dirs];
	const char *neg = r->neg ? "!" : "";

	if (r->fam == 0)
		return snprintf(buf, size, "%s%s%s", neg, q, ports[0] ? ports : "*");
	if (r->fam == 4 && rnd() % 4 == 0)
		mapped = true;
	if (r->fam == 4 && !mapped) {
		inet_ntop(AF_INET, r->addr, addr, sizeof(addr));
		return snprintf(buf, size, "%s%s%s/%u%s", neg, q, addr, r->plen, ports);
	}
	if (mapped) {
		uint8_t m[16] = { 0 };

		m[10] = m[11] = 0xff;
		memcpy(m + 12, r->addr, 4);
		inet_ntop(AF_INET6, m, addr, sizeof(addr));
		return snprintf(buf, size, "%s%s[%s/%u]%s", neg, q, addr, r->plen + 96, ports);
	}
	inet_ntop(AF_INET6, r->addr, addr, sizeof(addr));
	if (!ports[0] && rnd() % 2)
		return snprintf(buf, size, "%s%s%s/%u", neg, q, addr, r->plen);
	return snprintf(buf, size, "%s%s[%s/%u]%s", neg, q, addr, r->plen, ports);
}

/* Bases that rules and probes cluster around, so that rules overlap. */
static uint8_t base4[64][4], base6[64][16];

/* A random rule; NARROW asks for a specific one (a long prefix, no rule for
 * any address), as the early rules of a long list usually are. */
static void random_rule(struct ref_rule *r, bool with_star, bool narrow)
{
	unsigned kind = narrow ? 8 + rnd() % 92 : rnd() % 100;

	memset(r, 0, sizeof(*r));
	r->dirs = rnd() % 3 + 1;
	r->neg = rnd() % 3 == 0;
	r->lo = 0;
	r->hi = 65535;
	if (rnd() % 3 == 0) {
		r->lo = random_port();
		r->hi = rnd() % 2 ? r->lo : r->lo + rnd() % (65536 - r->lo);
	}
	if (kind < (with_star ? 3u : 0u)) {
		r->fam = 0;
		r->lo = 0;
		r->hi = 65535;
	} else if (kind < 8) {
		r->fam = 0;
		if (r->lo == 0 && r->hi == 65535)
			r->lo = r->hi = random_port();
	} else if (kind < 54) {
		r->fam = 4;
		memcpy(r->addr, base4[rnd() % 64], 4);
		r->plen = rnd() % 4 ? 8 + rnd() % 25 : rnd() % 33;
		if (narrow)
			r->plen = 20 + rnd() % 13;
		mask_bits(r->addr, 4, r->plen);
	} else {
		r->fam = 6;
		memcpy(r->addr, base6[rnd() % 64], 16);
		r->plen = rnd() % 4 ? 16 + rnd() % 113 : rnd() % 129;
		if (narrow)
			r->plen = 48 + rnd() % 81;
		mask_bits(r->addr, 16, r->plen);
	}
}

/* An address near a base (or anywhere), as a sockaddr and as the
 * reference sees it (family 4 or 6, bytes). */
static socklen_t random_probe(struct sockaddr_storage *ss, int *fam, uint8_t *a,
			      unsigned *port)
{
	unsigned keep, i;

	memset(ss, 0, sizeof(*ss));
	*port = random_port();
	if (rnd() % 2) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		*fam = 4;
		memcpy(a, base4[rnd() % 64], 4);
		keep = rnd() % 33;
		for (i = keep; i < 32; i++)
			if (rnd() % 2)
				a[i / 8] ^= (uint8_t)(0x80u >> (i % 8));
		if (rnd() % 4 == 0) {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

			sin6->sin6_family = AF_INET6;
			sin6->sin6_addr.s6_addr[10] = sin6->sin6_addr.s6_addr[11] = 0xff;
			memcpy(sin6->sin6_addr.s6_addr + 12, a, 4);
			sin6->sin6_port = htons((uint16_t)*port);
			return sizeof(*sin6);
		}
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, a, 4);
		sin->sin_port = htons((uint16_t)*port);
		return sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		*fam = 6;
		memcpy(a, base6[rnd() % 64], 16);
		keep = rnd() % 129;
		for (i = keep; i < 128; i++)
			if (rnd() % 2)
				a[i / 8] ^= (uint8_t)(0x80u >> (i % 8));
		/* keep it out of the mapped range: those are IPv4 probes */
		if (a[0] == 0)
			a[0] = 0x20;
		sin6->sin6_family = AF_INET6;
		memcpy(sin6->sin6_addr.s6_addr, a, 16);
		sin6->sin6_port = htons((uint16_t)*port);
		return sizeof(*sin6);
	}
}

static void random_policy_check(uint64_t seed, unsigned nrules, unsigned nprobes,
				bool with_star)
{
	struct ref_rule *rules = calloc(nrules, sizeof(*rules));
	size_t size = (size_t)nrules * 80 + 1, n = 0;
	char *text = malloc(size);
	struct policy *p;
	unsigned i, j, hits = 0, deep = 0;

	ck_assert_ptr_nonnull(rules);
	ck_assert_ptr_nonnull(text);
	rng_state = seed;
	for (i = 0; i < 64; i++) {
		for (j = 0; j < 4; j++)
			base4[i][j] = (uint8_t)rnd();
		for (j = 0; j < 16; j++)
			base6[i][j] = (uint8_t)rnd();
		base6[i][0] |= 0x20;
	}
	text[0] = '\0';
	for (i = 0; i < nrules; i++) {
		random_rule(&rules[i], with_star, nrules > 100 && i < nrules - 30);
		if (i)
			n += (size_t)snprintf(text + n, size - n, "%s",
					      rnd() % 2 ? ", " : rnd() % 2 ? "\n" : " ");
		n += (size_t)write_rule(&rules[i], text + n, size - n);
		ck_assert_uint_lt(n, size);
	}
	p = parse_ok(text);
	ck_assert_uint_eq(policy_rule_count(p), nrules);
	for (i = 0; i < nprobes; i++) {
		struct sockaddr_storage ss;
		uint8_t a[16];
		int fam;
		unsigned port, dir = rnd() % 2 + 1, want, got = 999;
		socklen_t len = random_probe(&ss, &fam, a, &port);
		enum policy_verdict v;

		want = ref_decide(rules, nrules, dir, fam, a, port);
		v = policy_decide(p, (enum policy_dir)dir, (struct sockaddr *)&ss, len, &got);
		ck_assert_msg(got == want, "seed %llu probe %u: rule %u, want %u",
			      (unsigned long long)seed, i, got, want);
		ck_assert_int_eq(v, want && !rules[want - 1].neg ? MPTCP : TCP);
		hits += want != 0;
		deep += want > nrules / 4;
	}
	/* the probes must exercise both outcomes and rules deep in the list,
	 * or this test would prove little */
	if (nprobes >= 1000) {
		fprintf(stderr, "seed %llu: %u of %u probes matched, %u after rule %u\n",
			(unsigned long long)seed, hits, nprobes, deep, nrules / 4);
		ck_assert_uint_gt(hits, nprobes / 10);
		ck_assert_uint_lt(hits, nprobes - nprobes / 10);
		ck_assert_uint_gt(deep, nprobes / 50);
	}
	policy_free(p);
	free(text);
	free(rules);
}

START_TEST(random_small_policies)
{
	uint64_t seed;

	for (seed = 1; seed <= 200; seed++)
		random_policy_check(seed * 7919, 1 + (unsigned)(seed % 40), 500, seed % 3 == 0);
}
END_TEST

START_TEST(random_large_policy)
{
	random_policy_check(20261126, 10000, 20000, false);
	random_policy_check(42, 10000, 5000, true);
}
END_TEST

/* ---- suite ------------------------------------------------------------------------ */

static Suite *policy_suite(void)
{
	Suite *s = suite_create("policy");
	TCase *tc;

	tc = tcase_create("issue examples");
	tcase_add_test(tc, example_listen_connect);
	tcase_add_test(tc, example_all_but_loopback);
	tcase_add_test(tc, example_families);
	tcase_add_test(tc, example_order);
	suite_add_tcase(s, tc);

	tc = tcase_create("separators and empty policies");
	tcase_add_test(tc, empty_matches_nothing);
	tcase_add_test(tc, separators);
	tcase_add_test(tc, empty_rules);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_loop_test(tc, bad_rule, 0, sizeof(bad_rules) / sizeof(bad_rules[0]));
	tcase_add_test(tc, error_line_format);
	tcase_add_test(tc, error_line_truncates_and_escapes);
	tcase_add_test(tc, several_errors);
	tcase_add_test(tc, null_arguments);
	tcase_add_test(tc, oversized_text);
	suite_add_tcase(s, tc);

	tc = tcase_create("matching");
	tcase_add_test(tc, accepted_forms);
	tcase_add_test(tc, port_matching);
	tcase_add_test(tc, both_families);
	tcase_add_test(tc, mapped_rules);
	tcase_add_test(tc, qualifiers_and_negation);
	tcase_add_test(tc, nested_prefixes);
	tcase_add_test(tc, many_ports_on_one_prefix);
	suite_add_tcase(s, tc);

	tc = tcase_create("random policies against a naive matcher");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, random_small_policies);
	tcase_add_test(tc, random_large_policy);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(policy_suite());
}
