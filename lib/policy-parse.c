/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* policy-parse.c - the MPTCPIFY_ADDRS language: splitting a policy into
 * rules, and one rule's text into a struct brule (or a message saying what
 * is wrong with it). The edge cases are listed in policy-int.h. */
#include "policy-int.h"

#include <netinet/in.h>

/* ---- small helpers (no libc) --------------------------------------------- */

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	       c == '\f';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int hex_value(char c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool all_digits(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return false;
	for (i = 0; i < n; i++)
		if (!is_digit(s[i]))
			return false;
	return true;
}

/* Value of the decimal digits S[0..N), saturating at UINT32_MAX. */
static uint32_t dec_value(const char *s, size_t n)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > UINT32_MAX)
			return UINT32_MAX;
	}
	return (uint32_t)v;
}

/* Index of the first C in S[from..n), or N. */
static size_t find_char(const char *s, size_t from, size_t n, char c)
{
	while (from < n && s[from] != c)
		from++;
	return from;
}

static bool same_text(const char *s, size_t n, const char *word)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (word[i] != s[i])
			return false;
	return word[n] == '\0';
}

/* Parses dotted IPv4 S[0..N) into *OUT. Returns false with MSG filled in. */
static bool parse_v4(const char *s, size_t n, uint32_t *out, struct sbuf *msg)
{
	unsigned parts = 0;
	uint32_t a = 0;
	size_t i = 0, j;

	for (;;) {
		j = find_char(s, i, n, '.');
		if (j == i) {
			sb_puts(msg, "bad IPv4 address: empty part");
			return false;
		}
		if (!all_digits(s + i, j - i)) {
			sb_puts(msg, "bad IPv4 address: ");
			sb_putq(msg, s + i, j - i);
			sb_puts(msg, " is not a decimal number");
			return false;
		}
		if (j - i > 1 && s[i] == '0') {
			sb_puts(msg, "bad IPv4 address: leading zero in ");
			sb_putesc(msg, s + i, j - i);
			sb_puts(msg, " (octal is not accepted)");
			return false;
		}
		if (dec_value(s + i, j - i) > 255) {
			sb_puts(msg, "bad IPv4 address: ");
			sb_putesc(msg, s + i, j - i);
			sb_puts(msg, " exceeds 255");
			return false;
		}
		parts++;
		a = a << 8 | dec_value(s + i, j - i);
		if (j == n)
			break;
		i = j + 1;
	}
	if (parts != 4) {
		sb_puts(msg, "bad IPv4 address: ");
		sb_putu(msg, parts);
		sb_puts(msg, parts == 1 ? " part, expected 4" : " parts, expected 4");
		if (parts == 1) {
			sb_puts(msg, " (a port alone is written :");
			sb_putesc(msg, s, n);
			sb_putc(msg, ')');
		}
		return false;
	}
	*out = a;
	return true;
}

static bool v6_fail(struct sbuf *msg, const char *why)
{
	sb_puts(msg, "bad IPv6 address: ");
	sb_puts(msg, why);
	return false;
}

/* Parses IPv6 text S[0..N) (no brackets, no length) into *OUT. Returns false
 * with MSG filled in. */
static bool parse_v6(const char *s, size_t n, struct key *out, struct sbuf *msg)
{
	unsigned g[8], ng = 0, gap = 9, i;
	size_t p = 0, q;

	if (n == 0)
		return v6_fail(msg, "empty");
	if (find_char(s, 0, n, '%') < n)
		return v6_fail(msg, "zone indices (%...) are not supported");
	if (s[0] == ':') {
		if (n < 2 || s[1] != ':')
			return v6_fail(msg, "starts with a single ':'");
		gap = 0;
		p = 2;
	}
	while (p < n) {
		q = p;
		while (q < n && hex_value(s[q]) >= 0)
			q++;
		if (q < n && s[q] == '.') {
			uint32_t v4;

			if (ng > 6)
				return v6_fail(msg, "too many groups");
			if (!parse_v4(s + p, n - p, &v4, msg))
				return false;
			g[ng++] = v4 >> 16;
			g[ng++] = v4 & 0xffff;
			p = n;
			break;
		}
		if (q == p) {
			if (s[p] == ':')
				return v6_fail(msg, "more than one '::'");
			sb_puts(msg, "bad IPv6 address: unexpected ");
			sb_putq(msg, s + p, 1);
			return false;
		}
		if (q - p > 4)
			return v6_fail(msg, "a group has more than 4 hex digits");
		if (ng == 8)
			return v6_fail(msg, "too many groups");
		g[ng] = 0;
		for (; p < q; p++)
			g[ng] = g[ng] << 4 | (unsigned)hex_value(s[p]);
		ng++;
		if (p == n)
			break;
		if (s[p] != ':') {
			sb_puts(msg, "bad IPv6 address: unexpected ");
			sb_putq(msg, s + p, 1);
			return false;
		}
		p++;
		if (p < n && s[p] == ':') {
			if (gap != 9)
				return v6_fail(msg, "more than one '::'");
			gap = ng;
			p++;
		} else if (p == n) {
			return v6_fail(msg, "ends with a single ':'");
		}
	}
	if (gap != 9) {
		if (ng > 7)
			return v6_fail(msg, "too many groups");
		for (i = 8; i-- > 0;) {
			/* Move the groups after "::" to the end, zeros between. */
			if (i >= 8 - (ng - gap))
				g[i] = g[i - (8 - ng)];
			else if (i >= gap)
				g[i] = 0;
		}
	} else if (ng != 8) {
		return v6_fail(msg, "too few groups");
	}
	out->hi = out->lo = 0;
	for (i = 0; i < 4; i++) {
		out->hi = out->hi << 16 | g[i];
		out->lo = out->lo << 16 | g[i + 4];
	}
	return true;
}

/* Parses the prefix length S[0..N) (the text after '/'). */
static bool parse_plen(const char *s, size_t n, unsigned max, unsigned *out,
		       struct sbuf *msg)
{
	if (n == 0) {
		sb_puts(msg, "missing prefix length after '/'");
		return false;
	}
	if (!all_digits(s, n)) {
		sb_puts(msg, "bad prefix length ");
		sb_putq(msg, s, n);
		return false;
	}
	if (dec_value(s, n) > max) {
		sb_puts(msg, "prefix length ");
		sb_putesc(msg, s, n);
		sb_puts(msg, " exceeds ");
		sb_putu(msg, max);
		return false;
	}
	*out = dec_value(s, n);
	return true;
}

static bool parse_port(const char *s, size_t n, const char *what,
		       uint32_t *out, struct sbuf *msg)
{
	if (!all_digits(s, n)) {
		sb_puts(msg, what);
		sb_putc(msg, ' ');
		sb_putq(msg, s, n);
		return false;
	}
	*out = dec_value(s, n);
	if (*out > PORT_MAX) {
		sb_puts(msg, "port ");
		sb_putesc(msg, s, n);
		sb_puts(msg, " exceeds 65535");
		return false;
	}
	return true;
}

/* Parses PORTS S[0..N) (the text after ':') into R. */
static bool parse_ports(const char *s, size_t n, struct brule *r,
			struct sbuf *msg)
{
	size_t dash = find_char(s, 0, n, '-');
	uint32_t lo, hi;

	if (n == 0) {
		sb_puts(msg, "missing port after ':'");
		return false;
	}
	if (n == 1 && s[0] == '*') {
		r->lo = 0;
		r->hi = PORT_MAX;
		return true;
	}
	if (dash == n) {
		if (!parse_port(s, n, "bad port", &lo, msg))
			return false;
		hi = lo;
	} else {
		if (dash == 0 || dash + 1 == n ||
		    !all_digits(s, dash) || !all_digits(s + dash + 1, n - dash - 1)) {
			sb_puts(msg, "bad port range ");
			sb_putq(msg, s, n);
			return false;
		}
		if (!parse_port(s, dash, "bad port", &lo, msg) ||
		    !parse_port(s + dash + 1, n - dash - 1, "bad port", &hi, msg))
			return false;
		if (lo > hi) {
			sb_puts(msg, "reversed port range ");
			sb_putesc(msg, s, n);
			return false;
		}
	}
	r->lo = (uint16_t)lo;
	r->hi = (uint16_t)hi;
	return true;
}

/* Whether S[0..N) looks like a DNS name rather than a mistyped address. */
static bool looks_like_host(const char *s, size_t n)
{
	bool alpha = false;
	size_t i;

	for (i = 0; i < n; i++) {
		if (is_alpha(s[i]))
			alpha = true;
		else if (!is_digit(s[i]) && s[i] != '.' && s[i] != '-' &&
			 s[i] != '_')
			return false;
	}
	return alpha;
}

/* Checks host bits and turns mapped IPv6 rules into IPv4 ones. */
static bool finish_prefix(struct brule *r, struct sbuf *msg)
{
	struct key net = key_masked(r->key, r->plen);

	if (net.hi != r->key.hi || net.lo != r->key.lo) {
		sb_puts(msg, "host bits set (the network is ");
		if (r->fam == FAM_V4)
			sb_put_v4(msg, (uint32_t)(net.hi >> 32));
		else
			sb_put_v6(msg, net);
		sb_putc(msg, '/');
		sb_putu(msg, r->plen);
		sb_putc(msg, ')');
		return false;
	}
	if (r->fam == FAM_V6 && r->plen >= 96 && r->key.hi == 0 &&
	    (r->key.lo >> 32) == 0xffff) {
		r->fam = FAM_V4;
		r->key.hi = r->key.lo << 32;
		r->key.lo = 0;
		r->plen = (uint8_t)(r->plen - 96);
	}
	return true;
}

/* TARGET in brackets: "[ADDR[/LEN]][/LEN][:PORTS]". */
static bool parse_bracketed(const char *t, size_t n, struct brule *r,
			    struct sbuf *msg)
{
	size_t close = find_char(t, 1, n, ']'), slash, p;
	unsigned plen = 128;
	bool have_len = false;

	if (close == n) {
		sb_puts(msg, "missing ']' after IPv6 address");
		return false;
	}
	slash = find_char(t, 1, close, '/');
	if (!parse_v6(t + 1, slash - 1, &r->key, msg))
		return false;
	if (slash < close) {
		if (!parse_plen(t + slash + 1, close - slash - 1, 128, &plen, msg))
			return false;
		have_len = true;
	}
	p = close + 1;
	if (p < n && t[p] == '/') {
		size_t end = find_char(t, p + 1, n, ':');

		if (have_len) {
			sb_puts(msg, "two prefix lengths");
			return false;
		}
		if (!parse_plen(t + p + 1, end - p - 1, 128, &plen, msg))
			return false;
		p = end;
	}
	r->fam = FAM_V6;
	r->plen = (uint8_t)plen;
	if (p < n && t[p] == ':') {
		if (!parse_ports(t + p + 1, n - p - 1, r, msg))
			return false;
	} else if (p < n) {
		sb_puts(msg, "unexpected ");
		sb_putq(msg, t + p, n - p);
		sb_puts(msg, " after ']'");
		return false;
	}
	return finish_prefix(r, msg);
}

/* IPv6 without brackets: "ADDR[/LEN]", no port. */
static bool parse_bare_v6(const char *t, size_t n, struct brule *r,
			  struct sbuf *msg)
{
	size_t slash = find_char(t, 0, n, '/');
	unsigned plen = 128;

	if (!parse_v6(t, slash, &r->key, msg))
		return false;
	if (slash < n) {
		size_t end = find_char(t, slash + 1, n, ':');

		if (end < n) {
			sb_puts(msg, "an IPv6 address with a port needs brackets, as in [");
			sb_putesc(msg, t, end);
			sb_putc(msg, ']');
			sb_putesc(msg, t + end, n - end);
			return false;
		}
		if (!parse_plen(t + slash + 1, n - slash - 1, 128, &plen, msg))
			return false;
	}
	r->fam = FAM_V6;
	r->plen = (uint8_t)plen;
	return finish_prefix(r, msg);
}

/* IPv4 (or a host name, which is an error): "ADDR[/LEN][:PORTS]". */
static bool parse_v4_target(const char *t, size_t n, struct brule *r,
			    struct sbuf *msg)
{
	size_t end = 0, p;
	unsigned plen = 32;
	uint32_t a;

	while (end < n && t[end] != '/' && t[end] != ':')
		end++;
	if (end == 0) {
		sb_puts(msg, "missing address before ");
		sb_putq(msg, t, 1);
		return false;
	}
	if (looks_like_host(t, end)) {
		sb_puts(msg, "host name ");
		sb_putq(msg, t, end);
		sb_puts(msg, " where an address is required");
		return false;
	}
	for (p = 0; p < end; p++) {
		if (!is_digit(t[p]) && t[p] != '.') {
			sb_puts(msg, "bad address ");
			sb_putq(msg, t, end);
			return false;
		}
	}
	if (!parse_v4(t, end, &a, msg))
		return false;
	p = end;
	if (p < n && t[p] == '/') {
		end = find_char(t, p + 1, n, ':');
		if (!parse_plen(t + p + 1, end - p - 1, 32, &plen, msg))
			return false;
		p = end;
	}
	r->fam = FAM_V4;
	r->key.hi = (uint64_t)a << 32;
	r->key.lo = 0;
	r->plen = (uint8_t)plen;
	if (p < n && !parse_ports(t + p + 1, n - p - 1, r, msg))
		return false;
	return finish_prefix(r, msg);
}

bool pol_parse_rule(const char *s, size_t n, struct brule *r,
		       struct sbuf *msg)
{
	const char *qual = "!";
	size_t i = 0, at, colons = 0, k;
	const char *t;

	*r = (struct brule){ .dirs = DIRS_BOTH, .lo = 0, .hi = PORT_MAX };
	if (n == 0) {
		sb_puts(msg, "empty rule");
		return false;
	}
	if (s[0] == '!') {
		r->neg = 1;
		i = 1;
		if (i < n && s[i] == '!') {
			sb_puts(msg, "'!' given twice");
			return false;
		}
	}
	at = find_char(s, i, n, '@');
	if (at < n) {
		if (same_text(s + i, at - i, "listen")) {
			r->dirs = DIRS_LISTEN;
			qual = "listen@";
		} else if (same_text(s + i, at - i, "connect")) {
			r->dirs = DIRS_CONNECT;
			qual = "connect@";
		} else {
			sb_puts(msg, "unknown qualifier ");
			sb_putq(msg, s + i, at + 1 - i);
			sb_puts(msg, " (expected listen@ or connect@)");
			return false;
		}
		i = at + 1;
		if (find_char(s, i, n, '@') < n) {
			sb_puts(msg, "more than one qualifier");
			return false;
		}
		if (i < n && s[i] == '!') {
			sb_puts(msg, "'!' goes before the qualifier");
			return false;
		}
	}
	if (i == n) {
		sb_puts(msg, "no target after ");
		sb_puts(msg, qual);
		return false;
	}
	t = s + i;
	n -= i;
	if (t[0] == '*') {
		if (n == 1) {
			r->fam = FAM_ANY;
			return true;
		}
		if (t[1] == '/') {
			sb_puts(msg, "* takes no prefix length");
		} else if (t[1] == ':') {
			sb_puts(msg, "* takes no port (for any address write ");
			sb_putesc(msg, t + 1, n - 1);
			sb_putc(msg, ')');
		} else {
			sb_puts(msg, "bad address ");
			sb_putq(msg, t, n);
		}
		return false;
	}
	if (t[0] == ':' && !(n > 1 && t[1] == ':')) {
		r->fam = FAM_ANY;
		return parse_ports(t + 1, n - 1, r, msg);
	}
	if (t[0] == '[')
		return parse_bracketed(t, n, r, msg);
	for (k = 0; k < n; k++)
		colons += t[k] == ':';
	if (colons >= 2)
		return parse_bare_v6(t, n, r, msg);
	return parse_v4_target(t, n, r, msg);
}

uint32_t pol_split_rules(const char *text, size_t len, pol_rule_fn fn, void *ctx)
{
	bool need_rule = false, at_start = true;
	uint32_t count = 0;
	size_t p = 0, start;

	for (;;) {
		while (p < len && is_space(text[p]))
			p++;
		if (p == len) {
			if (need_rule) {
				if (fn)
					fn(ctx, text + p, 0);
				count++;
			}
			return count;
		}
		if (text[p] == ',') {
			if (need_rule || at_start) {
				if (fn)
					fn(ctx, text + p, 0);
				count++;
			}
			p++;
			need_rule = true;
			at_start = false;
			continue;
		}
		start = p;
		while (p < len && !is_space(text[p]) && text[p] != ',')
			p++;
		if (fn)
			fn(ctx, text + start, p - start);
		count++;
		need_rule = false;
		at_start = false;
	}
}
