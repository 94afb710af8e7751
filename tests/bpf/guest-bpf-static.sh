#!/bin/sh
# tests/bpf/guest-bpf-static.sh - guest test: a statically linked program
# (out of LD_PRELOAD's reach) gets MPTCP sockets under --bpf (SO_PROTOCOL 262,
# MPCapableSYNRX rising on a loopback connection), the same program outside
# the cgroup gets TCP, and the cgroup is gone afterwards. Before 6.6: the
# "no hook" refusal, exit 125.
# shellcheck shell=sh
# shellcheck source=guest-bpf-lib.sh
. "${MPTCPIFY_TESTDIR:?}/guest-bpf-lib.sh"
bpf_preamble
check_sockproto "$T/bpf-sockproto-static"
pass "static program: MPTCP in two concurrent --bpf cgroups, TCP outside, no cgroup left"
