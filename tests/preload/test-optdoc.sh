#!/bin/sh
# test-optdoc.sh SRCDIR - docs/options.md lists every option of
# lib/optclass.c with its default class and the class it gets once the
# socket is connected or accepted (optclass_decided: emulate options stay
# emulated; a tcp option is emulated when emulated_once_decided lists it,
# else the kernel's error), and nothing else.
set -eu
src=$1
c=$src/lib/optclass.c
once=$(sed -n '/emulated_once_decided\[\] = {/,/^};/p' "$c" |
  sed -nE 's/^	\{ SOL_[A-Z0-9]+, ([A-Z0-9_]+) \},.*/\1/p' | sort -u)
[ -n "$once" ] || { echo "FAIL: no emulated_once_decided entries read from lib/optclass.c"; exit 1; }
table=$(grep -E '^	\{ "[A-Z0-9_]+", ' "$c" |
  sed -E 's/^	\{ "([A-Z0-9_]+)", [A-Z_0-9]+, [A-Z_0-9]+, ([ET]),.*/\1 \2/' |
  while read -r name cls; do
    if [ "$cls" = E ]; then echo "$name emulate emulate"
    elif printf '%s\n' "$once" | grep -qx "$name"; then echo "$name tcp emulate"
    else echo "$name tcp error"
    fi
  done | sort)
doc=$(grep -E '^\| `[A-Z0-9_]+` \|' "$src/docs/options.md" |
  sed -E 's/^\| `([A-Z0-9_]+)` \| [^|]+ \| ([a-z]+) \| ([a-z]+) \|.*/\1 \2 \3/' | sort)
[ -n "$table" ] || { echo "FAIL: no options read from lib/optclass.c"; exit 1; }
if [ "$table" != "$doc" ]; then
  echo "FAIL: docs/options.md and lib/optclass.c differ (name, class, once connected):"
  printf '%s\n' "$table" > /tmp/optdoc.table.$$
  printf '%s\n' "$doc" > /tmp/optdoc.doc.$$
  diff /tmp/optdoc.table.$$ /tmp/optdoc.doc.$$ || true
  rm -f /tmp/optdoc.table.$$ /tmp/optdoc.doc.$$
  exit 1
fi
# Every tcp option the list emulates is named in the prose that says why.
why=$(sed -n '/^Once a socket is connected/,/^Options that are not in this table/p' "$src/docs/options.md")
for name in $once; do
  case $(printf '%s\n' "$table" | grep "^$name ") in
    *" tcp emulate") ;;
    *) continue ;; # an emulate-class option: emulated everywhere anyway
  esac
  printf '%s\n' "$why" | grep -q "\`$name\`" ||
    { echo "FAIL: docs/options.md does not say why $name is emulated once connected"; exit 1; }
done
echo "ok: $(printf '%s\n' "$table" | wc -l) options documented with both classes"
