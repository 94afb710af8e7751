# tests/wrapper/common.sh - sourced by the wrapper tests (POSIX sh).
# Needs RUN (the built mptcpify-run) and LIB (the built libmptcpify.so) in
# the environment; meson sets them. Each test exits 0 pass, 77 skip, 1 fail.
# shellcheck shell=sh

: "${RUN:?RUN must name the built mptcpify-run}"
: "${LIB:?LIB must name the built libmptcpify.so}"
NAME=$(basename "$0" .sh)

# A clean environment: nothing of the caller's leaks into the results.
unset MPTCPIFY_ADDRS MPTCPIFY_OPTIONS MPTCPIFY_LOG MPTCPIFY_STATS \
	MPTCPIFY_LIB MPTCPIFY_STRATEGY LD_PRELOAD GODEBUG

TMP=$(mktemp -d "${TMPDIR:-/tmp}/$NAME.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
FAILS=0

fail() {
	echo "$NAME: FAIL: $*"
	FAILS=$((FAILS + 1))
}

skip() {
	echo "$NAME: SKIP: $*"
	exit 77
}

# expect_status WANT DESCRIPTION COMMAND...: runs COMMAND, stdout and
# stderr to $TMP/out and $TMP/err, and checks its exit status.
expect_status() {
	want=$1
	what=$2
	shift 2
	"$@" >"$TMP/out" 2>"$TMP/err"
	got=$?
	if [ "$got" != "$want" ]; then
		fail "$what: exit status $got, expected $want"
		sed 's/^/  stdout: /' "$TMP/out"
		sed 's/^/  stderr: /' "$TMP/err"
		return 1
	fi
	return 0
}

# expect_eq GOT WANT DESCRIPTION
expect_eq() {
	if [ "$1" != "$2" ]; then
		fail "$3: got '$1', expected '$2'"
		return 1
	fi
	return 0
}

# expect_grep PATTERN FILE DESCRIPTION (extended regex)
expect_grep() {
	if ! grep -Eq -- "$1" "$2"; then
		fail "$3: no line matching '$1' in:"
		sed 's/^/  | /' "$2"
		return 1
	fi
	return 0
}

finish() {
	if [ "$FAILS" -ne 0 ]; then
		echo "$NAME: $FAILS failure(s)"
		exit 1
	fi
	echo "$NAME: pass"
	exit 0
}
