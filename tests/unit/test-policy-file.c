/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-policy-file.c - policies from files and their compiled images
 * (lib/policy-file.c, lib/policy-image.c) and the load at the first socket
 * (lib/policy-lazy.c): comments and positions, every way a file can be
 * unusable, images decided exactly as the parsed file, never used when the
 * file changed or cannot be trusted, damaged images read safely; the lazy
 * load once per process, with threads, re-entry, fork and errno. */
#include "test-common.h"
#include "../../lib/log.h"

#include "mptcpify/policy.h"
#include "lib/policy-int.h"
#include "lib/policy-lazy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- helpers ---------------------------------------------------------------- */

static char dir[64];

static void make_dir(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test-policy-file.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void remove_dir(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* DIR/NAME, in a static buffer (one of four, for a few at once). */
static const char *path_of(const char *name)
{
	static char bufs[4][256];
	static unsigned k;
	char *b = bufs[k++ % 4];

	snprintf(b, sizeof(bufs[0]), "%s/%s", dir, name);
	return b;
}

static const char *at(const char *name)
{
	static char b[260];

	snprintf(b, sizeof(b), "@%s", path_of(name));
	return b;
}

static void write_text(const char *name, const char *text)
{
	FILE *f = fopen(path_of(name), "w");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(fputs(text, f), 0);
	ck_assert_int_eq(fclose(f), 0);
}

#define MAX_ERRS 32

struct errs {
	unsigned n;
	struct {
		unsigned rule, line, column;
		char text[128], line_text[512];
		bool has_file;
	} e[MAX_ERRS];
};

static void collect(void *ctx, const struct policy_error *pe)
{
	struct errs *c = ctx;

	ck_assert_uint_lt(c->n, MAX_ERRS);
	c->e[c->n].rule = pe->rule;
	c->e[c->n].line = pe->line;
	c->e[c->n].column = pe->column;
	c->e[c->n].has_file = pe->file != NULL;
	snprintf(c->e[c->n].text, sizeof(c->e[0].text), "%.*s", (int)pe->text_len,
		 pe->text ? pe->text : "");
	policy_error_format(pe, "MPTCPIFY_ADDRS", c->e[c->n].line_text,
			    sizeof(c->e[0].line_text));
	c->n++;
}

static struct policy *load_ok(const char *setting, unsigned flags)
{
	struct policy *p = NULL;
	struct errs e = { 0 };
	int rc = policy_load(setting, &p, collect, &e, flags);

	ck_assert_msg(rc == 0, "%s rejected: %s", setting, e.n ? e.e[0].line_text : "?");
	ck_assert_uint_eq(e.n, 0);
	return p;
}

/* Loads SETTING expecting one error with rule 0 whose line is WANT. */
static void expect_file_error(const char *setting, const char *want)
{
	struct policy *p = NULL;
	struct errs e = { 0 };
	int rc = policy_load(setting, &p, collect, &e, 0);

	ck_assert_int_eq(rc, -EINVAL);
	ck_assert_ptr_null(p);
	ck_assert_uint_eq(e.n, 1);
	ck_assert_uint_eq(e.e[0].rule, 0);
	ck_assert_str_eq(e.e[0].line_text, want);
}

static socklen_t addr(const char *text, unsigned port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(text, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, text, &s6->sin6_addr) != 1)
			ck_abort_msg("bad address %s", text);
		return sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, text, &s4->sin_addr) != 1)
			ck_abort_msg("bad address %s", text);
		return sizeof(*s4);
	}
}

/* The deciding rule (0: none) and verdict for an address. */
static unsigned decide(const struct policy *p, enum policy_dir d, const char *a,
		       unsigned port, enum policy_verdict *v)
{
	struct sockaddr_storage ss;
	socklen_t len = addr(a, port, &ss);
	unsigned rule = 99999;

	*v = policy_decide(p, d, (struct sockaddr *)&ss, len, &rule);
	return rule;
}

static uint64_t rng = 88172645463325252u;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

/* N random rules, 1-3 per line with comments; returns a malloc'd string. */
static char *random_file(unsigned n)
{
	size_t size = (size_t)n * 80 + 64, len = 0;
	char *t = malloc(size);
	unsigned i;

	ck_assert_ptr_nonnull(t);
	len += (size_t)snprintf(t, size, "# random\n");
	for (i = 0; i < n; i++) {
		const char *neg = rnd() % 4 ? "" : "!";
		const char *q = rnd() % 6 == 0 ? "listen@" : rnd() % 6 == 0 ? "connect@" : "";
		char ports[20] = "";

		if (rnd() % 5 == 0) {
			unsigned lo = rnd() % 65536;

			snprintf(ports, sizeof(ports), ":%u-%u", lo, lo + rnd() % (65536 - lo));
		}
		if (rnd() % 3) {
			unsigned plen = 4 + rnd() % 29;
			uint32_t a = rnd() << 8 ^ rnd();

			a &= plen == 32 ? ~0u : ~(~0u >> plen);
			len += (size_t)snprintf(t + len, size - len, "%s%s%u.%u.%u.%u/%u%s", neg, q,
						a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255,
						plen, ports);
		} else {
			unsigned plen = 8 + rnd() % 25;
			uint32_t g = (rnd() << 16 | (rnd() & 0xffff)) & ~(~0u >> plen);

			len += (size_t)snprintf(t + len, size - len, "%s%s[%x:%x::/%u]%s", neg, q,
						g >> 16, g & 0xffff, plen, ports);
		}
		len += (size_t)snprintf(t + len, size - len, "%s",
					i + 1 == n ? "\n" :
					rnd() % 3 == 0 ? "  # c\n" : rnd() % 2 ? "\n" : ", ");
	}
	return t;
}

/* TEXT with its comments blanked: the same rules as a string. */
static void strip_comments(char *text)
{
	for (char *c = text; (c = strchr(c, '#'));)
		while (*c && *c != '\n')
			*c++ = ' ';
}

/* Do P and Q decide 4,000 random addresses alike (rule and verdict)? */
static void same_decisions(const struct policy *p, const struct policy *q)
{
	unsigned i;

	for (i = 0; i < 4000; i++) {
		char text[64];
		enum policy_verdict v1, v2;
		enum policy_dir d = rnd() % 2 ? POLICY_LISTEN : POLICY_CONNECT;
		unsigned port = rnd() % 65536, r1, r2;

		if (rnd() % 3) {
			uint32_t a = rnd() << 8 ^ rnd();

			snprintf(text, sizeof(text), "%u.%u.%u.%u", a >> 24, (a >> 16) & 255,
				 (a >> 8) & 255, a & 255);
		} else {
			snprintf(text, sizeof(text), "%x:%x::%x", rnd() & 0xffff, rnd() & 0xffff,
				 rnd() & 0xffff);
		}
		r1 = decide(p, d, text, port, &v1);
		r2 = decide(q, d, text, port, &v2);
		/* not ck_assert: Check logs every assertion, which is slow */
		if (r1 != r2 || v1 != v2)
			ck_abort_msg("%s:%u: rule %u/%u", text, port, r1, r2);
	}
}

static void age_file(const char *name)
{
	/* an image is racy (hash checked) when the file changed within
	 * IMG_RACY_SECONDS of being read: these tests want it not to be */
	struct stat st;
	time_t now;

	ck_assert_int_eq(stat(path_of(name), &st), 0);
	now = time(NULL);
	if (st.st_ctime + IMG_RACY_SECONDS + 1 >= now)
		sleep((unsigned)(st.st_ctime + IMG_RACY_SECONDS + 2 - now));
}

static char *read_image(const char *name, size_t *size);
static void write_image(const char *name, const char *buf, size_t size);

/* Clears the racy mark of NAME's image: what waiting IMG_RACY_SECONDS and
 * running mptcpify-run again would do, without the wait. Then only the
 * file's identity binds the image. */
static void unrace(const char *name)
{
	char img[300];
	size_t size;
	char *buf;

	snprintf(img, sizeof(img), "%s" POLICY_IMAGE_SUFFIX, name);
	buf = read_image(img, &size);
	((struct img_header *)buf)->flags &= ~IMG_RACY;
	write_image(img, buf, size);
	free(buf);
	/* and a tick of the clock that stamps files (coarse: a few ms on
	 * the file systems /tmp has), so that a change made now shows */
	usleep(30 * 1000);
}

/* Loads NAME parsed, writes its image, and returns the parsed policy. */
static struct policy *compile(const char *name)
{
	struct policy *p = load_ok(at(name), POLICY_LOAD_PARSE);

	ck_assert_int_eq(policy_origin(p), POLICY_FROM_FILE);
	ck_assert_int_eq(policy_image_write(p, path_of(name)), 0);
	return p;
}

/* ---- the file format --------------------------------------------------------- */

START_TEST(file_rules_comments_positions)
{
	struct policy *p, *q;
	enum policy_verdict v;
	size_t len;

	make_dir();
	write_text("a", "# networks\n"
			"!10.1.0.0/16, 10.0.0.0/8 # not the lab\r\n"
			"\n"
			"   listen@:443,connect@[2001:db8::/32]:8000-8999\n"
			"# ::1 is not a rule here\n"
			"192.0.2.1");
	p = load_ok(at("a"), 0);
	ck_assert_int_eq(policy_origin(p), POLICY_FROM_FILE);
	ck_assert_uint_eq(policy_rule_count(p), 5);
	ck_assert_int_eq(strncmp(policy_rule_text(p, 1, &len), "!10.1.0.0/16", 12), 0);
	ck_assert_uint_eq(len, 12);
	ck_assert_uint_eq(policy_rule_line(p, 1), 2);
	ck_assert_uint_eq(policy_rule_line(p, 2), 2);
	ck_assert_uint_eq(policy_rule_line(p, 3), 4);
	ck_assert_uint_eq(policy_rule_line(p, 4), 4);
	ck_assert_uint_eq(policy_rule_line(p, 5), 6);
	ck_assert_uint_eq(policy_rule_line(p, 6), 0);
	ck_assert_uint_eq(decide(p, POLICY_CONNECT, "10.1.2.3", 80, &v), 1);
	ck_assert_int_eq(v, POLICY_TCP);
	ck_assert_uint_eq(decide(p, POLICY_CONNECT, "10.2.0.1", 80, &v), 2);
	ck_assert_int_eq(v, POLICY_MPTCP);
	ck_assert_uint_eq(decide(p, POLICY_LISTEN, "::", 443, &v), 3);
	ck_assert_uint_eq(decide(p, POLICY_CONNECT, "2001:db8::5", 8080, &v), 4);
	ck_assert_uint_eq(decide(p, POLICY_CONNECT, "::1", 80, &v), 0);
	/* the same rules as a string decide alike; a string has no lines */
	q = load_ok("!10.1.0.0/16 10.0.0.0/8 listen@:443 connect@[2001:db8::/32]:8000-8999 "
		    "192.0.2.1", 0);
	ck_assert_int_eq(policy_origin(q), POLICY_FROM_TEXT);
	ck_assert_uint_eq(policy_rule_line(q, 1), 0);
	same_decisions(p, q);
	policy_free(q);
	policy_free(p);
	/* white space before '@' */
	{
		char ws[300];

		snprintf(ws, sizeof(ws), " \t%s", at("a"));
		p = load_ok(ws, 0);
		ck_assert_uint_eq(policy_rule_count(p), 5);
		policy_free(p);
	}
	remove_dir();
}
END_TEST

START_TEST(file_empty_and_comments_only)
{
	struct policy *p;

	make_dir();
	write_text("empty", "");
	write_text("comments", "# nothing yet\n   # really\n\n");
	p = load_ok(at("empty"), 0);
	ck_assert_uint_eq(policy_rule_count(p), 0);
	policy_free(p);
	p = load_ok(at("comments"), 0);
	ck_assert_uint_eq(policy_rule_count(p), 0);
	policy_free(p);
	remove_dir();
}
END_TEST

START_TEST(file_bad_rules_named_by_line_and_column)
{
	struct policy *p = NULL;
	struct errs e = { 0 };
	char want[512];

	make_dir();
	write_text("bad", "10.0.0.0/8 # fine\n"
			  "\t::1, 10.1.2.3/33\n"
			  "# 999.1.1.1 is in a comment\n"
			  "connect@x ,\n"
			  "10.0.0.0/8#no space before the comment: still one\n"
			  "  1.2.3.4/24\n");
	ck_assert_int_eq(policy_load(at("bad"), &p, collect, &e, 0), -EINVAL);
	ck_assert_ptr_null(p);
	ck_assert_uint_eq(e.n, 3);
	ck_assert_uint_eq(e.e[0].rule, 3);
	ck_assert_uint_eq(e.e[0].line, 2);
	ck_assert_uint_eq(e.e[0].column, 7);
	snprintf(want, sizeof(want), "mptcpify: %s:2:7: MPTCPIFY_ADDRS rule 3 \"10.1.2.3/33\": "
		 "prefix length 33 exceeds 32", path_of("bad"));
	ck_assert_str_eq(e.e[0].line_text, want);
	ck_assert_uint_eq(e.e[1].rule, 4);
	ck_assert_uint_eq(e.e[1].line, 4);
	ck_assert_uint_eq(e.e[1].column, 1);
	ck_assert_str_eq(e.e[1].text, "connect@x");
	/* the comma ending line 4 is followed by a rule (line 5): no empty
	 * rule; line 5's comment starts right after its rule */
	ck_assert_uint_eq(e.e[2].rule, 6);
	ck_assert_uint_eq(e.e[2].line, 6);
	ck_assert_uint_eq(e.e[2].column, 3);
	snprintf(want, sizeof(want), "mptcpify: %s:6:3: MPTCPIFY_ADDRS rule 6 \"1.2.3.4/24\": "
		 "host bits set (the network is 1.2.3.0/24)", path_of("bad"));
	ck_assert_str_eq(e.e[2].line_text, want);
	/* a comma at the very end wants one more rule */
	write_text("comma", "10.0.0.0/8,\n# the end\n");
	memset(&e, 0, sizeof(e));
	ck_assert_int_eq(policy_load(at("comma"), &p, collect, &e, 0), -EINVAL);
	ck_assert_uint_eq(e.n, 1);
	ck_assert_uint_eq(e.e[0].rule, 2);
	ck_assert_uint_eq(e.e[0].line, 3);
	remove_dir();
}
END_TEST

/* The image's path is the file's with POLICY_IMAGE_SUFFIX, refused when it
 * does not fit with its terminating NUL. */
START_TEST(image_path_fits_or_is_refused)
{
	char buf[64];
	size_t need = strlen("/a" POLICY_IMAGE_SUFFIX) + 1;

	ck_assert(pol_image_path("/a", buf, need));
	ck_assert_str_eq(buf, "/a" POLICY_IMAGE_SUFFIX);
	ck_assert(!pol_image_path("/a", buf, need - 1));
	ck_assert(!pol_image_path("/a", buf, 3));
}
END_TEST

START_TEST(file_unusable)
{
	char want[512], big[300];
	int fd;

	make_dir();
	snprintf(want, sizeof(want), "mptcpify: %s: MPTCPIFY_ADDRS: cannot open: "
		 "No such file or directory", path_of("missing"));
	expect_file_error(at("missing"), want);
	expect_file_error("@relative/addrs", "mptcpify: relative/addrs: MPTCPIFY_ADDRS: "
			  "the file after '@' must be an absolute path");
	expect_file_error("@", "mptcpify: MPTCPIFY_ADDRS: \"@\" without a file name");
	snprintf(want, sizeof(want), "mptcpify: %s: MPTCPIFY_ADDRS: is a directory, "
		 "not a file of rules", dir);
	snprintf(big, sizeof(big), "@%s", dir);
	expect_file_error(big, want);
	/* a FIFO nobody writes: refused at once, not waited on */
	ck_assert_int_eq(mkfifo(path_of("fifo"), 0600), 0);
	snprintf(want, sizeof(want), "mptcpify: %s: MPTCPIFY_ADDRS: not a regular file",
		 path_of("fifo"));
	expect_file_error(at("fifo"), want);
	/* a NUL byte, where it is */
	fd = open(path_of("nul"), O_WRONLY | O_CREAT, 0600);
	ck_assert_int_eq(write(fd, "10.0.0.0/8\n::1 \0x\n", 18), 18);
	close(fd);
	snprintf(want, sizeof(want), "mptcpify: %s:2:5: MPTCPIFY_ADDRS: a NUL byte: "
		 "not a text file", path_of("nul"));
	expect_file_error(at("nul"), want);
	/* larger than 16 MiB (sparse) */
	fd = open(path_of("huge"), O_WRONLY | O_CREAT, 0600);
	ck_assert_int_eq(ftruncate(fd, (16 << 20) + 1), 0);
	close(fd);
	snprintf(want, sizeof(want), "mptcpify: %s: MPTCPIFY_ADDRS: larger than 16 MiB",
		 path_of("huge"));
	expect_file_error(at("huge"), want);
	/* unreadable (root reads anything: then there is nothing to see) */
	write_text("secret", "10.0.0.0/8\n");
	chmod(path_of("secret"), 0);
	if (geteuid() != 0) {
		snprintf(want, sizeof(want), "mptcpify: %s: MPTCPIFY_ADDRS: cannot open: "
			 "Permission denied", path_of("secret"));
		expect_file_error(at("secret"), want);
	}
	remove_dir();
}
END_TEST

START_TEST(file_of_100000_rules)
{
	char *text;
	struct policy *p, *q;

	make_dir();
	text = random_file(100000);
	write_text("big", text);
	p = load_ok(at("big"), 0);
	ck_assert_uint_eq(policy_rule_count(p), 100000);
	/* the same rules as one string (no comments): the same decisions */
	strip_comments(text);
	ck_assert_int_eq(policy_parse(text, &q, NULL, NULL), 0);
	same_decisions(p, q);
	policy_free(q);
	policy_free(p);
	free(text);
	remove_dir();
}
END_TEST

/* ---- compiled images --------------------------------------------------------- */

START_TEST(image_decides_as_the_file)
{
	char *text = random_file(20000);
	struct policy *parsed, *mapped;
	struct stat src, img;
	unsigned i;

	make_dir();
	write_text("addrs", text);
	chmod(path_of("addrs"), 0640);
	parsed = compile("addrs");
	unrace("addrs");
	mapped = load_ok(at("addrs"), 0);
	ck_assert_int_eq(policy_origin(mapped), POLICY_FROM_IMAGE);
	ck_assert_uint_eq(policy_rule_count(mapped), policy_rule_count(parsed));
	for (i = 1; i <= policy_rule_count(parsed); i += 97) {
		size_t l1, l2;
		const char *t1 = policy_rule_text(parsed, i, &l1);
		const char *t2 = policy_rule_text(mapped, i, &l2);

		ck_assert_uint_eq(l1, l2);
		ck_assert_int_eq(memcmp(t1, t2, l1), 0);
		ck_assert_uint_eq(policy_rule_line(parsed, i), policy_rule_line(mapped, i));
	}
	same_decisions(parsed, mapped);
	/* current: nothing to write; as readable as the source, no temp left */
	ck_assert_int_eq(policy_image_write(mapped, path_of("addrs")), 1);
	ck_assert_int_eq(stat(path_of("addrs"), &src), 0);
	ck_assert_int_eq(stat(path_of("addrs" POLICY_IMAGE_SUFFIX), &img), 0);
	ck_assert_uint_eq(img.st_mode & 0777, src.st_mode & 0666);
	{
		char cmd[160];

		snprintf(cmd, sizeof(cmd), "test $(ls '%s' | grep -c tmp) = 0", dir);
		ck_assert_int_eq(system(cmd), 0);
	}
	policy_free(mapped);
	/* POLICY_LOAD_PARSE ignores the image */
	mapped = load_ok(at("addrs"), POLICY_LOAD_PARSE);
	ck_assert_int_eq(policy_origin(mapped), POLICY_FROM_FILE);
	policy_free(mapped);
	policy_free(parsed);
	free(text);
	remove_dir();
}
END_TEST

/* Every way the file can change under its image: the image is not used. */
START_TEST(image_never_stale)
{
	struct policy *p;
	enum policy_verdict v;
	struct timespec ts[2];
	int fd;

	make_dir();
	write_text("a", "10.0.0.0/8\n");
	policy_free(compile("a"));
	unrace("a");
	p = load_ok(at("a"), 0);
	ck_assert_int_eq(policy_origin(p), POLICY_FROM_IMAGE);
	policy_free(p);

	/* in place, same size: "10" becomes "11" */
	fd = open(path_of("a"), O_WRONLY);
	ck_assert_int_eq(pwrite(fd, "11", 2, 0), 2);
	close(fd);
	p = load_ok(at("a"), 0);
	ck_assert_int_eq(policy_origin(p), POLICY_FROM_FILE);
	ck_assert_uint_eq(decide(p, POLICY_CONNECT, "11.1.1.1", 1, &v), 1);
	policy_free(p);

	/* in place, same size, and mtime set back to the image's: ctime tells */
	policy_free(compile("a"));
	unrace("a");
	{
		struct stat st;

		ck_assert_int_eq(stat(path_of("a"), &st), 0);
		ts[0] = st.st_atim;
		ts[1] = st.st_mtim;
	}
	fd = open(path_of("a"), O_WRONLY);
	ck_assert_int_eq(pwrite(fd, "12", 2, 0), 2);
	ck_assert_int_eq(futimens(fd, ts), 0);
	close(fd);
	p = load_ok(at("a"), 0);
	ck_assert_int_eq(policy_origin(p), POLICY_FROM_FILE);
	ck_assert_uint_eq(decide(p, POLICY_CONNECT, "12.1.1.1", 1, &v), 1);
	policy_free(p);

	/* replaced by rename, same content: a new inode */
	policy_free(compile("a"));
	unrace("a");
	write_text("b", "12.0.0.0/8\n");
	ck_assert_int_eq(rename(path_of("b"), path_of("a")), 0);
	p = load_ok(at("a"), 0);
	ck_assert_int_eq(policy_origin(p), POLICY_FROM_FILE);
	policy_free(p);

	/* appended to */
	policy_free(compile("a"));
	unrace("a");
	fd = open(path_of("a"), O_WRONLY | O_APPEND);
	ck_assert_int_eq(write(fd, "!12.1.0.0/16\n", 13), 13);
	close(fd);
	p = load_ok(at("a"), 0);
	ck_assert_int_eq(policy_origin(p), POLICY_FROM_FILE);
	ck_assert_uint_eq(policy_rule_count(p), 2);
	policy_free(p);

	/* the image of another file, copied over this one's */
	write_text("other", "192.0.2.0/24\n");
	policy_free(compile("other"));
	unrace("other");
	ck_assert_int_eq(rename(path_of("other" POLICY_IMAGE_SUFFIX),
				path_of("a" POLICY_IMAGE_SUFFIX)), 0);
	p = load_ok(at("a"), 0);
	ck_assert_int_eq(policy_origin(p), POLICY_FROM_FILE);
	policy_free(p);
	remove_dir();
}
END_TEST

/* Reads the image of NAME into a malloc'd buffer. */
static char *read_image(const char *name, size_t *size)
{
	struct stat st;
	char *buf;
	int fd = open(path_of(name), O_RDONLY);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(read(fd, buf, (size_t)st.st_size), st.st_size);
	close(fd);
	*size = (size_t)st.st_size;
	return buf;
}

static void write_image(const char *name, const char *buf, size_t size)
{
	int fd = open(path_of(name), O_WRONLY | O_CREAT | O_TRUNC, 0644);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, buf, size), (ssize_t)size);
	close(fd);
}

/* The racy case: an image read too close to the file's change carries the
 * hash of the bytes, and a reader checks it. */
START_TEST(image_racy_hash_checked)
{
	struct img_header *h;
	struct policy *p;
	size_t size;
	char *img;

	make_dir();
	write_text("a", "10.0.0.0/8\n");
	policy_free(compile("a")); /* just written: racy */
	img = read_image("a" POLICY_IMAGE_SUFFIX, &size);
	h = (struct img_header *)img;
	ck_assert(h->flags & IMG_RACY);
	p = load_ok(at("a"), 0);
	ck_assert_int_eq(policy_origin(p), POLICY_FROM_IMAGE); /* hash matches */
	policy_free(p);
	/* the same identity with other bytes: only the hash can tell */
	h->src.hash ^= 1;
	write_image("a" POLICY_IMAGE_SUFFIX, img, size);
	p = load_ok(at("a"), 0);
	ck_assert_int_eq(policy_origin(p), POLICY_FROM_FILE);
	policy_free(p);
	/* once the moment is past, mptcpify-run's rewrite drops the flag */
	free(img);
	h = NULL;
	write_text("a", "10.0.0.0/8\n"); /* same bytes, changed now */
	policy_free(compile("a"));
	age_file("a");
	p = load_ok(at("a"), 0);
	ck_assert_int_eq(policy_origin(p), POLICY_FROM_IMAGE);
	ck_assert_int_eq(policy_image_write(p, path_of("a")), 0);
	policy_free(p);
	img = read_image("a" POLICY_IMAGE_SUFFIX, &size);
	ck_assert(!(((struct img_header *)img)->flags & IMG_RACY));
	free(img);
	p = load_ok(at("a"), 0);
	ck_assert_int_eq(policy_origin(p), POLICY_FROM_IMAGE);
	ck_assert_int_eq(policy_image_write(p, path_of("a")), 1);
	policy_free(p);
	remove_dir();
}
END_TEST

START_TEST(image_trust)
{
	struct policy *p;

	make_dir();
	write_text("a", "10.0.0.0/8\n");
	policy_free(compile("a"));
	unrace("a");
	/* writable by others when the file is not */
	chmod(path_of("a" POLICY_IMAGE_SUFFIX), 0666);
	p = load_ok(at("a"), 0);
	ck_assert_int_eq(policy_origin(p), POLICY_FROM_FILE);
	policy_free(p);
	chmod(path_of("a" POLICY_IMAGE_SUFFIX), 0644);
	p = load_ok(at("a"), 0);
	ck_assert_int_eq(policy_origin(p), POLICY_FROM_IMAGE);
	policy_free(p);
	/* owned by someone else than the file's owner, root or us */
	if (geteuid() == 0) {
		ck_assert_int_eq(chown(path_of("a" POLICY_IMAGE_SUFFIX), 65534, 65534), 0);
		p = load_ok(at("a"), 0);
		ck_assert_int_eq(policy_origin(p), POLICY_FROM_FILE);
		policy_free(p);
	}
	/* a symlink to a directory, a FIFO: not images */
	unlink(path_of("a" POLICY_IMAGE_SUFFIX));
	ck_assert_int_eq(mkfifo(path_of("a" POLICY_IMAGE_SUFFIX), 0644), 0);
	p = load_ok(at("a"), 0);
	ck_assert_int_eq(policy_origin(p), POLICY_FROM_FILE);
	policy_free(p);
	remove_dir();
}
END_TEST

/* Damaged images: refused by the header check, or read without a fault. */
START_TEST(image_damaged)
{
	struct policy *good, *p;
	size_t size, i;
	char *img, *copy;
	const struct img_header *h;

	make_dir();
	{
		char *text = random_file(3000);

		write_text("a", text);
		free(text);
	}
	good = compile("a");
	img = read_image("a" POLICY_IMAGE_SUFFIX, &size);
	h = (const struct img_header *)img;
	/* pol_image_open wants 16-byte alignment, as a mapping has */
	ck_assert_int_eq(posix_memalign((void **)&copy, 16, size), 0);

	memcpy(copy, img, size);
	ck_assert_int_eq(pol_image_open(copy, size, &p), 0);
	same_decisions(good, p);
	policy_free(p);
	/* the header: every field checked */
	for (i = 0; i < offsetof(struct img_header, src); i++) {
		memcpy(copy, img, size);
		copy[i] ^= 0x40;
		if (pol_image_open(copy, size, &p) == 0) {
			/* a count or root that still fits: must read safely */
			same_decisions(p, p);
			policy_free(p);
		}
	}
	ck_assert_int_eq(pol_image_open(copy, sizeof(*h) - 1, &p), -EINVAL);
	memcpy(copy, img, size);
	ck_assert_int_eq(pol_image_open(copy, size - 1, &p), -EINVAL);
	((struct img_header *)copy)->version++;
	ck_assert_int_eq(pol_image_open(copy, size, &p), -EINVAL);
	/* the body: random damage, then decisions (ASan in the fuzzer) */
	for (i = 0; i < 200; i++) {
		unsigned k;

		memcpy(copy, img, size);
		for (k = 0; k < 64; k++)
			copy[sizeof(*h) + rnd() % (size - sizeof(*h))] = (char)rnd();
		if (pol_image_open(copy, size, &p) != 0)
			ck_abort_msg("an image with a good header refused");
		same_decisions(p, p);
		for (k = 1; k <= policy_rule_count(p); k += 101)
			policy_rule_text(p, k, NULL);
		policy_free(p);
	}
	/* a cycle: a child that points back to the root */
	memcpy(copy, img, size);
	{
		struct node *n = (struct node *)(copy + h->off_nodes);

		for (i = 0; i < h->nnodes; i++)
			if (n[i].child[0])
				n[i].child[0] = h->root[0];
	}
	ck_assert_int_eq(pol_image_open(copy, size, &p), 0);
	same_decisions(p, p);
	policy_free(p);
	free(copy);
	free(img);
	policy_free(good);
	remove_dir();
}
END_TEST

START_TEST(image_write_refuses_stale)
{
	struct policy *p;

	make_dir();
	write_text("a", "10.0.0.0/8\n");
	p = load_ok(at("a"), 0);
	write_text("a", "10.0.0.0/16\n");
	ck_assert_int_eq(policy_image_write(p, path_of("a")), -ESTALE);
	ck_assert_int_eq(access(path_of("a" POLICY_IMAGE_SUFFIX), F_OK), -1);
	policy_free(p);
	p = load_ok("10.0.0.0/8", 0);
	ck_assert_int_eq(policy_image_write(p, path_of("a")), -EINVAL);
	policy_free(p);
	remove_dir();
}
END_TEST

/* ---- the load at the first socket -------------------------------------------- */

/* Runs FN with fd 2 going to a file; returns what was written there. */
static char *capture_stderr(void (*fn)(void *), void *arg)
{
	static char out[8192];
	char name[] = "/tmp/test-policy-file-err.XXXXXX";
	int fd = mkstemp(name), saved = dup(2);
	ssize_t n;

	ck_assert_int_ge(fd, 0);
	dup2(fd, 2);
	log_init(); /* the logger writes only to the stderr it started with */
	fn(arg);
	dup2(saved, 2);
	close(saved);
	log_init();
	n = pread(fd, out, sizeof(out) - 1, 0);
	out[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(name);
	return out;
}

struct lazy_case {
	struct policy_lazy l;
	struct policy *got, *published;
	int loads;
	int errno_after;
};

static void get_once(void *arg)
{
	struct lazy_case *c = arg;

	errno = 4321;
	c->got = policy_lazy_get(&c->l, &c->published);
	c->errno_after = errno;
}

static void count_load(struct policy_lazy *l)
{
	((struct lazy_case *)l)->loads++;
}

static unsigned count(const char *s, const char *needle)
{
	unsigned n = 0;

	while ((s = strstr(s, needle))) {
		n++;
		s++;
	}
	return n;
}

START_TEST(lazy_once_errno_kept)
{
	struct lazy_case c = { .l.test_hook = count_load };
	struct policy *first;

	ck_assert_ptr_null(policy_lazy_get(&c.l, NULL)); /* not armed */
	policy_lazy_arm(&c.l, "MPTCPIFY_ADDRS", "10.0.0.0/8, ::1");
	capture_stderr(get_once, &c);
	ck_assert_ptr_nonnull(c.got);
	ck_assert_ptr_eq(c.published, c.got);
	ck_assert_int_eq(c.errno_after, 4321);
	first = c.got;
	capture_stderr(get_once, &c);
	ck_assert_ptr_eq(c.got, first);
	ck_assert_int_eq(c.loads, 1);
	ck_assert_uint_eq(policy_rule_count(first), 2);
	policy_free(first);
}
END_TEST

START_TEST(lazy_invalid_reported_once)
{
	struct lazy_case c = { 0 };
	char text[600] = "", *err;
	unsigned i;

	/* 12 bad rules: 10 lines, then the count */
	for (i = 0; i < 12; i++)
		strcat(text, "10.0.0.0/33 ");
	policy_lazy_arm(&c.l, "MPTCPIFY_ADDRS", text);
	err = capture_stderr(get_once, &c);
	ck_assert_ptr_null(c.got);
	ck_assert_uint_eq(count(err, "prefix length 33 exceeds 32"), 10);
	ck_assert_msg(strstr(err, "MPTCPIFY_ADDRS is invalid (12 bad rules, the first 10 shown): "
			     "nothing is upgraded"), "%s", err);
	err = capture_stderr(get_once, &c);
	ck_assert_str_eq(err, ""); /* once */
	ck_assert_ptr_null(c.got);

	policy_lazy_arm(&c.l, "MPTCPIFY_ADDRS", "::1, 10.0.0.0/33");
	err = capture_stderr(get_once, &c);
	ck_assert_ptr_null(c.got);
	ck_assert_uint_eq(count(err, "\n"), 2);
	ck_assert_msg(strstr(err, "mptcpify: MPTCPIFY_ADDRS rule 2 \"10.0.0.0/33\""), "%s", err);
	ck_assert_msg(strstr(err, "MPTCPIFY_ADDRS is invalid: nothing is upgraded"), "%s", err);

	/* a missing file: one line that says it all */
	policy_lazy_arm(&c.l, "MPTCPIFY_ADDRS", "@/nonexistent/addrs");
	err = capture_stderr(get_once, &c);
	ck_assert_ptr_null(c.got);
	ck_assert_str_eq(err, "mptcpify: /nonexistent/addrs: MPTCPIFY_ADDRS: cannot open: "
			      "No such file or directory: nothing is upgraded\n");
	/* empty: nothing upgraded, nothing said */
	policy_lazy_arm(&c.l, "MPTCPIFY_ADDRS", " ");
	err = capture_stderr(get_once, &c);
	ck_assert_ptr_null(c.got);
	ck_assert_str_eq(err, "");
}
END_TEST

static struct lazy_case shared;
static char *big_text;

static void *racer(void *arg)
{
	(void)arg;
	return policy_lazy_get(&shared.l, &shared.published);
}

START_TEST(lazy_threads_one_load)
{
	pthread_t th[8];
	void *got[8];
	unsigned i;

	memset(&shared, 0, sizeof(shared));
	shared.l.test_hook = count_load;
	big_text = random_file(20000);
	strip_comments(big_text);
	policy_lazy_arm(&shared.l, "MPTCPIFY_ADDRS", big_text);
	for (i = 0; i < 8; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, racer, NULL), 0);
	for (i = 0; i < 8; i++)
		ck_assert_int_eq(pthread_join(th[i], &got[i]), 0);
	ck_assert_int_eq(shared.loads, 1);
	for (i = 0; i < 8; i++)
		ck_assert_ptr_eq(got[i], shared.published);
	ck_assert_ptr_nonnull(got[0]);
	policy_free(got[0]);
	free(big_text);
}
END_TEST

/* A signal handler's socket() while its own thread loads: no self-wait. */
static struct policy *reentered = (struct policy *)1;

static void reenter(struct policy_lazy *l)
{
	count_load(l);
	reentered = policy_lazy_get(l, NULL);
}

START_TEST(lazy_reentry_does_not_wait)
{
	struct lazy_case c = { .l.test_hook = reenter };
	double t0;
	struct timespec ts;

	policy_lazy_arm(&c.l, "MPTCPIFY_ADDRS", "*");
	clock_gettime(CLOCK_MONOTONIC, &ts);
	t0 = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
	get_once(&c);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ck_assert_ptr_null(reentered);              /* that socket stays TCP */
	ck_assert_ptr_nonnull(c.got);               /* the outer call loads */
	ck_assert_int_eq(c.loads, 1);
	/* no wait at all: far less than one 50 ms futex slice */
	ck_assert((double)ts.tv_sec + (double)ts.tv_nsec * 1e-9 - t0 < 1.0);
	policy_free(c.got);
}
END_TEST

/* fork() while another thread loads: the child loads by itself. */
static int pipe_fds[2];

static void fork_during_load(struct policy_lazy *l)
{
	pid_t pid;
	int st;

	count_load(l);
	if (((struct lazy_case *)l)->loads > 1)
		return; /* the child's own load */
	pid = fork();
	if (pid == 0) {
		/* the loading thread is the parent's; here nobody loads: the
		 * child's first call must not wait for it */
		struct policy *p = policy_lazy_get(l, NULL);

		_exit(p && policy_rule_count(p) == 1 ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_int_eq(write(pipe_fds[1], &st, sizeof(st)), sizeof(st));
}

START_TEST(lazy_fork_during_load)
{
	struct lazy_case c = { .l.test_hook = fork_during_load };
	int st = -1;

	ck_assert_int_eq(pipe(pipe_fds), 0);
	policy_lazy_arm(&c.l, "MPTCPIFY_ADDRS", "*");
	get_once(&c);
	ck_assert_ptr_nonnull(c.got);
	ck_assert_int_eq(read(pipe_fds[0], &st, sizeof(st)), sizeof(st));
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %d", st);
	policy_free(c.got);
}
END_TEST

static Suite *policy_file_suite(void)
{
	Suite *s = suite_create("policy-file");
	TCase *tc;

	tc = tcase_create("files");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, file_rules_comments_positions);
	tcase_add_test(tc, file_empty_and_comments_only);
	tcase_add_test(tc, file_bad_rules_named_by_line_and_column);
	tcase_add_test(tc, file_unusable);
	tcase_add_test(tc, image_path_fits_or_is_refused);
	tcase_add_test(tc, file_of_100000_rules);
	suite_add_tcase(s, tc);

	tc = tcase_create("images");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, image_decides_as_the_file);
	tcase_add_test(tc, image_never_stale);
	tcase_add_test(tc, image_racy_hash_checked);
	tcase_add_test(tc, image_trust);
	tcase_add_test(tc, image_damaged);
	tcase_add_test(tc, image_write_refuses_stale);
	suite_add_tcase(s, tc);

	tc = tcase_create("lazy");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, lazy_once_errno_kept);
	tcase_add_test(tc, lazy_invalid_reported_once);
	tcase_add_test(tc, lazy_threads_one_load);
	tcase_add_test(tc, lazy_reentry_does_not_wait);
	tcase_add_test(tc, lazy_fork_during_load);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(policy_file_suite());
}
