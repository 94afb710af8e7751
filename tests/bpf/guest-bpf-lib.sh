# shellcheck shell=sh
# tests/bpf/guest-bpf-lib.sh - sourced by the BPF-mode guest tests (busybox
# sh): picks the runner, knows the kernel's expected outcome, and checks
# that no mptcpify-* cgroup is left behind.
#
# The runner is `$MPTCPIFY_RUN --bpf --` once mptcpify-run lists --bpf in
# its --help, else the standalone driver bpf-run-test from MPTCPIFY_TESTDIR.

T=${MPTCPIFY_TESTDIR:?MPTCPIFY_TESTDIR is not set}
NAME=${0##*/}
NAME=${NAME%.sh}
fail() { echo "$NAME: FAIL: $*"; exit 1; }
skip() { echo "$NAME: SKIP: $*"; exit 77; }
pass() { echo "$NAME: PASS: $*"; exit 0; }

REL=${MPTCPIFY_KERNEL:-$(uname -r)}
kmaj=${REL%%.*}
krest=${REL#*.}
kmin=${krest%%[!0-9]*}
# update_socket_protocol() and its fmod_ret hook came in Linux 6.6.
has_hook() { [ "$kmaj" -gt 6 ] || { [ "$kmaj" -eq 6 ] && [ "$kmin" -ge 6 ]; }; }

if [ -n "${MPTCPIFY_RUN:-}" ] && [ -x "$MPTCPIFY_RUN" ] &&
   "$MPTCPIFY_RUN" --help 2>&1 | grep -q -- '--bpf'; then
  RUNNER_NAME="mptcpify-run --bpf"
else
  RUNNER_NAME="bpf-run-test"
  [ -x "$T/bpf-run-test" ] || fail "neither mptcpify-run --bpf nor $T/bpf-run-test"
fi
# Replaces the (sub)shell by the runner, so `(bpf_exec ...) &` gives the
# runner's own pid in $!.
bpf_exec() {
  if [ "$RUNNER_NAME" = bpf-run-test ]; then
    exec "$T/bpf-run-test" -- "$@"
  fi
  exec "$MPTCPIFY_RUN" --bpf -- "$@"
}

CGMNT=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
leftovers() {
  [ -n "$CGMNT" ] && find "$CGMNT" -type d -name 'mptcpify-*' 2>/dev/null
}
no_leftovers() {
  left=$(leftovers)
  [ -z "$left" ] || fail "cgroup(s) left behind: $left"
}

# Runs the runner in the foreground, stdout to out, stderr to err (both
# shown), exit status in $rc.
bpf_run() {
  rc=0
  (bpf_exec "$@") >out 2>err || rc=$?
  cat out
  cat err
}

# After a refusal (rc 125): the one "mptcpify-run: --bpf:" line.
refusal() { grep '^mptcpify-run: --bpf: ' err | head -n 1; }

# Every BPF guest test starts here. Before 6.6 the right outcome is the
# "no hook" refusal; on a kernel that has the hook but refuses the program
# for a reason outside our control (lockdown, no root), the test skips.
bpf_preamble() {
  echo "$NAME: kernel $REL, runner $RUNNER_NAME, cgroup2 at ${CGMNT:-(none)}"
  [ -n "$CGMNT" ] || fail "no cgroup2 mount in the guest"
  no_leftovers
  if ! has_hook; then
    bpf_run "$T/bpf-sockproto-static" 262
    [ "$rc" = 125 ] || fail "kernel $REL has no hook: expected exit 125, got $rc"
    refusal | grep -q 'has no update_socket_protocol() hook' ||
      fail "exit 125 without the 'no hook' message"
    ! grep -q 'bpf-sockproto via' out || fail "the command ran although --bpf refused"
    no_leftovers
    pass "kernel $REL (< 6.6): refused with the 'no hook' message, exit 125"
  fi
  bpf_run true
  if [ "$rc" = 125 ]; then
    msg=$(refusal)
    [ -n "$msg" ] || fail "exit 125 without a 'mptcpify-run: --bpf:' line"
    case $msg in
      *lockdown*|*"missing capabilities"*) skip "${msg#mptcpify-run: --bpf: }" ;;
    esac
    fail "kernel $REL has the hook but --bpf refused: $msg"
  fi
  [ "$rc" = 0 ] || fail "'true' under --bpf exited $rc"
  no_leftovers
}

# Inner command of check_sockproto: proves it runs in an mptcpify cgroup,
# announces itself ($2), waits for $3, runs the test program ($1), announces
# that ($4) and holds its --bpf instance until outside.done appears.
# shellcheck disable=SC2016  # expanded by the inner shell
INNER='grep -q "mptcpify-" /proc/self/cgroup || { echo "not in an mptcpify cgroup:"; cat /proc/self/cgroup; exit 3; }
touch "$2"
n=0; while [ ! -e "$3" ] && [ $n -lt 120 ]; do sleep 1; n=$((n + 1)); done
r=0; "$1" 262 || r=$?
touch "$4"
n=0; while [ ! -e outside.done ] && [ $n -lt 120 ]; do sleep 1; n=$((n + 1)); done
exit $r'

# Waits (up to 120 s) for file $1 while process $2 lives.
await() {
  n=0
  while [ ! -e "$1" ] && kill -0 "$2" 2>/dev/null && [ $n -lt 120 ]; do
    sleep 1
    n=$((n + 1))
  done
}

# The core check for one test program ($1). Two concurrent --bpf instances,
# A then B, each run it in their own cgroup and must get MPTCP: A's run
# happens while B's program is attached too, B's while A's is. The kernel
# runs the newest fmod_ret program first and stops at the first non-zero
# return, so this fails unless each program passes over (returns 0 for)
# tasks outside its own cgroup. Then the program started outside both
# cgroups, with both attached, must get TCP. No cgroup may be left.
check_sockproto() {
  prog=$1
  [ -x "$prog" ] || fail "$prog is missing"
  rm -f a.ready b.ready a.done b.done outside.done
  (bpf_exec sh -c "$INNER" sh "$prog" a.ready b.ready a.done) >a.out 2>a.err &
  a=$!
  await a.ready "$a"
  (bpf_exec sh -c "$INNER" sh "$prog" b.ready a.done b.done) >b.out 2>b.err &
  b=$!
  await b.done "$b"
  orc=0
  if [ -e a.done ] && [ -e b.done ]; then
    echo "--- outside the cgroups, two programs attached:"
    "$prog" 6 || orc=$?
  fi
  touch outside.done
  arc=0 brc=0
  wait "$a" || arc=$?
  wait "$b" || brc=$?
  echo "--- instance A ($RUNNER_NAME):"
  cat a.out a.err
  echo "--- instance B ($RUNNER_NAME), attached after A:"
  cat b.out b.err
  [ "$arc" = 0 ] || fail "${prog##*/} under --bpf (instance A): exit $arc (see above)"
  [ "$brc" = 0 ] || fail "${prog##*/} under --bpf (instance B): exit $brc (see above)"
  [ "$orc" = 0 ] || fail "${prog##*/} outside the cgroups: exit $orc (see above)"
  no_leftovers
}
