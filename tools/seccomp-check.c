/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* seccomp-check.c - what `mptcpify-run --check` says about the seccomp
 * mode: whether it can run here, from which kernel each feature it uses
 * comes, and a trial run in a child that exercises them all (socket()
 * answered through ADDFD, listen() continued on a socket put over the same
 * fd with SETFD). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "run.h"
#include "seccomp.h"

typedef void (*line_fn)(void *ctx, const char *level, const char *line);

static void say(line_fn cb, void *ctx, const char *level, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void say(line_fn cb, void *ctx, const char *level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	cb(ctx, level, line);
}

static int proto_of(int fd)
{
	int v = -1;
	socklen_t l = sizeof(v);

	return getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &v, &l) < 0 ? -1 : v;
}

/* Waits up to 2 s for a notification and reads it. */
static int recv_notif(int listener, struct seccomp_notif *req)
{
	struct pollfd p = { listener, POLLIN, 0 };

	if (poll(&p, 1, 2000) != 1 || !(p.revents & POLLIN))
		return -ETIMEDOUT;
	memset(req, 0, sc.sizes.seccomp_notif);
	return ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, req) < 0 ? -errno : 0;
}

/* The trial: a child traps its own socket() and listen(); we answer the
 * first with a socket of ours (MPTCP when the kernel makes one) through
 * ADDFD, and the second by putting a TCP socket over its fd (pidfd_getfd,
 * ADDFD with SETFD) and letting the call continue. The child reports the
 * protocols it saw. Returns 0, or -1 with WHY. */
static int trial(bool *got_mptcp, bool *sync, char *why, size_t len)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_socket, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_listen, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };
	struct seccomp_notif *req = calloc(1, sc.sizes.seccomp_notif);
	int sp[2], res[4] = { -1, -1, -1, -1 }, listener = -1, ok = -1, status;
	char cbuf[CMSG_SPACE(sizeof(int))];
	pid_t pid;

	if (!req || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
		snprintf(why, len, "cannot set up the trial: %s", strerror(errno));
		free(req);
		return -1;
	}
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		struct iovec iov = { res, sizeof(int) };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
		int fd, s;
		close(sp[0]);
		alarm(5);
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
		    (fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
				       SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog)) < 0) {
			res[0] = errno;
			send(sp[1], res, sizeof(int), 0);
			_exit(1);
		}
		res[0] = 0;
		m.msg_control = cbuf;
		m.msg_controllen = sizeof(cbuf);
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
		if (sendmsg(sp[1], &m, 0) < 0)
			_exit(1);
		close(fd);
		s = (int)syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
		res[0] = s < 0 ? -errno : 0;
		res[1] = proto_of(s);
		res[2] = syscall(SYS_listen, s, 1) < 0 ? -errno : 0;
		res[3] = proto_of(s);
		send(sp[1], res, sizeof(res), 0);
		_exit(0);
	}
	close(sp[1]);
	if (pid < 0) {
		snprintf(why, len, "cannot fork: %s", strerror(errno));
		goto out;
	}
	{
		struct iovec iov = { res, sizeof(int) };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
				    .msg_controllen = sizeof(cbuf) };
		struct cmsghdr *c;
		if (recvmsg(sp[0], &m, MSG_CMSG_CLOEXEC) < (ssize_t)sizeof(int) ||
		    !(c = CMSG_FIRSTHDR(&m))) {
			snprintf(why, len, "the child could not install a filter with a "
				 "listener: %s", res[0] > 0 ? strerror(res[0]) : "?");
			goto out;
		}
		memcpy(&listener, CMSG_DATA(c), sizeof(int));
	}
	sc.listener = listener; /* for the answer helpers */
	*sync = ioctl(listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS,
		      (uint64_t)SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) == 0;
	struct sc_target t;
	int rc = recv_notif(listener, req), mine, copy, tcp;
	if (rc < 0) {
		snprintf(why, len, "no notification for the child's socket(): %s", strerror(-rc));
		goto out;
	}
	sc_target_init(&t, req);
	mine = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_MPTCP);
	*got_mptcp = mine >= 0;
	if (mine < 0)
		mine = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
	rc = sc_addfd(&t, mine, -1, false, sc.k.addfd_send);
	if (rc >= 0 && !sc.k.addfd_send)
		sc_answer_value(&t, rc);
	close(mine);
	if (rc < 0) {
		snprintf(why, len, "SECCOMP_IOCTL_NOTIF_ADDFD fails: %s", strerror(-rc));
		goto out;
	}
	rc = recv_notif(listener, req);
	if (rc < 0) {
		snprintf(why, len, "no notification for the child's listen(): %s", strerror(-rc));
		goto out;
	}
	sc_target_init(&t, req);
	copy = sc_target_getfd(&t, (int)req->data.args[0]);
	if (copy < 0) {
		snprintf(why, len, "pidfd_getfd on the child fails: %s", strerror(-copy));
		sc_continue(&t);
		sc_target_done(&t);
		goto out;
	}
	close(copy);
	tcp = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
	rc = sc_addfd(&t, tcp, (int)req->data.args[0], false, false);
	close(tcp);
	sc_continue(&t);
	sc_target_done(&t);
	if (rc < 0) {
		snprintf(why, len, "SECCOMP_IOCTL_NOTIF_ADDFD with SETFD fails: %s", strerror(-rc));
		goto out;
	}
	if (recv(sp[0], res, sizeof(res), 0) != sizeof(res)) {
		snprintf(why, len, "the child did not report");
		goto out;
	}
	if (res[0] < 0 || res[1] != (*got_mptcp ? IPPROTO_MPTCP : IPPROTO_TCP) || res[2] < 0 ||
	    res[3] != IPPROTO_TCP) {
		snprintf(why, len, "the child saw socket() %d protocol %d, listen() %d protocol %d",
			 res[0], res[1], res[2], res[3]);
		goto out;
	}
	ok = 0;
out:
	if (listener >= 0)
		close(listener);
	sc.listener = -1;
	close(sp[0]);
	if (pid > 0) {
		kill(pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	free(req);
	return ok;
}

int sc_check(const struct run_settings *s, line_fn cb, void *ctx)
{
	char why[512];
	bool mptcp = false, sync = false;
	struct sock_fprog prog = { 0, NULL };
	unsigned nset = 0, nget = 0;

	if (sc_kernel_probe(&sc.k, why, sizeof(why)) < 0) {
		say(cb, ctx, "warn", "seccomp mode: --seccomp cannot run here: %s", why);
		return -1;
	}
	say(cb, ctx, "ok", "seccomp mode: kernel %s has user notification (5.0), CONTINUE "
	    "(5.5), pidfd_getfd (5.6), ADDFD with SETFD (5.9)", sc.k.release);
	if (trial(&mptcp, &sync, why, sizeof(why)) < 0) {
		say(cb, ctx, "warn", "seccomp mode: --seccomp cannot run here: trial run: %s", why);
		return -1;
	}
	say(cb, ctx, "ok", "seccomp mode: trial run: a child's raw socket() got %s socket "
	    "through ADDFD, its listen() continued on a socket put over the same fd",
	    mptcp ? "an MPTCP" : "a (TCP: MPTCP is refused here)");
	if (sc.k.addfd_send)
		say(cb, ctx, "ok", "seccomp mode: ADDFD_FLAG_SEND (5.14): socket() is answered "
		    "in one step");
	else
		say(cb, ctx, "warn", "seccomp mode: no ADDFD_FLAG_SEND (5.14): socket() is "
		    "answered in two steps, and a signal between them leaves an unused fd");
	if (sc.k.killable)
		say(cb, ctx, "ok", "seccomp mode: WAIT_KILLABLE_RECV (5.19): a signal does not "
		    "interrupt a call being handled");
	else
		say(cb, ctx, "warn", "seccomp mode: no WAIT_KILLABLE_RECV (5.19): a signal "
		    "during a handled call makes the call start again");

	if (sync)
		say(cb, ctx, "ok", "seccomp mode: SYNC_WAKE_UP (6.6): the program and the "
		    "supervisor hand over on one CPU");
	else
		say(cb, ctx, "warn", "seccomp mode: no SYNC_WAKE_UP (6.6): each intercepted "
		    "call wakes the other side across CPUs (about twice the CPU time)");

	{
		/* how the target's memory is reached (seccomp-target.c) */
		char a = 1, b = 0;
		struct iovec l = { &b, 1 }, r = { &a, 1 };
		if (process_vm_readv(getpid(), &l, 1, &r, 1, 0) == 1)
			say(cb, ctx, "ok", "seccomp mode: process_vm_readv/writev (3.2) reach the "
			    "program's memory");
		else
			say(cb, ctx, "ok", "seccomp mode: no process_vm_readv here (%s: "
			    "CONFIG_CROSS_MEMORY_ATTACH off?): the program's memory is reached "
			    "through /proc/PID/mem", strerror(errno));
	}

	/* what the filter would trap, with these settings */
	memset(&sc.cfg, 0, sizeof(sc.cfg));
	sc.cfg.mode = !s->policy ? SC_ALL : policy_rule_count(s->policy) ? SC_POLICY : SC_NONE;
	sc.cfg.opts = &s->overrides;
	sc_probe_options();
	if (sc_filter_build(&sc.cfg, &prog) == 0) {
		sc_filter_counts(&nset, &nget);
		free(prog.filter);
	}
	say(cb, ctx, "ok", "seccomp mode: MPTCP refuses %u option(s) of the table here: "
	    "setsockopt is trapped for those, getsockopt for %u; everything else runs "
	    "untouched", nset, nget);
	if (s->verbose && sc.optinfo)
		for (unsigned i = 0; i < sc.nopts; i++)
			if (sc.optinfo[i].set_refused[0] || sc.optinfo[i].set_refused[1])
				say(cb, ctx, "ok", "seccomp mode: trapped: %s (class %s)",
				    optclass_table[i].name,
				    optclass_name(optclass_get(&s->overrides,
							       optclass_table[i].level,
							       optclass_table[i].optname)));
	if (sc.mptcp_fastopen)
		say(cb, ctx, "ok", "seccomp mode: MPTCP accepts MSG_FASTOPEN here (6.2+)");
	else
		say(cb, ctx, "warn", "seccomp mode: MPTCP refuses MSG_FASTOPEN here (before "
		    "6.2): a Fast Open send on an undecided socket steps down to TCP");
	say(cb, ctx, "ok", "seccomp mode: the command runs with no_new_privs: setuid programs "
	    "inside it run without their privileges; io_uring is not seen");
	return 0;
}
