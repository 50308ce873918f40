#!/usr/bin/env bash
# Sets up a Debian machine, builds berth, and starts a whole cluster with
# `berth up`: three control-plane members and this host as a node, kubectl
# pointed at it through the kubeconfig it prints. As root it also starts
# berth's own containerd and imports the demo images, so pods are real
# containers; without root pods are host processes (berth up says so).
# Running it again resumes the cluster; `berth down` stops it.
# Arguments go to `berth up` (e.g. --data-dir DIR, --port-base N).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
if [ "$(id -u)" = 0 ]; then
  scripts/containerd.sh start
  scripts/images.sh   # builds berth too
else
  echo "up: not root: containerd is not started, pods will be host processes" >&2
  cargo build --locked --bin berth
fi
berth="$CARGO_TARGET_DIR/debug/berth"
# `berth` on PATH for the commands berth up suggests.
if [ "$(id -u)" = 0 ]; then
  ln -sf "$berth" /usr/local/bin/berth
else
  mkdir -p "$HOME/.local/bin" && ln -sf "$berth" "$HOME/.local/bin/berth"
fi
exec "$berth" up "$@"
