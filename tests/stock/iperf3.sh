#!/usr/bin/env bash
# tests/stock/iperf3.sh - iperf3 server and client under mptcpify-run over
# the two-path network: the named ports get MPTCP with 2 subflows and the
# excluded port stays TCP. iperf3 carries no content worth checking (its -F
# receiver writes short reads as whole blocks, so a file sent with -F comes
# out garbled) and its receiver stops counting when the sender's last write
# returns (up to ~2 MB in flight here), so the data check for iperf3 is: the
# run completes without error, several MB are sent, and the receiver counts
# at least 75% of them. The other stock tests check content by sha256.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../netns/lib.sh
. "$here/../netns/lib.sh"

nl_need_root
nl_need iperf3 python3
nl_need_shim
nl_setup 1 0

# One transfer: iperf3 server on PORT under SRV_RULES, client under
# CLI_RULES sending for 3 s; sets NL_MPTCP/NL_SUBFLOWS/NL_DATA.
transfer() {
	local name=$1 port=$2 srv_rules=$3 cli_rules=$4 json=$NL_TMP/cli$2.json
	nl_snap "$NL_S" "$name"
	nl_snap "$NL_C" "$name"
	nl_shim_cmd "$srv_rules"
	nl_bg "srv$port" "$NL_S" 30 "${NL_SHIM[@]}" iperf3 -s -1 -p "$port"
	local srv=$NL_LAST
	nl_wait_port "$NL_S" "$port" || nl_show_err "srv$port"
	nl_shim_cmd "$cli_rules"
	if ! nl_run "$NL_C" 30 "${NL_SHIM[@]}" iperf3 -c "$NL_S1" -p "$port" -t 3 -J \
		>"$json" 2>&1; then
		cat "$json" >&2
	fi
	nl_stop "$srv"
	nl_side "$NL_S" "$name" passive
	local srv_mptcp=$NL_MPTCP srv_subflows=$NL_SUBFLOWS
	nl_side "$NL_C" "$name" active
	# Both ends must agree on what the kernel made.
	if [[ $srv_mptcp != "$NL_MPTCP" || $srv_subflows != "$NL_SUBFLOWS" ]]; then
		echo "  server saw MPTCP $srv_mptcp/$srv_subflows, client $NL_MPTCP/$NL_SUBFLOWS"
		NL_MPTCP="$srv_mptcp/$NL_MPTCP"
	fi
	local sent got _
	read -r sent got _ < <(python3 "$here/../netns/iperf-json.py" summary "$json")
	if ((sent >= 4 * 1024 * 1024 && got * 4 >= sent * 3)); then
		NL_DATA=ok
	else
		NL_DATA=BAD
		echo "  sent $sent bytes, received $got"
	fi
}

transfer named 5201 'listen@:5201' "connect@$NL_S1:5201"
nl_result "iperf3" yes
transfer excluded 5202 'listen@:5201' "connect@$NL_S1:5201"
nl_result "iperf3 (port 5202 outside the policy)" no
nl_finish
