/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* unitenv.c - the environment a systemd unit gives its service, read as
 * systemd reads it (the unit file, then its drop-ins in file-name order,
 * C escapes, quotes and continuation lines), for --enable-unit. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "units.h"

/* ---- the unit's own environment -------------------------------------------
 * A drop-in's Environment=LD_PRELOAD=... replaces the unit's own: systemd has
 * no way to append to a variable. So --enable-unit reads the unit the way
 * systemd does (its file, then every drop-in in file-name order) and writes
 * the library in front of the unit's own LD_PRELOAD, and it warns about
 * what would still take the library away (a later drop-in, an
 * EnvironmentFile=, UnsetEnvironment=). */


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
void own_environment(const struct run_settings *s, const char *unit,
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
void own_environment_warnings(const struct own_env *e, const char *lib)
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
