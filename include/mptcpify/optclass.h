/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* optclass.h - what the shim does when an MPTCP socket refuses an option,
 * and the MPTCPIFY_OPTIONS language that changes it.
 *
 * Libc-free like policy.h: no malloc, stdio or locks; the table is static
 * and lookups are async-signal-safe.
 *
 * MPTCPIFY_OPTIONS: entries separated by commas and/or white space, each
 *     NAME=CLASS
 * NAME is an option name from the table (TCP_USER_TIMEOUT, IP_TTL, ...),
 * CLASS one of:
 *   emulate  succeed and remember the value; getsockopt reads it back
 *   tcp      before listen()/connect(): step the socket down to plain TCP
 *            and apply the option for real; afterwards the kernel's error
 *   error    return the kernel's error unchanged (what mptcpize does)
 */
#ifndef MPTCPIFY_OPTCLASS_H
#define MPTCPIFY_OPTCLASS_H

#include <stddef.h>
#include "mptcpify/policy.h" /* struct policy_error, policy_error_fn */

#ifdef __cplusplus
extern "C" {
#endif

enum opt_class {
	OPT_ERROR = 0,   /* pass the kernel's error through */
	OPT_EMULATE = 1, /* success, value remembered and read back */
	OPT_TCP = 2,     /* step down to TCP before the socket is decided */
};

/* One known socket option. */
struct opt_info {
	const char *name;         /* "TCP_MAXSEG" */
	int level;                /* SOL_TCP, SOL_IP, SOL_IPV6, SOL_SOCKET */
	int optname;
	enum opt_class dflt;      /* class when MPTCPIFY_OPTIONS says nothing */
	unsigned char probe;      /* 1: --check probes it (int-valued, harmless) */
	int probe_value;          /* value --check sets when probing */
	const char *why;          /* one line for docs and --check */
	unsigned short since;     /* first kernel whose MPTCP sockets accept it,
				     as major*100+minor (617 = 6.17); 0: none */
};

/* The table, terminated by an entry whose name is NULL. */
extern const struct opt_info optclass_table[];

/* Entry for LEVEL/OPTNAME, or NULL when the option is not in the table
 * (optclass_get() treats unknown options as OPT_TCP). */
const struct opt_info *optclass_find(int level, int optname);

/* Entry by name (case-sensitive, e.g. "IP_TTL"), or NULL. */
const struct opt_info *optclass_find_name(const char *name, size_t len);

/* Overrides parsed from MPTCPIFY_OPTIONS. */
#define OPTCLASS_MAX_OVERRIDES 64
struct opt_overrides {
	unsigned n;
	struct {
		const struct opt_info *opt;
		enum opt_class cls;
	} e[OPTCLASS_MAX_OVERRIDES];
};

/* Parses TEXT into *OUT. Each bad entry (unknown option name, unknown class,
 * missing '=', too many entries) is reported through ON_ERROR with its
 * position. Returns 0, or -EINVAL when any entry was bad (then *OUT is left
 * empty: nothing half-applied). */
int optclass_parse(const char *text, struct opt_overrides *out,
		   policy_error_fn on_error, void *ctx);

/* Class of LEVEL/OPTNAME under OV (may be NULL): an override if any, else
 * the table's default, else OPT_ERROR. */
enum opt_class optclass_get(const struct opt_overrides *ov, int level,
			    int optname);

/* The class on a socket that is already connected, listening or accepted,
 * where stepping down is no longer possible: OPT_EMULATE or OPT_ERROR only
 * (a tcp-class option gets emulate when it has nothing left to act on,
 * else error; an override to error or emulate applies as given). */
enum opt_class optclass_decided(const struct opt_overrides *ov, int level,
				int optname);

/* "emulate", "tcp" or "error". */
const char *optclass_name(enum opt_class cls);

#ifdef __cplusplus
}
#endif
#endif /* MPTCPIFY_OPTCLASS_H */
