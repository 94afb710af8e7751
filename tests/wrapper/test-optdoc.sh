#!/bin/sh
# test-optdoc.sh SRCDIR OPTDUMP - docs/options.md lists every option of
# lib/optclass.c with its default class and the class it gets once the
# socket is connected or accepted, as the library itself decides them
# (OPTDUMP prints optclass_get() and optclass_decided() for each), and
# nothing else; and every tcp-class option emulated once connected is
# explained by name in the "emulate" list of the section that says why.
set -eu
src=$1
optdump=$2
doc=$src/docs/options.md
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$optdump" | sort >"$tmp/table"
[ -s "$tmp/table" ] || { echo "FAIL: optdump printed no options"; exit 1; }
grep -E '^\| `[A-Z0-9_]+` \|' "$doc" |
  sed -E 's/^\| `([A-Z0-9_]+)` \| [^|]+ \| ([a-z]+) \| ([a-z]+) \|.*/\1 \2 \3/' | sort >"$tmp/doc"
if ! cmp -s "$tmp/table" "$tmp/doc"; then
  echo "FAIL: docs/options.md and lib/optclass.c differ (name, class, once connected):"
  diff "$tmp/table" "$tmp/doc" || true
  exit 1
fi

# The "why" list: from the section's first line to its "- **error**" item;
# both must be there.
start='^Once a socket is connected, listening or accepted'
grep -q "$start" "$doc" || { echo "FAIL: docs/options.md has no section starting '$start'"; exit 1; }
sed -n "/$start/,/^- \*\*error\*\*/p" "$doc" >"$tmp/why"
grep -q '^- \*\*error\*\*' "$tmp/why" ||
  { echo "FAIL: docs/options.md: the section has no '- **error**' item after the emulate list"; exit 1; }
sed -n '/^- \*\*emulate\*\*/,$p' "$tmp/why" | sed '$d' >"$tmp/emulate"
[ -s "$tmp/emulate" ] || { echo "FAIL: docs/options.md: no '- **emulate**' list in the section"; exit 1; }
n=0
while read -r name cls once; do
  [ "$cls $once" = "tcp emulate" ] || continue
  n=$((n + 1))
  grep -q "\`$name\`" "$tmp/emulate" ||
    { echo "FAIL: docs/options.md does not say why $name is emulated once connected"; exit 1; }
done <"$tmp/table"
[ "$n" -gt 0 ] || { echo "FAIL: no tcp option is emulated once connected (optdump)"; exit 1; }
echo "ok: $(wc -l <"$tmp/table") options documented with both classes, $n explained"
