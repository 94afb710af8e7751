#!/bin/sh
# tests/bpf/guest-bpf-exit.sh - guest test: under --bpf the wrapper returns
# the command's status (128+N when killed by signal N, 127 not found, 126
# not executable), forwards SIGTERM to the command, and removes the cgroup
# even when the command leaves a process behind. Before 6.6: the "no hook"
# refusal.
# shellcheck shell=sh
# shellcheck source=guest-bpf-lib.sh
. "${MPTCPIFY_TESTDIR:?}/guest-bpf-lib.sh"
bpf_preamble

bpf_run sh -c 'exit 3'
[ "$rc" = 3 ] || fail "exit 3: got $rc"
bpf_run /nonexistent/command
[ "$rc" = 127 ] || fail "missing command: got $rc, want 127"
printf 'not a program\n' >notexec
chmod 644 notexec
bpf_run ./notexec
[ "$rc" = 126 ] || fail "non-executable file: got $rc, want 126"
# shellcheck disable=SC2016
bpf_run sh -c 'kill -KILL $$'
[ "$rc" = 137 ] || fail "command killed by SIGKILL: got $rc, want 137"
no_leftovers

# SIGTERM to the wrapper reaches the command, which exits 42 from its trap.
rm -f started
# shellcheck disable=SC2016
(bpf_exec sh -c 'trap "exit 42" TERM; touch started; n=0; while [ $n -lt 60 ]; do sleep 1; n=$((n + 1)); done; exit 1') &
bg=$!
n=0
while [ ! -e started ] && [ $n -lt 60 ]; do sleep 1; n=$((n + 1)); done
[ -e started ] || fail "the command did not start"
kill -TERM "$bg"
rc=0
wait "$bg" || rc=$?
[ "$rc" = 42 ] || fail "SIGTERM forwarding: got $rc, want 42"
no_leftovers

# A process left running by the command is moved out; the cgroup still goes.
# shellcheck disable=SC2016
bpf_run sh -c 'sleep 60 >/dev/null 2>&1 & echo $! >bg.pid'
[ "$rc" = 0 ] || fail "command leaving a process behind: got $rc"
left=$(leftovers)
[ -f bg.pid ] && kill "$(cat bg.pid)" 2>/dev/null
[ -z "$left" ] || fail "cgroup left behind with a leftover process: $left"
pass "statuses 3/127/126/137, SIGTERM forwarded, cgroup removed every time"
