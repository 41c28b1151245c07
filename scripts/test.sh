#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds, and runs every test: the release build's full suite,
# then the parser corpus and concurrency tests again under ASan+UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh

jobs=$(nproc)
echo "== release build"
cmake --preset release >/dev/null
cmake --build --preset release -j"$jobs"
echo "== release tests"
ctest --preset release -j"$jobs" --timeout 600

echo "== install, then build examples/find_package against the installed package"
rm -rf build/install build/consumer
cmake --install build/release --prefix build/install >/dev/null
cmake -S examples/find_package -B build/consumer -G Ninja -DCMAKE_PREFIX_PATH="$PWD/build/install" >/dev/null
cmake --build build/consumer
rm -rf build/demo/consumer-data
build/release/bench/mouse-synth build/demo/consumer-data 100 1
build/consumer/consumer build/demo/consumer-data

echo "== asan+ubsan build (parsers, corpus, fuzz regressions)"
cmake --preset asan -DMOUSE_BUILD_TOOLS=OFF >/dev/null
cmake --build --preset asan -j"$jobs" --target mouse_core_tests mouse_format_tests mouse_hf_tests
echo "== asan+ubsan tests"
ctest --preset asan -j"$jobs" --timeout 900 -L 'core|format|hf'
