#!/usr/bin/env bash
# tests/package/test-package.sh - the Debian packages, from this source tree:
# built with dpkg-buildpackage outside the tree (build-debs.sh), laid out as
# Debian expects, unpacked with `dpkg -x` into a scratch root, and the
# packaged library, preloaded by its bare name, upgrades sockets by the
# kernel's word (SO_PROTOCOL); lintian reports no error.
#
#   test-package.sh SRCDIR CACHEDIR PROBE VERSION
#
# PROBE is tests/preload/probe, VERSION the meson project version.
set -euo pipefail

prog=test-package.sh
(($# == 4)) || { echo "usage: $prog SRCDIR CACHEDIR PROBE VERSION" >&2; exit 2; }
src=$1 cache=$2 probe=$(realpath "$3") version=$4
here=$(cd "$(dirname "$0")" && pwd)

# Nothing of the caller's settings colours the results.
unset MPTCPIFY_ADDRS MPTCPIFY_OPTIONS MPTCPIFY_LOG MPTCPIFY_STATS MPTCPIFY_LIB \
  MPTCPIFY_STRATEGY LD_PRELOAD LD_LIBRARY_PATH

failed=0
ok() { echo "ok: $*"; }
fail() { echo "FAIL: $*"; failed=1; }
# verdict STATUS WHAT: "ok: WHAT" when STATUS is 0, else a failure. (Each
# check runs as "rc=0; CHECK || rc=1": a failing check must not end the
# script under set -e.)
verdict() { if (($1 == 0)); then ok "$2"; else fail "$2"; fi; }
skip() { echo "$prog: SKIP: $*"; exit 77; }

command -v lintian >/dev/null || skip "lintian is not installed"
[[ $(cat /proc/sys/net/mptcp/enabled 2>/dev/null) == 1 ]] ||
  skip "MPTCP is not enabled on this kernel (net.mptcp.enabled)"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

rc=0
debs=$("$here/build-debs.sh" "$src" "$cache" | tail -n 1) || rc=$?
((rc == 0)) || exit "$rc"
echo "packages: $debs"

lib_deb=$(find "$debs" -maxdepth 1 -name 'libmptcpify0_*.deb' | head -n 1)
run_deb=$(find "$debs" -maxdepth 1 -name 'mptcpify_*.deb' | head -n 1)
[[ -n $lib_deb && -n $run_deb ]] || { echo "FAIL: libmptcpify0 or mptcpify .deb missing in $debs"; exit 1; }
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
libdir=/usr/lib/$multiarch

# ---- what the packages hold ------------------------------------------------

deb_version=$(dpkg-deb -f "$lib_deb" Version)
upstream=${deb_version%-*}
upstream=${upstream#*:}
rc=0; [[ $upstream == "$version" ]] || rc=1
verdict $rc "package version $deb_version, meson project version $version"

contents() { dpkg-deb -c "$1" | awk '{ print $6 }' | sed 's,^\./,/,'; }
contents "$lib_deb" >"$work/lib.list"
contents "$run_deb" >"$work/run.list"
rc=0; grep -qx "$libdir/libmptcpify.so" "$work/lib.list" || rc=1
verdict $rc "libmptcpify0 has $libdir/libmptcpify.so"
for f in /usr/bin/mptcpify-run /usr/share/man/man1/mptcpify-run.1.gz /usr/share/man/man7/mptcpify.7.gz; do
  rc=0; grep -qx "$f" "$work/run.list" || rc=1
  verdict $rc "mptcpify has $f"
done
depends=$(dpkg-deb -f "$run_deb" Depends)
rc=0; [[ ", $depends," == *", libmptcpify0 (= $deb_version),"* ]] || rc=1
verdict $rc "mptcpify depends on libmptcpify0 (= $deb_version): Depends: $depends"
dpkg-deb -e "$lib_deb" "$work/lib.control"
rc=0; grep -qx 'activate-noawait ldconfig' "$work/lib.control/triggers" 2>/dev/null || rc=1
verdict $rc "libmptcpify0 activates the ldconfig trigger"

# ---- unpacked into a scratch root -----------------------------------------

root=$work/root
dpkg -x "$lib_deb" "$root"
dpkg -x "$run_deb" "$root"
lib=$root$libdir/libmptcpify.so
[[ -f $lib ]] || { echo "FAIL: dpkg -x left no $lib"; exit 1; }

# After installation, LD_PRELOAD=libmptcpify.so needs the library in a
# directory the dynamic loader searches by default; ld.so says which.
ldso=$(readelf -l "$probe" | sed -n 's/.*Requesting program interpreter: \(.*\)\]/\1/p')
# (Output captured first: with pipefail, grep -q's early exit would make
# the writer's SIGPIPE a failure.)
search=$("$ldso" --help) || true
if grep -qxF "  $libdir (system search path)" <<<"$search"; then
  ok "$libdir is in $ldso's system search path"
else
  fail "$libdir is not in the system search path of $ldso"
fi

# The bare name resolves to the unpacked file (LD_LIBRARY_PATH stands in for
# the installed location: the host may have another libmptcpify.so).
trace=$(LD_TRACE_LOADED_OBJECTS=1 LD_LIBRARY_PATH=$root$libdir LD_PRELOAD=libmptcpify.so "$probe") || true
if grep -qF "libmptcpify.so => $lib (" <<<"$trace"; then
  ok "LD_PRELOAD=libmptcpify.so loads $lib"
else
  fail "LD_PRELOAD=libmptcpify.so does not load the packaged library: $trace"
fi

# SO_PROTOCOL as the kernel reports it (probe reads it with a raw syscall).
out=$("$probe" listen 127.0.0.1:0) || true
rc=0; [[ $out == "proto 6 "* ]] || rc=1
verdict $rc "without the library: $out"
out=$(LD_LIBRARY_PATH=$root$libdir LD_PRELOAD=libmptcpify.so "$probe" listen 127.0.0.1:0) || true
rc=0; [[ $out == "proto 262 "* ]] || rc=1
verdict $rc "LD_PRELOAD=libmptcpify.so, listener: $out"
out=$(LD_LIBRARY_PATH=$root$libdir LD_PRELOAD=libmptcpify.so "$probe" pair 1) || true
out=${out%%$'\n'*}
rc=0; [[ $out == *"client 262 server 262 client_fallback 0 server_fallback 0" ]] || rc=1
verdict $rc "LD_PRELOAD=libmptcpify.so, connection: $out"

# The packaged wrapper: its version, the library path compiled into it, and
# a policy it applies through the packaged library.
out=$("$root/usr/bin/mptcpify-run" --version 2>&1) || true
out=${out%%$'\n'*}
rc=0; [[ $out == *"$version"* ]] || rc=1
verdict $rc "mptcpify-run --version: $out"
rc=0; grep -qaF "$libdir/libmptcpify.so" "$root/usr/bin/mptcpify-run" || rc=1
verdict $rc "mptcpify-run looks for $libdir/libmptcpify.so"
out=$(MPTCPIFY_LIB=$lib "$root/usr/bin/mptcpify-run" -a 'listen@127.0.0.1' -- "$probe" listen 127.0.0.1:0) || true
rc=0; [[ $out == "proto 262 "* ]] || rc=1
verdict $rc "packaged mptcpify-run -a listen@127.0.0.1: $out"
out=$(MPTCPIFY_LIB=$lib "$root/usr/bin/mptcpify-run" -a 'listen@10.0.0.0/8' -- "$probe" listen 127.0.0.1:0) || true
rc=0; [[ $out == "proto 6 "* ]] || rc=1
verdict $rc "packaged mptcpify-run -a listen@10.0.0.0/8 (no match): $out"

# ---- lintian -----------------------------------------------------------------

changes=$(find "$debs" -maxdepth 1 -name '*.changes' | head -n 1)
lrc=0
lintian --fail-on error --display-info --pedantic "$changes" >"$work/lintian.txt" 2>&1 || lrc=$?
grep -v '^running with root privileges' "$work/lintian.txt" || true
counts=$(awk -F: '/^[EWIP]: / { n[$1]++ } END { printf "%d errors, %d warnings, %d info, %d pedantic",
                  n["E"], n["W"], n["I"], n["P"] }' "$work/lintian.txt")
if ((lrc != 0)) || grep -q '^E: ' "$work/lintian.txt"; then
  fail "lintian: $counts (exit $lrc)"
else
  ok "lintian: $counts"
fi

((failed == 0)) && echo "package: all checks passed" && exit 0
exit 1
