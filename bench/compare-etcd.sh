#!/usr/bin/env bash
# Side by side on this machine: a three-member etcd and a three-member berth
# store on loopback, fsync on, heartbeat 100 ms and election 1000 ms on
# both. Runs each workload against both in alternation (etcd, berth, etcd,
# berth, ...), PAIRS times, then prints the medians and berth/etcd ratios.
# Installs Debian's etcd-server if etcd is missing. Stops all it starts
# (bench/cluster.sh).
#
#   bench/compare-etcd.sh                       # defaults below
#   PAIRS=5 DURATION=30 WORKLOADS="put get-l" bench/compare-etcd.sh
#   BERTH=path/to/berth BENCH=path/to/berth-bench bench/compare-etcd.sh
set -euo pipefail
cd "$(dirname "$0")/.."

PAIRS=${PAIRS:-3}
DURATION=${DURATION:-10}
CLIENTS=${CLIENTS:-16}
WATCHERS=${WATCHERS:-1000}
WORKLOADS=${WORKLOADS:-"put get-l get-s txn range watch mixed"}
source bench/cluster.sh

start_cluster etcd
start_cluster berth
healthy etcd
healthy berth

results="$work/results.jsonl"
run() {
  local target=$1 name=$2 workload consistency=l
  case $name in
    get-l) workload=get ;;
    get-s) workload=get consistency=s ;;
    *) workload=$name ;;
  esac
  "$bench" store "$workload" --name "$name" --target "$target" \
    --endpoints "$(endpoints "$target")" --clients "$CLIENTS" --conns 4 \
    --duration "$DURATION" --consistency "$consistency" --watchers "$WATCHERS" --json >>"$results"
}

for pair in $(seq 1 "$PAIRS"); do
  for w in $WORKLOADS; do
    echo "pair $pair/$PAIRS: $w" >&2
    run etcd "$w"
    run berth "$w"
  done
done

echo
echo "etcd $(etcd --version | head -1 | awk '{print $3}') vs berth, three members each on loopback, $CLIENTS clients, $WATCHERS watchers, ${DURATION}s per run, medians of $PAIRS pairs:"
"$bench" compare "$results" --baseline etcd --other berth
