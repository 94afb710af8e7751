/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* policy-int.h - what the files of the MPTCPIFY_ADDRS module share: the
 * parsed-rule and trie types, key arithmetic, the bounded message builder.
 * Not installed; the API is include/mptcpify/policy.h.
 *
 * The module, by concern:
 *   policy-parse.c  the rule language: one rule's text to a struct brule
 *   policy-error.c  message text: escaping, addresses, the error line
 *   policy-build.c  policy_parse(): rules into tries and port tables
 *   policy-match.c  policy_decide() and the accessors
 *   policy-file.c   policy_load(): "@FILE", comments, identity of the file
 *   policy-image.c  compiled images: checked, bound to their file, mapped,
 *                   written
 *
 * Edge cases, decided in policy-parse.c (the language itself is in policy.h):
 * - Separators. Rules are separated by commas and/or white space (space, tab,
 *   newline, CR, VT, FF). A comma needs a rule on each side: "a,,b" has an
 *   empty rule 2, and a leading or trailing comma is an empty rule too. Empty
 *   rules count in the numbering. Text of white space only (or "") is a valid
 *   policy with no rules, which matches nothing.
 * - Host bits set under a prefix ("10.1.2.3/8") are an ERROR, not silently
 *   masked: the user probably meant a narrower network, and widening an
 *   allowlist behind their back is the worse failure. The message names the
 *   network they may have meant ("host bits set (the network is 10.0.0.0/8)").
 * - IPv4-mapped IPv6. A rule inside ::ffff:0:0/96 with a length of at least
 *   96 is an IPv4 rule: [::ffff:10.0.0.0/104] is 10.0.0.0/8. Sockets are
 *   matched the same way, so a connection to ::ffff:127.0.0.1 is matched as
 *   127.0.0.1. Consequently an IPv6 rule shorter than /96 (like ::/0) never
 *   matches a mapped address: that traffic is IPv4.
 * - IPv4 addresses are exactly four decimal parts; a part with a leading zero
 *   ("010") is rejected because inet_aton would read it as octal.
 * - IPv6: brackets are needed when a port follows; "[2001:db8::/32]:443" and
 *   "[2001:db8::]/32:443" are both accepted. Without brackets a string with
 *   two or more colons is taken as an IPv6 address, so "::1:443" is the
 *   address ::1:443, not ::1 port 443 (only brackets can say that).
 *   "2001:db8::/32:443" is an error asking for brackets. Zone indices
 *   ("fe80::1%eth0") are not supported.
 * - "*" takes neither a prefix length nor a port ("*:80" is an error that
 *   suggests ":80"). "*" and ":PORTS" apply to both families.
 * - Ports: 0 to 65535, a range N-M is inclusive (N <= M), "*" is all ports.
 * - Qualifiers are lower case; "!" comes before the qualifier.
 * - A sockaddr_in6 of 24 bytes (RFC 2133, without sin6_scope_id) is accepted,
 *   as the kernel accepts it; anything shorter decides TCP with rule 0.
 *
 * No malloc, stdio, locale or lock anywhere here: memory comes from mmap, a
 * parsed policy is one read-only mapping, and policy_decide() only reads it.
 *
 * Cost. Rules go into a path-compressed binary trie per family ('*' and
 * ":PORTS" on both roots). A decision walks one path from the root: only the
 * prefixes on it can match, so the walk meets about log2(rules) nodes for
 * scattered prefixes and at most one per prefix length (33 for IPv4, 129 for
 * IPv6) when prefixes nest. A node with rules holds a port table: the port
 * space cut at its rules' bounds, each piece owned per direction by the
 * earliest rule, searched by bisection; so many rules on one prefix cost a
 * few extra steps, not a scan. Every node knows the earliest rule below it,
 * which ends the walk once nothing deeper can win. Building is
 * O(n log n): see bench/policy for the measured figures.
 */
#ifndef MPTCPIFY_POLICY_INT_H
#define MPTCPIFY_POLICY_INT_H

#include "mptcpify/policy.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>

#define ENT_NONE UINT32_MAX     /* no rule decides */
#define MAX_TEXT (16u << 20)    /* longer policies are refused: -ENOMEM for a
				   string, an error for a file */
#define PORT_MAX 65535u

enum fam { FAM_V4 = 0, FAM_V6 = 1, FAM_ANY = 2 };

#define DIRS_LISTEN 1u
#define DIRS_CONNECT 2u
#define DIRS_BOTH 3u

/* An address or prefix, most significant bit first; IPv4 lives in the top
 * 32 bits of hi. */
struct key {
	uint64_t hi, lo;
};

/* A trie node: the prefix KEY/PLEN, and the verdicts of the rules written
 * for exactly that prefix. An entry is (rule << 1 | negated), so the smaller
 * entry is the earlier rule; ENT_NONE when no rule applies. */
struct node {
	struct key key;
	uint32_t child[2]; /* node indices; 0 = none (a root is never a child) */
	uint32_t ent[2];   /* nint == 1: entries for listen, connect */
	uint32_t tab;      /* nint > 1: first interval in the pool */
	uint32_t nint;     /* port intervals; 0 when no rule is attached here */
	uint32_t sub_min;  /* smallest entry in this subtree: prunes the walk */
	uint32_t plen;
};

/* Ports START up to the next interval's start, and who decides there. */
struct port_iv {
	uint32_t start;
	uint32_t ent[2];
};

/* Where rule N's text lies in the text section (rule texts only, back to
 * back: comments and separators are not kept). */
struct rule_ref {
	uint32_t off, len;
};

/* ---- the image: a policy as one position-independent block ---------------
 *
 * A built policy is an image: this header, then the sections it names,
 * every reference inside an index or an offset, never a pointer. A parsed
 * policy holds its image in anonymous memory; a compiled one (FILE.compiled,
 * written by mptcpify-run) is the same bytes mapped from the page cache.
 * policy-image.c checks a mapped header before use, and the matcher checks
 * every index it follows (policy-match.c), so a damaged image can give
 * wrong answers but never a read outside it. */

#define IMG_MAGIC "MPTCPIFY"      /* 8 bytes, no NUL */
#define IMG_VERSION 1u            /* bumped with any change of the layout */
#define IMG_BYTE_ORDER 0x01020304u /* as written: native byte order only */
#define IMG_MAX_SIZE (1u << 30)   /* larger images are refused */

#define IMG_FROM_FILE 1u /* bound to a source file (src below, lines[]) */
#define IMG_RACY 2u      /* the file changed within IMG_RACY_SECONDS of being
			    read: its identity alone cannot prove that the
			    bytes are the same, so the hash is checked too */
#define IMG_RACY_SECONDS 2 /* more than any file system's timestamp step */

/* The source file an image was built from, as fstat(2) saw it while it was
 * read, and a hash of its bytes. A write to the file changes ctime (which no
 * user can set back), a replacement changes ino. */
struct img_source {
	uint64_t dev, ino, size;
	int64_t mtime_sec, ctime_sec;
	uint32_t mtime_nsec, ctime_nsec;
	uint64_t hash;
};

struct img_header {
	char magic[8];
	uint32_t version;
	uint32_t byte_order;
	uint64_t size;      /* bytes, this header included */
	uint32_t flags;     /* IMG_* */
	uint32_t elem_size; /* sizeof(struct node) << 16 | sizeof(struct port_iv) */
	uint32_t nrules, nnodes, npool, text_size;
	uint32_t root[2];   /* node index of each family's root */
	uint64_t off_rules; /* struct rule_ref[nrules] */
	uint64_t off_lines; /* uint32_t[nrules]: line of each rule (IMG_FROM_FILE) */
	uint64_t off_nodes; /* struct node[nnodes] */
	uint64_t off_pool;  /* struct port_iv[npool] */
	uint64_t off_text;  /* char[text_size] */
	struct img_source src;
};

#define IMG_ELEM_SIZE ((uint32_t)(sizeof(struct node) << 16 | sizeof(struct port_iv)))

/* A policy in use: pointers into its image, and what is derived at load. */
struct policy {
	const struct img_header *img;
	const char *text;
	const struct rule_ref *rules;
	const uint32_t *lines; /* NULL unless IMG_FROM_FILE */
	const struct node *nodes;
	const struct port_iv *pool;
	uint32_t nrules, nnodes, npool, text_size;
	uint32_t root[2];
	enum policy_origin origin;
	int64_t read_sec;      /* when the source was read or verified */
	void *map;             /* the image's mapping (NULL: not ours) */
	size_t map_size;
	size_t self_size;      /* this struct's own mapping; 0 when it heads map
				  or is one of policy-image.c's static handles */
	bool static_handle;
};

/* Points P's fields at the sections of the image IMG (checked already). */
void pol_handle_init(struct policy *p, const struct img_header *img);

/* Checks that the SIZE bytes at IMG are an image this code can read
 * (magic, version, byte order, size, every section inside). Returns 0 or
 * -EINVAL. The identity of a source is not checked here. */
int pol_image_check(const void *img, size_t size);

/* A policy over the image BUF[0..size) (not copied; the caller keeps it
 * alive and frees only the handle, with policy_free). For tests and the
 * fuzzer. Returns 0, -EINVAL (not a valid image) or -ENOMEM. */
int pol_image_open(const void *buf, size_t size, struct policy **out);

/* Where P's image lies, for writing it out. */
static inline const void *pol_image_bytes(const struct policy *p, size_t *size)
{
	*size = (size_t)p->img->size;
	return p->img;
}

/* What pol_build() needs to know about a policy read from a file. */
struct pol_file {
	const char *path;          /* for messages */
	struct img_source src;     /* identity and hash */
	int64_t read_sec;          /* CLOCK_REALTIME before the read */
};

/* Parses TEXT[0..len) (no NUL needed) and builds its image in anonymous
 * memory. FILE is NULL for a policy from a string; else errors carry its
 * path, line and column, and the image its identity and rule lines.
 * Returns 0, -EINVAL (rules reported through ON_ERROR) or -ENOMEM. */
int pol_build(const char *text, size_t len, const struct pol_file *file,
	      struct policy **out, policy_error_fn on_error, void *ctx);

struct stat;

/* Fills ID from the status ST (not the hash). */
void pol_source_id(struct img_source *id, const struct stat *st);

/* Reads up to SIZE bytes of FD from offset 0 into BUF, *GOT of them.
 * Returns 0 or a negative errno. */
int pol_read_all(int fd, char *buf, size_t size, size_t *got);

/* IMG_PATH's image, when it is trusted and current for the source open as
 * SRC_FD with status SRC_ST (policy-image.c says what that takes). Returns
 * 0 with *OUT set, or a negative errno (then the source must be parsed). */
int pol_image_map(const char *img_path, int src_fd, const struct stat *src_st,
		  struct policy **out);

/* PATH with POLICY_IMAGE_SUFFIX, in BUF of SIZE bytes; false when too long. */
bool pol_image_path(const char *path, char *buf, size_t size);

/* 64-bit hash of BUF[0..n) (not cryptographic: it tells a changed file from
 * the one an image was built from, in the rare racy case). */
uint64_t pol_hash(const void *buf, size_t n);

/* close(2) without going through any interposed close(), the shim's own
 * included: our private descriptors are nobody's business. */
void pol_close(int fd);

/* ---- keys ------------------------------------------------------------------ */

/* The top BITS (0..64) bits of a word. */
static inline uint64_t mask64(unsigned bits)
{
	return bits == 0 ? 0 : ~UINT64_C(0) << (64 - bits);
}

static inline struct key key_masked(struct key k, unsigned plen)
{
	struct key m;

	m.hi = k.hi & mask64(plen < 64 ? plen : 64);
	m.lo = k.lo & mask64(plen > 64 ? plen - 64 : 0);
	return m;
}

/* Bit I (0 = most significant) of K. */
static inline unsigned key_bit(struct key k, unsigned i)
{
	return i < 64 ? (unsigned)(k.hi >> (63 - i)) & 1
		      : (unsigned)(k.lo >> (127 - i)) & 1;
}

/* Number of leading bits A and B share (128 when equal). */
static inline unsigned key_common(struct key a, struct key b)
{
	uint64_t x = a.hi ^ b.hi;

	if (x)
		return (unsigned)__builtin_clzll(x);
	x = a.lo ^ b.lo;
	if (x)
		return 64 + (unsigned)__builtin_clzll(x);
	return 128;
}

/* ---- memory ---------------------------------------------------------------- */

#define PAGE_ROUND(n) (((n) + 4095) & ~(size_t)4095)

static inline void *map_alloc(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static inline size_t align16(size_t n)
{
	return (n + 15) & ~(size_t)15;
}

/* ---- parsed rules (policy-parse.c) ------------------------------------------ */

/* One rule as parsed, before it goes into the tries. */
struct brule {
	struct key key;
	uint32_t next[2]; /* next rule (1-based) on the same node, per family */
	uint16_t lo, hi;  /* ports */
	uint8_t fam, plen, dirs, neg;
};


/* Parses one rule S[0..N) into R. Returns false with MSG filled in. */
struct sbuf;
bool pol_parse_rule(const char *s, size_t n, struct brule *r, struct sbuf *msg);

/* Calls FN(ctx, start, len) for each rule of TEXT[0..len) in order, empty
 * rules included (see the top of this file). Returns the number of rules. */
typedef void (*pol_rule_fn)(void *ctx, const char *s, size_t n);
uint32_t pol_split_rules(const char *text, size_t len, pol_rule_fn fn, void *ctx);

/* ---- bounded string building, for messages (policy-error.c) ----------------- */

struct sbuf {
	char *buf;
	size_t size, len;
	bool cut; /* something did not fit and was left out */
};

void sb_init(struct sbuf *b, char *buf, size_t size);
void sb_putc(struct sbuf *b, char c);
void sb_puts(struct sbuf *b, const char *s);
void sb_putu(struct sbuf *b, unsigned long v);
/* User text, with control bytes, non-ASCII, '"' and '\\' as \xNN. */
void sb_putesc(struct sbuf *b, const char *s, size_t n);
/* User text in double quotes, escaped. */
void sb_putq(struct sbuf *b, const char *s, size_t n);
/* Dotted IPv4 text of the address A (host order). */
void sb_put_v4(struct sbuf *b, uint32_t a);
/* RFC 5952 text of the IPv6 address K. */
void sb_put_v6(struct sbuf *b, struct key k);
/* glibc's text for ERR ("No such file or directory"), or "error N". */
void sb_puterrno(struct sbuf *b, int err);
const char *pol_errno_text(int err);

static inline size_t pol_strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

#endif /* MPTCPIFY_POLICY_INT_H */
