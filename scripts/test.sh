#!/usr/bin/env bash
# Sets up a Debian machine and runs every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
# containerd for the CRI runtime's and the images' tests, with the images
# pods run; it is stopped however the tests end. Without root (and no sudo)
# those tests skip themselves.
if [ "$(id -u)" = 0 ] || command -v sudo >/dev/null 2>&1; then
  scripts/containerd.sh start
  trap 'scripts/containerd.sh stop' EXIT
  scripts/images.sh
  # containerd is up: its tests must run, not skip.
  export BERTH_REQUIRE_CONTAINERD=1
else
  echo "test: not root and no sudo: containerd is not started, its tests will skip" >&2
fi
# Each checkout builds its own copies of the workspace's crates into the
# shared cache; those of earlier checkouts, and incremental data, are
# dropped so the cache does not fill the disk (the agent reports
# DiskPressure below 10% free, and pods then stay Pending).
if [ -d "$CARGO_TARGET_DIR/debug/deps" ]; then
  find "$CARGO_TARGET_DIR/debug/deps" -maxdepth 1 -type f -executable -mmin +120 -delete || true
  rm -rf "$CARGO_TARGET_DIR/debug/incremental"
fi
echo "test: cargo test (target dir $CARGO_TARGET_DIR)" >&2
cargo test --workspace --locked
