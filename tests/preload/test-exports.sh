#!/bin/sh
# test-exports.sh LIB MAP - fails when LIB exports any symbol that is not an
# interposed libc name listed in MAP's global section, or misses one of them.
set -eu
lib=$1 map=$2
command -v nm >/dev/null || { echo "SKIP: nm (binutils) not installed"; exit 77; }
want=$(sed -n '/global:/,/local:/p' "$map" | grep -o '^ *[a-z_0-9]*;' | tr -d ' ;' | sort)
have=$(nm -D --defined-only "$lib" | awk '{print $3}' | sort)
[ -n "$have" ] || { echo "FAIL: no exported symbols read from $lib"; exit 1; }
extra=$(printf '%s\n' "$have" | grep -vxF "$want" || true)
missing=$(printf '%s\n' "$want" | grep -vxF "$have" || true)
status=0
[ -z "$extra" ] || { echo "FAIL: unexpected exports: $extra"; status=1; }
[ -z "$missing" ] || { echo "FAIL: interposed names not exported: $missing"; status=1; }
# every listed name must be a libc function
for s in $want; do
  case $s in
    socket|listen|connect|sendto|sendmsg|sendfile|sendfile64|setsockopt|getsockopt|close|dup|dup2|dup3|fcntl|fcntl64|close_range|closefrom|epoll_ctl) ;;
    *) echo "FAIL: $s is not an interposed libc name"; status=1 ;;
  esac
done
[ $status -ne 0 ] || echo "ok: exports are exactly: $(echo $have)"
exit $status
