# shellcheck shell=bash
# shellcheck disable=SC2034 # NL_* variables are read by the sourcing scripts
# tests/netns/lib.sh - a two-path network between two namespaces, for the
# netns and stock suites and the demo. Source it, then call nl_setup.
#
#   client ns (NL_C)                          server ns (NL_S)
#   nlc1 10.231.1.1/24  <--- path 1 --->  nls1 10.231.1.2/24
#   nlc2 10.231.2.1/24  <--- path 2 --->  nls2 10.231.2.2/24
#
# Each path is rate-limited with tbf in both directions (NL_RATE). Both sides
# raise the MPTCP limits; the client has a `subflow` endpoint on its path-2
# address, so a connection it opens over path 1 gets a second subflow over
# path 2 (nl_setup's BOTH_WAYS gives the server one too, for connections the
# server opens). Addresses exist inside the two namespaces only; the
# host's namespace is never touched. Everything (namespaces, processes,
# temporary files) is removed on exit, also on failure and interrupt.
#
# Environment read: MPTCPIFY_RUN (the wrapper), MPTCPIFY_LIB (the library it
# preloads), NL_RATE (default 50mbit), NL_KEEP=1 (keep the temp dir).

NL_C1=10.231.1.1
NL_S1=10.231.1.2
NL_C2=10.231.2.1
NL_S2=10.231.2.2
NL_RATE=${NL_RATE:-50mbit}
NL_C=
NL_S=
NL_TMP=
NL_PIDS=()
NL_NAMESPACES=()

# Ends the test as skipped (meson counts exit 77 as a skip), with a reason.
nl_skip() {
	echo "SKIP: $*"
	exit 77
}

# Ends the test as failed.
nl_fail() {
	echo "FAIL: $*" >&2
	exit 1
}

nl_need_root() {
	((EUID == 0)) || nl_skip "needs root to create network namespaces"
	command -v ip >/dev/null || nl_skip "iproute2 (ip) not installed"
}

# Skips unless every named program is installed.
nl_need() {
	local p
	for p in "$@"; do
		command -v "$p" >/dev/null 2>&1 || nl_skip "$p not installed"
	done
}

# Skips unless the wrapper and the library were handed over (by meson).
# For development only, MPTCPIFY_STANDIN=mptcpize runs Debian's
# `mptcpize run` instead (it upgrades every socket and ignores the rules).
nl_need_shim() {
	if [[ ${MPTCPIFY_STANDIN:-} == mptcpize ]]; then
		nl_need mptcpize
		return 0
	fi
	[[ -n ${MPTCPIFY_RUN:-} && -x $MPTCPIFY_RUN ]] ||
		nl_skip "MPTCPIFY_RUN is not set to the mptcpify-run executable"
	[[ -z ${MPTCPIFY_LIB:-} || -f $MPTCPIFY_LIB ]] ||
		nl_skip "MPTCPIFY_LIB=$MPTCPIFY_LIB does not exist"
}

# Sets NL_SHIM to the command prefix that runs a program under the shim
# with the policy RULES: "${NL_SHIM[@]}" PROGRAM ARGS...
NL_SHIM=()
nl_shim_cmd() {
	if [[ ${MPTCPIFY_STANDIN:-} == mptcpize ]]; then
		NL_SHIM=(mptcpize run)
		return 0
	fi
	NL_SHIM=("$MPTCPIFY_RUN")
	if [[ -n ${MPTCPIFY_LIB:-} ]]; then
		NL_SHIM+=(--lib "$MPTCPIFY_LIB")
	fi
	NL_SHIM+=(-a "$1" --)
}

# Makes MPTCPIFY_RUN and MPTCPIFY_LIB copies in NL_TMP that another user
# can run and read (the build tree may be private: a clone under a 0700
# directory), for a program that runs as another user. Call after nl_setup.
nl_shim_for_others() {
	local dir=$NL_TMP/shim
	chmod 755 "$NL_TMP"
	mkdir -p -m 755 "$dir"
	install -m 755 "$MPTCPIFY_RUN" "$dir/mptcpify-run"
	MPTCPIFY_RUN=$dir/mptcpify-run
	if [[ -n ${MPTCPIFY_LIB:-} ]]; then
		install -m 644 "$MPTCPIFY_LIB" "$dir/${MPTCPIFY_LIB##*/}"
		MPTCPIFY_LIB=$dir/${MPTCPIFY_LIB##*/}
	fi
}

# Removes everything nl_setup made: spawned processes (by pid), whatever
# still runs inside our namespaces (by pid), the namespaces, the temp dir.
nl_cleanup() {
	local pid ns left
	set +e
	for pid in "${NL_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	for ns in "${NL_NAMESPACES[@]}"; do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -TERM "$pid" 2>/dev/null
		done
	done
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		left=0
		for ns in "${NL_NAMESPACES[@]}"; do
			[[ -n $(ip netns pids "$ns" 2>/dev/null) ]] && left=1
		done
		((left)) || break
		sleep 0.1
	done
	for ns in "${NL_NAMESPACES[@]}"; do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null
		done
		ip netns del "$ns" 2>/dev/null
	done
	for pid in "${NL_PIDS[@]}"; do
		wait "$pid" 2>/dev/null
	done
	if [[ -n $NL_TMP && -d $NL_TMP ]]; then
		if [[ ${NL_KEEP:-0} == 1 ]]; then
			echo "kept $NL_TMP" >&2
		else
			rm -rf "$NL_TMP"
		fi
	fi
	NL_PIDS=()
	NL_NAMESPACES=()
}

# Creates a namespace with loopback up and MPTCP enabled (1) or not (0).
nl_add_ns() {
	local ns=$1 enabled=$2
	ip netns add "$ns"
	NL_NAMESPACES+=("$ns")
	ip -n "$ns" link set lo up
	ip netns exec "$ns" sysctl -qw net.mptcp.enabled="$enabled"
	if ((enabled)); then
		ip -n "$ns" mptcp limits set subflows 2 add_addr_accepted 2
	fi
	# Servers send TFO cookies, clients use them (nginx fastopen, curl).
	ip netns exec "$ns" sysctl -qw net.ipv4.tcp_fastopen=3
}

# Rate-limits DEV's egress in NS with tbf at RATE.
nl_shape() {
	local ns=$1 dev=$2 rate=$3
	tc -n "$ns" qdisc replace dev "$dev" root tbf rate "$rate" \
		burst 32kb latency 20ms
}

# Builds the two-path network. Arguments (both optional): ENABLED, 0 to
# build it with net.mptcp.enabled=0 in both namespaces (a kernel with MPTCP
# disabled); BOTH_WAYS, 1 to give the server namespace a `subflow` endpoint
# too, for connections that it opens towards the client namespace (without
# it, only connections from the client get a second subflow; with it, the
# server's kernel also tries joins from its side of incoming connections,
# which the client refuses).
nl_setup() {
	local enabled=${1:-1} both_ways=${2:-0}
	local tag
	tag="mpfy$$-${RANDOM}"
	NL_C=$tag-c
	NL_S=$tag-s
	NL_TMP=$(mktemp -d "${TMPDIR:-/tmp}/mptcpify-netns.XXXXXX")
	trap nl_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	nl_add_ns "$NL_C" "$enabled"
	nl_add_ns "$NL_S" "$enabled"
	ip link add nlc1 netns "$NL_C" type veth peer name nls1 netns "$NL_S"
	ip link add nlc2 netns "$NL_C" type veth peer name nls2 netns "$NL_S"
	ip -n "$NL_C" addr add "$NL_C1/24" dev nlc1
	ip -n "$NL_C" addr add "$NL_C2/24" dev nlc2
	ip -n "$NL_S" addr add "$NL_S1/24" dev nls1
	ip -n "$NL_S" addr add "$NL_S2/24" dev nls2
	local dev
	for dev in nlc1 nlc2; do
		ip -n "$NL_C" link set "$dev" up
		nl_shape "$NL_C" "$dev" "$NL_RATE"
	done
	for dev in nls1 nls2; do
		ip -n "$NL_S" link set "$dev" up
		nl_shape "$NL_S" "$dev" "$NL_RATE"
	done
	if ((enabled)); then
		ip -n "$NL_C" mptcp endpoint add "$NL_C2" dev nlc2 subflow
		if ((both_ways)); then
			ip -n "$NL_S" mptcp endpoint add "$NL_S2" dev nls2 subflow
		fi
	fi
	nl_wait_addr "$NL_C" "$NL_S1" || nl_fail "path 1 does not come up"
	nl_wait_addr "$NL_C" "$NL_S2" || nl_fail "path 2 does not come up"
}

# Waits (5 s at most) until NS can reach ADDR; returns 1 on timeout.
nl_wait_addr() {
	local ns=$1 addr=$2
	ip netns exec "$ns" ping -q -c 1 -W 5 "$addr" >/dev/null 2>&1 && return 0
	# ping may be missing: fall back to waiting for the links' carrier.
	for _ in $(seq 50); do
		if ! ip -n "$ns" -o link show | grep -q 'NO-CARRIER'; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# nl_bg NAME NS SECONDS CMD... runs CMD in NS in the background, killed
# after SECONDS; output in $NL_TMP/NAME.out and .err; pid in NL_LAST.
NL_LAST=
nl_bg() {
	local name=$1 ns=$2 secs=$3
	shift 3
	timeout -k 2 "$secs" ip netns exec "$ns" "$@" \
		>"$NL_TMP/$name.out" 2>"$NL_TMP/$name.err" </dev/null &
	NL_LAST=$!
	NL_PIDS+=("$NL_LAST")
}

# nl_run NS SECONDS CMD... runs CMD in NS in the foreground, bounded.
nl_run() {
	local ns=$1 secs=$2
	shift 2
	timeout -k 2 "$secs" ip netns exec "$ns" "$@"
}

# Stops a process started by nl_bg (by its pid) and reaps it.
nl_stop() {
	local pid=$1
	kill -TERM "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# Waits until something listens on TCP PORT in NS (SECONDS, default 10).
nl_wait_port() {
	local ns=$1 port=$2 secs=${3:-10}
	local end=$((SECONDS + secs))
	while ((SECONDS <= end)); do
		if [[ -n $(ip netns exec "$ns" ss -Hltn "sport = :$port") ]]; then
			return 0
		fi
		sleep 0.1
	done
	echo "nothing listens on port $port in $ns after ${secs}s" >&2
	return 1
}

# Prints "yes" when the listener on PORT in NS is an MPTCP socket (the
# kernel lists it among MPTCP sockets), "no" otherwise.
nl_listener_mptcp() {
	local ns=$1 port=$2
	if [[ -n $(ip netns exec "$ns" ss -HMln "sport = :$port") ]]; then
		echo yes
	else
		echo no
	fi
}

# Prints NS's kernel counters (TcpExt, MPTcpExt, ...) as "NameCounter value"
# lines, read from /proc/net/netstat inside the namespace (no nstat history);
# NS "-" reads the current namespace (no root needed).
nl_counters() {
	if [[ $1 == - ]]; then
		cat /proc/net/netstat
	else
		ip netns exec "$1" cat /proc/net/netstat
	fi | awk '
		$1 in hdr { for (i = 2; i <= NF; i++) print hdr[$1] "" h[$1, i], $i; next }
		{ hdr[$1] = substr($1, 1, length($1) - 1); for (i = 2; i <= NF; i++) h[$1, i] = $i }'
}

# nl_snap NS LABEL: remembers NS's counters under LABEL.
nl_snap() {
	nl_counters "$1" >"$NL_TMP/snap.$2.$1"
}

# nl_delta NS LABEL COUNTER: prints how much COUNTER (e.g.
# MPTcpExtMPJoinAckRx) grew in NS since nl_snap NS LABEL.
nl_delta() {
	local ns=$1 label=$2 name=$3
	local before now
	before=$(awk -v n="$name" '$1 == n { print $2 }' "$NL_TMP/snap.$label.$ns")
	now=$(nl_counters "$ns" | awk -v n="$name" '$1 == n { print $2 }')
	echo $((${now:-0} - ${before:-0}))
}

# nl_sha256 FILE: prints the file's sha256 only.
nl_sha256() {
	sha256sum "$1" | awk '{ print $1 }'
}

# nl_random_file PATH MB: writes MB megabytes of random data.
nl_random_file() {
	head -c "$(($2 * 1024 * 1024))" /dev/urandom >"$1"
}

# nl_side NS LABEL passive|active: sets NL_MPTCP (yes/no) and NL_SUBFLOWS
# from how NS's MPTCP counters grew since nl_snap NS LABEL, as seen by the
# side that accepted the connections (passive: MP_CAPABLE third ACKs and
# MP_JOIN ACKs received) or that opened them (active: MP_CAPABLE and MP_JOIN
# SYN/ACKs received). NL_SUBFLOWS is the subflows per MPTCP connection
# (rounded down), 1 for TCP. NL_CONNS is the number of MPTCP connections.
NL_MPTCP=no
NL_SUBFLOWS=1
NL_CONNS=0
nl_side() {
	local ns=$1 label=$2 side=$3 conns joins
	if [[ $side == passive ]]; then
		conns=$(nl_delta "$ns" "$label" MPTcpExtMPCapableACKRX)
		joins=$(nl_delta "$ns" "$label" MPTcpExtMPJoinAckRx)
	else
		conns=$(nl_delta "$ns" "$label" MPTcpExtMPCapableSYNACKRX)
		joins=$(nl_delta "$ns" "$label" MPTcpExtMPJoinSynAckRx)
	fi
	NL_CONNS=$conns
	if ((conns > 0)); then
		NL_MPTCP=yes
		NL_SUBFLOWS=$((1 + joins / conns))
	else
		NL_MPTCP=no
		NL_SUBFLOWS=1
	fi
}

# nl_result NAME WANT [SUBFLOWS]: prints "NAME: MPTCP yes|no, subflows N,
# data ok|BAD" from NL_MPTCP, NL_SUBFLOWS and NL_DATA, and counts a failure
# unless MPTCP is WANT (yes/no), an MPTCP connection has SUBFLOWS (default
# 2) subflows, and the data is ok.
NL_DATA=BAD
NL_FAILS=0
nl_result() {
	local name=$1 want=$2 subflows=${3:-2} why=()
	echo "$name: MPTCP $NL_MPTCP, subflows $NL_SUBFLOWS, data $NL_DATA"
	[[ $NL_MPTCP == "$want" ]] || why+=("expected MPTCP $want")
	if [[ $want == yes && $NL_SUBFLOWS != "$subflows" ]]; then
		why+=("expected $subflows subflows")
	fi
	[[ $NL_DATA == ok ]] || why+=("data differs")
	if ((${#why[@]})); then
		echo "  ^ FAIL: ${why[*]}"
		NL_FAILS=$((NL_FAILS + 1))
	fi
}

# nl_data_check FILE WANT_SHA: sets NL_DATA to ok when FILE's sha256 is
# WANT_SHA, BAD otherwise (also when FILE is missing).
nl_data_check() {
	if [[ -f $1 && $(nl_sha256 "$1") == "$2" ]]; then
		NL_DATA=ok
	else
		NL_DATA=BAD
	fi
}

# Ends a test: 1 when any nl_result failed, 0 otherwise.
nl_finish() {
	if ((NL_FAILS)); then
		echo "$NL_FAILS check(s) failed"
		exit 1
	fi
	exit 0
}

# Shows the tail of a background program's stderr (for failures).
nl_show_err() {
	local name=$1
	if [[ -s $NL_TMP/$name.err ]]; then
		echo "--- $name stderr:" >&2
		tail -n 20 "$NL_TMP/$name.err" >&2
	fi
}
