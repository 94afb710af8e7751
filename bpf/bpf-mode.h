/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bpf-mode.h - the BPF mode of mptcpify-run (--bpf): run a command in a
 * fresh cgroup v2 whose tasks get MPTCP from socket(2) itself, through a
 * fmod_ret program on update_socket_protocol (Linux 6.6+). Unlike the
 * LD_PRELOAD shim this reaches static binaries, Go programs and raw
 * syscall(SYS_socket) calls; it cannot apply address rules (socket() knows
 * no address), so the caller must refuse policies that have them.
 *
 * Every refusal is one line on stderr that starts with
 * "mptcpify-run: --bpf: " and names the cause: missing capabilities, no
 * cgroup v2 mount, no kernel BTF, a kernel without the hook (before 6.6),
 * kernel lockdown refusing tracing programs, or another load failure. */
#ifndef MPTCPIFY_BPF_MODE_H
#define MPTCPIFY_BPF_MODE_H

#include <stddef.h>

/* Exit status for "--bpf cannot run here" (and other wrapper failures). */
#define BPF_MODE_EXIT_REFUSED 125

/* Prefix of the cgroups bpf_mode_run() creates: "<prefix><pid>" directly
 * under the caller's cgroup v2 (or the root of the cgroup2 mount when that
 * is not reachable). */
#define BPF_MODE_CGROUP_PREFIX "mptcpify-"

/* Runs argv (argv[0] searched in PATH) with MPTCP from the kernel side:
 * creates the cgroup, loads the program scoped to it and attaches it, forks,
 * moves the child into the cgroup and execs argv there. SIGINT, SIGTERM,
 * SIGHUP and SIGQUIT sent to the caller are forwarded to the child (except
 * terminal-generated ones, which the child, in the same process group,
 * already got); when the child ends, the program is detached and the cgroup
 * removed (processes the command left behind are moved back to the parent
 * cgroup first). While it waits, the caller's handlers for those four
 * signals are replaced; they are restored before returning.
 *
 * verbose != 0 prints the steps and libbpf's own messages to stderr;
 * otherwise libbpf stays silent and only refusals are printed.
 *
 * Returns the child's exit status, 128 + signal number when it was killed,
 * 126 when argv[0] cannot be executed, 127 when it is not found, and
 * BPF_MODE_EXIT_REFUSED (125) after printing one line when --bpf cannot run
 * here; nothing is left behind in that case. */
int bpf_mode_run(char *const argv[], int verbose);

/* Tells whether bpf_mode_run() can work here, by the same checks, including
 * a real load of the program (never attached), and leaves nothing behind.
 * Returns 0 when it can; else -1 with why set to the reason, without the
 * "mptcpify-run: --bpf: " prefix and without a newline (truncated to len;
 * why may be NULL). For `mptcpify-run --check`. */
int bpf_mode_probe(char *why, size_t len);

#endif /* MPTCPIFY_BPF_MODE_H */
