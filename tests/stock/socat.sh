#!/usr/bin/env bash
# tests/stock/socat.sh - socat as server (TCP-LISTEN) and client (TCP:)
# under mptcpify-run over the two-path network: 8 MiB pushed through a
# connection the policy names is MPTCP with 2 subflows; through one it
# excludes (`!` rule before a catch-all), TCP. Data checked by sha256.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../netns/lib.sh
. "$here/../netns/lib.sh"

nl_need_root
nl_need socat sha256sum
nl_need_shim
nl_setup 1 0

src=$NL_TMP/src.bin
nl_random_file "$src" 8
want=$(nl_sha256 "$src")
size=$(stat -c %s "$src")

# push NAME PORT SERVER-RULES CLIENT-RULES: one socat receiver writing to
# a file, one socat sender reading the source file. The receiver forks, so
# its listener stays open: MP_JOIN SYNs go to the listening port, and a
# socat that closes its listener after the first accept refuses the second
# subflow (it stays at 1 subflow, correctly).
push() {
	local name=$1 port=$2 dst=$NL_TMP/dst.$1
	nl_snap "$NL_S" "$name"
	nl_snap "$NL_C" "$name"
	nl_shim_cmd "$3"
	nl_bg "srv.$name" "$NL_S" 30 "${NL_SHIM[@]}" socat -u \
		"TCP-LISTEN:$port,reuseaddr,fork" "CREATE:$dst"
	local srv=$NL_LAST
	nl_wait_port "$NL_S" "$port" || nl_show_err "srv.$name"
	nl_shim_cmd "$4"
	nl_run "$NL_C" 30 "${NL_SHIM[@]}" socat -u "OPEN:$src" "TCP:$NL_S1:$port" || true
	# The forked receiver exits once the sender closes and all is written.
	local end=$((SECONDS + 15))
	while ((SECONDS < end)) && [[ $(stat -c %s "$dst" 2>/dev/null || echo 0) != "$size" ]]; do
		sleep 0.1
	done
	sleep 0.2
	nl_stop "$srv"
	nl_side "$NL_S" "$name" passive
	nl_data_check "$dst" "$want"
}

push named 7000 'listen@:7000' "connect@$NL_S1:7000"
nl_result "socat" yes
push excluded 7001 '!listen@:7001, *' "!connect@$NL_S1:7001, *"
nl_result "socat (port 7001 excluded by ! rules)" no
nl_finish
