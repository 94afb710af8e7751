/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* policy-error.c - the text of MPTCPIFY_ADDRS messages: a bounded string
 * builder, user text escaped so that a line cannot drive a terminal,
 * addresses in canonical form, and policy_error_format(). */
#include "policy-int.h"

void sb_init(struct sbuf *b, char *buf, size_t size)
{
	b->buf = buf;
	b->size = size;
	b->len = 0;
	if (size)
		buf[0] = '\0';
}

void sb_putc(struct sbuf *b, char c)
{
	if (b->len + 1 < b->size) {
		b->buf[b->len++] = c;
		b->buf[b->len] = '\0';
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

size_t policy_error_format(const struct policy_error *err, const char *var,
			   char *buf, size_t size)
{
	struct sbuf b;

	sb_init(&b, buf, size);
	if (!err)
		return 0;
	sb_puts(&b, "mptcpify: ");
	sb_puts(&b, var ? var : "MPTCPIFY_ADDRS");
	sb_puts(&b, " rule ");
	sb_putu(&b, err->rule);
	sb_putc(&b, ' ');
	sb_putq(&b, err->text, err->text ? err->text_len : 0);
	sb_puts(&b, ": ");
	sb_puts(&b, err->msg ? err->msg : "malformed");
	return b.len;
}
