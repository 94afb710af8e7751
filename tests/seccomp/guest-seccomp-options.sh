#!/bin/sh
# tests/seccomp/guest-seccomp-options.sh - socket options MPTCP refuses,
# under --seccomp: IP_TTL emulated (success, read back 5, the socket stays
# MPTCP, a value TCP refuses gets TCP's EINVAL), or the kernel's error with
# -o IP_TTL=error; TCP_USER_TIMEOUT set before connect() makes the socket
# plain TCP with the option really set; TCP_MAXSEG reads back as set (the
# kernel does it from 6.17, the supervisor emulates it before).
# shellcheck shell=sh
# shellcheck source-path=SCRIPTDIR source=guest-seccomp-lib.sh
. "$(dirname "$0")/guest-seccomp-lib.sh"
seccomp_preamble
P=$T/sc-probe-static

run 0 "IP_TTL emulated" "$RUN" --seccomp -v -- "$P" ttl emulate &&
	expect_err 'MPTCP socket refuses IP_TTL: emulated \(value remembered and read back\)' "-v note"
run 0 "IP_TTL=error" "$RUN" --seccomp -o IP_TTL=error -- "$P" ttl error
run 0 "TCP_USER_TIMEOUT steps down" "$RUN" --seccomp -v -s -- "$P" usertimeout &&
	{
		expect_err 'MPTCP refuses TCP_USER_TIMEOUT: socket made plain TCP before connecting' "-v note"
		expect_err 'downgraded for options 1' "stats"
	}
run 0 "TCP_MAXSEG" "$RUN" --seccomp -- "$P" maxseg
finish "IP_TTL, TCP_USER_TIMEOUT and TCP_MAXSEG by class on $REL"
