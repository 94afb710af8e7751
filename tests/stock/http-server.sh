#!/usr/bin/env bash
# tests/stock/http-server.sh - python3 -m http.server under mptcpify-run
# over the two-path network, fetched by curl (also under the wrapper): the
# server whose port the listen@ rule names accepts MPTCP with 2 subflows, the
# one on another port stays TCP although the client asks for MPTCP. 8 MiB
# checked by sha256.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../netns/lib.sh
. "$here/../netns/lib.sh"

nl_need_root
nl_need python3 curl sha256sum
nl_need_shim
nl_setup 1 0

mkdir "$NL_TMP/www"
nl_random_file "$NL_TMP/www/data.bin" 8
want=$(nl_sha256 "$NL_TMP/www/data.bin")

nl_shim_cmd 'listen@:8000'
for port in 8000 8001; do
	nl_bg "http$port" "$NL_S" 120 "${NL_SHIM[@]}" python3 -m http.server "$port" \
		--bind 0.0.0.0 --directory "$NL_TMP/www"
done
for port in 8000 8001; do
	nl_wait_port "$NL_S" "$port" || { nl_show_err "http$port"; exit 1; }
done

# fetch NAME PORT: GET /data.bin by a client that asks for MPTCP everywhere.
fetch() {
	local name=$1 port=$2 dst=$NL_TMP/dst.$1
	nl_snap "$NL_S" "$name"
	nl_shim_cmd '*'
	nl_run "$NL_C" 30 "${NL_SHIM[@]}" curl -sS --max-time 20 -o "$dst" \
		"http://$NL_S1:$port/data.bin" || true
	nl_side "$NL_S" "$name" passive
	nl_data_check "$dst" "$want"
}

fetch named 8000
echo "  (listener on 8000 is MPTCP: $(nl_listener_mptcp "$NL_S" 8000))"
nl_result "python3 -m http.server" yes
fetch excluded 8001
echo "  (listener on 8001 is MPTCP: $(nl_listener_mptcp "$NL_S" 8001))"
nl_result "python3 -m http.server (port 8001 outside the policy)" no
nl_finish
