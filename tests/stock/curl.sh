#!/usr/bin/env bash
# tests/stock/curl.sh - curl under mptcpify-run over the two-path network,
# fetching 8 MiB from the MPTCP backend (examples/mptcp-backend.py): to an
# address the connect@ rule names, MPTCP with 2 subflows; with
# --tcp-fastopen, MPTCP with the request in the SYN; to the backend's other
# address, outside the policy, TCP. Data checked by sha256.
#
# The Fast Open case runs over path 2 alone (1 subflow): on this kernel
# (6.18) an MPTCP connection that carried data in its SYN and then gets a
# second subflow often stalls mid-transfer, with or without mptcpify (it
# happens with `mptcpize run curl --tcp-fastopen` too); see the report in
# issue 6.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../netns/lib.sh
. "$here/../netns/lib.sh"
backend=$here/../../examples/mptcp-backend.py

nl_need_root
nl_need curl python3 sha256sum
nl_need_shim
nl_setup 1 0

src=$NL_TMP/src.bin
nl_random_file "$src" 8
want=$(nl_sha256 "$src")

# The backend on 4331 (both addresses) and, for Fast Open, on 4332.
nl_bg backend "$NL_S" 120 python3 "$backend" --port 4331 --file "$src"
nl_bg backend-tfo "$NL_S" 120 python3 "$backend" --port 4332 --file "$src" --fastopen 16
nl_wait_port "$NL_S" 4331 || { nl_show_err backend; exit 1; }
nl_wait_port "$NL_S" 4332 || { nl_show_err backend-tfo; exit 1; }

rules="connect@$NL_S1:4331, connect@$NL_S2:4332"

# fetch NAME URL CURL-OPTIONS...: one GET under the policy above; sets
# NL_MPTCP/NL_SUBFLOWS/NL_DATA.
fetch() {
	local name=$1 url=$2 dst=$NL_TMP/dst.$1
	shift 2
	nl_snap "$NL_S" "$name"
	nl_snap "$NL_C" "$name"
	nl_shim_cmd "$rules"
	nl_run "$NL_C" 30 "${NL_SHIM[@]}" curl -sS --max-time 20 "$@" \
		-o "$dst" "$url" 2>"$NL_TMP/curl.$name.err" || cat "$NL_TMP/curl.$name.err"
	nl_side "$NL_C" "$name" active
	nl_data_check "$dst" "$want"
}

fetch named "http://$NL_S1:4331/data"
nl_result "curl" yes

# TCP Fast Open: the first connection fetches a cookie, the second sends
# its request in the SYN (TcpExt TCPFastOpenActive on the client).
fetch tfo1 "http://$NL_S2:4332/data" --tcp-fastopen
nl_snap "$NL_C" tfo
fetch tfo2 "http://$NL_S2:4332/data" --tcp-fastopen
tfo=$(nl_delta "$NL_C" tfo TcpExtTCPFastOpenActive)
nl_result "curl --tcp-fastopen (path 2 only)" yes 1
if ((tfo < 1)); then
	echo "  ^ FAIL: the second connection sent no data in its SYN"
	NL_FAILS=$((NL_FAILS + 1))
fi

fetch excluded "http://$NL_S2:4331/data"
nl_result "curl (to $NL_S2:4331, outside the policy)" no
nl_finish
