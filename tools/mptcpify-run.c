/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mptcpify-run.c - the command line: options, usage, and the choice of mode. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run.h"
#include "seccomp.h"

enum mode {
	MODE_RUN = 0,
	MODE_EXPLAIN,
	MODE_CHECK,
	MODE_ENABLE_UNIT,
	MODE_DISABLE_UNIT,
};

enum long_only {
	OPT_LIB = 256,
	OPT_VERSION,
	OPT_EXPLAIN,
	OPT_CHECK,
	OPT_ENABLE_UNIT,
	OPT_DISABLE_UNIT,
	OPT_ROOT,
	OPT_BPF,
	OPT_LOG_FILE,
	OPT_SECCOMP,
	OPT_RUN_MODE,
};

/* How COMMAND is given MPTCP. */
enum via {
	VIA_AUTO = 0,   /* by what COMMAND is (choose_via) */
	VIA_PRELOAD,    /* libmptcpify.so in LD_PRELOAD */
	VIA_SECCOMP,    /* the seccomp supervisor */
	VIA_BPF,        /* the BPF program */
};

static void usage(FILE *f)
{
	fputs(
"Usage: " PROG " [OPTIONS] [--] COMMAND [ARGS...]\n"
"       " PROG " [-a RULES] --explain listen|connect ADDRESS\n"
"       " PROG " [-a RULES] [-o SPEC] --check\n"
"       " PROG " [-a RULES] [-o SPEC] [-v] [-s] [--lib PATH] [--root DIR] --enable-unit UNIT\n"
"       " PROG " [--root DIR] --disable-unit UNIT\n"
"       " PROG " --bpf [-v] [--] COMMAND [ARGS...]\n"
"       " PROG " --seccomp [-a RULES] [-o SPEC] [-v] [-s] [--] COMMAND [ARGS...]\n"
"\n"
"Run COMMAND with its TCP sockets upgraded to Multipath TCP by libmptcpify.so\n"
"(LD_PRELOAD) or, for static and Go programs, by a seccomp supervisor, as\n"
"MPTCPIFY_ADDRS allows. Options end at the first argument that is not one, so\n"
"the COMMAND's own options are left alone.\n"
"\n"
"Options:\n"
"  -a, --addrs RULES       which sockets become MPTCP (sets MPTCPIFY_ADDRS),\n"
"                          e.g. 'listen@:443, connect@10.0.0.0/8'; see mptcpify(7)\n"
"  -o, --options SPEC      what the library does with socket options MPTCP\n"
"                          refuses (sets MPTCPIFY_OPTIONS), e.g. 'IP_TTL=error'\n"
"  -v, --verbose           log every decision (MPTCPIFY_LOG=info); twice: debug\n"
"  -s, --stats             one summary line per process at exit (MPTCPIFY_STATS=1)\n"
"      --log-file PATH|syslog  send the library's lines to PATH (absolute,\n"
"                          appended) or to syslog instead of stderr\n"
"                          (MPTCPIFY_LOG_FILE)\n"
"      --lib PATH          preload this library instead of the default one\n"
"      --seccomp           upgrade through a seccomp supervisor instead of\n"
"                          LD_PRELOAD (static and Go programs, raw syscalls;\n"
"                          the same rules and options; no root needed)\n"
"      --bpf               upgrade with a BPF program instead of LD_PRELOAD\n"
"                          (reaches static and Go programs; no address rules)\n"
"      --mode MODE         preload, seccomp or bpf; by default the preload for\n"
"                          dynamically linked programs, seccomp for static and\n"
"                          Go ones (-v says which and why)\n"
"\n"
"Modes:\n"
"      --explain listen|connect ADDRESS\n"
"                          say whether the policy upgrades a listener on, or a\n"
"                          connection to, ADDRESS (1.2.3.4:443 or [::1]:443)\n"
"      --check             diagnose MPTCP on this machine; exit 1 when unusable\n"
"      --enable-unit UNIT  write a systemd drop-in that runs UNIT under the library\n"
"      --disable-unit UNIT remove that drop-in\n"
"      --root DIR          with --enable-unit/--disable-unit: work on the system\n"
"                          tree under DIR (no daemon-reload)\n"
"  -h, --help              show this help and exit\n"
"      --version           show the version and exit\n"
"\n"
"Environment: MPTCPIFY_ADDRS, MPTCPIFY_OPTIONS, MPTCPIFY_LOG, MPTCPIFY_LOG_FILE,\n"
"MPTCPIFY_STATS, MPTCPIFY_STRATEGY, MPTCPIFY_LIB (the library to preload). See\n"
"mptcpify-run(1) and mptcpify(7).\n"
"\n"
"Exit status: COMMAND's own; 125 when " PROG " itself fails (usage, invalid\n"
"MPTCPIFY_ADDRS or MPTCPIFY_OPTIONS, library missing, --seccomp or --bpf\n"
"cannot run here); 126 when COMMAND cannot be executed; 127 when it is not\n"
"found.\n", f);
}

static int usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry '" PROG " --help' for more information.\n", stderr);
	return EXIT_OWN_ERROR;
}

/* --check probes sockets and options: the library in our own LD_PRELOAD
 * would answer in the kernel's place. Re-executes this program without it
 * (once: the new LD_PRELOAD has no copy left). Returns only when there was
 * nothing to remove or the re-exec failed. */
static void check_without_library(char *argv[])
{
	const char *old = getenv("LD_PRELOAD");
	char *stripped;

	if (!old || !*old)
		return;
	stripped = ldpreload_strip(old);
	if (!stripped || strcmp(stripped, old) == 0) {
		free(stripped);
		return;
	}
	if (*stripped)
		setenv("LD_PRELOAD", stripped, 1);
	else
		unsetenv("LD_PRELOAD");
	free(stripped);
	execv("/proc/self/exe", argv);
	fprintf(stderr, PROG ": warning: cannot re-run without the library in "
		"LD_PRELOAD (%s); the probes may see it\n", strerror(errno));
}

static int set_via(enum via *via, enum via v, const char *name)
{
	if (*via != VIA_AUTO && *via != v)
		return usage_error("%s cannot be combined with another --mode", name);
	*via = v;
	return 0;
}

/* The mode for COMMAND when none is forced: the preload for what ld.so
 * loads, the supervisor for what LD_PRELOAD never reaches. */
static enum via choose_via(const struct run_settings *s, const char *command)
{
	char path[4096] = "", why[512];
	struct sc_kernel k;
	bool setid = false;
	enum sc_binary b = sc_inspect(command, path, sizeof(path), &setid);
	const char *what;

	if (b != SC_BIN_GO && b != SC_BIN_STATIC) {
		if (s->verbose)
			fprintf(stderr, PROG ": mode preload: %s %s\n", path[0] ? path : command,
				b == SC_BIN_DYNAMIC ? "is dynamically linked (PT_INTERP)"
						    : "is not an ELF program we can read (a script?)");
		return VIA_PRELOAD;
	}
	what = b == SC_BIN_GO ? "is a Go program (Go build information): Go makes its "
				"system calls itself"
			      : "is statically linked (no PT_INTERP)";
	if (setid) {
		if (s->verbose)
			fprintf(stderr, PROG ": mode preload: %s %s, but it is setuid, setgid or "
				"has file capabilities, which the seccomp mode would drop\n", path, what);
		return VIA_PRELOAD;
	}
	if (sc_kernel_probe(&k, why, sizeof(why)) < 0) {
		fprintf(stderr, PROG ": warning: %s %s, and the seccomp mode cannot run here "
			"(%s): running it with the preload, which it does not see\n", path, what, why);
		return VIA_PRELOAD;
	}
	if (s->verbose)
		fprintf(stderr, PROG ": mode seccomp: %s %s\n", path, what);
	return VIA_SECCOMP;
}

static int set_mode(enum mode *mode, enum mode m, const char *name)
{
	if (*mode != MODE_RUN && *mode != m)
		return usage_error("%s cannot be combined with another mode", name);
	*mode = m;
	return 0;
}

int main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "addrs", required_argument, NULL, 'a' },
		{ "options", required_argument, NULL, 'o' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "stats", no_argument, NULL, 's' },
		{ "lib", required_argument, NULL, OPT_LIB },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "explain", required_argument, NULL, OPT_EXPLAIN },
		{ "check", no_argument, NULL, OPT_CHECK },
		{ "enable-unit", required_argument, NULL, OPT_ENABLE_UNIT },
		{ "disable-unit", required_argument, NULL, OPT_DISABLE_UNIT },
		{ "root", required_argument, NULL, OPT_ROOT },
		{ "bpf", no_argument, NULL, OPT_BPF },
		{ "log-file", required_argument, NULL, OPT_LOG_FILE },
		{ "seccomp", no_argument, NULL, OPT_SECCOMP },
		{ "mode", required_argument, NULL, OPT_RUN_MODE },
		{ NULL, 0, NULL, 0 },
	};
	struct run_settings s;
	enum mode mode = MODE_RUN;
	const char *explain_dir = NULL;
	enum via via = VIA_AUTO;
	int c, rc;

	memset(&s, 0, sizeof(s));
	opterr = 0;
	/* '+': stop at the first non-option, so `curl -v` keeps its -v. */
	while ((c = getopt_long(argc, argv, "+:a:o:vsh", longopts, NULL)) != -1) {
		switch (c) {
		case 'a':
			s.addrs = optarg;
			s.addrs_from_cli = true;
			break;
		case 'o':
			s.options = optarg;
			s.options_from_cli = true;
			break;
		case 'v':
			s.verbose++;
			break;
		case 's':
			s.stats = true;
			break;
		case OPT_LIB:
			s.lib = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case OPT_VERSION:
			printf(PROG " (mptcpify) %s\n", MPTCPIFY_VERSION);
			return 0;
		case OPT_EXPLAIN:
			if ((rc = set_mode(&mode, MODE_EXPLAIN, "--explain")))
				return rc;
			explain_dir = optarg;
			break;
		case OPT_CHECK:
			if ((rc = set_mode(&mode, MODE_CHECK, "--check")))
				return rc;
			break;
		case OPT_ENABLE_UNIT:
			if ((rc = set_mode(&mode, MODE_ENABLE_UNIT, "--enable-unit")))
				return rc;
			s.unit = optarg;
			break;
		case OPT_DISABLE_UNIT:
			if ((rc = set_mode(&mode, MODE_DISABLE_UNIT, "--disable-unit")))
				return rc;
			s.unit = optarg;
			break;
		case OPT_ROOT:
			s.root = optarg;
			break;
		case OPT_LOG_FILE:
			if (optarg[0] != '/' && strcmp(optarg, "syslog") != 0 &&
			    strcmp(optarg, "stderr") != 0)
				return usage_error("--log-file: expected an absolute path, syslog or "
						   "stderr, not '%s'", optarg);
			s.log_file = optarg;
			break;
		case OPT_BPF:
			if ((rc = set_via(&via, VIA_BPF, "--bpf")))
				return rc;
			break;
		case OPT_SECCOMP:
			if ((rc = set_via(&via, VIA_SECCOMP, "--seccomp")))
				return rc;
			break;
		case OPT_RUN_MODE:
			if (strcmp(optarg, "preload") == 0)
				rc = set_via(&via, VIA_PRELOAD, "--mode preload");
			else if (strcmp(optarg, "seccomp") == 0)
				rc = set_via(&via, VIA_SECCOMP, "--mode seccomp");
			else if (strcmp(optarg, "bpf") == 0)
				rc = set_via(&via, VIA_BPF, "--mode bpf");
			else
				return usage_error("--mode: expected preload, seccomp or bpf, not '%s'",
						   optarg);
			if (rc)
				return rc;
			break;
		case ':':
			if (strncmp(argv[optind - 1], "--", 2) == 0)
				return usage_error("option '%s' needs an argument",
						   argv[optind - 1]);
			return usage_error("option '-%c' needs an argument", optopt);
		default:
			if (strncmp(argv[optind - 1], "--", 2) == 0)
				return usage_error("unknown option '%s'",
						   argv[optind - 1]);
			return usage_error("unknown option '-%c'", optopt);
		}
	}
	if (via != VIA_AUTO && mode != MODE_RUN)
		return usage_error("%s only runs a command",
				   via == VIA_BPF ? "--bpf" : via == VIA_SECCOMP ? "--seccomp" : "--mode");
	if (s.root && mode != MODE_ENABLE_UNIT && mode != MODE_DISABLE_UNIT)
		return usage_error("%s needs --enable-unit or --disable-unit",
				   "--root");

	/* read by the library, the supervisor and a unit alike */
	if (s.log_file && setenv("MPTCPIFY_LOG_FILE", s.log_file, 1) != 0)
		return usage_error("--log-file: %s", strerror(errno));
	if (!s.addrs_from_cli)
		s.addrs = getenv("MPTCPIFY_ADDRS");
	if (!s.options_from_cli)
		s.options = getenv("MPTCPIFY_OPTIONS");

	switch (mode) {
	case MODE_EXPLAIN:
		if (argc - optind != 1)
			return usage_error("%s needs exactly one ADDRESS after the direction",
					   "--explain");
		if (settings_load(&s, stderr, ""))
			return EXIT_OWN_ERROR;
		rc = explain_main(&s, explain_dir, argv[optind]);
		break;
	case MODE_CHECK:
		if (optind != argc)
			return usage_error("unexpected argument '%s' after --check",
					   argv[optind]);
		check_without_library(argv);
		/* A bad policy is reported among the items, not as an error. */
		rc = check_main(&s);
		break;
	case MODE_ENABLE_UNIT:
		if (optind != argc)
			return usage_error("unexpected argument '%s' after --enable-unit",
					   argv[optind]);
		if (settings_load(&s, stderr, ""))
			return EXIT_OWN_ERROR;
		rc = unit_enable(&s);
		break;
	case MODE_DISABLE_UNIT:
		if (optind != argc)
			return usage_error("unexpected argument '%s' after --disable-unit",
					   argv[optind]);
		/* Removing the drop-in needs no valid policy. */
		rc = unit_disable(&s);
		break;
	case MODE_RUN:
	default:
		if (optind == argc)
			return usage_error("%s", "no COMMAND given");
		if (settings_load(&s, stderr, ""))
			return EXIT_OWN_ERROR;
		if (via == VIA_AUTO)
			via = choose_via(&s, argv[optind]);
		if (via == VIA_BPF)
			rc = run_bpf(&s, argv + optind);
		else if (via == VIA_SECCOMP)
			rc = sc_run(&s, argv + optind);
		else
			rc = run_command(&s, argv + optind);
		break;
	}
	settings_free(&s);
	return rc;
}
