/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* run.h - what the parts of mptcpify-run share: its settings and modes. */
#ifndef MPTCPIFY_RUN_H
#define MPTCPIFY_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "mptcpify/optclass.h"
#include "mptcpify/policy.h"

/* Exit statuses, as env(1) uses them. */
#define EXIT_OWN_ERROR 125  /* usage, invalid policy or options, I/O */
#define EXIT_CANNOT_RUN 126 /* COMMAND found but could not be executed */
#define EXIT_NOT_FOUND 127  /* COMMAND not found */

#define PROG "mptcpify-run"

/* The settings gathered from the command line and the environment. */
struct run_settings {
	const char *addrs;      /* policy text; NULL when unset */
	bool addrs_from_cli;    /* came from --addrs rather than the env */
	const char *options;    /* MPTCPIFY_OPTIONS text; NULL when unset */
	bool options_from_cli;  /* came from --options */
	int verbose;            /* number of -v */
	bool stats;             /* -s */
	const char *log_file;   /* --log-file, NULL when not given */
	const char *lib;        /* --lib, NULL when not given */
	const char *root;       /* --root, NULL when not given */
	const char *unit;       /* --enable-unit / --disable-unit argument */

	/* Filled by settings_load(). */
	struct policy *policy;  /* NULL when addrs is NULL */
	struct opt_overrides overrides;
};

/* settings.c */
/* Parses the policy and the options of S. Each bad rule or entry is printed
 * as one line to OUT, prefixed with LINE_PREFIX (may be "").
 * Returns 0, or -1 when anything was invalid (after printing it all). */
int settings_load(struct run_settings *s, FILE *out, const char *line_prefix);
void settings_free(struct run_settings *s);

/* The library to preload: --lib, else MPTCPIFY_LIB, else the build tree's
 * when this program runs from the build tree, else the installed one.
 * Stores an absolute path (symlinks kept) in BUF and where it came from in
 * *ORIGIN. Returns 0, or a negative errno when the file cannot be read
 * (BUF still names it when it fits). */
int library_find(const struct run_settings *s, char *buf, size_t size,
		 const char **origin);

/* env.c */
/* LD_PRELOAD with LIB first and OLD's entries (space or colon separated)
 * after it, minus any other copy of the library. Returns a malloc'd string. */
char *ldpreload_merge(const char *old, const char *lib);

/* OLD without any copy of the library (a malloc'd string, maybe ""). */
char *ldpreload_strip(const char *old);

/* The GODEBUG multipathtcp= value the policy asks for: 1 (dial and listen),
 * 2 (listen only), 3 (dial only), or 0 when nothing can be upgraded and Go
 * must be left alone. P NULL means unset (everything: 1). */
int go_mptcp_mode(const struct policy *p);

/* GODEBUG with OLD's entries kept, any multipathtcp= entry dropped and
 * multipathtcp=MODE appended. Returns a malloc'd string. */
char *godebug_merge(const char *old, int mode);

/* library_find() and a one-line error on stderr. Returns 0 or -1. */
int library_find_or_complain(const struct run_settings *s, char *buf,
			     size_t size, const char **origin);

/* Sets up the child's environment and execs ARGV with a PATH search.
 * Returns only on failure: the exit status to use (125, 126 or 127). */
int run_command(const struct run_settings *s, char *const argv[]);

/* Runs ARGV under the BPF mode. Returns the exit status. */
int run_bpf(const struct run_settings *s, char *const argv[]);

/* explain.c */
/* --explain DIR ADDRESS: prints the verdict line. Returns the exit status. */
int explain_main(const struct run_settings *s, const char *dir,
		 const char *address);

/* check.c */
/* --check: prints one line per item. Returns 0 when MPTCP is usable, 1 not. */
int check_main(struct run_settings *s);

/* pmnl.c: the in-kernel path manager's state over generic netlink. */
struct pm_limits {
	unsigned subflows;
	unsigned add_addr_accepted;
};

struct pm_endpoint {
	int family;          /* AF_INET or AF_INET6 */
	unsigned char addr[16];
	unsigned id;
	unsigned port;       /* 0 when none */
	unsigned flags;      /* MPTCP_PM_ADDR_FLAG_* */
	int ifindex;         /* 0 when none */
};

/* Reads the limits. Returns 0 or a negative errno. */
int pm_get_limits(struct pm_limits *out);

/* Calls CB for every endpoint. Returns the number of endpoints or a negative
 * errno (-ENOENT when the kernel has no mptcp_pm family). */
int pm_dump_endpoints(void (*cb)(void *ctx, const struct pm_endpoint *ep),
		      void *ctx);

/* units.c */
/* --enable-unit / --disable-unit. Return the exit status. */
int unit_enable(const struct run_settings *s);
int unit_disable(const struct run_settings *s);

#endif /* MPTCPIFY_RUN_H */
