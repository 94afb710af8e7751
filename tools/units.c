/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* units.c - `--enable-unit` / `--disable-unit`: a systemd drop-in that runs
 * a service under the library, never touching the vendor unit. */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "run.h"
#include "units.h"

#define UNIT_DIR "/etc/systemd/system"

/* The system manager's unit search path, highest priority first (systemd
 * 252's, plus /lib/systemd/system where Debian 12's packages put units). */
const char *const unit_dirs[] = {
	"/etc/systemd/system.control", "/run/systemd/system.control",
	"/run/systemd/transient", "/run/systemd/generator.early",
	"/etc/systemd/system", "/etc/systemd/system.attached",
	"/run/systemd/system", "/run/systemd/system.attached",
	"/run/systemd/generator", "/usr/local/lib/systemd/system",
	"/usr/lib/systemd/system", "/lib/systemd/system",
	"/run/systemd/generator.late", NULL,
};

/* The unit types systemd knows; a name ending in another ".word" (php8.2-fpm)
 * is still a bare service name. */
static const char *const unit_types[] = {
	"service", "socket", "device", "mount", "automount", "swap", "target",
	"path", "timer", "slice", "scope", NULL,
};

/* Checks NAME and stores the full unit name (with .service added when it
 * has no unit suffix) in BUF. Returns 0 or -1 after printing why. */
static int unit_name(const char *name, char *buf, size_t size)
{
	const char *dot = strrchr(name, '.');
	size_t i;
	int n;

	if (!*name || name[0] == '.' || strlen(name) > 250) {
		fprintf(stderr, PROG ": invalid unit name '%s'\n", name);
		return -1;
	}
	for (i = 0; name[i]; i++) {
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "0123456789:-_.\\@", name[i])) {
			fprintf(stderr, PROG ": invalid unit name '%s' (character "
				"'%c' is not allowed)\n", name, name[i]);
			return -1;
		}
	}
	if (dot) {
		for (i = 0; unit_types[i]; i++) {
			if (strcmp(dot + 1, unit_types[i]) != 0)
				continue;
			if (strcmp(unit_types[i], "service") != 0) {
				fprintf(stderr, PROG ": %s is a %s unit; only service "
					"units run programs that the library can "
					"reach\n", name, unit_types[i]);
				return -1;
			}
			n = snprintf(buf, size, "%s", name);
			return n < 0 || (size_t)n >= size ? -1 : 0;
		}
	}
	n = snprintf(buf, size, "%s.service", name);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* The drop-in directory and file of UNIT under S->root. */
static int dropin_paths(const struct run_settings *s, const char *unit,
			char *dir, char *file)
{
	const char *root = s->root ? s->root : "";
	int n;

	n = snprintf(dir, PATH_MAX, "%s" UNIT_DIR "/%s.d", root, unit);
	if (n < 0 || n >= PATH_MAX)
		return -1;
	n = snprintf(file, PATH_MAX, "%s/" DROPIN_NAME, dir);
	return n < 0 || n >= PATH_MAX ? -1 : 0;
}

/* mkdir -p PATH (mode 0755). Returns 0 or -1 with errno set. */
static int make_dirs(const char *path)
{
	char p[PATH_MAX];
	char *slash;

	snprintf(p, sizeof(p), "%s", path);
	for (slash = strchr(p + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return -1;
		*slash = '/';
	}
	return mkdir(p, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

/* Writes one Environment= line. systemd unquotes "..." with C escapes and
 * expands %-specifiers, so quote, backslash and % are escaped, and white
 * space (only a separator in these settings) becomes a plain space. */
static void put_environment(FILE *f, const char *name, const char *value)
{
	const char *p;

	fprintf(f, "Environment=\"%s=", name);
	for (p = value; *p; p++) {
		switch (*p) {
		case '"':
		case '\\':
			fputc('\\', f);
			fputc(*p, f);
			break;
		case '%':
			fputs("%%", f);
			break;
		case '\n':
		case '\t':
		case '\r':
		case '\v':
		case '\f':
			fputc(' ', f);
			break;
		default:
			fputc(*p, f);
			break;
		}
	}
	fputs("\"\n", f);
}

/* Whether systemd runs this system (and so wants a daemon-reload). */
static bool systemd_running(void)
{
	return access("/run/systemd/system", F_OK) == 0;
}

/* Runs `systemctl daemon-reload` when it makes sense. Returns 0 or -1. */
static int daemon_reload(const struct run_settings *s)
{
	pid_t pid;
	int status;

	if (s->root || !systemd_running())
		return 0;
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		execlp("systemctl", "systemctl", "daemon-reload", (char *)NULL);
		fprintf(stderr, PROG ": systemctl: %s\n", strerror(errno));
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		fprintf(stderr, PROG ": warning: systemctl daemon-reload failed; "
			"run it yourself\n");
		return -1;
	}
	return 0;
}

/* Finds the unit file systemd would load for UNIT under S->root (for an
 * instance foo@bar.service, the template foo@.service when there is no
 * foo@bar.service) and stores its path in PATH. Returns whether one exists. */
bool unit_fragment(const struct run_settings *s, const char *unit,
			  char path[PATH_MAX])
{
	const char *root = s->root ? s->root : "";
	const char *at = strchr(unit, '@');
	char tmpl[256];
	size_t i;
	int n;

	/* foo@bar.service comes from the template foo@.service. */
	if (at)
		snprintf(tmpl, sizeof(tmpl), "%.*s%s", (int)(at - unit + 1), unit,
			 strrchr(unit, '.'));
	for (i = 0; unit_dirs[i]; i++) {
		n = snprintf(path, PATH_MAX, "%s%s/%s", root, unit_dirs[i], unit);
		if (n > 0 && n < PATH_MAX && access(path, F_OK) == 0)
			return true;
	}
	for (i = 0; at && unit_dirs[i]; i++) {
		n = snprintf(path, PATH_MAX, "%s%s/%s", root, unit_dirs[i], tmpl);
		if (n > 0 && n < PATH_MAX && access(path, F_OK) == 0)
			return true;
	}
	return false;
}

/* Whether a unit file named UNIT exists anywhere systemd looks. */
static bool unit_known(const struct run_settings *s, const char *unit)
{
	char path[PATH_MAX];

	return unit_fragment(s, unit, path);
}

static const char *shown_path(const struct run_settings *s, const char *path)
{
	size_t n = s->root ? strlen(s->root) : 0;

	return n && strncmp(path, s->root, n) == 0 && path[n] == '/' ? path + n : path;
}

int unit_enable(const struct run_settings *s)
{
	char unit[256], dir[PATH_MAX], file[PATH_MAX], tmp[PATH_MAX + 16];
	char lib[PATH_MAX];
	const char *origin;
	struct own_env own;
	struct stat st;
	char *preload;
	FILE *f;
	int fd;

	if (unit_name(s->unit, unit, sizeof(unit)))
		return EXIT_OWN_ERROR;
	if (library_find_or_complain(s, lib, sizeof(lib), &origin))
		return EXIT_OWN_ERROR;
	if (dropin_paths(s, unit, dir, file)) {
		fprintf(stderr, PROG ": path too long\n");
		return EXIT_OWN_ERROR;
	}
	if (s->root && (stat(s->root, &st) < 0 || !S_ISDIR(st.st_mode))) {
		fprintf(stderr, PROG ": --root %s: %s\n", s->root,
			errno && !S_ISDIR(st.st_mode) ? strerror(errno) : "not a directory");
		return EXIT_OWN_ERROR;
	}
	own_environment(s, unit, &own);
	preload = ldpreload_merge(own.ld_preload, lib);
	if (!preload) {
		fprintf(stderr, PROG ": out of memory\n");
		free(own.ld_preload);
		return EXIT_OWN_ERROR;
	}
	if (!s->root && stat(UNIT_DIR, &st) < 0) {
		fprintf(stderr, PROG ": " UNIT_DIR ": %s (is systemd installed?)\n",
			strerror(errno));
		return EXIT_OWN_ERROR;
	}
	if (make_dirs(dir) < 0) {
		fprintf(stderr, PROG ": cannot create %s: %s\n", dir, strerror(errno));
		goto fail;
	}

	/* Write a temporary file and rename it: systemd never sees half. */
	snprintf(tmp, sizeof(tmp), "%s.XXXXXX", file);
	fd = mkstemp(tmp);
	if (fd < 0 || fchmod(fd, 0644) < 0 || !(f = fdopen(fd, "w"))) {
		fprintf(stderr, PROG ": cannot write %s: %s\n", tmp, strerror(errno));
		if (fd >= 0) {
			close(fd);
			unlink(tmp);
		}
		goto fail;
	}
	fprintf(f, "# Written by mptcpify-run %s (--enable-unit %s): runs the\n"
		"# service's TCP sockets through libmptcpify.so, see mptcpify(7).\n"
		"# Remove with: mptcpify-run --disable-unit %s\n",
		MPTCPIFY_VERSION, unit, unit);
	if (own.ld_preload && *own.ld_preload)
		fprintf(f, "# LD_PRELOAD keeps the unit's own (from %s):\n"
			"# enable again after changing it there.\n",
			shown_path(s, own.from));
	fputs("[Service]\n", f);
	put_environment(f, "LD_PRELOAD", preload);
	if (s->addrs)
		put_environment(f, "MPTCPIFY_ADDRS", s->addrs);
	if (s->options)
		put_environment(f, "MPTCPIFY_OPTIONS", s->options);
	if (s->verbose)
		put_environment(f, "MPTCPIFY_LOG", s->verbose > 1 ? "debug" : "info");
	if (s->stats)
		put_environment(f, "MPTCPIFY_STATS", "1");
	if (s->log_file)
		put_environment(f, "MPTCPIFY_LOG_FILE", s->log_file);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0 || fclose(f) != 0 ||
	    rename(tmp, file) != 0) {
		fprintf(stderr, PROG ": cannot write %s: %s\n", file, strerror(errno));
		unlink(tmp);
		goto fail;
	}

	printf(PROG ": wrote %s\n", file);
	if (own.ld_preload && *own.ld_preload)
		printf(PROG ": kept the unit's own LD_PRELOAD (from %s): "
		       "LD_PRELOAD=%s\n", shown_path(s, own.from), preload);
	own_environment_warnings(&own, lib);
	if (strcmp(origin, "build tree") == 0)
		printf(PROG ": note: %s is in a build tree; a service should use "
		       "an installed library (meson install, or --lib)\n", lib);
	if (!unit_known(s, unit))
		printf(PROG ": note: no unit file %s found; the drop-in applies "
		       "once it is installed\n", unit);
	daemon_reload(s);
	printf(PROG ": restart the service for it to take effect: "
	       "systemctl restart %s\n", unit);
	free(preload);
	free(own.ld_preload);
	return 0;
fail:
	free(preload);
	free(own.ld_preload);
	return EXIT_OWN_ERROR;
}

int unit_disable(const struct run_settings *s)
{
	char unit[256], dir[PATH_MAX], file[PATH_MAX];

	if (unit_name(s->unit, unit, sizeof(unit)))
		return EXIT_OWN_ERROR;
	if (dropin_paths(s, unit, dir, file)) {
		fprintf(stderr, PROG ": path too long\n");
		return EXIT_OWN_ERROR;
	}
	if (unlink(file) < 0) {
		if (errno == ENOENT) {
			printf(PROG ": no drop-in %s: nothing to remove\n", file);
			return 0;
		}
		fprintf(stderr, PROG ": cannot remove %s: %s\n", file, strerror(errno));
		return EXIT_OWN_ERROR;
	}
	printf(PROG ": removed %s\n", file);
	/* Other drop-ins may live there: only an empty directory goes. */
	if (rmdir(dir) < 0 && errno != ENOTEMPTY && errno != EEXIST)
		fprintf(stderr, PROG ": warning: cannot remove %s: %s\n", dir,
			strerror(errno));
	daemon_reload(s);
	printf(PROG ": restart the service for it to take effect: "
	       "systemctl restart %s\n", unit);
	return 0;
}
