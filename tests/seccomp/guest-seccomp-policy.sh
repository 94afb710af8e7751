#!/bin/sh
# tests/seccomp/guest-seccomp-policy.sh - the address policy under --seccomp,
# per listening port and per destination, with each strategy: listeners on
# the listen@ port are MPTCP, the other TCP; connections to the connect@
# address MPTCP, to another TCP, alternating so that sockets are replaced
# both ways; a socket registered in epoll before connect() still reports in
# its set after the replacement; a bound client keeps its port and options;
# MSG_FASTOPEN sends decided by destination; -v logs each decision as the
# library does and -s prints the statistics line.
# shellcheck shell=sh
# shellcheck source-path=SCRIPTDIR source=guest-seccomp-lib.sh
. "$(dirname "$0")/guest-seccomp-lib.sh"
seccomp_preamble
P=$T/sc-probe-static

for strategy in predict mptcp-first tcp-first; do
	echo "--- MPTCPIFY_STRATEGY=$strategy"
	next_port
	p1=$PORT
	next_port
	run 0 "$strategy: policy" env MPTCPIFY_STRATEGY=$strategy \
		"$RUN" --seccomp -a "listen@:$p1, connect@127.0.0.2" -- "$P" policy "$p1" "$PORT"
	next_port
	run 0 "$strategy: epoll" env MPTCPIFY_STRATEGY=$strategy \
		"$RUN" --seccomp -a "connect@127.0.0.2" -- "$P" epoll "$PORT"
	next_port
	run 0 "$strategy: bound client" env MPTCPIFY_STRATEGY=$strategy \
		"$RUN" --seccomp -a "connect@127.0.0.2" -- "$P" bound "$PORT"
done

next_port
run 0 "MSG_FASTOPEN inside the policy" "$RUN" --seccomp -a "connect@127.0.0.2" -- \
	"$P" fastopen "$PORT" 127.0.0.2 auto
next_port
run 0 "MSG_FASTOPEN outside the policy" "$RUN" --seccomp -a "connect@127.0.0.2" -- \
	"$P" fastopen "$PORT" 127.0.0.1 6

next_port
p1=$PORT
next_port
run 0 "-v -s" "$RUN" --seccomp -v -s -a "listen@:$p1, connect@127.0.0.2" -- "$P" policy "$p1" "$PORT" &&
	{
		expect_err "^mptcpify\[[0-9]+\]: fd [0-9]+ listen 0\.0\.0\.0:$p1: mptcp \(rule 1 \"listen@:$p1\"\)$" "listen decision"
		expect_err "^mptcpify\[[0-9]+\]: fd [0-9]+ listen 0\.0\.0\.0:$PORT: tcp \(no rule matched\)$" "TCP listener"
		expect_err "^mptcpify\[[0-9]+\]: fd [0-9]+ connect 127\.0\.0\.2:$p1: mptcp \(rule 2 \"connect@127\.0\.0\.2\"\)$" "connect decision"
		expect_err "^mptcpify\[[0-9]+\]: stats: upgraded 4, kept TCP by policy 4, fell back \(kernel refused MPTCP\) 0, downgraded for options 0, options emulated 0" "stats line"
	}
finish "policy per port and destination, three strategies, epoll, bound, Fast Open on $REL"
