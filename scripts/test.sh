#!/usr/bin/env bash
# Sets up a Debian machine and runs every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
echo "test: cargo test (target dir $CARGO_TARGET_DIR)" >&2
cargo test --workspace --locked
