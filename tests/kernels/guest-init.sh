#!/bin/sh
# tests/kernels/guest-init.sh - /init of the kernel-matrix initramfs (busybox).
# Mounts the usual file systems, loads the modules listed by run-guest.sh,
# runs every guest test with a timeout and prints one machine-parsable line
# per test, then powers the guest off. The host (run-guest.sh) parses:
#   @@KERNEL <uname -r> <uptime at start of tests>
#   @@BEGIN <name>
#   @@RESULT <name> <exit status> <seconds>
#   @@DONE
# Settings come from /mptcpify/config (sourced), written by run-guest.sh.
# shellcheck shell=sh

export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/tmp

# shellcheck source=/dev/null
. /mptcpify/config

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts 2>/dev/null
mount -t tmpfs tmpfs /dev/shm
# /tmp and /run stay on the (writable, RAM-backed) root: test files copied
# from the host keep their absolute paths, which may well be under /tmp.
chmod 1777 /tmp
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null || echo "guest-init: no cgroup2"
mount -t bpf bpf /sys/fs/bpf 2>/dev/null || echo "guest-init: no bpffs"
mount -t securityfs securityfs /sys/kernel/security 2>/dev/null || true
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null || true
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null || true

# Modules in dependency order, one path per line.
if [ -f /mptcpify/modules ]; then
  while read -r ko; do
    insmod "$ko" || echo "guest-init: insmod $ko failed"
  done </mptcpify/modules
fi

ip link set lo up
sysctl -q -w net.mptcp.enabled=1 >/dev/null || echo "guest-init: cannot enable MPTCP"
hostname mptcpify-guest

uptime_s() { cut -d' ' -f1 /proc/uptime; }

MPTCPIFY_KERNEL=$(uname -r)
export MPTCPIFY_LIB MPTCPIFY_RUN MPTCPIFY_TESTDIR MPTCPIFY_KERNEL
echo "@@KERNEL $MPTCPIFY_KERNEL $(uptime_s)"

# tests.list: one "name path" line each.
while read -r name path; do
  [ -n "$name" ] || continue
  echo "@@BEGIN $name"
  start=$(uptime_s)
  dir=/tmp/run-$name
  mkdir -p "$dir"
  (cd "$dir" && exec timeout "$TEST_TIMEOUT" "$path" </dev/null 2>&1)
  rc=$?
  end=$(uptime_s)
  echo "@@RESULT $name $rc $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')"
done </mptcpify/tests.list

echo "@@DONE $(uptime_s)"
# Booted by hand with mptcpify.shell on the command line: a shell on the
# console before powering off (docs/kernels.md).
if grep -q 'mptcpify\.shell' /proc/cmdline; then
  setsid cttyhack sh
fi
sync
poweroff -f
# If power-off is not possible, leaving init panics the kernel, and qemu
# (-no-reboot, panic=-1) exits.
exit 0
