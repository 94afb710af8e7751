#!/usr/bin/env bash
# tests/systemd/build-image.sh - the Debian 12 userland that the systemd test
# boots: debootstrap --variant=minbase with systemd (as /sbin/init), nginx,
# iproute2, curl and the given extra packages, trimmed and packed as an
# initramfs (newc cpio) that the kernel unpacks into RAM and runs
# /sbin/init (systemd) from. Cached outside the source tree.
#
#   build-image.sh [--cache DIR] [PACKAGE...]
#
# The extra PACKAGEs are the run-time dependencies of the packages under
# test (they are installed in the guest with dpkg -i, which resolves
# nothing). The image lives in DIR/KEY/rootfs.cpio (DIR defaults to
# $MPTCPIFY_SYSTEMD_CACHE or /var/cache/mptcpify-systemd); KEY hashes this
# script, the package list and the suite, so any change to the recipe
# builds a new image and removes the old one. Prints the cpio's path as the
# last line of stdout. Building needs root (debootstrap) and the Debian
# archive (the URI the machine's apt uses for bookworm, or
# $MPTCPIFY_SYSTEMD_MIRROR); exits 77 when it cannot build here, 1 when the
# build fails.
set -euo pipefail

prog=build-image.sh
die() { echo "$prog: error: $*" >&2; exit 1; }
skip() { echo "$prog: SKIP: $*"; exit 77; }

cache=${MPTCPIFY_SYSTEMD_CACHE:-/var/cache/mptcpify-systemd}
if [[ ${1:-} == --cache ]]; then cache=${2:?}; shift 2; fi
suite=bookworm
packages=(systemd systemd-sysv nginx-light iproute2 curl libjemalloc2 "$@")
mapfile -t packages < <(printf '%s\n' "${packages[@]}" | LC_ALL=C sort -u)

self=$(realpath "$0")
key=$( { sha256sum "$self" | cut -d' ' -f1; echo "$suite"; printf '%s\n' "${packages[@]}"; } |
       sha256sum | cut -c1-16)
image=$cache/$key/rootfs.cpio

if [[ -f $image && -f $cache/$key/DONE ]]; then
  echo "$image"
  exit 0
fi

((EUID == 0)) || skip "the image $image is not built yet, and building it needs root (debootstrap)"
command -v debootstrap >/dev/null || skip "debootstrap is not installed"
command -v cpio >/dev/null || skip "cpio is not installed"
command -v flock >/dev/null || skip "flock (util-linux) is not installed"

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock -w 1800 9 || die "another image build holds $cache/.lock for 30 minutes"
# Built by another run while this one waited.
if [[ -f $image && -f $cache/$key/DONE ]]; then
  echo "$image"
  exit 0
fi

# The Debian archive apt already uses for the suite (no mirror is written
# in the repository).
mirror=${MPTCPIFY_SYSTEMD_MIRROR:-}
if [[ -z $mirror ]]; then
  # shellcheck disable=SC2016  # apt's own $(FIELD) syntax
  mirror=$(apt-get indextargets --format '$(REPO_URI) $(CODENAME) $(COMPONENT)' 2>/dev/null |
           awk -v s="$suite" '$2 == s && $3 == "main" { print $1; exit }')
fi
[[ -n $mirror ]] || die "no apt source for Debian '$suite' main; set MPTCPIFY_SYSTEMD_MIRROR"

work=$(mktemp -d "$cache/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
echo "$prog: debootstrap $suite from $mirror (${packages[*]}); takes a few minutes" >&2
start=$SECONDS
include=$(IFS=,; echo "${packages[*]}")
if ! debootstrap --variant=minbase --include="$include" \
     --keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
     "$suite" "$root" "$mirror" >"$work/debootstrap.log" 2>&1; then
  tail -n 30 "$work/debootstrap.log" >&2
  [[ -f $root/debootstrap/debootstrap.log ]] && tail -n 30 "$root/debootstrap/debootstrap.log" >&2
  die "debootstrap failed"
fi
echo "$prog: debootstrap took $((SECONDS - start))s" >&2

[[ -x $root/lib/systemd/systemd && -L $root/sbin/init ]] || die "no systemd as /sbin/init in the image"
[[ -f $root/lib/systemd/system/nginx.service ]] || die "no nginx.service in the image"

# Versions, for the record (and for the test's log).
# shellcheck disable=SC2016  # dpkg-query's own ${field} syntax
chroot "$root" dpkg-query -W -f '${Package} ${Version}\n' >"$work/packages.txt"

# Trimmed: a RAM-backed root has no use for documentation, translations or
# apt's caches (the guest never runs apt).
rm -rf "$root"/usr/share/{doc,man,info,locale,lintian} "$root"/var/cache/apt/* \
       "$root"/var/lib/apt/lists/* "$root"/var/cache/debconf/*-old "$root"/debootstrap
mkdir -p "$root/var/lib/apt/lists/partial" "$root/payload"

echo mptcpify-guest >"$root/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 mptcpify-guest\n::1 localhost ip6-localhost ip6-loopback\n' \
  >"$root/etc/hosts"
# A machine ID: without one systemd treats the boot as the first and
# systemd-firstboot would ask questions on the console.
[[ -s $root/etc/machine-id ]] || od -An -tx1 -N16 /dev/urandom | tr -d ' \n' >"$root/etc/machine-id"

# Nothing in the guest that competes for the (emulated) CPU or waits for a
# terminal: timers, logins on the console.
for u in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer \
         systemd-firstboot.service getty.target; do
  ln -sf /dev/null "$root/etc/systemd/system/$u"
done

# The test runner: once the system is up, /payload/guest-test.sh (from the
# cpio appended by run-systemd.sh) writes its results to the second serial
# port; then the guest powers off, whatever happened.
cat >"$root/etc/systemd/system/mptcpify-guest.service" <<'EOF'
[Unit]
Description=mptcpify systemd test (/payload/guest-test.sh)
After=multi-user.target
ConditionPathExists=/payload/guest-test.sh
SuccessAction=poweroff-force
FailureAction=poweroff-force

[Service]
Type=oneshot
ExecStart=/bin/sh /payload/guest-test.sh
StandardInput=null
StandardOutput=file:/dev/ttyS1
StandardError=inherit
# run-systemd.sh kills qemu at 1200 s; the guest gives up a little earlier.
TimeoutStartSec=1100

[Install]
WantedBy=multi-user.target
EOF
mkdir -p "$root/etc/systemd/system/multi-user.target.wants"
ln -sf /etc/systemd/system/mptcpify-guest.service \
  "$root/etc/systemd/system/multi-user.target.wants/mptcpify-guest.service"

(cd "$root" && find . -print0 | LC_ALL=C sort -z |
   cpio --null -o -H newc --quiet -R 0:0) >"$work/rootfs.cpio"

rm -rf "$work/out"
mkdir "$work/out"
mv "$work/rootfs.cpio" "$work/packages.txt" "$work/out/"
date -u +%FT%TZ >"$work/out/DONE"
# One image at a time: a new recipe makes the old image stale.
find "$cache" -mindepth 1 -maxdepth 1 -type d ! -name "$(basename "$work")" -exec rm -rf {} +
mv "$work/out" "$cache/$key"
echo "$prog: image $cache/$key/rootfs.cpio ($(du -m "$cache/$key/rootfs.cpio" | cut -f1) MiB) in $((SECONDS - start))s" >&2
echo "$cache/$key/rootfs.cpio"
