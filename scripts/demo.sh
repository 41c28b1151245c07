#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds the mouse-data command line and runs it on the
# bundled demo dataset.
set -euo pipefail
cd "$(dirname "$0")/.."
MOUSE_SKIP_NPM=1 ./scripts/install-deps.sh
cmake --preset release -DMOUSE_BUILD_TESTS=OFF -DMOUSE_BUILD_BENCH=OFF >/dev/null
cmake --build --preset release -j"$(nproc)" --target mouse-data
cli=build/release/tools/mouse-data
data=data/demo/cartpole-tiny
echo "\$ mouse-data inspect $data"
"$cli" inspect "$data"
echo
echo "\$ mouse-data head $data -n 3 --offset 10 --json"
"$cli" head "$data" -n 3 --offset 10 --json
