#!/bin/sh
# tests/wrapper/test-policyfile.sh - MPTCPIFY_ADDRS=@FILE and -a @FILE
# (issue 14, parts 3 and 4): on a file of 100,000 random rules, for a sample
# of addresses, what `mptcpify-run -a @FILE --explain` says is what the
# kernel reports (SO_PROTOCOL) for real sockets under the library: with the
# file parsed (no compiled image yet), with the image mapped, and after the
# file changed under the image (never served stale). Then the errors: a
# missing file, a relative path, a bad rule with its file, line and column.
# The sockets live in a network namespace of the test's own, where nothing
# is routed: a connect() fails at once, after the policy has decided.
# shellcheck shell=sh
. "$(dirname "$0")/common.sh"

: "${POLICYPROBE:?POLICYPROBE must name the built policyprobe}"
RULES=${RULES:-100000}
SAMPLES=${SAMPLES:-300}
command -v unshare >/dev/null || skip "unshare (util-linux) not installed"

# in_netns CMD...: runs CMD in a new network namespace (as root, or in a
# user namespace of our own) that binds any address and routes nothing.
if unshare -n true 2>/dev/null; then
	NETNS="unshare -n"
elif unshare -rn true 2>/dev/null; then
	NETNS="unshare -rn"
else
	skip "cannot make a network namespace (not root, no user namespaces)"
fi
in_netns() {
	$NETNS sh -c 'sysctl -qw net.ipv4.ip_nonlocal_bind=1 net.ipv6.ip_nonlocal_bind=1 &&
		exec "$@"' sh "$@"
}

# probe_lib OUT: the library's verdicts for the samples, MPTCPIFY_ADDRS=@$F.
probe_lib() {
	in_netns env LD_PRELOAD="$LIB" MPTCPIFY_ADDRS="@$F" MPTCPIFY_LOG=debug \
		"$POLICYPROBE" probe <"$TMP/samples" >"$1" 2>"$TMP/lib-err"
}

# explain_all OUT: mptcpify-run --explain's verdict for every sample.
explain_all() {
	: >"$1"
	while read -r dir addr; do
		"$RUN" -a "@$F" --explain "$dir" "$addr" 2>>"$TMP/explain-err" |
			sed 's/ .*//' >>"$1"
	done <"$TMP/samples"
}

# same A B WHAT: the two verdict files agree line by line.
same() {
	if ! cmp -s "$1" "$2"; then
		fail "$3: verdicts differ (sample, $(basename "$1"), $(basename "$2")):"
		paste -d ' ' "$TMP/samples" "$1" "$2" | awk '$3 != $4' | head -20 | sed 's/^/  /'
		return 1
	fi
	return 0
}

F=$TMP/addrs
"$POLICYPROBE" gen "$RULES" 14 "$F" "$TMP/samples" "$SAMPLES" ||
	{ fail "policyprobe gen"; finish; }

# 1. The file parsed by the library (no image exists yet).
probe_lib "$TMP/lib-parsed"
expect_grep "MPTCPIFY_ADDRS: $RULES rules, file parsed" "$TMP/lib-err" \
	"the library parsed the file"
# 2. --explain (its first run writes FILE.compiled: it is mptcpify-run).
explain_all "$TMP/explain"
[ -s "$TMP/explain-err" ] && { fail "--explain printed errors:"; head "$TMP/explain-err"; }
[ -f "$F.compiled" ] || fail "mptcpify-run wrote no $F.compiled"
# 3. The library again, now mapping the image.
probe_lib "$TMP/lib-image"
expect_grep "MPTCPIFY_ADDRS: $RULES rules, compiled image mapped" "$TMP/lib-err" \
	"the library mapped the image"

if same "$TMP/explain" "$TMP/lib-parsed" "--explain against the library (file parsed)" &&
	same "$TMP/explain" "$TMP/lib-image" "--explain against the library (image)"; then
	# a sample that proves something: both verdicts, both directions,
	# both families, and next to no errors
	mp=$(grep -c '^mptcp$' "$TMP/explain")
	tcp=$(grep -c '^tcp$' "$TMP/explain")
	errs=$(grep -vc '^mptcp$\|^tcp$' "$TMP/lib-image")
	if [ "$mp" -lt 30 ] || [ "$tcp" -lt 30 ]; then
		fail "sample too one-sided: $mp mptcp, $tcp tcp"
	fi
	[ "$errs" -le $((SAMPLES / 50)) ] || fail "$errs of $SAMPLES sockets failed"
	for k in '^listen [0-9]' '^connect [0-9]' '^listen \[[23]' '^connect \[[23]' '::ffff:'; do
		grep -q "$k" "$TMP/samples" || fail "no sample matching '$k'"
	done
	echo "$NAME: $SAMPLES samples agree ($mp mptcp, $tcp tcp, $errs socket errors)"
fi

# 4. A changed file is never served from the old image.
# Replaced (new inode): a first rule that keeps everything TCP.
{ printf '!0.0.0.0/0, ![::]/0  # everything TCP from now on\n'; cat "$F"; } >"$F.new"
mv "$F.new" "$F"
probe_lib "$TMP/lib-replaced"
expect_grep "file parsed" "$TMP/lib-err" "replaced file: parsed, not the old image"
n=$(grep -c '^mptcp$' "$TMP/lib-replaced")
expect_eq "$n" 0 "replaced file: MPTCP sockets"
# Rewritten in place, same size, same inode: "!0.0.0.0/0" becomes
# " 0.0.0.0/0": now every IPv4 (and mapped) socket is MPTCP, IPv6 stays TCP.
"$RUN" -a "@$F" --explain connect 192.0.2.1:1 >/dev/null # an image of this version
[ -f "$F.compiled" ] || fail "no image of the replaced file"
printf ' ' | dd of="$F" bs=1 seek=0 conv=notrunc status=none
probe_lib "$TMP/lib-inplace"
expect_grep "file parsed" "$TMP/lib-err" "file changed in place: parsed, not the image"
n=$(paste -d ' ' "$TMP/samples" "$TMP/lib-inplace" |
	awk '{ v6 = $2 ~ /^\[/ && $2 !~ /^\[::ffff:/ }
	     (v6 && $3 != "tcp") || (!v6 && $3 != "mptcp" && $3 != "error")' | wc -l)
expect_eq "$n" 0 "file changed in place: sockets not decided by its new first rules"

# 5. Errors. Missing: one line, nothing upgraded.
echo "connect 10.1.2.3:80" >"$TMP/one"
in_netns env LD_PRELOAD="$LIB" MPTCPIFY_ADDRS="@$TMP/missing" \
	"$POLICYPROBE" probe <"$TMP/one" >"$TMP/out" 2>"$TMP/err"
expect_eq "$(cat "$TMP/out")" tcp "missing file: the socket stays TCP"
expect_eq "$(wc -l <"$TMP/err")" 1 "missing file: lines on stderr"
expect_grep "^mptcpify: $TMP/missing: MPTCPIFY_ADDRS: cannot open: No such file or directory: nothing is upgraded\$" \
	"$TMP/err" "missing file: the message"
expect_status 125 "-a @missing" "$RUN" -a "@$TMP/missing" --explain connect 10.0.0.1:1 &&
	expect_grep "^mptcpify: $TMP/missing: MPTCPIFY_ADDRS: cannot open: No such file or directory\$" \
		"$TMP/err" "-a @missing: the message"
# Relative in the environment: refused by both (the library reads it late).
in_netns env LD_PRELOAD="$LIB" MPTCPIFY_ADDRS="@addrs" \
	"$POLICYPROBE" probe <"$TMP/one" >"$TMP/out" 2>"$TMP/err"
expect_eq "$(cat "$TMP/out")" tcp "relative file: the socket stays TCP"
expect_grep "MPTCPIFY_ADDRS: the file after '@' must be an absolute path" "$TMP/err" \
	"relative file: the message"
# ... but -a @relative is made absolute, for the program and for --explain.
printf 'connect@10.0.0.0/8\n' >"$TMP/rel"
out=$(cd "$TMP" && "$RUN" -a @rel --explain connect 10.1.2.3:80)
expect_eq "$out" "mptcp (rule 1 \"connect@10.0.0.0/8\", $TMP/rel:1)" "-a @relative --explain"
# shellcheck disable=SC2016 # expanded by the program's shell, on purpose
out=$(cd "$TMP" && "$RUN" -a @rel -- sh -c 'echo "$MPTCPIFY_ADDRS"')
expect_eq "$out" "@$TMP/rel" "-a @relative: the program's MPTCPIFY_ADDRS"
# A bad rule: file, line, column, rule; comments are not rules.
printf '# nets\n10.0.0.0/8, ::1  # loopback too\n\n  [2001:db8::/32]:443 10.1.2.3/33\n' >"$TMP/bad"
expect_status 125 "bad rule in a file" "$RUN" -a "@$TMP/bad" --explain connect 10.0.0.1:1 &&
	expect_grep "^mptcpify: $TMP/bad:4:23: MPTCPIFY_ADDRS rule 4 \"10.1.2.3/33\": prefix length 33 exceeds 32\$" \
		"$TMP/err" "bad rule: the message" &&
	expect_eq "$(wc -l <"$TMP/err")" 1 "bad rule: one line"
in_netns env LD_PRELOAD="$LIB" MPTCPIFY_ADDRS="@$TMP/bad" \
	"$POLICYPROBE" probe <"$TMP/one" >"$TMP/out" 2>"$TMP/err"
expect_eq "$(cat "$TMP/out")" tcp "bad rule: the library upgrades nothing"
expect_grep "$TMP/bad:4:23: MPTCPIFY_ADDRS rule 4 \"10.1.2.3/33\"" "$TMP/err" \
	"bad rule: the library's message"
expect_grep "MPTCPIFY_ADDRS is invalid: nothing is upgraded" "$TMP/err" \
	"bad rule: the library's verdict"

finish
