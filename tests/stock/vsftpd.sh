#!/usr/bin/env bash
# tests/stock/vsftpd.sh - vsftpd and lftp, both under mptcpify-run in
# all-mode ('*'), over the two-path network, in passive and in active mode:
# 8 MiB uploaded and downloaded in each (sha256 checked on both ends). The
# control connection (client to server) and the data connections (client
# to server in passive mode, server to client from port 20 in active mode)
# are MPTCP by the server's counters, with 2 subflows except the active
# data connections (see session()). The same session runs
# first without the shim; under the shim no FTP reply or log line may
# complain where the plain run does not (today vsftpd answers "500 OOPS:
# setsockopt: oobinline": it sets SO_OOBINLINE on every accepted control
# connection, which MPTCP refuses).
#
# vsftpd runs standalone on port 2121 of the server namespace's address
# with Debian's default configuration plus what anonymous upload into a
# temporary directory needs; the host's vsftpd service is not used.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../netns/lib.sh
. "$here/../netns/lib.sh"
# shellcheck source-path=SCRIPTDIR source=logs.sh
. "$here/logs.sh"

nl_need_root
nl_need lftp sha256sum
[[ -x /usr/sbin/vsftpd ]] || nl_skip "vsftpd not installed"
getent passwd ftp >/dev/null || nl_skip "no user 'ftp' (made by Debian's vsftpd package)"
nl_need_shim
# Both ways: active-mode data connections start in the server namespace.
nl_setup 1 1

port=2121
d=$NL_TMP/ftp
chmod 755 "$NL_TMP"
mkdir -m 755 "$d" "$d/root"
# anonymous uploads go to up/, which only the ftp user may write; the
# anonymous root itself must not be writable (vsftpd refuses that).
mkdir -m 755 "$d/root/up"
chown ftp "$d/root/up"
# vsftpd's empty directory for its unprivileged processes (Debian's is
# /var/run/vsftpd/empty, made only when the service starts)
mkdir -m 755 "$d/empty"

src=$NL_TMP/src.bin
nl_random_file "$src" 8
want=$(nl_sha256 "$src")

# start_vsftpd LABEL PREFIX...: vsftpd in the foreground in the server ns.
start_vsftpd() {
	local label=$1
	shift
	# Debian's /etc/vsftpd.conf, standalone on our address, anonymous
	# upload and download, a detailed log.
	cat >"$d/vsftpd.$label.conf" <<CONF
listen=YES
listen_ipv6=NO
listen_address=$NL_S1
listen_port=$port
anonymous_enable=YES
anon_root=$d/root
no_anon_password=YES
write_enable=YES
anon_upload_enable=YES
anon_umask=022
local_enable=NO
dirmessage_enable=YES
use_localtime=YES
xferlog_enable=YES
xferlog_std_format=NO
log_ftp_protocol=YES
vsftpd_log_file=$d/vsftpd.$label.log
connect_from_port_20=YES
secure_chroot_dir=$d/empty
pam_service_name=vsftpd
ssl_enable=NO
CONF
	st_wrap "vsftpd.$label"
	nl_bg "vsftpd.$label" "$NL_S" $((120 * ST_SLOW)) "${ST_WRAP[@]}" "$@" /usr/sbin/vsftpd "$d/vsftpd.$label.conf"
	VS_PID=$NL_LAST
	nl_wait_port "$NL_S" "$port" $((10 * ST_SLOW)) || { nl_show_err "vsftpd.$label"; exit 1; }
}

# session LABEL MODE WANT PREFIX...: lftp (under PREFIX) uploads src to
# up/MODE.LABEL and downloads it back, with passive mode on or off; one
# result line for the control connection and one for the data ones.
session() {
	local label=$1 mode=$2 want_mptcp=$3 pasv name
	shift 3
	[[ $mode == passive ]] && pasv=on || pasv=off
	name=$mode.$label
	nl_snap "$NL_S" "$name"
	# -d: the protocol dialogue (every reply) on stderr, for the checks.
	st_wrap "lftp.$name"
	if ! nl_run "$NL_C" $((60 * ST_SLOW)) "${ST_WRAP[@]}" "$@" lftp -d -c "
		set cmd:fail-exit yes
		set net:max-retries 1
		set net:timeout 15
		set ftp:passive-mode $pasv
		open -u anonymous, ftp://$NL_S1:$port
		put $src -o up/$name.bin
		get up/$name.bin -o $NL_TMP/down.$name.bin
		bye" >"$NL_TMP/lftp.$name.out" 2>"$NL_TMP/lftp.$name.err"; then
		echo "  (lftp $mode failed; its last lines:)"
		grep -avE '^(--->|<---) (2|3|1)' "$NL_TMP/lftp.$name.err" | tail -n 8 | sed 's/^/    /'
	fi
	cat "$NL_TMP/lftp.$name.err" >>"$NL_TMP/lftp.$label.err"
	# the upload as the server stored it, and the download as received
	nl_data_check "$d/root/up/$name.bin" "$want"
	local up=$NL_DATA
	nl_data_check "$NL_TMP/down.$name.bin" "$want"
	[[ $up == ok ]] || NL_DATA=BAD
	local n=0
	if [[ $mode == passive ]]; then
		# control and both data connections came from the client
		nl_side "$NL_S" "$name" passive
		nl_result "vsftpd $mode, control + data ($label, $NL_CONNS MPTCP connections)" "$want_mptcp"
		[[ $want_mptcp == yes ]] && n=3
		st_conns "vsftpd $mode ($label)" "$n"
	else
		nl_side "$NL_S" "$name" passive
		nl_result "vsftpd $mode, control ($label)" "$want_mptcp"
		[[ $want_mptcp == yes ]] && n=1
		st_conns "vsftpd $mode control ($label)" "$n"
		# Not judged: the data connections' subflow count. A join reaches
		# an accepted connection only through a listener on its port, and
		# lftp closes its data listener right after accept(), so the
		# server's join races with that close (kernel behaviour, the same
		# without the shim: MPJoinSynTx rises, MPJoinSynAckRx does not).
		nl_side "$NL_S" "$name" active
		nl_result "vsftpd $mode, data from port 20 ($label, $NL_CONNS MPTCP connections)" \
			"$want_mptcp" "$NL_SUBFLOWS"
		[[ $want_mptcp == yes ]] && n=2
		st_conns "vsftpd $mode data ($label)" "$n"
	fi
}

start_vsftpd plain
session plain passive no
session plain active no
nl_stop "$VS_PID"

nl_shim_cmd '*'
shim=("${NL_SHIM[@]}")
start_vsftpd shim "${shim[@]}"
session shim passive yes "${shim[@]}"
session shim active yes "${shim[@]}"
nl_stop "$VS_PID"

# Error replies (4xx, 5xx, "OOPS") in lftp's dialogue and lftp's own
# errors; failures in vsftpd's log; anything vsftpd printed on stderr.
st_new_complaints "FTP replies and lftp" "$NL_TMP/lftp.plain.err" "$NL_TMP/lftp.shim.err" \
	'^<--- [45][0-9][0-9]|oops|error|fail|refused|denied|closed|setsockopt|getsockopt'
st_new_complaints "vsftpd log" "$d/vsftpd.plain.log" "$d/vsftpd.shim.log" \
	'fail|oops|error|refused|denied|setsockopt|getsockopt|"[45][0-9][0-9] '
st_new_complaints "vsftpd stderr" "$NL_TMP/vsftpd.plain.err" "$NL_TMP/vsftpd.shim.err" '.'
st_shim_lines vsftpd "$NL_TMP/vsftpd.shim.err"
nl_finish
