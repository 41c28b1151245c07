#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds the mouse-data command line, writes a small
# CartPole-like demo dataset and shows it.
set -euo pipefail
cd "$(dirname "$0")/.."
MOUSE_SKIP_NPM=1 ./scripts/install-deps.sh
cmake --preset release -DMOUSE_BUILD_TESTS=OFF >/dev/null
cmake --build --preset release -j"$(nproc)" --target mouse-data mouse-synth
cli=build/release/tools/mouse-data
data=build/demo/cartpole-tiny
rm -rf "$data"
build/release/bench/mouse-synth "$data" 200 7
echo "\$ mouse-data inspect $data"
"$cli" inspect "$data"
echo
echo "\$ mouse-data head $data -n 3 --offset 10 --json"
"$cli" head "$data" -n 3 --offset 10 --json
