#!/usr/bin/env bash
# tests/stock/sshd.sh - OpenSSH's sshd and scp under `mptcpify-run -s` over
# the two-path network: 20 MiB copied up and down (sha256 checked), MPTCP
# with 2 subflows by the server's counters, with the stats lines on.
# sshd's pre-authentication child sets RLIMIT_FSIZE to 0 and its stderr
# (sshd -e) is a regular file here: a log line written there raises
# SIGXFSZ and kills the child ("Connection closed" on the client). The
# same copies run first without the shim; the shim must add no complaint to
# sshd's log or to scp's stderr.
#
# sshd runs from a temporary directory: its own host key, configuration,
# authorized_keys for root (key authentication only), port 2222 on the
# server namespace's address; the host's sshd and its files are not used.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../netns/lib.sh
. "$here/../netns/lib.sh"
# shellcheck source-path=SCRIPTDIR source=logs.sh
. "$here/logs.sh"

nl_need_root
nl_need scp ssh ssh-keygen sha256sum
[[ -x /usr/sbin/sshd ]] || nl_skip "sshd not installed (Debian: openssh-server)"
nl_need_shim
nl_setup 1 0

# sshd insists on its privilege separation directory; make it when missing
# (no system sshd ran here) and remove it again at exit.
made_privsep=0
if [[ ! -d /run/sshd ]]; then
	mkdir -m 755 /run/sshd
	made_privsep=1
fi
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	nl_cleanup
	((made_privsep)) && rmdir /run/sshd 2>/dev/null
	return 0
}
trap cleanup EXIT

port=2222
d=$NL_TMP/ssh
mkdir -m 700 "$d"
ssh-keygen -q -t ed25519 -N '' -C mptcpify-host -f "$d/host_key"
ssh-keygen -q -t ed25519 -N '' -C mptcpify-client -f "$d/client_key"
cp "$d/client_key.pub" "$d/authorized_keys"
cat >"$d/sshd_config" <<CONF
Port $port
ListenAddress $NL_S1
HostKey $d/host_key
PidFile none
AuthorizedKeysFile $d/authorized_keys
StrictModes no
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
Subsystem sftp internal-sftp
LogLevel VERBOSE
CONF
cat >"$d/ssh_config" <<CONF
Host *
	User root
	Port $port
	IdentityFile $d/client_key
	IdentitiesOnly yes
	UserKnownHostsFile $d/known_hosts
	StrictHostKeyChecking accept-new
	BatchMode yes
	ConnectTimeout 10
CONF

src=$NL_TMP/src.bin
nl_random_file "$src" 20
want=$(nl_sha256 "$src")

# run LABEL WANT: starts sshd under the command prefix in the array
# server, copies src up (scp, SFTP protocol) and back down with scp under
# the prefix in client, stops sshd; one result line per direction.
server=()
client=()
run() {
	local label=$1 want_mptcp=$2 dir
	rm -f "$d/known_hosts" "$NL_TMP/up.$label" "$NL_TMP/down.$label"
	st_wrap "sshd.$label"
	nl_bg "sshd.$label" "$NL_S" $((120 * ST_SLOW)) "${ST_WRAP[@]}" "${server[@]}" /usr/sbin/sshd -D -e -f "$d/sshd_config"
	local pid=$NL_LAST
	nl_wait_port "$NL_S" "$port" $((10 * ST_SLOW)) || { nl_show_err "sshd.$label"; exit 1; }
	for dir in up down; do
		local from to
		if [[ $dir == up ]]; then
			from=$src to=root@$NL_S1:$NL_TMP/up.$label
		else
			from=root@$NL_S1:$NL_TMP/up.$label to=$NL_TMP/down.$label
		fi
		nl_snap "$NL_S" "$label.$dir"
		st_wrap "scp.$label.$dir"
		if ! nl_run "$NL_C" $((60 * ST_SLOW)) "${ST_WRAP[@]}" "${client[@]}" scp -q -F "$d/ssh_config" "$from" "$to" \
			2>"$NL_TMP/scp.$label.$dir.err"; then
			echo "  (scp $dir failed:)"
			sed 's/^/    /' "$NL_TMP/scp.$label.$dir.err"
		fi
		cat "$NL_TMP/scp.$label.$dir.err" >>"$NL_TMP/scp.$label.err"
		nl_side "$NL_S" "$label.$dir" passive
		nl_data_check "$NL_TMP/$dir.$label" "$want"
		nl_result "scp 20 MiB $dir ($label)" "$want_mptcp"
	done
	nl_stop "$pid"
}

run plain no
st_shim_stats_cmd "listen@$NL_S1:$port"
server=("${NL_SHIM[@]}")
st_shim_stats_cmd "connect@$NL_S1:$port"
client=("${NL_SHIM[@]}")
run shim yes

# sshd -e logs the pre-authentication child's death, the monitor's
# complaints and "fatal:" lines; scp prints "Connection closed".
complaints='error|fatal|fail|refused|denied|closed|killed|signal|setsockopt|getsockopt'
st_new_complaints "sshd log" "$NL_TMP/sshd.plain.err" "$NL_TMP/sshd.shim.err" "$complaints"
st_new_complaints "scp stderr" "$NL_TMP/scp.plain.err" "$NL_TMP/scp.shim.err" "$complaints"
st_check_stats "sshd under -s" "$NL_TMP/sshd.shim.err"
st_check_stats "scp under -s" "$NL_TMP/scp.shim.err"
st_shim_lines sshd "$NL_TMP/sshd.shim.err"
st_shim_lines scp "$NL_TMP/scp.shim.err"
nl_finish
