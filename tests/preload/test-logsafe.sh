#!/bin/bash
# test-logsafe.sh LIB RUN PROBE - a log line never changes a program's fate:
# no SIGXFSZ when stderr is a file at RLIMIT_FSIZE (sshd's pre-auth child),
# no SIGPIPE and nothing written when fd 2 was closed and reused by the
# program's own socket or a connected peer, nothing but the stderr the
# process started with, MPTCPIFY_LOG_FILE and syslog as targets, and no
# statistics line from a process that did nothing with TCP sockets.
set -uo pipefail
lib=$1 run=$2 probe=$3
((EUID == 0)) || { echo "SKIP: needs root for network namespaces"; exit 77; }
for p in unshare python3 ip; do
  command -v "$p" >/dev/null || { echo "SKIP: $p not installed"; exit 77; }
done
if [[ -z ${MPTCPIFY_TEST_INSIDE:-} ]]; then
  export MPTCPIFY_TEST_INSIDE=1
  exec unshare -n "$0" "$@"
fi
ip link set lo up
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail=0
check() { # NAME CONDITION-STATUS DETAIL
  if [[ $2 == 0 ]]; then echo "ok: $1"; else echo "FAIL: $1: $3"; fail=1; fi
}

# 1. stats line, stderr a regular file, RLIMIT_FSIZE 0: the issue's own
#    command (a process with no socket: no line at all), then one that
#    makes sockets (its line must be dropped, not raise SIGXFSZ)
: > "$dir/err1"
"$run" -s -- sh -c 'ulimit -f 0; exec true' 2>>"$dir/err1"
rc=$?
check "stats, ulimit -f 0, no socket: exit status" $((rc != 0)) "exit $rc (153 = SIGXFSZ)"
"$run" -s -- sh -c "ulimit -f 0; exec $probe pair 2 >/dev/null" 2>>"$dir/err1"
rc=$?
check "stats, ulimit -f 0, sockets: exit status" $((rc != 0)) "exit $rc (153 = SIGXFSZ)"
check "stats, ulimit -f 0: nothing written" $(( $(stat -c %s "$dir/err1") != 0 )) \
  "$(cat "$dir/err1")"
# the same without the limit: exactly one line, from the process with sockets
"$run" -s -- sh -c "true; $probe pair 2 >/dev/null" 2>"$dir/err2"
n=$(grep -c "stats:" "$dir/err2")
check "stats: one line, from the process that made sockets" $((n != 1)) "$(cat "$dir/err2")"

# 2. a daemon closes fd 2 and its socket gets number 2, MPTCP disabled:
#    the refusal warning must not go into that socket (SIGPIPE, exit 141)
sysctl -qw net.mptcp.enabled=0
LD_PRELOAD=$lib timeout 20 "$probe" fd2 socket >"$dir/out3" 2>&1
rc=$?
check "fd 2 reused by the program's socket, MPTCP refused: exit status" $((rc != 0)) "exit $rc"
sysctl -qw net.mptcp.enabled=1
# 3. fd 2 a connected socket: info lines and stats must not reach the peer
MPTCPIFY_ADDRS='*' MPTCPIFY_LOG=info MPTCPIFY_STATS=1 LD_PRELOAD=$lib timeout 20 \
  "$probe" fd2 peer >"$dir/out4" 2>&1
rc=$?
grep -q "fd2 ok" "$dir/out4"
check "fd 2 a connected socket: nothing reaches the peer" $(($? != 0 || rc != 0)) \
  "exit $rc: $(cat "$dir/out4")"

# 4. a stderr pipe nobody reads, full: the program is not blocked
python3 - "$lib" "$probe" <<'PY'
import fcntl, os, subprocess, sys
lib, probe = sys.argv[1], sys.argv[2]
r, w = os.pipe()
fl = fcntl.fcntl(w, fcntl.F_GETFL)
fcntl.fcntl(w, fcntl.F_SETFL, fl | os.O_NONBLOCK)
try:
    while True:
        os.write(w, b"x" * 65536)
except BlockingIOError:
    pass
fcntl.fcntl(w, fcntl.F_SETFL, fl)  # the program's stderr blocks again
env = dict(os.environ, LD_PRELOAD=lib, MPTCPIFY_LOG="info", MPTCPIFY_ADDRS="*")
try:
    p = subprocess.run([probe, "pair", "3"], stdout=subprocess.DEVNULL, stderr=w,
                       env=env, timeout=20)
    ok = p.returncode == 0
except subprocess.TimeoutExpired:
    ok = False
print(("ok" if ok else "FAIL") + ": full stderr pipe nobody reads: the program runs to its end")
sys.exit(0 if ok else 1)
PY
(( $? == 0 )) || fail=1

# 5. MPTCPIFY_LOG_FILE: the lines go to the file, not to stderr
MPTCPIFY_LOG_FILE=$dir/log MPTCPIFY_ADDRS='*' MPTCPIFY_LOG=info MPTCPIFY_STATS=1 \
  LD_PRELOAD=$lib "$probe" pair 2 >/dev/null 2>"$dir/err5"
check "MPTCPIFY_LOG_FILE: lines in the file" $(( $(grep -c "mptcpify\[" "$dir/log" 2>/dev/null || echo 0) < 3 )) \
  "$(cat "$dir/log" 2>/dev/null)"
check "MPTCPIFY_LOG_FILE: stderr stays empty" $(( $(stat -c %s "$dir/err5") != 0 )) "$(cat "$dir/err5")"
check "MPTCPIFY_LOG_FILE: created 0600" $([[ $(stat -c %a "$dir/log") == 600 ]]; echo $?) \
  "$(stat -c %a "$dir/log")"
MPTCPIFY_LOG_FILE=relative LD_PRELOAD=$lib "$probe" pair 1 >/dev/null 2>"$dir/err6"
check "MPTCPIFY_LOG_FILE=relative: one warning on stderr" \
  $(( $(grep -c "MPTCPIFY_LOG_FILE" "$dir/err6") != 1 )) "$(cat "$dir/err6")"

# mptcpify-run --log-file: the same, from the command line; a relative
# path is refused before anything runs
"$run" --log-file "$dir/log7" -s -- "$probe" pair 1 >/dev/null 2>"$dir/err7"
check "--log-file: the stats line in the file" $(( $(grep -c "stats:" "$dir/log7" 2>/dev/null || echo 0) != 1 )) \
  "$(cat "$dir/log7" "$dir/err7" 2>/dev/null)"
"$run" --log-file rel -- true 2>"$dir/err8"
rc=$?
check "--log-file rel: exit 125, the error names it" $((rc != 125 || $(grep -c -- "--log-file: expected" "$dir/err8") != 1)) \
  "exit $rc: $(cat "$dir/err8")"

# 6. MPTCPIFY_LOG_FILE=syslog: datagrams to /dev/log (a private /dev here)
unshare -m sh -c '
  mount --make-rprivate / && mount -t tmpfs none /dev && exec python3 - "$@"' sh \
  "$lib" "$probe" <<'PY'
import os, socket, subprocess, sys
lib, probe = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
s.settimeout(5)
env = dict(os.environ, LD_PRELOAD=lib, MPTCPIFY_LOG="info", MPTCPIFY_ADDRS="*",
           MPTCPIFY_LOG_FILE="syslog")
p = subprocess.run([probe, "pair", "1"], stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE, env=env, timeout=20)
try:
    msg = s.recv(4096).decode()
except socket.timeout:
    msg = ""
ok = msg.startswith("<14>mptcpify[") and not p.stderr
print(("ok" if ok else "FAIL") + ": syslog: %r, stderr %r" % (msg, p.stderr[:200]))
sys.exit(0 if ok else 1)
PY
(( $? == 0 )) || fail=1
exit $fail
