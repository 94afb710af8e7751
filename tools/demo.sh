#!/usr/bin/env bash
# tools/demo.sh - mptcpify in about a minute. Builds what is missing, then,
# as root, builds a two-path network between two network namespaces (2 x
# 50 Mbit/s, tests/netns/lib.sh) and shows stock iperf3 and HAProxy + curl
# without and with the shim (throughput, MPTCP or not, subflows, from the
# kernel's counters), then cuts one path in the middle of a transfer.
# Without root it shows a loopback version and says why. Everything it
# creates is removed on exit, also on Ctrl-C.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
builddir=${MPTCPIFY_BUILDDIR:-$top/build}

# ---- build what is missing ------------------------------------------------
if [[ ! -f $builddir/build.ninja ]]; then
	echo "demo: configuring $builddir"
	meson setup "$builddir" "$top" >/dev/null
fi
if [[ ! -x $builddir/tools/mptcpify-run || ! -f $builddir/lib/libmptcpify.so ]]; then
	echo "demo: building mptcpify-run and libmptcpify.so"
	meson compile -C "$builddir" >/dev/null
fi
export MPTCPIFY_RUN=$builddir/tools/mptcpify-run
export MPTCPIFY_LIB=$builddir/lib/libmptcpify.so

# shellcheck source-path=SCRIPTDIR source=../tests/netns/lib.sh
. "$top/tests/netns/lib.sh"
examples=$top/examples

need() {
	local p
	for p in "$@"; do
		command -v "$p" >/dev/null 2>&1 || { echo "demo: $p is not installed" >&2; exit 1; }
	done
}

row() {
	printf '%-26s %-12s %14s   %-5s  %s\n' "$@"
}

# ---- loopback version (no root) ------------------------------------------
loopback_demo() {
	need python3 curl ss
	echo "demo: not root, so no network namespaces (they need CAP_NET_ADMIN): this is"
	echo "      the loopback version. Run as root for two paths, aggregation and failover."
	if [[ $(cat /proc/sys/net/mptcp/enabled 2>/dev/null || echo 0) != 1 ]]; then
		echo "demo: net.mptcp.enabled is not 1 here; the shim will keep TCP (and say so)."
	fi
	NL_TMP=$(mktemp -d "${TMPDIR:-/tmp}/mptcpify-demo.XXXXXX")
	trap nl_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	mkdir "$NL_TMP/www"
	nl_random_file "$NL_TMP/www/data.bin" 8
	local want port
	want=$(nl_sha256 "$NL_TMP/www/data.bin")
	port=$((20000 + RANDOM % 20000))

	echo
	printf '%-24s %-14s %-16s %-18s %s\n' "program" "shim" "listener MPTCP" "connection MPTCP" "8 MiB"
	local mode pre
	for mode in without with; do
		pre=()
		if [[ $mode == with ]]; then
			nl_shim_cmd '*'
			pre=("${NL_SHIM[@]}")
		fi
		timeout 60 "${pre[@]}" python3 -m http.server "$port" --bind ::1 \
			--directory "$NL_TMP/www" >"$NL_TMP/http.out" 2>&1 </dev/null &
		NL_PIDS+=("$!")
		local srv=$! end=$((SECONDS + 10))
		until [[ -n $(ss -Hltn "sport = :$port") ]] || ((SECONDS > end)); do
			sleep 0.1
		done
		# ss -M lists MPTCP sockets only (without -t, which adds TCP ones).
		local listener=no
		[[ -n $(ss -HMln "sport = :$port") ]] && listener=yes
		nl_snap - "$mode"
		timeout 30 "${pre[@]}" curl -sS --max-time 20 -o "$NL_TMP/dst" \
			"http://[::1]:$port/data.bin" || true
		local conn=no data=BAD
		(($(nl_delta - "$mode" MPTcpExtMPCapableACKRX) > 0)) && conn=yes
		[[ $(nl_sha256 "$NL_TMP/dst") == "$want" ]] && data=ok
		printf '%-24s %-14s %-16s %-18s %s\n' "python3 -m http.server" "$mode" \
			"$listener (ss -Mln)" "$conn (MPCapableACKRX)" "$data"
		nl_stop "$srv"
		port=$((port + 1))
	done
	echo
	echo "demo: loopback has one path, so there is nothing to aggregate or fail over."
}

# ---- two-path version (root) ----------------------------------------------
# iperf_run NAME PORT SECONDS RULES|"": rate in Mbit/s of one iperf3 run.
iperf_run() {
	local name=$1 port=$2 secs=$3 pre=()
	if [[ -n $4 ]]; then
		nl_shim_cmd "$4"
		pre=("${NL_SHIM[@]}")
	fi
	nl_bg "srv.$name" "$NL_S" $((secs + 15)) "${pre[@]}" iperf3 -s -1 -p "$port"
	nl_wait_port "$NL_S" "$port"
	nl_run "$NL_C" $((secs + 10)) "${pre[@]}" iperf3 -c "$NL_S1" -p "$port" \
		-t "$secs" -O 1 -J >"$NL_TMP/$name.json" 2>&1 || true
	local _ _ bps
	read -r _ _ bps < <(python3 "$top/tests/netns/iperf-json.py" summary "$NL_TMP/$name.json")
	awk -v b="$bps" 'BEGIN { printf "%.1f", b / 1e6 }'
}

# haproxy_run NAME PORT RULES|"": rate in Mbit/s of curl fetching 16 MiB
# through HAProxy (server ns) from mptcp-backend.py (client ns).
haproxy_run() {
	local name=$1 port=$2 pre=() cpre=()
	if [[ -n $3 ]]; then
		nl_shim_cmd "$3"
		pre=("${NL_SHIM[@]}")
		nl_shim_cmd '*'
		cpre=("${NL_SHIM[@]}")
	fi
	nl_bg "haproxy.$name" "$NL_S" 60 env EXAMPLE_FRONT_PORT="$port" \
		EXAMPLE_PLAIN_PORT=$((port + 1)) EXAMPLE_BACKEND_ADDR="$NL_C1" \
		EXAMPLE_BACKEND_PORT=4331 "${pre[@]}" haproxy -db -f "$examples/haproxy.cfg"
	local hp=$NL_LAST
	nl_wait_port "$NL_S" "$port"
	local bps
	bps=$(nl_run "$NL_C" 30 "${cpre[@]}" curl -sS --max-time 20 -o "$NL_TMP/$name.dst" \
		-w '%{speed_download}' "http://$NL_S1:$port/data" || true)
	nl_stop "$hp"
	if [[ $(nl_sha256 "$NL_TMP/$name.dst") != "$WANT" ]]; then
		echo "demo: the data through HAProxy ($name) is damaged" >&2
	fi
	awk -v b="${bps:-0}" 'BEGIN { printf "%.1f", b * 8 / 1e6 }'
}

# show_row PROGRAM SHIM RATE LABEL: a table row with the kernel's view of
# the connections accepted in the server namespace since nl_snap LABEL.
show_row() {
	nl_side "$NL_S" "$4" passive
	row "$1" "$2" "$3 Mbit/s" "$NL_MPTCP" "subflows $NL_SUBFLOWS"
}

# failover LABEL PORT RULES|"": iperf3 for 7 s, path 1 cut after 2.5 s;
# prints the per-second rates as iperf3 reports them.
failover() {
	local label=$1 port=$2 pre=()
	if [[ -n $3 ]]; then
		nl_shim_cmd "$3"
		pre=("${NL_SHIM[@]}")
	fi
	ip -n "$NL_C" link set nlc1 up
	nl_wait_addr "$NL_C" "$NL_S1" || true
	nl_bg "srv.fo$port" "$NL_S" 25 "${pre[@]}" iperf3 -s -1 -p "$port"
	nl_wait_port "$NL_S" "$port"
	echo
	echo "$label:"
	(
		sleep 2.5
		ip -n "$NL_C" link set nlc1 down
		echo "    ---- path 1 cut (ip link set nlc1 down) ----"
	) &
	local cutter=$!
	NL_PIDS+=("$cutter")
	# Read line by line in bash: awk (mawk) would buffer its input.
	local line words i
	while IFS= read -r line; do
		[[ $line == *sec* && $line != *sender* && $line != *receiver* ]] || continue
		read -ra words <<<"$line"
		for ((i = 1; i < ${#words[@]}; i++)); do
			if [[ ${words[i]} == *bits/sec ]]; then
				printf '    %-12s %7s %s\n' "${words[2]} s" "${words[i - 1]}" "${words[i]}"
			fi
		done
	done < <(nl_run "$NL_C" 10 "${pre[@]}" iperf3 -c "$NL_S1" -p "$port" -t 7 -i 1 \
		--forceflush 2>&1 || true)
	wait "$cutter" 2>/dev/null || true
}

netns_demo() {
	need ip tc iperf3 haproxy curl python3
	echo "demo: two network namespaces joined by two paths of $NL_RATE each (tbf),"
	echo "      MPTCP limits raised, a 'subflow' endpoint on the second path."
	nl_setup 1 1

	nl_random_file "$NL_TMP/src.bin" 16
	WANT=$(nl_sha256 "$NL_TMP/src.bin")
	nl_bg backend "$NL_C" 120 python3 "$examples/mptcp-backend.py" --port 4331 \
		--file "$NL_TMP/src.bin"
	nl_wait_port "$NL_C" 4331

	echo
	row "program" "shim" "throughput" "MPTCP" "subflows (kernel counters)"
	local r ip im hp hm
	nl_snap "$NL_S" ip
	r=$(iperf_run ip 5201 4 "") ip=$r
	show_row "iperf3" "without" "$r" ip
	nl_snap "$NL_S" im
	r=$(iperf_run im 5202 4 'listen@:5202, connect@:5202') im=$r
	show_row "iperf3" "mptcpify-run" "$r" im
	nl_snap "$NL_S" hp
	r=$(haproxy_run hp 8080 "") hp=$r
	show_row "haproxy + curl (16 MiB)" "without" "$r" hp
	nl_snap "$NL_S" hm
	r=$(haproxy_run hm 8090 "listen@:8090, connect@$NL_C1:4331") hm=$r
	show_row "haproxy + curl (16 MiB)" "mptcpify-run" "$r" hm
	awk -v a="$ip" -v b="$im" -v c="$hp" -v d="$hm" 'BEGIN {
		printf "\naggregation (with / without the shim, this run): iperf3 %.2fx, haproxy + curl %.2fx\n",
			(a > 0 ? b / a : 0), (c > 0 ? d / c : 0) }'

	failover "iperf3 under mptcpify-run, Mbit/s per second" 5301 '*'
	failover "plain iperf3 (no shim), same cut" 5302 ""
	echo
	echo "demo: with the shim the transfer moved to path 2 and carried on; plain TCP"
	echo "      had only path 1 and stalled."
}

start=$SECONDS
if ((EUID == 0)) && ip netns list >/dev/null 2>&1; then
	netns_demo
else
	loopback_demo
fi
echo "demo: done in $((SECONDS - start)) s; namespaces and processes removed."
