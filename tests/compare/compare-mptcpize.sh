#!/bin/bash
# compare-mptcpize.sh LIB PROBE CHAINSHIM - the same programs and situations
# under Debian's libmptcpwrap (mptcpize) and under libmptcpify.so, judged by
# the kernel (SO_PROTOCOL, MPTCP_INFO) and by whether the program still
# works. Prints a table; fails when libmptcpify does not get the expected
# outcome. mptcpize's column is reported, not asserted.
set -euo pipefail
lib=$1 probe=$2 chain=$3
((EUID == 0)) || { echo "SKIP: needs root for network namespaces"; exit 77; }
wrap=$(dpkg -L libmptcpwrap0 2>/dev/null | grep -m1 'libmptcpwrap\.so\.0$' || true)
[[ -n $wrap && -f $wrap ]] || { echo "SKIP: libmptcpwrap0 (mptcpize) not installed"; exit 77; }

if [[ -z ${COMPARE_INSIDE:-} ]]; then
  COMPARE_INSIDE=1 exec unshare -n "$0" "$@"
fi
ip link set lo up
failed=0
row() { printf '%-58s | %-28s | %-28s\n' "$1" "$2" "$3"; }
# runs the probe under a preload ($1), rest are probe arguments; prints
# its output or "program failed: ..."
under() {
  local pre=$1; shift
  local out
  if out=$(LD_PRELOAD=$pre timeout 30 "$probe" "$@" 2>&1); then echo "$out"
  else echo "program failed: $(echo "$out" | tail -1)"; fi
}
expect() { # $1 label, $2 what mptcpify gave, $3 pattern it must match
  if [[ $2 =~ $3 ]]; then :; else echo "FAIL: $1: mptcpify gave '$2'"; failed=1; fi
}
sum_pair() { grep -o 'client [0-9]* server [0-9]*' <<<"$1" | head -1 || echo "$1"; }

row "situation" "mptcpize (libmptcpwrap)" "mptcpify"
row "---------" "-----------------------" "--------"

# 1. the kernel has MPTCP disabled in this namespace
sysctl -qw net.mptcp.enabled=0
a=$(under "$wrap" pair 1 | tail -1); b=$(under "$lib" pair 1 2>/dev/null)
row "net.mptcp.enabled=0: loopback connection" "${a:0:28}" "$(sum_pair "$b")"
expect "mptcp disabled" "$b" "client 6 server 6"
sysctl -qw net.mptcp.enabled=1

# 2. an option MPTCP refuses, set before connect (TCP_USER_TIMEOUT=7000)
a=$(under "$wrap" opt TCP_USER_TIMEOUT 7000 before); b=$(under "$lib" opt TCP_USER_TIMEOUT 7000 before)
row "TCP_USER_TIMEOUT before connect: setsockopt" "$(grep -o 'set -*[0-9]* errno [0-9]*' <<<"$a")" "$(grep -o 'set -*[0-9]*' <<<"$b"), protocol $(grep -o 'protocol [0-9]*' <<<"$b" | cut -d' ' -f2)"
expect "TCP_USER_TIMEOUT" "$b" "set 0 .*kernel_value 7000 protocol 6"

# 3. a hint MPTCP refuses, after connect (IP_TTL=33)
a=$(under "$wrap" opt IP_TTL 33 after); b=$(under "$lib" opt IP_TTL 33 after)
row "IP_TTL after connect: setsockopt / getsockopt" "$(grep -o 'set -*[0-9]* errno [0-9]*' <<<"$a")" "$(grep -o 'set -*[0-9]*' <<<"$b"), reads $(grep -o 'value [0-9]*' <<<"$b" | cut -d' ' -f2), protocol $(grep -o 'protocol [0-9]*' <<<"$b" | cut -d' ' -f2)"
expect "IP_TTL" "$b" "set 0 .*value 33 .*protocol 262"

# 4. TCP_MAXSEG (refused before 6.17; HAProxy's and netperf's problem)
a=$(under "$wrap" opt TCP_MAXSEG 1300 before); b=$(under "$lib" opt TCP_MAXSEG 1300 before)
row "TCP_MAXSEG=1300 ($(uname -r | cut -d- -f1)): setsockopt" "$(grep -o 'set -*[0-9]* errno [0-9]*' <<<"$a")" "$(grep -o 'set -*[0-9]*' <<<"$b"), protocol $(grep -o 'protocol [0-9]*' <<<"$b" | cut -d' ' -f2)"
expect "TCP_MAXSEG" "$b" "set 0 errno 0 get 0 .*protocol 262"

# 5. address policy: keep loopback TCP, everything else MPTCP
a=$(under "$wrap" connect 127.0.0.1:9); b=$(MPTCPIFY_ADDRS='!127.0.0.0/8, *' under "$lib" connect 127.0.0.1:9)
row "policy '!127.0.0.0/8, *': connect 127.0.0.1" "$(grep -o 'proto [0-9]*' <<<"$a") (no policy)" "$(grep -o 'proto [0-9]*' <<<"$b")"
expect "policy" "$b" "proto 6"

# 6. another preloaded library wrapping socket() after it
a=$(LD_PRELOAD="$wrap $chain" timeout 30 "$probe" pair 1 2>&1 | grep -o 'chainshim: mptcp sockets [0-9]*' || true)
b=$(LD_PRELOAD="$lib $chain" timeout 30 "$probe" pair 1 2>&1 | grep -o 'chainshim: mptcp sockets [0-9]*' || true)
row "second preloaded shim sees the MPTCP sockets" "${a#chainshim: }" "${b#chainshim: }"
expect "chaining" "$b" "mptcp sockets [1-9]"

# 7. an established connection between two shimmed ends
a=$(under "$wrap" pair 1); b=$(under "$lib" pair 1)
row "loopback connection: protocol, MPTCP fallback flag" "$(sum_pair "$a"), fb $(grep -o 'client_fallback [0-9-]*' <<<"$a" | cut -d' ' -f2)" "$(sum_pair "$b"), fb $(grep -o 'client_fallback [0-9-]*' <<<"$b" | cut -d' ' -f2)"
expect "mptcp connection" "$b" "client 262 server 262 client_fallback 0 server_fallback 0"

((failed == 0)) && echo "ok: mptcpify got the expected outcome in every situation"
exit $failed
