#!/bin/sh
# tests/kernels/guest-servers.sh - guest test (busybox sh): stock nginx and
# HAProxy, configured the way operators configure them (sendfile,
# tcp_nopush, keepalive, IPv4 and IPv6 listeners, so_keepalive, deferred,
# reuseport; HAProxy in front of nginx with clitcpka/srvtcpka, v6only,
# defer-accept), run once as they are and once under the shim
# (LD_PRELOAD): both start and serve the same bytes to curl (sha256
# checked), the shimmed run over MPTCP by the kernel's counters
# (MPCapableSYNRX in a network namespace of the test's own), and the
# shimmed run prints nothing on stderr that the plain run did not print.
# Runs on the host and in every kernel of the matrix; the programs and
# their libraries are copied into the guest as guest files.
# shellcheck shell=sh
set -eu
NAME=guest-servers
lib=${MPTCPIFY_LIB:?MPTCPIFY_LIB is not set}
dir=${MPTCPIFY_TESTDIR:-$(dirname "$0")}
fail() { echo "$NAME: FAIL: $*"; exit 1; }
# A failure inside a run shows what the programs said first.
run_fail() {
  for f in "$d"/*.err; do
    if [ -s "$f" ]; then sed "s|^|  $mode ${f##*/}: |" "$f"; fi
  done
  fail "$@"
}
skip() { echo "$NAME: SKIP: $*"; exit 77; }

find_prog() {
  for p in "$dir/$1" "/usr/sbin/$1" "/usr/bin/$1"; do
    if [ -x "$p" ]; then
      echo "$p"
      return 0
    fi
  done
  return 1
}
nginx=$(find_prog nginx) || skip "nginx not installed"
haproxy=$(find_prog haproxy) || skip "haproxy not installed"
curl=$(find_prog curl) || skip "curl not installed"

# A network namespace of our own: the counters are ours, nothing leaves.
if [ -z "${GUEST_SERVERS_INSIDE:-}" ]; then
  [ "$(id -u)" = 0 ] || skip "needs root for a network namespace"
  GUEST_SERVERS_INSIDE=1 exec unshare -n sh "$0" "$@"
fi
ip link set lo up
sysctl -q -w net.mptcp.enabled=1 >/dev/null 2>&1 || true

counter() {
  awk -v want="$1" '/^MPTcpExt:/ { if (!h) { for (i = 2; i <= NF; i++) n[i] = $i; h = 1 }
       else for (i = 2; i <= NF; i++) if (n[i] == want) print $i }' /proc/net/netstat
}

tmp=$(mktemp -d)
pids=""
cleanup() {
  for p in $pids; do kill "$p" 2>/dev/null || true; done
  for p in $pids; do wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# nginx's worker runs as nobody: the web root must be readable.
chmod 755 "$tmp"
mkdir -m 755 "$tmp/www"
echo "hello from nginx" >"$tmp/www/index.html"
dd if=/dev/urandom of="$tmp/www/data.bin" bs=1024 count=512 2>/dev/null
chmod 644 "$tmp/www/index.html" "$tmp/www/data.bin"
want=$(sha256sum "$tmp/www/data.bin" | cut -d' ' -f1)

wait_port() {
  i=0
  while ! cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
        grep -q ":$(printf '%04X' "$1") [0-9A-F]*:0000 0A"; do
    i=$((i + 1)); [ $i -lt 200 ] || return 1; sleep 0.1
  done
}

# Debian's defaults (sendfile, tcp_nopush, tcp_nodelay, keepalive) and the
# listen options operators add.
nginx_conf() {
  cat <<CONF
user nobody nogroup;
worker_processes 1;
pid $1/nginx.pid;
error_log stderr notice;
events { worker_connections 64; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_timeout 65;
  client_body_temp_path $1/body;
  proxy_temp_path $1/proxy;
  fastcgi_temp_path $1/fastcgi;
  uwsgi_temp_path $1/uwsgi;
  scgi_temp_path $1/scgi;
  server {
    listen 127.0.0.1:18081;
    listen [::1]:18081;
    root $tmp/www;
  }
  server {
    listen 127.0.0.1:18082 so_keepalive=on deferred reuseport backlog=64;
    root $tmp/www;
  }
}
CONF
}

haproxy_conf() {
  cat <<CFG
global
    maxconn 100
defaults
    mode http
    timeout connect 5s
    timeout client 10s
    timeout server 10s
frontend fe
    bind 127.0.0.1:18080
    bind [::1]:18080 v6only
    option clitcpka
    default_backend be
frontend fe_direct
    bind 127.0.0.1:18083 defer-accept
    http-request return status 200 content-type text/plain string "hello from haproxy"
backend be
    option srvtcpka
    server nginx 127.0.0.1:18081
CFG
}

# Timestamps and pids differ from run to run; the messages must not.
# (nginx logs at notice: its start-up and exit lines are the baseline.)
normalise() {
  sed -E -e 's#^[0-9]{4}/[0-9]{2}/[0-9]{2} [0-9:]{8} ##' -e 's/[0-9]+#[0-9]+: /PID: /' \
    -e 's/\(([0-9]+)\)/(PID)/g' -e 's/\*[0-9]+ /*N /' -e 's/(process|from) [0-9]+/\1 N/g' "$1" | sort
}

# run MODE PRELOAD: both servers, six requests, then the servers stopped.
run() {
  mode=$1 pre=$2 d=$tmp/$1
  mkdir -p "$d"
  nginx_conf "$d" >"$d/nginx.conf"
  haproxy_conf >"$d/haproxy.cfg"
  before=$(counter MPCapableSYNRX)
  env ${pre:+LD_PRELOAD=$pre} "$nginx" -p "$d" -c "$d/nginx.conf" -e stderr -g 'daemon off;' \
    >"$d/nginx.out" 2>"$d/nginx.err" &
  npid=$!
  env ${pre:+LD_PRELOAD=$pre} "$haproxy" -db -f "$d/haproxy.cfg" >"$d/haproxy.out" 2>"$d/haproxy.err" &
  hpid=$!
  pids="$npid $hpid"
  for port in 18080 18081 18082 18083; do
    wait_port "$port" || run_fail "$mode: nothing listens on $port"
  done
  # The client too: under the shim it asks for MPTCP (without TCP keepalive
  # probes, whose TCP_KEEPIDLE would keep it TCP on kernels before 6.10).
  c() { env ${pre:+LD_PRELOAD=$pre} "$curl" -sS -g --max-time 20 --no-keepalive "$@"; }
  c -o "$d/1" http://127.0.0.1:18081/data.bin 2>>"$d/curl.err" || run_fail "$mode: nginx data.bin"
  c -o "$d/2a" "http://[::1]:18081/index.html" -o "$d/2b" "http://[::1]:18081/index.html" \
    2>>"$d/curl.err" || run_fail "$mode: nginx over IPv6, two requests on one connection"
  c -o "$d/3" http://127.0.0.1:18082/index.html 2>>"$d/curl.err" || run_fail "$mode: nginx so_keepalive/deferred"
  c -o "$d/4" http://127.0.0.1:18080/data.bin 2>>"$d/curl.err" || run_fail "$mode: haproxy to nginx"
  c -o "$d/5" "http://[::1]:18080/index.html" 2>>"$d/curl.err" || run_fail "$mode: haproxy over IPv6"
  c -o "$d/6" http://127.0.0.1:18083/ 2>>"$d/curl.err" || run_fail "$mode: haproxy defer-accept"
  after=$(counter MPCapableSYNRX)
  kill "$hpid" "$npid" 2>/dev/null || true
  wait "$hpid" 2>/dev/null || true
  wait "$npid" 2>/dev/null || true
  pids=""
  for f in 1 4; do
    [ "$(sha256sum "$d/$f" | cut -d' ' -f1)" = "$want" ] || run_fail "$mode: response $f is not data.bin"
  done
  for f in 2a 2b 3 5; do
    grep -qx "hello from nginx" "$d/$f" || run_fail "$mode: response $f is not index.html"
  done
  grep -qx "hello from haproxy" "$d/6" || run_fail "$mode: response 6 is not haproxy's"
  mptcp=$((after - before))
  echo "$NAME: $mode: 7 responses checked, MPCapableSYNRX +$mptcp"
  for f in nginx haproxy curl; do
    if [ -s "$d/$f.err" ]; then sed "s|^|  $mode $f stderr: |" "$d/$f.err"; fi
  done
  return 0
}

run tcp ""
[ "$mptcp" = 0 ] || fail "without the shim, $mptcp MPTCP connections?"
run shim "$lib"
# Six client connections (one per curl; the second carries two requests),
# and HAProxy's connections to nginx: all MPTCP under the shim.
[ "$mptcp" -ge 6 ] || fail "under the shim only $mptcp MPTCP connections, expected 6 or more"

bad=0
for f in nginx haproxy curl; do
  normalise "$tmp/tcp/$f.err" >"$tmp/$f.tcp"
  normalise "$tmp/shim/$f.err" >"$tmp/$f.shim"
  extra=$(grep -vxF -f "$tmp/$f.tcp" "$tmp/$f.shim" || true)
  if [ -n "$extra" ]; then
    echo "$NAME: $f printed under the shim only:"
    echo "$extra" | sed 's/^/  /'
    bad=1
  fi
done
[ "$bad" = 0 ] || fail "stderr differs from the plain run on $(uname -r)"
echo "$NAME: nginx and haproxy serve under the shim on $(uname -r), stderr as without it"
