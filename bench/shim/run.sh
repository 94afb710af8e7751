#!/usr/bin/env bash
# bench/shim/run.sh - what libmptcpify.so costs, side by side with a program
# that asks for IPPROTO_MPTCP itself, with mptcpd's libmptcpwrap and with
# plain TCP. A command, not a test: it reports and never judges.
#
#   run.sh --bench-conn PATH --lib PATH [options]
#   (or: meson compile -C BUILD bench-shim, which passes both paths)
#
# Parts, in this order:
#   1. rates    bench-conn's socket, conn and serial tests for every mode,
#               interleaved (round 1: A B C ..., round 2: B C ... A, ...),
#               each in the same fresh network namespace (unshare -n)
#   1b. focus   the serial test for direct MPTCP, all-mode and the 10-rule
#               policy, back to back for many rounds: paired ratios
#   2. counts   deterministic figures: syscalls per operation (strace -c -f)
#               and user-space instructions per operation (callgrind), both
#               as the slope between two run lengths, so start-up cancels
#   3. bulk     bulk throughput on loopback (same namespace): bench-conn's
#               bulk test (which can ask for MPTCP itself), then iperf3
#   4. failover tests/netns/failover.sh's interval data (iperf3 -i 0.25; the
#               plot and table take the interval from the data), when the script
#               and mptcpify-run are there (it builds its own namespaces)
# Then the tables (markdown, on stdout and in OUT/tables.md) and, with
# --plot-dir, the PNG plots.
#
# Options:
#   --bench-conn PATH   the bench-conn program (env BENCH_CONN)
#   --lib PATH          libmptcpify.so (env MPTCPIFY_LIB)
#   --wrap PATH         libmptcpwrap.so.0 (default: found with dpkg -L)
#   --run PATH          mptcpify-run, for the failover part (env MPTCPIFY_RUN)
#   --rounds N          rounds of the rate part (default 11)
#   --focus-rounds N    rounds of the focused A/B part (default 40)
#   --duration S        seconds per rate measurement (default 0.25)
#   --iperf-seconds S   iperf3 -t (default 5); --iperf-rounds N (default 3,
#                       also the rounds of the 2 s bench-conn bulk test)
#   --skip PART         leave out rates, focus, counts, bulk, iperf3 or failover
#                       (repeatable)
#   --out DIR           where raw data and tables go (default: a new temp dir)
#   --plot-dir DIR      write bench-conn-rate.png (and bench-failover.png) there
#
# Needs root (namespaces), strace, valgrind, iperf3, jq, nstat; a part whose
# tools are missing is skipped with one line saying so.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src_root=$(cd "$here/../.." && pwd)

bench_conn=${BENCH_CONN:-}
lib=${MPTCPIFY_LIB:-}
run_tool=${MPTCPIFY_RUN:-}
wrap=
rounds=11
focus_rounds=40
duration=0.25
iperf_seconds=5
iperf_rounds=3
out=
plot_dir=
skip=" "
inner=

die() {
	echo "run.sh: $*" >&2
	exit 1
}

while (($#)); do
	case $1 in
	--bench-conn) bench_conn=$2; shift 2 ;;
	--lib) lib=$2; shift 2 ;;
	--wrap) wrap=$2; shift 2 ;;
	--run) run_tool=$2; shift 2 ;;
	--rounds) rounds=$2; shift 2 ;;
	--focus-rounds) focus_rounds=$2; shift 2 ;;
	--duration) duration=$2; shift 2 ;;
	--iperf-seconds) iperf_seconds=$2; shift 2 ;;
	--iperf-rounds) iperf_rounds=$2; shift 2 ;;
	--skip) skip+="$2 "; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--plot-dir) plot_dir=$2; shift 2 ;;
	--inner) inner=1; shift ;; # internal: already in the namespace
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument $1 (see --help)" ;;
	esac
done

[[ -n $bench_conn && -x $bench_conn ]] || die "--bench-conn: bench-conn program not found"
[[ -n $lib && -f $lib ]] || die "--lib: libmptcpify.so not found"
((EUID == 0)) || die "needs root (it creates network namespaces)"
bench_conn=$(realpath "$bench_conn")
lib=$(realpath "$lib")
if [[ -z $wrap ]]; then
	wrap=$(dpkg -L libmptcpwrap0 2>/dev/null | grep -m1 '/libmptcpwrap\.so\.0$' || true)
fi
[[ -n $run_tool ]] && run_tool=$(realpath "$run_tool")

skipped() { [[ $skip == *" $1 "* ]]; }
have() { command -v "$1" >/dev/null; }

# Nothing from the caller's environment may change what is measured.
unset LD_PRELOAD MPTCPIFY_ADDRS MPTCPIFY_STRATEGY MPTCPIFY_LOG MPTCPIFY_STATS MPTCPIFY_OPTIONS

# ---- the modes ---------------------------------------------------------------
# Ten rules, none of them about loopback, then (in the matching policy) one
# that is: the listener (127.0.0.1:port) and the connection both match it.
pol10_head='connect@10.0.0.0/8, listen@:443, 192.168.0.0/16, !172.16.0.0/12,
[2001:db8::]/32, connect@198.51.100.0/24:80, 203.0.113.7, listen@0.0.0.0/0:8443,
100.64.0.0/10'
pol10_match="$pol10_head, 127.0.0.0/8"
pol10_miss="$pol10_head, 192.0.2.0/24"

# 9,999 random distinct rules (IPv4 prefixes /8 to /24 outside 127/8, IPv6
# /16 prefixes in 2000::/3), then 127.0.0.0/8: a connection on loopback is
# decided by the last rule. Fixed seed: the same policy every run. Sized to
# fit one environment string (at most 128 KiB on Linux).
gen_policy() {
	awk -v seed=42 -v n=10000 -v frac4=0.55 '
	function v4(   a, p, x, m, s, i) {
		do { a = int(rand() * 223) + 1 } while (a == 127)
		x = a * 16777216 + int(rand() * 16777216)
		p = 8 + int(rand() * 17)
		m = 2 ^ (32 - p)
		x = int(x / m) * m
		s = ""
		for (i = 3; i >= 0; i--)
			s = s (i < 3 ? "." : "") int(x / 2 ^ (8 * i)) % 256
		return s "/" p
	}
	function v6() { return sprintf("%x::/16", 8192 + int(rand() * 8192)) }
	BEGIN {
		srand(seed)
		for (i = 1; i < n; i++) {
			do { r = rand() < frac4 ? v4() : v6() } while (r in seen)
			seen[r] = 1
			printf "%s,", r
		}
		printf "127.0.0.0/8"
	}'
}

modes=(tcp mptcp mptcpwrap all pol10 pol10miss tcpfirst tcpfirstmiss pol10k)
[[ -n $wrap && -f $wrap ]] || {
	echo "run.sh: libmptcpwrap0 not installed: mode mptcpwrap left out" >&2
	modes=(tcp mptcp all pol10 pol10miss tcpfirst tcpfirstmiss pol10k)
	wrap=
}

declare -A label=(
	[tcp]="plain TCP, no shim"
	[mptcp]="direct IPPROTO_MPTCP, no shim"
	[mptcpwrap]="libmptcpwrap (mptcpize)"
	[all]="libmptcpify, ADDRS unset (all-mode)"
	[pol10]="libmptcpify, 10 rules, match"
	[pol10miss]="libmptcpify, 10 rules, no match (replaced by TCP)"
	[tcpfirst]="libmptcpify tcp-first, 10 rules, match (replaced by MPTCP)"
	[tcpfirstmiss]="libmptcpify tcp-first, 10 rules, no match"
	[pol10k]="libmptcpify, 10,000 rules, last matches"
)

# labels for the plot's x axis (gnuplot turns \n into a line break)
declare -A short=(
	[tcp]="plain TCP"
	[mptcp]="direct\nMPTCP"
	[mptcpwrap]="libmptcpwrap"
	[all]="mptcpify\nall-mode"
	[pol10]="mptcpify\n10 rules\nmatch"
	[pol10miss]="mptcpify\n10 rules, miss\n(-> TCP)"
	[tcpfirst]="tcp-first\n10 rules, match\n(-> MPTCP)"
	[tcpfirstmiss]="tcp-first\n10 rules\nmiss"
	[pol10k]="mptcpify\n10,000 rules\nmatch"
)

# mode_env MODE: sets ENVS (VAR=value assignments for the program) and PROTO
# (what bench-conn passes to socket()).
mode_env() {
	ENVS=()
	PROTO=0
	case $1 in
	tcp) ;;
	mptcp) PROTO=262 ;;
	mptcpwrap) ENVS=("LD_PRELOAD=$wrap") ;;
	all) ENVS=("LD_PRELOAD=$lib") ;;
	pol10) ENVS=("LD_PRELOAD=$lib" "MPTCPIFY_ADDRS=$pol10_match") ;;
	pol10miss) ENVS=("LD_PRELOAD=$lib" "MPTCPIFY_ADDRS=$pol10_miss") ;;
	tcpfirst) ENVS=("LD_PRELOAD=$lib" MPTCPIFY_STRATEGY=tcp-first "MPTCPIFY_ADDRS=$pol10_match") ;;
	tcpfirstmiss) ENVS=("LD_PRELOAD=$lib" MPTCPIFY_STRATEGY=tcp-first "MPTCPIFY_ADDRS=$pol10_miss") ;;
	pol10k) ENVS=("LD_PRELOAD=$lib" "MPTCPIFY_ADDRS=$pol10k") ;;
	*) die "unknown mode $1" ;;
	esac
}

# ---- part 1: rates -------------------------------------------------------------
part_rates() {
	local r i n=${#modes[@]} t m line
	echo "== rates: ${#modes[@]} modes x 3 tests x $rounds rounds x ${duration}s" >&2
	: >"$out/rates.raw"
	: >"$out/cookie.raw"
	for ((r = 0; r < rounds; r++)); do
		for t in socket conn serial; do
			for ((i = 0; i < n; i++)); do
				m=${modes[(i + r) % n]} # rotate: no mode always runs first
				mode_env "$m"
				line=$(timeout 30 env "${ENVS[@]}" "$bench_conn" -t "$t" -p "$PROTO" \
					-d "$duration") || die "bench-conn failed in mode $m, test $t"
				echo "mode=$m round=$r $line" >>"$out/rates.raw"
			done
		done
		# what one getsockopt(SO_COOKIE) costs: turns syscall counts into time
		line=$(timeout 30 "$bench_conn" -t cookie -p 262 -d "$duration") ||
			die "bench-conn -t cookie failed"
		echo "mode=mptcp round=$r $line" >>"$out/cookie.raw"
	done
}

# ---- part 1b: focused A/B ---------------------------------------------------------
# The goals are ratios of a few percent, below the rate part's spread: so the
# serial test alone, direct MPTCP / all-mode / 10-rule policy, back to back
# for many short rounds, each mode compared with direct MPTCP of its round.
part_focus() {
	local r m line
	echo "== focus: serial test, mptcp/all/pol10 x $focus_rounds rounds x ${duration}s" >&2
	: >"$out/focus.raw"
	for ((r = 0; r < focus_rounds; r++)); do
		for m in mptcp all pol10; do
			mode_env "$m"
			line=$(timeout 30 env "${ENVS[@]}" "$bench_conn" -t serial -p "$PROTO" -d "$duration") ||
				die "bench-conn failed in mode $m (focus)"
			echo "mode=$m round=$r $line" >>"$out/focus.raw"
		done
	done
}

# ---- part 2: deterministic counts ------------------------------------------------
# Each figure is a slope: (value at N2 operations - value at N1) / (N2 - N1),
# so that loading, the policy's parsing and the first-call set-up cancel out.
count_n() { # TEST -> "N1 N2" for strace / callgrind
	case $1 in
	socket) echo "1000 5000" ;;
	serial) echo "500 2500" ;;
	esac
}

# strace_counts MODE TEST N FILE: per-syscall call counts ("name calls").
strace_counts() {
	local e opts=()
	mode_env "$1"
	for e in "${ENVS[@]}"; do opts+=(-E "$e"); done
	timeout 120 strace -f -c -o "$4.strace" "${opts[@]}" \
		"$bench_conn" -t "$2" -p "$PROTO" -n "$3" -d 100 >/dev/null
	awk '$1 ~ /^[0-9.]+$/ && NF >= 5 && $NF != "total" { print $NF, $4 }' "$4.strace" >"$4"
}

# callgrind_ir MODE TEST N: total user-space instructions executed (the
# profile stays in OUT/cg.MODE.TEST.N for the per-function figures).
callgrind_ir() {
	local log
	mode_env "$1"
	log=$(timeout 300 env "${ENVS[@]}" valgrind --tool=callgrind --callgrind-out-file="$out/cg.$1.$2.$3" \
		"$bench_conn" -t "$2" -p "$PROTO" -n "$3" -d 1000 2>&1 >/dev/null)
	awk '/Collected :/ { print $NF }' <<<"$log"
}

# fn_ir FILE: "function inclusive-Ir calls" for the calls bench-conn itself
# makes to socket, setsockopt, connect and close: whatever answers them (a
# preloaded interposer or libc), callees included. From the calling tree, so
# the figure is exact for that call site.
fn_ir() {
	callgrind_annotate --auto=no --inclusive=yes --tree=calling --threshold=100 "$1" | awk '
		{ sub(/\([^)]*%\)/, "") } # "1,234 (12.34%)  *  file:function [object]"
		$2 == "*" { caller = $NF ~ /bench-conn\]$/ }
		caller && $2 == ">" && $3 ~ /:(socket|setsockopt|connect|close)$/ {
			f = $3; sub(/.*:/, "", f)
			v = $1; gsub(/,/, "", v)
			n = $4; gsub(/[(),x]/, "", n)
			ir[f] += v; calls[f] += n
		}
		END {
			n = split("socket setsockopt connect close", fs, " ")
			for (i = 1; i <= n; i++) print fs[i], ir[fs[i]] + 0, calls[fs[i]] + 0
		}'
}

part_counts() {
	local m t n1 n2 have_strace=1 have_vg=1
	have strace || { echo "run.sh: strace not installed: syscall counts skipped" >&2; have_strace=; }
	have valgrind || { echo "run.sh: valgrind not installed: instruction counts skipped" >&2; have_vg=; }
	echo "== counts: strace -c -f and callgrind, ${#modes[@]} modes x 2 tests x 2 lengths" >&2
	: >"$out/syscalls.raw"
	: >"$out/instructions.raw"
	: >"$out/perfn.raw"
	for t in socket serial; do
		read -r n1 n2 < <(count_n "$t")
		for m in "${modes[@]}"; do
			if [[ -n $have_strace ]]; then
				strace_counts "$m" "$t" "$n1" "$out/sc.$m.$t.1"
				strace_counts "$m" "$t" "$n2" "$out/sc.$m.$t.2"
				# "mode test syscall per-op" for every syscall whose count moved
				awk -v m="$m" -v t="$t" -v d=$((n2 - n1)) '
					FNR == NR { a[$1] = $2; next }
					{ b[$1] = $2 }
					END {
						for (k in a) if (!(k in b)) b[k] = 0
						for (k in b) printf "%s %s %s %.3f\n", m, t, k, (b[k] - a[k]) / d
					}' "$out/sc.$m.$t.1" "$out/sc.$m.$t.2" >>"$out/syscalls.raw"
			fi
			if [[ -n $have_vg ]]; then
				local i1 i2
				i1=$(callgrind_ir "$m" "$t" "$n1")
				i2=$(callgrind_ir "$m" "$t" "$n2")
				echo "$m $t $n1 $i1 $n2 $i2" >>"$out/instructions.raw"
				if [[ $t == serial ]] && have callgrind_annotate; then
					# per call: slope per cycle; two close() calls per cycle
					# per call, as the slope between the two lengths
					join <(fn_ir "$out/cg.$m.$t.$n1" | sort) <(fn_ir "$out/cg.$m.$t.$n2" | sort) |
						awk -v m="$m" '$5 > $3 { printf "%s %s %.1f\n", m, $1, ($4 - $2) / ($5 - $3) }' \
							>>"$out/perfn.raw"
				fi
			fi
		done
	done
	rm -f "$out"/cg.*
}

# ---- part 3: bulk throughput ---------------------------------------------------------
# bench-conn's bulk test (which, unlike iperf3 3.12, can ask for MPTCP itself)
# then iperf3, both on loopback in this namespace.
part_bulk() {
	local r m line bmodes=(tcp mptcp all pol10)
	[[ -n $wrap ]] && bmodes=(tcp mptcp mptcpwrap all pol10)
	echo "== bulk: bench-conn -t bulk, ${#bmodes[@]} modes x $iperf_rounds rounds x 2s" >&2
	: >"$out/bulk.raw"
	for ((r = 0; r < iperf_rounds; r++)); do
		for m in "${bmodes[@]}"; do
			mode_env "$m"
			line=$(timeout 30 env "${ENVS[@]}" "$bench_conn" -t bulk -p "$PROTO" -d 2) ||
				die "bench-conn -t bulk failed in mode $m"
			echo "mode=$m round=$r $line" >>"$out/bulk.raw"
		done
	done
}

# ---- part 3b: iperf3 ------------------------------------------------------------------
# MPTCP connections the kernel of this namespace has accepted so far.
mpc_syn_rx() {
	nstat -asz MPTcpExtMPCapableSYNRX 2>/dev/null | awk '$1 == "MPTcpExtMPCapableSYNRX" { v = $2 } END { print v + 0 }'
}

wait_port() { # PORT: until something listens on it (at most 5 s)
	local i
	for ((i = 0; i < 100; i++)); do
		ss -Hltn "sport = :$1" | grep -q . && return 0
		sleep 0.05
	done
	return 1
}

part_iperf() {
	local r m port=5201 before after bps imodes=(tcp all) spid
	if ! have iperf3 || ! have jq || ! have nstat; then
		echo "run.sh: iperf3, jq or nstat missing: throughput part skipped" >&2
		return 0
	fi
	[[ -n $wrap ]] && imodes=(tcp mptcpwrap all)
	echo "== iperf3: ${#imodes[@]} modes x $iperf_rounds rounds x ${iperf_seconds}s" >&2
	: >"$out/iperf.raw"
	for ((r = 0; r < iperf_rounds; r++)); do
		for m in "${imodes[@]}"; do
			mode_env "$m"
			port=$((port + 1))
			before=$(mpc_syn_rx)
			timeout $((iperf_seconds + 20)) env "${ENVS[@]}" iperf3 -s -1 -p "$port" \
				>"$out/iperf.$m.$r.srv" 2>&1 &
			spid=$!
			wait_port "$port" || die "iperf3 server did not start (mode $m)"
			timeout $((iperf_seconds + 15)) env "${ENVS[@]}" iperf3 -c 127.0.0.1 -p "$port" \
				-t "$iperf_seconds" -J >"$out/iperf.$m.$r.json" ||
				die "iperf3 client failed (mode $m)"
			wait "$spid" || true
			after=$(mpc_syn_rx)
			bps=$(jq -r '.end.sum_received.bits_per_second' "$out/iperf.$m.$r.json")
			echo "$m $r $bps $((after - before)) $iperf_seconds" >>"$out/iperf.raw"
		done
	done
}

# ---- part 4: failover (tests/netns/failover.sh's data) ------------------------------------
part_failover() {
	local script=$src_root/tests/netns/failover.sh tmp log
	if [[ ! -f $script ]]; then
		echo "run.sh: $script not found: failover part skipped" >&2
		return 0
	fi
	if [[ -z $run_tool || ! -x $run_tool ]]; then
		echo "run.sh: no mptcpify-run (--run): failover part skipped" >&2
		return 0
	fi
	echo "== failover: $script" >&2
	tmp=$(mktemp -d "$out/failover.XXXXXX")
	log=$out/failover.log
	TMPDIR=$tmp NL_KEEP=1 MPTCPIFY_RUN=$run_tool MPTCPIFY_LIB=$lib \
		timeout 120 bash "$script" >"$log" 2>&1 || echo "run.sh: failover.sh exited $? (see $log)" >&2
	local d
	d=$(find "$tmp" -mindepth 1 -maxdepth 1 -type d | head -n1)
	if [[ -n $d && -f $d/mptcp.iv && -f $d/tcp.iv ]]; then
		cp "$d/mptcp.iv" "$out/failover.mptcp.iv"
		cp "$d/tcp.iv" "$out/failover.tcp.iv"
		# the cut as the kept mptcp attempt (the last one) and the TCP run saw it
		{
			sed -n 's/^under mptcpify.*path 1 down at \([0-9.]*\)s.*/\1/p' "$log" | tail -n1
			sed -n 's/^plain TCP, path 1 down at \([0-9.]*\)s.*/\1/p' "$log" | tail -n1
		} | paste -sd' ' >"$out/failover.down"
	else
		echo "run.sh: failover.sh left no interval data (see $log)" >&2
	fi
	rm -rf "$tmp"
}

# ---- tables ----------------------------------------------------------------------------
# stats: reads "key value" lines, prints "key median min max n" (the median of
# an even count is the mean of the middle two).
stats() {
	sort -k1,1 -k2,2g | awk '
		function flush() {
			if (n) {
				med = n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
				print k, med, v[1], v[n], n
			}
		}
		$1 != k { flush(); k = $1; n = 0 }
		{ v[++n] = $2 }
		END { flush() }'
}

field() { # NAME: the value of NAME= on each line of stdin
	sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p"
}

table_rates() {
	local t m med lo hi ref rmed cp sp
	local -A rate cpus protos
	echo "### $1"
	echo
	echo "| mode | kernel sees (client/server) | ops/s median | min–max | vs direct MPTCP | paired | vs same-protocol reference | CPU µs/op (median) |"
	echo "|---|---|---:|---:|---:|---:|---:|---:|"
	t=$2
	# paired: the median over rounds of (this mode's rate / direct MPTCP's
	# rate in the same round), less sensitive to load that drifts
	local -A paired
	while read -r m med _; do paired[$m]=$med; done < <(
		awk -v t=" test=$t " 'index($0, t) {
			m = $1; sub(/^mode=/, "", m); r = $2; sub(/^round=/, "", r)
			x = $0; sub(/.* rate=/, "", x); sub(/ .*/, "", x)
			v[m, r] = x; mode[m] = 1; round[r] = 1
		}
		END { for (m in mode) for (r in round) if (v["mptcp", r] > 0) print m, v[m, r] / v["mptcp", r] }' \
			"$out/rates.raw" | stats)
	while read -r m med lo hi _; do rate[$m]="$med $lo $hi"; done < <(
		awk -v t="$t" '$0 ~ " test=" t " " { print }' "$out/rates.raw" |
			while read -r line; do
				echo "$(field mode <<<" $line") $(field rate <<<" $line")"
			done | stats)
	while read -r m med _; do cpus[$m]=$med; done < <(
		awk -v t="$t" '$0 ~ " test=" t " " { print }' "$out/rates.raw" |
			while read -r line; do
				echo "$(field mode <<<" $line") $(field cpu_us_per_op <<<" $line")"
			done | stats)
	for m in "${modes[@]}"; do
		line=$(awk -v m="mode=$m" -v t="test=$t" '$1 == m && $0 ~ t" " { print; exit }' "$out/rates.raw")
		cp=$(field client_proto <<<" $line")
		sp=$(field server_proto <<<" $line")
		protos[$m]="$cp/$sp"
	done
	for m in "${modes[@]}"; do
		[[ -n ${rate[$m]:-} ]] || continue
		read -r med lo hi <<<"${rate[$m]}"
		ref=mptcp
		[[ ${protos[$m]%%/*} == 6 ]] && ref=tcp
		read -r rmed _ <<<"${rate[$ref]}"
		local dm
		read -r dm _ <<<"${rate[mptcp]}"
		awk -v l="${label[$m]}" -v p="${protos[$m]}" -v med="$med" -v lo="$lo" -v hi="$hi" \
			-v dm="$dm" -v rm="$rmed" -v ref="$ref" -v cpu="${cpus[$m]}" -v pr="${paired[$m]:-0}" 'BEGIN {
			n = split(p, q, "/")
			pn = ""
			for (i = 1; i <= n; i++)
				if (q[i] != -1)
					pn = pn (i > 1 ? "/" : "") (q[i] == 262 ? "MPTCP" : q[i] == 6 ? "TCP" : q[i])
			printf "| %s | %s | %.0f | %.0f–%.0f | %.3f | %.3f | %.3f (%s) | %.2f |\n",
				l, pn, med, lo, hi, med / dm, pr, med / rm, ref == "tcp" ? "plain TCP" : "direct MPTCP", cpu
		}'
	done
	echo
}

# quartiles: reads "key value" lines, prints "key q1 median q3 n"
quartiles() {
	sort -k1,1 -k2,2g | awk '
		function q(p,   x, i) { x = 1 + p * (n - 1); i = int(x); return v[i] + (x - i) * (v[i + 1] - v[i]) }
		function flush() { if (n) print k, q(0.25), q(0.5), q(0.75), n }
		$1 != k { flush(); k = $1; n = 0 }
		{ v[++n] = $2 }
		END { flush() }'
}

table_focus() {
	[[ -s $out/focus.raw ]] || return 0
	local n
	n=$(awk '$1 == "mode=mptcp" { n++ } END { print n + 0 }' "$out/focus.raw")
	echo "### Focused A/B: serial connect + accept, $n rounds of direct MPTCP, all-mode, 10-rule policy back to back"
	echo
	echo "Each figure is the median over rounds of (this mode / direct MPTCP in the same round), with the interquartile range."
	echo
	echo "| mode | connection rate vs direct MPTCP | CPU time per connection vs direct MPTCP |"
	echo "|---|---:|---:|"
	local m q1 md q3 c1 cm c3
	for m in all pol10; do
		read -r _ q1 md q3 _ < <(awk -v m="$m" -v k=rate '
			{ x = $0; sub(".* " k "=", "", x); sub(/ .*/, "", x); r = $2; mm = $1
			  sub(/^mode=/, "", mm); v[mm, r] = x; rs[r] = 1 }
			END { for (r in rs) if (v["mptcp", r] > 0 && (m, r) in v) print m, v[m, r] / v["mptcp", r] }' \
			"$out/focus.raw" | quartiles) || continue
		read -r _ c1 cm c3 _ < <(awk -v m="$m" -v k=cpu_us_per_op '
			{ x = $0; sub(".* " k "=", "", x); sub(/ .*/, "", x); r = $2; mm = $1
			  sub(/^mode=/, "", mm); v[mm, r] = x; rs[r] = 1 }
			END { for (r in rs) if (v["mptcp", r] > 0 && (m, r) in v) print m, v[m, r] / v["mptcp", r] }' \
			"$out/focus.raw" | quartiles) || continue
		awk -v l="${label[$m]}" -v a="$q1" -v b="$md" -v c="$q3" -v d="$c1" -v e="$cm" -v f="$c3" \
			'BEGIN { printf "| %s | %.3f (%.3f–%.3f) | %.3f (%.3f–%.3f) |\n", l, b, a, c, e, d, f }'
	done
	echo
}

# syscalls per operation, beyond the same program without any shim
table_syscalls() {
	[[ -s $out/syscalls.raw ]] || return 0
	echo "### Syscalls per operation (strace -c -f, slope over $(count_n serial | tr ' ' '-') connections / $(count_n socket | tr ' ' '-') sockets)"
	echo
	if [[ -s $out/cookie.raw ]]; then
		local cpu wall
		read -r _ cpu _ < <(field cpu_us_per_op <"$out/cookie.raw" | sed 's/^/c /' | stats)
		read -r _ wall _ < <(field rate <"$out/cookie.raw" | sed 's/^/r /' | stats)
		awk -v c="$cpu" -v w="$wall" 'BEGIN {
			printf "For scale: one getsockopt(SO_COOKIE) on an MPTCP socket costs %.2f µs of CPU (median; %.2f µs wall clock).\n\n", c, 1e6 / w
		}'
	fi
	echo "| mode | per socket()+close() | extra vs no shim | per connection (serial) | extra vs no shim |"
	echo "|---|---:|---|---:|---|"
	local m
	for m in "${modes[@]}"; do
		awk -v m="$m" -v l="${label[$m]}" '
			function extra(t, base,   k, s, d, keys, n, i) {
				s = ""
				for (k in c) {
					split(k, p, SUBSEP)
					if (p[1] != m || p[2] != t) continue
					d = c[k] - c[base, t, p[3]]
					if (d > 0.0005 || d < -0.0005) s = s sprintf("%s%s %+.2f", (s ? ", " : ""), p[3], d)
				}
				return s ? s : "none"
			}
			{ c[$1, $2, $3] = $4; tot[$1, $2] += $4 }
			END {
				base = "tcp"
				printf "| %s | %.2f | %s | %.2f | %s |\n", l, tot[m, "socket"],
					extra("socket", base), tot[m, "serial"], extra("serial", base)
			}' "$out/syscalls.raw"
	done
	echo
}

table_instructions() {
	[[ -s $out/instructions.raw ]] || return 0
	echo "### User-space instructions (callgrind Ir; slope between two run lengths)"
	echo
	echo "| mode | per socket()+close() | extra vs no shim | per connection (serial) | extra vs no shim | one-time extra (load, parse) |"
	echo "|---|---:|---:|---:|---:|---:|"
	local m
	for m in "${modes[@]}"; do
		awk -v m="$m" -v l="${label[$m]}" '
			{
				s = ($6 - $4) / ($5 - $3)
				slope[$1, $2] = s
				icpt[$1, $2] = $4 - s * $3
			}
			END {
				b = "tcp"
				printf "| %s | %.0f | %+.0f | %.0f | %+.0f | %+.0f |\n", l,
					slope[m, "socket"], slope[m, "socket"] - slope[b, "socket"],
					slope[m, "serial"], slope[m, "serial"] - slope[b, "serial"],
					icpt[m, "serial"] - icpt[b, "serial"]
			}' "$out/instructions.raw"
	done
	echo
}

table_perfn() {
	[[ -s $out/perfn.raw ]] || return 0
	echo "### User-space instructions added per intercepted call (callgrind, serial cycle: the call's inclusive cost minus that of libc's own wrapper)"
	echo
	echo "| mode | socket() | setsockopt() | connect() | close() |"
	echo "|---|---:|---:|---:|---:|"
	local m
	for m in "${modes[@]}"; do
		[[ $m == tcp || $m == mptcp ]] && continue
		awk -v m="$m" -v l="${label[$m]}" '
			{ v[$1, $2] = $3 }
			END {
				printf "| %s", l
				n = split("socket setsockopt connect close", fs, " ")
				for (i = 1; i <= n; i++) printf " | %+.0f", v[m, fs[i]] - v["tcp", fs[i]]
				print " |"
			}' "$out/perfn.raw"
	done
	echo
}

table_bulk() {
	[[ -s $out/bulk.raw ]] || return 0
	echo "### Bulk throughput on loopback, bench-conn -t bulk (2 s, $iperf_rounds rounds, Gbit/s)"
	echo
	echo "| mode | kernel sees | median | min–max | vs direct MPTCP | CPU ms per GiB (median) |"
	echo "|---|---|---:|---:|---:|---:|"
	local m med lo hi dm line p
	local -A rate cpus
	while read -r m med lo hi _; do rate[$m]="$med $lo $hi"; done < <(
		while read -r line; do
			echo "$(field mode <<<" $line") $(field rate <<<" $line")"
		done <"$out/bulk.raw" | stats)
	while read -r m med _; do cpus[$m]=$med; done < <(
		while read -r line; do
			echo "$(field mode <<<" $line") $(field cpu_us_per_op <<<" $line")"
		done <"$out/bulk.raw" | stats)
	read -r dm _ <<<"${rate[mptcp]}"
	for m in "${modes[@]}"; do
		[[ -n ${rate[$m]:-} ]] || continue
		read -r med lo hi <<<"${rate[$m]}"
		line=$(awk -v m="mode=$m" '$1 == m { print; exit }' "$out/bulk.raw")
		p=$(field client_proto <<<" $line")/$(field server_proto <<<" $line")
		p=${p//262/MPTCP}
		p=${p//6/TCP}
		# MiB/s to Gbit/s; CPU µs per MiB to ms per GiB
		awk -v l="${label[$m]}" -v p="$p" -v med="$med" -v lo="$lo" -v hi="$hi" -v dm="$dm" \
			-v cpu="${cpus[$m]}" 'BEGIN {
			g = 8 * 1048576 / 1e9
			printf "| %s | %s | %.2f | %.2f–%.2f | %.3f | %.0f |\n", l, p, med * g, lo * g, hi * g,
				med / dm, cpu * 1024 / 1000
		}'
	done
	echo
}

table_iperf() {
	[[ -s $out/iperf.raw ]] || return 0
	local m med lo hi ref secs n
	local -A rate
	read -r secs n < <(awk '{ s = $5; if ($2 + 1 > n) n = $2 + 1 } END { print s, n }' "$out/iperf.raw")
	echo "### Bulk throughput on loopback, iperf3 -t $secs ($n rounds, Gbit/s; iperf3 3.12 cannot ask for MPTCP itself)"
	echo
	echo "| mode | median | min–max | vs plain TCP | vs libmptcpwrap | MPTCP connections the kernel saw per run |"
	echo "|---|---:|---:|---:|---:|---:|"
	while read -r m med lo hi _; do rate[$m]="$med $lo $hi"; done < <(awk '{ print $1, $3 }' "$out/iperf.raw" | stats)
	for m in "${modes[@]}"; do
		[[ -n ${rate[$m]:-} ]] || continue
		read -r med lo hi <<<"${rate[$m]}"
		local mpc
		mpc=$(awk -v m="$m" '$1 == m { print $4 }' "$out/iperf.raw" | sort -u | paste -sd/)
		ref=${rate[mptcpwrap]:-}
		awk -v l="${label[$m]}" -v med="$med" -v lo="$lo" -v hi="$hi" -v t="${rate[tcp]%% *}" \
			-v w="${ref%% *}" -v c="$mpc" 'BEGIN {
			printf "| %s | %.2f | %.2f–%.2f | %.3f | %s | %s |\n", l, med / 1e9, lo / 1e9, hi / 1e9,
				med / t, w ? sprintf("%.3f", med / w) : "-", c
		}'
	done
	echo
}

# iv_len FILE: the length of iperf3's reporting interval in an .iv file
# ("START END BPS" lines), as the median of END - START, e.g. 0.25
iv_len() {
	awk '{ print "i", $2 - $1 }' "$1" | stats | awk '{ printf "%g\n", int($2 * 100 + 0.5) / 100 }'
}

# ---- plots -----------------------------------------------------------------------------
plot_rates() {
	local dat=$out/conn-rate.dat m t i=0 xt="" row
	have gnuplot || { echo "run.sh: gnuplot not installed: no plots" >&2; return 0; }
	: >"$dat"
	for m in "${modes[@]}"; do
		row="$i"
		for t in conn serial; do
			row+=" $(awk -v m="mode=$m" -v t=" test=$t " '$1 == m && index($0, t) { print }' "$out/rates.raw" |
				field rate | sed "s/^/$m /" | stats | cut -d' ' -f2-4)"
		done
		echo "$row" >>"$dat"
		xt+="${xt:+, }\"${short[$m]}\" $i"
		i=$((i + 1))
	done
	gnuplot <<EOF
set terminal pngcairo size 1100,560 font "sans,10"
set output "$plot_dir/bench-conn-rate.png"
set title "Loopback connect + accept rate per mode: median and min-max of $rounds interleaved rounds ($(nproc) CPUs, kernel $(uname -r))"
set ylabel "connections per second"
set yrange [0:*]
set style fill solid 0.7 border -1
set boxwidth 0.38
set xtics ($xt) noenhanced
set xrange [-0.6:$((i - 1)).6]
set bmargin 6
set grid ytics
set offsets graph 0, graph 0, graph 0.15, 0
set key top center horizontal
plot "$dat" using (\$1 - 0.2):2 with boxes lc rgb "#4a7ab5" title "client and server threads (conn)", \\
     "" using (\$1 - 0.2):2:3:4 with yerrorbars lc rgb "black" pt 0 notitle, \\
     "" using (\$1 + 0.2):5 with boxes lc rgb "#d9a441" title "one thread (serial)", \\
     "" using (\$1 + 0.2):5:6:7 with yerrorbars lc rgb "black" pt 0 notitle
EOF
	echo "run.sh: wrote $plot_dir/bench-conn-rate.png" >&2
}

plot_failover() {
	[[ -f $out/failover.mptcp.iv && -f $out/failover.tcp.iv ]] || return 0
	have gnuplot || return 0
	local d1="" d2="" marks=""
	read -r d1 d2 <"$out/failover.down" || true
	local iv
	iv=$(iv_len "$out/failover.mptcp.iv")
	# the cut, as each run measured it from its client's start
	[[ -n $d1 ]] && marks+="set arrow from $d1, graph 0 to $d1, graph 1 nohead dt 2 lc rgb '#b54a4a'
set label 'path 1 down' at $d1, graph 0.95 offset 0.5,0 tc rgb '#b54a4a'
"
	[[ -n $d2 && $d2 != "$d1" ]] && marks+="set arrow from $d2, graph 0 to $d2, graph 1 nohead dt 3 lc rgb '#b54a4a'
"
	gnuplot <<EOF
set terminal pngcairo size 900,480 font "sans,10"
set output "$plot_dir/bench-failover.png"
set title "iperf3 over two rate-limited paths; path 1 taken down mid-transfer (tests/netns/failover.sh)"
set xlabel "seconds since the client started"
set ylabel "Mbit/s ($iv s intervals)"
set yrange [0:*]
set grid
set key top right
$marks
plot "$out/failover.mptcp.iv" using 2:(\$3/1e6) with linespoints lw 2 title "under libmptcpify (mptcpify-run)", \\
     "$out/failover.tcp.iv" using 2:(\$3/1e6) with linespoints lw 2 title "plain TCP, no shim"
EOF
	echo "run.sh: wrote $plot_dir/bench-failover.png" >&2
}

# ---- main --------------------------------------------------------------------------------
# Everything runs from a function called on the script's last line, so that
# bash has read the whole file before anything runs (editing the script
# during a run cannot change the run).
main() {
	if [[ -n $inner ]]; then
		# inside the fresh namespace: loopback up, then the loopback parts
		ip link set lo up
		pol10k=$(gen_policy)
		skipped rates || part_rates
		skipped focus || part_focus
		skipped counts || part_counts
		skipped bulk || part_bulk
		skipped iperf3 || part_iperf
		return 0
	fi

	if [[ -z $out ]]; then
		out=$(mktemp -d "${TMPDIR:-/tmp}/bench-shim.XXXXXX")
	fi
	mkdir -p "$out"
	out=$(realpath "$out")
	start=$(date +%s)
	args=(--inner --bench-conn "$bench_conn" --lib "$lib" --rounds "$rounds" --duration "$duration"
		--focus-rounds "$focus_rounds"
		--iperf-seconds "$iperf_seconds" --iperf-rounds "$iperf_rounds" --out "$out")
	[[ -n $wrap ]] && args+=(--wrap "$wrap")
	for p in $skip; do args+=(--skip "$p"); done
	timeout 900 unshare -n "$BASH" "${BASH_SOURCE[0]}" "${args[@]}"
	skipped failover || part_failover

	{
		echo "## Results ($(date -u '+%Y-%m-%d %H:%M UTC'))"
		echo
		echo "Machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), kernel $(uname -r);" \
			"load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
		echo
		if [[ -s $out/rates.raw ]]; then
			table_rates "socket() + close() per second" socket
			table_rates "connect + accept per second, client and server threads (conn)" conn
			table_rates "connect + accept per second, one thread (serial)" serial
		fi
		table_focus
		table_syscalls
		table_instructions
		table_perfn
		table_bulk
		table_iperf
		if [[ -f $out/failover.mptcp.iv ]]; then
			echo "### Failover (tests/netns/failover.sh): Mbit/s per $(iv_len "$out/failover.mptcp.iv") s interval"
			echo
			echo "- under libmptcpify: $(awk '{ printf "%s%.0f", (NR > 1 ? " " : ""), $3 / 1e6 }' "$out/failover.mptcp.iv")"
			echo "- plain TCP: $(awk '{ printf "%s%.0f", (NR > 1 ? " " : ""), $3 / 1e6 }' "$out/failover.tcp.iv")"
			echo "- path 1 down at (s, mptcpify run / TCP run): $(cat "$out/failover.down")"
			echo
		fi
		echo "Raw data: $out (run took $(($(date +%s) - start)) s)."
	} | tee "$out/tables.md"

	if [[ -n $plot_dir ]]; then
		mkdir -p "$plot_dir"
		plot_dir=$(realpath "$plot_dir")
		[[ -s $out/rates.raw ]] && plot_rates
		plot_failover
	fi
}

main "$@"; exit $?
