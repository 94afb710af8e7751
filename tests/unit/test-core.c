/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-core.c - Check suites for the other libc-free modules of lib/: the
 * option classes and the MPTCPIFY_OPTIONS parser (optclass.c), the per-fd
 * table (fdtab.c) and the logger's formatting (log.c). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "test-common.h"
#include "mptcpify/optclass.h"
#include "../../lib/fdtab.h"
#include "../../lib/log.h"

/* ---- optclass ---- */
struct errs {
	int n;
	unsigned pos[16];
	char msg[16][160];
};

static void collect(void *ctx, const struct policy_error *e)
{
	struct errs *es = ctx;
	if (es->n < 16) {
		es->pos[es->n] = e->rule;
		snprintf(es->msg[es->n], sizeof(es->msg[0]), "%.*s: %s", (int)e->text_len, e->text,
			 e->msg);
	}
	es->n++;
}

START_TEST(optclass_defaults)
{
	ck_assert_int_eq(optclass_get(NULL, SOL_TCP, TCP_MAXSEG), OPT_EMULATE);
	ck_assert_int_eq(optclass_get(NULL, SOL_IP, IP_TTL), OPT_EMULATE);
	ck_assert_int_eq(optclass_get(NULL, SOL_TCP, TCP_USER_TIMEOUT), OPT_TCP);
	ck_assert_int_eq(optclass_get(NULL, SOL_TCP, TCP_MD5SIG), OPT_TCP);
	/* not in the table: TCP would have accepted it, so tcp */
	ck_assert_ptr_null(optclass_find(SOL_TCP, 9999));
	ck_assert_int_eq(optclass_get(NULL, SOL_TCP, 9999), OPT_TCP);
	ck_assert_str_eq(optclass_name(OPT_EMULATE), "emulate");
	ck_assert_str_eq(optclass_name(OPT_TCP), "tcp");
	ck_assert_str_eq(optclass_name(OPT_ERROR), "error");
	ck_assert_int_eq(optclass_find(SOL_TCP, TCP_MAXSEG)->since, 617);
}
END_TEST

START_TEST(optclass_table_consistent)
{
	/* names unique, every entry findable by name and by number */
	for (const struct opt_info *o = optclass_table; o->name; o++) {
		ck_assert_ptr_eq(optclass_find_name(o->name, strlen(o->name)), o);
		ck_assert_ptr_eq(optclass_find(o->level, o->optname), o);
		ck_assert_msg(o->dflt == OPT_EMULATE || o->dflt == OPT_TCP, "%s", o->name);
		ck_assert_ptr_nonnull(o->why);
	}
}
END_TEST

START_TEST(optclass_parse_good)
{
	struct opt_overrides ov;
	struct errs es = { 0 };
	ck_assert_int_eq(optclass_parse(" TCP_USER_TIMEOUT=emulate,IP_TTL=error\tTCP_MAXSEG=tcp ", &ov,
					collect, &es), 0);
	ck_assert_int_eq(es.n, 0);
	ck_assert_uint_eq(ov.n, 3);
	ck_assert_int_eq(optclass_get(&ov, SOL_TCP, TCP_USER_TIMEOUT), OPT_EMULATE);
	ck_assert_int_eq(optclass_get(&ov, SOL_IP, IP_TTL), OPT_ERROR);
	ck_assert_int_eq(optclass_get(&ov, SOL_TCP, TCP_MAXSEG), OPT_TCP);
	ck_assert_int_eq(optclass_get(&ov, SOL_IP, IP_MTU_DISCOVER), OPT_EMULATE);
	ck_assert_int_eq(optclass_parse("", &ov, collect, &es), 0);
	ck_assert_uint_eq(ov.n, 0);
}
END_TEST

START_TEST(optclass_parse_bad)
{
	struct opt_overrides ov;
	struct errs es = { 0 };
	/* four bad entries: each reported with its position; nothing applied */
	ov.n = 77;
	ck_assert_int_eq(optclass_parse("IP_TTL=emulate, NOPE=tcp, IP_TTL, TCP_MAXSEG=maybe,,", &ov,
					collect, &es),
			 -EINVAL);
	ck_assert_uint_eq(ov.n, 0);
	ck_assert_int_eq(es.n, 5);
	ck_assert_uint_eq(es.pos[0], 2);
	ck_assert_msg(strstr(es.msg[0], "NOPE=tcp: unknown option name"), "%s", es.msg[0]);
	ck_assert_uint_eq(es.pos[1], 3);
	ck_assert_msg(strstr(es.msg[1], "IP_TTL: expected NAME=emulate|tcp|error"), "%s", es.msg[1]);
	ck_assert_uint_eq(es.pos[2], 4);
	ck_assert_msg(strstr(es.msg[2], "unknown class"), "%s", es.msg[2]);
	ck_assert_uint_eq(es.pos[3], 5);
	ck_assert_msg(strstr(es.msg[3], "empty entry"), "%s", es.msg[3]);
	/* lower case names are not option names */
	es.n = 0;
	ck_assert_int_eq(optclass_parse("ip_ttl=emulate", &ov, collect, &es), -EINVAL);
	ck_assert_int_eq(es.n, 1);
}
END_TEST

START_TEST(optclass_parse_too_many)
{
	char buf[4096] = "";
	struct opt_overrides ov;
	struct errs es = { 0 };
	for (int i = 0; i < OPTCLASS_MAX_OVERRIDES + 1; i++)
		strcat(buf, "IP_TTL=emulate ");
	ck_assert_int_eq(optclass_parse(buf, &ov, collect, &es), -EINVAL);
	ck_assert_int_eq(es.n, 1);
	ck_assert_uint_eq(es.pos[0], OPTCLASS_MAX_OVERRIDES + 1);
	ck_assert_msg(strstr(es.msg[0], "too many entries"), "%s", es.msg[0]);
}
END_TEST

/* ---- fdtab ---- */
START_TEST(fdtab_lifecycle)
{
	int fd = 1000 + _i; /* distinct slots per loop iteration */
	struct fd_slot *s;
	uint32_t old;

	ck_assert_ptr_null(fdtab_get(-1, 1));
	ck_assert_ptr_null(fdtab_get(FDTAB_MAX_FD, 1));
	s = fdtab_get(fd, 1);
	ck_assert_ptr_nonnull(s);
	ck_assert_ptr_eq(fdtab_get(fd, 0), s);
	ck_assert_int_eq(fdtab_trylock(s, &old), 1);
	ck_assert_uint_eq(old, 0);
	/* busy: a second taker (another thread, a signal handler) is refused */
	ck_assert_int_eq(fdtab_trylock(s, &old), 0);
	s->nopts = 0;
	fdtab_unlock(s, SLOT_USED | SLOT_PENDING);
	ck_assert_uint_eq(atomic_load(&s->state), SLOT_USED | SLOT_PENDING);
	fdtab_set_bits(fd, SLOT_NOREPLACE);
	ck_assert_uint_eq(atomic_load(&s->state), SLOT_USED | SLOT_PENDING | SLOT_NOREPLACE);
	fdtab_clear(fd);
	ck_assert_uint_eq(atomic_load(&s->state), 0);
	/* set_bits on a free slot does nothing */
	fdtab_set_bits(fd, SLOT_NOREPLACE);
	ck_assert_uint_eq(atomic_load(&s->state), 0);
}
END_TEST

START_TEST(fdtab_clear_wins_over_unlock)
{
	struct fd_slot *s = fdtab_get(2000, 1);
	uint32_t old;
	ck_assert_int_eq(fdtab_trylock(s, &old), 1);
	fdtab_clear(2000); /* close() from another thread while we hold it */
	fdtab_unlock(s, SLOT_USED | SLOT_PENDING);
	ck_assert_uint_eq(atomic_load(&s->state), 0);
}
END_TEST

START_TEST(fdtab_clear_range_skips_holes)
{
	int fds[] = { 3, 300, 70000, FDTAB_MAX_FD - 1 };
	uint32_t old;
	for (unsigned i = 0; i < 4; i++) {
		struct fd_slot *s = fdtab_get(fds[i], 1);
		ck_assert_int_eq(fdtab_trylock(s, &old), 1);
		fdtab_unlock(s, SLOT_USED);
	}
	fdtab_clear_range(301, ~0u);
	ck_assert_uint_eq(atomic_load(&fdtab_get(3, 0)->state), SLOT_USED);
	ck_assert_uint_eq(atomic_load(&fdtab_get(300, 0)->state), SLOT_USED);
	ck_assert_uint_eq(atomic_load(&fdtab_get(70000, 0)->state), 0);
	ck_assert_uint_eq(atomic_load(&fdtab_get(FDTAB_MAX_FD - 1, 0)->state), 0);
	fdtab_clear_range(0, 300);
	ck_assert_uint_eq(atomic_load(&fdtab_get(3, 0)->state), 0);
}
END_TEST

START_TEST(fdtab_options)
{
	struct fd_slot *s = fdtab_get(3000, 1);
	uint32_t old;
	int one = 1, two = 2;
	unsigned char big[SLOT_OPT_MAXLEN + 1] = { 0 };

	ck_assert_int_eq(fdtab_trylock(s, &old), 1);
	s->nopts = 0;
	ck_assert_int_eq(slot_put_opt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one), 0), 0);
	ck_assert_int_eq(slot_put_opt(s, SOL_TCP, TCP_MAXSEG, &one, sizeof(one), OPT_F_EMULATED), 0);
	/* the same option again overwrites in place */
	ck_assert_int_eq(slot_put_opt(s, SOL_SOCKET, SO_REUSEADDR, &two, sizeof(two), 0), 0);
	ck_assert_uint_eq(s->nopts, 2);
	struct slot_opt *o = slot_find_opt(s, SOL_SOCKET, SO_REUSEADDR);
	ck_assert_ptr_nonnull(o);
	ck_assert_int_eq(*(int *)o->val, 2);
	ck_assert_int_eq(slot_find_opt(s, SOL_TCP, TCP_MAXSEG)->flags, OPT_F_EMULATED);
	ck_assert_ptr_null(slot_find_opt(s, SOL_IP, IP_TTL));
	/* too long to remember */
	ck_assert_int_eq(slot_put_opt(s, SOL_TCP, TCP_MD5SIG, big, sizeof(big), 0), -1);
	/* full */
	for (int i = 0; s->nopts < SLOT_MAX_OPTS; i++)
		ck_assert_int_eq(slot_put_opt(s, 500, i, &one, sizeof(one), 0), 0);
	ck_assert_int_eq(slot_put_opt(s, 501, 0, &one, sizeof(one), 0), -1);
	fdtab_unlock(s, SLOT_USED);
}
END_TEST

struct race {
	struct fd_slot *s;
	int wins;
};

static void *race_lock(void *p)
{
	struct race *r = p;
	for (int i = 0; i < 100000; i++) {
		uint32_t old;
		if (fdtab_trylock(r->s, &old)) {
			/* while held, nobody else may hold it */
			r->s->nopts++;
			r->s->nopts--;
			r->wins++;
			fdtab_unlock(r->s, old);
		}
	}
	return NULL;
}

START_TEST(fdtab_trylock_threads)
{
	struct race r[4];
	pthread_t t[4];
	struct fd_slot *s = fdtab_get(4000, 1);
	s->nopts = 0;
	for (int i = 0; i < 4; i++) {
		r[i] = (struct race){ s, 0 };
		pthread_create(&t[i], NULL, race_lock, &r[i]);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	ck_assert_uint_eq(s->nopts, 0);
	ck_assert_uint_eq(atomic_load(&s->state) & SLOT_BUSY, 0);
	ck_assert_int_gt(r[0].wins + r[1].wins + r[2].wins + r[3].wins, 0);
}
END_TEST

/* ---- log formatting ---- */
static const char *fmt_addr(const char *text, int port)
{
	static struct logbuf lb;
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	lb.len = 0;
	lb.buf[0] = 0;
	if (strchr(text, ':')) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((unsigned short)port);
		ck_assert_int_eq(inet_pton(AF_INET6, text, &in6->sin6_addr), 1);
		lb_addr(&lb, (struct sockaddr *)in6, sizeof(*in6));
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		in->sin_family = AF_INET;
		in->sin_port = htons((unsigned short)port);
		ck_assert_int_eq(inet_pton(AF_INET, text, &in->sin_addr), 1);
		lb_addr(&lb, (struct sockaddr *)in, sizeof(*in));
	}
	return lb.buf;
}

START_TEST(log_addresses)
{
	ck_assert_str_eq(fmt_addr("10.1.2.3", 80), "10.1.2.3:80");
	ck_assert_str_eq(fmt_addr("0.0.0.0", 0), "0.0.0.0:0");
	ck_assert_str_eq(fmt_addr("::1", 443), "[::1]:443");
	ck_assert_str_eq(fmt_addr("::", 65535), "[::]:65535");
	ck_assert_str_eq(fmt_addr("2001:db8:0:0:1:0:0:1", 1), "[2001:db8::1:0:0:1]:1");
	ck_assert_str_eq(fmt_addr("2001:db8:1:2:3:4:5:6", 1), "[2001:db8:1:2:3:4:5:6]:1");
	ck_assert_str_eq(fmt_addr("fe80::", 2), "[fe80::]:2");
	ck_assert_str_eq(fmt_addr("1:0:2:0:3:0:4:0", 3), "[1:0:2:0:3:0:4:0]:3");
	struct logbuf lb = { .len = 0 };
	lb_addr(&lb, NULL, 0);
	ck_assert_str_eq(lb.buf, "?");
}
END_TEST

START_TEST(log_numbers_and_truncation)
{
	struct logbuf lb = { .len = 0 };
	lb.buf[0] = 0;
	lb_int(&lb, -42);
	lb_str(&lb, " ");
	lb_uint(&lb, 0);
	lb_str(&lb, " ");
	lb_errno(&lb, ENOPROTOOPT);
	lb_str(&lb, " ");
	lb_errno(&lb, 4242);
	ck_assert_str_eq(lb.buf, "-42 0 ENOPROTOOPT errno 4242");
	for (int i = 0; i < 100; i++)
		lb_str(&lb, "0123456789");
	ck_assert_uint_le(lb.len, sizeof(lb.buf) - 2); /* room for '\n' and NUL */
	ck_assert_uint_eq(strlen(lb.buf), lb.len);
}
END_TEST

START_TEST(log_levels)
{
	ck_assert_int_eq(log_parse_level("error"), LOG_ERROR);
	ck_assert_int_eq(log_parse_level("warn"), LOG_WARN);
	ck_assert_int_eq(log_parse_level("info"), LOG_INFO);
	ck_assert_int_eq(log_parse_level("debug"), LOG_DEBUG);
	ck_assert_int_eq(log_parse_level("none"), LOG_NONE);
	ck_assert_int_eq(log_parse_level("verbose"), -1);
	ck_assert_int_eq(log_parse_level("Info"), -1);
	ck_assert_int_eq(log_parse_level(""), -1);
}
END_TEST

START_TEST(log_emit_preserves_errno)
{
	int p[2], saved = dup(2);
	char buf[600];
	struct logbuf lb;
	ck_assert_int_eq(pipe(p), 0);
	dup2(p[1], 2);
	lb_start(&lb);
	lb_str(&lb, "hello");
	errno = 4321;
	lb_emit(&lb);
	ck_assert_int_eq(errno, 4321);
	dup2(saved, 2);
	close(p[1]);
	ssize_t n = read(p[0], buf, sizeof(buf) - 1);
	ck_assert_int_gt(n, 0);
	buf[n] = 0;
	char want[64];
	snprintf(want, sizeof(want), "mptcpify[%d]: hello\n", (int)getpid());
	ck_assert_str_eq(buf, want);
	close(p[0]);
}
END_TEST

static Suite *core_suite(void)
{
	Suite *s = suite_create("core");
	TCase *tc = tcase_create("optclass");
	tcase_add_test(tc, optclass_defaults);
	tcase_add_test(tc, optclass_table_consistent);
	tcase_add_test(tc, optclass_parse_good);
	tcase_add_test(tc, optclass_parse_bad);
	tcase_add_test(tc, optclass_parse_too_many);
	suite_add_tcase(s, tc);
	tc = tcase_create("fdtab");
	tcase_add_loop_test(tc, fdtab_lifecycle, 0, 3);
	tcase_add_test(tc, fdtab_clear_wins_over_unlock);
	tcase_add_test(tc, fdtab_clear_range_skips_holes);
	tcase_add_test(tc, fdtab_options);
	tcase_add_test(tc, fdtab_trylock_threads);
	suite_add_tcase(s, tc);
	tc = tcase_create("log");
	tcase_add_test(tc, log_addresses);
	tcase_add_test(tc, log_numbers_and_truncation);
	tcase_add_test(tc, log_levels);
	tcase_add_test(tc, log_emit_preserves_errno);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(core_suite());
}
