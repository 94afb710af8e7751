/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* policy.h - the MPTCPIFY_ADDRS allowlist: parser, loader and matcher.
 *
 * The module is libc-free in the sense the shim needs: it never calls
 * malloc, stdio or anything that may take a lock. Memory comes from
 * mmap/munmap only, so the shim may parse from its constructor or from the
 * first interposed call (another library's constructor may call socket()
 * before ours has run). Matching (policy_decide) allocates nothing, takes no
 * lock and is async-signal-safe; a parsed policy is immutable and may be
 * shared by any number of threads.
 *
 * Language (see README.md and mptcpify(7)):
 *   rules separated by commas and/or white space, each
 *       [!][listen@|connect@]TARGET
 *   TARGET = '*' | ADDR[/LEN][:PORTS] | :PORTS
 *   ADDR   = dotted IPv4 (four parts) | [IPv6] (brackets optional without port)
 *   PORTS  = N | N-M | '*'
 * First rule that applies and matches decides; '!' means keep TCP; no match
 * means TCP.
 *
 * Edge cases (host bits under a prefix are an error, ::ffff:0:0/96 rules are
 * IPv4 rules, empty rules between commas, "*" with a port or length) are
 * decided at the top of lib/policy-int.h.
 *
 * From a file: MPTCPIFY_ADDRS=@/etc/mptcpify/addrs (policy_load). The same
 * rules and separators, any number per line; '#' starts a comment that runs
 * to the end of the line. A compiled image of the file, FILE.compiled
 * (policy_image_write, by mptcpify-run), is mapped instead of parsing the
 * file when it is current: same owner, built from this very file (device,
 * inode, size, mtime and ctime as when it was read; and a hash of the bytes
 * when the file had changed just before). Otherwise the file is parsed.
 */
#ifndef MPTCPIFY_POLICY_H
#define MPTCPIFY_POLICY_H

#include <stddef.h>
#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Which side of a connection a decision is for. */
enum policy_dir {
	POLICY_LISTEN = 1,  /* a listening socket, matched on its local address */
	POLICY_CONNECT = 2, /* an outgoing connection, matched on its destination */
};

/* Outcome of policy_decide(). */
enum policy_verdict {
	POLICY_TCP = 0,   /* keep (or make) the socket plain TCP */
	POLICY_MPTCP = 1, /* make the socket MPTCP */
};

struct policy; /* opaque, immutable once parsed */

/* One malformed rule, or an unusable policy file, handed to the error
 * callback of policy_parse() and policy_load(). */
struct policy_error {
	unsigned rule;        /* 1-based position of the rule in the list; 0:
				 the file itself (cannot be read, ...) */
	const char *text;     /* the rule's text (not NUL-terminated) ... */
	size_t text_len;      /* ... and its length */
	const char *msg;      /* the fault, e.g. "prefix length 33 exceeds 32" */
	const char *file;     /* the policy file; NULL for a policy string */
	unsigned line, column; /* 1-based place in FILE; 0 when none */
};

typedef void (*policy_error_fn)(void *ctx, const struct policy_error *err);

/* Parses TEXT (NUL-terminated; "" is a valid policy that matches nothing).
 * Every malformed rule is reported through ON_ERROR (may be NULL), in order.
 * Returns 0 and stores a new policy in *OUT, -EINVAL when any rule was
 * malformed (then *OUT is untouched: a policy with an error is rejected
 * whole), or -ENOMEM. */
int policy_parse(const char *text, struct policy **out,
		 policy_error_fn on_error, void *ctx);

/* Flags of policy_load(). */
#define POLICY_LOAD_PARSE 1u /* parse the file even when its image is current */

/* Loads the policy a setting gives: "@PATH" (white space before '@' is
 * ignored) reads the rules of the file PATH, which must be absolute;
 * anything else is the rules themselves, as policy_parse() takes them.
 * A file that cannot be used (missing, unreadable, not a regular file,
 * larger than 16 MiB, a NUL byte in it) is reported through ON_ERROR as one
 * error with rule 0; each malformed rule as usual, with its file, line and
 * column. Only read(2)-family system calls and mmap: async-signal-safe, no
 * malloc, no lock. Returns 0, -EINVAL (reported) or -ENOMEM. */
int policy_load(const char *setting, struct policy **out,
		policy_error_fn on_error, void *ctx, unsigned flags);

/* How a policy was made. */
enum policy_origin {
	POLICY_FROM_TEXT = 0,  /* parsed from a string */
	POLICY_FROM_FILE = 1,  /* parsed from a file */
	POLICY_FROM_IMAGE = 2, /* mapped from the file's compiled image */
};
enum policy_origin policy_origin(const struct policy *p);

/* The suffix of a policy file's compiled image: /etc/mptcpify/addrs has
 * /etc/mptcpify/addrs.compiled. */
#define POLICY_IMAGE_SUFFIX ".compiled"

/* Writes P, loaded by policy_load("@PATH"), as PATH's compiled image:
 * a new file beside PATH, renamed over PATH.compiled (never rewritten in
 * place: processes may have the old one mapped), with PATH's owner and
 * permission bits. Returns 1 when the image is current already (nothing
 * written), 0 when written, or a negative errno (-EINVAL: P is not from
 * the file PATH). Not for the shim: for mptcpify-run. */
int policy_image_write(const struct policy *p, const char *path);

/* Releases a policy from policy_parse() or policy_load(); NULL is fine. */
void policy_free(struct policy *p);

/* Decides for the socket address SA (struct sockaddr_in or sockaddr_in6;
 * IPv4-mapped IPv6 addresses are matched as IPv4). Returns POLICY_MPTCP or
 * POLICY_TCP, and stores in *RULE (may be NULL) the 1-based position of the
 * deciding rule, or 0 when no rule matched. An address of another family, or
 * a LEN too short for its family, decides POLICY_TCP with *RULE = 0. */
enum policy_verdict policy_decide(const struct policy *p, enum policy_dir dir,
				  const struct sockaddr *sa, socklen_t len,
				  unsigned *rule);

/* Number of rules in P. */
unsigned policy_rule_count(const struct policy *p);

/* The text of rule N (1-based) as written by the user, its length in *LEN;
 * NULL when N is out of range. */
const char *policy_rule_text(const struct policy *p, unsigned n, size_t *len);

/* The line of the policy file that rule N (1-based) is on; 0 when P is not
 * from a file or N is out of range. */
unsigned policy_rule_line(const struct policy *p, unsigned n);

/* Formats ERR as the one-line message the project prints, without a newline:
 *   mptcpify: MPTCPIFY_ADDRS rule 2 "10.0.0.0/33": prefix length 33 exceeds 32
 * and for a policy file, where it is first:
 *   mptcpify: /etc/mptcpify/addrs:12:5: MPTCPIFY_ADDRS rule 340 "10.0.0.0/33": ...
 *   mptcpify: /etc/mptcpify/addrs: MPTCPIFY_ADDRS: cannot open: No such file ...
 * VAR names the setting (e.g. "MPTCPIFY_ADDRS"). Writes at most SIZE bytes
 * including the NUL (truncating) and returns the length written. */
size_t policy_error_format(const struct policy_error *err, const char *var,
			   char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif /* MPTCPIFY_POLICY_H */
