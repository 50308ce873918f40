#!/usr/bin/env bash
# Deployment apply-to-Ready latency through stock kubectl, against a cluster
# already started with `berth up --data-dir DATA_DIR`: `berth-bench
# apply-ready` runs `kubectl apply -f` on the shared Deployment manifest
# (../shared/manifests/deployment.yaml beside the repository), waits until
# every pod of the Deployment is Ready, deletes it and waits it away, RUNS
# times. It leaves the cluster as it found it.
#
#   bench/apply-ready.sh DATA_DIR [RUNS]     (default 20)
#
# BERTH_BENCH names the binary (default: $CARGO_TARGET_DIR or target/,
# release if built, else debug); MANIFEST the manifest; KUBECTL kubectl.
set -euo pipefail
usage() { echo "usage: bench/apply-ready.sh DATA_DIR [RUNS]" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
data_dir=$(realpath "$1")
runs=${2:-20}
manifest=$(realpath "${MANIFEST:-$(dirname "$0")/../../shared/manifests/deployment.yaml}")
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
pick() { if [ -x "$target/release/$1" ]; then echo "$target/release/$1"; else echo "$target/debug/$1"; fi; }
bench=${BERTH_BENCH:-$(pick berth-bench)}
[ -x "$bench" ] || { echo "apply-ready.sh: $bench missing: cargo build --bin berth-bench" >&2; exit 1; }
kubeconfig=$data_dir/kubeconfig
[ -f "$kubeconfig" ] || { echo "apply-ready.sh: no $kubeconfig: berth up --data-dir $1" >&2; exit 1; }
[ -f "$manifest" ] || { echo "apply-ready.sh: no manifest $manifest" >&2; exit 1; }
# The API serves kubectl's REST and berth's gRPC on one address: the
# kubeconfig's `server:`.
api=$(sed -n 's/^[[:space:]]*server:[[:space:]]*//p' "$kubeconfig" | head -n1)
[ -n "$api" ] || { echo "apply-ready.sh: no server: line in $kubeconfig" >&2; exit 1; }
token=$(sed -n 's/^[[:space:]]*token:[[:space:]]*//p' "$kubeconfig" | head -n1)
"$bench" apply-ready --api "$api" --kubeconfig "$kubeconfig" --manifest "$manifest" \
  --runs "$runs" --kubectl "${KUBECTL:-kubectl}" ${token:+--token "$token"}
