/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* mptcpify.h - what mptcpify.bpf.c and its loader (bpf-mode.c) share.
 * Only __u32-style types: this header is compiled for the BPF target and
 * for the host. */
#ifndef MPTCPIFY_BPF_SHARED_H
#define MPTCPIFY_BPF_SHARED_H

#include <linux/types.h>

/* Index of the scope cgroup in the cgroup_scope map (a
 * BPF_MAP_TYPE_CGROUP_ARRAY); the loader stores the cgroup's fd there. */
#define MPTCPIFY_SCOPE_SLOT 0

/* Bits of the `families` setting: which address families are upgraded. */
#define MPTCPIFY_FAMILY_INET  0x1u
#define MPTCPIFY_FAMILY_INET6 0x2u

/* Counters kept by the program in .bss, read by the loader when verbose. */
struct mptcpify_counters {
	__u64 upgraded; /* sockets turned into IPPROTO_MPTCP */
};

#endif /* MPTCPIFY_BPF_SHARED_H */
