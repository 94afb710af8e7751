/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* optdump.c - prints the option table (name, default class and the class
 * once connected or accepted, one option per line) so that test-docs.sh
 * can hold mptcpify(7) to lib/optclass.c. */
#include <stdio.h>

#include "mptcpify/optclass.h"

int main(void)
{
	const struct opt_info *o;

	for (o = optclass_table; o->name; o++)
		printf("%s %s %s\n", o->name, optclass_name(o->dflt),
		       optclass_name(optclass_decided(NULL, o->level, o->optname)));
	return 0;
}
