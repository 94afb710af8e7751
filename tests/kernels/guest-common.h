/* tests/kernels/guest-common.h: small helpers shared by the harness's own
 * guest tests (exit codes of the guest test contract, MPTcpExt counters). */
#ifndef MPTCPIFY_GUEST_COMMON_H
#define MPTCPIFY_GUEST_COMMON_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

#define GUEST_SKIP 77

/* Prints "name: FAIL: ..." and exits 1. */
static inline void __attribute__((noreturn, format(printf, 2, 3)))
guest_fail(const char *name, const char *fmt, ...)
{
	va_list ap;

	fprintf(stdout, "%s: FAIL: ", name);
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	exit(1);
}

/* Prints the one-line skip reason and exits 77. */
static inline void __attribute__((noreturn, format(printf, 2, 3)))
guest_skip(const char *name, const char *fmt, ...)
{
	va_list ap;

	fprintf(stdout, "%s: SKIP: ", name);
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	exit(GUEST_SKIP);
}

/* Returns the value of MPTcpExt counter `field` in /proc/net/netstat (this
 * network namespace), or -1 when the file or the counter is missing. The
 * file holds pairs of lines: "MPTcpExt: Name1 Name2..." then the values. */
static inline long long mptcp_counter(const char *field)
{
	char names[8192], values[8192];
	long long result = -1;
	FILE *f = fopen("/proc/net/netstat", "r");

	if (!f)
		return -1;
	while (fgets(names, sizeof(names), f) && fgets(values, sizeof(values), f)) {
		char *np, *vp, *n, *v;

		if (strncmp(names, "MPTcpExt:", 9) != 0)
			continue;
		n = strtok_r(names + 9, " \n", &np);
		v = strtok_r(values + 9, " \n", &vp);
		while (n && v) {
			if (strcmp(n, field) == 0) {
				result = strtoll(v, NULL, 10);
				break;
			}
			n = strtok_r(NULL, " \n", &np);
			v = strtok_r(NULL, " \n", &vp);
		}
		break;
	}
	fclose(f);
	return result;
}

/* Parses "X.Y..." from uname -r into x * 1000 + y; 0 when unknown. */
static inline int kernel_version_code(const char *release)
{
	int major = 0, minor = 0;

	if (!release || sscanf(release, "%d.%d", &major, &minor) != 2)
		return 0;
	return major * 1000 + minor;
}

#endif
