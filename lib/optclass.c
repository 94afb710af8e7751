/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* optclass.c - placeholder. */
#include "mptcpify/optclass.h"
