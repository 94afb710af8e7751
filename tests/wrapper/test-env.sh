#!/bin/sh
# tests/wrapper/test-env.sh - the child's environment: LD_PRELOAD merging,
# MPTCPIFY_* from the options, GODEBUG merging, and where the library is
# found (--lib, MPTCPIFY_LIB, build tree, installed path).
# shellcheck shell=sh
. "$(dirname "$0")/common.sh"

# childenv VAR [ENV-ASSIGNMENTS...] -- [WRAPPER-ARGS...]: prints VAR as the
# child sees it ("<unset>" when absent).
childenv() {
	var=$1
	shift
	assigns=
	while [ "$1" != "--" ]; do
		assigns="$assigns $1"
		shift
	done
	shift
	# shellcheck disable=SC2086
	env $assigns "$RUN" "$@" sh -c 'eval "v=\${$1-<unset>}"; printf "%s\n" "$v"' sh "$var" 2>/dev/null
}

# The library path is used as given (made absolute), symlinks kept.
lib=$(cd "$(dirname "$LIB")" && pwd)/$(basename "$LIB")

# ---- LD_PRELOAD ---------------------------------------------------------
# Stand-ins for other preloaded libraries: real shared objects, so ld.so
# stays quiet.
mkdir "$TMP/o" && cp "$LIB" "$TMP/o/other1.so" && cp "$LIB" "$TMP/o/other2.so" &&
	cp "$LIB" "$TMP/o/other3.so"
o1=$TMP/o/other1.so o2=$TMP/o/other2.so o3=$TMP/o/other3.so
expect_eq "$(childenv LD_PRELOAD --)" "$lib" "LD_PRELOAD unset"
expect_eq "$(childenv LD_PRELOAD LD_PRELOAD= --)" "$lib" "LD_PRELOAD empty"
expect_eq "$(childenv LD_PRELOAD LD_PRELOAD="$o1" --)" "$lib:$o1" "one entry kept after ours"
expect_eq "$(env LD_PRELOAD="$o1 $o2:$o3" "$RUN" sh -c 'printf "%s\n" "$LD_PRELOAD"' 2>/dev/null)" \
	"$lib:$o1:$o2:$o3" "space and colon separated entries kept, in order"
expect_eq "$(env LD_PRELOAD="  $o1  ::$o2 " "$RUN" sh -c 'printf "%s\n" "$LD_PRELOAD"' 2>/dev/null)" \
	"$lib:$o1:$o2" "empty entries dropped"
expect_eq "$(env LD_PRELOAD="$lib:$o1" "$RUN" sh -c 'printf "%s\n" "$LD_PRELOAD"' 2>/dev/null)" \
	"$lib:$o1" "no duplicate of ours"
expect_eq "$(env LD_PRELOAD="$o1 libmptcpify.so $o2" "$RUN" sh -c 'printf "%s\n" "$LD_PRELOAD"' 2>/dev/null)" \
	"$lib:$o1:$o2" "no second copy of the library by bare name"
ln -s "$lib" "$TMP/link.so"
expect_eq "$(env LD_PRELOAD="$TMP/link.so" "$RUN" sh -c 'printf "%s\n" "$LD_PRELOAD"' 2>/dev/null)" \
	"$lib" "no second copy through a symbolic link"
# Running twice nests without growing.
expect_eq "$("$RUN" "$RUN" sh -c 'printf "%s\n" "$LD_PRELOAD"' 2>/dev/null)" "$lib" \
	"mptcpify-run under mptcpify-run"

# ---- which library ------------------------------------------------------
cp "$LIB" "$TMP/custom.so"
expect_eq "$(childenv LD_PRELOAD -- --lib "$TMP/custom.so")" "$TMP/custom.so" "--lib"
expect_eq "$(childenv LD_PRELOAD MPTCPIFY_LIB="$TMP/custom.so" --)" "$TMP/custom.so" "MPTCPIFY_LIB"
expect_eq "$(childenv LD_PRELOAD MPTCPIFY_LIB="$TMP/nope.so" -- --lib "$TMP/custom.so")" \
	"$TMP/custom.so" "--lib wins over MPTCPIFY_LIB"
expect_eq "$(cd "$TMP" && "$RUN" --lib custom.so sh -c 'printf "%s\n" "$LD_PRELOAD"' 2>/dev/null)" \
	"$TMP/custom.so" "relative --lib made absolute"
# A copy of the wrapper outside the build tree looks for the installed
# library, not the build tree's.
cp "$RUN" "$TMP/mptcpify-run"
"$TMP/mptcpify-run" true >"$TMP/out" 2>"$TMP/err"
st=$?
if [ "$st" = 0 ]; then
	# Only possible when the library is installed at the configured path.
	case "$("$TMP/mptcpify-run" sh -c 'printf "%s\n" "$LD_PRELOAD"')" in
	"$lib") fail "a copy outside the build tree used the build tree's library" ;;
	esac
else
	expect_eq "$st" 125 "outside the build tree, library not installed"
	expect_grep '\(from installed\)' "$TMP/err" "outside the build tree: the installed path"
fi

# ---- MPTCPIFY_* -----------------------------------------------------------
expect_eq "$(childenv MPTCPIFY_ADDRS --)" "<unset>" "MPTCPIFY_ADDRS left unset"
expect_eq "$(childenv MPTCPIFY_ADDRS -- -a 'listen@:443')" "listen@:443" "--addrs"
expect_eq "$(childenv MPTCPIFY_ADDRS MPTCPIFY_ADDRS='*' -- --addrs '10.0.0.0/8')" "10.0.0.0/8" \
	"--addrs wins over the environment"
expect_eq "$(childenv MPTCPIFY_ADDRS MPTCPIFY_ADDRS='10.0.0.0/8' --)" "10.0.0.0/8" \
	"environment policy passed through"
expect_eq "$(childenv MPTCPIFY_ADDRS -- -a '')" "" "--addrs '' (empty policy)"
expect_eq "$(childenv MPTCPIFY_OPTIONS -- -o 'IP_TTL=error')" "IP_TTL=error" "--options"
expect_eq "$(childenv MPTCPIFY_LOG --)" "<unset>" "MPTCPIFY_LOG left alone"
expect_eq "$(childenv MPTCPIFY_LOG MPTCPIFY_LOG=error --)" "error" "MPTCPIFY_LOG passed through"
expect_eq "$(childenv MPTCPIFY_LOG -- -v)" "info" "-v"
expect_eq "$(childenv MPTCPIFY_LOG -- -vv)" "debug" "-vv"
expect_eq "$(childenv MPTCPIFY_LOG -- --verbose --verbose)" "debug" "--verbose --verbose"
expect_eq "$(childenv MPTCPIFY_STATS --)" "<unset>" "MPTCPIFY_STATS left alone"
expect_eq "$(childenv MPTCPIFY_STATS -- -s)" "1" "-s"
expect_eq "$(childenv MPTCPIFY_STATS -- --stats)" "1" "--stats"

# ---- GODEBUG ------------------------------------------------------------
expect_eq "$(childenv GODEBUG --)" "multipathtcp=1" "policy unset: 1"
expect_eq "$(childenv GODEBUG GODEBUG=http2client=0 --)" "http2client=0,multipathtcp=1" \
	"existing entries kept"
expect_eq "$(childenv GODEBUG GODEBUG=http2client=0,multipathtcp=0,x509sha1=1 --)" \
	"http2client=0,x509sha1=1,multipathtcp=1" "existing multipathtcp= replaced"
expect_eq "$(childenv GODEBUG GODEBUG=multipathtcp=3 --)" "multipathtcp=1" "only multipathtcp= before"
expect_eq "$(childenv GODEBUG GODEBUG=,a=1,,b=2, --)" "a=1,b=2,multipathtcp=1" "empty entries dropped"
expect_eq "$(childenv GODEBUG -- -a '*')" "multipathtcp=1" "*: 1"
expect_eq "$(childenv GODEBUG -- -a 'listen@:443, connect@10.0.0.0/8')" "multipathtcp=1" "both sides: 1"
expect_eq "$(childenv GODEBUG -- -a 'listen@:443')" "multipathtcp=2" "listen@ only: 2"
expect_eq "$(childenv GODEBUG -- -a 'listen@:443 listen@[::1]:80')" "multipathtcp=2" "listen@ rules only: 2"
expect_eq "$(childenv GODEBUG -- -a 'connect@10.0.0.0/8')" "multipathtcp=3" "connect@ only: 3"
expect_eq "$(childenv GODEBUG -- -a '10.0.0.0/8')" "multipathtcp=1" "unqualified rule: 1"
expect_eq "$(childenv GODEBUG -- -a '!connect@10.0.0.0/8, *')" "multipathtcp=1" "!connect@x, *: 1"
expect_eq "$(childenv GODEBUG -- -a 'listen@:443, !connect@10.0.0.0/8')" "multipathtcp=2" \
	"negated rules do not enable a side"
expect_eq "$(childenv GODEBUG -- -a '!listen@*, connect@*')" "multipathtcp=3" "!listen@*, connect@*: 3"
expect_eq "$(childenv GODEBUG -- -a '')" "<unset>" "empty policy: GODEBUG untouched"
expect_eq "$(childenv GODEBUG GODEBUG=a=1 -- -a '')" "a=1" "empty policy keeps GODEBUG as it was"
expect_eq "$(childenv GODEBUG -- -a '!10.0.0.0/8')" "<unset>" "only negated rules: GODEBUG untouched"

# --verbose says what Go programs get, and that they get no address filtering.
expect_status 0 "-v note" "$RUN" -v -a 'connect@10.0.0.0/8' true &&
	expect_grep 'Go .*no address filtering' "$TMP/err" "-v Go note"
expect_status 0 "no note without -v" "$RUN" -a 'connect@10.0.0.0/8' true &&
	{ [ ! -s "$TMP/err" ] || fail "stderr not empty without -v: $(cat "$TMP/err")"; }

finish
