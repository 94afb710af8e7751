#!/usr/bin/env bash
# tests/systemd/run-systemd.sh - the packages under a real systemd: boots a
# Debian 12 userland (build-image.sh) with systemd as PID 1 under qemu (TCG)
# on a Debian kernel of the kernel matrix, installs the packages of this
# source tree (tests/package/build-debs.sh) in it and runs guest-test.sh
# there: `mptcpify-run --enable-unit nginx.service` and back, judged by the
# guest kernel's MPTCP counters.
#
#   run-systemd.sh --src DIR --debs-cache DIR --probe PATH --sockpeek PATH [options]
#
#   --src DIR           the source tree whose packages are tested
#   --debs-cache DIR    where build-debs.sh keeps the built packages
#   --probe PATH        tests/preload/probe (copied into the guest)
#   --sockpeek PATH     tests/systemd/sockpeek (copied into the guest)
#   --kernel LABEL|DIR  kernel from the matrix cache (default 6.1;
#                       MPTCPIFY_KERNEL_CACHE, default /var/cache/mptcpify-kernels)
#   --image-cache DIR   image cache (default $MPTCPIFY_SYSTEMD_CACHE or
#                       /var/cache/mptcpify-systemd)
#   --qemu-timeout S    hard limit for one boot (default 1200; about 300 s
#                       are needed on a loaded 2-core machine)
#   --keep DIR          keep the console and result logs in DIR
#
# The guest writes its results to its second serial port (a file here): one
# "@@CHECK name PASS|FAIL" line per step, then "@@DONE". Exits 0 when every
# step passed, 1 otherwise, 77 when qemu cannot run here or the packages or
# the image cannot be built here (not root, tools missing).
set -euo pipefail

prog=run-systemd.sh
here=$(cd "$(dirname "$0")" && pwd)
die() { echo "$prog: error: $*" >&2; exit 1; }
skip() { echo "$prog: SKIP: $*"; exit 77; }

src="" debs_cache="" probe="" sockpeek="" kernel=6.1 image_cache="" qemu_timeout=1200 keep=""
while (($#)); do
  case $1 in
    --src) src=${2:?}; shift 2 ;;
    --debs-cache) debs_cache=${2:?}; shift 2 ;;
    --probe) probe=${2:?}; shift 2 ;;
    --sockpeek) sockpeek=${2:?}; shift 2 ;;
    --kernel) kernel=${2:?}; shift 2 ;;
    --image-cache) image_cache=${2:?}; shift 2 ;;
    --qemu-timeout) qemu_timeout=${2:?}; shift 2 ;;
    --keep) keep=${2:?}; shift 2 ;;
    *) die "unknown argument '$1' (see the header of $0)" ;;
  esac
done
[[ -n $src && -n $debs_cache && -n $probe && -n $sockpeek ]] ||
  die "--src, --debs-cache, --probe and --sockpeek are needed"
probe=$(realpath -e "$probe")
sockpeek=$(realpath -e "$sockpeek")

qemu=$(command -v "${MPTCPIFY_QEMU:-qemu-system-x86_64}") ||
  skip "${MPTCPIFY_QEMU:-qemu-system-x86_64} is not installed"
accels=$("$qemu" -accel help 2>/dev/null) || true
grep -qx tcg <<<"$accels" || skip "$qemu has no TCG accelerator"
command -v cpio >/dev/null || skip "cpio is not installed"

if [[ $kernel == */* ]]; then
  kdir=$(realpath -e "$kernel")
else
  kdir=${MPTCPIFY_KERNEL_CACHE:-/var/cache/mptcpify-kernels}/$kernel
fi
[[ -f $kdir/vmlinuz && -f $kdir/release ]] ||
  die "kernel '$kernel' not found in $kdir: run tests/kernels/fetch-kernels.sh as root first"

work=$(mktemp -d)
qpid=""
# shellcheck disable=SC2317  # called through the trap
cleanup() {
  if [[ -n $qpid ]]; then kill "$qpid" 2>/dev/null || true; wait "$qpid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start=$SECONDS

# ---- the packages and the image ---------------------------------------------

rc=0
debs=$("$here/../package/build-debs.sh" "$src" "$debs_cache" | tail -n 1) || rc=$?
((rc == 0)) || exit "$rc"
lib_deb=$(find "$debs" -maxdepth 1 -name 'libmptcpify0_*.deb' | head -n 1)
run_deb=$(find "$debs" -maxdepth 1 -name 'mptcpify_*.deb' | head -n 1)
[[ -n $lib_deb && -n $run_deb ]] || die "no libmptcpify0 or mptcpify .deb in $debs"
echo "packages: $(basename "$lib_deb") $(basename "$run_deb")"

# dpkg -i resolves nothing: the image carries the packages' dependencies
# (their names are part of the image's key).
mapfile -t deps < <(for d in "$lib_deb" "$run_deb"; do dpkg-deb -f "$d" Depends; done |
  tr ',' '\n' | sed 's/|.*//; s/(.*//; s/:any//; s/ //g' | grep -v '^libmptcpify0$' | grep . | sort -u)
rc=0
image=$("$here/build-image.sh" ${image_cache:+--cache "$image_cache"} "${deps[@]}" | tail -n 1) || rc=$?
((rc == 0)) || exit "$rc"
echo "image: $image ($(du -m "$image" | cut -f1) MiB)"

# ---- the payload: appended to the image as a second cpio -----------------

payload=$work/payload
mkdir -p "$payload/payload/debs"
cp "$lib_deb" "$run_deb" "$payload/payload/debs/"
cp "$here/guest-test.sh" "$probe" "$sockpeek" "$payload/payload/"
chmod 755 "$payload/payload/guest-test.sh"
(cd "$payload" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet -R 0:0) \
  >"$work/payload.cpio"
# The kernel unpacks concatenated archives in turn, later files on top.
cat "$image" "$work/payload.cpio" >"$work/initrd.cpio"
echo "prepared in $((SECONDS - start))s"

# ---- booting ----------------------------------------------------------------

console=$work/console.log results=$work/results.log
release=$(cat "$kdir/release")
# clearcpuid=cx16: see docs/kernels.md (TCG caveats). rdinit: systemd
# straight from the initramfs, which stays the root file system.
append="console=ttyS0,115200 panic=-1 quiet loglevel=3 mitigations=off clearcpuid=cx16"
append+=" rdinit=/sbin/init systemd.show_status=error"
append+=${MPTCPIFY_QEMU_APPEND:+ $MPTCPIFY_QEMU_APPEND}

boot() {
  : >"$console"
  : >"$results"
  qrc=0
  timeout -k 10 "$qemu_timeout" "$qemu" -accel tcg -cpu "${MPTCPIFY_QEMU_CPU:-qemu64}" \
    -m 2G -smp 2 -nodefaults -display none -no-reboot -nic none \
    -serial "file:$console" -serial "file:$results" \
    -kernel "$kdir/vmlinuz" -initrd "$work/initrd.cpio" -append "$append" \
    </dev/null >"$work/qemu.log" 2>&1 &
  qpid=$!
  # The results as they come (meson's log keeps them).
  tail -n +1 -f --pid="$qpid" "$results" | tr -d '\r' &
  local tpid=$!
  wait "$qpid" || qrc=$?
  qpid=""
  wait "$tpid" || true
}

echo "$prog: booting $release with systemd ($(du -m "$work/initrd.cpio" | cut -f1) MiB initramfs)"
t0=$SECONDS
boot
# A guest that crashed before the test began says nothing about the test
# (see docs/kernels.md): boot once more before calling it a failure.
if ! grep -q '^@@START' "$results"; then
  echo "$prog: the test did not start (qemu exit $qrc); console:"
  tr -d '\r' <"$console" | tail -n 40
  echo "$prog: booting again"
  t0=$SECONDS
  boot
fi
elapsed=$((SECONDS - t0))
if [[ -n $keep ]]; then
  mkdir -p "$keep"
  cp "$console" "$results" "$keep/"
fi

# ---- the verdict ------------------------------------------------------------

tr -d '\r' <"$results" >"$work/results.txt"
((qrc == 124)) && echo "$prog: qemu killed after ${qemu_timeout}s"
echo "================================================================"
echo "systemd guest: kernel $(awk '$1 == "@@START" { print $2 " (test started " $3 "s after boot)"; exit }' \
  "$work/results.txt"), qemu run ${elapsed}s, total $((SECONDS - start))s"
awk '$1 == "@@CHECK" { printf "%-4s %-32s %6ss\n", $3, $2, $4 }' "$work/results.txt"
done_line=$(grep '^@@DONE' "$work/results.txt" || true)
echo "${done_line:-@@DONE missing: the guest did not finish (qemu exit $qrc)}"
echo "================================================================"
if [[ $done_line == "@@DONE pass="*" fail=0" ]] && ! grep -q '^@@CHECK [^ ]* FAIL' "$work/results.txt"; then
  exit 0
fi
echo "$prog: console (last 60 lines):"
tr -d '\r' <"$console" | tail -n 60
exit 1
