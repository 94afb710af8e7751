#!/bin/sh
# tests/seccomp/guest-seccomp-basic.sh - statically linked programs (glibc
# -static and musl-gcc -static) and a dynamic one, all making their sockets
# with raw syscalls (SOCK_NONBLOCK|SOCK_CLOEXEC too), get MPTCP from
# `mptcpify-run --seccomp`: SO_PROTOCOL 262 with the flags kept, a loopback
# connection MPTCP at both ends (MPTCP_INFO, no fallback) over IPv4 and IPv6,
# threads, fork and exec; UDP, AF_UNIX and explicit MPTCP sockets untouched.
# The mode is chosen by itself for static programs; a MSG_FASTOPEN send works
# (stepping down to TCP where this kernel's MPTCP refuses it).
# shellcheck shell=sh
# shellcheck source-path=SCRIPTDIR source=guest-seccomp-lib.sh
. "$(dirname "$0")/guest-seccomp-lib.sh"
seccomp_preamble

for p in $PROBES; do
	run 0 "$p sockets" "$RUN" --seccomp -- "$T/$p" sockets 262
	run 0 "$p pair IPv4" "$RUN" --seccomp -- "$T/$p" pair 262
	run 0 "$p pair IPv6" "$RUN" --seccomp -- "$T/$p" pair 262 6
	run 0 "$p threads, fork, exec" "$RUN" --seccomp -- "$T/$p" threads 8
done

# No --mode: a static program gets the supervisor, and -v says why.
run 0 "static, mode chosen" "$RUN" -v -- "$T/sc-probe-static" sockets 262 &&
	expect_err 'mode seccomp: .*sc-probe-static is statically linked \(no PT_INTERP\)' "-v reason"
if [ -x "$T/sc-probe" ]; then
	# a dynamic program gets the preload, which raw syscalls bypass: TCP
	run 0 "dynamic, mode chosen" "$RUN" -v ${MPTCPIFY_LIB:+--lib "$MPTCPIFY_LIB"} -- \
		"$T/sc-probe" sockets 6 &&
		expect_err 'mode preload: .*sc-probe is dynamically linked' "-v reason"
	run 0 "dynamic, --mode seccomp" "$RUN" --mode seccomp -- "$T/sc-probe" sockets 262
fi

next_port
run 0 "MSG_FASTOPEN" "$RUN" --seccomp -- "$T/sc-probe-static" fastopen "$PORT" 127.0.0.1 auto
finish "static (glibc, musl) and raw-syscall programs get MPTCP on $REL"
