#!/bin/sh
# tests/wrapper/test-explain.sh - `--explain` on the examples of the policy
# language (issue 2), its three kinds of reason, and its errors.
# shellcheck shell=sh
. "$(dirname "$0")/common.sh"

# explain POLICY DIR ADDRESS EXPECTED-LINE
explain() {
	out=$("$RUN" -a "$1" --explain "$2" "$3" 2>"$TMP/err")
	st=$?
	expect_eq "$st" 0 "exit status of -a '$1' --explain $2 $3" &&
		expect_eq "$out" "$4" "-a '$1' --explain $2 $3"
}

p='listen@:443, connect@10.0.0.0/8'
explain "$p" listen 0.0.0.0:443 'mptcp (rule 1 "listen@:443")'
explain "$p" listen '[::]:443' 'mptcp (rule 1 "listen@:443")'
explain "$p" connect 10.1.2.3:80 'mptcp (rule 2 "connect@10.0.0.0/8")'
explain "$p" connect 192.0.2.1:80 'tcp (no rule matched)'
explain "$p" listen 10.1.2.3:80 'tcp (no rule matched)'
explain "$p" connect 10.1.2.3:443 'mptcp (rule 2 "connect@10.0.0.0/8")'

p='!127.0.0.0/8, !::1, *'
explain "$p" connect 127.0.0.1:80 'tcp (rule 1 "!127.0.0.0/8")'
explain "$p" connect '[::ffff:127.0.0.1]:80' 'tcp (rule 1 "!127.0.0.0/8")'
explain "$p" connect '[::1]:80' 'tcp (rule 2 "!::1")'
explain "$p" listen '[2001:db8::1]:22' 'mptcp (rule 3 "*")'
explain "$p" connect 192.0.2.1:1 'mptcp (rule 3 "*")'

explain '0.0.0.0/0' listen 0.0.0.0:80 'mptcp (rule 1 "0.0.0.0/0")'
explain '0.0.0.0/0' connect 198.51.100.7:5 'mptcp (rule 1 "0.0.0.0/0")'
explain '0.0.0.0/0' listen '[::]:80' 'tcp (no rule matched)'
explain ':80' listen '[::]:80' 'mptcp (rule 1 ":80")'
explain ':80' listen 0.0.0.0:80 'mptcp (rule 1 ":80")'

explain '!10.1.0.0/16, 10.0.0.0/8' connect 10.2.0.1:1 'mptcp (rule 2 "10.0.0.0/8")'
explain '!10.1.0.0/16, 10.0.0.0/8' connect 10.1.2.3:1 'tcp (rule 1 "!10.1.0.0/16")'
explain '10.0.0.0/8, !10.1.0.0/16' connect 10.1.2.3:1 'mptcp (rule 1 "10.0.0.0/8")'

explain '' connect 10.0.0.1:1 'tcp (MPTCPIFY_ADDRS is empty: nothing is upgraded)'
explain 'connect@[2001:db8::/32]:8000-8999' connect '[2001:db8::5]:8080' \
	'mptcp (rule 1 "connect@[2001:db8::/32]:8000-8999")'
explain 'connect@[2001:db8::/32]:8000-8999' connect '[2001:db8::5]:9000' 'tcp (no rule matched)'

# Unset: everything.
out=$("$RUN" --explain connect 192.0.2.1:80)
expect_eq "$out" 'mptcp (MPTCPIFY_ADDRS unset: everything is upgraded)' "unset policy"
# The environment's policy when no --addrs.
out=$(MPTCPIFY_ADDRS='connect@10.0.0.0/8' "$RUN" --explain connect 10.0.0.1:80)
expect_eq "$out" 'mptcp (rule 1 "connect@10.0.0.0/8")' "policy from MPTCPIFY_ADDRS"

# Errors: 125 and a message.
expect_status 125 "invalid policy" "$RUN" --addrs '10.0.0.0/33' --explain connect 10.0.0.1:1 &&
	expect_grep '^mptcpify: MPTCPIFY_ADDRS rule 1 "10.0.0.0/33": prefix length 33 exceeds 32$' \
		"$TMP/err" "invalid policy message" &&
	{ [ ! -s "$TMP/out" ] || fail "invalid policy: something on stdout"; }
expect_status 125 "bad direction" "$RUN" --explain sideways 10.0.0.1:1
for a in 10.0.0.1 10.0.0.1: 10.0.0.1:65536 10.0.0.1:x 1.2.3:4 '::1:80' '[::1]' \
	'[::1]80' '[zz::1]:80' host.example:80 ''; do
	expect_status 125 "bad address '$a'" "$RUN" --explain connect "$a"
done
expect_status 125 "no address" "$RUN" --explain connect
expect_status 125 "two addresses" "$RUN" --explain connect 10.0.0.1:1 10.0.0.2:2
explain '*' connect 10.0.0.1:0 'mptcp (rule 1 "*")'
explain '*' connect 10.0.0.1:65535 'mptcp (rule 1 "*")'

finish
