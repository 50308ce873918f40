#!/usr/bin/env bash
# Failover time of a three-member cluster (TARGET=berth or etcd, same
# settings as compare-etcd.sh): SIGKILL the leader's process, time until a
# put succeeds through another member (`berth-bench first-put`), restart
# the killed member with its data, wait until all three are healthy;
# ROUNDS times. Prints each round, then p50/p99/max. Stops all it starts.
#
#   TARGET=berth ROUNDS=20 bench/failover.sh
#   TARGET=etcd ROUNDS=20 bench/failover.sh
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET=${TARGET:-berth}
ROUNDS=${ROUNDS:-20}
[[ $TARGET == berth || $TARGET == etcd ]] || { echo "TARGET is berth or etcd" >&2; exit 2; }
source bench/cluster.sh

start_cluster "$TARGET"
healthy "$TARGET"
times=()
for round in $(seq 1 "$ROUNDS"); do
  lead=$(leader "$TARGET")
  others=""
  for i in 1 2 3; do
    [[ $i == "$lead" ]] || others+="${others:+,}$(endpoint "$TARGET" "$i")"
  done
  kill -9 "${member_pid[$TARGET$lead]}"
  ms=$("$bench" first-put --endpoints "$others" --try-ms 200 --timeout 60)
  wait "${member_pid[$TARGET$lead]}" 2>/dev/null || true
  times+=("$ms")
  echo "round $round: killed member $lead (the leader), a put succeeded after $ms ms"
  start_member "$TARGET" "$lead"
  healthy "$TARGET"
done
printf '%s\n' "${times[@]}" | sort -n | awk -v target="$TARGET" '
  # Nearest rank: the smallest value with at least q of all at or below it.
  function rank(q,  r) { r = int(q * NR); if (r < q * NR) r++; return r < 1 ? 1 : r }
  { v[NR] = $1 }
  END {
    p50 = v[rank(0.50)]; p99 = v[rank(0.99)]
    printf "%s failover over %d rounds: p50 %d ms, p99 %d ms, max %d ms\n", target, NR, p50, p99, v[NR]
  }'
