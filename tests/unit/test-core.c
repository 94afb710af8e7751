/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-core.c - Check suites for the other libc-free modules of lib/: the
 * option classes and the MPTCPIFY_OPTIONS parser (optclass.c), the per-fd
 * table (fdtab.c) and the logger's formatting (log.c). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test-common.h"
#include "mptcpify/optclass.h"
#include "../../lib/fdtab.h"
#include "../../lib/slot.h"
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

/* ---- fdtab and the slot state machine ---- */
START_TEST(slot_lifecycle)
{
	int fd = 1000 + _i; /* distinct slots per loop iteration */
	struct fd_slot *s;
	uint32_t st, st2;

	ck_assert_ptr_null(fdtab_get(-1, 1));
	ck_assert_ptr_null(fdtab_get(FDTAB_MAX_FD, 1));
	s = fdtab_get(fd, 1);
	ck_assert_ptr_nonnull(s);
	ck_assert_ptr_eq(fdtab_get(fd, 0), s);
	ck_assert_uint_le(sizeof(*s), 64); /* a socket without options: at most 64 bytes */
	/* FREE is taken only by socket()/accept() */
	ck_assert_int_eq(slot_hold(s, &st, 0), 0);
	ck_assert_int_eq(slot_hold(s, &st, HOLD_FREE), 1);
	ck_assert_uint_eq(st, 0);
	/* held: a second taker (another thread, a signal handler) is refused */
	ck_assert_int_eq(slot_hold(s, &st2, HOLD_FREE | HOLD_WAIT), 0);
	s->opts = 0;
	slot_release(s, st, SLOT_UNDECIDED);
	ck_assert_uint_eq(atomic_load(&s->state), SLOT_UNDECIDED);
	ck_assert_ptr_eq(undecided_slot(fd), s);
	slot_shared(fd);
	ck_assert_uint_eq(atomic_load(&s->state), SLOT_UNDECIDED | SLOT_NOREPLACE);
	slot_closing(fd);
	ck_assert_uint_eq(atomic_load(&s->state), 0);
	ck_assert_ptr_null(known_slot(fd));
	/* contender calls on a FREE slot do nothing */
	slot_shared(fd);
	slot_touch(fd);
	ck_assert_uint_eq(atomic_load(&s->state), 0);
}
END_TEST

/* close() from another thread (or a handler) while the slot is held: the
 * owner's release frees it instead of storing its state */
START_TEST(slot_close_while_held)
{
	struct fd_slot *s = fdtab_get(2000, 1);
	uint32_t st;
	ck_assert_int_eq(slot_hold(s, &st, HOLD_FREE), 1);
	slot_release(s, st, SLOT_UNDECIDED);
	ck_assert_int_eq(slot_hold(s, &st, 0), 1);
	slot_closing(2000);
	ck_assert_uint_eq(atomic_load(&s->state) & (SLOT_CLOSED | SLOT_POISONED),
			  SLOT_CLOSED | SLOT_POISONED);
	slot_release(s, st, SLOT_DECIDED);
	ck_assert_uint_eq(atomic_load(&s->state), 0);
}
END_TEST

/* what the program does during a replacement makes it give up, and the
 * socket is never replaced afterwards */
START_TEST(slot_touch_poisons_replacement)
{
	struct fd_slot *s = fdtab_get(2100 + _i, 1);
	uint32_t st;
	ck_assert_int_eq(slot_hold(s, &st, HOLD_FREE), 1);
	slot_release(s, st, SLOT_UNDECIDED);
	ck_assert_int_eq(slot_hold(s, &st, 0), 1);
	ck_assert_int_eq(slot_begin_replace(s), 1);
	if (_i == 0)
		slot_touch(2100);
	else if (_i == 1)
		slot_shared(2101);
	else
		slot_closing(2102);
	ck_assert_int_eq(slot_begin_commit(s), 0);
	slot_end_replace(s);
	slot_release(s, st, st);
	if (_i == 2) {
		ck_assert_uint_eq(atomic_load(&s->state), 0);
	} else {
		ck_assert_uint_eq(atomic_load(&s->state), SLOT_UNDECIDED | SLOT_NOREPLACE);
		ck_assert_int_eq(slot_hold(s, &st, 0), 1);
		ck_assert_int_eq(slot_begin_replace(s), 0); /* NOREPLACE */
		slot_release(s, st, st);
	}
}
END_TEST

struct committer {
	struct fd_slot *s;
	atomic_int ended;
	atomic_int go;
};

static void *end_commit_later(void *p)
{
	struct committer *c = p;
	while (!atomic_load(&c->go))
		sched_yield();
	usleep(20000);
	atomic_store(&c->ended, 1);
	slot_end_replace(c->s);
	return NULL;
}

/* close() while the commit runs waits for it: the close then acts on the
 * new socket, never between the check and dup3 */
START_TEST(slot_close_waits_for_commit)
{
	struct committer c = { .s = fdtab_get(2200, 1) };
	pthread_t t;
	uint32_t st;
	ck_assert_int_eq(slot_hold(c.s, &st, HOLD_FREE), 1);
	slot_release(c.s, st, SLOT_UNDECIDED);
	ck_assert_int_eq(slot_hold(c.s, &st, 0), 1);
	ck_assert_int_eq(slot_begin_replace(c.s), 1);
	ck_assert_int_eq(slot_begin_commit(c.s), 1);
	pthread_create(&t, NULL, end_commit_later, &c);
	atomic_store(&c.go, 1);
	slot_closing(2200); /* blocks until the other thread ends the commit */
	ck_assert_int_eq(atomic_load(&c.ended), 1);
	pthread_join(t, NULL);
	slot_release(c.s, st, st);
	ck_assert_uint_eq(atomic_load(&c.s->state), 0);
}
END_TEST

/* a fork() while a replacement does not finish: bounded wait, then the
 * replacement must give up (parent and child keep one socket) */
START_TEST(slot_fork_stops_replacement)
{
	struct fd_slot *s = fdtab_get(2300, 1), *u = fdtab_get(2301, 1);
	uint32_t st, ust;
	ck_assert_int_eq(slot_hold(u, &ust, HOLD_FREE), 1);
	slot_release(u, ust, SLOT_UNDECIDED);
	ck_assert_int_eq(slot_hold(s, &st, HOLD_FREE), 1);
	slot_release(s, st, SLOT_UNDECIDED);
	ck_assert_int_eq(slot_hold(s, &st, 0), 1);
	ck_assert_int_eq(slot_begin_replace(s), 1);
	slot_fork_prepare();
	/* no replacement starts while a fork is prepared */
	ck_assert_int_eq(slot_begin_commit(s), 0);
	slot_end_replace(s);
	ck_assert_int_eq(slot_begin_replace(s), 0);
	slot_fork_parent();
	slot_release(s, st, st);
	ck_assert_uint_eq(atomic_load(&s->state), SLOT_UNDECIDED | SLOT_NOREPLACE);
	/* an idle undecided socket is shared by parent and child */
	ck_assert_uint_eq(atomic_load(&u->state), SLOT_UNDECIDED | SLOT_NOREPLACE);
	slot_closing(2300);
	slot_closing(2301);
}
END_TEST

START_TEST(slot_closing_range_skips_holes)
{
	int fds[] = { 3, 300, 70000, FDTAB_MAX_FD - 1 };
	uint32_t st;
	for (unsigned i = 0; i < 4; i++) {
		struct fd_slot *s = fdtab_get(fds[i], 1);
		ck_assert_int_eq(slot_hold(s, &st, HOLD_FREE), 1);
		slot_release(s, st, SLOT_DECIDED);
	}
	slot_closing_range(301, ~0u);
	ck_assert_uint_eq(atomic_load(&fdtab_get(3, 0)->state), SLOT_DECIDED);
	ck_assert_uint_eq(atomic_load(&fdtab_get(300, 0)->state), SLOT_DECIDED);
	ck_assert_uint_eq(atomic_load(&fdtab_get(70000, 0)->state), 0);
	ck_assert_uint_eq(atomic_load(&fdtab_get(FDTAB_MAX_FD - 1, 0)->state), 0);
	slot_closing_range(0, 300);
	ck_assert_uint_eq(atomic_load(&fdtab_get(3, 0)->state), 0);
}
END_TEST

static int keep_emulated(const struct slot_opt *o)
{
	return o->flags & OPT_F_EMULATED;
}

START_TEST(slot_options)
{
	struct fd_slot *s = fdtab_get(3000, 1);
	uint32_t st;
	int one = 1, two = 2;
	unsigned char big[SLOT_OPT_MAXLEN + 1] = { 0 };
	unsigned n;

	ck_assert_int_eq(slot_hold(s, &st, HOLD_FREE), 1);
	s->opts = 0;
	ck_assert_int_eq(slot_put_opt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one), 0), 0);
	ck_assert_int_eq(slot_put_opt(s, SOL_TCP, TCP_MAXSEG, &one, sizeof(one), OPT_F_EMULATED), 0);
	/* the same option again overwrites in place */
	ck_assert_int_eq(slot_put_opt(s, SOL_SOCKET, SO_REUSEADDR, &two, sizeof(two), 0), 0);
	ck_assert_ptr_nonnull(slot_opt_at(s, 1));
	ck_assert_ptr_null(slot_opt_at(s, 2));
	struct slot_opt *o = slot_find_opt(s, SOL_SOCKET, SO_REUSEADDR);
	ck_assert_ptr_nonnull(o);
	ck_assert_int_eq(*(int *)o->val, 2);
	ck_assert_int_eq(slot_find_opt(s, SOL_TCP, TCP_MAXSEG)->flags, OPT_F_EMULATED);
	ck_assert_ptr_null(slot_find_opt(s, SOL_IP, IP_TTL));
	/* too long to remember */
	ck_assert_int_eq(slot_put_opt(s, SOL_TCP, TCP_MD5SIG, big, sizeof(big), 0), -1);
	/* full, in the order they were set */
	for (int i = 0; slot_opt_at(s, SLOT_MAX_OPTS - 1) == NULL; i++)
		ck_assert_int_eq(slot_put_opt(s, 500, i, &one, sizeof(one), 0), 0);
	ck_assert_int_eq(slot_put_opt(s, 501, 0, &one, sizeof(one), 0), -1);
	ck_assert_int_eq(slot_opt_at(s, 0)->name, SO_REUSEADDR);
	ck_assert_int_eq(slot_opt_at(s, 2)->level, 500);
	/* deciding keeps only the emulated values; blocks are reused */
	unsigned long mem = fdtab_memory();
	slot_drop_opts(s, keep_emulated);
	for (n = 0; slot_opt_at(s, n); n++)
		;
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(slot_opt_at(s, 0)->name, TCP_MAXSEG);
	for (int r = 0; r < 1000; r++) {
		for (int i = 0; i < SLOT_MAX_OPTS - 1; i++)
			ck_assert_int_eq(slot_put_opt(s, 600, i, &one, sizeof(one), 0), 0);
		slot_drop_opts(s, keep_emulated);
	}
	ck_assert_uint_eq(fdtab_memory(), mem);
	slot_release(s, st, SLOT_DECIDED);
	slot_closing(3000);
	ck_assert_uint_eq(s->opts, 0);
}
END_TEST

struct race {
	struct fd_slot *s;
	int fd;
	int wins;
	int broken;
};

static void *race_hold(void *p)
{
	struct race *r = p;
	int one = 1;
	for (int i = 0; i < 50000; i++) {
		uint32_t st;
		if (slot_hold(r->s, &st, HOLD_FREE)) {
			/* while held, nobody else may hold it */
			if (slot_opt_at(r->s, 0))
				r->broken++;
			slot_put_opt(r->s, 1, 1, &one, sizeof(one), 0);
			slot_drop_opts(r->s, NULL);
			r->wins++;
			slot_release(r->s, st, SLOT_UNDECIDED);
		}
		if (i % 7 == 0)
			slot_closing(r->fd);
		if (i % 11 == 0)
			slot_touch(r->fd);
	}
	return NULL;
}

START_TEST(slot_hold_threads)
{
	struct race r[4];
	pthread_t t[4];
	struct fd_slot *s = fdtab_get(4000, 1);
	for (int i = 0; i < 4; i++) {
		r[i] = (struct race){ s, 4000, 0, 0 };
		pthread_create(&t[i], NULL, race_hold, &r[i]);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	ck_assert_int_eq(r[0].broken + r[1].broken + r[2].broken + r[3].broken, 0);
	ck_assert_uint_eq(slot_owner(atomic_load(&s->state)), 0);
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
	log_init(); /* the pipe is the stderr this "process" started with */
	lb_start(&lb, LOG_WARN);
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

/* Makes fd 2 the write end of a fresh pipe (the "started with" stderr);
 * returns the read end. */
static int stderr_pipe(void)
{
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(dup2(p[1], 2), 2);
	close(p[1]);
	log_init();
	return p[0];
}

static void emit(const char *text)
{
	struct logbuf lb;
	lb_start(&lb, LOG_WARN);
	lb_str(&lb, text);
	lb_emit(&lb);
}

static int pending(int sig)
{
	sigset_t set;
	sigpending(&set);
	return sigismember(&set, sig);
}

/* nobody reads the stderr pipe any more: no SIGPIPE (default action
 * would kill this forked test), nothing pending */
START_TEST(log_no_sigpipe)
{
	int saved = dup(2), r = stderr_pipe();
	close(r);
	errno = 77;
	emit("into a closed pipe");
	ck_assert_int_eq(errno, 77);
	ck_assert_int_eq(pending(SIGPIPE), 0);
	dup2(saved, 2);
}
END_TEST

/* a full stderr pipe nobody reads: the line is dropped, the call returns */
START_TEST(log_never_blocks)
{
	int saved = dup(2), r = stderr_pipe(), fl;
	char junk[4096];
	memset(junk, 'x', sizeof(junk));
	fl = fcntl(2, F_GETFL);
	fcntl(2, F_SETFL, fl | O_NONBLOCK);
	while (write(2, junk, sizeof(junk)) > 0)
		;
	fcntl(2, F_SETFL, fl); /* the program's descriptor blocks again */
	alarm(10);             /* a hang fails the test instead of the suite */
	emit("into a full pipe");
	alarm(0);
	ck_assert_int_eq(fcntl(2, F_GETFL) & O_NONBLOCK, 0);
	dup2(saved, 2);
	close(r);
}
END_TEST

/* stderr is a regular file and RLIMIT_FSIZE is reached (sshd's
 * pre-authentication child): no SIGXFSZ, nothing written, no partial line */
START_TEST(log_no_sigxfsz)
{
	char path[] = "/tmp/mptcpify-logtest.XXXXXX";
	int saved = dup(2), f = mkstemp(path);
	struct rlimit rl = { (rlim_t)(_i ? 20 : 0), RLIM_INFINITY };
	struct stat st;
	ck_assert_int_ge(f, 0);
	unlink(path);
	dup2(f, 2);
	log_init();
	/* no ck_assert until the limit is lifted: Check writes files too */
	int rc = setrlimit(RLIMIT_FSIZE, &rl);
	emit("a line longer than twenty bytes");
	rl.rlim_cur = RLIM_INFINITY;
	setrlimit(RLIMIT_FSIZE, &rl);
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq(pending(SIGXFSZ), 0);
	ck_assert_int_eq(fstat(f, &st), 0);
	ck_assert_int_eq(st.st_size, 0);
	dup2(saved, 2);
	close(f);
}
END_TEST

/* the program closed its stderr and the number went to a socket: the line
 * must not land in the program's data */
START_TEST(log_not_into_reused_fd2)
{
	int saved = dup(2), r = stderr_pipe(), sv[2];
	char buf[256];
	close(2);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert(sv[0] == 2 || sv[1] == 2);
	emit("must not be seen");
	int peer = sv[0] == 2 ? sv[1] : sv[0];
	ck_assert_int_eq(recv(peer, buf, sizeof(buf), MSG_DONTWAIT), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_int_eq(read(r, buf, 0), 0);
	dup2(saved, 2);
	close(sv[0]);
	close(sv[1]);
	close(r);
}
END_TEST

START_TEST(log_to_file)
{
	char path[] = "/tmp/mptcpify-logfile.XXXXXX", buf[256], want[64];
	int f = mkstemp(path);
	ck_assert_int_ge(f, 0);
	ck_assert_int_eq(log_set_target("relative/path"), -1);
	ck_assert_int_eq(log_set_target(path), 0);
	emit("to the file");
	emit("and again");
	ck_assert_int_eq(log_set_target("stderr"), 0);
	ssize_t n = read(f, buf, sizeof(buf) - 1);
	ck_assert_int_gt(n, 0);
	buf[n] = 0;
	snprintf(want, sizeof(want), "mptcpify[%d]: to the file\n", (int)getpid());
	ck_assert_ptr_eq(strstr(buf, want), buf);
	ck_assert_ptr_nonnull(strstr(buf, "and again\n"));
	close(f);
	unlink(path);
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
	tc = tcase_create("slot");
	tcase_add_loop_test(tc, slot_lifecycle, 0, 3);
	tcase_add_test(tc, slot_close_while_held);
	tcase_add_loop_test(tc, slot_touch_poisons_replacement, 0, 3);
	tcase_add_test(tc, slot_close_waits_for_commit);
	tcase_add_test(tc, slot_fork_stops_replacement);
	tcase_add_test(tc, slot_closing_range_skips_holes);
	tcase_add_test(tc, slot_options);
	tcase_add_test(tc, slot_hold_threads);
	suite_add_tcase(s, tc);
	tc = tcase_create("log");
	tcase_add_test(tc, log_addresses);
	tcase_add_test(tc, log_numbers_and_truncation);
	tcase_add_test(tc, log_levels);
	tcase_add_test(tc, log_emit_preserves_errno);
	tcase_add_test(tc, log_no_sigpipe);
	tcase_add_test(tc, log_never_blocks);
	tcase_add_loop_test(tc, log_no_sigxfsz, 0, 2);
	tcase_add_test(tc, log_not_into_reused_fd2);
	tcase_add_test(tc, log_to_file);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(core_suite());
}
