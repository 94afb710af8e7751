/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* check.c - `--check`: why MPTCP does or does not work here, one line per
 * item (ok, warn or fail). */
#include "config.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/mptcp.h>

#include "run.h"
#include "seccomp.h"

#if HAVE_BPF_MODE
#include "bpf-mode.h"
#endif

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

struct check {
	int fails;
	int verbose;
	bool mptcp_ok;   /* an MPTCP socket could be created */
};

static void item(struct check *c, const char *level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void item(struct check *c, const char *level, const char *fmt, ...)
{
	va_list ap;

	if (strcmp(level, "fail") == 0)
		c->fails++;
	printf("%-4s ", level);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static void check_settings(struct check *c, struct run_settings *s)
{
	unsigned n;

	if (settings_load(s, stdout, "fail ")) {
		c->fails++;
		item(c, "warn", "the library ignores an invalid setting whole: "
		     "with a bad MPTCPIFY_ADDRS nothing is upgraded");
		return;
	}
	if (!s->policy) {
		item(c, "ok", "MPTCPIFY_ADDRS unset: every TCP socket is upgraded");
	} else if ((n = policy_rule_count(s->policy)) == 0) {
		item(c, "warn", "MPTCPIFY_ADDRS is empty: no socket is upgraded");
	} else {
		item(c, "ok", "MPTCPIFY_ADDRS: %u valid rule%s", n,
		     n == 1 ? "" : "s");
	}
	if (s->options)
		item(c, "ok", "MPTCPIFY_OPTIONS: %u override%s", s->overrides.n,
		     s->overrides.n == 1 ? "" : "s");
}

static const char *socket_errno_meaning(int err)
{
	switch (err) {
	case EINVAL:
		return "the kernel is older than 5.6 and has no MPTCP";
	case EPROTONOSUPPORT:
		return "the kernel was built without CONFIG_MPTCP";
	case ENOPROTOOPT:
		return "MPTCP is disabled in this network namespace "
		       "(sysctl net.mptcp.enabled=0)";
	case EACCES:
	case EPERM:
		return "a security policy (SELinux, seccomp, BPF) refuses it";
	default:
		return "unexpected error";
	}
}

static void check_kernel(struct check *c)
{
	int fd, err;

	fd = socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
	if (fd < 0) {
		err = errno;
		item(c, "fail", "kernel: socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP) "
		     "fails with %s (%s): %s", strerrorname_np(err) ?
		     strerrorname_np(err) : "?", strerror(err),
		     socket_errno_meaning(err));
		return;
	}
	close(fd);
	c->mptcp_ok = true;
	item(c, "ok", "kernel: MPTCP sockets can be created (IPv4)");

	fd = socket(AF_INET6, SOCK_STREAM, IPPROTO_MPTCP);
	if (fd >= 0) {
		close(fd);
		item(c, "ok", "kernel: MPTCP sockets can be created (IPv6)");
	} else if (errno == EAFNOSUPPORT) {
		item(c, "ok", "kernel: no IPv6 here, so no IPv6 MPTCP either");
	} else {
		err = errno;
		item(c, "warn", "kernel: IPv6 MPTCP sockets fail with %s (%s)%s",
		     strerrorname_np(err) ? strerrorname_np(err) : "?",
		     strerror(err), err == EPROTONOSUPPORT ?
		     ": built without CONFIG_MPTCP_IPV6; IPv6 sockets stay TCP" :
		     "; IPv6 sockets stay TCP");
	}
}

/* Reads a one-line /proc/sys file into BUF without its newline. Returns 0
 * or a negative errno. */
static int read_sysctl(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		return -errno;
	n = fread(buf, 1, size - 1, f);
	fclose(f);
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

static void check_sysctls(struct check *c, bool *userspace_pm)
{
	char v[64];
	int rc;

	rc = read_sysctl("/proc/sys/net/mptcp/enabled", v, sizeof(v));
	if (rc)
		item(c, "fail", "net.mptcp.enabled: cannot read "
		     "/proc/sys/net/mptcp/enabled (%s): no MPTCP in this kernel",
		     strerror(-rc));
	else if (strcmp(v, "0") == 0)
		item(c, "fail", "net.mptcp.enabled = 0 in this network namespace: "
		     "MPTCP sockets are refused (sysctl -w net.mptcp.enabled=1)");
	else
		item(c, "ok", "net.mptcp.enabled = %s in this network namespace", v);

	*userspace_pm = false;
	/* path_manager (names, 6.15+) says more than pm_type (0/1, 5.19+). */
	if (read_sysctl("/proc/sys/net/mptcp/path_manager", v, sizeof(v)) == 0) {
		*userspace_pm = strcmp(v, "userspace") == 0;
	} else if (read_sysctl("/proc/sys/net/mptcp/pm_type", v, sizeof(v)) == 0) {
		*userspace_pm = strcmp(v, "1") == 0;
		snprintf(v, sizeof(v), "%s", *userspace_pm ? "userspace" : "kernel");
	} else {
		snprintf(v, sizeof(v), "kernel");
	}
	if (*userspace_pm)
		item(c, "warn", "path manager: userspace: extra subflows come only "
		     "from a daemon such as mptcpd, not from the endpoints below");
	else
		item(c, "ok", "path manager: %s (in-kernel; uses the endpoints and "
		     "limits below)", v);
}

struct ep_ctx {
	struct check *c;
	int subflow;
};

static void print_endpoint(void *ctx, const struct pm_endpoint *ep)
{
	struct ep_ctx *ec = ctx;
	char addr[INET6_ADDRSTRLEN] = "?", dev[IF_NAMESIZE + 8] = "";
	char flags[64] = "";

	inet_ntop(ep->family == AF_INET6 ? AF_INET6 : AF_INET, ep->addr, addr,
		  sizeof(addr));
	if (ep->ifindex > 0) {
		char name[IF_NAMESIZE];

		snprintf(dev, sizeof(dev), " dev %s",
			 if_indextoname((unsigned)ep->ifindex, name) ? name : "?");
	}
	if (ep->flags & MPTCP_PM_ADDR_FLAG_SIGNAL)
		strcat(flags, " signal");
	if (ep->flags & MPTCP_PM_ADDR_FLAG_SUBFLOW)
		strcat(flags, " subflow");
	if (ep->flags & MPTCP_PM_ADDR_FLAG_BACKUP)
		strcat(flags, " backup");
	if (ep->flags & MPTCP_PM_ADDR_FLAG_FULLMESH)
		strcat(flags, " fullmesh");
	if (ep->flags & MPTCP_PM_ADDR_FLAG_SUBFLOW)
		ec->subflow++;
	if (ep->port)
		item(ec->c, "ok", "endpoint id %u %s port %u%s%s", ep->id, addr,
		     ep->port, dev, flags);
	else
		item(ec->c, "ok", "endpoint id %u %s%s%s", ep->id, addr, dev, flags);
}

static void check_path_manager(struct check *c, bool userspace_pm)
{
	struct ep_ctx ec = { c, 0 };
	struct pm_limits lim;
	int rc, n;

	rc = pm_get_limits(&lim);
	if (rc) {
		item(c, "warn", "limits: cannot read them over generic netlink "
		     "(mptcp_pm): %s", strerror(-rc));
	} else if (lim.subflows == 0 && !userspace_pm) {
		item(c, "warn", "limits: subflows 0, add_addr_accepted %u: no "
		     "connection can get a second path; raise it: "
		     "ip mptcp limits set subflows 2", lim.add_addr_accepted);
	} else {
		item(c, "ok", "limits: subflows %u, add_addr_accepted %u",
		     lim.subflows, lim.add_addr_accepted);
	}

	n = pm_dump_endpoints(print_endpoint, &ec);
	if (n < 0) {
		item(c, "warn", "endpoints: cannot read them over generic netlink "
		     "(mptcp_pm): %s", strerror(-n));
	} else if (ec.subflow == 0 && !userspace_pm) {
		item(c, "warn", "endpoints: %s: connections made here use one path "
		     "only; a second path needs a subflow endpoint on another "
		     "interface: ip mptcp endpoint add ADDR dev DEV subflow "
		     "(and ip mptcp limits set subflows 2)",
		     n == 0 ? "none" : "no subflow endpoint");
	} else if (!userspace_pm) {
		item(c, "ok", "endpoints: %d subflow endpoint%s", ec.subflow,
		     ec.subflow == 1 ? "" : "s");
	}
}

/* dlopen()s LIB in a child, so that its constructor cannot disturb us.
 * Returns 0, or -1 with the loader's message in WHY. */
static int try_load(const char *lib, char *why, size_t size)
{
	int pfd[2], status;
	ssize_t n;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) < 0) {
		snprintf(why, size, "pipe: %s", strerror(errno));
		return -1;
	}
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		snprintf(why, size, "fork: %s", strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (pid == 0) {
		const char *err;

		close(pfd[0]);
		if (dlopen(lib, RTLD_NOW | RTLD_LOCAL))
			_exit(0);
		err = dlerror();
		if (err && write(pfd[1], err, strlen(err)) < 0)
			_exit(2);
		_exit(1);
	}
	close(pfd[1]);
	n = read(pfd[0], why, size - 1);
	why[n > 0 ? n : 0] = '\0';
	close(pfd[0]);
	if (waitpid(pid, &status, 0) < 0) {
		snprintf(why, size, "waitpid: %s", strerror(errno));
		return -1;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (!why[0])
		snprintf(why, size, "the loading process died (status %#x)", status);
	return -1;
}

static void check_library(struct check *c, const struct run_settings *s)
{
	char lib[PATH_MAX], why[1024];
	const char *origin;
	int rc;

	rc = library_find(s, lib, sizeof(lib), &origin);
	if (rc) {
		item(c, "fail", "library: %s (from %s): %s", lib, origin,
		     rc == -EINVAL ? "a space or colon in its path: LD_PRELOAD "
		     "cannot name it" : strerror(-rc));
		return;
	}
	if (try_load(lib, why, sizeof(why)))
		item(c, "fail", "library: %s (from %s) does not load: %s", lib,
		     origin, why);
	else
		item(c, "ok", "library: %s (from %s) loads", lib, origin);
}

/* Sets OPT's probe value on a fresh socket of PROTOCOL. Returns 0 or errno. */
static int probe_option(const struct opt_info *opt, int protocol)
{
	int family = opt->level == SOL_IPV6 ? AF_INET6 : AF_INET;
	int value = opt->probe_value, fd, err = 0;

	fd = socket(family, SOCK_STREAM, protocol);
	if (fd < 0)
		return errno;
	if (setsockopt(fd, opt->level, opt->optname, &value, sizeof(value)) < 0)
		err = errno;
	close(fd);
	return err;
}

static const char *class_effect(enum opt_class cls)
{
	switch (cls) {
	case OPT_EMULATE:
		return "the library emulates it (success, value read back)";
	case OPT_TCP:
		return "set before listen()/connect(), the library keeps that "
		       "socket plain TCP; afterwards the program sees the error";
	case OPT_ERROR:
	default:
		return "the program sees the kernel's error";
	}
}

static void check_options(struct check *c, const struct run_settings *s)
{
	const struct opt_info *opt;
	unsigned probed = 0, refused = 0;

	if (!c->mptcp_ok) {
		item(c, "warn", "socket options: not probed, no MPTCP socket can "
		     "be created");
		return;
	}
	for (opt = optclass_table; opt->name; opt++) {
		enum opt_class cls;
		int err;

		if (!opt->probe)
			continue;
		probed++;
		err = probe_option(opt, IPPROTO_MPTCP);
		if (err == 0) {
			if (c->verbose)
				item(c, "ok", "option %s: works on MPTCP sockets",
				     opt->name);
			continue;
		}
		/* Only what TCP accepts and MPTCP refuses is MPTCP's doing. */
		if (probe_option(opt, IPPROTO_TCP) != 0) {
			if (c->verbose)
				item(c, "ok", "option %s: refused on TCP sockets too "
				     "(%s): not MPTCP's doing", opt->name,
				     strerror(err));
			continue;
		}
		refused++;
		cls = optclass_get(&s->overrides, opt->level, opt->optname);
		item(c, cls == OPT_EMULATE ? "ok" : "warn",
		     "option %s: refused on MPTCP sockets by this kernel (%s); "
		     "class %s: %s", opt->name, strerrorname_np(err) ?
		     strerrorname_np(err) : strerror(err), optclass_name(cls),
		     class_effect(cls));
	}
	if (probed == 0)
		item(c, "warn", "socket options: none to probe (this build's "
		     "option table is empty)");
	else
		item(c, "ok", "socket options: %u of %u probed options work on "
		     "MPTCP sockets", probed - refused, probed);
}

static void check_bpf(struct check *c)
{
#if HAVE_BPF_MODE
	char why[256] = "";

	if (bpf_mode_probe(why, sizeof(why)) == 0)
		item(c, "ok", "BPF mode: --bpf can run here");
	else
		item(c, "warn", "BPF mode: --bpf cannot run here: %s", why);
#else
	item(c, "warn", "BPF mode: this mptcpify-run was built without it "
	     "(--bpf unavailable)");
#endif
}

static void seccomp_line(void *ctx, const char *level, const char *line)
{
	item(ctx, level, "%s", line);
}

/* Whether --seccomp can run here, feature by feature (seccomp-check.c). */
static void check_seccomp(struct check *c, const struct run_settings *s)
{
	sc_check(s, seccomp_line, c);
}

int check_main(struct run_settings *s)
{
	struct check c = { .verbose = s->verbose };
	bool userspace_pm;

	check_settings(&c, s);
	check_kernel(&c);
	check_sysctls(&c, &userspace_pm);
	check_path_manager(&c, userspace_pm);
	check_library(&c, s);
	check_options(&c, s);
	check_bpf(&c);
	check_seccomp(&c, s);
	fflush(stdout);
	return c.fails ? 1 : 0;
}
