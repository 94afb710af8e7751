#!/usr/bin/env bash
# tools/test.sh - the whole test suite, from a fresh Debian 12 machine.
# Installs missing Debian packages (as root), configures, builds with -Werror
# and runs every meson suite. Safe to run twice. Extra arguments go to
# `meson test` (e.g. tools/test.sh --suite unit).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
builddir=${MPTCPIFY_BUILDDIR:-build}

# Debian packages the build and the suites need (the last line: building
# the kernel matrix's Linux 5.10, see tests/kernels/fetch-kernels.sh).
packages=(
  meson ninja-build gcc clang llvm lld pkg-config
  check libsubunit-dev libbpf-dev bpftool libmnl-dev libclang-rt-14-dev
  iproute2 kmod procps python3 curl socat iperf3 haproxy nginx-light
  mptcpize libmptcpwrap0 strace valgrind binutils man-db groff-base
  qemu-system-x86 busybox-static cpio
  make flex bison bc libelf-dev libssl-dev dwarves xz-utils
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' \
    || missing+=("$p")
done
if ((${#missing[@]})); then
  if ((EUID != 0)); then
    echo "tools/test.sh: missing Debian packages; as root run:" >&2
    echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "tools/test.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Kernel packages for the qemu kernel matrix (cached outside the tree).
if ((EUID == 0)) && [[ -x tests/kernels/fetch-kernels.sh ]]; then
  tests/kernels/fetch-kernels.sh
fi

if [[ -f $builddir/build.ninja ]]; then
  meson setup --reconfigure -Dwerror=true "$builddir"
else
  meson setup -Dwerror=true "$builddir"
fi
meson compile -C "$builddir"
rc=0
meson test -C "$builddir" --print-errorlogs --num-processes 2 "$@" || rc=$?
# One plain closing line with the counts, from meson's own summary.
log=$builddir/meson-logs/testlog.txt
if [[ -f $log ]]; then
  count() { sed -n "s/^$1: *\([0-9]*\).*/\1/p" "$log" | tail -1 | awk '{ print $1 + 0 } END { if (!NR) print 0 }'; }
  ok=$(count Ok) fail=$(($(count Fail) + $(count Timeout) + $(count "Unexpected Pass")))
  echo "tests: $ok passed, $fail failed, $(count Skipped) skipped"
fi
exit $rc
