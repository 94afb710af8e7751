/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* testlib.c - see testlib.h. */
#include "testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

int test_kernel_at_least(int major, int minor)
{
	struct utsname u;
	int ma = 0, mi = 0;

	if (uname(&u) < 0 || sscanf(u.release, "%d.%d", &ma, &mi) != 2)
		return 0;
	return ma > major || (ma == major && mi >= minor);
}

int test_run_self(const char *self, const char *lib, const char *mode, const char *log_level,
		  int *status)
{
	char path[] = "/tmp/mptcpify-test-XXXXXX";
	int fd = mkstemp(path), st;
	pid_t p;

	if (fd < 0)
		return -1;
	unlink(path);
	p = fork();
	if (p < 0) {
		close(fd);
		return -1;
	}
	if (p == 0) {
		dup2(fd, 1);
		unsetenv("MPTCPIFY_ADDRS"); /* all-mode: every socket MPTCP */
		unsetenv("MPTCPIFY_OPTIONS");
		unsetenv("MPTCPIFY_STRATEGY");
		unsetenv("MPTCPIFY_STATS");
		setenv("MPTCPIFY_LOG", log_level, 1);
		if (lib)
			setenv("LD_PRELOAD", lib, 1);
		else
			unsetenv("LD_PRELOAD");
		execl(self, self, "child", mode, (char *)NULL);
		_exit(127);
	}
	if (waitpid(p, &st, 0) < 0) {
		close(fd);
		return -1;
	}
	*status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	lseek(fd, 0, SEEK_SET);
	return fd;
}
