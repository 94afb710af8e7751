#!/bin/sh
# tests/seccomp/guest-seccomp-tree.sh - the process tree under --seccomp:
# an unprivileged user gets the same; with net.mptcp.enabled=0 (a network
# namespace of its own) everything falls back to TCP with one warning for
# the whole tree; a process that moved to another network namespace
# (unshare, setns) gets its sockets made there (root); signals reach the
# command; exit statuses as env(1);
# the supervisor killed mid-run leaves the program running, its next
# trapped call failing with ENOSYS; refusals (exit 125, one line): a setuid
# COMMAND, a kernel that says 2.6, seccomp unavailable, a nested --seccomp.
# shellcheck shell=sh
# shellcheck source-path=SCRIPTDIR source=guest-seccomp-lib.sh
. "$(dirname "$0")/guest-seccomp-lib.sh"
seccomp_preamble
P=$T/sc-probe-static
root=0
[ "$(id -u)" = 0 ] && root=1

# ---- an unprivileged user -------------------------------------------------------
# (copies of the probe and the wrapper the user can reach: MPTCPIFY_TESTDIR
# and the build tree may be private, a clone under a 0700 directory)
U=$WORK/probe
cp "$P" "$U"
chmod 755 "$U"
if [ "$root" = 1 ]; then
	AS="$U as 65534 --"
	URUN=$WORK/mptcpify-run
	cp "$RUN" "$URUN"
	chmod 755 "$URUN"
else
	AS="" # already unprivileged
	URUN=$RUN
fi
# shellcheck disable=SC2086  # AS is a command prefix
run 0 "unprivileged: pair" $AS "$URUN" --seccomp -- "$U" pair 262
next_port
p1=$PORT
next_port
# shellcheck disable=SC2086
run 0 "unprivileged: policy" $AS "$URUN" --seccomp -a "listen@:$p1, connect@127.0.0.2" -- \
	"$U" policy "$p1" "$PORT"
# shellcheck disable=SC2086
run 0 "unprivileged: IP_TTL" $AS "$URUN" --seccomp -- "$U" ttl emulate

# ---- network namespaces (root) ----------------------------------------------------
if [ "$root" = 1 ]; then
	run 0 "MPTCP disabled" "$P" netns disabled -- "$RUN" --seccomp -- \
		sh -c "'$P' sockets 6 && '$P' pair 6 && '$P' sockets 6" &&
		{
			n=$(grep -c 'warning: the kernel refuses MPTCP sockets (ENOPROTOOPT: net.mptcp.enabled=0' "$ERR")
			[ "$n" = 1 ] || fail "MPTCP disabled: $n warnings, expected 1 for the tree"
		}
	run 0 "another namespace (unshare)" "$RUN" --seccomp -- "$P" netns -- "$P" pair 262
	if command -v nsenter >/dev/null 2>&1; then
		# a namespace made outside the tree, entered with setns()
		"$P" netns -- sleep 60 &
		holder=$!
		sleep 0.5
		run 0 "another namespace (setns)" "$RUN" --seccomp -- nsenter -t "$holder" -n -- "$P" pair 262
		kill "$holder" 2>/dev/null
		wait "$holder" 2>/dev/null
	fi
else
	echo "(not root: network namespace checks left out)"
fi

# ---- signals and exit statuses -------------------------------------------------------
rm -f "$WORK/ready"
# (no timeout(1) in between: $! must be mptcpify-run; sigwait gives up after 60 s)
"$RUN" --seccomp -- "$P" sigwait "$WORK" >"$OUT" 2>"$ERR" &
pid=$!
n=0
while [ ! -e "$WORK/ready" ] && [ $n -lt 300 ]; do sleep 0.1; n=$((n + 1)); done
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
[ "$rc" = 3 ] || fail "SIGTERM forwarded: exit $rc, expected 3 (the program's handler)"
run 7 "exit status" "$RUN" --seccomp -- sh -c 'exit 7'
run 137 "killed by a signal" "$RUN" --seccomp -- sh -c 'kill -9 $$'
run 127 "not found" "$RUN" --seccomp -- "$WORK/no-such-program"
printf 'data\n' >"$WORK/data"
run 126 "not executable" "$RUN" --seccomp -- "$WORK/data"

# ---- the supervisor killed mid-run ----------------------------------------------------
rm -f "$WORK/ready" "$WORK/go"
"$RUN" --seccomp -- "$P" hold "$WORK" >"$WORK/hold.out" 2>&1 &
pid=$!
n=0
while [ ! -e "$WORK/ready" ] && [ $n -lt 300 ]; do sleep 0.1; n=$((n + 1)); done
# the supervisor is mptcpify-run itself; the program is its child
kill -KILL "$pid"
wait "$pid" 2>/dev/null
touch "$WORK/go"
n=0
while ! grep -q 'second socket errno' "$WORK/hold.out" && [ $n -lt 300 ]; do
	sleep 0.1
	n=$((n + 1))
done
sed 's/^/  /' "$WORK/hold.out"
grep -q '^first socket: protocol 262' "$WORK/hold.out" || fail "supervisor killed: the first socket was not MPTCP"
grep -q '^second socket errno 38$' "$WORK/hold.out" ||
	fail "supervisor killed: the next socket() should fail with ENOSYS (38), and not hang"

# ---- refusals: exit 125 and one line ---------------------------------------------------
one_line() {
	[ "$(wc -l <"$ERR")" -eq 1 ] || fail "$1: expected one line on stderr"
}
cp "$P" "$WORK/setuid-probe"
chmod 4755 "$WORK/setuid-probe"
run 125 "setuid COMMAND" "$RUN" --seccomp -- "$WORK/setuid-probe" sockets 262 &&
	{ expect_err '^mptcpify-run: --seccomp: .*setuid-probe is setuid' "setuid"; one_line setuid; }
run 0 "setuid COMMAND, mode chosen" "$RUN" -v -- "$WORK/setuid-probe" sockets 6 &&
	expect_err 'mode preload: .*setuid' "-v says why not the seccomp mode"
run 125 "kernel 2.6" "$P" uname26 -- "$RUN" --seccomp -- true &&
	{ expect_err '^mptcpify-run: --seccomp: kernel 2\.6.* is older than 5\.9' "old kernel"; one_line "old kernel"; }
run 125 "no seccomp" "$P" noseccomp -- "$RUN" --seccomp -- true &&
	{ expect_err '^mptcpify-run: --seccomp: seccomp filters are not available here' "no seccomp"; one_line "no seccomp"; }
run 125 "nested" "$RUN" --seccomp -- "$RUN" --seccomp -- true &&
	{ expect_err '^mptcpify-run: --seccomp: .*cannot be nested' "nested"; one_line nested; }
finish "tree, users, namespaces, signals, statuses, supervisor death, refusals on $REL"
