#!/usr/bin/env bash
# tests/stock/haproxy.sh - the seed's case over the two-path network:
# Debian's haproxy (no MPTCP of its own) under mptcpify-run with
# examples/haproxy.cfg, in front of examples/mptcp-backend.py.
#   curl (client ns) --> haproxy :8080 / :8081 (server ns)
#                    --> mptcp-backend.py 10.231.1.1:4331 (client ns)
# The frontend on 8080 is named by listen@ and takes `mss 1400` without a
# warning: MPTCP, 2 subflows. The frontend on 8081 is outside the policy:
# TCP, while the backend connections made for it are MPTCP (connect@) with
# 2 subflows. 8 MiB through each frontend, checked by sha256.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../netns/lib.sh
. "$here/../netns/lib.sh"
examples=$here/../../examples

nl_need_root
nl_need haproxy curl python3 sha256sum
nl_need_shim
# Both ways: haproxy's backend connections start in the server namespace.
nl_setup 1 1

src=$NL_TMP/src.bin
nl_random_file "$src" 8
want=$(nl_sha256 "$src")

nl_bg backend "$NL_C" 120 python3 "$examples/mptcp-backend.py" --port 4331 --file "$src"
nl_wait_port "$NL_C" 4331 || { nl_show_err backend; exit 1; }

nl_shim_cmd "listen@:8080, connect@$NL_C1:4331"
nl_bg haproxy "$NL_S" 120 env EXAMPLE_FRONT_PORT=8080 EXAMPLE_PLAIN_PORT=8081 \
	EXAMPLE_BACKEND_ADDR="$NL_C1" EXAMPLE_BACKEND_PORT=4331 \
	"${NL_SHIM[@]}" haproxy -db -f "$examples/haproxy.cfg"
for port in 8080 8081; do
	nl_wait_port "$NL_S" "$port" || { nl_show_err haproxy; exit 1; }
done

# fetch NAME PORT: GET /data through haproxy by a client that asks for
# MPTCP everywhere; prints the frontend and backend lines.
fetch() {
	local name=$1 port=$2 want_front=$3 dst=$NL_TMP/dst.$1
	nl_snap "$NL_S" "$name"
	nl_shim_cmd '*'
	nl_run "$NL_C" 30 "${NL_SHIM[@]}" curl -sS --max-time 20 -o "$dst" \
		"http://$NL_S1:$port/data" || true
	nl_data_check "$dst" "$want"
	echo "  (listener on $port is MPTCP: $(nl_listener_mptcp "$NL_S" "$port"))"
	nl_side "$NL_S" "$name" passive
	nl_result "haproxy frontend :$port" "$want_front"
	nl_side "$NL_S" "$name" active
	nl_result "haproxy backend for :$port" yes
}

fetch named 8080 yes
fetch plain 8081 no

if grep -iE 'warning|alert|mss' "$NL_TMP/haproxy.err"; then
	echo "  ^ FAIL: haproxy printed the above on stderr"
	NL_FAILS=$((NL_FAILS + 1))
else
	echo "  (haproxy: no warning on stderr; mss 1400 accepted)"
fi
nl_finish
