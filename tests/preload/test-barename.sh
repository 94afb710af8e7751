#!/bin/sh
# test-barename.sh LIBDIR PROBE - the library loads by bare name, as
# LD_PRELOAD=libmptcpify.so does after `meson install` and ldconfig (here
# through LD_LIBRARY_PATH), and by full path; the kernel says MPTCP.
set -eu
libdir=$1 probe=$2
for pre in libmptcpify.so "$libdir/libmptcpify.so"; do
  out=$(LD_LIBRARY_PATH=$libdir LD_PRELOAD=$pre "$probe" listen 127.0.0.1:0 2>&1)
  case $out in
    "proto 262 "*) echo "ok: LD_PRELOAD=$pre: $out" ;;
    *) echo "FAIL: LD_PRELOAD=$pre gave: $out"; exit 1 ;;
  esac
done
