/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bpf-mode.c - loader of mptcpify.bpf.c: checks that --bpf can run here,
 * makes the command's cgroup, loads and attaches the program scoped to it,
 * runs the command inside and cleans up. See bpf-mode.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <sched.h>
#include <unistd.h>
#include <linux/capability.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "bpf-mode.h"
#include "mptcpify.h"
#include "mptcpify.skel.h"

#define PREFIX "mptcpify-run: --bpf: "
#define INFO   "mptcpify-run: bpf: "

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

#define LOCKDOWN_FILE "/sys/kernel/security/lockdown"
#define BTF_FILE      "/sys/kernel/btf/vmlinux"
#define MPTCP_SYSCTL  "/proc/sys/net/mptcp/enabled"
#define HOOK          "update_socket_protocol"

/* Where the command's cgroup goes. */
struct cgroup_place {
	char mount[PATH_MAX];  /* a cgroup2 mount point */
	char parent[PATH_MAX]; /* our cgroup below it, or the mount itself */
};

static int verbose_mode;

__attribute__((format(printf, 2, 0)))
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (!verbose_mode || level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static void info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void info(const char *fmt, ...)
{
	va_list ap;

	if (!verbose_mode)
		return;
	va_start(ap, fmt);
	fputs(INFO, stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* Reads a small file into buf (NUL-terminated, trailing newline dropped).
 * Returns 0 or a negative errno. */
static int read_small(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0) {
		n = -errno;
		close(fd);
		return (int)n;
	}
	close(fd);
	buf[n] = '\0';
	if (n > 0 && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
	return 0;
}

/* Returns 0 when the effective capabilities allow loading a tracing program
 * (CAP_BPF and CAP_PERFMON, each implied by CAP_SYS_ADMIN, as the kernel
 * checks them), else -1 with the reason. */
static int check_caps(char *why, size_t len)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	int admin, bpf, perfmon;

	if (syscall(SYS_capget, &hdr, data) != 0)
		return 0; /* cannot tell: let the load say */
#define HAS(cap) ((data[(cap) / 32].effective >> ((cap) % 32)) & 1u)
	admin = HAS(CAP_SYS_ADMIN);
	bpf = admin || HAS(CAP_BPF);
	perfmon = admin || HAS(CAP_PERFMON);
#undef HAS
	if (bpf && perfmon)
		return 0;
	snprintf(why, len, "missing capabilities: loading the BPF program needs %s%s%s "
		 "(or CAP_SYS_ADMIN); run as root",
		 bpf ? "" : "CAP_BPF", bpf || perfmon ? "" : " and ",
		 perfmon ? "" : "CAP_PERFMON");
	return -1;
}

/* Undoes the octal escapes (\040 etc.) of /proc/self/mountinfo, in place. */
static void unescape_mountinfo(char *s)
{
	char *out = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7'
		    && s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else {
			*out++ = *s++;
		}
	}
	*out = '\0';
}

static int is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Finds a cgroup2 mount (preferring /sys/fs/cgroup) and our own cgroup below
 * it. Returns 0, or -1 with the reason. */
static int find_cgroup_place(struct cgroup_place *place, char *why, size_t len)
{
	char line[4096], root[PATH_MAX] = "", cg[PATH_MAX] = "";
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int found = 0;

	if (!f) {
		snprintf(why, len, "cannot read /proc/self/mountinfo: %s (is /proc mounted?)",
			 strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof line, f)) {
		char mroot[PATH_MAX], mpoint[PATH_MAX], fstype[64];
		const char *dash = strstr(line, " - ");

		if (!dash || sscanf(dash, " - %63s", fstype) != 1 || strcmp(fstype, "cgroup2"))
			continue;
		if (sscanf(line, "%*s %*s %*s %4095s %4095s", mroot, mpoint) != 2)
			continue;
		unescape_mountinfo(mroot);
		unescape_mountinfo(mpoint);
		if (!found || !strcmp(mpoint, "/sys/fs/cgroup")) {
			snprintf(place->mount, sizeof place->mount, "%s", mpoint);
			snprintf(root, sizeof root, "%s", mroot);
			found = 1;
		}
	}
	fclose(f);
	if (!found) {
		snprintf(why, len, "no cgroup v2 mount (the unified hierarchy is needed; "
			 "try: mount -t cgroup2 none /sys/fs/cgroup)");
		return -1;
	}

	/* Our cgroup: "0::/path" in /proc/self/cgroup, relative to the root of
	 * our cgroup namespace; a mount whose root is not "/" shows a subtree. */
	snprintf(place->parent, sizeof place->parent, "%s", place->mount);
	f = fopen("/proc/self/cgroup", "re");
	if (f) {
		while (fgets(line, sizeof line, f)) {
			if (strncmp(line, "0::", 3))
				continue;
			line[strcspn(line, "\n")] = '\0';
			snprintf(cg, sizeof cg, "%s", line + 3);
		}
		fclose(f);
	}
	if (cg[0] == '/' && strcmp(cg, "/")) {
		char path[PATH_MAX];
		const char *rel = cg;
		size_t rlen = strlen(root);

		if (strcmp(root, "/") && !strncmp(cg, root, rlen) && (!cg[rlen] || cg[rlen] == '/'))
			rel = cg + rlen;
		if ((size_t)snprintf(path, sizeof path, "%s%s", place->mount, rel) < sizeof path
		    && is_dir(path))
			snprintf(place->parent, sizeof place->parent, "%s", path);
	}
	return 0;
}

/* Reads the kernel lockdown mode ("none", "integrity", "confidentiality")
 * into mode. When securityfs is not mounted, mounts it in a private mount
 * namespace of a short-lived child, so nothing stays mounted. Returns 0, or
 * -1 when the mode cannot be known. */
static int lockdown_mode(char *mode, size_t len)
{
	char buf[256];
	const char *open_br, *close_br;
	int err = read_small(LOCKDOWN_FILE, buf, sizeof buf);

	if (err == -ENOENT) {
		int pfd[2];
		pid_t pid;
		ssize_t n = -1;

		if (pipe2(pfd, O_CLOEXEC))
			return -1;
		pid = fork();
		if (pid < 0) {
			close(pfd[0]);
			close(pfd[1]);
			return -1;
		}
		if (pid == 0) {
			close(pfd[0]);
			if (unshare(CLONE_NEWNS) == 0
			    && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0
			    && mount("securityfs", "/sys/kernel/security", "securityfs", 0, NULL) == 0
			    && read_small(LOCKDOWN_FILE, buf, sizeof buf) == 0
			    && write(pfd[1], buf, strlen(buf)) > 0)
				_exit(0);
			_exit(1);
		}
		close(pfd[1]);
		n = read(pfd[0], buf, sizeof buf - 1);
		close(pfd[0]);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		if (n <= 0)
			return -1;
		buf[n] = '\0';
	} else if (err) {
		return -1;
	}
	open_br = strchr(buf, '[');
	close_br = open_br ? strchr(open_br, ']') : NULL;
	if (!close_br)
		return -1;
	snprintf(mode, len, "%.*s", (int)(close_br - open_br - 1), open_br + 1);
	return 0;
}

/* Checks that the kernel has BTF and the update_socket_protocol hook (6.6+).
 * Returns 0, or -1 with the reason. */
static int check_btf_hook(char *why, size_t len)
{
	struct utsname uts;
	struct btf *btf;
	int id;

	if (access(BTF_FILE, R_OK) != 0) {
		snprintf(why, len, "the kernel has no BTF (" BTF_FILE " is missing: "
			 "needs CONFIG_DEBUG_INFO_BTF=y)");
		return -1;
	}
	btf = btf__load_vmlinux_btf();
	if (!btf) {
		snprintf(why, len, "cannot read the kernel BTF (" BTF_FILE "): %s", strerror(errno));
		return -1;
	}
	id = btf__find_by_name_kind(btf, HOOK, BTF_KIND_FUNC);
	btf__free(btf);
	if (id < 0) {
		if (uname(&uts))
			snprintf(uts.release, sizeof uts.release, "?");
		snprintf(why, len, "kernel %s has no " HOOK "() hook (it came in Linux 6.6); "
			 "use mptcpify-run without --bpf", uts.release);
		return -1;
	}
	return 0;
}

/* In BPF mode every TCP socket of the command becomes MPTCP, so MPTCP must be
 * usable in this network namespace or all of them would fail. */
static int check_mptcp_enabled(char *why, size_t len)
{
	char buf[32];
	int err = read_small(MPTCP_SYSCTL, buf, sizeof buf);

	if (err == -ENOENT) {
		snprintf(why, len, "the kernel has no MPTCP (" MPTCP_SYSCTL " is missing: "
			 "needs CONFIG_MPTCP=y)");
		return -1;
	}
	if (!err && !strcmp(buf, "0")) {
		snprintf(why, len, "MPTCP is disabled here (sysctl net.mptcp.enabled=0)");
		return -1;
	}
	return 0;
}

/* The checks that need no loading, cheapest and most basic first. */
static int preflight(struct cgroup_place *place, char *why, size_t len)
{
	if (check_caps(why, len))
		return -1;
	if (find_cgroup_place(place, why, len))
		return -1;
	if (check_btf_hook(why, len))
		return -1;
	if (check_mptcp_enabled(why, len))
		return -1;
	if (access(place->parent, W_OK) != 0) {
		snprintf(why, len, "cannot create a cgroup under %s: %s (missing capabilities? "
			 "run as root)", place->parent, strerror(errno));
		return -1;
	}
	return 0;
}

/* Turns a failed load or attach (err > 0) into the reason. */
static void explain_bpf_error(int err, const char *what, char *why, size_t len)
{
	char mode[64];

	if (err == EPERM && lockdown_mode(mode, sizeof mode) == 0 && strcmp(mode, "none")) {
		snprintf(why, len, "kernel lockdown (%s) refuses BPF tracing programs "
			 "(fmod_ret on " HOOK "); boot without lockdown, or use mptcpify-run "
			 "without --bpf", mode);
		return;
	}
	if (err == EPERM) {
		snprintf(why, len, "the kernel refused to %s the BPF tracing program (%s), "
			 "although the capabilities are there; a security module or lockdown "
			 "may forbid it", what, strerror(err));
		return;
	}
	if (err == ESRCH || err == ENOENT) {
		snprintf(why, len, "cannot %s the program on " HOOK "() (%s): kernel without "
			 "the hook (before 6.6)?", what, strerror(err));
		return;
	}
	if (err == ENOTSUP || err == 524 /* ENOTSUPP */) {
		snprintf(why, len, "the kernel cannot %s fmod_ret programs (no BPF "
			 "trampolines in this kernel build)", what);
		return;
	}
	snprintf(why, len, "cannot %s the BPF program: %s%s", what, strerror(err),
		 verbose_mode ? "" : " (run with verbose output for libbpf's log)");
}

/* Opens and loads (but does not attach) the program. Returns 0 with *out
 * set, or -1 with the reason and nothing left loaded. */
static int load_program(struct mptcpify_bpf **out, char *why, size_t len)
{
	struct mptcpify_bpf *skel;
	int err;

	*out = NULL;
	skel = mptcpify_bpf__open();
	if (!skel) {
		snprintf(why, len, "cannot open the BPF object: %s", strerror(errno));
		return -1;
	}
	skel->rodata->families = MPTCPIFY_FAMILY_INET | MPTCPIFY_FAMILY_INET6;
	err = mptcpify_bpf__load(skel);
	if (err) {
		explain_bpf_error(-err, "load", why, len);
		mptcpify_bpf__destroy(skel);
		return -1;
	}
	*out = skel;
	return 0;
}

/* Creates <parent>/mptcpify-<pid>[-n]. Returns 0 with path set, or -1 with
 * the reason. */
static int make_cgroup(const struct cgroup_place *place, char *path, size_t plen,
		       char *why, size_t len)
{
	int n;

	for (n = 0; n < 100; n++) {
		int w = n ? snprintf(path, plen, "%s/" BPF_MODE_CGROUP_PREFIX "%ld-%d",
				     place->parent, (long)getpid(), n)
			  : snprintf(path, plen, "%s/" BPF_MODE_CGROUP_PREFIX "%ld",
				     place->parent, (long)getpid());

		if (w < 0 || (size_t)w >= plen)
			break;
		if (mkdir(path, 0755) == 0)
			return 0;
		if (errno == EEXIST)
			continue;
		snprintf(why, len, "cannot create cgroup %s: %s%s", path, strerror(errno),
			 errno == EACCES || errno == EPERM || errno == EROFS
				 ? " (missing capabilities? run as root)" : "");
		path[0] = '\0';
		return -1;
	}
	snprintf(why, len, "cannot create a cgroup under %s", place->parent);
	path[0] = '\0';
	return -1;
}

/* Moves the processes left in cgroup dir into parent. */
static void evacuate_cgroup(const char *dir, const char *parent)
{
	char path[PATH_MAX + 16], pid[32];
	FILE *procs;
	int dst;

	snprintf(path, sizeof path, "%s/cgroup.procs", parent);
	dst = open(path, O_WRONLY | O_CLOEXEC);
	if (dst < 0)
		return;
	snprintf(path, sizeof path, "%s/cgroup.procs", dir);
	procs = fopen(path, "re");
	if (procs) {
		while (fgets(pid, sizeof pid, procs))
			if (write(dst, pid, strlen(pid)) < 0)
				info("cannot move process %.*s out of %s: %s",
				     (int)strcspn(pid, "\n"), pid, dir, strerror(errno));
		fclose(procs);
	}
	close(dst);
}

/* Removes the command's cgroup, first moving what the command left running
 * in it back to the parent (the program is detached anyway by now). */
static void remove_cgroup(const char *dir, const char *parent)
{
	int i;

	for (i = 0; i < 50; i++) {
		if (rmdir(dir) == 0 || errno == ENOENT) {
			info("removed cgroup %s", dir);
			return;
		}
		if (errno != EBUSY)
			break;
		evacuate_cgroup(dir, parent);
		if (i)
			usleep(20000); /* exiting tasks leave the cgroup a bit later */
	}
	fprintf(stderr, PREFIX "warning: cannot remove cgroup %s: %s\n", dir, strerror(errno));
}

static volatile sig_atomic_t child_pid;

/* Forwards a signal to the command. SIGINT and SIGQUIT typed at the terminal
 * (SI_KERNEL) already went to the whole foreground process group, child
 * included: sending them again would make them count twice. */
static void forward_signal(int sig, siginfo_t *si, void *ucontext)
{
	int saved = errno;

	(void)ucontext;
	if ((sig == SIGINT || sig == SIGQUIT) && si && si->si_code == SI_KERNEL) {
		errno = saved;
		return;
	}
	if (child_pid > 0)
		kill((pid_t)child_pid, sig);
	errno = saved;
}

static const int forwarded[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
#define NFORWARDED (sizeof forwarded / sizeof forwarded[0])

/* The forwarded signals as a set. */
static void forwarded_set(sigset_t *set)
{
	size_t i;

	sigemptyset(set);
	for (i = 0; i < NFORWARDED; i++)
		sigaddset(set, forwarded[i]);
}

/* Forks, moves the child into the cgroup (procs_fd: its cgroup.procs) and
 * execs argv; forwards signals while waiting. The forwarded signals are
 * blocked on entry and on return (so that one arriving before the fork or
 * during the cleanup waits until the cgroup is gone); oldmask is the mask to
 * give the command. Returns the exit status as a shell reports it. */
static int run_child(char *const argv[], int procs_fd, const sigset_t *oldmask)
{
	struct sigaction old[NFORWARDED], sa;
	sigset_t block;
	pid_t pid;
	size_t i;
	int status;

	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = forward_signal;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	forwarded_set(&block);
	for (i = 0; i < NFORWARDED; i++)
		sigaction(forwarded[i], &sa, &old[i]);

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		int err = errno;

		for (i = 0; i < NFORWARDED; i++)
			sigaction(forwarded[i], &old[i], NULL);
		fprintf(stderr, PREFIX "cannot fork: %s\n", strerror(err));
		return BPF_MODE_EXIT_REFUSED;
	}
	if (pid == 0) {
		char buf[32];
		int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());

		for (i = 0; i < NFORWARDED; i++)
			sigaction(forwarded[i], &old[i], NULL);
		sigprocmask(SIG_SETMASK, oldmask, NULL);
		if (write(procs_fd, buf, (size_t)n) != n) {
			fprintf(stderr, PREFIX "cannot move the command into its cgroup: %s\n",
				strerror(errno));
			_exit(BPF_MODE_EXIT_REFUSED);
		}
		execvp(argv[0], argv);
		n = errno;
		fprintf(stderr, "mptcpify-run: %s: %s\n", argv[0], strerror(n));
		_exit(n == ENOENT || n == ENOTDIR ? 127 : 126);
	}

	child_pid = pid;
	sigprocmask(SIG_UNBLOCK, &block, NULL);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			status = BPF_MODE_EXIT_REFUSED << 8;
			break;
		}
	}
	sigprocmask(SIG_BLOCK, &block, NULL);
	child_pid = 0;
	for (i = 0; i < NFORWARDED; i++)
		sigaction(forwarded[i], &old[i], NULL);

	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

int bpf_mode_run(char *const argv[], int verbose)
{
	struct cgroup_place place;
	struct mptcpify_bpf *skel = NULL;
	libbpf_print_fn_t old_print;
	sigset_t block, oldmask;
	char why[PATH_MAX + 256], cgdir[PATH_MAX], procs[PATH_MAX + 16];
	int cg_fd = -1, procs_fd = -1, status = BPF_MODE_EXIT_REFUSED, err, blocked = 0;
	__u32 slot = MPTCPIFY_SCOPE_SLOT;

	verbose_mode = verbose;
	old_print = libbpf_set_print(libbpf_print);
	cgdir[0] = '\0';
	if (!argv || !argv[0]) {
		snprintf(why, sizeof why, "no command given");
		goto refuse;
	}
	if (preflight(&place, why, sizeof why) || load_program(&skel, why, sizeof why))
		goto refuse;
	/* From here on a signal must not kill us before the cgroup is removed:
	 * it waits, then goes to the command or takes effect after cleanup. */
	forwarded_set(&block);
	sigprocmask(SIG_BLOCK, &block, &oldmask);
	blocked = 1;
	if (make_cgroup(&place, cgdir, sizeof cgdir, why, sizeof why))
		goto refuse;
	info("cgroup %s", cgdir);
	cg_fd = open(cgdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	snprintf(procs, sizeof procs, "%s/cgroup.procs", cgdir);
	procs_fd = open(procs, O_WRONLY | O_CLOEXEC);
	if (cg_fd < 0 || procs_fd < 0) {
		snprintf(why, sizeof why, "cannot open cgroup %s: %s", cgdir, strerror(errno));
		goto refuse;
	}
	err = bpf_map__update_elem(skel->maps.cgroup_scope, &slot, sizeof slot,
				   &cg_fd, sizeof cg_fd, BPF_ANY);
	if (err) {
		snprintf(why, sizeof why, "cannot set the program's cgroup: %s", strerror(-err));
		goto refuse;
	}
	err = mptcpify_bpf__attach(skel);
	if (err) {
		explain_bpf_error(-err, "attach", why, sizeof why);
		goto refuse;
	}
	info("program attached to " HOOK "(), running %s", argv[0]);

	status = run_child(argv, procs_fd, &oldmask);
	info("%llu socket(s) upgraded to MPTCP; command exited with status %d",
	     (unsigned long long)skel->bss->counters.upgraded, status);
	goto cleanup;

refuse:
	fprintf(stderr, PREFIX "%s\n", why);
	status = BPF_MODE_EXIT_REFUSED;
cleanup:
	mptcpify_bpf__destroy(skel); /* detaches */
	if (procs_fd >= 0)
		close(procs_fd);
	if (cg_fd >= 0)
		close(cg_fd);
	if (cgdir[0])
		remove_cgroup(cgdir, place.parent);
	libbpf_set_print(old_print);
	if (blocked)
		sigprocmask(SIG_SETMASK, &oldmask, NULL);
	return status;
}

int bpf_mode_probe(char *why, size_t len)
{
	struct cgroup_place place;
	struct mptcpify_bpf *skel = NULL;
	libbpf_print_fn_t old_print;
	char buf[PATH_MAX + 256];
	int ret = -1;

	verbose_mode = 0;
	old_print = libbpf_set_print(libbpf_print);
	if (preflight(&place, buf, sizeof buf) || load_program(&skel, buf, sizeof buf))
		goto cleanup;
	ret = 0;
cleanup:
	mptcpify_bpf__destroy(skel);
	libbpf_set_print(old_print);
	if (ret && why && len)
		snprintf(why, len, "%s", buf);
	return ret;
}
