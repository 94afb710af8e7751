#!/bin/sh
# tests/bpf/guest-bpf-syscall.sh - guest test: a program calling
# syscall(SYS_socket, ...) directly gets MPTCP sockets under --bpf and TCP
# outside the cgroup; no cgroup is left. Before 6.6: the "no hook" refusal.
# shellcheck shell=sh
# shellcheck source=guest-bpf-lib.sh
. "${MPTCPIFY_TESTDIR:?}/guest-bpf-lib.sh"
bpf_preamble
check_sockproto "$T/bpf-sockproto-syscall"
pass "syscall(SYS_socket) program: MPTCP in two concurrent --bpf cgroups, TCP outside, no cgroup left"
