#!/bin/bash
# test-disabled.sh LIB - in a network namespace with net.mptcp.enabled=0,
# stock python3 -m http.server (dual-stack) and curl (IPv4 and IPv6 in one
# process) under the shim talk (as TCP), exit 0, and each prints exactly one
# warning saying why.
set -euo pipefail
lib=$1
((EUID == 0)) || { echo "SKIP: needs root for a network namespace"; exit 77; }
for p in python3 curl unshare; do
  command -v "$p" >/dev/null || { echo "SKIP: $p not installed"; exit 77; }
done
if [[ ${1:-} != --inside ]] && [[ -z ${MPTCPIFY_TEST_INSIDE:-} ]]; then
  export MPTCPIFY_TEST_INSIDE=1
  exec unshare -n "$0" "$@"
fi
ip link set lo up
sysctl -qw net.mptcp.enabled=0
dir=$(mktemp -d)
server_pid=
cleanup() { [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
head -c 3000000 /dev/urandom > "$dir/blob"
(cd "$dir" && LD_PRELOAD=$lib exec timeout 60 python3 -m http.server --bind :: 8731 \
   >"$dir/server.out" 2>"$dir/server.err") &
server_pid=$!
for _ in $(seq 100); do
  (exec 3<>/dev/tcp/127.0.0.1/8731) 2>/dev/null && break
  sleep 0.1
done
# one curl process, IPv4 and IPv6 sockets: still one warning
LD_PRELOAD=$lib timeout 30 curl -sS -o "$dir/got" http://127.0.0.1:8731/blob \
  -o "$dir/got6" 'http://[::1]:8731/blob' 2>"$dir/curl.err"
kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=
cmp -s "$dir/blob" "$dir/got" || { echo "FAIL: data differs (IPv4)"; exit 1; }
cmp -s "$dir/blob" "$dir/got6" || { echo "FAIL: data differs (IPv6)"; exit 1; }
cw=$(grep -c "warning: the kernel refuses MPTCP" "$dir/curl.err" || true)
sw=$(grep -c "warning: the kernel refuses MPTCP" "$dir/server.err" || true)
echo "curl warnings: $cw; http.server warnings: $sw"
grep -h "warning" "$dir/curl.err" "$dir/server.err" | sed 's/^/  /'
[[ $cw == 1 && $sw == 1 ]] || { echo "FAIL: expected exactly one warning each"; exit 1; }
echo "ok: 3 MB over TCP (IPv4 and IPv6) with net.mptcp.enabled=0, one warning per process"
