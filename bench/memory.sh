#!/usr/bin/env bash
# Memory after load: for etcd and then berth (three members each, the
# settings of compare-etcd.sh), OPS puts of 256 B over KEYS keys through
# all three members, then each member's resident set (VmRSS) and its peak
# (VmHWM). One cluster runs at a time, so neither is measured while the
# other loads the machine. Stops all it starts.
#
#   bench/memory.sh                       # 1,000,000 puts over 100,000 keys
#   OPS=200000 KEYS=20000 bench/memory.sh
set -euo pipefail
cd "$(dirname "$0")/.."

OPS=${OPS:-1000000}
KEYS=${KEYS:-100000}
CLIENTS=${CLIENTS:-16}
TARGETS=${TARGETS:-"etcd berth"}
source bench/cluster.sh

kib() { awk -v k="$2" '$1 == k":" { print $2 }' "/proc/$1/status"; }
rows=()
for target in $TARGETS; do
  start_cluster "$target"
  healthy "$target"
  echo "$target: $OPS puts over $KEYS keys" >&2
  "$bench" store put --target "$target" --endpoints "$(endpoints "$target")" \
    --clients "$CLIENTS" --conns 4 --keys "$KEYS" --ops "$OPS" --duration 86400 | tail -1 >&2
  for i in 1 2 3; do
    pid=${member_pid[$target$i]}
    rows+=("$(printf '%-8s %6s %12d %12d' "$target" "$i" $(($(kib "$pid" VmRSS) / 1024)) $(($(kib "$pid" VmHWM) / 1024)))")
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    unset "member_pid[$target$i]"
  done
done
echo
printf '%-8s %6s %12s %12s\n' target member "RSS MiB" "peak MiB"
printf '%s\n' "${rows[@]}"
