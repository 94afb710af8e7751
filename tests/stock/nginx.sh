#!/usr/bin/env bash
# tests/stock/nginx.sh - nginx under mptcpify-run over the two-path network,
# with `reuseport` and `fastopen=16` on the listen line the policy names:
# that listener is MPTCP and serves 8 MiB over 2 subflows (sha256 checked),
# with no setsockopt complaint in nginx's error log; the second listen port
# is outside the policy and stays TCP.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../netns/lib.sh
. "$here/../netns/lib.sh"

nl_need_root
nl_need nginx curl sha256sum
nl_need_shim
nl_setup 1 0

# nginx's workers run as nobody: they must be able to read the web root.
chmod 755 "$NL_TMP"
mkdir -m 755 "$NL_TMP/www" "$NL_TMP/nginx"
nl_random_file "$NL_TMP/www/data.bin" 8
chmod 644 "$NL_TMP/www/data.bin"
want=$(nl_sha256 "$NL_TMP/www/data.bin")

conf=$NL_TMP/nginx/nginx.conf
cat >"$conf" <<CONF
worker_processes 2;
pid $NL_TMP/nginx/nginx.pid;
error_log $NL_TMP/nginx/error.log info;
events { worker_connections 64; }
http {
	access_log off;
	sendfile on;
	client_body_temp_path $NL_TMP/nginx/body;
	proxy_temp_path $NL_TMP/nginx/proxy;
	fastcgi_temp_path $NL_TMP/nginx/fastcgi;
	uwsgi_temp_path $NL_TMP/nginx/uwsgi;
	scgi_temp_path $NL_TMP/nginx/scgi;
	server {
		listen 8080 reuseport fastopen=16;
		listen 8081;
		root $NL_TMP/www;
	}
}
CONF

nl_shim_cmd 'listen@:8080'
nl_bg nginx "$NL_S" 120 "${NL_SHIM[@]}" nginx -p "$NL_TMP/nginx" -c "$conf" -g 'daemon off;'
for port in 8080 8081; do
	nl_wait_port "$NL_S" "$port" || { nl_show_err nginx; exit 1; }
done

# fetch NAME PORT: GET /data.bin by a client that asks for MPTCP everywhere.
fetch() {
	local name=$1 port=$2 dst=$NL_TMP/dst.$1
	nl_snap "$NL_S" "$name"
	nl_shim_cmd '*'
	nl_run "$NL_C" 30 "${NL_SHIM[@]}" curl -sS --max-time 20 -o "$dst" \
		"http://$NL_S1:$port/data.bin" || true
	nl_side "$NL_S" "$name" passive
	nl_data_check "$dst" "$want"
}

fetch named 8080
echo "  (listener on 8080 is MPTCP: $(nl_listener_mptcp "$NL_S" 8080))"
nl_result "nginx (listen 8080 reuseport fastopen=16)" yes
fetch excluded 8081
echo "  (listener on 8081 is MPTCP: $(nl_listener_mptcp "$NL_S" 8081))"
nl_result "nginx (port 8081 outside the policy)" no

if grep -E 'setsockopt|\[(emerg|alert|crit)\]' "$NL_TMP/nginx/error.log"; then
	echo "  ^ FAIL: nginx complained (error.log above)"
	NL_FAILS=$((NL_FAILS + 1))
fi
nl_finish
