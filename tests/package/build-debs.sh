#!/usr/bin/env bash
# tests/package/build-debs.sh - the Debian packages of a source tree, built
# by `dpkg-buildpackage -b -us -uc` in a copy outside the tree and kept in a
# cache keyed by the content of the sources.
#
#   build-debs.sh SRCDIR CACHEDIR
#
# Copies the files git knows in SRCDIR (tracked and untracked, not ignored;
# every file but build directories when SRCDIR is no git checkout) into a
# fresh temporary directory, builds there, and moves the .debs, .changes,
# .buildinfo and the build log into CACHEDIR/KEY/, KEY being a hash of those
# files and of this script. Prints that directory as the last line of
# stdout. A second call with the same sources only prints it. One build at a
# time per CACHEDIR (flock). Older keys are removed.
#
# Exits 0, 1 when the build fails (the end of its log is printed), 77 when
# the packaging tools or the build dependencies are missing here.
set -euo pipefail

prog=build-debs.sh
die() { echo "$prog: error: $*" >&2; exit 1; }
skip() { echo "$prog: SKIP: $*"; exit 77; }

(($# == 2)) || die "usage: $prog SRCDIR CACHEDIR"
src=$(cd "$1" && pwd)
cache=$2
self=$(realpath "$0")
[[ -f $src/debian/control ]] || die "$src has no debian/control"

for tool in dpkg-buildpackage dpkg-checkbuilddeps dpkg-parsechangelog dh sha256sum flock; do
  command -v "$tool" >/dev/null ||
    skip "$tool is not installed (Debian packages dpkg-dev, debhelper, util-linux)"
done

# The files of the source tree, NUL-separated, sorted.
list_sources() {
  if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git -C "$src" ls-files -z -c -o --exclude-standard |
      while IFS= read -r -d '' f; do [[ -f $src/$f ]] && printf '%s\0' "$f"; done
  else
    (cd "$src" && find . \( -name .git -o -name 'build*' -o -name 'obj-*' \) -prune -o \
      -type f -printf '%P\0')
  fi | LC_ALL=C sort -z -u
}

mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
sources=$(mktemp)
trap 'rm -f "$sources"' EXIT
list_sources >"$sources"
[[ -s $sources ]] || die "no source files found in $src"
key=$( { (cd "$src" && xargs -0 sha256sum <"$sources"); sha256sum "$self" | cut -d' ' -f1; } |
       sha256sum | cut -c1-16)
out=$cache/$key

exec 9>"$cache/.lock"
flock -w 1800 9 || die "another package build holds $cache/.lock for 30 minutes"

if [[ -f $out/DONE ]]; then
  echo "$prog: packages of these sources already built: $out" >&2
  echo "$out"
  exit 0
fi

version=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
upstream=${version%-*}
upstream=${upstream#*:}
source=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Source)

work=$(mktemp -d "${TMPDIR:-/tmp}/mptcpify-debs.XXXXXX")
trap 'rm -f "$sources"; rm -rf "$work"' EXIT
tree=$work/$source-$upstream
mkdir "$tree"
(cd "$src" && tar -c --null -T "$sources" -f -) | tar -x -C "$tree" -f -

if ! missing=$(cd "$tree" && dpkg-checkbuilddeps 2>&1); then
  skip "build dependencies missing: ${missing#*: Unmet build dependencies: }"
fi

echo "$prog: building $source $version in $tree" >&2
start=$SECONDS
# -j2: the machine's two cores; the unit suite runs as part of the build.
if ! (cd "$tree" && DEB_BUILD_OPTIONS="parallel=2 ${DEB_BUILD_OPTIONS:-}" \
      dpkg-buildpackage -b -us -uc) >"$work/build.log" 2>&1; then
  tail -n 60 "$work/build.log" >&2
  die "dpkg-buildpackage failed (log above)"
fi
echo "$prog: built in $((SECONDS - start))s" >&2

rm -rf "$out.new"
mkdir "$out.new"
cp "$work"/*.deb "$work"/*.changes "$work"/*.buildinfo "$work/build.log" "$out.new/"
date -u +%FT%TZ >"$out.new/DONE"
# Only the newest build is kept: each is a few hundred KiB, but keys pile up.
find "$cache" -mindepth 1 -maxdepth 1 -type d ! -name "$key.new" -exec rm -rf {} +
mv "$out.new" "$out"
echo "$out"
