#!/bin/sh
# tests/wrapper/test-exit.sh - every exit status of mptcpify-run: 0, the
# command's own, 125 (usage, invalid policy or options, missing library),
# 126 (cannot execute), 127 (not found), and that nothing runs after a 125.
# shellcheck shell=sh
. "$(dirname "$0")/common.sh"

expect_status 0 "true" "$RUN" true
expect_status 0 "-- true" "$RUN" -- true
expect_status 7 "command's status" "$RUN" sh -c 'exit 7'
expect_status 0 "--help" "$RUN" --help &&
	expect_grep '^Usage: mptcpify-run' "$TMP/out" "--help on stdout"
expect_status 0 "-h" "$RUN" -h
expect_status 0 "--version" "$RUN" --version &&
	expect_grep '^mptcpify-run .*[0-9]+\.[0-9]+' "$TMP/out" "--version"

# 125: its own errors, each with a message
expect_status 125 "no command" "$RUN" && expect_grep 'no COMMAND' "$TMP/err" "no command"
expect_status 125 "unknown option" "$RUN" --no-such-option true &&
	expect_grep "unknown option '--no-such-option'" "$TMP/err" "unknown option"
expect_status 125 "unknown short option" "$RUN" -Z true
expect_status 125 "missing argument" "$RUN" --addrs
expect_status 125 "two modes" "$RUN" --check --explain connect 1.2.3.4:5
expect_status 125 "--root without a unit mode" "$RUN" --root "$TMP" true
expect_status 125 "--bpf with --check" "$RUN" --bpf --check
expect_status 125 "bad policy (option)" "$RUN" -a '10.0.0.0/33' true &&
	expect_grep '^mptcpify: MPTCPIFY_ADDRS rule 1 "10.0.0.0/33": prefix length 33 exceeds 32$' \
		"$TMP/err" "policy error line"
expect_status 125 "bad policy (env)" env MPTCPIFY_ADDRS='connect@10.0.0.1, 1.2.3.4:99999' "$RUN" true &&
	expect_grep '^mptcpify: MPTCPIFY_ADDRS rule 2 ' "$TMP/err" "env policy error names rule 2"
expect_status 125 "several bad rules" "$RUN" -a 'x, 10.0.0.0/8, 300.1.1.1, bogus@1.2.3.4' true
n=$(grep -c '^mptcpify: MPTCPIFY_ADDRS rule' "$TMP/err")
expect_eq "$n" 3 "one line per bad rule"
expect_status 125 "bad options" "$RUN" -o 'NO_SUCH_OPTION=emulate' true &&
	expect_grep '^mptcpify: MPTCPIFY_OPTIONS ' "$TMP/err" "options error line"
expect_status 125 "bad option class" env MPTCPIFY_OPTIONS='IP_TTL=maybe' "$RUN" true
expect_status 125 "missing library (--lib)" "$RUN" --lib "$TMP/nope.so" true &&
	expect_grep 'nope.so' "$TMP/err" "names the missing library"
expect_status 125 "missing library (MPTCPIFY_LIB)" env MPTCPIFY_LIB="$TMP/nope.so" "$RUN" true
mkdir "$TMP/a:b" && cp "$LIB" "$TMP/a:b/libmptcpify.so"
expect_status 125 "library path with a colon" "$RUN" --lib "$TMP/a:b/libmptcpify.so" true

# --bpf refuses what it cannot do, before trying: 125 and a message.
expect_status 125 "--bpf with address rules" "$RUN" --bpf -a 'connect@10.0.0.0/8' true &&
	expect_grep '--bpf: MPTCPIFY_ADDRS rule 1 .*address rules' "$TMP/err" "--bpf address rules"
expect_status 125 "--bpf with an empty policy" "$RUN" --bpf -a '' true
expect_status 125 "--bpf with a bad policy" "$RUN" --bpf -a '1.2.3.4/40' true
"$RUN" --bpf -a '10.0.0.0/8' touch "$TMP/ran" 2>/dev/null
[ -e "$TMP/ran" ] && fail "the command ran despite --bpf refusing the policy"
# Whatever this host allows, --bpf either runs the command or says why.
"$RUN" --bpf -a '*' sh -c 'exit 3' >"$TMP/out" 2>"$TMP/err"
st=$?
case $st in
3) ;;
125) expect_grep '--bpf' "$TMP/err" "--bpf refusal names itself" ;;
*) fail "--bpf: exit status $st, expected 3 or 125" ;;
esac

# Nothing runs when the policy or the options are bad.
"$RUN" -a '10.0.0.0/33' touch "$TMP/ran" 2>/dev/null
[ -e "$TMP/ran" ] && fail "the command ran despite a bad policy"
"$RUN" -o 'IP_TTL' touch "$TMP/ran" 2>/dev/null
[ -e "$TMP/ran" ] && fail "the command ran despite bad options"

# 126 and 127, as env(1)
printf 'not a program\n' >"$TMP/data" && chmod 644 "$TMP/data"
expect_status 126 "not executable" "$RUN" "$TMP/data"
expect_status 126 "a directory" "$RUN" "$TMP"
# (a PATH of readable directories: an unreadable one gives EACCES, 126, as env(1))
expect_status 127 "not found (PATH)" env PATH=/usr/bin:/bin "$RUN" mptcpify-no-such-command-here
expect_status 127 "not found (path)" "$RUN" "$TMP/missing"
expect_status 127 "empty command" "$RUN" ''

# a library that is not one, a --root that does not exist: 125, nothing done
expect_status 125 "--lib not a library" "$RUN" --lib /etc/passwd true &&
	expect_grep 'not a shared library' "$TMP/err" "--lib not a library"
expect_status 125 "--root missing" "$RUN" --root "$TMP/no-such-root" --enable-unit x &&
	expect_eq "$(ls -d "$TMP/no-such-root" 2>/dev/null)" "" "--root missing: nothing created"

# Options stop at the first non-option: the command keeps its own.
expect_status 0 "command's options" "$RUN" sh -c 'echo "$@"' sh -v -a x --check &&
	expect_eq "$(cat "$TMP/out")" "-v -a x --check" "arguments after COMMAND untouched"
expect_status 0 "-- then a dash command" "$RUN" -v -- sh -c 'echo ok'

finish
