/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* policy-file.c - policy_load(): a setting is the rules, or "@FILE". A file
 * holds the same rules and separators as the string, any number per line,
 * and '#' comments to the end of the line. Its compiled image is mapped
 * when current (policy-image.c); else the file is read and parsed.
 *
 * What a file may not be, each reported once with rule 0 (and then nothing
 * is upgraded, as for any invalid policy): a relative path (the library
 * reads it when the first socket is made, and the program may have changed
 * directory by then), missing, unreadable, not a regular file (a FIFO would
 * block the program's socket() call: the open is non-blocking and the type
 * checked before any read), larger than 16 MiB, changing while it is read,
 * or holding a NUL byte. Only open, fstat, pread, mmap and close: all
 * async-signal-safe, no malloc, no lock, no stdio. */
#include "policy-int.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define READ_TRIES 3 /* a file that keeps changing while read is an error */

/* Reports a problem with the file as a whole (or at LINE:COLUMN). */
static void file_error(policy_error_fn fn, void *ctx, const char *path,
		       unsigned line, unsigned column, const char *msg)
{
	struct policy_error e = { .rule = 0, .msg = msg, .file = path,
				  .line = line, .column = column };

	if (fn)
		fn(ctx, &e);
}

static void file_errno(policy_error_fn fn, void *ctx, const char *path,
		       const char *what, int err)
{
	char buf[128];
	struct sbuf b;

	sb_init(&b, buf, sizeof(buf));
	sb_puts(&b, what);
	sb_puts(&b, ": ");
	sb_puterrno(&b, err);
	file_error(fn, ctx, path, 0, 0, buf);
}

/* Blanks every '#' comment in TEXT[0..n), up to (not including) its line's
 * end, so that the parser sees white space there and the columns stay. */
static void blank_comments(char *text, size_t n)
{
	size_t i = 0;

	while (i < n) {
		if (text[i] != '#') {
			i++;
			continue;
		}
		while (i < n && text[i] != '\n')
			text[i++] = ' ';
	}
}

/* The first NUL byte in TEXT[0..n): its line and column; false if none. */
static bool find_nul(const char *text, size_t n, unsigned *line, unsigned *col)
{
	size_t i, line_start = 0;

	*line = 1;
	for (i = 0; i < n; i++) {
		if (text[i] == '\0') {
			*col = (unsigned)(i - line_start) + 1;
			return true;
		}
		if (text[i] == '\n') {
			(*line)++;
			line_start = i + 1;
		}
	}
	return false;
}

/* Reads the regular file FD (status *ST, refreshed) into a new mapping
 * *BUF of *MAP_SIZE bytes, *LEN of them the file's. The file's identity is
 * the same before and after the read, so the bytes are the file as *ST
 * describes it. Returns 0, -EAGAIN (kept changing), or a negative errno. */
static int read_stable(int fd, struct stat *st, char **buf, size_t *map_size,
		       size_t *len, int64_t *read_sec)
{
	struct img_source before, after;
	int tries, rc;

	for (tries = 0; tries < READ_TRIES; tries++) {
		struct timespec now;
		size_t size = (size_t)st->st_size, got = 0;

		clock_gettime(CLOCK_REALTIME, &now);
		*read_sec = (int64_t)now.tv_sec;
		pol_source_id(&before, st);
		*map_size = PAGE_ROUND(size + 1);
		*buf = map_alloc(*map_size);
		if (!*buf)
			return -ENOMEM;
		/* one byte more than expected: a file that grew is seen */
		rc = pol_read_all(fd, *buf, size + 1, &got);
		if (rc == 0 && fstat(fd, st) < 0)
			rc = -errno;
		if (rc) {
			munmap(*buf, *map_size);
			return rc;
		}
		pol_source_id(&after, st);
		if (got == size && before.size == after.size &&
		    before.ino == after.ino && before.dev == after.dev &&
		    before.mtime_sec == after.mtime_sec &&
		    before.mtime_nsec == after.mtime_nsec &&
		    before.ctime_sec == after.ctime_sec &&
		    before.ctime_nsec == after.ctime_nsec) {
			*len = got;
			return 0;
		}
		munmap(*buf, *map_size);
		if ((size_t)st->st_size > MAX_TEXT)
			return -EFBIG;
	}
	return -EAGAIN;
}

/* Loads the policy file PATH: its image when current, else parses it. */
static int load_file(const char *path, struct policy **out,
		     policy_error_fn on_error, void *ctx, unsigned flags)
{
	char img_path[4096];
	struct pol_file file = { .path = path };
	struct stat st;
	size_t map_size = 0, len = 0;
	unsigned line, col;
	char *buf = NULL;
	int fd, rc;

	if (!path[0]) {
		file_error(on_error, ctx, NULL, 0, 0, "\"@\" without a file name");
		return -EINVAL;
	}
	if (path[0] != '/') {
		file_error(on_error, ctx, path, 0, 0,
			   "the file after '@' must be an absolute path");
		return -EINVAL;
	}
	if (!pol_image_path(path, img_path, sizeof(img_path))) {
		file_errno(on_error, ctx, path, "cannot open", ENAMETOOLONG);
		return -EINVAL;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		rc = errno;
		file_errno(on_error, ctx, path, "cannot open", rc);
		return rc == ENOMEM ? -ENOMEM : -EINVAL;
	}
	if (fstat(fd, &st) < 0) {
		rc = errno;
		file_errno(on_error, ctx, path, "cannot read", rc);
		pol_close(fd);
		return -EINVAL;
	}
	if (!S_ISREG(st.st_mode)) {
		file_error(on_error, ctx, path, 0, 0,
			   S_ISDIR(st.st_mode) ? "is a directory, not a file of rules"
					       : "not a regular file");
		pol_close(fd);
		return -EINVAL;
	}
	if ((size_t)st.st_size > MAX_TEXT) {
		file_error(on_error, ctx, path, 0, 0, "larger than 16 MiB");
		pol_close(fd);
		return -EINVAL;
	}
	if (!(flags & POLICY_LOAD_PARSE) && pol_image_map(img_path, fd, &st, out) == 0) {
		pol_close(fd);
		return 0;
	}

	rc = read_stable(fd, &st, &buf, &map_size, &len, &file.read_sec);
	pol_close(fd);
	if (rc) {
		if (rc == -EAGAIN)
			file_error(on_error, ctx, path, 0, 0, "kept changing while it was read");
		else if (rc == -EFBIG)
			file_error(on_error, ctx, path, 0, 0, "larger than 16 MiB");
		else
			file_errno(on_error, ctx, path, "cannot read", -rc);
		return rc == -ENOMEM ? -ENOMEM : -EINVAL;
	}
	if (find_nul(buf, len, &line, &col)) {
		file_error(on_error, ctx, path, line, col,
			   "a NUL byte: not a text file");
		munmap(buf, map_size);
		return -EINVAL;
	}
	pol_source_id(&file.src, &st);
	file.src.hash = pol_hash(buf, len);
	blank_comments(buf, len);
	rc = pol_build(buf, len, &file, out, on_error, ctx);
	munmap(buf, map_size);
	return rc;
}

int policy_load(const char *setting, struct policy **out,
		policy_error_fn on_error, void *ctx, unsigned flags)
{
	const char *s = setting;

	if (!setting || !out)
		return -EINVAL;
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\v' ||
	       *s == '\f')
		s++;
	if (*s != '@')
		return policy_parse(setting, out, on_error, ctx);
	return load_file(s + 1, out, on_error, ctx, flags);
}
