#!/bin/sh
# tests/kernels/guest-env.sh - guest test (busybox sh) checking the guest
# test contract itself: the environment every guest test is promised.
# shellcheck shell=sh
set -eu

fail() { echo "guest-env: FAIL: $*"; exit 1; }

[ -d "${MPTCPIFY_TESTDIR:-/nonexistent}" ] || fail "MPTCPIFY_TESTDIR is not a directory"
[ -e "$MPTCPIFY_TESTDIR/guest-env.sh" ] || fail "this test is not in MPTCPIFY_TESTDIR"
[ -f "${MPTCPIFY_LIB:-/nonexistent}" ] || fail "MPTCPIFY_LIB '${MPTCPIFY_LIB:-}' is not a file"
[ "${MPTCPIFY_KERNEL:-}" = "$(uname -r)" ] || fail "MPTCPIFY_KERNEL '${MPTCPIFY_KERNEL:-}' is not $(uname -r)"
[ -n "${MPTCPIFY_RUN+set}" ] || fail "MPTCPIFY_RUN is not set"
[ "$(cat /proc/sys/net/mptcp/enabled)" = 1 ] || fail "net.mptcp.enabled is not 1"
ip link show lo | grep -q UP || fail "lo is down"
# The modules run-guest.sh loads (veth, sch_tbf, ...) for the netns tests.
if [ -f /mptcpify/modules ]; then
  while read -r ko; do
    m=${ko##*/}
    m=$(echo "${m%.ko}" | tr - _)
    [ -d "/sys/module/$m" ] || fail "module $m was not loaded"
  done </mptcpify/modules
fi
wrapper=absent
[ -x "$MPTCPIFY_RUN" ] && wrapper=present
echo "guest-env: contract holds on $MPTCPIFY_KERNEL (wrapper $wrapper)"
