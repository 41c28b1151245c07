#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds the mouse-data command line and runs its demo:
# generate a small FrozenLake dataset with frames, load it, sample augmented batches, report.
set -euo pipefail
cd "$(dirname "$0")/.."
MOUSE_SKIP_NPM=1 ./scripts/install-deps.sh
cmake --preset release -DMOUSE_BUILD_TESTS=OFF -DMOUSE_BUILD_BENCH=OFF >/dev/null
cmake --build --preset release -j"$(nproc)" --target mouse-data
echo "\$ mouse-data demo"
build/release/tools/mouse-data demo
