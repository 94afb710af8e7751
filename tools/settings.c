/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* settings.c - validating MPTCPIFY_ADDRS / MPTCPIFY_OPTIONS (a policy file
 * is compiled on the way: see policy_file_setting), and finding the
 * library to preload. */
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

/* "@PATH" of --addrs with PATH made absolute: the library reads the file
 * when the program makes its first TCP socket, maybe after a chdir. */
static char *absolute_addrs;

/* The file of a policy setting "@PATH" (white space before '@' allowed,
 * as the library reads it), or NULL when the setting is the rules. */
static const char *policy_file_of(const char *addrs)
{
	addrs += strspn(addrs, " \t\n\r\v\f");
	return addrs[0] == '@' ? addrs + 1 : NULL;
}

/* For "-a @FILE": FILE relative to the current directory becomes absolute,
 * in S->addrs (and so in the program's MPTCPIFY_ADDRS and in a drop-in).
 * A relative file from the environment stays an error, as in the library.
 * Returns 0 or -1 (a message printed). */
static int absolute_policy_file(struct run_settings *s, FILE *out, const char *line_prefix)
{
	const char *file = policy_file_of(s->addrs);
	char cwd[PATH_MAX];
	int n;

	if (!file || !file[0] || file[0] == '/' || !s->addrs_from_cli)
		return 0;
	if (!getcwd(cwd, sizeof(cwd))) {
		fprintf(out, "%s" PROG ": --addrs @%s: cannot tell the current directory: %s\n",
			line_prefix, file, strerror(errno));
		return -1;
	}
	free(absolute_addrs);
	n = asprintf(&absolute_addrs, "@%s/%s", cwd, file);
	if (n < 0) {
		absolute_addrs = NULL;
		fprintf(out, "%s" PROG ": out of memory\n", line_prefix);
		return -1;
	}
	s->addrs = absolute_addrs;
	return 0;
}

/* Writes FILE's compiled image when the policy had to be parsed (or its
 * image was racy), so that the program's processes map it instead of
 * parsing the file each (see policy-image.c). Best effort: an image that
 * cannot be written (a directory of root's) only costs time; -v says so. */
static void compile_policy_file(const struct run_settings *s, const char *file)
{
	int rc = policy_image_write(s->policy, file);

	if (rc == 0 && s->verbose)
		fprintf(stderr, PROG ": wrote %s" POLICY_IMAGE_SUFFIX " (%u rules)\n", file,
			policy_rule_count(s->policy));
	else if (rc < 0 && s->verbose)
		fprintf(stderr, PROG ": cannot write %s" POLICY_IMAGE_SUFFIX " (%s): each "
			"process parses the file at its first TCP socket\n", file, strerror(-rc));
}

int settings_load(struct run_settings *s, FILE *out, const char *line_prefix)
{
	struct error_ctx ec = { .out = out, .prefix = line_prefix };
	int bad = 0, rc;

	if (s->addrs && absolute_policy_file(s, out, line_prefix))
		return -1;
	if (s->addrs) {
		const char *file = policy_file_of(s->addrs);

		ec.var = "MPTCPIFY_ADDRS";
		/* the library's own loader: what it decides, --explain says */
		rc = policy_load(s->addrs, &s->policy, print_error, &ec, 0);
		if (rc == 0 && file)
			compile_policy_file(s, file);
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
	if (absolute_addrs && s->addrs == absolute_addrs)
		s->addrs = NULL;
	free(absolute_addrs);
	absolute_addrs = NULL;
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
