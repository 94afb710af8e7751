#!/usr/bin/env bash
# bench/seccomp/run.sh - what the seccomp mode (mptcpify-run --seccomp)
# costs, side by side with the preload, a program asking for IPPROTO_MPTCP
# itself, and plain TCP. A command, not a test: it reports, never judges.
#
#   run.sh --bench-conn PATH --bench-trap PATH --run PATH --lib PATH [options]
#   (or: meson compile -C BUILD bench-seccomp, which passes all four)
#
# Parts, each interleaved (round 1: A B C ..., round 2: B C ... A, ...), in a
# fresh network namespace (unshare -n, loopback up) when run as root:
#   rates  bench-conn's conn, serial and socket tests per mode: rate, and the
#          CPU time per operation of the whole tree (program + supervisor,
#          from bench-trap --tree: getrusage of everything waited for), less
#          the mode's start-up (the median of a one-operation run per round)
#   trap   bench-trap: the time of one intercepted call (socket(), a
#          connect() the policy lets continue, an emulated setsockopt and
#          getsockopt) and of a call that is not intercepted, directly and
#          under the supervisor
#   counts deterministic figures: system calls per intercepted call (strace -c
#          -f, the slope between 2,000 and 10,000 calls, less the same without
#          the supervisor) and voluntary context switches per call
#   bulk   bench-conn -t bulk (the data path is never intercepted): MiB/s
# Then the tables (markdown) on stdout and in OUT/tables.md.
#
# Options:
#   --rounds N       rounds of the rates and trap parts (default 9)
#   --duration S     seconds per measurement (default 0.5)
#   --bulk-rounds N  rounds of the bulk part (default 3, 2 s each)
#   --skip PART      leave out rates, trap, counts or bulk (repeatable)
#   --out DIR        raw data and tables (default: a new temp dir)
set -euo pipefail

bench_conn='' bench_trap='' run_tool='' lib='' out='' inner=''
rounds=9 duration=0.5 bulk_rounds=3 skip=" "
die() { echo "run.sh: $*" >&2; exit 1; }
while (($#)); do
	case $1 in
	--bench-conn) bench_conn=$2; shift 2 ;;
	--bench-trap) bench_trap=$2; shift 2 ;;
	--run) run_tool=$2; shift 2 ;;
	--lib) lib=$2; shift 2 ;;
	--rounds) rounds=$2; shift 2 ;;
	--duration) duration=$2; shift 2 ;;
	--bulk-rounds) bulk_rounds=$2; shift 2 ;;
	--skip) skip+="$2 "; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--inner) inner=1; shift ;; # internal: already in the namespace
	-h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument '$1'" ;;
	esac
done
for v in bench_conn bench_trap run_tool lib; do
	[[ -x ${!v} || ($v == lib && -f ${!v}) ]] || die "--${v//_/-} must name the built file"
done
command -v python3 >/dev/null || die "python3 is needed for the tables"
unset LD_PRELOAD MPTCPIFY_ADDRS MPTCPIFY_STRATEGY MPTCPIFY_LOG MPTCPIFY_STATS MPTCPIFY_OPTIONS GODEBUG
skipped() { [[ $skip == *" $1 "* ]]; }

# The same ten rules as bench/shim: nine not about loopback, then one that
# the listener and the connections both match.
pol10='connect@10.0.0.0/8, listen@:443, 192.168.0.0/16, !172.16.0.0/12,
[2001:db8::]/32, connect@198.51.100.0/24:80, 203.0.113.7, listen@0.0.0.0/0:8443,
100.64.0.0/10, 127.0.0.0/8'
pol10miss=${pol10/127.0.0.0\/8/192.0.2.0\/24}

# (the labels of the tables are in tables() below)
modes=(tcp mptcp preload preload10 seccomp seccomp10 seccomp10miss)

# mode_cmd MODE: the command prefix for MODE, into CMD (array), and the
# protocol bench-conn asks for into PROTO.
mode_cmd() {
	PROTO=0
	case $1 in
	tcp) CMD=() ;;
	mptcp) CMD=(); PROTO=262 ;;
	preload) CMD=(env LD_PRELOAD="$lib") ;;
	preload10) CMD=(env LD_PRELOAD="$lib" MPTCPIFY_ADDRS="$pol10") ;;
	seccomp) CMD=("$run_tool" --seccomp --) ;;
	seccomp10) CMD=("$run_tool" --seccomp -a "$pol10" --) ;;
	seccomp10miss) CMD=("$run_tool" --seccomp -a "$pol10miss" --) ;;
	esac
}

# measure FILE TAG CMD...: runs CMD under bench-trap --tree and appends one
# line "TAG key=value... tree_cpu_us=N" to FILE.
measure() {
	local file=$1 tag=$2 line
	shift 2
	line=$("$bench_trap" --tree "$@" 2>/dev/null | tr '\n' ' ') || true
	echo "$tag $line" >>"$file"
}

part_rates() {
	local r i m t n=${#modes[@]}
	for ((r = 0; r < rounds; r++)); do
		for ((i = 0; i < n; i++)); do
			m=${modes[(i + r) % n]}
			mode_cmd "$m"
			measure "$out/startup.raw" "round=$r mode=$m" \
				"${CMD[@]}" "$bench_conn" -t socket -p "$PROTO" -n 1
		done
		for t in conn serial socket; do
			for ((i = 0; i < n; i++)); do
				m=${modes[(i + r) % n]}
				mode_cmd "$m"
				measure "$out/rates.raw" "round=$r mode=$m" \
					"${CMD[@]}" "$bench_conn" -t "$t" -p "$PROTO" -d "$duration"
			done
		done
	done
}

part_trap() {
	local r t w
	for ((r = 0; r < rounds; r++)); do
		for t in untrapped socket unix-connect ttl-set ttl-get; do
			for w in direct seccomp; do
				if [[ $t == untrapped ]]; then
					# the start-up, to take out of the per-call CPU
					if [[ $w == direct ]]; then
						measure "$out/trapstart.raw" "round=$r mode=$w" "$bench_trap" -t "$t" -d 0.000001
					else
						measure "$out/trapstart.raw" "round=$r mode=$w" "$run_tool" --seccomp \
							-a "$pol10" -- "$bench_trap" -t "$t" -d 0.000001
					fi
				fi
				if [[ $w == direct ]]; then
					measure "$out/trap.raw" "round=$r mode=$w" "$bench_trap" -t "$t" -d "$duration"
				else
					# a policy, so that connect() is trapped too
					measure "$out/trap.raw" "round=$r mode=$w" "$run_tool" --seccomp \
						-a "$pol10" -- "$bench_trap" -t "$t" -d "$duration"
				fi
			done
		done
	done
}

part_counts() {
	local t w n line calls
	if ! command -v strace >/dev/null; then
		echo "run.sh: counts: strace not installed, skipped" >&2
		return 0
	fi
	for t in untrapped socket unix-connect ttl-set ttl-get; do
		for w in direct seccomp; do
			for n in 2000 10000; do
				local cmd=("$bench_trap" -t "$t" -d 60 -n "$n")
				[[ $w == seccomp ]] && cmd=("$run_tool" --seccomp -a "$pol10" -- "${cmd[@]}")
				strace -f -c -o "$out/strace.tmp" "${cmd[@]}" >/dev/null 2>&1 || true
				# the total line: % time, seconds, usecs/call, calls[, errors]
				calls=$(awk '$NF == "total" { print $4 }' "$out/strace.tmp")
				line=$("$bench_trap" --tree "${cmd[@]}" 2>/dev/null | tr '\n' ' ') || true
				echo "test=$t mode=$w n=$n syscalls=${calls:-0} $line" >>"$out/counts.raw"
			done
		done
	done
	# whole connections (serial connect + accept), per mode
	for w in tcp mptcp preload seccomp seccomp10 seccomp10miss; do
		mode_cmd "$w"
		for n in 2000 10000; do
			strace -f -c -o "$out/strace.tmp" "${CMD[@]}" "$bench_conn" -t serial -p "$PROTO" \
				-n "$n" -d 120 >/dev/null 2>&1 || true
			calls=$(awk '$NF == "total" { print $4 }' "$out/strace.tmp")
			line=$("$bench_trap" --tree "${CMD[@]}" "$bench_conn" -t serial -p "$PROTO" -n "$n" \
				-d 120 2>/dev/null | tr '\n' ' ') || true
			echo "test=serial mode=$w n=$n syscalls=${calls:-0} $line" >>"$out/counts.raw"
		done
	done
	rm -f "$out/strace.tmp"
}

part_bulk() {
	local r m
	for ((r = 0; r < bulk_rounds; r++)); do
		for m in mptcp seccomp tcp; do
			mode_cmd "$m"
			measure "$out/bulk.raw" "round=$r mode=$m" "${CMD[@]}" "$bench_conn" -t bulk -p "$PROTO" -d 2
		done
	done
}

tables() {
	python3 - "$out" "$duration" <<'EOF'
import os, re, statistics as st, sys
out = sys.argv[1]
labels = {
    "tcp": "plain TCP", "mptcp": "direct IPPROTO_MPTCP", "preload": "preload, ADDRS unset",
    "preload10": "preload, 10 rules, match", "seccomp": "--seccomp, ADDRS unset",
    "seccomp10": "--seccomp, 10 rules, match", "seccomp10miss": "--seccomp, 10 rules, no match (TCP)",
    "direct": "direct (no supervisor)",
}
names = {"untrapped": "getsockopt(SO_TYPE): not intercepted",
         "socket": "socket() + close(): answered with ADDFD",
         "unix-connect": "connect() of an AF_UNIX socket: read, CONTINUE",
         "ttl-set": "setsockopt(IP_TTL) on MPTCP: emulated",
         "ttl-get": "getsockopt(IP_TTL) on MPTCP: answered from memory"}
def load(name):
    rows = []
    p = os.path.join(out, name)
    if not os.path.exists(p):
        return rows
    for line in open(p):
        kv = dict(re.findall(r"(\w+)=(\S+)", line))
        if "ops" in kv and "tree_cpu_us" in kv:
            rows.append(kv)
    return rows
def med(xs):
    return st.median(xs) if xs else float("nan")
def proto(r):
    c, s = r.get("client_proto"), r.get("server_proto")
    name = lambda p: {"262": "MPTCP", "6": "TCP"}.get(p, "-")
    return name(c) if s in (None, "-1") else f"{name(c)}/{name(s)}"
def startups(name):
    rs = load(name)
    return {m: med([float(r["tree_cpu_us"]) for r in rs if r["mode"] == m]) for m in {r["mode"] for r in rs}}
start = startups("startup.raw")
tstart = startups("trapstart.raw")
def tree_per_op(r, st):
    return (float(r["tree_cpu_us"]) - st.get(r["mode"], 0.0)) / int(r["ops"])
if start:
    print("Start-up CPU of each mode (median of one-operation runs, taken out below): " +
          ", ".join(f"{labels[m]} {start[m] / 1000:.1f} ms" for m in labels if m in start) + ".\n")
rates = load("rates.raw")
for test, title in [("conn", "connect + accept per second, client and server threads (conn)"),
                    ("serial", "connect + accept per second, one thread (serial)"),
                    ("socket", "socket() + close() per second")]:
    rs = [r for r in rates if r.get("test") == test]
    if not rs:
        continue
    print(f"### {title}\n")
    print("| mode | kernel sees | ops/s median | min–max | paired vs direct MPTCP | paired vs plain TCP | CPU µs/op, whole tree | of which supervisor |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    byround = {}
    for r in rs:
        byround.setdefault(r["round"], {})[r["mode"]] = r
    for m in labels:
        mr = [r for r in rs if r["mode"] == m]
        if not mr:
            continue
        rate = [float(r["rate"]) for r in mr]
        tree = [tree_per_op(r, start) for r in mr]
        prog = [float(r["cpu_us_per_op"]) for r in mr]
        sup = [t - p for t, p in zip(tree, prog)]
        def paired(ref):
            xs = [float(b[m]["rate"]) / float(b[ref]["rate"]) for b in byround.values() if m in b and ref in b]
            return med(xs)
        print(f"| {labels[m]} | {proto(mr[0])} | {med(rate):.0f} | {min(rate):.0f}–{max(rate):.0f} | "
              f"{paired('mptcp'):.3f} | {paired('tcp'):.3f} | {med(tree):.2f} | {med(sup):.2f} |")
    print()
trap = load("trap.raw")
if trap:
    print("### One call, directly and under the supervisor (bench-trap)\n")
    print("| call | direct ns/call | --seccomp ns/call | cost of the interception, µs | tree CPU µs/call direct | tree CPU µs/call --seccomp | CPU of the interception, µs |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for t, n in names.items():
        d = [r for r in trap if r.get("test") == t and r["mode"] == "direct"]
        s = [r for r in trap if r.get("test") == t and r["mode"] == "seccomp"]
        if not d or not s:
            continue
        dn, sn = med([float(r["ns_per_call"]) for r in d]), med([float(r["ns_per_call"]) for r in s])
        dc = med([tree_per_op(r, tstart) for r in d])
        sc = med([tree_per_op(r, tstart) for r in s])
        print(f"| {n} | {dn:.0f} | {sn:.0f} | {(sn - dn) / 1000:.1f} | {dc:.2f} | {sc:.2f} | {sc - dc:.1f} |")
    print()
counts = []
if os.path.exists(os.path.join(out, "counts.raw")):
    for line in open(os.path.join(out, "counts.raw")):
        counts.append(dict(re.findall(r"(\w+)=(\S+)", line)))
if counts:
    print("### Deterministic: system calls and context switches per call (slope between 2,000 and 10,000 calls)\n")
    print("| call | syscalls per call, direct | under --seccomp | added by the supervisor | voluntary context switches per call, --seccomp |")
    print("|---|---:|---:|---:|---:|")
    def slope(t, w, key):
        a = [c for c in counts if c.get("test") == t and c.get("mode") == w and c.get("n") == "2000"]
        b = [c for c in counts if c.get("test") == t and c.get("mode") == w and c.get("n") == "10000"]
        if not a or not b:
            return float("nan")
        return (float(b[0].get(key, 0)) - float(a[0].get(key, 0))) / 8000
    for t, n in names.items():
        d, s_ = slope(t, "direct", "syscalls"), slope(t, "seccomp", "syscalls")
        print(f"| {n} | {d:.1f} | {s_:.1f} | {s_ - d:.1f} | {slope(t, 'seccomp', 'tree_vcsw'):.1f} |")
    print()
    print("| serial connect + accept, per connection | syscalls | voluntary context switches |")
    print("|---|---:|---:|")
    for m in ["tcp", "mptcp", "preload", "seccomp", "seccomp10", "seccomp10miss"]:
        print(f"| {labels[m]} | {slope('serial', m, 'syscalls'):.1f} | {slope('serial', m, 'tree_vcsw'):.1f} |")
    print()
bulk = load("bulk.raw")
if bulk:
    print("### Bulk throughput, one connection on loopback (bench-conn -t bulk, 2 s)\n")
    print("| mode | kernel sees | MiB/s median | min–max | vs direct MPTCP | CPU µs/MiB, whole tree |")
    print("|---|---|---:|---:|---:|---:|")
    ref = med([float(r["rate"]) for r in bulk if r["mode"] == "mptcp"])
    for m in ["mptcp", "seccomp", "tcp"]:
        mr = [r for r in bulk if r["mode"] == m]
        if not mr:
            continue
        rate = [float(r["rate"]) for r in mr]
        tree = [tree_per_op(r, start) for r in mr]
        print(f"| {labels[m]} | {proto(mr[0])} | {med(rate):.0f} | {min(rate):.0f}–{max(rate):.0f} | {med(rate) / ref:.3f} | {med(tree):.0f} |")
    print()
EOF
}

main() {
	if [[ -n $inner ]]; then
		ip link set lo up 2>/dev/null || true
		skipped rates || part_rates
		skipped trap || part_trap
		skipped counts || part_counts
		skipped bulk || part_bulk
		return 0
	fi
	[[ -n $out ]] || out=$(mktemp -d "${TMPDIR:-/tmp}/bench-seccomp.XXXXXX")
	mkdir -p "$out"
	out=$(realpath "$out")
	rm -f "$out"/*.raw
	local start=$SECONDS
	local args=(--inner --bench-conn "$bench_conn" --bench-trap "$bench_trap" --run "$run_tool"
		--lib "$lib" --rounds "$rounds" --duration "$duration" --bulk-rounds "$bulk_rounds"
		--out "$out")
	for p in $skip; do args+=(--skip "$p"); done
	if ((EUID == 0)) && command -v unshare >/dev/null && command -v ip >/dev/null; then
		timeout 1800 unshare -n "$BASH" "${BASH_SOURCE[0]}" "${args[@]}"
	else
		echo "run.sh: not root: measuring in the current network namespace" >&2
		timeout 1800 "$BASH" "${BASH_SOURCE[0]}" "${args[@]}"
	fi
	{
		echo "## Results ($(date -u '+%Y-%m-%d %H:%M UTC'), $((SECONDS - start)) s)"
		echo
		echo "Machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), kernel $(uname -r);" \
			"load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
		echo
		tables
	} | tee "$out/tables.md"
	echo "raw data and tables: $out" >&2
}

main
