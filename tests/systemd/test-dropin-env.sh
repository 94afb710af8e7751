#!/bin/sh
# tests/systemd/test-dropin-env.sh - `--enable-unit` keeps the unit's own
# LD_PRELOAD: unit files and drop-ins under --root read the way systemd
# reads them (search path, template and prefix drop-ins, file-name order,
# masking, quoting, continuation lines, resets), and the warnings about
# what would still keep the library out. The guest test (run-systemd.sh)
# holds the same reading against a real systemd.
# shellcheck shell=sh
. "$(dirname "$0")/../wrapper/common.sh"

lib=$(cd "$(dirname "$LIB")" && pwd)/$(basename "$LIB")
root=$TMP/root
etc=$root/etc/systemd/system
usr=$root/usr/lib/systemd/system
vendor=$root/lib/systemd/system
mkdir -p "$etc" "$usr" "$vendor"

# preload_of UNIT: the LD_PRELOAD value of UNIT's drop-in, unquoted.
preload_of() {
	sed -n 's/^Environment="LD_PRELOAD=\(.*\)"$/\1/p' "$etc/$1.d/mptcpify.conf"
}

# The unit's own file: quotes, an escape, a continuation line, a comment
# that is no setting, a setting outside [Service].
cat >"$vendor/web.service" <<'EOT'
[Unit]
Description=web
Environment=LD_PRELOAD=/not/a/service/setting.so
[Service]
ExecStart=/usr/sbin/web
Environment="A=1 2" 'LD_PRELOAD=/usr/lib/libjemalloc.so.2 /opt/p%%q/lib\x2dx.so' \
  B=3
# Environment=LD_PRELOAD=/commented.so
; Environment=LD_PRELOAD=/commented-too.so
EOT
vendor_before=$(cksum <"$vendor/web.service")
expect_status 0 "enable web" "$RUN" --root "$root" -a 'listen@:80' --enable-unit web &&
	expect_grep "kept the unit's own LD_PRELOAD" "$TMP/out" "says the unit's LD_PRELOAD is kept"
expect_eq "$(preload_of web.service)" "$lib:/usr/lib/libjemalloc.so.2:/opt/p%%q/lib-x.so" \
	"library first, then the unit's own (%% kept doubled for systemd)"
expect_grep '^# LD_PRELOAD keeps the unit.s own \(from /lib/systemd/system/web.service\)' \
	"$etc/web.service.d/mptcpify.conf" "the drop-in says where the value came from"
[ -s "$TMP/err" ] && fail "warnings without a reason: $(cat "$TMP/err")"

# Enabling again does not pile the library up.
expect_status 0 "enable web again" "$RUN" --root "$root" -a 'listen@:80' --enable-unit web
expect_eq "$(preload_of web.service)" "$lib:/usr/lib/libjemalloc.so.2:/opt/p%%q/lib-x.so" "idempotent"

# A drop-in sorted before ours replaces the unit file's value; one in /etc
# hides the same name in /usr/lib.
mkdir -p "$etc/web.service.d" "$usr/web.service.d"
printf '[Service]\nEnvironment=LD_PRELOAD=/usr/lib/libusr.so\n' >"$usr/web.service.d/local.conf"
expect_status 0 "drop-in in /usr/lib" "$RUN" --root "$root" --enable-unit web
expect_eq "$(preload_of web.service)" "$lib:/usr/lib/libusr.so" "a drop-in replaces the unit file's value"
printf '[Service]\nEnvironment=LD_PRELOAD=/usr/lib/libetc.so\n' >"$etc/web.service.d/local.conf"
expect_status 0 "drop-in in /etc" "$RUN" --root "$root" --enable-unit web
expect_eq "$(preload_of web.service)" "$lib:/usr/lib/libetc.so" "/etc hides the same name in /usr/lib"
rm "$etc/web.service.d/local.conf"
ln -s /dev/null "$etc/web.service.d/local.conf"
expect_status 0 "masked drop-in" "$RUN" --root "$root" --enable-unit web
expect_eq "$(preload_of web.service)" "$lib:/usr/lib/libjemalloc.so.2:/opt/p%%q/lib-x.so" \
	"a /dev/null link masks the drop-in"
rm "$etc/web.service.d/local.conf"

# An empty Environment= before ours resets the list.
printf '[Service]\nEnvironment=\nEnvironment=C=4\n' >"$usr/web.service.d/local.conf"
expect_status 0 "reset" "$RUN" --root "$root" --enable-unit web
expect_eq "$(preload_of web.service)" "$lib" "Environment= drops the unit's LD_PRELOAD"
expect_eq "$(grep -c '^# LD_PRELOAD keeps' "$etc/web.service.d/mptcpify.conf")" 0 "nothing said about keeping"
rm "$usr/web.service.d/local.conf"

# The library named already, by another path: once.
printf '[Service]\nEnvironment=LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libmptcpify.so:libextra.so\n' \
	>"$usr/web.service.d/local.conf"
expect_status 0 "library already there" "$RUN" --root "$root" --enable-unit web
expect_eq "$(preload_of web.service)" "$lib:libextra.so" "no second copy of the library"
rm "$usr/web.service.d/local.conf"

# Templates, type and prefix drop-ins reach an instance.
printf '[Service]\nExecStart=/bin/true\n' >"$vendor/app-worker@.service"
mkdir -p "$usr/app-worker@.service.d" "$usr/app-.service.d" "$usr/service.d"
printf '[Service]\nEnvironment=LD_PRELOAD=/t.so\n' >"$usr/app-worker@.service.d/20-t.conf"
expect_status 0 "template drop-in" "$RUN" --root "$root" --enable-unit 'app-worker@1'
expect_eq "$(preload_of 'app-worker@1.service')" "$lib:/t.so" "the template's drop-in applies"
printf '[Service]\nEnvironment=LD_PRELOAD=/p.so\n' >"$usr/app-.service.d/30-p.conf"
expect_status 0 "prefix drop-in" "$RUN" --root "$root" --enable-unit 'app-worker@1'
expect_eq "$(preload_of 'app-worker@1.service')" "$lib:/p.so" "a dash prefix's drop-in, sorted later, wins"
printf '[Service]\nEnvironment=LD_PRELOAD=/s.so\n' >"$usr/service.d/40-s.conf"
expect_status 0 "type drop-in" "$RUN" --root "$root" --enable-unit 'app-worker@1'
expect_eq "$(preload_of 'app-worker@1.service')" "$lib:/s.so" "service.d applies to every service"
rm -r "$usr/service.d"

# What still keeps the library out is said.
printf '[Service]\nEnvironment=LD_PRELOAD=/late.so\n' >"$etc/web.service.d/override.conf"
expect_status 0 "later drop-in" "$RUN" --root "$root" --enable-unit web &&
	expect_grep 'warning: .*override.conf sets LD_PRELOAD and systemd applies it after mptcpify.conf' \
		"$TMP/err" "warns about a drop-in applied after ours"
printf '[Service]\nEnvironment=\n' >"$etc/web.service.d/override.conf"
expect_status 0 "later reset" "$RUN" --root "$root" --enable-unit web &&
	expect_grep 'warning: .*override.conf has an empty Environment=' "$TMP/err" "warns about a later reset"
rm "$etc/web.service.d/override.conf"
mkdir -p "$root/etc/default"
printf '# defaults\nexport LD_PRELOAD=/envfile.so\n' >"$root/etc/default/web"
printf '[Service]\nEnvironmentFile=-/etc/default/web\nUnsetEnvironment=LD_PRELOAD\n' \
	>"$usr/web.service.d/local.conf"
expect_status 0 "environment file" "$RUN" --root "$root" --enable-unit web &&
	expect_grep 'warning: EnvironmentFile /etc/default/web sets LD_PRELOAD' "$TMP/err" \
		"warns about an EnvironmentFile= with LD_PRELOAD" &&
	expect_grep 'warning: .*UnsetEnvironment= removes LD_PRELOAD' "$TMP/err" \
		"warns about UnsetEnvironment="

# --disable-unit leaves the unit's own files; the vendor file never changes.
expect_status 0 "disable web" "$RUN" --root "$root" --disable-unit web
[ -e "$etc/web.service.d/mptcpify.conf" ] && fail "drop-in still there"
[ -f "$usr/web.service.d/local.conf" ] || fail "the unit's own drop-in was removed"
expect_eq "$(cksum <"$vendor/web.service")" "$vendor_before" "vendor unit untouched"

finish
