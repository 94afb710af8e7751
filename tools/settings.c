/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* settings.c - validating MPTCPIFY_ADDRS / MPTCPIFY_OPTIONS, and finding
 * the library to preload. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run.h"

struct error_ctx {
	FILE *out;
	const char *var;
	const char *prefix;
};

static void print_error(void *ctx, const struct policy_error *err)
{
	const struct error_ctx *ec = ctx;
	char line[512];

	policy_error_format(err, ec->var, line, sizeof(line));
	fprintf(ec->out, "%s%s\n", ec->prefix, line);
}

int settings_load(struct run_settings *s, FILE *out, const char *line_prefix)
{
	struct error_ctx ec = { .out = out, .prefix = line_prefix };
	int bad = 0, rc;

	if (s->addrs) {
		ec.var = "MPTCPIFY_ADDRS";
		rc = policy_parse(s->addrs, &s->policy, print_error, &ec);
		if (rc == -ENOMEM) {
			fprintf(out, "%s" PROG ": out of memory parsing MPTCPIFY_ADDRS\n",
				line_prefix);
			bad = 1;
		} else if (rc) {
			s->policy = NULL;
			bad = 1;
		}
	}
	if (s->options) {
		ec.var = "MPTCPIFY_OPTIONS";
		if (optclass_parse(s->options, &s->overrides, print_error, &ec))
			bad = 1;
	}
	return bad ? -1 : 0;
}

void settings_free(struct run_settings *s)
{
	policy_free(s->policy);
	s->policy = NULL;
}

/* Whether this executable lives in the build tree's tools/ directory. */
static bool running_from_build_tree(void)
{
	char self[PATH_MAX], tools[PATH_MAX];
	char *slash;

	if (!realpath("/proc/self/exe", self))
		return false;
	slash = strrchr(self, '/');
	if (!slash)
		return false;
	*slash = '\0';
	if (!realpath(MPTCPIFY_BUILD_TOOLS_DIR, tools))
		return false;
	return strcmp(self, tools) == 0;
}

/* Makes PATH absolute against the current directory, without resolving
 * symbolic links (a drop-in must keep following /usr/lib/... across
 * upgrades). Returns 0 or -1 when it does not fit. */
static int make_absolute(const char *path, char *buf, size_t size)
{
	char cwd[PATH_MAX];
	int n;

	if (path[0] == '/')
		n = snprintf(buf, size, "%s", path);
	else if (getcwd(cwd, sizeof(cwd)))
		n = snprintf(buf, size, "%s/%s", cwd, path);
	else
		return -1;
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* Is PATH an ELF shared object (ET_DYN)? */
static int is_shared_object(const char *path)
{
	unsigned char h[18];
	FILE *f = fopen(path, "rb");
	size_t n = f ? fread(h, 1, sizeof(h), f) : 0;

	if (f)
		fclose(f);
	/* e_type (offset 16, little-endian on the machines this runs on) */
	return n == sizeof(h) && memcmp(h, "\177ELF", 4) == 0 && h[16] == 3 && h[17] == 0;
}

int library_find(const struct run_settings *s, char *buf, size_t size,
		 const char **origin)
{
	const char *path;

	if (s->lib) {
		path = s->lib;
		*origin = "--lib";
	} else if ((path = getenv("MPTCPIFY_LIB")) && *path) {
		*origin = "MPTCPIFY_LIB";
	} else if (running_from_build_tree()) {
		path = MPTCPIFY_LIB_BUILD;
		*origin = "build tree";
	} else {
		path = MPTCPIFY_LIB_INSTALLED;
		*origin = "installed";
	}
	if (make_absolute(path, buf, size)) {
		snprintf(buf, size, "%s", path);
		return -ENAMETOOLONG;
	}
	if (access(buf, R_OK) != 0)
		return -errno;
	/* ld.so splits LD_PRELOAD on both: such a path cannot be preloaded. */
	if (strpbrk(buf, " :"))
		return -EINVAL;
	/* ld.so would only warn and run the program without it */
	return is_shared_object(buf) ? 0 : -ENOEXEC;
}

int library_find_or_complain(const struct run_settings *s, char *buf,
			     size_t size, const char **origin)
{
	int rc = library_find(s, buf, size, origin);

	if (rc) {
		fprintf(stderr, PROG ": library %s (from %s): %s\n", buf, *origin,
			rc == -EINVAL ? "a space or colon in its path: LD_PRELOAD "
			"cannot name it" :
			rc == -ENOEXEC ? "not a shared library" : strerror(-rc));
		return -1;
	}
	return 0;
}
