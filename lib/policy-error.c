/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* policy-error.c - the text of MPTCPIFY_ADDRS messages: a bounded string
 * builder, user text escaped so that a line cannot drive a terminal,
 * addresses in canonical form, and policy_error_format(). */
#include "policy-int.h"

#include <errno.h>

void sb_init(struct sbuf *b, char *buf, size_t size)
{
	b->buf = buf;
	b->size = size;
	b->len = 0;
	b->cut = false;
	if (size)
		buf[0] = '\0';
}

void sb_putc(struct sbuf *b, char c)
{
	if (b->len + 1 < b->size) {
		b->buf[b->len++] = c;
		b->buf[b->len] = '\0';
	} else {
		b->cut = true;
	}
}

void sb_puts(struct sbuf *b, const char *s)
{
	while (*s)
		sb_putc(b, *s++);
}

void sb_putu(struct sbuf *b, unsigned long v)
{
	char t[24];
	int i = 0;

	do {
		t[i++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (i)
		sb_putc(b, t[--i]);
}

static void sb_puthex(struct sbuf *b, unsigned v)
{
	static const char digits[] = "0123456789abcdef";
	char t[8];
	int i = 0;

	do {
		t[i++] = digits[v & 15];
		v >>= 4;
	} while (v);
	while (i)
		sb_putc(b, t[--i]);
}

/* User text, with control bytes, non-ASCII, '"' and '\' as \xNN so that a
 * message is one printable line that cannot drive a terminal. */
void sb_putesc(struct sbuf *b, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
			sb_puts(b, "\\x");
			sb_putc(b, "0123456789abcdef"[c >> 4]);
			sb_putc(b, "0123456789abcdef"[c & 15]);
		} else {
			sb_putc(b, (char)c);
		}
	}
}

void sb_putq(struct sbuf *b, const char *s, size_t n)
{
	sb_putc(b, '"');
	sb_putesc(b, s, n);
	sb_putc(b, '"');
}

void sb_put_v4(struct sbuf *b, uint32_t a)
{
	int i;

	for (i = 3; i >= 0; i--) {
		sb_putu(b, (a >> (8 * i)) & 255);
		if (i)
			sb_putc(b, '.');
	}
}

/* RFC 5952 text: lower case, the longest run of two or more zero groups as
 * "::", mapped addresses as ::ffff:a.b.c.d. */
void sb_put_v6(struct sbuf *b, struct key k)
{
	unsigned g[8], i, run = 0, best = 8, best_len = 0;

	for (i = 0; i < 8; i++)
		g[i] = (unsigned)((i < 4 ? k.hi >> (48 - 16 * i)
					 : k.lo >> (48 - 16 * (i - 4))) &
				  0xffff);
	if (k.hi == 0 && (k.lo >> 32) == 0xffff) {
		sb_puts(b, "::ffff:");
		sb_put_v4(b, (uint32_t)k.lo);
		return;
	}
	for (i = 0; i < 8; i++) {
		run = g[i] ? 0 : run + 1;
		if (run > best_len && run >= 2) {
			best_len = run;
			best = i + 1 - run;
		}
	}
	for (i = 0; i < 8; i++) {
		if (i == best) {
			sb_puts(b, "::");
			i += best_len - 1;
			continue;
		}
		if (i > 0 && i != best + best_len)
			sb_putc(b, ':');
		sb_puthex(b, g[i]);
	}
}

const char *pol_errno_text(int err)
{
	/* glibc's wording, so that messages read as elsewhere; strerror()
	 * itself may take the locale lock and is not async-signal-safe */
	switch (err) {
	case ENOENT: return "No such file or directory";
	case EACCES: return "Permission denied";
	case EPERM: return "Operation not permitted";
	case ENOTDIR: return "Not a directory";
	case EISDIR: return "Is a directory";
	case ELOOP: return "Too many levels of symbolic links";
	case ENAMETOOLONG: return "File name too long";
	case EIO: return "Input/output error";
	case ENOMEM: return "Cannot allocate memory";
	case EMFILE: return "Too many open files";
	case ENFILE: return "Too many open files in system";
	case ENXIO: return "No such device or address";
	case ENODEV: return "No such device";
	case EOVERFLOW: return "Value too large for defined data type";
	case ESTALE: return "Stale file handle";
	default: return NULL;
	}
}

void sb_puterrno(struct sbuf *b, int err)
{
	const char *t = pol_errno_text(err);

	if (t) {
		sb_puts(b, t);
	} else {
		sb_puts(b, "error ");
		sb_putu(b, (unsigned long)err);
	}
}

/* "mptcpify: [FILE[:LINE:COL]: ]VAR[ rule N "TEXT"]: MSG": the place first,
 * as compilers write it, so that editors and grep find it. */
size_t policy_error_format(const struct policy_error *err, const char *var,
			   char *buf, size_t size)
{
	struct sbuf b;

	sb_init(&b, buf, size);
	if (!err)
		return 0;
	sb_puts(&b, "mptcpify: ");
	if (err->file) {
		sb_putesc(&b, err->file, pol_strlen(err->file));
		if (err->line) {
			sb_putc(&b, ':');
			sb_putu(&b, err->line);
			if (err->column) {
				sb_putc(&b, ':');
				sb_putu(&b, err->column);
			}
		}
		sb_puts(&b, ": ");
	}
	sb_puts(&b, var ? var : "MPTCPIFY_ADDRS");
	if (err->rule) {
		sb_puts(&b, " rule ");
		sb_putu(&b, err->rule);
		sb_putc(&b, ' ');
		sb_putq(&b, err->text, err->text ? err->text_len : 0);
	}
	sb_puts(&b, ": ");
	sb_puts(&b, err->msg ? err->msg : "malformed");
	return b.len;
}
