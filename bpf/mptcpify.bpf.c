// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* mptcpify.bpf.c - kernel side of the BPF mode: inside socket(2), turn TCP
 * stream sockets into IPPROTO_MPTCP for the tasks of one cgroup v2 subtree.
 *
 * Needs no vmlinux.h: the program uses helpers and UAPI constants only, so
 * the object does not depend on the kernel of the build machine. */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "mptcpify.h"

/* From <sys/socket.h> and <netinet/in.h>, which are not usable for the BPF
 * target; these values are part of the Linux ABI. */
#define AF_INET        2
#define AF_INET6       10
#define SOCK_STREAM    1
#define SOCK_TYPE_MASK 0xf /* the rest of `type` is SOCK_NONBLOCK/SOCK_CLOEXEC */
#define IPPROTO_TCP    6
#define IPPROTO_MPTCP  262

/* Settings, filled in by the loader before load. */
const volatile __u32 families = MPTCPIFY_FAMILY_INET | MPTCPIFY_FAMILY_INET6;

/* The scope: one cgroup v2 (by fd, stored by the loader). Tasks in it or in
 * any descendant cgroup get MPTCP. A cgroup array plus
 * bpf_current_task_under_cgroup() is used rather than comparing
 * bpf_get_current_ancestor_cgroup_id() with a cgroup id: the ancestor helper
 * needs the cgroup's absolute level in the hierarchy, which user space cannot
 * read reliably from inside a cgroup namespace (/proc/self/cgroup paths are
 * relative to the namespace root), while the fd names the cgroup itself. */
struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} cgroup_scope SEC(".maps");

struct mptcpify_counters counters = {};

static __always_inline int family_wanted(int family)
{
	if (family == AF_INET)
		return families & MPTCPIFY_FAMILY_INET;
	if (family == AF_INET6)
		return families & MPTCPIFY_FAMILY_INET6;
	return 0;
}

/* fmod_ret semantics: a non-zero return value replaces the result of
 * update_socket_protocol() and also skips every fmod_ret program attached
 * after this one; zero runs the next program and finally the function itself,
 * which returns `protocol` unchanged. So "leave it alone" is 0, never
 * `protocol`: returning IPPROTO_TCP for a task outside our scope would hide
 * the call from another mptcpify instance (another cgroup) attached later. */
SEC("fmod_ret/update_socket_protocol")
int BPF_PROG(mptcpify_socket, int family, int type, int protocol)
{
	if (!family_wanted(family))
		return 0;
	if ((type & SOCK_TYPE_MASK) != SOCK_STREAM)
		return 0;
	if (protocol != 0 && protocol != IPPROTO_TCP)
		return 0;
	/* Last, as the costliest test: this runs for every socket() on the
	 * machine. 1: under the cgroup; 0: not; negative: empty slot, error. */
	if (bpf_current_task_under_cgroup(&cgroup_scope, MPTCPIFY_SCOPE_SLOT) != 1)
		return 0;

	__sync_fetch_and_add(&counters.upgraded, 1);
	return IPPROTO_MPTCP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
