# shellcheck shell=sh
# tests/seccomp/guest-seccomp-lib.sh - sourced by the seccomp tests (busybox
# sh in the kernel matrix, any POSIX sh on the host). They run the probes of
# MPTCPIFY_TESTDIR (sc-probe-static, sc-probe-musl, sc-probe: raw syscalls,
# see sc-probe.c) under $MPTCPIFY_RUN --seccomp; every verdict is the
# kernel's (the probes read SO_PROTOCOL and MPTCP_INFO).

T=${MPTCPIFY_TESTDIR:?MPTCPIFY_TESTDIR is not set}
RUN=${MPTCPIFY_RUN:-}
NAME=${0##*/}
NAME=${NAME%.sh}
FAILS=0
fail() { echo "$NAME: FAIL: $*"; FAILS=$((FAILS + 1)); }
skip() { echo "$NAME: SKIP: $*"; exit 77; }
finish() {
	if [ "$FAILS" -ne 0 ]; then
		echo "$NAME: FAIL: $FAILS check(s) failed (see above)"
		exit 1
	fi
	echo "$NAME: PASS: $*"
	exit 0
}

if [ -z "$RUN" ] || [ ! -x "$RUN" ]; then skip "no mptcpify-run (MPTCPIFY_RUN)"; fi
[ -x "$T/sc-probe-static" ] || skip "no $T/sc-probe-static"
# Nothing of the caller's settings leaks into the results.
unset MPTCPIFY_ADDRS MPTCPIFY_OPTIONS MPTCPIFY_LOG MPTCPIFY_STATS MPTCPIFY_STRATEGY \
	LD_PRELOAD GODEBUG

REL=${MPTCPIFY_KERNEL:-$(uname -r)}
kmaj=${REL%%.*}
krest=${REL#*.}
kmin=${krest%%[!0-9]*}
# kernel_at_least MAJOR MINOR
kernel_at_least() { [ "$kmaj" -gt "$1" ] || { [ "$kmaj" -eq "$1" ] && [ "$kmin" -ge "$2" ]; }; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/$NAME.XXXXXX")
chmod 755 "$WORK"
trap 'rm -rf "$WORK"' EXIT
OUT=$WORK/out
ERR=$WORK/err

# The probes built here: static glibc always, musl and dynamic when present.
PROBES=sc-probe-static
[ -x "$T/sc-probe-musl" ] && PROBES="$PROBES sc-probe-musl"
[ -x "$T/sc-probe" ] && PROBES="$PROBES sc-probe"

# Free-looking ports for this run (several tests run at once on the host),
# 50 per run, all below Linux's ephemeral range (32768-60999 by default):
# a listener there can meet an earlier connection's TIME_WAIT on the same
# port and fail with EADDRINUSE.
PORT=$((20000 + ($$ % 250) * 50))
next_port() { PORT=$((PORT + 1)); }

# run WANT DESCRIPTION COMMAND...: runs COMMAND (60 s at most), stdout and
# stderr to $OUT and $ERR, both shown; a failure unless it exits WANT.
run() {
	want=$1
	what=$2
	shift 2
	rc=0
	timeout 60 "$@" >"$OUT" 2>"$ERR" </dev/null || rc=$?
	sed "s/^/  /" "$OUT"
	sed "s/^/  stderr: /" "$ERR"
	if [ "$rc" != "$want" ]; then
		fail "$what: exit status $rc, expected $want"
		return 1
	fi
	return 0
}

# expect_err PATTERN DESCRIPTION: $ERR has a line matching PATTERN (ERE).
expect_err() {
	grep -Eq -- "$1" "$ERR" || fail "$2: no stderr line matching '$1'"
}

# Every seccomp test starts here: before 5.9 the right outcome is the
# refusal (exit 125, one line); from 5.9 the mode must run.
seccomp_preamble() {
	echo "$NAME: kernel $REL, probes: $PROBES"
	rc=0
	"$RUN" --seccomp -- true >"$OUT" 2>"$ERR" || rc=$?
	if ! kernel_at_least 5 9; then
		[ "$rc" = 125 ] || fail "kernel $REL (< 5.9): expected exit 125, got $rc"
		expect_err '^mptcpify-run: --seccomp: kernel .* is older than 5.9' "refusal"
		finish "kernel $REL (< 5.9): refused with exit 125"
	fi
	if [ "$rc" != 0 ]; then
		cat "$ERR"
		fail "--seccomp true exited $rc on kernel $REL"
		finish ""
	fi
}
