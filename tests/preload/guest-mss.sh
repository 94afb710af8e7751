#!/bin/sh
# guest-mss.sh - stock HAProxy with `bind ... mss 1400` and `iperf3 -M 1200`
# under the shim start, serve and transfer without any MSS warning, over
# MPTCP (the kernel's MPCapableSYNRX counter rises). Runs on the host and
# inside every kernel of the matrix (busybox sh; docs/kernels.md). On kernels
# before 6.17, where MPTCP sockets refuse TCP_MAXSEG, the shim's fallback
# answers; from 6.17 the real call does.
set -eu
lib=${MPTCPIFY_LIB:?MPTCPIFY_LIB is not set}
dir=${MPTCPIFY_TESTDIR:-$(dirname "$0")}

find_prog() {
  for p in "$dir/$1" "/usr/sbin/$1" "/usr/bin/$1"; do
    if [ -x "$p" ]; then echo "$p"; return 0; fi
  done
  return 1
}
haproxy=$(find_prog haproxy) || { echo "SKIP: haproxy not installed"; exit 77; }
iperf3=$(find_prog iperf3) || { echo "SKIP: iperf3 not installed"; exit 77; }
probe=$(find_prog probe) || { echo "SKIP: probe not built"; exit 77; }

# A network namespace of our own: counters are ours, nothing leaves.
if [ -z "${GUEST_MSS_INSIDE:-}" ]; then
  [ "$(id -u)" = 0 ] || { echo "SKIP: needs root for a network namespace"; exit 77; }
  GUEST_MSS_INSIDE=1 exec unshare -n sh "$0" "$@"
fi
ip link set lo up

counter() {
  awk -v want="$1" '/^MPTcpExt:/ { if (!h) { for (i = 2; i <= NF; i++) n[i] = $i; h = 1 }
       else for (i = 2; i <= NF; i++) if (n[i] == want) print $i }' /proc/net/netstat
}
major=$(uname -r | cut -d. -f1) minor=$(uname -r | cut -d. -f2)
old_kernel=0
if [ "$major" -lt 6 ] || { [ "$major" -eq 6 ] && [ "$minor" -lt 17 ]; }; then old_kernel=1; fi

tmp=$(mktemp -d)
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM
fail() { echo "FAIL: $*"; for f in "$tmp"/*.err "$tmp"/*.out; do [ -f "$f" ] && sed "s|^|  ${f##*/}: |" "$f"; done; exit 1; }

wait_port() {
  i=0
  while ! cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
        grep -q ":$(printf '%04X' "$1") [0-9A-F]*:0000 0A"; do
    i=$((i + 1)); [ $i -lt 100 ] || return 1; sleep 0.1
  done
}

# ---- HAProxy: bind with mss 1400, answer HTTP itself ----
cat >"$tmp/haproxy.cfg" <<CFG
global
    maxconn 100
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:18080 mss 1400
    http-request return status 200 content-type text/plain string "hello from haproxy"
CFG
before=$(counter MPCapableSYNRX)
MPTCPIFY_LOG=info LD_PRELOAD=$lib timeout 30 "$haproxy" -db -f "$tmp/haproxy.cfg" \
  >"$tmp/haproxy.out" 2>"$tmp/haproxy.err" &
pids="$pids $!"
wait_port 18080 || fail "haproxy did not listen"
# an MPTCP client (the probe under the shim): the reply proves HAProxy's
# accepted socket is MPTCP too (no fallback)
LD_PRELOAD=$lib timeout 10 "$probe" client 18080 2 >"$tmp/probe.out" 2>"$tmp/probe.err" ||
  fail "probe client failed"
grep -q "proto 262 fallback 0" "$tmp/probe.out" || fail "connection to haproxy was not MPTCP"
# and a plain HTTP client for the content
if command -v wget >/dev/null; then
  timeout 10 wget -q -O "$tmp/page" http://127.0.0.1:18080/ || fail "wget failed"
  grep -q "hello from haproxy" "$tmp/page" || fail "unexpected page"
fi
after=$(counter MPCapableSYNRX)
[ $((after - before)) -ge 2 ] || fail "MPCapableSYNRX rose by $((after - before)), expected >= 2"
if grep -i "mss\|maxseg" "$tmp/haproxy.err" "$tmp/haproxy.out" | grep -qv "mptcpify\["; then
  fail "haproxy warned about the MSS"
fi
if grep -q "\[WARNING\]\|\[ALERT\]" "$tmp/haproxy.err" "$tmp/haproxy.out"; then
  fail "haproxy printed a warning or an alert under the shim"
fi
if [ $old_kernel = 1 ]; then
  grep -q "TCP_MAXSEG refused by the MPTCP socket: emulated" "$tmp/haproxy.err" ||
    fail "kernel $(uname -r) should refuse TCP_MAXSEG on MPTCP sockets and the shim answer"
fi
echo "haproxy: mss 1400 bound and served over MPTCP, no MSS warning ($(uname -r))"

# ---- iperf3 -M 1200 ----
before=$(counter MPCapableSYNRX)
MPTCPIFY_LOG=info LD_PRELOAD=$lib timeout 30 "$iperf3" -s -1 -p 15201 \
  >"$tmp/iperf3-s.out" 2>"$tmp/iperf3-s.err" &
pids="$pids $!"
wait_port 15201 || fail "iperf3 server did not listen"
MPTCPIFY_LOG=info LD_PRELOAD=$lib timeout 30 "$iperf3" -c 127.0.0.1 -p 15201 -M 1200 -t 1 \
  >"$tmp/iperf3-c.out" 2>"$tmp/iperf3-c.err" || fail "iperf3 -M 1200 failed"
after=$(counter MPCapableSYNRX)
[ $((after - before)) -ge 2 ] || fail "MPCapableSYNRX rose by $((after - before)), expected >= 2"
if grep -i "mss\|maxseg" "$tmp/iperf3-c.out" "$tmp/iperf3-c.err" | grep -qv "mptcpify\["; then
  fail "iperf3 complained about the MSS"
fi
echo "iperf3: -M 1200 over MPTCP, no MSS complaint ($(uname -r))"
