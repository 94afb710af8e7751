/* tests/kernels/guest-kernel-facts.c: guest test recording what this kernel
 * does with the facts the shim depends on (docs/kernels.md), and asserting
 * the one the TCP_MAXSEG fallback is built on: before 6.17, setsockopt and
 * getsockopt(TCP_MAXSEG) on an MPTCP socket fail; from 6.17 they work.
 * Also prints, for the BPF mode, the lockdown mode, whether BTF is there and
 * whether the update_socket_protocol hook exists. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "guest-common.h"

static const char *name = "guest-kernel-facts";

/* Prints the first line of a file, or "(absent)". */
static void print_file_line(const char *label, const char *path)
{
	char line[256] = "(absent)";
	FILE *f = fopen(path, "r");

	if (f) {
		if (!fgets(line, sizeof(line), f))
			strcpy(line, "(empty)");
		line[strcspn(line, "\n")] = '\0';
		fclose(f);
	}
	printf("fact: %s: %s\n", label, line);
}

/* Returns 1 when /proc/kallsyms lists the symbol, 0 when not, -1 unreadable. */
static int have_ksym(const char *sym)
{
	char line[512], found_sym[256];
	int found = 0;
	FILE *f = fopen("/proc/kallsyms", "r");

	if (!f)
		return -1;
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "%*s %*s %255s", found_sym) == 1 && strcmp(found_sym, sym) == 0;
	fclose(f);
	return found;
}

/* Tries setsockopt then getsockopt(TCP_MAXSEG) on fd and prints what
 * happened; *set_err and *get_err get 0 or the errno. Returns 0 when both
 * worked. */
static int maxseg_probe(int fd, const char *what, int *set_err, int *get_err)
{
	int mss = 1200, got = 0;
	socklen_t len = sizeof(got);

	*set_err = setsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof(mss)) < 0 ? errno : 0;
	*get_err = getsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &got, &len) < 0 ? errno : 0;
	printf("fact: TCP_MAXSEG on %s MPTCP socket: setsockopt %s%s, getsockopt %s%s",
	       what, *set_err ? "fails with " : "ok", *set_err ? strerrorname_np(*set_err) : "",
	       *get_err ? "fails with " : "ok", *get_err ? strerrorname_np(*get_err) : "");
	if (!*get_err)
		printf(" (value %d)", got);
	printf("\n");
	return *set_err || *get_err;
}

int main(void)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t alen = sizeof(addr);
	int version, fd, lfd, cfd, afd, serr[2], gerr[2], hook;
	struct utsname u;

	uname(&u);
	version = kernel_version_code(u.release);
	printf("fact: kernel %s\n", u.release);
	print_file_line("lockdown", "/sys/kernel/security/lockdown");
	printf("fact: BTF /sys/kernel/btf/vmlinux: %s\n",
	       access("/sys/kernel/btf/vmlinux", R_OK) == 0 ? "present" : "absent");
	hook = have_ksym("update_socket_protocol");
	printf("fact: update_socket_protocol hook: %s\n",
	       hook < 0 ? "unknown (no /proc/kallsyms)" : hook ? "present" : "absent");

	/* A fresh socket, as a program sets options before connect/listen. */
	fd = socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
	if (fd < 0)
		guest_fail(name, "socket(IPPROTO_MPTCP): %s", strerror(errno));
	maxseg_probe(fd, "a new", &serr[0], &gerr[0]);
	close(fd);

	/* A connected one (loopback), as HAProxy reads it on accepted sockets. */
	lfd = socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    listen(lfd, 1) < 0 || getsockname(lfd, (struct sockaddr *)&addr, &alen) < 0)
		guest_fail(name, "listener: %s", strerror(errno));
	cfd = socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
	if (cfd < 0 || connect(cfd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		guest_fail(name, "connect: %s", strerror(errno));
	afd = accept(lfd, NULL, NULL);
	if (afd < 0)
		guest_fail(name, "accept: %s", strerror(errno));
	maxseg_probe(cfd, "a connected", &serr[1], &gerr[1]);
	close(afd);
	close(cfd);
	close(lfd);

	if (version == 0)
		guest_skip(name, "cannot parse kernel release %s", u.release);
	for (int i = 0; i < 2; i++) {
		int refused = serr[i] && gerr[i];
		int works = !serr[i] && !gerr[i];

		if (version < 6017 && !refused)
			guest_fail(name, "Linux %s is before 6.17 but TCP_MAXSEG is not refused on MPTCP sockets",
				   u.release);
		if (version >= 6017 && !works)
			guest_fail(name, "Linux %s is 6.17+ but TCP_MAXSEG fails on MPTCP sockets",
				   u.release);
	}
	printf("%s: TCP_MAXSEG on MPTCP sockets %s on %s, as expected\n", name,
	       version < 6017 ? "refused" : "supported", u.release);
	return 0;
}
