/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* seccomp-notify.c - one handler per trapped call, with the library's
 * semantics (lib/socket.c, connect.c, send.c, sockopt.c): socket() answered
 * with an MPTCP socket of the supervisor's making (all-mode, or as the
 * strategy predicts), the policy deciding at listen(), connect() and
 * MSG_FASTOPEN sends, the socket replaced over the same fd number when its
 * protocol must change, kernel refusals falling back to TCP, refused options
 * emulated, stepping down or failing by class. Every notification is
 * answered: CONTINUE whenever the supervisor has nothing to do or cannot
 * reach the target, so that the kernel answers as it would without us. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/mptcp.h>

#include "seccomp.h"

#define TCP_MSS_DEFAULT_VALUE 536 /* what TCP reports before a connection */

static int fam_index(int family)
{
	return family == AF_INET6;
}

static int refusal(int err)
{
	return err == EOPNOTSUPP || err == ENOPROTOOPT;
}

static int is_mptcp_refusal(int err)
{
	return err == EINVAL || err == EPROTONOSUPPORT || err == ENOPROTOOPT ||
	       err == EACCES || err == EPERM;
}

/* ---- small socket queries --------------------------------------------------- */

static int int_opt(int fd, int level, int name)
{
	int v = -1;
	socklen_t l = sizeof(v);

	return getsockopt(fd, level, name, &v, &l) < 0 ? -1 : v;
}

int sc_sock_protocol(int fd)
{
	return int_opt(fd, SOL_SOCKET, SO_PROTOCOL);
}

int sc_sock_domain(int fd)
{
	return int_opt(fd, SOL_SOCKET, SO_DOMAIN);
}

uint64_t sc_sock_id(int fd)
{
	uint64_t cookie = 0;
	socklen_t len = sizeof(cookie);
	struct stat st;

	if (getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &len) == 0 && cookie)
		return cookie;
	return fstat(fd, &st) == 0 ? (uint64_t)st.st_ino | (1ULL << 63) : 0;
}

/* ---- the kernel's refusal of MPTCP, per network namespace ------------------- */

#define NS_SLOTS 32
static struct {
	_Atomic uint64_t ns;
	atomic_int err[2];
} refused_tab[NS_SLOTS];

int sc_refused(ino_t ns, int family)
{
	for (unsigned i = 0; i < NS_SLOTS; i++) {
		uint64_t v = atomic_load_explicit(&refused_tab[i].ns, memory_order_acquire);
		if (!v)
			return 0;
		if (v == (uint64_t)ns)
			return atomic_load_explicit(&refused_tab[i].err[fam_index(family)],
						    memory_order_relaxed);
	}
	return 0;
}

void sc_set_refused(ino_t ns, int family, int err)
{
	for (unsigned i = 0; i < NS_SLOTS; i++) {
		uint64_t expected = 0;
		if (atomic_compare_exchange_strong(&refused_tab[i].ns, &expected, (uint64_t)ns) ||
		    expected == (uint64_t)ns) {
			atomic_store(&refused_tab[i].err[fam_index(family)], err);
			return;
		}
	}
	/* more namespaces than slots: the next socket there asks the kernel again */
}

/* ---- socket() ------------------------------------------------------------------ */

static bool want_mptcp_at_socket(int domain)
{
	if (sc.cfg.mode == SC_ALL || sc.cfg.strategy == SC_MPTCP_FIRST)
		return true;
	if (sc.cfg.strategy == SC_TCP_FIRST)
		return false;
	/* programs make runs of alike connections: start as the last did */
	return atomic_load_explicit(&sc.last_connect_proto[fam_index(domain)],
				    memory_order_relaxed) == IPPROTO_MPTCP;
}

static void handle_socket(struct sc_target *t)
{
	int domain = (int)t->req->data.args[0];
	int type = (int)t->req->data.args[1];
	bool cloexec = type & SOCK_CLOEXEC;
	ino_t ns;
	uint64_t id;
	int fd, r, err;

	if (!want_mptcp_at_socket(domain)) {
		sc_continue(t); /* predicted TCP: the program makes it itself */
		return;
	}
	ns = sc_target_netns(t);
	if (sc_refused(ns, domain)) {
		if (sc.cfg.mode == SC_ALL)
			atomic_fetch_add(&sc.stats.fell_back, 1);
		sc_continue(t);
		return;
	}
	fd = sc_target_socket(t, ns, domain, type & ~SOCK_CLOEXEC, IPPROTO_MPTCP);
	if (fd < 0) {
		err = -fd;
		if (err == EXDEV)
			sc_warn_once(SC_ONCE_NETNS, t->tid,
				     "a process is in another network namespace, where the "
				     "supervisor cannot make sockets (that needs CAP_SYS_ADMIN): "
				     "its sockets stay TCP");
		else if (is_mptcp_refusal(err)) {
			sc_set_refused(ns, domain, err);
			sc_note_refusal(t->tid, domain, err);
		}
		/* refused, or EMFILE/ENOBUFS here: the program makes its TCP
		 * socket itself and gets the kernel's own answer for it */
		if (sc.cfg.mode == SC_ALL && (err == EXDEV || is_mptcp_refusal(err)))
			atomic_fetch_add(&sc.stats.fell_back, 1);
		sc_continue(t);
		return;
	}
	/* remembered before the target can use it: its next call may be
	 * handled by another worker at once */
	id = sc_sock_id(fd);
	pthread_mutex_lock(&sc.lock);
	struct sc_sock *s = sc_state_add(id);
	if (s)
		s->flags = SC_S_OURS;
	pthread_mutex_unlock(&sc.lock);

	if (sc.k.addfd_send) {
		r = sc_addfd(t, fd, -1, cloexec, true);
		if (r < 0 && r != -ENOENT)
			sc_answer_error(t, -r); /* EMFILE: the target's table is full */
	} else {
		/* before 5.14: install, then answer with the number */
		r = sc_addfd(t, fd, -1, cloexec, false);
		if (r >= 0)
			sc_answer_value(t, r);
		else if (r != -ENOENT)
			sc_answer_error(t, -r);
	}
	close(fd);
	if (r < 0) {
		pthread_mutex_lock(&sc.lock);
		sc_state_del(id);
		pthread_mutex_unlock(&sc.lock);
		return;
	}
	if (sc.cfg.mode == SC_ALL)
		atomic_fetch_add(&sc.stats.upgraded, 1);
	if (log_enabled(LOG_DEBUG)) {
		struct logbuf lb;
		sc_lb_start(&lb, t->tid);
		lb_str(&lb, "fd ");
		lb_int(&lb, r);
		lb_str(&lb, domain == AF_INET6 ? ": socket(AF_INET6)" : ": socket(AF_INET)");
		lb_str(&lb, " answered with an MPTCP socket");
		lb_emit(&lb);
	}
}

/* ---- listen(), connect(), MSG_FASTOPEN: the policy decides ------------------- */

/* The local address a listener will have: binds to the wildcard address with
 * port 0 first if the program did not bind (listen() would do just that). */
static int listen_address(int fd, struct sockaddr_storage *ss, socklen_t *len)
{
	*len = sizeof(*ss);
	if (getsockname(fd, (struct sockaddr *)ss, len) < 0)
		return -1;
	int family = ss->ss_family;
	if ((family == AF_INET && ((struct sockaddr_in *)ss)->sin_port == 0) ||
	    (family == AF_INET6 && ((struct sockaddr_in6 *)ss)->sin6_port == 0)) {
		struct sockaddr_storage any;
		memset(&any, 0, sizeof(any));
		any.ss_family = (sa_family_t)family;
		if (bind(fd, (struct sockaddr *)&any,
			 family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)) < 0 &&
		    errno != EINVAL)
			return -1;
		*len = sizeof(*ss);
		if (getsockname(fd, (struct sockaddr *)ss, len) < 0)
			return -1;
	}
	return 0;
}

static bool listening(int fd)
{
	int acc = 0;
	socklen_t l = sizeof(acc);

	return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &l) == 0 && acc;
}

static void log_decision(pid_t pid, int fd, enum policy_dir dir, const struct sockaddr *sa,
			 socklen_t len, int proto, unsigned rule, const char *note)
{
	struct logbuf lb;
	size_t tlen = 0;
	const char *text;

	if (!log_enabled(LOG_INFO))
		return;
	sc_lb_start(&lb, pid);
	lb_str(&lb, "fd ");
	lb_int(&lb, fd);
	lb_str(&lb, dir == POLICY_LISTEN ? " listen " : " connect ");
	lb_addr(&lb, sa, len);
	lb_str(&lb, proto == IPPROTO_MPTCP ? ": mptcp" : ": tcp");
	if (note) {
		lb_str(&lb, " (");
		lb_str(&lb, note);
		lb_str(&lb, ")");
	} else if (rule && (text = policy_rule_text(sc.cfg.policy, rule, &tlen))) {
		lb_str(&lb, " (rule ");
		lb_uint(&lb, rule);
		lb_str(&lb, " \"");
		lb_strn(&lb, text, tlen);
		lb_str(&lb, "\")");
	} else {
		lb_str(&lb, " (no rule matched)");
	}
	lb_emit(&lb);
}

static void warn_unreachable(const struct sc_target *t, int err)
{
	if (err == -EPERM || err == -EACCES)
		sc_warn_once(SC_ONCE_PTRACE, t->tid,
			     "cannot reach a process's sockets or memory (ptrace access "
			     "denied: not dumpable, or another user): its calls go to the "
			     "kernel unchanged");
}

/* Decides the socket at FD of the target for DIR and SA (the destination;
 * NULL for listeners: read from the socket). Replaces it when its protocol
 * must change. Never answers the notification. */
static void decide(struct sc_target *t, int fd, enum policy_dir dir, const struct sockaddr *sa,
		   socklen_t len)
{
	struct sockaddr_storage local;
	struct sc_sock *s;
	const char *note = NULL;
	unsigned rule = 0;
	int copy, proto, family, want, rc;
	bool counted;
	uint64_t id;
	ino_t ns;

	copy = sc_target_getfd(t, fd);
	if (copy < 0) {
		warn_unreachable(t, copy);
		return;
	}
	proto = sc_sock_protocol(copy);
	if (proto != IPPROTO_TCP && proto != IPPROTO_MPTCP) {
		close(copy);
		return;
	}
	id = sc_sock_id(copy);
	pthread_mutex_lock(&sc.lock);
	s = sc_state_get(id);
	/* an MPTCP socket the program asked for itself is never touched; a
	 * TCP one is a candidate until decided (as the library's, it came
	 * from socket(): accepted sockets are connected). The kernel's own
	 * state is asked before a replacement, as the library does. */
	if ((proto == IPPROTO_MPTCP && !(s && (s->flags & SC_S_OURS))) ||
	    (s && (s->flags & SC_S_DECIDED)))
		goto out;
	if (dir == POLICY_LISTEN) {
		if (listening(copy) || listen_address(copy, &local, &len) < 0)
			goto out;
		sa = (struct sockaddr *)&local;
	}
	family = sa->sa_family;
	if (family != AF_INET && family != AF_INET6)
		goto out;
	want = policy_decide(sc.cfg.policy, dir, sa, len, &rule) == POLICY_MPTCP ? IPPROTO_MPTCP
										 : IPPROTO_TCP;
	ns = want == IPPROTO_MPTCP ? sc_target_netns(t) : 0;
	counted = true;
	if (want == IPPROTO_MPTCP && s && (s->flags & SC_S_PINNED_TCP)) {
		want = IPPROTO_TCP;
		note = "kept TCP: a TCP-only option is set";
		atomic_fetch_add(&sc.stats.stepped_down, 1);
	} else if (want == IPPROTO_MPTCP && sc_refused(ns, family)) {
		want = IPPROTO_TCP;
		note = "kernel refuses MPTCP";
		atomic_fetch_add(&sc.stats.fell_back, 1);
	} else {
		counted = false;
	}
	if (dir == POLICY_CONNECT)
		atomic_store(&sc.last_connect_proto[fam_index(family)], want);
	if (want != proto) {
		struct sc_sock *n = NULL;
		/* connected or connecting behind our back (io_uring): never swapped */
		if (!sc_undecided(copy))
			goto out;
		rc = sc_replace(t, fd, copy, s, want, &n);
		if (rc == -ENOENT)
			goto out; /* the caller was interrupted: its call comes again */
		if (rc == 0) {
			s = n;
			proto = want;
		} else {
			note = rc == -EXDEV ? "another network namespace: left as it is"
					    : "could not replace the socket: left as it is";
			if (want == IPPROTO_MPTCP && is_mptcp_refusal(-rc)) {
				sc_set_refused(ns, family, -rc);
				sc_note_refusal(t->tid, family, -rc);
				note = "kernel refuses MPTCP";
			}
			if (log_enabled(LOG_DEBUG)) {
				struct logbuf lb;
				sc_lb_start(&lb, t->tid);
				lb_str(&lb, "fd ");
				lb_int(&lb, fd);
				lb_str(&lb, ": replacement failed: ");
				lb_errno(&lb, -rc);
				lb_emit(&lb);
			}
		}
	}
	/* counted by what the socket ends up as */
	if (!counted) {
		if (proto == IPPROTO_MPTCP)
			atomic_fetch_add(&sc.stats.upgraded, 1);
		else if (want == IPPROTO_TCP)
			atomic_fetch_add(&sc.stats.kept_policy, 1);
		else
			atomic_fetch_add(&sc.stats.fell_back, 1);
	}
	if (!s)
		s = sc_state_add(id);
	if (s)
		s->flags |= SC_S_DECIDED;
	log_decision(t->tid, fd, dir, sa, len, proto, rule, note);
out:
	pthread_mutex_unlock(&sc.lock);
	close(copy);
}

/* Reads a socket address of LEN bytes at ADDR; 0 when it is AF_INET/6. */
static int read_inet_addr(struct sc_target *t, uint64_t addr, uint64_t len,
			  struct sockaddr_storage *ss, socklen_t *slen)
{
	if (!addr || len < sizeof(sa_family_t) || len > 0x7fffffff)
		return -1;
	*slen = len > sizeof(*ss) ? sizeof(*ss) : (socklen_t)len;
	memset(ss, 0, sizeof(*ss));
	if (sc_target_read(t, addr, ss, *slen) < 0)
		return -1;
	return ss->ss_family == AF_INET || ss->ss_family == AF_INET6 ? 0 : -1;
}

static void handle_connect(struct sc_target *t)
{
	struct sockaddr_storage ss;
	socklen_t len;

	/* a bad pointer is the kernel's EFAULT to give, not ours */
	if (read_inet_addr(t, t->req->data.args[1], t->req->data.args[2], &ss, &len) == 0)
		decide(t, (int)t->req->data.args[0], POLICY_CONNECT, (struct sockaddr *)&ss, len);
	sc_continue(t);
}

static void handle_listen(struct sc_target *t)
{
	decide(t, (int)t->req->data.args[0], POLICY_LISTEN, NULL, 0);
	sc_continue(t);
}

/* Would TCP itself accept MSG_FASTOPEN (net.ipv4.tcp_fastopen has the client
 * bit)? When it would not, TCP gives the same EOPNOTSUPP. */
static bool tcp_client_fastopen(void)
{
	char buf[16] = "";
	int fd = open("/proc/sys/net/ipv4/tcp_fastopen", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return true;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n <= 0 || ((buf[0] - '0') & 1);
}

/* A MSG_FASTOPEN send on an undecided MPTCP socket of ours, on a kernel
 * whose MPTCP refuses it (before 6.2): the socket steps down to TCP first,
 * as the library does after the refusal, since TCP would not have failed. */
static void fastopen_stepdown(struct sc_target *t, int fd)
{
	struct sc_sock *s, *n = NULL;
	int copy;

	if (sc.mptcp_fastopen || !tcp_client_fastopen())
		return;
	copy = sc_target_getfd(t, fd);
	if (copy < 0)
		return;
	pthread_mutex_lock(&sc.lock);
	s = sc_state_get(sc_sock_id(copy));
	if (s && (s->flags & SC_S_OURS) && sc_sock_protocol(copy) == IPPROTO_MPTCP &&
	    sc_undecided(copy) && sc_replace(t, fd, copy, s, IPPROTO_TCP, &n) == 0) {
		n->flags |= SC_S_DECIDED;
		atomic_fetch_add(&sc.stats.stepped_down, 1);
		if (log_enabled(LOG_INFO)) {
			struct logbuf lb;
			sc_lb_start(&lb, t->tid);
			lb_str(&lb, "MSG_FASTOPEN refused on an MPTCP socket: stepped down to TCP");
			lb_emit(&lb);
		}
	}
	pthread_mutex_unlock(&sc.lock);
	close(copy);
}

static void handle_fastopen(struct sc_target *t, bool is_sendmsg)
{
	int fd = (int)t->req->data.args[0];
	struct sockaddr_storage ss;
	socklen_t len;
	uint64_t name = 0, namelen = 0;

	if (sc.cfg.mode == SC_POLICY) {
		if (is_sendmsg) {
			struct msghdr m;
			if (t->req->data.args[1] &&
			    sc_target_read(t, t->req->data.args[1], &m, sizeof(m)) == 0) {
				name = (uint64_t)(uintptr_t)m.msg_name;
				namelen = m.msg_namelen;
			}
		} else {
			name = t->req->data.args[4];
			namelen = t->req->data.args[5];
		}
		if (read_inet_addr(t, name, namelen, &ss, &len) == 0)
			decide(t, fd, POLICY_CONNECT, (struct sockaddr *)&ss, len);
	}
	fastopen_stepdown(t, fd);
	sc_continue(t);
}

/* ---- setsockopt(), getsockopt(): option classes ---------------------------- */

/* Says once per option, at info, that it is being emulated. */
static void note_emulated(pid_t pid, const struct opt_info *o)
{
	static atomic_ulong logged[2];
	unsigned idx = o ? (unsigned)(o - optclass_table) : 127;
	unsigned long bit = 1UL << (idx % 64);
	struct logbuf lb;

	atomic_fetch_add(&sc.stats.emulated, 1);
	if (!log_enabled(LOG_INFO) || (atomic_fetch_or(&logged[(idx / 64) & 1], bit) & bit))
		return;
	sc_lb_start(&lb, pid);
	lb_str(&lb, "MPTCP socket refuses ");
	lb_str(&lb, o ? o->name : "an option");
	lb_str(&lb, ": emulated (value remembered and read back)");
	lb_emit(&lb);
}

/* Does an option set on a TCP socket keep it TCP? Those of class tcp that no
 * kernel accepts on MPTCP sockets (TCP_MD5SIG, SO_ATTACH_*...): as the
 * library, they pin an undecided socket to TCP. */
static bool pins_tcp(const struct opt_info *o)
{
	return o && o->dflt == OPT_TCP && o->since == 0;
}

/* Remembers the (validated) value as emulated on the socket ID. */
static int emulate(const struct sc_target *t, uint64_t id, const struct opt_info *o, int level,
		   int name, const void *val, socklen_t len)
{
	struct sc_sock *s;
	int rc = -ENOMEM;

	pthread_mutex_lock(&sc.lock);
	s = sc_state_add(id);
	if (s)
		rc = sc_emu_put(s, level, name, val, len);
	pthread_mutex_unlock(&sc.lock);
	if (rc == 0)
		note_emulated(t->tid, o);
	return rc;
}

/* Steps the target's undecided MPTCP socket at FD (ours) down to TCP.
 * Returns 0 when it is now TCP. */
static int step_down(struct sc_target *t, int fd, int copy, uint64_t id, const struct opt_info *o)
{
	struct sc_sock *s, *n = NULL;
	int rc = -EBUSY;

	pthread_mutex_lock(&sc.lock);
	s = sc_state_get(id);
	if (s && (s->flags & SC_S_OURS) && !(s->flags & SC_S_DECIDED) && sc_undecided(copy))
		rc = sc_replace(t, fd, copy, s, IPPROTO_TCP, &n);
	if (rc == 0)
		n->flags |= SC_S_PINNED_TCP;
	pthread_mutex_unlock(&sc.lock);
	if (rc == 0) {
		atomic_fetch_add(&sc.stats.stepped_down, 1);
		if (log_enabled(LOG_INFO)) {
			struct logbuf lb;
			sc_lb_start(&lb, t->tid);
			lb_str(&lb, "fd ");
			lb_int(&lb, fd);
			lb_str(&lb, ": MPTCP refuses ");
			lb_str(&lb, o ? o->name : "an option");
			lb_str(&lb, ": socket made plain TCP before connecting");
			lb_emit(&lb);
		}
	}
	return rc;
}

/* Is VAL what a fresh TCP socket of FAMILY reports for the option? */
static bool is_tcp_default(const struct sc_target *t, int family, int level, int name,
			   const void *val, socklen_t len)
{
	unsigned char dflt[SC_OPT_MAXLEN];
	socklen_t dlen = sizeof(dflt);

	if (!val || len == 0 || len > sizeof(dflt))
		return false;
	if (sc_tcp_default(t, family, level, name, dflt, &dlen) < 0 || dlen != len)
		return false;
	return memcmp(dflt, val, len) == 0;
}

#define VAL_MAX 256 /* longest option value read from the target */

static void handle_setsockopt(struct sc_target *t)
{
	int fd = (int)t->req->data.args[0];
	int level = (int)t->req->data.args[1];
	int name = (int)t->req->data.args[2];
	uint64_t uval = t->req->data.args[3];
	int len = (int)t->req->data.args[4];
	unsigned char val[VAL_MAX], norm[SC_OPT_MAXLEN];
	socklen_t nlen = sizeof(norm);
	const struct sc_optinfo *info;
	const struct opt_info *o = sc_opt_find(level, name, &info);
	bool indirect = sc_opt_is_indirect(level, name);
	int copy, proto, family, err, rc;
	uint64_t id;

	copy = sc_target_getfd(t, fd);
	if (copy < 0) {
		warn_unreachable(t, copy);
		sc_continue(t);
		return;
	}
	proto = sc_sock_protocol(copy);
	/* the value, unless the kernel should give EFAULT/EINVAL itself */
	if ((proto != IPPROTO_TCP && proto != IPPROTO_MPTCP) || len < 0 || len > VAL_MAX ||
	    (len > 0 && !uval) || (!indirect && sc_target_read(t, uval, val, (size_t)len) < 0) ||
	    !sc_target_check(t))
		goto cont;
	family = sc_sock_domain(copy);
	id = sc_sock_id(copy);

	if (proto == IPPROTO_TCP) {
		/* remembered for a later upgrade: a socket with such an
		 * option set must stay TCP (the value cannot be read back) */
		if (pins_tcp(o) &&
		    (indirect || !is_tcp_default(t, family, level, name, val, (socklen_t)len))) {
			pthread_mutex_lock(&sc.lock);
			struct sc_sock *s = sc_state_add(id);
			if (s && !(s->flags & SC_S_DECIDED))
				s->flags |= SC_S_PINNED_TCP;
			pthread_mutex_unlock(&sc.lock);
		}
		goto cont;
	}

	/* MPTCP. The real call first (on our copy of the same socket, so the
	 * option is set for the target), unless the value holds a pointer or
	 * an fd of the target: then the start-up probe tells. */
	if (!indirect) {
		if (setsockopt(copy, level, name, val, (socklen_t)len) == 0) {
			sc_answer_value(t, 0);
			goto done;
		}
		err = errno;
		if (err == EPERM || err == EACCES)
			goto cont; /* a privilege of the target's, perhaps */
		if (!refusal(err)) {
			sc_answer_error(t, err);
			goto done;
		}
	} else {
		if (!info || !info->set_refused[fam_index(family)])
			goto cont;
		err = info->set_err[fam_index(family)];
	}

	switch (optclass_get(sc.cfg.opts, level, name)) {
	case OPT_EMULATE:
		/* validated as TCP would, remembered as TCP reads it back */
		if (indirect || len > SC_OPT_MAXLEN) {
			sc_answer_error(t, err);
			break;
		}
		rc = sc_tcp_accepts(t, family, level, name, val, (socklen_t)len, norm, &nlen);
		if (rc < 0) {
			sc_answer_error(t, -rc);
			break;
		}
		if (emulate(t, id, o, level, name, norm, nlen) < 0)
			sc_answer_error(t, err);
		else
			sc_answer_value(t, 0);
		break;
	case OPT_TCP:
		/* set to what a TCP socket has anyway: nothing would change
		 * on TCP, so nothing is pretended by remembering it */
		if (!indirect && is_tcp_default(t, family, level, name, val, (socklen_t)len) &&
		    emulate(t, id, o, level, name, val, (socklen_t)len) == 0) {
			sc_answer_value(t, 0);
			break;
		}
		/* only leave MPTCP for a value TCP accepts (pointer options:
		 * the kernel checks it when the call runs on TCP) */
		rc = indirect ? 0 : sc_tcp_accepts(t, family, level, name, val, (socklen_t)len, NULL, NULL);
		if (rc < 0) {
			sc_answer_error(t, -rc);
			break;
		}
		if (step_down(t, fd, copy, id, o) == 0) {
			sc_continue(t); /* the call now runs on the TCP socket */
			break;
		}
		sc_answer_error(t, err);
		break;
	default:
		sc_answer_error(t, err);
		break;
	}
	goto done;
cont:
	sc_continue(t);
done:
	close(copy);
}

/* The MSS of the first subflow of a connected MPTCP socket, or -1. */
static int first_subflow_mss(int fd)
{
	struct {
		struct mptcp_subflow_data d;
		struct tcp_info ti;
	} buf;
	socklen_t len = sizeof(buf);

	memset(&buf, 0, sizeof(buf));
	buf.d.size_subflow_data = sizeof(buf.d);
	buf.d.size_user = sizeof(buf.ti);
	if (getsockopt(fd, SOL_MPTCP, MPTCP_TCPINFO, &buf, &len) < 0 || buf.d.num_subflows < 1 ||
	    len < sizeof(buf.d) + offsetof(struct tcp_info, tcpi_rcv_mss))
		return -1;
	return (int)buf.ti.tcpi_snd_mss;
}

static void handle_getsockopt(struct sc_target *t)
{
	int fd = (int)t->req->data.args[0];
	int level = (int)t->req->data.args[1];
	int name = (int)t->req->data.args[2];
	uint64_t uval = t->req->data.args[3], ulen = t->req->data.args[4];
	unsigned char val[VAL_MAX];
	socklen_t len, vlen = sizeof(val), n;
	struct sc_emu *e;
	int copy, family, err, rc;

	if (!uval || !ulen) {
		sc_continue(t);
		return;
	}
	copy = sc_target_getfd(t, fd);
	if (copy < 0) {
		warn_unreachable(t, copy);
		sc_continue(t);
		return;
	}
	if (sc_sock_protocol(copy) != IPPROTO_MPTCP ||
	    sc_target_read(t, ulen, &len, sizeof(len)) < 0 || (int)len < 0)
		goto cont;
	/* the real call: when it works, the target's own call gives the same */
	if (getsockopt(copy, level, name, val, &vlen) == 0)
		goto cont;
	err = errno;
	if (!refusal(err))
		goto cont;
	if (optclass_get(sc.cfg.opts, level, name) == OPT_ERROR) {
		sc_answer_error(t, err);
		goto done;
	}
	/* reading pretends nothing: the value emulated on this socket, else
	 * what TCP reports for a socket where nobody set it */
	family = sc_sock_domain(copy);
	vlen = 0;
	pthread_mutex_lock(&sc.lock);
	e = sc_emu_find(sc_state_get(sc_sock_id(copy)), level, name);
	if (e) {
		memcpy(val, e->val, e->len);
		vlen = e->len;
	}
	pthread_mutex_unlock(&sc.lock);
	if (!e && level == SOL_TCP && name == TCP_MAXSEG) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		int mss = TCP_MSS_DEFAULT_VALUE, sub;
		if (getpeername(copy, (struct sockaddr *)&peer, &plen) == 0 &&
		    (sub = first_subflow_mss(copy)) > 0)
			mss = sub;
		memcpy(val, &mss, sizeof(mss));
		vlen = sizeof(mss);
	} else if (!e) {
		vlen = sizeof(val);
		rc = sc_tcp_default(t, family, level, name, val, &vlen);
		if (rc < 0) {
			sc_answer_error(t, -rc); /* TCP refuses it too: TCP's errno */
			goto done;
		}
	}
	n = len < vlen ? len : vlen;
	if (sc_target_write(t, uval, val, n) < 0 || sc_target_write(t, ulen, &n, sizeof(n)) < 0)
		sc_answer_error(t, EFAULT);
	else
		sc_answer_value(t, 0);
	goto done;
cont:
	sc_continue(t);
done:
	close(copy);
}

/* ---- dispatch ---------------------------------------------------------------- */

void sc_handle(const struct seccomp_notif *req)
{
	struct sc_target t;

	sc_target_init(&t, req);
	atomic_fetch_add_explicit(&sc.stats.notifications, 1, memory_order_relaxed);
	switch (req->data.nr) {
	case __NR_socket:
		handle_socket(&t);
		break;
	case __NR_connect:
		handle_connect(&t);
		break;
	case __NR_listen:
		handle_listen(&t);
		break;
	case __NR_setsockopt:
		handle_setsockopt(&t);
		break;
	case __NR_getsockopt:
		handle_getsockopt(&t);
		break;
	case __NR_sendto:
		handle_fastopen(&t, false);
		break;
	case __NR_sendmsg:
		handle_fastopen(&t, true);
		break;
	case __NR_unshare:
	case __NR_clone:
	case __NR_setns:
		/* another network namespace from now on, perhaps: sockets are
		 * made where each process is (before the call runs, so that
		 * nothing made after it can miss this) */
		atomic_store_explicit(&sc.netns_varies, true, memory_order_release);
		sc_continue(&t);
		break;
	default:
		sc_continue(&t);
		break;
	}
	sc_target_done(&t);
}
