#!/bin/bash
# bench/memory/run.sh BENCH-MEM LIB - memory per 100,000 tracked sockets:
# without the shim, with it (all-mode and with a policy), with 0, 2 and 6
# options remembered per socket. Prints a markdown table (KiB of anonymous
# memory the process grew by; the shim's share is the difference).
set -euo pipefail
bench=$1 lib=$2
# as many sockets as the hard RLIMIT_NOFILE allows, up to 100,000 (raising
# it needs CAP_SYS_RESOURCE); the last column scales to 100,000
hard=$(ulimit -Hn)
[[ $hard == unlimited ]] && hard=1048576
n=${N:-$(( hard - 100 < 100000 ? hard - 100 : 100000 ))}
echo "| sockets | options set before connect | without shim (KiB) | shim, all-mode (KiB) | shim, policy (KiB) | shim's bytes per socket (policy) | per 100,000 sockets (MiB) |"
echo "|---|---|---|---|---|---|---|"
for k in 0 2 6; do
  plain=$("$bench" "$n" "$k" | sed -n 's/.*anon_kib \([0-9-]*\).*/\1/p')
  all=$(LD_PRELOAD=$lib "$bench" "$n" "$k" | sed -n 's/.*anon_kib \([0-9-]*\).*/\1/p')
  pol=$(MPTCPIFY_ADDRS='*' LD_PRELOAD=$lib "$bench" "$n" "$k" | sed -n 's/.*anon_kib \([0-9-]*\).*/\1/p')
  per=$(awk -v a="$pol" -v b="$plain" -v n="$n" 'BEGIN { printf "%.0f", (a - b) * 1024 / n }')
  mib=$(awk -v p="$per" 'BEGIN { printf "%.1f", p * 100000 / 1048576 }')
  echo "| $n | $k | $plain | $all | $pol | $per | $mib |"
done
