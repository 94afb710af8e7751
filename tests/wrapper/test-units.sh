#!/bin/sh
# tests/wrapper/test-units.sh - `--enable-unit` / `--disable-unit` under
# --root: the drop-in's content, quoting, unit names, removal, and that the
# vendor unit is never touched.
# shellcheck shell=sh
. "$(dirname "$0")/common.sh"

lib=$(cd "$(dirname "$LIB")" && pwd)/$(basename "$LIB")
root=$TMP/root
mkdir -p "$root/lib/systemd/system"
printf '[Service]\nExecStart=/usr/sbin/nginx\n' >"$root/lib/systemd/system/nginx.service"
vendor_before=$(cksum <"$root/lib/systemd/system/nginx.service")
dropin=$root/etc/systemd/system/nginx.service.d/mptcpify.conf

expect_status 0 "enable nginx" "$RUN" --root "$root" -a 'listen@:443, connect@10.0.0.0/8' \
	-o 'IP_TTL=error' --enable-unit nginx &&
	expect_grep 'restart' "$TMP/out" "says to restart the service" &&
	expect_grep 'systemctl restart nginx.service' "$TMP/out" "names the unit"
[ -f "$dropin" ] || fail "no drop-in at $dropin"
# The drop-in minus its comment header.
grep -v '^#' "$dropin" >"$TMP/body"
cat >"$TMP/want" <<EOT
[Service]
Environment="LD_PRELOAD=$lib"
Environment="MPTCPIFY_ADDRS=listen@:443, connect@10.0.0.0/8"
Environment="MPTCPIFY_OPTIONS=IP_TTL=error"
EOT
cmp -s "$TMP/body" "$TMP/want" || { fail "drop-in content:"; diff "$TMP/want" "$TMP/body"; }
expect_grep '^# .*mptcpify-run' "$dropin" "comment header names mptcpify-run"
[ "$(head -c1 "$dropin")" = "#" ] || fail "drop-in does not start with the comment"
expect_eq "$(stat -c %a "$dropin")" 644 "drop-in mode"
expect_eq "$(cksum <"$root/lib/systemd/system/nginx.service")" "$vendor_before" "vendor unit untouched"
expect_eq "$(ls "$root/etc/systemd/system")" "nginx.service.d" "only the .d directory is created"

# Same unit with the suffix: the same file, rewritten (policy from the env,
# -v and -s become MPTCPIFY_LOG and MPTCPIFY_STATS).
expect_status 0 "enable nginx.service" env MPTCPIFY_ADDRS='*' "$RUN" --root "$root" -v -s \
	--enable-unit nginx.service
grep -v '^#' "$dropin" >"$TMP/body"
cat >"$TMP/want" <<EOT
[Service]
Environment="LD_PRELOAD=$lib"
Environment="MPTCPIFY_ADDRS=*"
Environment="MPTCPIFY_LOG=info"
Environment="MPTCPIFY_STATS=1"
EOT
cmp -s "$TMP/body" "$TMP/want" || { fail "rewritten drop-in:"; diff "$TMP/want" "$TMP/body"; }
[ -z "$(find "$root" -name '*.XXXXXX' -o -name 'mptcpify.conf.*')" ] || fail "temporary file left behind"

# Nothing but LD_PRELOAD when no setting is given.
expect_status 0 "enable without settings" "$RUN" --root "$root" --enable-unit nginx
expect_eq "$(grep -c '^Environment=' "$dropin")" 1 "only LD_PRELOAD"

# Quoting for systemd: '%' doubled, white space in a policy a plain space.
mkdir -p "$TMP/50%lib" && cp "$LIB" "$TMP/50%lib/libmptcpify.so"
expect_status 0 "quoting" "$RUN" --root "$root" --lib "$TMP/50%lib/libmptcpify.so" \
	-a "listen@:443
	connect@10.0.0.0/8" --enable-unit quoting
q=$root/etc/systemd/system/quoting.service.d/mptcpify.conf
expect_grep "^Environment=\"LD_PRELOAD=$TMP/50%%lib/libmptcpify.so\"\$" "$q" "'%' doubled"
expect_grep '^Environment="MPTCPIFY_ADDRS=listen@:443  connect@10.0.0.0/8"$' "$q" "newline and tab as spaces"

# Unit names.
expect_status 0 "dotted service name" "$RUN" --root "$root" --enable-unit php8.2-fpm
[ -f "$root/etc/systemd/system/php8.2-fpm.service.d/mptcpify.conf" ] || fail "php8.2-fpm gets .service"
expect_grep 'no unit file' "$TMP/out" "notes a unit that is not installed"
expect_status 0 "template instance" "$RUN" --root "$root" --enable-unit 'getty@tty1'
[ -f "$root/etc/systemd/system/getty@tty1.service.d/mptcpify.conf" ] || fail "getty@tty1"
expect_status 125 "socket unit" "$RUN" --root "$root" --enable-unit nginx.socket
expect_status 125 "slash in name" "$RUN" --root "$root" --enable-unit ../../etc/passwd
expect_status 125 "empty name" "$RUN" --root "$root" --enable-unit ''
expect_status 125 "space in name" "$RUN" --root "$root" --enable-unit 'a b'
[ -e "$root/etc/systemd/system/nginx.socket.d" ] && fail "socket unit drop-in written"

# An invalid policy writes nothing.
expect_status 125 "invalid policy" "$RUN" --root "$root" -a '10.0.0.0/33' --enable-unit bad &&
	expect_grep 'MPTCPIFY_ADDRS rule 1' "$TMP/err" "invalid policy reported"
[ -e "$root/etc/systemd/system/bad.service.d" ] && fail "drop-in written despite a bad policy"
expect_status 125 "invalid options" "$RUN" --root "$root" -o 'IP_TTL=never' --enable-unit bad
expect_status 125 "missing library" "$RUN" --root "$root" --lib "$TMP/nope.so" --enable-unit bad
[ -e "$root/etc/systemd/system/bad.service.d" ] && fail "drop-in written despite errors"
expect_status 125 "extra argument" "$RUN" --root "$root" --enable-unit nginx extra

# Removal: the file, then the directory when empty; other drop-ins stay.
expect_status 0 "disable nginx" "$RUN" --root "$root" --disable-unit nginx &&
	expect_grep 'removed' "$TMP/out" "says removed"
[ -e "$dropin" ] && fail "drop-in still there"
[ -e "$(dirname "$dropin")" ] && fail "empty .d directory still there"
expect_eq "$(cksum <"$root/lib/systemd/system/nginx.service")" "$vendor_before" "vendor unit untouched"
expect_status 0 "disable twice" "$RUN" --root "$root" --disable-unit nginx.service
printf '[Service]\nNice=5\n' >"$root/etc/systemd/system/php8.2-fpm.service.d/other.conf"
expect_status 0 "disable php8.2-fpm" "$RUN" --root "$root" --disable-unit php8.2-fpm.service
[ -e "$root/etc/systemd/system/php8.2-fpm.service.d/mptcpify.conf" ] && fail "php8.2-fpm drop-in still there"
[ -f "$root/etc/systemd/system/php8.2-fpm.service.d/other.conf" ] || fail "another drop-in was removed"
# --disable-unit needs no valid policy.
expect_status 0 "disable with a bad policy around" env MPTCPIFY_ADDRS='10.0.0.0/33' \
	"$RUN" --root "$root" --disable-unit quoting
[ -e "$q" ] && fail "quoting drop-in still there"

finish
