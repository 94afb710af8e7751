#!/bin/sh
# tests/wrapper/guest-check.sh - guest test (busybox sh, kernel matrix):
# `mptcpify-run --check` on each kernel says MPTCP is usable (exit 0) and
# reports TCP_MAXSEG as refused on MPTCP sockets exactly on kernels before
# 6.17. Contract: MPTCPIFY_RUN, MPTCPIFY_LIB; 0 pass, 77 skip, 1 fail.
# shellcheck shell=sh
set -u
[ -x "${MPTCPIFY_RUN:-}" ] || { echo "guest-check: SKIP: no mptcpify-run"; exit 77; }
out=$("$MPTCPIFY_RUN" --lib "$MPTCPIFY_LIB" --check 2>&1)
st=$?
echo "$out"
fails=0
[ "$st" = 0 ] || { echo "guest-check: FAIL: --check exit status $st"; fails=1; }
echo "$out" | grep -q '^ok   kernel: ' || { echo "guest-check: FAIL: no kernel ok line"; fails=1; }
rel=$(uname -r)
major=${rel%%.*}
rest=${rel#*.}
minor=${rest%%[!0-9]*}
if [ "$major" -lt 6 ] || { [ "$major" = 6 ] && [ "$minor" -lt 17 ]; }; then
	echo "$out" | grep -q 'option TCP_MAXSEG: refused' ||
		{ echo "guest-check: FAIL: TCP_MAXSEG not reported refused on $rel"; fails=1; }
else
	echo "$out" | grep -q 'option TCP_MAXSEG: refused' &&
		{ echo "guest-check: FAIL: TCP_MAXSEG reported refused on $rel"; fails=1; }
fi
[ "$fails" = 0 ] && echo "guest-check: pass on $rel"
exit "$fails"
