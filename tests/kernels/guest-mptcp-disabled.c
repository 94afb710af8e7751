/* tests/kernels/guest-mptcp-disabled.c: guest test checking that with
 * net.mptcp.enabled=0 (in a private network namespace, so nothing else is
 * touched) socket(IPPROTO_MPTCP) fails with ENOPROTOOPT for IPv4 and IPv6,
 * and works again with net.mptcp.enabled=1. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "guest-common.h"

static const char *name = "guest-mptcp-disabled";

/* Writes value to net.mptcp.enabled; returns 0 or -errno. */
static int set_mptcp_enabled(const char *value)
{
	int fd = open("/proc/sys/net/mptcp/enabled", O_WRONLY | O_CLOEXEC);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, value, strlen(value)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* Returns 0 when socket(family, SOCK_STREAM, IPPROTO_MPTCP) works, else errno. */
static int try_mptcp(int family)
{
	int fd = socket(family, SOCK_STREAM, IPPROTO_MPTCP);

	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

int main(void)
{
	static const int families[] = { AF_INET, AF_INET6 };
	int err;

	if (unshare(CLONE_NEWNET) < 0)
		guest_skip(name, "cannot make a network namespace: %s", strerror(errno));
	err = set_mptcp_enabled("0");
	if (err)
		guest_fail(name, "net.mptcp.enabled=0: %s", strerror(-err));

	for (unsigned i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		const char *fam = families[i] == AF_INET ? "AF_INET" : "AF_INET6";

		err = try_mptcp(families[i]);
		if (err != ENOPROTOOPT)
			guest_fail(name, "%s with MPTCP disabled: got %s, want ENOPROTOOPT",
				   fam, err ? strerror(err) : "success");
	}

	err = set_mptcp_enabled("1");
	if (err)
		guest_fail(name, "net.mptcp.enabled=1: %s", strerror(-err));
	for (unsigned i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		err = try_mptcp(families[i]);
		if (err)
			guest_fail(name, "MPTCP re-enabled but socket() fails: %s", strerror(err));
	}
	printf("%s: net.mptcp.enabled=0 gives ENOPROTOOPT (IPv4 and IPv6)\n", name);
	return 0;
}
