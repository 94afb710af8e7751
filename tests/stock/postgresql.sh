#!/usr/bin/env bash
# tests/stock/postgresql.sh - a PostgreSQL 15 server with tcp_user_timeout
# and the keepalive settings, and its clients psql and pgbench (which ask
# for the same per connection), all under mptcpify-run in all-mode ('*')
# over the two-path network. psql copies 4 MiB into a table and back out
# (sha256 checked), pgbench initialises and runs 4 clients; every
# connection is MPTCP, the long ones with 2 subflows, by the server's
# counters. A psql that sets tcp_user_timeout itself gets TCP (the
# option's class), and works. The same steps run first without the shim; under the shim the
# server log and the clients' stderr must have no complaint the plain run
# does not have (today the server logs "setsockopt(TCP_USER_TIMEOUT)
# failed" for every connection: it sets the option on accepted sockets).
#
# A private cluster: initdb as the postgres user in a temporary directory,
# listening on port 5433 of the server namespace's address only (and a
# socket directory of its own); the host's clusters are not used.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../netns/lib.sh
. "$here/../netns/lib.sh"
# shellcheck source-path=SCRIPTDIR source=logs.sh
. "$here/logs.sh"

nl_need_root
pgbin=/usr/lib/postgresql/15/bin
for p in initdb postgres psql pgbench; do
	[[ -x $pgbin/$p ]] || nl_skip "$pgbin/$p not installed (Debian: postgresql-15)"
done
getent passwd postgres >/dev/null || nl_skip "no user 'postgres'"
nl_need setpriv sha256sum base64
nl_need_shim
nl_setup 1 0

port=5433
d=$NL_TMP/pg
nl_shim_for_others # the server runs as postgres
mkdir -m 700 "$d"
mkdir -m 700 "$d/sock"
chown postgres: "$d" "$d/sock"
as_postgres=(setpriv --reuid postgres --regid postgres --init-groups --)
"${as_postgres[@]}" "$pgbin/initdb" -D "$d/data" -U postgres -A trust --no-sync \
	>"$NL_TMP/initdb.out" 2>&1 || { cat "$NL_TMP/initdb.out"; nl_fail "initdb failed"; }
cat >>"$d/data/postgresql.conf" <<CONF
listen_addresses = '$NL_S1'
port = $port
unix_socket_directories = '$d/sock'
# what the test is about: options set on every accepted connection
tcp_user_timeout = 10000
tcp_keepalives_idle = 60
tcp_keepalives_interval = 10
tcp_keepalives_count = 5
logging_collector = off
log_destination = 'stderr'
log_connections = on
log_disconnections = on
fsync = off
CONF
echo "host all all 10.231.0.0/16 trust" >>"$d/data/pg_hba.conf"

# 4 MiB of base64 lines (no character COPY's text format treats specially)
head -c $((3 * 1024 * 1024)) /dev/urandom | base64 -w 76 >"$NL_TMP/src.txt"
want=$(nl_sha256 "$NL_TMP/src.txt")
# libpq's own keepalive settings, on the client's sockets before connect.
conninfo="host=$NL_S1 port=$port user=postgres dbname=postgres connect_timeout=10"
conninfo+=" keepalives=1 keepalives_idle=30 keepalives_interval=5 keepalives_count=3"
# libpq's tcp_user_timeout too: TCP_USER_TIMEOUT is of class "tcp"
# (docs/options.md), set before connect() it makes that connection TCP.
conninfo_uto="$conninfo tcp_user_timeout=10000"

# client LABEL NAME SECONDS CMD...: runs a client in the client namespace
# under the prefix in the array shim; its stderr goes to the label's file.
shim=()
client() {
	local label=$1 name=$2 secs=$3
	shift 3
	st_wrap "$name.$label"
	if ! nl_run "$NL_C" $((secs * ST_SLOW)) "${ST_WRAP[@]}" "${shim[@]}" "$@" >"$NL_TMP/$name.$label.out" \
		2>"$NL_TMP/$name.$label.err"; then
		echo "  ($name failed:)"
		tail -n 5 "$NL_TMP/$name.$label.err" | sed 's/^/    /'
	fi
	cat "$NL_TMP/$name.$label.err" >>"$NL_TMP/clients.$label.err"
}

# run LABEL WANT: the server and the clients under the prefix in shim.
run() {
	local label=$1 want_mptcp=$2 n
	st_wrap "postgres.$label"
	nl_bg "pg.$label" "$NL_S" $((200 * ST_SLOW)) "${ST_WRAP[@]}" "${as_postgres[@]}" "${shim[@]}" "$pgbin/postgres" -D "$d/data"
	local pid=$NL_LAST
	nl_wait_port "$NL_S" "$port" $((30 * ST_SLOW)) || { nl_show_err "pg.$label"; exit 1; }

	# psql: the data in through COPY FROM STDIN and out again, in order
	cat >"$NL_TMP/copy.sql" <<SQL
DROP TABLE IF EXISTS blob;
CREATE TABLE blob (id bigserial PRIMARY KEY, line text NOT NULL);
\\copy blob (line) from '$NL_TMP/src.txt'
\\copy (SELECT line FROM blob ORDER BY id) to '$NL_TMP/dst.$label.txt'
SQL
	nl_snap "$NL_S" "$label.psql"
	client "$label" psql 60 "$pgbin/psql" -X -q -v ON_ERROR_STOP=1 -f "$NL_TMP/copy.sql" "$conninfo"
	nl_side "$NL_S" "$label.psql" passive
	nl_data_check "$NL_TMP/dst.$label.txt" "$want"
	nl_result "postgresql: psql COPY 4 MiB in and out ($label)" "$want_mptcp"
	n=0
	[[ $want_mptcp == yes ]] && n=1
	st_conns "psql ($label)" "$n"

	# pgbench: initialise (COPY of 100,000 rows), then 4 clients x 200
	# transactions on connections held for the whole run.
	nl_snap "$NL_S" "$label.init"
	client "$label" pgbench-init 120 "$pgbin/pgbench" -i -q -s 1 "$conninfo"
	nl_snap "$NL_S" "$label.bench"
	client "$label" pgbench 120 "$pgbin/pgbench" -n -c 4 -j 2 -t 200 "$conninfo"
	NL_DATA=BAD
	grep -q '^number of failed transactions: 0 ' "$NL_TMP/pgbench.$label.out" &&
		grep -q '^number of transactions actually processed: 800/800' "$NL_TMP/pgbench.$label.out" &&
		NL_DATA=ok
	nl_side "$NL_S" "$label.bench" passive
	# pgbench's first connection only reads the scale: it can close before
	# its join completes, so judge the four clients' connections (the
	# subflow count rounds down over all five).
	local conns=$NL_CONNS joins
	joins=$(nl_delta "$NL_S" "$label.bench" MPTcpExtMPJoinAckRx)
	if [[ $NL_MPTCP == yes ]] && ((joins >= 4)); then
		NL_SUBFLOWS=2
	fi
	nl_result "postgresql: pgbench 4 clients x 200 transactions ($label, $conns MPTCP connections, $joins joins)" "$want_mptcp"
	n=0
	[[ $want_mptcp == yes ]] && n=5
	st_conns "pgbench ($label)" "$n"
	nl_side "$NL_S" "$label.init" passive
	if [[ $want_mptcp == yes && $NL_CONNS -lt 1 ]]; then
		echo "  ^ FAIL: pgbench -i made no MPTCP connection"
		NL_FAILS=$((NL_FAILS + 1))
	fi

	# psql with tcp_user_timeout: works, and stays TCP as documented.
	nl_snap "$NL_S" "$label.uto"
	client "$label" psql-uto 60 "$pgbin/psql" -X -q -v ON_ERROR_STOP=1 -f "$NL_TMP/copy.sql" "$conninfo_uto"
	nl_side "$NL_S" "$label.uto" passive
	nl_data_check "$NL_TMP/dst.$label.txt" "$want"
	nl_result "postgresql: psql with tcp_user_timeout, COPY in and out ($label)" no
	nl_stop "$pid"
}

run plain no
nl_shim_cmd '*'
shim=("${NL_SHIM[@]}")
run shim yes

# The server's complaints: LOG lines about failed calls, WARNING and
# worse; libpq's and pgbench's on the clients' stderr.
st_new_complaints "postgres log" "$NL_TMP/pg.plain.err" "$NL_TMP/pg.shim.err" \
	'setsockopt|getsockopt|failed|could not|(WARNING|ERROR|FATAL|PANIC):'
st_new_complaints "psql and pgbench stderr" "$NL_TMP/clients.plain.err" "$NL_TMP/clients.shim.err" \
	'setsockopt|getsockopt|failed|could not|error|warning|fatal'
st_shim_lines postgres "$NL_TMP/pg.shim.err"
nl_finish
