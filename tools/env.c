/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* env.c - the child's environment (LD_PRELOAD, MPTCPIFY_*, GODEBUG) and the
 * exec of COMMAND, directly or through the BPF mode. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "run.h"

#if HAVE_BPF_MODE
#include "bpf-mode.h"
#endif

/* Whether the LD_PRELOAD entry E (LEN bytes) is a copy of mptcpify: the very
 * file LIB, or any libmptcpify.so* (two copies would both interpose). */
static bool is_mptcpify(const char *e, size_t len, const char *lib)
{
	static const char name[] = "libmptcpify.so";
	char path[PATH_MAX], a[PATH_MAX], b[PATH_MAX];
	const char *base;
	size_t i;

	if (len == strlen(lib) && memcmp(e, lib, len) == 0)
		return true;
	for (base = e, i = 0; i < len; i++)
		if (e[i] == '/')
			base = e + i + 1;
	if ((size_t)(e + len - base) >= sizeof(name) - 1 &&
	    memcmp(base, name, sizeof(name) - 1) == 0)
		return true;
	if (len >= sizeof(path))
		return false;
	memcpy(path, e, len);
	path[len] = '\0';
	return realpath(path, a) && realpath(lib, b) && strcmp(a, b) == 0;
}

char *ldpreload_merge(const char *old, const char *lib)
{
	size_t cap = strlen(lib) + (old ? strlen(old) : 0) + 2;
	char *out = malloc(cap);
	size_t n;

	if (!out)
		return NULL;
	n = (size_t)snprintf(out, cap, "%s", lib);
	while (old && *old) {
		size_t len = strcspn(old, " :");

		if (len && !is_mptcpify(old, len, lib)) {
			out[n++] = ':';
			memcpy(out + n, old, len);
			n += len;
			out[n] = '\0';
		}
		old += len;
		old += strspn(old, " :");
	}
	return out;
}

char *ldpreload_strip(const char *old)
{
	char *out = malloc(strlen(old) + 1);
	size_t n = 0;

	if (!out)
		return NULL;
	out[0] = '\0';
	while (*old) {
		size_t len = strcspn(old, " :");

		if (len && !is_mptcpify(old, len, "")) {
			if (n)
				out[n++] = ':';
			memcpy(out + n, old, len);
			n += len;
			out[n] = '\0';
		}
		old += len;
		old += strspn(old, " :");
	}
	return out;
}

/* Reads a rule's text: whether it starts with '!' and which qualifier
 * (POLICY_LISTEN, POLICY_CONNECT, or 0 for both) follows. */
static void rule_shape(const char *t, size_t len, bool *negated, int *dir)
{
	*negated = len > 0 && t[0] == '!';
	if (*negated) {
		t++;
		len--;
	}
	if (len >= 7 && strncasecmp(t, "listen@", 7) == 0)
		*dir = POLICY_LISTEN;
	else if (len >= 8 && strncasecmp(t, "connect@", 8) == 0)
		*dir = POLICY_CONNECT;
	else
		*dir = 0;
}

/* Go only knows "listeners", "dialers", both or neither. A negated rule
 * never upgrades anything, so only positive rules count: `!connect@x, *`
 * can upgrade both sides (1); `listen@:443, !10.0.0.0/8` listeners only (2);
 * a policy of nothing but negated rules upgrades nothing (0: leave Go be). */
int go_mptcp_mode(const struct policy *p)
{
	bool listen = false, connect = false;
	unsigned i, n;

	if (!p)
		return 1;
	n = policy_rule_count(p);
	for (i = 1; i <= n; i++) {
		size_t len = 0;
		const char *t = policy_rule_text(p, i, &len);
		bool negated;
		int dir;

		if (!t)
			continue;
		rule_shape(t, len, &negated, &dir);
		if (negated)
			continue;
		if (dir != POLICY_CONNECT)
			listen = true;
		if (dir != POLICY_LISTEN)
			connect = true;
	}
	if (listen && connect)
		return 1;
	if (listen)
		return 2;
	if (connect)
		return 3;
	return 0;
}

char *godebug_merge(const char *old, int mode)
{
	static const char key[] = "multipathtcp";
	size_t cap = (old ? strlen(old) : 0) + sizeof(key) + 16;
	char *out = malloc(cap);
	size_t n = 0;

	if (!out)
		return NULL;
	out[0] = '\0';
	while (old && *old) {
		size_t len = strcspn(old, ",");
		size_t klen = strcspn(old, ",=");
		bool ours = klen == sizeof(key) - 1 && memcmp(old, key, klen) == 0;

		if (len && !ours) {
			memcpy(out + n, old, len);
			n += len;
			out[n++] = ',';
			out[n] = '\0';
		}
		old += len;
		old += strspn(old, ",");
	}
	snprintf(out + n, cap - n, "%s=%d", key, mode);
	return out;
}

static int set_env(const char *name, const char *value)
{
	if (!value || setenv(name, value, 1) != 0) {
		fprintf(stderr, PROG ": cannot set %s: %s\n", name,
			value ? strerror(errno) : "out of memory");
		return -1;
	}
	return 0;
}

static const char *go_mode_text(int mode)
{
	switch (mode) {
	case 1: return "listeners and connections";
	case 2: return "listeners only";
	case 3: return "connections only";
	default: return "nothing";
	}
}

int run_command(const struct run_settings *s, char *const argv[])
{
	char lib[PATH_MAX];
	const char *origin;
	char *merged;
	int mode, err;

	if (library_find_or_complain(s, lib, sizeof(lib), &origin))
		return EXIT_OWN_ERROR;

	merged = ldpreload_merge(getenv("LD_PRELOAD"), lib);
	if (set_env("LD_PRELOAD", merged))
		return EXIT_OWN_ERROR;
	if (s->verbose)
		fprintf(stderr, PROG ": LD_PRELOAD=%s (library from %s)\n",
			merged, origin);
	free(merged);

	if (s->addrs_from_cli && set_env("MPTCPIFY_ADDRS", s->addrs))
		return EXIT_OWN_ERROR;
	if (s->options_from_cli && set_env("MPTCPIFY_OPTIONS", s->options))
		return EXIT_OWN_ERROR;
	if (s->verbose &&
	    set_env("MPTCPIFY_LOG", s->verbose > 1 ? "debug" : "info"))
		return EXIT_OWN_ERROR;
	if (s->stats && set_env("MPTCPIFY_STATS", "1"))
		return EXIT_OWN_ERROR;

	/* Go does not call libc's socket(): GODEBUG is all it listens to. */
	mode = go_mptcp_mode(s->policy);
	if (mode) {
		merged = godebug_merge(getenv("GODEBUG"), mode);
		if (set_env("GODEBUG", merged))
			return EXIT_OWN_ERROR;
		free(merged);
	}
	if (s->verbose) {
		if (mode)
			fprintf(stderr, PROG ": Go programs: GODEBUG multipathtcp=%d "
				"(MPTCP for %s); Go does not use libc, so it gets "
				"no address filtering from MPTCPIFY_ADDRS\n",
				mode, go_mode_text(mode));
		else
			fprintf(stderr, PROG ": Go programs: GODEBUG left alone "
				"(the policy upgrades nothing)\n");
	}

	execvp(argv[0], argv);
	err = errno;
	fprintf(stderr, PROG ": %s: %s\n", argv[0], strerror(err));
	return err == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_RUN;
}

/* --bpf works inside socket(2), before any address is known: a policy
 * can only be "everything". Returns 0 when S's policy allows that. */
static int bpf_policy_ok(const struct run_settings *s)
{
	unsigned i, n;

	if (!s->policy)
		return 0;
	n = policy_rule_count(s->policy);
	if (n == 0) {
		fprintf(stderr, PROG ": --bpf: MPTCPIFY_ADDRS is empty, so nothing "
			"would be upgraded; drop --bpf or set MPTCPIFY_ADDRS='*'\n");
		return -1;
	}
	for (i = 1; i <= n; i++) {
		size_t len = 0;
		const char *t = policy_rule_text(s->policy, i, &len);

		if (t && len == 1 && t[0] == '*')
			continue;
		fprintf(stderr, PROG ": --bpf: MPTCPIFY_ADDRS rule %u \"%.*s\": the "
			"BPF mode decides inside socket(), before any address is "
			"known, so it cannot apply address rules (only '*')\n",
			i, (int)len, t ? t : "");
		return -1;
	}
	return 0;
}

int run_bpf(const struct run_settings *s, char *const argv[])
{
	if (bpf_policy_ok(s))
		return EXIT_OWN_ERROR;
	if (s->options && (s->options_from_cli || s->verbose))
		fprintf(stderr, PROG ": --bpf: MPTCPIFY_OPTIONS has no effect in "
			"the BPF mode (the kernel's errors reach the program)\n");
#if HAVE_BPF_MODE
	return bpf_mode_run(argv, s->verbose);
#else
	(void)argv;
	fprintf(stderr, PROG ": --bpf: this mptcpify-run was built without BPF "
		"mode (meson option -Dbpf=enabled needs clang, bpftool and libbpf)\n");
	return EXIT_OWN_ERROR;
#endif
}
