#!/usr/bin/env bash
# tests/netns/fallback.sh - the fallbacks, end to end over the two-path
# network, 8 MiB each, checked by sha256:
#   - a client under mptcpify-run asks a plain server for MPTCP (the kernel
#     counts its MP_CAPABLE SYN) and falls back to TCP;
#   - a plain client reaches a server under mptcpify-run: the listener is
#     MPTCP, the connection plain TCP;
# With FALLBACK_DISABLED=1 (tests/netns/fallback-disabled.sh) the network is
# built with net.mptcp.enabled=0 in both namespaces, and both ends run under
# mptcpify-run: the kernel refuses MPTCP sockets, the shim keeps TCP.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

disabled=${FALLBACK_DISABLED:-0}

nl_need_root
nl_need python3 curl sha256sum
nl_need_shim
nl_setup $((!disabled)) 0

mkdir "$NL_TMP/www"
nl_random_file "$NL_TMP/www/data.bin" 8
want=$(nl_sha256 "$NL_TMP/www/data.bin")

# serve PORT SHIM-RULES|"": python3 -m http.server on PORT, shimmed or not,
# dual-stack on [::] (IPv4 clients arrive as v4-mapped addresses).
serve() {
	local port=$1 pre=()
	if [[ -n $2 ]]; then
		nl_shim_cmd "$2"
		pre=("${NL_SHIM[@]}")
	fi
	nl_bg "http$port" "$NL_S" 120 "${pre[@]}" python3 -m http.server "$port" \
		--bind :: --directory "$NL_TMP/www"
	nl_wait_port "$NL_S" "$port" || { nl_show_err "http$port"; exit 1; }
}

# fetch NAME PORT SHIM-RULES|"": curl, shimmed or not; sets NL_DATA and
# NL_MPTCP/NL_SUBFLOWS (client side) and SYNTX (MP_CAPABLE SYNs sent).
fetch() {
	local name=$1 port=$2 dst=$NL_TMP/dst.$1 pre=()
	if [[ -n $3 ]]; then
		nl_shim_cmd "$3"
		pre=("${NL_SHIM[@]}")
	fi
	nl_snap "$NL_C" "$name"
	nl_run "$NL_C" 30 "${pre[@]}" curl -sS --max-time 20 -o "$dst" \
		"http://$NL_S1:$port/data.bin" || true
	SYNTX=$(nl_delta "$NL_C" "$name" MPTcpExtMPCapableSYNTX)
	nl_side "$NL_C" "$name" active
	nl_data_check "$dst" "$want"
}

if ((disabled)); then
	serve 8000 '*'
	echo "  (net.mptcp.enabled=0; listener is MPTCP: $(nl_listener_mptcp "$NL_S" 8000))"
	fetch disabled 8000 '*'
	nl_result "fallback, net.mptcp.enabled=0, both ends under mptcpify" no
	nl_finish
fi

serve 8000 ""
fetch to-plain 8000 '*'
echo "  (client sent $SYNTX MP_CAPABLE SYN(s))"
nl_result "fallback, shimmed client -> plain server" no
if ((SYNTX < 1)); then
	echo "  ^ FAIL: the shimmed client never asked for MPTCP"
	NL_FAILS=$((NL_FAILS + 1))
fi

serve 8001 'listen@:8001'
fetch from-plain 8001 ""
listener=$(nl_listener_mptcp "$NL_S" 8001)
echo "  (listener on 8001 is MPTCP: $listener)"
nl_result "fallback, plain client -> shimmed server" no
if [[ $listener != yes ]]; then
	echo "  ^ FAIL: the shimmed server's listener is not MPTCP"
	NL_FAILS=$((NL_FAILS + 1))
fi
nl_finish
