#!/usr/bin/env bash
# tests/netns/aggregate.sh - what MPTCP is for, measured in one run: stock
# iperf3 over two 50 Mbit/s paths, first plain TCP (one path), then under
# mptcpify-run (both paths). Passes when the shimmed run reaches at least
# AGG_MIN_RATIO (1.8) times the plain figure. Receiver-side rates, the
# first second (slow start) omitted.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

secs=${AGG_SECONDS:-5}
min_ratio=${AGG_MIN_RATIO:-1.8}

nl_need_root
nl_need iperf3 python3
nl_need_shim
nl_setup 1 0

# measure NAME PORT SHIM-RULES|"": one iperf3 run; prints the rate (bit/s).
measure() {
	local name=$1 port=$2 rules=$3 json=$NL_TMP/$1.json
	local pre=()
	if [[ -n $rules ]]; then
		nl_shim_cmd "$rules"
		pre=("${NL_SHIM[@]}")
	fi
	nl_bg "srv.$name" "$NL_S" $((secs + 20)) "${pre[@]}" iperf3 -s -1 -p "$port"
	nl_wait_port "$NL_S" "$port" >&2 || nl_show_err "srv.$name"
	nl_run "$NL_C" $((secs + 15)) "${pre[@]}" iperf3 -c "$NL_S1" -p "$port" \
		-t "$secs" -O 1 -J >"$json" 2>&1 || true
	local _ _ bps
	read -r _ _ bps < <(python3 "$here/iperf-json.py" summary "$json")
	echo "$bps"
}

# Two attempts at most: on this 2-vCPU machine the ratio has been 1.84-1.96,
# so a first measurement under the floor (a busy moment) is reported and the
# pair is measured once more; both are printed.
for attempt in 1 2; do
	nl_snap "$NL_S" tcp$attempt
	tcp=$(measure tcp$attempt $((5200 + 2 * attempt - 1)) "")
	nl_side "$NL_S" tcp$attempt passive
	tcp_mptcp=$NL_MPTCP

	nl_snap "$NL_S" mptcp$attempt
	port=$((5200 + 2 * attempt))
	mptcp=$(measure mptcp$attempt $port "listen@:$port, connect@:$port")
	nl_side "$NL_S" mptcp$attempt passive

	if awk -v t="$tcp" -v m="$mptcp" -v min="$min_ratio" -v tm="$tcp_mptcp" \
		-v mm="$NL_MPTCP" -v ms="$NL_SUBFLOWS" -v a="$attempt" 'BEGIN {
		ratio = t > 0 ? m / t : 0
		printf "attempt %d\n", a
		printf "iperf3 plain:          %6.1f Mbit/s (MPTCP %s)\n", t / 1e6, tm
		printf "iperf3 under mptcpify: %6.1f Mbit/s (MPTCP %s, subflows %s)\n", m / 1e6, mm, ms
		printf "aggregation ratio: %.2fx (need >= %.2fx)\n", ratio, min
		exit !(ratio >= min && tm == "no" && mm == "yes" && ms == 2)
	}'; then
		nl_finish # exits
	fi
	((attempt == 2)) || echo "attempt 1 under the floor: measuring once more"
done
nl_fail "MPTCP did not aggregate the two paths"
