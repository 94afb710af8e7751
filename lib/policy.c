/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* policy.c - placeholder; the policy engine replaces it. */
#include "mptcpify/policy.h"
