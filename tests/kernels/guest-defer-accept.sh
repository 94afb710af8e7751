#!/bin/sh
# tests/kernels/guest-defer-accept.sh - guest test (busybox sh + iproute2's
# ip): does an MP_JOIN to a connection of an MPTCP listener that has
# TCP_DEFER_ACCEPT complete on this kernel? Builds two network namespaces
# joined by two veth paths (the client has a `subflow` endpoint on path 2,
# as tests/netns/lib.sh does), then guest-defer-accept-probe makes one
# connection from a listener without the option and one from a listener
# with it, the client sending first, and reads the MPTcpExt counters of
# both namespaces. A kernel-facts check: it asserts the behaviour measured
# per kernel version (docs/kernels.md), so that a change is noticed.
# shellcheck shell=sh
set -eu
NAME=guest-defer-accept
T=${MPTCPIFY_TESTDIR:?MPTCPIFY_TESTDIR is not set}
fail() { echo "$NAME: FAIL: $*"; exit 1; }
skip() { echo "$NAME: SKIP: $*"; exit 77; }

[ "$(id -u)" = 0 ] || skip "needs root for network namespaces"
probe=$T/guest-defer-accept-probe
[ -x "$probe" ] || fail "$probe is missing"
# busybox ip has no netns or mptcp subcommand: iproute2's is needed, by
# path (busybox sh runs its own applet for a bare `ip`, whatever PATH says).
ip=
for p in "$T/ip" /usr/sbin/ip /sbin/ip /usr/bin/ip; do
  if [ -x "$p" ] && "$p" -V 2>&1 | grep -q iproute2; then ip=$p; break; fi
done
[ -n "$ip" ] || skip "no iproute2 ip (busybox's has no netns or mptcp)"
ip() { "$ip" "$@"; }
if ! ip netns list >/dev/null 2>&1 || ! ip mptcp limits show >/dev/null 2>&1; then
  skip "no iproute2 ip with 'netns' and 'mptcp' here"
fi

tag=mpda$$
S=$tag-s
C=$tag-c
cleanup() {
  ip netns del "$S" 2>/dev/null || true
  ip netns del "$C" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ip netns add "$S"
ip netns add "$C"
for ns in "$S" "$C"; do
  ip -n "$ns" link set lo up
  ip netns exec "$ns" sysctl -q -w net.mptcp.enabled=1 >/dev/null
  ip -n "$ns" mptcp limits set subflows 2 add_addr_accepted 2
done
ip link add dac1 netns "$C" type veth peer name das1 netns "$S"
ip link add dac2 netns "$C" type veth peer name das2 netns "$S"
ip -n "$C" addr add 10.231.1.1/24 dev dac1
ip -n "$C" addr add 10.231.2.1/24 dev dac2
ip -n "$S" addr add 10.231.1.2/24 dev das1
ip -n "$S" addr add 10.231.2.2/24 dev das2
for d in dac1 dac2; do ip -n "$C" link set "$d" up; done
for d in das1 das2; do ip -n "$S" link set "$d" up; done
ip -n "$C" mptcp endpoint add 10.231.2.1 dev dac2 subflow
# Both veth pairs have carrier (IPv4 needs no address detection): 10 s at most.
i=0
while ip -n "$C" -o link show | grep -q NO-CARRIER || ip -n "$S" -o link show | grep -q NO-CARRIER; do
  i=$((i + 1))
  [ "$i" -le 100 ] || fail "the veth paths do not come up"
  sleep 0.1
done

# 30 s: what Apache's default AcceptFilter (http data) sets.
out=$("$probe" "$S" "$C" 10.231.1.2 30) || { echo "$out"; fail "the measurement failed"; }
echo "$out"
verdict=$(echo "$out" | grep '^defer-accept: kernel ' | tail -n 1)
[ -n "$verdict" ] || fail "no verdict line"

# What was measured (docs/kernels.md). Before 5.19 MPTCP sockets refuse
# TCP_DEFER_ACCEPT, so the listener never defers. From 5.19 they accept it
# and the listener holds every join's request like a connection that sent
# no data yet: the join's third ACK carries none, so the server drops it
# (TCPDeferAcceptDrop, the client repeats it many times a second) until the
# defer period is over (its last SYN-ACK retransmission, TCPSynRetrans),
# and only then is the join established: "deferred". With Apache's 30 s a
# connection shorter than that never gets its second subflow.
rel=${MPTCPIFY_KERNEL:-$(uname -r)}
kmaj=${rel%%.*}
krest=${rel#*.}
kmin=${krest%%[!0-9]*}
v=$((kmaj * 1000 + kmin))
if [ "$v" -lt 5019 ]; then
  expect="setsockopt(TCP_DEFER_ACCEPT, 30) EOPNOTSUPP, join without it: prompt, join with it: prompt"
else
  expect="setsockopt(TCP_DEFER_ACCEPT, 30) ok, join without it: prompt, join with it: deferred"
fi
got=${verdict#*: kernel "$rel": }
[ "$got" = "$expect" ] || fail "kernel $rel: expected '$expect', measured '$got'"
echo "$NAME: as expected for $rel: $got"
