#!/bin/sh
# tests/wrapper/test-docs.sh - the docs document what exists and nothing
# else: the options of --help and of mptcpify-run(1) are the same; the
# MPTCPIFY_* variables the sources read and those of mptcpify(7) are the
# same; the option table of mptcpify(7) is lib/optclass.c's; both pages
# render without warnings. Needs SRCDIR and OPTDUMP besides RUN and LIB.
# shellcheck shell=sh
. "$(dirname "$0")/common.sh"
: "${SRCDIR:?SRCDIR must name the source tree}"
: "${OPTDUMP:?OPTDUMP must name the built optdump}"
man1=$SRCDIR/docs/mptcpify-run.1
man7=$SRCDIR/docs/mptcpify.7

# compare_sets A B WHAT-A WHAT-B: both files hold one word per line.
compare_sets() {
	sort -u "$1" >"$1.s"
	sort -u "$2" >"$2.s"
	[ -s "$1.s" ] || fail "$3: nothing found (is the extraction broken?)"
	comm -23 "$1.s" "$2.s" | while read -r w; do
		echo "$NAME: FAIL: $w is in $3 but not in $4"
	done >"$TMP/diff1"
	comm -13 "$1.s" "$2.s" | while read -r w; do
		echo "$NAME: FAIL: $w is in $4 but not in $3"
	done >>"$TMP/diff1"
	if [ -s "$TMP/diff1" ]; then
		cat "$TMP/diff1"
		FAILS=$((FAILS + 1))
	fi
}

# section FILE NAME: the lines of one .SH section of a man page, with the
# troff escapes for '-' undone.
section() {
	awk -v s="$2" '/^\.SH/ { on = ($0 ~ "^\\.SH \"?" s "\"?$"); next } on' "$1" |
		sed 's/\\-/-/g; s/\\(aq/'"'"'/g'
}

# ---- options: --help against mptcpify-run(1) ------------------------------
"$RUN" --help >"$TMP/help" || fail "--help failed"
# Options in --help: long ones anywhere, short ones where they stand alone.
{
	grep -oE -- '--[a-z][a-z-]*' "$TMP/help"
	grep -oE -- '(^|[[:space:][])-[a-zA-Z]([],[:space:]]|$)' "$TMP/help" |
		grep -oE -- '-[a-zA-Z]'
} >"$TMP/help-opts"
section "$man1" OPTIONS >"$TMP/man1-options"
{
	grep -oE -- '--[a-z][a-z-]*' "$TMP/man1-options"
	grep -oE -- '(^|[[:space:]"[])-[a-zA-Z]([]",[:space:]]|$)' "$TMP/man1-options" |
		grep -oE -- '-[a-zA-Z]'
} >"$TMP/man-opts"
compare_sets "$TMP/help-opts" "$TMP/man-opts" "--help" "mptcpify-run(1) OPTIONS"
# The option parser knows exactly these: each long option must be accepted.
sort -u "$TMP/help-opts" | grep -- '^--' | while read -r o; do
	"$RUN" "$o" >/dev/null 2>"$TMP/e" </dev/null
	if grep -q 'unknown option' "$TMP/e"; then
		echo "$NAME: FAIL: --help lists $o but the parser does not know it"
	fi
done >"$TMP/unknown"
[ -s "$TMP/unknown" ] && { cat "$TMP/unknown"; FAILS=$((FAILS + 1)); }

# ---- environment variables ------------------------------------------------
# What the sources read: string literals naming a variable, in lib/ and tools/.
cat "$SRCDIR"/lib/*.c "$SRCDIR"/lib/*.h "$SRCDIR"/tools/*.c "$SRCDIR"/tools/*.h 2>/dev/null |
	grep -oE '"MPTCPIFY_[A-Z][A-Z_]*"' | tr -d '"' >"$TMP/src-vars"
# What mptcpify(7) documents as entries of ENVIRONMENT...
section "$man7" ENVIRONMENT | awk '/^\.TP/ { getline; print }' |
	grep -oE 'MPTCPIFY_[A-Z][A-Z_]*' >"$TMP/man7-vars"
compare_sets "$TMP/src-vars" "$TMP/man7-vars" "the sources" "mptcpify(7) ENVIRONMENT"
# ...and no page names a variable that does not exist.
grep -ohE 'MPTCPIFY_[A-Z][A-Z_]*' "$man7" "$man1" | sort -u >"$TMP/all-mentioned"
sort -u "$TMP/src-vars" >"$TMP/src-vars.u"
comm -23 "$TMP/all-mentioned" "$TMP/src-vars.u" | while read -r v; do
	echo "$NAME: FAIL: the man pages mention $v, which nothing reads"
done >"$TMP/extra"
[ -s "$TMP/extra" ] && { cat "$TMP/extra"; FAILS=$((FAILS + 1)); }

# ---- the option table -------------------------------------------------------
"$OPTDUMP" >"$TMP/table" || fail "optdump failed"
awk '/^\.TS/ { on = 1; next } /^\.TE/ { on = 0 } on' "$man7" |
	awk -F '\t' 'NF >= 3 && $1 ~ /^[A-Z][A-Z0-9_]+$/ && $1 != "Option" { print $1 " " $2 " " $3 }' \
	>"$TMP/man-table"
compare_sets "$TMP/table" "$TMP/man-table" "lib/optclass.c (name, class, once connected)" "mptcpify(7) option table"

# ---- the pages render -------------------------------------------------------
if command -v groff >/dev/null 2>&1; then
	for page in "$man1" "$man7"; do
		w=$(groff -t -man -ww -z "$page" 2>&1)
		[ -z "$w" ] || fail "$(basename "$page"): groff warnings: $w"
	done
fi
if command -v man >/dev/null 2>&1; then
	MANWIDTH=80 man -l "$man1" 2>/dev/null | grep -q 'mptcpify-run - run a program' ||
		fail "man -l mptcpify-run.1 does not render its NAME"
	MANWIDTH=80 man -l "$man7" 2>/dev/null | grep -q 'TCP_USER_TIMEOUT' ||
		fail "man -l mptcpify.7 does not render its table"
fi

# DOCS_DEBUG=1 shows what was extracted, to debug the extraction itself.
[ -n "${DOCS_DEBUG:-}" ] && for f in help-opts man-opts src-vars man7-vars man-table; do echo "== $f"; sort -u "$TMP/$f" | tr "\n" " "; echo; done
finish
