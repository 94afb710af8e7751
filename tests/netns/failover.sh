#!/usr/bin/env bash
# tests/netns/failover.sh - path 1 (the one the initial subflow and the
# plain TCP connection use) is taken down (ip link set down) in the middle
# of an iperf3 transfer. Under mptcpify-run the transfer completes and the
# rate is back above FO_MIN_MBIT (20 Mbit/s, 40% of the surviving path)
# within 2 s, from iperf3's own 0.25 s interval reports. Without the shim,
# the same transfer stalls: nothing moves after the path is gone.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

secs=${FO_SECONDS:-8}
down_at=${FO_DOWN_AT:-3}
min_mbit=${FO_MIN_MBIT:-20}
max_recovery=${FO_MAX_RECOVERY:-2}

nl_need_root
nl_need iperf3 python3
nl_need_shim
nl_setup 1 0

# run NAME PORT SHIM-RULES|"": iperf3 for $secs seconds, path 1 going down
# after $down_at seconds; leaves the intervals in $NL_TMP/NAME.iv and sets
# RC (iperf3's exit status) and DOWN (seconds into the test when the path
# went down, measured from the client's start).
run() {
	local name=$1 port=$2 rules=$3 json=$NL_TMP/$1.json
	local pre=()
	if [[ -n $rules ]]; then
		nl_shim_cmd "$rules"
		pre=("${NL_SHIM[@]}")
	fi
	ip -n "$NL_C" link set nlc1 up
	nl_wait_addr "$NL_C" "$NL_S1" || nl_fail "path 1 does not come back up"
	nl_bg "srv.$name" "$NL_S" $((secs + 20)) "${pre[@]}" iperf3 -s -1 -p "$port"
	nl_wait_port "$NL_S" "$port" || nl_show_err "srv.$name"
	local t0 t1 cli
	t0=$(date +%s%N)
	nl_bg "cli.$name" "$NL_C" $((secs + 4)) "${pre[@]}" iperf3 -c "$NL_S1" -p "$port" \
		-t "$secs" -i 0.25 -J
	cli=$NL_LAST
	sleep "$down_at"
	ip -n "$NL_C" link set nlc1 down
	t1=$(date +%s%N)
	DOWN=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')
	RC=0
	wait "$cli" || RC=$?
	cp "$NL_TMP/cli.$name.out" "$json"
	python3 "$here/iperf-json.py" intervals "$json" >"$NL_TMP/$name.iv"
}

# Prints the per-interval rates of NAME as one line of Mbit/s values.
show() {
	awk '{ printf "%s%.0f", (NR > 1 ? " " : ""), $3 / 1e6 } END { print "" }' "$NL_TMP/$1.iv"
}

# The kernel's reinjection after a path loss usually takes 0.5-1.75 s here,
# once in about twenty runs a little more than 2 s: a slow first attempt is
# reported and measured once more (both attempts are printed).
for attempt in 1 2; do
	run mptcp $((5201 + attempt)) "listen@:$((5201 + attempt)), connect@:$((5201 + attempt))"
	mptcp_rc=$RC mptcp_down=$DOWN
	echo "under mptcpify (attempt $attempt), path 1 down at ${mptcp_down}s, Mbit/s per 0.25 s: $(show mptcp)"
	# Recovery: from the cut to the end of the first interval that starts
	# after the cut and runs at min_mbit or more. The transfer must
	# complete, and after recovery it must average min_mbit or more.
	read -r recovery after < <(awk -v d="$mptcp_down" -v min="$min_mbit" '
		$1 >= d && r == "" && $3 >= min * 1e6 { r = $2 - d }
		r != "" { sum += $3 * ($2 - $1); t += $2 - $1 }
		END { printf "%.2f %.1f\n", (r == "" ? -1 : r), (t > 0 ? sum / t / 1e6 : 0) }' \
		"$NL_TMP/mptcp.iv")
	fails=()
	((mptcp_rc == 0)) || fails+=("iperf3 under mptcpify failed (exit $mptcp_rc)")
	if ! awk -v r="$recovery" -v m="$max_recovery" 'BEGIN { exit !(r >= 0 && r <= m) }'; then
		fails+=("rate did not recover to ${min_mbit} Mbit/s within ${max_recovery}s (${recovery}s)")
	fi
	if ! awk -v a="$after" -v m="$min_mbit" 'BEGIN { exit !(a >= m) }'; then
		fails+=("after recovery the rate averaged ${after} Mbit/s, under ${min_mbit}")
	fi
	echo "failover with mptcpify: transfer $( ((mptcp_rc == 0)) && echo completed || echo FAILED)," \
		"back above ${min_mbit} Mbit/s ${recovery}s after the cut, then ${after} Mbit/s"
	((${#fails[@]})) || break
	((attempt == 2)) || printf 'attempt %s: %s; measuring once more\n' "$attempt" "${fails[@]}"
done

run tcp 5201 ""
echo "plain TCP, path 1 down at ${DOWN}s, Mbit/s per 0.25 s: $(show tcp)"
# Stalled: less than 1 Mbit/s in every interval that starts 0.5 s after
# the cut (or no report at all, iperf3 having been killed).
moved=$(awk -v d="$DOWN" '$1 >= d + 0.5 && $3 >= 1e6 { n++ } END { print n + 0 }' "$NL_TMP/tcp.iv")
if ((moved == 0)); then
	echo "failover without the shim: stalled (as expected)"
else
	fails+=("plain TCP kept moving after path 1 went down: the test cut the wrong path")
fi
if ((${#fails[@]})); then
	printf 'FAIL: %s\n' "${fails[@]}"
	exit 1
fi
nl_finish
