#!/usr/bin/env bash
# tests/kernels/run-guest.sh - run the guest tests on one kernel: a Debian
# kernel booted under qemu (TCG) from a busybox initramfs, or the host kernel.
#
#   run-guest.sh (--kernel LABEL|DIR | --host) [options] --test NAME PATH...
#
#   --kernel LABEL|DIR  kernel from the cache (MPTCPIFY_KERNEL_CACHE, default
#                       /var/cache/mptcpify-kernels, filled by fetch-kernels.sh)
#                       or a directory laid out the same way (vmlinuz,
#                       release, root/lib/modules/RELEASE)
#   --host              run the tests directly on the running kernel
#   --lib PATH          libmptcpify.so (MPTCPIFY_LIB)
#   --run PATH          mptcpify-run (MPTCPIFY_RUN); copied only if it exists
#   --test NAME PATH    a guest test (repeatable)
#   --file PATH         an extra file the tests need (repeatable)
#   --module NAME       kernel module to load in the guest (repeatable; by
#                       default veth, sch_tbf, sch_netem, dummy, inet_diag,
#                       tcp_diag, mptcp_diag when present)
#   --timeout SECONDS   per-test timeout (default 120)
#   --qemu-timeout S    hard limit for the whole qemu run (default 480)
#   --keep DIR          keep the initramfs and console log in DIR
#
# Prints the kernel version and one line per test (PASS/SKIP/FAIL). Exits 0
# when no test failed (skips are listed, not failures), 1 otherwise, 77 when
# qemu itself cannot run here. See docs/kernels.md.
set -euo pipefail

prog="run-guest.sh"
here=$(cd "$(dirname "$0")" && pwd)
cache=${MPTCPIFY_KERNEL_CACHE:-/var/cache/mptcpify-kernels}
guest_testdir=/mptcpify/tests

die() { echo "$prog: error: $*" >&2; exit 1; }
skip() { echo "$prog: SKIP: $*"; exit 77; }

kernel="" host=0 lib="" run="" keep=""
test_timeout=120 qemu_timeout=480
names=() paths=() files=() modules=()
while (($#)); do
  case $1 in
    --kernel) kernel=${2:?}; shift 2 ;;
    --host) host=1; shift ;;
    --lib) lib=${2:?}; shift 2 ;;
    --run) run=${2:?}; shift 2 ;;
    --test) names+=("${2:?}"); paths+=("${3:?}"); shift 3 ;;
    --file) files+=("${2:?}"); shift 2 ;;
    --module) modules+=("${2:?}"); shift 2 ;;
    --timeout) test_timeout=${2:?}; shift 2 ;;
    --qemu-timeout) qemu_timeout=${2:?}; shift 2 ;;
    --keep) keep=${2:?}; shift 2 ;;
    *) die "unknown argument '$1' (see the header of $0)" ;;
  esac
done
[[ -n $kernel || $host == 1 ]] || die "--kernel or --host is needed"
((${#names[@]})) || die "no --test given"
((${#modules[@]})) || modules=(veth sch_tbf sch_netem dummy inet_diag tcp_diag mptcp_diag)

# Absolute paths: meson may pass paths relative to the build directory.
abspath() { realpath -e -- "$1" 2>/dev/null || die "no such file: $1"; }
[[ -n $lib ]] && lib=$(abspath "$lib")
if [[ -n $run ]]; then
  # The wrapper may not be built (yet): then it is simply not copied.
  run=$(realpath -m -- "$run")
fi
for i in "${!paths[@]}"; do
  [[ ${names[i]} =~ ^[A-Za-z0-9._+-]+$ ]] || die "bad test name '${names[i]}'"
  paths[i]=$(abspath "${paths[i]}")
done
for i in "${!files[@]}"; do files[i]=$(abspath "${files[i]}"); done

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

# ---- reporting, shared by both modes --------------------------------------

# Reads a console log ($1) with @@ lines and prints the summary; returns 0
# when every test passed or skipped.
report() {
  local log=$work/report.log label=$2 failed=0 release boot name status reason rc secs
  # The firmware's terminal codes can share a line with the first marker.
  sed -E 's/^.*(@@(KERNEL|BEGIN|RESULT|DONE)( |$))/\1/' "$1" >"$log"
  release=$(awk '$1 == "@@KERNEL" { print $2; exit }' "$log")
  boot=$(awk '$1 == "@@KERNEL" { print $3; exit }' "$log")
  echo "================================================================"
  if [[ -z $release ]]; then
    echo "kernel $label: did not boot to the test runner"
    failed=1
  else
    echo "kernel $label: $release${boot:+ (tests started ${boot}s after boot)}"
  fi
  for name in "${names[@]}"; do
    rc=$(awk -v n="$name" '$1 == "@@RESULT" && $2 == n { print $3; exit }' "$log")
    secs=$(awk -v n="$name" '$1 == "@@RESULT" && $2 == n { print $4; exit }' "$log")
    # The last line the test printed: its reason when it skips or fails.
    reason=$(awk -v n="$name" '$1 == "@@BEGIN" && $2 == n { on = 1; next }
                               on && $1 == "@@RESULT" { exit }
                               on && NF { last = $0 }
                               END { print last }' "$log")
    if [[ -z $rc ]]; then
      status=FAIL; reason="no result (timeout or crash)"; failed=1
    elif [[ $rc == 0 ]]; then
      status=PASS; reason=""
    elif [[ $rc == 77 ]]; then
      status=SKIP
    else
      status=FAIL; failed=1
      [[ $rc == 124 || $rc == 143 ]] && reason="timeout after ${test_timeout}s"
      reason="exit $rc${reason:+: $reason}"
    fi
    printf '%-4s %-32s %6ss  %s\n' "$status" "$name" "${secs:--}" "$reason"
  done
  echo "================================================================"
  return "$failed"
}

# ---- host mode -------------------------------------------------------------

if ((host)); then
  testdir=$work/tests
  mkdir -p "$testdir"
  for p in "${paths[@]}" "${files[@]}"; do ln -sf "$p" "$testdir/${p##*/}"; done
  log=$work/console.log
  export MPTCPIFY_LIB=$lib MPTCPIFY_RUN=$run MPTCPIFY_TESTDIR=$testdir
  MPTCPIFY_KERNEL=$(uname -r)
  export MPTCPIFY_KERNEL
  start=$SECONDS
  echo "@@KERNEL $MPTCPIFY_KERNEL" | tee "$log"
  for i in "${!names[@]}"; do
    echo "@@BEGIN ${names[i]}" | tee -a "$log"
    mkdir -p "$work/run-${names[i]}"
    t0=$SECONDS
    rc=0
    (cd "$work/run-${names[i]}" && exec timeout -k 5 "$test_timeout" "${paths[i]}" </dev/null 2>&1) |
      tee -a "$log" || rc=${PIPESTATUS[0]}
    echo "@@RESULT ${names[i]} $rc $((SECONDS - t0))" | tee -a "$log"
  done
  echo "@@DONE" | tee -a "$log"
  echo "host run took $((SECONDS - start))s"
  report "$log" host && exit 0
  exit 1
fi

# ---- qemu mode: can qemu run here at all? ----------------------------------

qemu=$(command -v "${MPTCPIFY_QEMU:-qemu-system-x86_64}") ||
  skip "${MPTCPIFY_QEMU:-qemu-system-x86_64} is not installed"
"$qemu" -accel help 2>/dev/null | grep -qx tcg || skip "$qemu has no TCG accelerator"
busybox=/bin/busybox
if [[ ! -x $busybox ]] || ldd "$busybox" >/dev/null 2>&1; then
  die "a static busybox is needed at $busybox (Debian package busybox-static)"
fi
command -v cpio >/dev/null || die "cpio is needed"
modprobe=$(PATH=$PATH:/usr/sbin:/sbin command -v modprobe) || die "modprobe (kmod) is needed"

if [[ $kernel == */* ]]; then
  kdir=$(abspath "$kernel")
else
  kdir=$cache/$kernel
fi
[[ -f $kdir/vmlinuz && -f $kdir/release ]] ||
  die "kernel '$kernel' not found in $kdir: run tests/kernels/fetch-kernels.sh as root first"
release=$(cat "$kdir/release")
moddir=$kdir/root/lib/modules/$release

# ---- assembling the initramfs ----------------------------------------------

root=$work/root
mkdir -p "$root"/usr/{bin,sbin,lib,lib64} "$root"/{proc,sys,dev,tmp,run,etc,mptcpify}
# Debian 12 is merged-/usr: keep the same layout so every path ldd prints
# (/lib64/ld-linux-x86-64.so.2, /lib/x86_64-linux-gnu/...) resolves.
for d in bin sbin lib lib64; do ln -s "usr/$d" "$root/$d"; done
mkdir -p "$root/var"
ln -s /run "$root/var/run"

declare -A copied=()
# Copies host file $1 into the initramfs at the same absolute path.
copy_abs() {
  local src=$1
  [[ -n ${copied[$src]:-} ]] && return 0
  copied[$src]=1
  mkdir -p "$root$(dirname "$src")"
  cp -L "$src" "$root$src"
}

is_elf() { [[ $(head -c 4 -- "$1" | od -An -c | tr -d ' ') == '177ELF' ]]; }

# Copies $1 and, when it is a dynamic ELF file, every shared object it needs
# (the dynamic loader included), each at its host path.
copy_with_libs() {
  local f=$1 line so
  copy_abs "$f"
  is_elf "$f" || return 0
  local out
  if ! out=$(ldd "$f" 2>&1); then
    # Static executables: nothing more to copy.
    grep -q 'not a dynamic executable\|statically linked' <<<"$out" && return 0
    die "ldd $f failed: $out"
  fi
  while read -r line; do
    case $line in
      *"=> not found"*) die "$f needs ${line%% *}, which ldd cannot find" ;;
      *"=> /"*) so=${line#*=> }; so=${so%% (*} ;;
      /*) so=${line%% (*} ;;
      *) continue ;;
    esac
    copy_abs "$so"
  done <<<"$out"
}

cp "$busybox" "$root/usr/bin/busybox"
[[ -n $lib ]] && copy_with_libs "$lib"
[[ -n $run && -f $run ]] && copy_with_libs "$run"
for p in "${paths[@]}" "${files[@]}"; do copy_with_libs "$p"; done
# Busybox applets, but never over a real program a test brought along.
while read -r applet; do
  [[ -e $root/$applet || -L $root/$applet ]] || ln -s /usr/bin/busybox "$root/$applet"
done < <("$busybox" --list-full)

mkdir -p "$root$guest_testdir"
for p in "${paths[@]}" "${files[@]}"; do ln -sf "$p" "$root$guest_testdir/${p##*/}"; done
for i in "${!names[@]}"; do echo "${names[i]} ${paths[i]}"; done >"$root/mptcpify/tests.list"

cat >"$root/mptcpify/config" <<EOF
TEST_TIMEOUT=$test_timeout
MPTCPIFY_LIB='$lib'
MPTCPIFY_RUN='$run'
MPTCPIFY_TESTDIR='$guest_testdir'
EOF

# Minimal /etc so getaddrinfo, getpwnam and friends behave.
printf '127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
printf 'passwd: files\ngroup: files\nhosts: files\nservices: files\nprotocols: files\n' >"$root/etc/nsswitch.conf"
for f in /etc/services /etc/protocols; do [[ -f $f ]] && cp "$f" "$root$f"; done

# Modules (with their dependencies, in load order), decompressed so that
# busybox insmod needs no xz support.
: >"$root/mptcpify/modules"
if [[ -d $moddir ]]; then
  declare -A loaded=()
  for m in "${modules[@]}"; do
    deps=$("$modprobe" -S "$release" -d "$kdir/root" --show-depends "$m" 2>/dev/null) || {
      echo "$prog: note: module $m not available for $release"
      continue
    }
    while read -r kind ko _; do
      [[ $kind == insmod && -z ${loaded[$ko]:-} ]] || continue
      loaded[$ko]=1
      rel=${ko#"$kdir/root"}
      rel=${rel%.xz}
      rel=${rel%.zst}
      mkdir -p "$root$(dirname "$rel")"
      case $ko in
        *.xz) xz -dc "$ko" >"$root$rel" ;;
        *.zst) zstd -qdc "$ko" >"$root$rel" ;;
        *) cp "$ko" "$root$rel" ;;
      esac
      echo "$rel" >>"$root/mptcpify/modules"
    done <<<"$deps"
  done
fi

cp "$here/guest-init.sh" "$root/init"
chmod 755 "$root/init"

initrd=$work/initramfs.cpio
(cd "$root" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet -R 0:0) >"$initrd"

# ---- booting it -------------------------------------------------------------

log=$work/console.log
# The guest kernel must not use cmpxchg16b: QEMU 7.2's TCG emulation of it
# corrupts the SLUB freelists of Debian's 6.12 kernel (which uses it on every
# allocation), giving double faults and oopses in kmem_cache_alloc in a third
# to a half of the boots, with any -cpu and with one vCPU too. clearcpuid
# hides CX16 from the kernel only (it then uses its own fallback); programs
# still see it, and some need it (Debian's haproxy uses cmpxchg16b).
cpu=${MPTCPIFY_QEMU_CPU:-qemu64}
append="console=ttyS0 panic=-1 quiet loglevel=3 mitigations=off clearcpuid=cx16 rdinit=/init"
append+=${MPTCPIFY_QEMU_APPEND:+ $MPTCPIFY_QEMU_APPEND}
# Boots the initramfs once; the console goes to $log and to stdout. qemu
# runs as a background job (its timeout's pid in $qpid) so that cleanup can
# stop it when this script is interrupted.
boot() {
  qrc=0
  # Created first: tail must not start before the file exists.
  : >"$log.raw"
  timeout -k 10 "$qemu_timeout" "$qemu" -accel tcg -cpu "$cpu" -m 1G -smp 2 \
    -nographic -no-reboot -nic none \
    -kernel "$kdir/vmlinuz" -initrd "$initrd" \
    -append "$append" \
    </dev/null >"$log.raw" 2>&1 &
  qpid=$!
  # Streamed in the background too: bash runs the INT/TERM traps only
  # between commands, and `wait` is one it interrupts.
  tail -n +1 -f --pid="$qpid" "$log.raw" | tr -d '\r' &
  local tpid=$!
  wait "$qpid" || qrc=$?
  qpid=""
  wait "$tpid" || true
  tr -d '\r' <"$log.raw" >"$log"
}
echo "$prog: booting $release ($(du -m "$initrd" | cut -f1) MiB initramfs, ${#names[@]} tests, cpu $cpu)"
start=$SECONDS
boot
# A guest that died before reaching the test runner says nothing about the
# tests: boot once more before calling it a failure.
if ! grep -q '@@KERNEL' "$log"; then
  echo "$prog: the guest did not reach the test runner (qemu exit $qrc); booting again"
  boot
fi
elapsed=$((SECONDS - start))
if [[ -n $keep ]]; then
  mkdir -p "$keep"
  cp "$initrd" "$log" "$keep/"
fi
((qrc == 124)) && echo "$prog: qemu killed after ${qemu_timeout}s"
grep -q '^@@DONE' "$log" || echo "$prog: the guest did not finish (qemu exit $qrc)"
echo "qemu run took ${elapsed}s"
report "$log" "$kernel" && exit 0
exit 1
