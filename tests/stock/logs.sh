# shellcheck shell=bash
# shellcheck disable=SC2034 # ST_WRAP is read by the sourcing scripts
# tests/stock/logs.sh - helpers for the stock tests that run a program
# twice, once plain and once under mptcpify-run, and compare: complaints
# in its logs, the shim's stats lines, yes/no checks, connection counts,
# and an optional strace wrapper. Source it after tests/netns/lib.sh.
#
# A "complaint" is a log line that matches the test's pattern (errors,
# warnings, failed system calls). The promise is that the shim adds none:
# a line the program prints under the shim and not without it is the shim's
# doing. Lines are compared after removing what differs between two runs
# of the same program (timestamps, process ids, ports, counters), so the
# comparison needs no knowledge of the program's log format beyond that.

# st_indent: copies stdin to stdout, each line indented under a result.
st_indent() {
	sed 's/^/    /'
}

# st_normalize: reads log lines on stdin, prints them with every run of
# digits replaced by N and the shim's own lines removed (they are checked
# separately, and only the shim prints them).
st_normalize() {
	grep -av '^mptcpify\[[0-9]*\]: ' | sed -E 's/[0-9]+/N/g' | sort -u || true
}

# st_new_complaints NAME BASE SHIM REGEX: prints the complaints (lines of
# file SHIM matching the extended regex REGEX, case-insensitive) that file
# BASE does not have too, and counts one failure in NL_FAILS when there is
# any; "NAME: no complaint the plain run does not have" otherwise.
st_new_complaints() {
	local name=$1 base=$2 shim=$3 regex=$4 new
	# the first line of SHIM for each complaint, as it was printed
	new=$(grep -aiE "$regex" "$shim" 2>/dev/null | grep -av '^mptcpify\[[0-9]*\]: ' |
		awk 'FILENAME == ARGV[1] { seen[$0] = 1; next }
			{ k = $0; gsub(/[0-9]+/, "N", k) }
			!(k in seen) && !(k in done) { done[k] = 1; print }' \
			<(grep -aiE "$regex" "$base" 2>/dev/null | st_normalize) - || true)
	if [[ -n $new ]]; then
		echo "$name: complaints under the shim that the plain run does not print:"
		st_indent <<<"$new"
		echo "  ^ FAIL: the shim made $name complain"
		NL_FAILS=$((NL_FAILS + 1))
	else
		echo "$name: no complaint the plain run does not have"
	fi
}

# st_check_stats NAME FILE: counts a failure unless FILE has at least one
# stats line of the shim (proof that -s was in force, so the test really
# exercised the exit-time logging).
st_check_stats() {
	local name=$1 file=$2 n
	n=$(grep -ac '^mptcpify\[[0-9]*\]: stats: ' "$file" || true)
	if ((n > 0)); then
		echo "$name: $n stats line(s) of the shim"
	else
		echo "$name: no stats line of the shim"
		echo "  ^ FAIL: expected mptcpify-run -s to print stats lines"
		NL_FAILS=$((NL_FAILS + 1))
	fi
}

# st_shim_lines NAME FILE: shows the shim's own lines in FILE other than
# the stats lines (warnings, for the reader; they are not the program's).
st_shim_lines() {
	local name=$1 file=$2 lines
	lines=$(grep -a '^mptcpify\[[0-9]*\]: ' "$file" | grep -av '^mptcpify\[[0-9]*\]: stats: ' |
		sed -E 's/^mptcpify\[[0-9]+\]/mptcpify[N]/' | sort | uniq -c || true)
	if [[ -n $lines ]]; then
		echo "  ($name: the shim's own lines:)"
		st_indent <<<"$lines"
	fi
}

# st_shim_stats_cmd RULES: like nl_shim_cmd, with the stats lines on (-s).
st_shim_stats_cmd() {
	nl_shim_cmd "$1"
	if [[ ${NL_SHIM[0]} == "$MPTCPIFY_RUN" ]]; then
		NL_SHIM=("$MPTCPIFY_RUN" -s "${NL_SHIM[@]:1}")
	fi
}

# st_conns NAME N: counts a failure unless nl_side counted N MPTCP
# connections (every connection the session made, not only some).
st_conns() {
	if [[ $NL_CONNS != "$2" ]]; then
		echo "  ^ FAIL: $1: $NL_CONNS MPTCP connections, expected $2"
		NL_FAILS=$((NL_FAILS + 1))
	fi
}

# st_wrap NAME: sets ST_WRAP to a command prefix that runs a program
# under `strace -f -k` into $ST_TRACE/NAME.strace when ST_TRACE names a
# directory (for finding which socket calls a program makes, with and
# without the shim: tests/stock/sockopt-survey.py reads these files),
# to nothing otherwise; ST_TRACE_CALLS replaces the list of system calls.
# A debugging aid: the checks stay the same.
ST_WRAP=()
# ST_SLOW: what the tests multiply their start-up waits and time limits
# by; strace -k makes start-up many times slower.
ST_SLOW=1
if [[ -n ${ST_TRACE:-} ]]; then
	ST_SLOW=10
fi
st_wrap() {
	local calls=${ST_TRACE_CALLS:-%network,%process,dup,dup2,dup3,fcntl,close,close_range}
	ST_WRAP=()
	if [[ -n ${ST_TRACE:-} ]]; then
		ST_WRAP=(strace -f -k -qq -o "$ST_TRACE/$1.strace" -e "trace=$calls")
	fi
}

# st_check NAME OK [DETAIL]: one line per yes/no check; OK is 0 for
# success (a command's status), anything else counts a failure.
st_check() {
	local name=$1 ok=$2 detail=${3:-}
	if [[ $ok == 0 ]]; then
		echo "$name: ok${detail:+ ($detail)}"
	else
		echo "$name: FAILED${detail:+ ($detail)}"
		echo "  ^ FAIL: $name"
		NL_FAILS=$((NL_FAILS + 1))
	fi
}
