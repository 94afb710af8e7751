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

#define UNIT_DIR "/etc/systemd/system"
#define DROPIN_NAME "mptcpify.conf"

/* The system manager's unit search path, highest priority first (systemd
 * 252's, plus /lib/systemd/system where Debian 12's packages put units). */
static const char *const unit_dirs[] = {
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
static bool unit_fragment(const struct run_settings *s, const char *unit,
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

/* ---- the unit's own environment -------------------------------------------
 * A drop-in's Environment=LD_PRELOAD=... replaces the unit's own: systemd has
 * no way to append to a variable. So --enable-unit reads the unit the way
 * systemd does (its file, then every drop-in in file-name order) and writes
 * the library in front of the unit's own LD_PRELOAD, and it warns about
 * what would still take the library away (a later drop-in, an
 * EnvironmentFile=, UnsetEnvironment=). */

/* What the unit's files, ours excepted, do to LD_PRELOAD. */
struct own_env {
	char *ld_preload;          /* the last LD_PRELOAD= assignment, or NULL */
	char from[PATH_MAX];       /* the file it is in */
	bool from_after;           /* that file is applied after our drop-in */
	bool specifier;            /* the value has a %-specifier we keep as is */
	char reset_after[PATH_MAX];/* a later drop-in with an empty Environment= */
	char unset[PATH_MAX];      /* a file whose UnsetEnvironment= drops it */
	char envfile[PATH_MAX];    /* an EnvironmentFile= that sets LD_PRELOAD */
};

/* The character a C escape stands for; *SP points at the backslash and is
 * left on the escape's last character. */
static int c_unescape(const char **sp)
{
	const char *s = *sp + 1;
	int c = (unsigned char)*s;

	switch (c) {
	case 'a': c = '\a'; break;
	case 'b': c = '\b'; break;
	case 'f': c = '\f'; break;
	case 'n': c = '\n'; break;
	case 'r': c = '\r'; break;
	case 't': c = '\t'; break;
	case 'v': c = '\v'; break;
	case 's': c = ' '; break;
	case 'x':
		if (isxdigit((unsigned char)s[1]) && isxdigit((unsigned char)s[2])) {
			char hex[3] = { s[1], s[2], '\0' };

			c = (int)strtol(hex, NULL, 16);
			s += 2;
		}
		break;
	default:
		if (c >= '0' && c <= '7' && s[1] >= '0' && s[1] <= '7' &&
		    s[2] >= '0' && s[2] <= '7') {
			c = (c - '0') * 64 + (s[1] - '0') * 8 + (s[2] - '0');
			s += 2;
		}
		break;
	}
	*sp = s;
	return c;
}

/* Takes the next word of an Environment= value from *P into WORD (which has
 * room for all of *P) the way systemd splits it: white space separates,
 * "..." and '...' quote, backslashes escape as in C. Returns false at the
 * end of the value. */
static bool env_word(const char **p, char *word)
{
	const char *s = *p + strspn(*p, " \t\r\n");
	size_t n = 0;
	int quote = 0;

	if (!*s) {
		*p = s;
		return false;
	}
	for (; *s; s++) {
		int c = (unsigned char)*s;

		if (!quote && strchr(" \t\r\n", c))
			break;
		if (!quote && (c == '"' || c == '\'')) {
			quote = c;
			continue;
		}
		if (c == quote) {
			quote = 0;
			continue;
		}
		if (c == '\\' && s[1])
			c = c_unescape(&s);
		word[n++] = (char)c;
	}
	word[n] = '\0';
	*p = s;
	return true;
}

/* Environment=VALUE in PATH. */
static void scan_environment(const char *value, const char *path, bool after,
			     struct own_env *e)
{
	char *word = malloc(strlen(value) + 1);
	char *r, *w;

	if (!word)
		return;
	if (!*value) {
		/* An empty assignment resets the list, ours included. */
		free(e->ld_preload);
		e->ld_preload = NULL;
		if (after)
			snprintf(e->reset_after, PATH_MAX, "%s", path);
	}
	while (env_word(&value, word)) {
		if (strncmp(word, "LD_PRELOAD=", 11) != 0)
			continue;
		/* systemd expands specifiers after unquoting: "%%" is "%". */
		e->specifier = false;
		for (r = w = word + 11; *r; r++) {
			if (r[0] == '%' && r[1] == '%')
				r++;
			else if (r[0] == '%')
				e->specifier = true;
			*w++ = *r;
		}
		*w = '\0';
		free(e->ld_preload);
		e->ld_preload = strdup(word + 11);
		snprintf(e->from, PATH_MAX, "%s", path);
		e->from_after = after;
	}
	free(word);
}

/* UnsetEnvironment=VALUE in PATH. */
static void scan_unset(const char *value, const char *path, struct own_env *e)
{
	char *word = malloc(strlen(value) + 1);

	while (word && env_word(&value, word))
		if (strcmp(word, "LD_PRELOAD") == 0 ||
		    strncmp(word, "LD_PRELOAD=", 11) == 0)
			snprintf(e->unset, PATH_MAX, "%s", path);
	free(word);
}

/* EnvironmentFile=[-]FILE: its variables override every Environment=. */
static void scan_env_file(const struct run_settings *s, const char *value,
			  struct own_env *e)
{
	char path[PATH_MAX], line[512];
	FILE *f;

	if (*value == '-')
		value++;
	if (*value != '/' ||
	    snprintf(path, sizeof(path), "%s%s", s->root ? s->root : "", value) >=
	    (int)sizeof(path) || !(f = fopen(path, "re")))
		return;
	while (fgets(line, sizeof(line), f)) {
		char *p = line + strspn(line, " \t");

		if (strncmp(p, "export", 6) == 0 && (p[6] == ' ' || p[6] == '\t'))
			p += 6 + strspn(p + 6, " \t");
		if (strncmp(p, "LD_PRELOAD", 10) == 0 &&
		    p[10 + strspn(p + 10, " \t")] == '=')
			snprintf(e->envfile, PATH_MAX, "%s", value);
	}
	fclose(f);
}

/* Reads one logical line of a unit file into *BUF: a trailing backslash
 * joins the next line with a space, as systemd does, skipping comment
 * lines inside the continued value. Returns false at the end. */
static bool unit_line(FILE *f, char **buf, size_t *cap)
{
	char *part = NULL, *t;
	size_t pcap = 0, n = 0, len;
	ssize_t got;
	bool any = false, more = true;

	while (more && (got = getline(&part, &pcap, f)) >= 0) {
		len = (size_t)got;
		while (len && (part[len - 1] == '\n' || part[len - 1] == '\r'))
			part[--len] = '\0';
		t = part + strspn(part, " \t");
		if (any && (*t == '#' || *t == ';'))
			continue;
		more = !(*t == '#' || *t == ';') && len && part[len - 1] == '\\';
		if (more)
			part[len - 1] = ' ';
		if (n + len + 1 > *cap) {
			char *grown = realloc(*buf, n + len + 1);

			if (!grown)
				break;
			*buf = grown;
			*cap = n + len + 1;
		}
		memcpy(*buf + n, part, len + 1);
		n += len;
		any = true;
	}
	free(part);
	return any;
}

/* What unit file PATH does to LD_PRELOAD, on top of what E holds. AFTER:
 * systemd applies PATH after our drop-in. */
static void scan_unit_file(const struct run_settings *s, const char *path,
			   bool after, struct own_env *e)
{
	FILE *f = fopen(path, "re");
	char *line = NULL, *key, *eq, *end, *value;
	size_t cap = 0;
	bool service = false;

	if (!f)
		return;
	while (unit_line(f, &line, &cap)) {
		key = line + strspn(line, " \t");
		if (*key == '[') {
			service = strncmp(key, "[Service]", 9) == 0;
			continue;
		}
		if (!service || *key == '#' || *key == ';' || !(eq = strchr(key, '=')))
			continue;
		value = eq + 1 + strspn(eq + 1, " \t");
		for (end = eq; end > key && strchr(" \t", end[-1]); end--)
			;
		*end = '\0';
		if (strcmp(key, "Environment") == 0)
			scan_environment(value, path, after, e);
		else if (strcmp(key, "UnsetEnvironment") == 0)
			scan_unset(value, path, e);
		else if (strcmp(key, "EnvironmentFile") == 0)
			scan_env_file(s, value, e);
	}
	free(line);
	fclose(f);
}

struct dropin {
	char name[NAME_MAX + 1];
	char path[PATH_MAX];
};

static int dropin_cmp(const void *a, const void *b)
{
	return strcmp(((const struct dropin *)a)->name,
		      ((const struct dropin *)b)->name);
}

/* The .d directories systemd reads for UNIT, most specific first: UNIT.d,
 * the template's (foo@.service.d), each dash prefix's (a-b-.service.d,
 * a-.service.d) and the type's (service.d). Returns how many. */
static int dropin_dir_names(const char *unit, char names[][260], int max)
{
	const char *at = strchr(unit, '@'), *suffix = strrchr(unit, '.');
	size_t stem = (size_t)((at ? at : suffix) - unit);
	int n = 0;

	snprintf(names[n++], 260, "%s.d", unit);
	if (at)
		snprintf(names[n++], 260, "%.*s%s.d", (int)(at - unit + 1), unit, suffix);
	while (stem > 0 && n < max - 1) {
		while (stem > 0 && unit[stem - 1] != '-')
			stem--;
		if (stem == 0)
			break;
		snprintf(names[n++], 260, "%.*s%s.d", (int)stem, unit, suffix);
		stem--;
	}
	snprintf(names[n++], 260, "%s.d", suffix + 1);
	return n;
}

/* Every drop-in of UNIT under S->root, one per file name (a higher-priority
 * directory hides the same name in a lower one, /dev/null links included),
 * sorted by file name: the order systemd applies them in. Returns a malloc'd
 * array of *COUNT entries (NULL when there are none). */
static struct dropin *collect_dropins(const struct run_settings *s,
				      const char *unit, size_t *count)
{
	const char *root = s->root ? s->root : "";
	char names[16][260], dir[PATH_MAX];
	struct dropin *list = NULL;
	size_t n = 0, cap = 0, k;
	int nnames = dropin_dir_names(unit, names, 16), i, j;

	for (i = 0; unit_dirs[i]; i++) {
		for (j = 0; j < nnames; j++) {
			struct dirent *de;
			DIR *d;

			if (snprintf(dir, sizeof(dir), "%s%s/%s", root, unit_dirs[i],
				     names[j]) >= (int)sizeof(dir) || !(d = opendir(dir)))
				continue;
			while ((de = readdir(d))) {
				size_t len = strlen(de->d_name);

				if (len < 6 || strcmp(de->d_name + len - 5, ".conf") != 0 ||
				    strlen(dir) + 1 + len >= sizeof(list->path))
					continue;
				for (k = 0; k < n && strcmp(list[k].name, de->d_name); k++)
					;
				if (k < n)
					continue;
				if (n == cap) {
					struct dropin *grown = realloc(list, (cap = cap * 2 + 8) *
								       sizeof(*list));
					if (!grown)
						break;
					list = grown;
				}
				snprintf(list[n].name, sizeof(list[n].name), "%s", de->d_name);
				memcpy(list[n].path, dir, strlen(dir));
				list[n].path[strlen(dir)] = '/';
				memcpy(list[n].path + strlen(dir) + 1, de->d_name, len + 1);
				n++;
			}
			closedir(d);
		}
	}
	if (n)
		qsort(list, n, sizeof(*list), dropin_cmp);
	*count = n;
	return list;
}

/* Reads UNIT's own files (everything but our drop-in, which is about to be
 * rewritten) into E. */
static void own_environment(const struct run_settings *s, const char *unit,
			    struct own_env *e)
{
	char fragment[PATH_MAX];
	struct dropin *d;
	size_t n, i;

	memset(e, 0, sizeof(*e));
	if (unit_fragment(s, unit, fragment))
		scan_unit_file(s, fragment, false, e);
	d = collect_dropins(s, unit, &n);
	for (i = 0; i < n; i++) {
		int order = strcmp(d[i].name, DROPIN_NAME);

		if (order != 0)
			scan_unit_file(s, d[i].path, order > 0, e);
	}
	free(d);
}

/* The warnings about what would still keep the library out of UNIT. */
static void own_environment_warnings(const struct own_env *e, const char *lib)
{
	if (e->specifier)
		fprintf(stderr, PROG ": warning: the unit's LD_PRELOAD (%s) has a "
			"%%-specifier; the drop-in repeats it literally\n", e->from);
	if (e->ld_preload && e->from_after)
		fprintf(stderr, PROG ": warning: %s sets LD_PRELOAD and systemd "
			"applies it after " DROPIN_NAME " (drop-ins go in file-name "
			"order), so the service runs without the library: add %s "
			"to that LD_PRELOAD, or move the setting to a file named "
			"before " DROPIN_NAME "\n", e->from, lib);
	if (*e->reset_after)
		fprintf(stderr, PROG ": warning: %s has an empty Environment=, which "
			"systemd applies after " DROPIN_NAME " and which drops its "
			"settings\n", e->reset_after);
	if (*e->unset)
		fprintf(stderr, PROG ": warning: %s: UnsetEnvironment= removes "
			"LD_PRELOAD, so the service runs without the library\n",
			e->unset);
	if (*e->envfile)
		fprintf(stderr, PROG ": warning: EnvironmentFile %s sets LD_PRELOAD, "
			"which overrides the drop-in's: add %s there\n", e->envfile, lib);
}

/* PATH as the system sees it: without the --root prefix. */
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
