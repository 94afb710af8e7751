/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* shim.c - placeholder until the shim core lands. */
#include <sys/socket.h>
