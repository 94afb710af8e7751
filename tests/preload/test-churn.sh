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
  set -- $out
  # fds_before A fds_after B failures C
  [ "$2" = "$4" ] || { echo "FAIL: fd leak ($2 before, $4 after)"; exit 1; }
  [ "$6" = 0 ] || { echo "FAIL: $6 connections failed"; exit 1; }
done
