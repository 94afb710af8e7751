#!/bin/sh
# tests/wrapper/test-check.sh - `--check` here (exit 0), in a fresh network
# namespace with net.mptcp.enabled=0 (a fail line, exit 1), with and without
# a subflow endpoint, and with a bad policy or a missing library.
# shellcheck shell=sh
. "$(dirname "$0")/common.sh"

# Every line is an item that starts with ok, warn or fail.
well_formed() {
	if grep -Evq '^(ok|warn|fail) ' "$1"; then
		fail "$2: lines that are not items:"
		grep -Ev '^(ok|warn|fail) ' "$1" | sed 's/^/  | /'
	fi
}

[ -e /proc/sys/net/mptcp/enabled ] || skip "this kernel has no MPTCP"
[ "$(cat /proc/sys/net/mptcp/enabled)" = 1 ] || skip "net.mptcp.enabled is 0 here"

# ---- here ---------------------------------------------------------------
expect_status 0 "--check here" "$RUN" --check
cp "$TMP/out" "$TMP/here"
well_formed "$TMP/here" "--check here"
expect_grep '^ok +kernel: ' "$TMP/here" "kernel item"
expect_grep '^ok +net.mptcp.enabled' "$TMP/here" "sysctl item"
expect_grep '^(ok|warn) +path manager' "$TMP/here" "path manager item"
expect_grep '^(ok|warn) +limits: subflows [0-9]+' "$TMP/here" "limits item (netlink)"
expect_grep '^(ok|warn) +endpoints' "$TMP/here" "endpoints item (netlink)"
expect_grep '^ok +library: .* loads' "$TMP/here" "library item"
expect_grep '^(ok|warn) +socket options: [0-9]+ of [0-9]+ probed' "$TMP/here" "options summary"
expect_grep '^(ok|warn) +BPF mode' "$TMP/here" "BPF mode item"
grep -q '^fail' "$TMP/here" && fail "a fail line although the exit status is 0"

# This kernel (6.18) refuses TCP_USER_TIMEOUT on MPTCP sockets; the table
# makes it 'tcp' by default, and MPTCPIFY_OPTIONS can move it.
if grep -q 'option TCP_USER_TIMEOUT' "$TMP/here"; then
	expect_grep '^warn +option TCP_USER_TIMEOUT: refused .*class tcp' "$TMP/here" "TCP_USER_TIMEOUT refused"
	expect_status 0 "--check with options" "$RUN" -o 'TCP_USER_TIMEOUT=emulate' --check &&
		expect_grep '^ok +option TCP_USER_TIMEOUT: .*class emulate' "$TMP/out" "override shown"
fi

# The library in our own LD_PRELOAD would answer the probes in the kernel's
# place: --check runs without it and must see the same.
want=$(grep 'socket options:' "$TMP/here")
got=$(LD_PRELOAD=$LIB "$RUN" --check 2>/dev/null | grep 'socket options:')
expect_eq "$got" "$want" "--check under LD_PRELOAD of the library"

# A bad policy or options is a failed item, not a usage error.
expect_status 1 "--check with a bad policy" "$RUN" -a 'connect@10.0.0.0/33' --check &&
	expect_grep '^fail .*MPTCPIFY_ADDRS rule 1' "$TMP/out" "bad policy as a fail item"
well_formed "$TMP/out" "--check with a bad policy"
expect_status 1 "--check with bad options" env MPTCPIFY_OPTIONS='IP_TTL' "$RUN" --check
expect_status 1 "--check without the library" "$RUN" --lib "$TMP/nope.so" --check &&
	expect_grep '^fail +library: ' "$TMP/out" "missing library as a fail item"
expect_status 125 "--check with an argument" "$RUN" --check extra

# ---- in other network namespaces ----------------------------------------
[ "$(id -u)" = 0 ] || { echo "$NAME: the netns part needs root; skipping it"; finish; }
unshare -n true 2>/dev/null || { echo "$NAME: unshare -n does not work here; skipping the netns part"; finish; }

# MPTCP disabled in a fresh netns: a fail line, exit 1.
unshare -n sh -c 'sysctl -qw net.mptcp.enabled=0 && exec "$0" --check' "$RUN" >"$TMP/off" 2>"$TMP/err"
expect_eq "$?" 1 "--check with net.mptcp.enabled=0"
well_formed "$TMP/off" "--check with net.mptcp.enabled=0"
expect_grep '^fail +kernel: .*ENOPROTOOPT' "$TMP/off" "socket() refused with ENOPROTOOPT"
expect_grep '^fail +net.mptcp.enabled = 0' "$TMP/off" "sysctl item fails"
expect_grep '^ok +library' "$TMP/off" "the other items still run"

# A fresh netns has no endpoint: warn, and say how to add one.
unshare -n "$RUN" --check >"$TMP/none" 2>"$TMP/err"
expect_eq "$?" 0 "--check in a fresh netns"
expect_grep '^warn +endpoints: .*ip mptcp endpoint add ADDR dev DEV subflow' "$TMP/none" \
	"no endpoint: how to add one"

# With a subflow endpoint and limits set: listed, no warning.
if command -v ip >/dev/null 2>&1; then
	unshare -n sh -c '
		ip link add v1 type veth peer name v2 &&
		ip addr add 10.99.0.1/24 dev v1 &&
		ip mptcp endpoint add 10.99.0.1 dev v1 subflow &&
		ip mptcp endpoint add 10.99.0.2 dev v1 signal backup &&
		ip mptcp limits set subflows 3 add_addr_accepted 4 &&
		exec "$0" --check' "$RUN" >"$TMP/eps" 2>"$TMP/err"
	expect_eq "$?" 0 "--check with endpoints"
	expect_grep '^ok +endpoint id 1 10\.99\.0\.1 dev v1 subflow$' "$TMP/eps" "subflow endpoint listed"
	expect_grep '^ok +endpoint id 2 10\.99\.0\.2 dev v1 signal backup$' "$TMP/eps" "signal endpoint listed"
	expect_grep '^ok +limits: subflows 3, add_addr_accepted 4$' "$TMP/eps" "limits read"
	expect_grep '^ok +endpoints: 1 subflow endpoint$' "$TMP/eps" "subflow endpoint counted"
	grep -q '^warn +endpoints' "$TMP/eps" && fail "endpoint warning despite a subflow endpoint"
	unshare -n sh -c 'ip mptcp limits set subflows 0 && exec "$0" --check' "$RUN" >"$TMP/lim" 2>"$TMP/err"
	expect_grep '^warn +limits: subflows 0.*ip mptcp limits set subflows' "$TMP/lim" "subflows 0 warned"
else
	echo "$NAME: no ip(8); endpoint listing not tested"
fi

finish
