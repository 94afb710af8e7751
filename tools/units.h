/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* units.h - what the two halves of --enable-unit share: units.c writes and
 * removes the drop-in, unitenv.c reads the unit's own environment the way
 * systemd does. */
#ifndef MPTCPIFY_UNITS_H
#define MPTCPIFY_UNITS_H

#include <limits.h>
#include <stdbool.h>

#include "run.h"

/* Our drop-in, in UNIT.d/ (the warnings name it). */
#define DROPIN_NAME "mptcpify.conf"

/* The unit directories systemd reads, most important first (NULL-ended). */
extern const char *const unit_dirs[];

/* Finds UNIT's own file under S's root; fills PATH (PATH_MAX bytes). */
bool unit_fragment(const struct run_settings *s, const char *unit,
			  char path[PATH_MAX]);

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

/* Reads UNIT's file and drop-ins (ours excepted) into *E. */
void own_environment(const struct run_settings *s, const char *unit, struct own_env *e);

/* Warns (stdout) about settings that would keep LIB out of the service. */
void own_environment_warnings(const struct own_env *e, const char *lib);

#endif
