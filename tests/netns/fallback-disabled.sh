#!/usr/bin/env bash
# tests/netns/fallback-disabled.sh - tests/netns/fallback.sh in namespaces
# with net.mptcp.enabled=0: both ends under mptcpify-run still work, in TCP.
set -euo pipefail
FALLBACK_DISABLED=1 exec "$(dirname "$0")/fallback.sh"
