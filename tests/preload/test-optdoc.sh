#!/bin/sh
# test-optdoc.sh SRCDIR - docs/options.md lists every option of
# lib/optclass.c with its default class, and nothing else.
set -eu
src=$1
table=$(grep -E '^	\{ "[A-Z0-9_]+", ' "$src/lib/optclass.c" |
  sed -E 's/^	\{ "([A-Z0-9_]+)", [A-Z_0-9]+, [A-Z_0-9]+, ([ET]),.*/\1 \2/' |
  sed -e 's/ E$/ emulate/' -e 's/ T$/ tcp/' | sort)
doc=$(grep -E '^\| `[A-Z0-9_]+` \|' "$src/docs/options.md" |
  sed -E 's/^\| `([A-Z0-9_]+)` \| [^|]+ \| ([a-z]+) \|.*/\1 \2/' | sort)
[ -n "$table" ] || { echo "FAIL: no options read from lib/optclass.c"; exit 1; }
if [ "$table" != "$doc" ]; then
  echo "FAIL: docs/options.md and lib/optclass.c differ:"
  printf '%s\n' "$table" > /tmp/optdoc.table.$$
  printf '%s\n' "$doc" > /tmp/optdoc.doc.$$
  diff /tmp/optdoc.table.$$ /tmp/optdoc.doc.$$ || true
  rm -f /tmp/optdoc.table.$$ /tmp/optdoc.doc.$$
  exit 1
fi
echo "ok: $(printf '%s\n' "$table" | wc -l) options documented with their classes"
