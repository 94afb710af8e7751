/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* seccomp-filter.c - which calls the supervisor sees. The BPF filter
 * decides in the kernel, on register arguments, so that everything else runs
 * at native speed: socket() only for AF_INET/AF_INET6 stream sockets with
 * protocol 0 or TCP; connect() and listen() only with a policy;
 * setsockopt/getsockopt only for the (level, name) pairs of the option table
 * that this kernel's MPTCP refuses (probed at start-up on fresh MPTCP
 * sockets); sendto/sendmsg only with MSG_FASTOPEN, and only when something
 * can be decided there; unshare/setns/clone only when they can enter another
 * network namespace (the supervisor then asks each process which one it is
 * in before making a socket for it; clone3, whose flags are in memory, gets
 * ENOSYS in the kernel, as under Docker's default profile, and libcs fall
 * back to clone). */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <linux/audit.h>
#include <linux/filter.h>

#include "seccomp.h"

#if defined(__x86_64__)
#define SC_ARCH AUDIT_ARCH_X86_64
#define SC_X32_BIT 0x40000000u /* x32 system calls: not ours */
#elif defined(__aarch64__)
#define SC_ARCH AUDIT_ARCH_AARCH64
#else
#error "the seccomp mode knows x86_64 and aarch64 system call numbers only"
#endif

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ARG_LO(i) (offsetof(struct seccomp_data, args) + 8 * (i))
#else
#define ARG_LO(i) (offsetof(struct seccomp_data, args) + 8 * (i) + 4)
#endif

/* ---- option probes ------------------------------------------------------- */

static int refusal(int err)
{
	return err == EOPNOTSUPP || err == ENOPROTOOPT;
}

bool sc_opt_is_indirect(int level, int name)
{
	return level == SOL_SOCKET &&
	       (name == SO_ATTACH_FILTER || name == SO_ATTACH_BPF ||
		name == SO_ATTACH_REUSEPORT_CBPF || name == SO_ATTACH_REUSEPORT_EBPF);
}

const struct opt_info *sc_opt_find(int level, int name, const struct sc_optinfo **info)
{
	const struct opt_info *o = optclass_find(level, name);

	if (info)
		*info = o && sc.optinfo ? &sc.optinfo[o - optclass_table] : NULL;
	return o;
}

/* Would an MPTCP socket accept MSG_FASTOPEN? A Fast Open send to a listener
 * of our own on loopback answers it: EOPNOTSUPP when refused. */
static void probe_fastopen(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	int l, c, err;

	sc.mptcp_fastopen = sc.k.version >= 602; /* when the probe cannot tell */
	sc.tcp_fastopen = true;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0)
		return;
	if (bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 4) < 0 ||
	    getsockname(l, (struct sockaddr *)&a, &alen) < 0)
		goto out;
	for (int proto = IPPROTO_TCP;; proto = IPPROTO_MPTCP) {
		c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
		if (c < 0)
			break;
		err = sendto(c, "x", 1, MSG_FASTOPEN | MSG_NOSIGNAL, (struct sockaddr *)&a,
			     sizeof(a)) < 0 ? errno : 0;
		close(c);
		if (proto == IPPROTO_TCP) {
			sc.tcp_fastopen = err != EOPNOTSUPP;
			if (!sc.tcp_fastopen)
				break; /* TCP refuses it too: nothing to learn */
			continue;
		}
		if (err == 0 || err == EINPROGRESS || err == EAGAIN)
			sc.mptcp_fastopen = true;
		else if (err == EOPNOTSUPP)
			sc.mptcp_fastopen = false;
		break;
	}
out:
	close(l);
}

void sc_probe_options(void)
{
	int fds[2];
	unsigned n = 0;

	while (optclass_table[n].name)
		n++;
	sc.nopts = n;
	sc.optinfo = calloc(n ? n : 1, sizeof(*sc.optinfo));
	if (!sc.optinfo)
		return;
	fds[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_MPTCP);
	fds[1] = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_MPTCP);
	for (unsigned i = 0; i < n; i++) {
		const struct opt_info *o = &optclass_table[i];
		struct sc_optinfo *p = &sc.optinfo[i];

		for (int f = 0; f < 2; f++) {
			unsigned char buf[64];
			socklen_t len = sizeof(buf);
			int v = o->probe ? o->probe_value : 0;

			if (o->level == SOL_IPV6 && f == 0)
				continue;
			if (fds[f] < 0) {
				/* no MPTCP socket here (disabled, IPv6 off): trap
				 * everything, the handler asks the real socket */
				p->set_refused[f] = p->get_refused[f] = true;
				p->set_err[f] = p->get_err[f] = EOPNOTSUPP;
				continue;
			}
			/* the probe value, or zero: a refusal is by name, before
			 * the value is looked at (pointer options get NULL) */
			if (setsockopt(fds[f], o->level, o->optname, &v, sizeof(v)) < 0 &&
			    refusal(errno)) {
				p->set_refused[f] = true;
				p->set_err[f] = errno;
			}
			memset(buf, 0, sizeof(buf));
			if (getsockopt(fds[f], o->level, o->optname, buf, &len) < 0 &&
			    refusal(errno)) {
				p->get_refused[f] = true;
				p->get_err[f] = errno;
			}
		}
	}
	for (int f = 0; f < 2; f++)
		if (fds[f] >= 0)
			close(fds[f]);
	probe_fastopen();
}

/* ---- the filter ------------------------------------------------------------ */

enum { LB_ALLOW, LB_NOTIFY, LB_ENOSYS, LB_SOCKET, LB_S_TYPE, LB_S_PROTO, LB_SET, LB_GET, LB_SENDTO,
       LB_SENDMSG, LB_NEWNET0, LB_SETNS, LB_LEVEL0 /* then 2 per level: set, get */ };

static const int levels[] = { SOL_SOCKET, SOL_IP, SOL_IPV6, SOL_TCP };
#define NLEVELS (sizeof(levels) / sizeof(levels[0]))
#define NLABELS (LB_LEVEL0 + 2 * NLEVELS)

struct bpf_asm {
	struct sock_filter *ins;
	unsigned n, cap;
	int label_at[NLABELS];      /* instruction index, -1 until placed */
	unsigned fix_at[512];       /* BPF_JA instructions to patch ... */
	int fix_label[512];         /* ... with the label they go to */
	unsigned nfix;
	int err;
};

static void emit(struct bpf_asm *a, uint16_t code, uint32_t k, uint8_t jt, uint8_t jf)
{
	if (a->err)
		return;
	if (a->n == a->cap) {
		unsigned cap = a->cap ? a->cap * 2 : 128;
		struct sock_filter *p = realloc(a->ins, cap * sizeof(*p));
		if (!p) {
			a->err = -ENOMEM;
			return;
		}
		a->ins = p;
		a->cap = cap;
	}
	a->ins[a->n++] = (struct sock_filter)BPF_JUMP(code, k, jt, jf);
}

static void go_to(struct bpf_asm *a, int label)
{
	if (a->nfix >= sizeof(a->fix_at) / sizeof(a->fix_at[0])) {
		a->err = -ENOMEM;
		return;
	}
	a->fix_at[a->nfix] = a->n;
	a->fix_label[a->nfix++] = label;
	emit(a, BPF_JMP | BPF_JA, 0, 0, 0);
}

/* if (A == K) goto LABEL */
static void if_eq(struct bpf_asm *a, uint32_t k, int label)
{
	emit(a, BPF_JMP | BPF_JEQ | BPF_K, k, 0, 1);
	go_to(a, label);
}

static void place(struct bpf_asm *a, int label)
{
	a->label_at[label] = (int)a->n;
}

static void load(struct bpf_asm *a, uint32_t off)
{
	emit(a, BPF_LD | BPF_W | BPF_ABS, off, 0, 0);
}

static unsigned trapped_set, trapped_get;

/* Is the pair trapped for set (WHICH 0) or get (1)? Get is trapped for
 * whatever set is, so that an emulated value reads back. */
static bool trapped(unsigned i, int which)
{
	const struct sc_optinfo *p = &sc.optinfo[i];
	bool set = p->set_refused[0] || p->set_refused[1];

	return which == 0 ? set : set || p->get_refused[0] || p->get_refused[1];
}

/* The block for one of setsockopt (WHICH 0) / getsockopt (1): level, then
 * name. Returns the number of pairs trapped. */
static unsigned sockopt_block(struct bpf_asm *a, int which)
{
	unsigned count = 0;

	place(a, which ? LB_GET : LB_SET);
	load(a, ARG_LO(1));
	for (unsigned l = 0; l < NLEVELS; l++)
		if_eq(a, (uint32_t)levels[l], LB_LEVEL0 + 2 * (int)l + which);
	go_to(a, LB_ALLOW);
	for (unsigned l = 0; l < NLEVELS; l++) {
		place(a, LB_LEVEL0 + 2 * (int)l + which);
		load(a, ARG_LO(2));
		for (unsigned i = 0; sc.optinfo && i < sc.nopts; i++) {
			if (optclass_table[i].level != levels[l] || !trapped(i, which))
				continue;
			if_eq(a, (uint32_t)optclass_table[i].optname, LB_NOTIFY);
			count++;
		}
		go_to(a, LB_ALLOW);
	}
	return count;
}

void sc_filter_counts(unsigned *nset, unsigned *nget)
{
	*nset = trapped_set;
	*nget = trapped_get;
}

int sc_filter_build(const struct sc_config *cfg, struct sock_fprog *prog)
{
	struct bpf_asm a;
	bool trap_socket = cfg->mode != SC_NONE;
	bool trap_decide = cfg->mode == SC_POLICY;
	bool trap_fastopen = cfg->mode == SC_POLICY || (cfg->mode == SC_ALL && !sc.mptcp_fastopen);

	memset(&a, 0, sizeof(a));
	for (unsigned i = 0; i < NLABELS; i++)
		a.label_at[i] = -1;

	load(&a, offsetof(struct seccomp_data, arch));
	emit(&a, BPF_JMP | BPF_JEQ | BPF_K, SC_ARCH, 1, 0);
	go_to(&a, LB_ALLOW); /* another ABI (i386 on x86_64): not seen */
	load(&a, offsetof(struct seccomp_data, nr));
#ifdef SC_X32_BIT
	emit(&a, BPF_JMP | BPF_JGE | BPF_K, SC_X32_BIT, 0, 1);
	go_to(&a, LB_ALLOW);
#endif
	if (trap_socket)
		if_eq(&a, __NR_socket, LB_SOCKET);
	if_eq(&a, __NR_setsockopt, LB_SET);
	if_eq(&a, __NR_getsockopt, LB_GET);
	if (trap_decide) {
		if_eq(&a, __NR_connect, LB_NOTIFY);
		if_eq(&a, __NR_listen, LB_NOTIFY);
	}
	if (trap_fastopen) {
		if_eq(&a, __NR_sendto, LB_SENDTO);
		if_eq(&a, __NR_sendmsg, LB_SENDMSG);
	}
	if (trap_socket) {
		if_eq(&a, __NR_unshare, LB_NEWNET0);
		if_eq(&a, __NR_clone, LB_NEWNET0);
		if_eq(&a, __NR_setns, LB_SETNS);
#ifdef __NR_clone3
		if_eq(&a, __NR_clone3, LB_ENOSYS);
#endif
	}
	place(&a, LB_ALLOW);
	emit(&a, BPF_RET | BPF_K, SECCOMP_RET_ALLOW, 0, 0);
	place(&a, LB_NOTIFY);
	emit(&a, BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF, 0, 0);
	place(&a, LB_ENOSYS);
	emit(&a, BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS, 0, 0);

	if (trap_socket) {
		place(&a, LB_SOCKET);
		load(&a, ARG_LO(0));
		if_eq(&a, AF_INET, LB_S_TYPE);
		if_eq(&a, AF_INET6, LB_S_TYPE);
		go_to(&a, LB_ALLOW);
		place(&a, LB_S_TYPE);
		/* exactly SOCK_STREAM plus the creation flags, as the library:
		 * anything else is the kernel's to refuse */
		load(&a, ARG_LO(1));
		emit(&a, BPF_ALU | BPF_AND | BPF_K, ~(uint32_t)(SOCK_NONBLOCK | SOCK_CLOEXEC), 0, 0);
		if_eq(&a, SOCK_STREAM, LB_S_PROTO);
		go_to(&a, LB_ALLOW);
		place(&a, LB_S_PROTO);
		load(&a, ARG_LO(2));
		if_eq(&a, 0, LB_NOTIFY);
		if_eq(&a, IPPROTO_TCP, LB_NOTIFY);
		go_to(&a, LB_ALLOW);
	}
	if (trap_socket) {
		/* unshare(flags) and clone(flags, ...): flags in the first register */
		place(&a, LB_NEWNET0);
		load(&a, ARG_LO(0));
		emit(&a, BPF_JMP | BPF_JSET | BPF_K, CLONE_NEWNET, 0, 1);
		go_to(&a, LB_NOTIFY);
		go_to(&a, LB_ALLOW);
		/* setns(fd, nstype): 0 (any kind of namespace fd) or CLONE_NEWNET
		 * among the flags (a pidfd) */
		place(&a, LB_SETNS);
		load(&a, ARG_LO(1));
		if_eq(&a, 0, LB_NOTIFY);
		emit(&a, BPF_JMP | BPF_JSET | BPF_K, CLONE_NEWNET, 0, 1);
		go_to(&a, LB_NOTIFY);
		go_to(&a, LB_ALLOW);
	}
	trapped_set = sockopt_block(&a, 0);
	trapped_get = sockopt_block(&a, 1);
	if (trap_fastopen) {
		place(&a, LB_SENDTO);
		load(&a, ARG_LO(3));
		emit(&a, BPF_JMP | BPF_JSET | BPF_K, MSG_FASTOPEN, 0, 1);
		go_to(&a, LB_NOTIFY);
		go_to(&a, LB_ALLOW);
		place(&a, LB_SENDMSG);
		load(&a, ARG_LO(2));
		emit(&a, BPF_JMP | BPF_JSET | BPF_K, MSG_FASTOPEN, 0, 1);
		go_to(&a, LB_NOTIFY);
		go_to(&a, LB_ALLOW);
	}
	if (a.err) {
		free(a.ins);
		return a.err;
	}
	/* every jump goes forward, to a label placed above or below */
	for (unsigned i = 0; i < a.nfix; i++) {
		int to = a.label_at[a.fix_label[i]];
		if (to < 0 || (unsigned)to <= a.fix_at[i]) {
			if (to >= 0 && (unsigned)to <= a.fix_at[i]) {
				/* a backward target (ALLOW/NOTIFY sit in the middle):
				 * duplicate the return instead */
				a.ins[a.fix_at[i]] = a.ins[to];
				continue;
			}
			free(a.ins);
			return -EINVAL;
		}
		a.ins[a.fix_at[i]].k = (uint32_t)(to - (int)a.fix_at[i] - 1);
	}
	if (a.n > BPF_MAXINSNS) {
		free(a.ins);
		return -E2BIG;
	}
	prog->len = (unsigned short)a.n;
	prog->filter = a.ins;
	return 0;
}
