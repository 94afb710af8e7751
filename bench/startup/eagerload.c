/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* eagerload.c - preloaded after libmptcpify.so by bench/startup to measure
 * the road not taken: loading MPTCPIFY_ADDRS in a constructor, at every
 * exec, as the library did before it loaded the policy at the first TCP
 * socket. Same loader (policy_load, compiled image included); the policy
 * is kept, as the library would keep it. */
#include <stdlib.h>

#include "mptcpify/policy.h"

__attribute__((constructor)) static void eager_load(void)
{
	static struct policy *kept;
	const char *v = getenv("MPTCPIFY_ADDRS");

	if (v)
		policy_load(v, &kept, NULL, NULL, 0);
}
