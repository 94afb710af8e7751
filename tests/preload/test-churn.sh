#!/bin/sh
# test-churn.sh PROBE LIB THREADS N - THREADS x N socket/connect/close cycles
# under LIB (all-mode, then a policy that replaces every connection); fails
# on a sanitizer report, a failed connection or an fd leak.
set -eu
probe=$1 lib=$2 threads=$3 n=$4
for addrs in UNSET '!connect@*, *'; do
  if [ "$addrs" = UNSET ]; then
    out=$(LD_PRELOAD=$lib timeout 600 "$probe" churn "$threads" "$n")
  else
    out=$(MPTCPIFY_ADDRS=$addrs LD_PRELOAD=$lib timeout 600 "$probe" churn "$threads" "$n")
  fi
  echo "MPTCPIFY_ADDRS=$addrs: $out"
  # exactly "fds_before A fds_after B failures C", or the test fails
  before=$(echo "$out" | sed -n 's/^fds_before \([0-9][0-9]*\) fds_after [0-9][0-9]* failures [0-9][0-9]*$/\1/p')
  after=$(echo "$out" | sed -n 's/^fds_before [0-9][0-9]* fds_after \([0-9][0-9]*\) failures [0-9][0-9]*$/\1/p')
  failures=$(echo "$out" | sed -n 's/^fds_before [0-9][0-9]* fds_after [0-9][0-9]* failures \([0-9][0-9]*\)$/\1/p')
  [ -n "$before" ] && [ -n "$after" ] && [ -n "$failures" ] || { echo "FAIL: unexpected output"; exit 1; }
  [ "$before" = "$after" ] || { echo "FAIL: fd leak ($before before, $after after)"; exit 1; }
  [ "$failures" = 0 ] || { echo "FAIL: $failures connections failed"; exit 1; }
done
