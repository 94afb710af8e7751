#!/bin/sh
# tests/wrapper/test-connect.sh - end to end, by the kernel's counters: in
# a fresh network namespace, curl under mptcpify-run talks to a Python HTTP
# server under mptcpify-run over MPTCP; with loopback excluded by the
# policy, over plain TCP.
# shellcheck shell=sh
. "$(dirname "$0")/common.sh"

[ "$(id -u)" = 0 ] || skip "needs root for a network namespace"
for p in curl nstat ip; do
	command -v "$p" >/dev/null 2>&1 || skip "no $p"
done
py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3) || skip "no python3"
unshare -n true 2>/dev/null || skip "unshare -n does not work here"

# Runs inside the netns: prints "<MPCapableSYNRX after the first request>
# <after the second>" (absolute counters of this netns).
cat >"$TMP/inner.sh" <<'EOT'
set -u
ip link set lo up
counter() { nstat -asz MPTcpExtMPCapableSYNRX | awk '$1 == "MPTcpExtMPCapableSYNRX" { print $2 }'; }
mkdir "$TMP/www" && echo hello >"$TMP/www/index.html"
cd "$TMP/www" || exit 1
# http.server's own main sets IPV6_V6ONLY on its IPv4 socket (and ignores
# the error); a plain HTTPServer keeps this test about the wrapper.
"$RUN" -- "$PY" -c 'import http.server as h
h.HTTPServer(("127.0.0.1", 8765), h.SimpleHTTPRequestHandler).serve_forever()' \
	>"$TMP/server.log" 2>&1 &
server=$!
i=0
until curl -s -o /dev/null http://127.0.0.1:8765/ 2>/dev/null; do
	i=$((i + 1)); [ $i -lt 100 ] || { echo "server did not start"; kill $server; exit 1; }
	sleep 0.1
done
# That probe was plain TCP (curl not under the wrapper): start counting now.
c0=$(counter)
body=$("$RUN" -- curl -s http://127.0.0.1:8765/)
[ "$body" = hello ] || echo "first request: got '$body'"
c1=$(counter)
body=$("$RUN" -a '!127.0.0.0/8, *' -- curl -s http://127.0.0.1:8765/)
[ "$body" = hello ] || echo "second request: got '$body'"
c2=$(counter)
kill $server
wait $server 2>/dev/null
echo "counts ${c0:-0} ${c1:-0} ${c2:-0}"
EOT
TMP=$TMP RUN=$RUN PY=$py unshare -n sh "$TMP/inner.sh" >"$TMP/result" 2>&1
grep -v '^counts' "$TMP/result" | sed 's/^/  /'
set -- $(sed -n 's/^counts //p' "$TMP/result")
[ $# = 3 ] || { fail "no counters from the namespace"; finish; }
expect_eq "$(($2 - $1))" 1 "MPCapableSYNRX for curl under mptcpify-run (one MPTCP connection)"
expect_eq "$(($3 - $2))" 0 "MPCapableSYNRX for curl with loopback excluded (plain TCP)"
grep -q '^first request\|^second request\|did not start' "$TMP/result" && fail "HTTP exchange failed"

finish
