#!/usr/bin/env bash
# tests/bpf/host-bpf.sh - the bpf suite on the host kernel.
#   host-bpf.sh CASE DRIVER SOCKPROTO
# DRIVER is bpf-run-test, SOCKPROTO bpf-sockproto-static. CASE:
#   host      the outcome this host must give: on a kernel with the hook,
#             BTF, no lockdown and root, MPTCP for the command (exit 0);
#             otherwise the matching refusal (this machine: lockdown)
#   nonroot   as nobody: the "missing capabilities" refusal
#   nocgroup  in a mount namespace without cgroup2: the "no cgroup v2" one
#   nobtf     with /sys/kernel/btf hidden: the "no BTF" one
#   mptcpoff  in a network namespace with net.mptcp.enabled=0: refused, as
#             every TCP socket of the command would fail
#   static    SOCKPROTO really is statically linked (no interpreter)
# Every refusal must be exactly one stderr line starting with
# "mptcpify-run: --bpf: ", exit 125, the command not run, nothing left
# behind; `--check` must give the same reason.
set -u
case_=${1:?} drv=${2:?} prog=${3:?}
name="bpf-$case_"
fail() { echo "$name: FAIL: $*"; exit 1; }
skip() { echo "$name: SKIP: $*"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cgmnt=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
leftovers() { [[ -z $cgmnt ]] || find "$cgmnt" -maxdepth 4 -type d -name 'mptcpify-*' 2>/dev/null; }
bpf_progs() {
  command -v bpftool >/dev/null && ((EUID == 0)) || return 0
  bpftool prog show 2>/dev/null | grep -c 'name mptcpify_socket'
}

lockdown() {
  local f=/sys/kernel/security/lockdown
  if [[ -r $f ]]; then cat "$f"
  elif ((EUID == 0)); then
    unshare -m sh -c "mount -t securityfs none /sys/kernel/security 2>/dev/null && cat $f" 2>/dev/null
  fi
}

# Runs "$@" (a driver command line) and checks the one-line refusal that
# contains $want; also the same reason from --check.
expect_refusal() {
  local want=$1 rc=0 lines line
  shift
  local before_progs
  before_progs=$(bpf_progs)
  "$@" -q "$prog" 262 >"$work/out" 2>"$work/err" || rc=$?
  cat "$work/out" "$work/err"
  [[ $rc == 125 ]] || fail "exit $rc, want 125"
  lines=$(wc -l <"$work/err")
  line=$(head -n 1 "$work/err")
  [[ $lines == 1 ]] || fail "$lines lines on stderr, want exactly one"
  [[ $line == "mptcpify-run: --bpf: "* ]] || fail "stderr line lacks the 'mptcpify-run: --bpf: ' prefix"
  [[ $line == *"$want"* ]] || fail "message does not say '$want'"
  [[ ! -s $work/out ]] || fail "the command ran although --bpf refused"
  rc=0
  "$@" --check >"$work/check" 2>&1 || rc=$?
  [[ $rc == 125 ]] || fail "--check: exit $rc, want 125"
  [[ $(cat "$work/check") == "--bpf: ${line#mptcpify-run: --bpf: }" ]] ||
    fail "--check gives another reason: $(cat "$work/check")"
  [[ -z $(leftovers) ]] || fail "cgroup left behind: $(leftovers)"
  [[ $(bpf_progs) == "$before_progs" ]] || fail "a mptcpify_socket BPF program stayed loaded"
  echo "$name: PASS: exit 125, one line: $line"
  exit 0
}

case $case_ in
  host)
    rel=$(uname -r) maj=${rel%%.*} rest=${rel#*.}
    min=${rest%%[!0-9]*}
    mode=$(lockdown | sed -n 's/.*\[\(.*\)\].*/\1/p')
    if ((EUID != 0)); then
      expect_refusal "missing capabilities" "$drv"
    elif [[ ! -e /sys/kernel/btf/vmlinux ]]; then
      expect_refusal "has no BTF" "$drv"
    elif ((maj < 6 || (maj == 6 && min < 6))); then
      expect_refusal "has no update_socket_protocol() hook" "$drv"
    elif [[ -z $cgmnt ]]; then
      expect_refusal "no cgroup v2 mount" "$drv"
    elif [[ -n $mode && $mode != none ]]; then
      expect_refusal "kernel lockdown ($mode) refuses BPF tracing programs" "$drv"
    fi
    # A host where --bpf can work: it must.
    rc=0
    "$drv" --check || fail "--check refuses on a host where --bpf should work"
    "$drv" "$prog" 262 || rc=$?
    [[ $rc == 0 ]] || fail "exit $rc under --bpf"
    [[ -z $(leftovers) ]] || fail "cgroup left behind: $(leftovers)"
    echo "$name: PASS: MPTCP under --bpf on $rel"
    ;;
  nonroot)
    command -v setpriv >/dev/null || skip "setpriv (util-linux) is not installed"
    ((EUID == 0)) || expect_refusal "missing capabilities" "$drv"
    chmod o+rx "$work"
    cp "$drv" "$prog" "$work/"
    drv=$work/${drv##*/} prog=$work/${prog##*/}
    expect_refusal "missing capabilities" setpriv --reuid=65534 --regid=65534 --clear-groups \
      --inh-caps=-all --bounding-set=-all "$drv"
    ;;
  nocgroup)
    ((EUID == 0)) || skip "needs root (a private mount namespace)"
    command -v unshare >/dev/null || skip "unshare (util-linux) is not installed"
    # Unmount every cgroup2 mount inside a private mount namespace.
    cat >"$work/nocg.sh" <<'EOS'
#!/bin/sh
mount --make-rprivate /
awk '$3 == "cgroup2" { print $2 }' /proc/mounts | sort -r | while read -r m; do umount -l "$m"; done
exec "$@"
EOS
    chmod +x "$work/nocg.sh"
    expect_refusal "no cgroup v2 mount" unshare -m "$work/nocg.sh" "$drv"
    ;;
  nobtf)
    ((EUID == 0)) || skip "needs root (a private mount namespace)"
    command -v unshare >/dev/null || skip "unshare (util-linux) is not installed"
    cat >"$work/nobtf.sh" <<'EOS'
#!/bin/sh
mount --make-rprivate / && mount -t tmpfs none /sys/kernel/btf && exec "$@"
exit 99
EOS
    chmod +x "$work/nobtf.sh"
    expect_refusal "has no BTF" unshare -m "$work/nobtf.sh" "$drv"
    ;;
  mptcpoff)
    ((EUID == 0)) || skip "needs root (a private network namespace)"
    command -v unshare >/dev/null || skip "unshare (util-linux) is not installed"
    [[ -e /proc/sys/net/mptcp/enabled ]] || skip "this kernel has no MPTCP"
    cat >"$work/mptcpoff.sh" <<'EOS'
#!/bin/sh
echo 0 >/proc/sys/net/mptcp/enabled && exec "$@"
exit 99
EOS
    chmod +x "$work/mptcpoff.sh"
    expect_refusal "MPTCP is disabled here" unshare -n "$work/mptcpoff.sh" "$drv"
    ;;
  static)
    # The guest tests rely on it: LD_PRELOAD cannot reach this program.
    command -v readelf >/dev/null || skip "readelf (binutils) is not installed"
    readelf -lW "$prog" >"$work/elf" || fail "readelf $prog failed"
    ! grep -q 'INTERP' "$work/elf" || fail "${prog##*/} has a program interpreter: not static"
    ! readelf -dW "$prog" 2>/dev/null | grep -q NEEDED || fail "${prog##*/} needs shared libraries"
    echo "$name: PASS: ${prog##*/} is statically linked"
    ;;
  *) fail "unknown case $case_" ;;
esac
