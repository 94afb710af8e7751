#!/usr/bin/env bash
# tests/seccomp/test-go.sh - a Go HTTP server and client (Debian's golang-go
# 1.19, CGO_ENABLED=0: static, raw syscalls, no MPTCP of its own) under
# mptcpify-run with the mode chosen by itself, over the two-path network:
# both ends MPTCP with 2 subflows by the kernel's counters, each side's
# SO_PROTOCOL 262, 8 MiB fetched intact. Needs root; GOHTTP names the binary.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../netns/lib.sh
. "$here/../netns/lib.sh"

gohttp=${GOHTTP:-}
[[ -n $gohttp && -x $gohttp ]] || nl_skip "GOHTTP does not name the built gohttp"
nl_need_root
nl_need sha256sum ss
nl_need_shim
nl_setup 1 0

src=$NL_TMP/src.bin
nl_random_file "$src" 8
want=$(nl_sha256 "$src")

nl_snap "$NL_S" go
nl_snap "$NL_C" go
nl_bg server "$NL_S" 120 "$MPTCPIFY_RUN" -v -- "$gohttp" server 0.0.0.0:4341 "$src"
server=$NL_LAST
nl_wait_port "$NL_S" 4341 || { nl_show_err server; exit 1; }
rc=0
nl_run "$NL_C" 60 "$MPTCPIFY_RUN" -v -- "$gohttp" client "http://$NL_S1:4341/data" \
	"$NL_TMP/dst.bin" >"$NL_TMP/client.out" 2>"$NL_TMP/client.err" || rc=$?
nl_stop "$server"
cat "$NL_TMP/client.out" "$NL_TMP/client.err" "$NL_TMP/server.out" "$NL_TMP/server.err"
((rc == 0)) || echo "  ^ FAIL: the client exited $rc"
((rc == 0)) || NL_FAILS=$((NL_FAILS + 1))

nl_data_check "$NL_TMP/dst.bin" "$want"
nl_side "$NL_S" go passive
nl_result "Go server (accepting side)" yes
nl_side "$NL_C" go active
nl_result "Go client (connecting side)" yes

check() {
	grep -Eq -- "$1" "$2" || { echo "  ^ FAIL: $3"; NL_FAILS=$((NL_FAILS + 1)); }
}
check 'mode seccomp: .*gohttp is a Go program' "$NL_TMP/client.err" "the client did not get the seccomp mode by itself"
check 'mode seccomp: .*gohttp is a Go program' "$NL_TMP/server.err" "the server did not get the seccomp mode by itself"
check "connected to $NL_S1:4341 protocol 262" "$NL_TMP/client.out" "the client's socket is not MPTCP"
check 'listening on .* protocol 262' "$NL_TMP/server.out" "the server's listener is not MPTCP"
check 'accepted .* protocol 262' "$NL_TMP/server.out" "the accepted socket is not MPTCP"
nl_finish
