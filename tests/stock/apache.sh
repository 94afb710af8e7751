#!/usr/bin/env bash
# tests/stock/apache.sh - Apache 2.4 (Debian's apache2, event MPM) with its
# default configuration under mptcpify-run over the two-path network: a
# 20 MiB file served to curl (also under the shim), sha256 checked, MPTCP
# with 2 subflows by the server's counters. Apache's default AcceptFilter
# (http: data) sets TCP_DEFER_ACCEPT on its listener; on 6.18 an MPTCP
# listener takes it and then no MP_JOIN to its connections completes
# (MPJoinSynRx rises, MPJoinAckRx stays 0): one subflow only. The same
# fetch runs first without the shim; under the shim Apache's error log
# must have no complaint the plain run does not have.
#
# Apache runs from a copy of /etc/apache2 in a temporary directory (its
# ServerRoot), changed only where it must be: port 8080 on the server
# namespace's address, the document root, pid/lock/log directories. The
# host's apache2 service is not used.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../netns/lib.sh
. "$here/../netns/lib.sh"
# shellcheck source-path=SCRIPTDIR source=logs.sh
. "$here/logs.sh"

nl_need_root
nl_need curl sha256sum
[[ -x /usr/sbin/apache2 && -f /etc/apache2/apache2.conf ]] ||
	nl_skip "apache2 not installed"
nl_need_shim
nl_setup 1 0

port=8080
root=$NL_TMP/apache2
# the workers run as www-data: they must reach the document root
chmod 755 "$NL_TMP"
cp -a /etc/apache2 "$root"
mkdir -m 755 "$NL_TMP/www"
nl_random_file "$NL_TMP/www/data.bin" 20
chmod 644 "$NL_TMP/www/data.bin"
want=$(nl_sha256 "$NL_TMP/www/data.bin")
# Debian's defaults, moved: Listen 80 -> our address and port; the default
# site serves our directory (apache2.conf grants /var/www only).
cat >"$root/ports.conf" <<CONF
Listen $NL_S1:$port
CONF
cat >"$root/sites-enabled/000-default.conf" <<CONF
<VirtualHost *:$port>
	ServerAdmin webmaster@localhost
	DocumentRoot $NL_TMP/www
	ErrorLog \${APACHE_LOG_DIR}/error.log
	CustomLog \${APACHE_LOG_DIR}/access.log combined
	<Directory $NL_TMP/www>
		Require all granted
	</Directory>
</VirtualHost>
CONF
grep -q '^LoadModule mpm_event_module' "$root"/mods-enabled/mpm_*.load ||
	nl_skip "Debian's apache2 configuration does not use the event MPM here"
if grep -rqi '^[[:space:]]*AcceptFilter' "$root"; then
	nl_skip "the configuration sets AcceptFilter: not the default one"
fi

# run LABEL WANT PREFIX...: Apache under PREFIX, one GET of data.bin by
# curl under PREFIX too, Apache stopped; one result line.
run() {
	local label=$1 want_mptcp=$2
	shift 2
	local dir=$NL_TMP/run.$label
	mkdir -p "$dir/run" "$dir/lock" "$dir/log"
	st_wrap "apache.$label"
	nl_bg "apache.$label" "$NL_S" $((120 * ST_SLOW)) "${ST_WRAP[@]}" env APACHE_RUN_USER=www-data \
		APACHE_RUN_GROUP=www-data APACHE_PID_FILE="$dir/run/apache2.pid" \
		APACHE_RUN_DIR="$dir/run" APACHE_LOCK_DIR="$dir/lock" \
		APACHE_LOG_DIR="$dir/log" LANG=C \
		"$@" /usr/sbin/apache2 -d "$root" -f "$root/apache2.conf" -DFOREGROUND
	local pid=$NL_LAST
	nl_wait_port "$NL_S" "$port" $((10 * ST_SLOW)) || { nl_show_err "apache.$label"; exit 1; }
	nl_snap "$NL_S" "$label"
	st_wrap "curl.$label"
	nl_run "$NL_C" $((60 * ST_SLOW)) "${ST_WRAP[@]}" "$@" curl -sS --max-time 50 -o "$NL_TMP/dst.$label" \
		"http://$NL_S1:$port/data.bin" 2>"$NL_TMP/curl.$label.err" ||
		sed 's/^/    curl: /' "$NL_TMP/curl.$label.err"
	nl_side "$NL_S" "$label" passive
	nl_data_check "$NL_TMP/dst.$label" "$want"
	echo "  (listener on $port is MPTCP: $(nl_listener_mptcp "$NL_S" "$port"))"
	nl_result "apache event MPM, default AcceptFilter, 20 MiB ($label)" "$want_mptcp"
	local n=0
	[[ $want_mptcp == yes ]] && n=1
	st_conns "apache ($label)" "$n"
	nl_stop "$pid"
}

run plain no
nl_shim_cmd '*'
run shim yes "${NL_SHIM[@]}"

# the event MPM really served (not a prefork fallback)
ok=0
grep -q 'mpm_event:notice' "$NL_TMP/run.shim/log/error.log" || ok=1
st_check "apache runs the event MPM" "$ok"
st_new_complaints "apache error.log" "$NL_TMP/run.plain/log/error.log" \
	"$NL_TMP/run.shim/log/error.log" \
	'\[[a-z_]*:(emerg|alert|crit|error|warn)\]|setsockopt|getsockopt'
st_new_complaints "apache stderr" "$NL_TMP/apache.plain.err" "$NL_TMP/apache.shim.err" '.'
st_shim_lines apache "$NL_TMP/apache.shim.err"
nl_finish
