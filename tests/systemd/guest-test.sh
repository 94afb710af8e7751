#!/bin/sh
# tests/systemd/guest-test.sh - runs inside the Debian 12 guest of
# run-systemd.sh, started by systemd (mptcpify-guest.service, after
# multi-user.target) with its output on the second serial port. Installs the
# packages under test with dpkg -i, then drives nginx.service through
# `mptcpify-run --enable-unit` / `--disable-unit` and judges each step by the
# kernel: MPTcpExt counters (MPCapableSYNRX moves only when an MPTCP
# listener takes an MP_CAPABLE SYN), SO_PROTOCOL of nginx's listening and
# accepted sockets (sockpeek), the maps and environment of the processes. Prints for the host:
#   @@START <uname -r> <seconds since boot>
#   @@CHECK <name> PASS|FAIL <seconds>   (details on the lines before it)
#   @@DONE pass=<n> fail=<n>
# The client is curl under the packaged mptcpify-run (connect@127.0.0.1:80),
# so it always speaks MPTCP: only the server's unit decides the outcome.
# shellcheck shell=sh
set -u
exec 2>&1
export PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8
# The second serial port runs at 9600 bauds by default.
stty -F /dev/ttyS1 115200 -onlcr 2>/dev/null || true

libdir=/usr/lib/x86_64-linux-gnu
lib=$libdir/libmptcpify.so
jemalloc=$libdir/libjemalloc.so.2
vendor=/lib/systemd/system/nginx.service
dropins=/etc/systemd/system/nginx.service.d
pass=0 fail=0

# Seconds since boot, and since a time taken with now.
now() { cut -d' ' -f1 /proc/uptime; }
since() { awk -v a="$1" '{ printf "%.1f", $1 - a }' /proc/uptime; }

echo "@@START $(uname -r) $(now)"

# check NAME FUNCTION: runs FUNCTION, which prints what it saw and returns
# 0 when the step behaved.
check() {
  echo "---- $1"
  t0=$(now)
  if "$2"; then
    pass=$((pass + 1))
    result=PASS
  else
    fail=$((fail + 1))
    result=FAIL
    diagnose
  fi
  echo "@@CHECK $1 $result $(since "$t0")"
}

diagnose() {
  echo "-- diagnostics"
  timeout 20 systemctl status nginx.service --no-pager -n 15 || true
  for f in "$dropins"/*.conf; do [ -f "$f" ] && { echo "-- $f"; cat "$f"; }; done
  return 0
}

# One MPTcpExt counter from /proc/net/netstat (header line, then values).
mib() {
  awk -v k="$1" '$1 == "MPTcpExt:" {
      if (!seen) { for (i = 2; i <= NF; i++) name[i] = $i; seen = 1; next }
      for (i = 2; i <= NF; i++) if (name[i] == k) { print $i; exit }
    }' /proc/net/netstat
}

# Every process of nginx.service, from its cgroup.
service_pids() {
  cg=$(systemctl show -p ControlGroup --value nginx.service)
  [ -n "$cg" ] && cat "/sys/fs/cgroup$cg/cgroup.procs" 2>/dev/null
}

# Restarts nginx and waits until it is active (60 s at most).
restart_nginx() {
  t=$(now)
  timeout 90 systemctl restart nginx.service || { echo "systemctl restart nginx failed"; return 1; }
  i=0
  while [ "$(systemctl is-active nginx.service)" != active ]; do
    i=$((i + 1))
    [ $i -le 60 ] || { echo "nginx not active after 60 s"; return 1; }
    sleep 1
  done
  # nginx is "active" once its master has written the pid file: the workers
  # (which accept) follow within moments.
  i=0
  while [ "$(service_pids | wc -l)" -lt 2 ]; do
    i=$((i + 1))
    [ $i -le 30 ] || { echo "no nginx worker after 30 s"; return 1; }
    sleep 1
  done
  echo "nginx restarted ($(since "$t")s)"
}

# One HTTP request from an MPTCP client; sets CODE, SYNRX (the server side's
# MP_CAPABLE SYNs taken by an MPTCP listener) and SYNACKRX (the client's
# MP_CAPABLE SYN-ACKs received) to what the request moved.
request() {
  t=$(now)
  s0=$(mib MPCapableSYNRX) a0=$(mib MPCapableSYNACKRX)
  CODE=$(timeout 40 mptcpify-run -a 'connect@127.0.0.1:80' -- \
         curl -sS --max-time 30 -o /dev/null -w '%{http_code}' http://127.0.0.1/) || CODE="curl failed ($CODE)"
  s1=$(mib MPCapableSYNRX) a1=$(mib MPCapableSYNACKRX)
  SYNRX=$((s1 - s0)) SYNACKRX=$((a1 - a0))
  echo "request: HTTP $CODE, MPCapableSYNRX +$SYNRX, MPCapableSYNACKRX +$SYNACKRX ($(since "$t")s)"
}

# nginx's sockets on port 80 as the kernel sees them (sockpeek copies each
# socket with pidfd_getfd and asks for SO_PROTOCOL): "pid P fd N proto X
# listening L port 80" per socket. (ss -M would need the mptcp_diag module.)
nginx_port80() {
  for p in $(service_pids); do
    /payload/sockpeek "$p" | awk -v p="$p" '$8 == 80 { print "pid " p " " $0 }'
  done
}

# The protocols of nginx's listeners on :80 and, while an MPTCP client holds
# a connection open, of the socket a worker accepted; sets LISTENERS and
# ACCEPTED (each the distinct protocols, e.g. "262").
nginx_protocols() {
  t=$(now)
  LISTENERS=$(nginx_port80 | awk '$8 == 1 { print $6 }' | sort -u | tr '\n' ' ')
  # curl's telnet:// holds the connection while its input stays open: a
  # FIFO that this shell keeps open and never writes to.
  rm -f /tmp/hold.fifo
  mkfifo /tmp/hold.fifo
  exec 8<>/tmp/hold.fifo
  timeout 25 mptcpify-run -a 'connect@127.0.0.1:80' -- \
    curl -s --max-time 22 telnet://127.0.0.1:80 <&8 >/dev/null 2>&1 &
  holder=$!
  i=0
  until nginx_port80 | awk '$8 == 0 { f = 1 } END { exit !f }'; do
    i=$((i + 1))
    [ $i -le 40 ] || { echo "nginx accepted no connection in 20 s"; break; }
    sleep 0.5
  done
  ACCEPTED=$(nginx_port80 | awk '$8 == 0 { print $6 }' | sort -u | tr '\n' ' ')
  kill "$holder" 2>/dev/null
  wait "$holder" 2>/dev/null
  exec 8>&-
  echo "SO_PROTOCOL of nginx's sockets on :80: listeners ${LISTENERS:-none}, accepted ${ACCEPTED:-none} ($(since "$t")s)"
}

# The value of NAME in the environment systemd computes for nginx.service.
unit_env() {
  systemctl show -p Environment --value nginx.service | tr ' ' '\n' | sed -n "s/^$1=//p"
}

# How many of nginx's processes map FILE.
mapping() {
  n=0
  for p in $(service_pids); do grep -qF "$1" "/proc/$p/maps" 2>/dev/null && n=$((n + 1)); done
  echo "$n"
}

expect_mptcp() {
  ok=0
  nginx_protocols
  [ "$LISTENERS" = "262 " ] || { echo "nginx's listeners are not all MPTCP (262)"; ok=1; }
  [ "$ACCEPTED" = "262 " ] || { echo "nginx did not accept an MPTCP socket"; ok=1; }
  request
  [ "$CODE" = 200 ] || { echo "HTTP $CODE"; ok=1; }
  [ "$SYNRX" -ge 1 ] || { echo "MPCapableSYNRX did not move: nginx took a plain TCP connection"; ok=1; }
  [ "$SYNACKRX" -ge 1 ] || { echo "MPCapableSYNACKRX did not move"; ok=1; }
  n=$(mapping "$lib")
  echo "nginx processes mapping $lib: $n of $(service_pids | wc -l)"
  [ "$n" -ge 2 ] || { echo "the library is not in nginx's master and worker"; ok=1; }
  return $ok
}

expect_tcp() {
  ok=0
  nginx_protocols
  [ "$LISTENERS" = "6 " ] || { echo "nginx's listeners are not all TCP (6)"; ok=1; }
  [ "$ACCEPTED" = "6 " ] || { echo "nginx did not accept a TCP socket"; ok=1; }
  request
  [ "$CODE" = 200 ] || { echo "HTTP $CODE"; ok=1; }
  [ "$SYNRX" -eq 0 ] || { echo "MPCapableSYNRX moved: nginx is still MPTCP"; ok=1; }
  [ "$SYNACKRX" -eq 0 ] || { echo "MPCapableSYNACKRX moved"; ok=1; }
  n=$(mapping "$lib")
  [ "$n" -eq 0 ] || { echo "$n nginx processes still map $lib"; ok=1; }
  return $ok
}

# ---- the checks --------------------------------------------------------------

t_pid1() {
  exe=$(readlink /proc/1/exe)
  echo "PID 1: $exe; $(systemctl --version | head -n 1); state $(systemctl is-system-running)"
  case $exe in */systemd) ;; *) return 1 ;; esac
  [ -d /run/systemd/system ]
}

t_install() {
  # Through cat: no progress meter on the serial port.
  timeout 120 dpkg -i /payload/debs/libmptcpify0_*.deb /payload/debs/mptcpify_*.deb | cat
  [ "$(dpkg-query -W -f '${Status}' mptcpify)" = "install ok installed" ] || return 1
  for p in libmptcpify0 mptcpify; do
    s=$(dpkg-query -W -f '${Status} ${Version}' "$p")
    echo "$p: $s"
    case $s in "install ok installed "*) ;; *) return 1 ;; esac
  done
  echo "ld.so cache: $(ldconfig -p | grep -F libmptcpify.so)"
  # Merged /usr: ldconfig may name it through /lib.
  ldconfig -p | grep -qE "^[[:space:]]libmptcpify.so .*=> (/usr)?/lib/x86_64-linux-gnu/libmptcpify.so$"
}

t_barename() {
  out=$(LD_PRELOAD=libmptcpify.so /payload/probe listen 127.0.0.1:0)
  echo "LD_PRELOAD=libmptcpify.so probe listen: $out"
  case $out in "proto 262 "*) return 0 ;; *) return 1 ;; esac
}

# nginx as the vendor unit starts it at boot.
t_baseline() {
  i=0
  while [ "$(systemctl is-active nginx.service)" != active ]; do
    i=$((i + 1))
    [ $i -le 60 ] || { echo "nginx not active 60 s after boot"; return 1; }
    sleep 1
  done
  expect_tcp
}

t_enable() {
  timeout 30 mptcpify-run -a 'listen@:80' --enable-unit nginx.service || return 1
  [ -f "$dropins/mptcpify.conf" ] || { echo "no $dropins/mptcpify.conf"; return 1; }
  restart_nginx || return 1
  pre=$(unit_env LD_PRELOAD) addrs=$(unit_env MPTCPIFY_ADDRS)
  echo "systemd: LD_PRELOAD=$pre MPTCPIFY_ADDRS=$addrs"
  [ "$pre" = "$lib" ] && [ "$addrs" = 'listen@:80' ] || return 1
  expect_mptcp
}

t_disable() {
  timeout 30 mptcpify-run --disable-unit nginx.service || return 1
  [ ! -e "$dropins" ] || { echo "$dropins is still there"; return 1; }
  restart_nginx || return 1
  pre=$(unit_env LD_PRELOAD)
  [ -z "$pre" ] || { echo "systemd still sets LD_PRELOAD=$pre"; return 1; }
  expect_tcp
}

# The site's own drop-in, as an operator writes it: settings of its own and
# its own LD_PRELOAD (jemalloc). Sorted before mptcpify.conf, so without the
# merge --enable-unit would silently drop jemalloc. (nginx overwrites its
# environment block with its process titles, so what nginx got is read
# from systemd and from the libraries its processes map; t_parser reads a
# process's environment.)
t_own_env() {
  mkdir -p "$dropins"
  cat >"$dropins/local.conf" <<EOF
[Service]
Environment="SITE_GREETING=hello world" SITE_LEVEL=2
Environment=LD_PRELOAD=$jemalloc
EOF
  timeout 30 systemctl daemon-reload || return 1
  restart_nginx || return 1
  [ "$(mapping "$jemalloc")" -ge 2 ] || { echo "jemalloc is not loaded even before"; return 1; }
  timeout 30 mptcpify-run -a 'listen@:80' --enable-unit nginx.service || return 1
  restart_nginx || return 1
  pre=$(unit_env LD_PRELOAD)
  echo "systemd: LD_PRELOAD=$pre SITE_LEVEL=$(unit_env SITE_LEVEL)"
  [ "$pre" = "$lib:$jemalloc" ] || { echo "LD_PRELOAD should be $lib:$jemalloc"; return 1; }
  systemctl show -p Environment --value nginx.service | grep -qF 'SITE_GREETING=hello world' &&
    [ "$(unit_env SITE_LEVEL)" = 2 ] ||
    { echo "the unit's SITE_* settings are gone"; return 1; }
  n=$(mapping "$jemalloc")
  echo "nginx processes mapping $jemalloc: $n"
  [ "$n" -ge 2 ] || return 1
  expect_mptcp
}

t_own_env_disable() {
  timeout 30 mptcpify-run --disable-unit nginx.service || return 1
  [ -f "$dropins/local.conf" ] || { echo "local.conf was removed"; return 1; }
  restart_nginx || return 1
  pre=$(unit_env LD_PRELOAD)
  echo "systemd: LD_PRELOAD=$pre SITE_LEVEL=$(unit_env SITE_LEVEL)"
  [ "$pre" = "$jemalloc" ] && [ "$(unit_env SITE_LEVEL)" = 2 ] || return 1
  [ "$(mapping "$jemalloc")" -ge 2 ] || { echo "jemalloc no longer loaded"; return 1; }
  expect_tcp
}

# What mptcpify-run reads from unit files, against systemd's own reading
# (quotes, a continuation line, "%%", a comment, a drop-in sorted before
# ours), and its warning about a drop-in sorted after ours, which systemd
# indeed applies last.
t_parser() {
  cat >/etc/systemd/system/envtest.service <<'EOF'
[Unit]
Description=unit files as mptcpify-run reads them
[Service]
ExecStart=/bin/sleep infinity
Environment="A=x y" 'LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 /opt/p%%q/lib\x2dx.so' \
  B=3
; Environment=LD_PRELOAD=/commented/out.so
EOF
  mkdir -p /etc/systemd/system/envtest.service.d
  printf '[Service]\nEnvironment=C=4\n' >/etc/systemd/system/envtest.service.d/10-site.conf
  timeout 30 mptcpify-run --enable-unit envtest.service || return 1
  want="$lib:$jemalloc:/opt/p%q/lib-x.so"
  got=$(systemctl show -p Environment --value envtest.service | tr ' ' '\n' | sed -n 's/^LD_PRELOAD=//p')
  echo "systemd: LD_PRELOAD=$got"
  [ "$got" = "$want" ] || { echo "expected LD_PRELOAD=$want"; return 1; }
  timeout 60 systemctl start envtest.service || return 1
  main=$(systemctl show -p MainPID --value envtest.service)
  tr '\0' '\n' <"/proc/$main/environ" >/tmp/environ
  for v in "A=x y" B=3 C=4 "LD_PRELOAD=$want"; do
    grep -qxF "$v" /tmp/environ || { echo "the service's environment lacks $v"; return 1; }
  done
  grep -qF "$lib" "/proc/$main/maps" && grep -qF "$jemalloc" "/proc/$main/maps" ||
    { echo "the service does not map both libraries"; return 1; }
  echo "envtest (pid $main): A, B, C and LD_PRELOAD in its environment, both libraries mapped"
  timeout 60 systemctl stop envtest.service
  printf '[Service]\nEnvironment=LD_PRELOAD=/late.so\n' >/etc/systemd/system/envtest.service.d/override.conf
  out=$(timeout 30 mptcpify-run --enable-unit envtest.service 2>&1) || return 1
  echo "$out"
  echo "$out" | grep -q 'warning: .*override.conf sets LD_PRELOAD' || { echo "no warning"; return 1; }
  got=$(systemctl show -p Environment --value envtest.service | tr ' ' '\n' | sed -n 's/^LD_PRELOAD=//p')
  echo "systemd: LD_PRELOAD=$got (the warning is right: override.conf wins)"
  [ "$got" = /late.so ]
}

# Unchanged by the whole test, and as nginx-common shipped it.
t_vendor() {
  after=$(sha256sum <"$vendor")
  echo "sha256 $vendor: before ${VENDOR_SHA%% *}, after ${after%% *}"
  [ "$after" = "$VENDOR_SHA" ] || return 1
  shipped=$(awk '$2 == "lib/systemd/system/nginx.service" { print $1 }' /var/lib/dpkg/info/nginx-common.md5sums)
  now=$(md5sum <"$vendor")
  echo "md5 in nginx-common's md5sums: $shipped, now: ${now%% *}"
  [ -n "$shipped" ] && [ "$shipped" = "${now%% *}" ]
}

VENDOR_SHA=$(sha256sum <"$vendor")
check pid1-systemd t_pid1
check install-packages t_install
check bare-name t_barename
check vendor-nginx-tcp t_baseline
check enable-unit-mptcp t_enable
check disable-unit-tcp t_disable
check own-environment-kept t_own_env
check own-environment-after-disable t_own_env_disable
check unit-file-reading t_parser
check vendor-unit-unchanged t_vendor
echo "@@DONE pass=$pass fail=$fail"
