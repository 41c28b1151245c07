#!/usr/bin/env bash
# Runs every libFuzzer target for a fixed number of executions (not part of CI) and prints one
# line per target: executions, seconds, crashes. Crash inputs stay in build/fuzz/crashes/<target>/
# to be added to the regression tests.
#
#   scripts/fuzz.sh [RUNS]          RUNS executions per target (default 1000000)
#   FUZZ_JOBS=N scripts/fuzz.sh     build parallelism (default 2)
#   FUZZ_PARALLEL=N scripts/fuzz.sh targets run at once (default 2)
#   FUZZ_TARGETS="a b" scripts/fuzz.sh  only these targets (default: all four)
#
# Needs clang-14 (apt-get install clang-14); uses the `fuzz` CMake preset.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-1000000}
jobs=${FUZZ_JOBS:-2}
read -r -a targets <<<"${FUZZ_TARGETS:-arrow_ipc_fuzz parquet_fuzz features_json_fuzz readme_yaml_fuzz}"

if ! command -v clang++-14 >/dev/null; then
  echo "fuzz.sh: clang++-14 not found (apt-get install clang-14)" >&2
  exit 1
fi
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j"$jobs" --target "${targets[@]}"

# Seed corpora: the test data's Arrow and Parquet files and its metadata JSON / READMEs.
data=${MOUSE_TESTDATA_DIR:-../shared/testdata}
work=build/fuzz/work
rm -rf "$work"
mkdir -p "$work"
seed() {  # seed TARGET FIND-ARGS...
  local dir="$work/seed-$1"
  mkdir -p "$dir"
  shift
  find "$data" -type f "$@" -size -1024k -print0 2>/dev/null |
    xargs -0 -r -I{} sh -c 'cp "$1" "$2/$(echo "$1" | md5sum | cut -c1-16)"' _ {} "$dir"
}
seed arrow_ipc_fuzz \( -name '*.arrow' -o -name '*.arrow_file' -o -name '*.stream' -o -name '*.fuzz' \)
seed parquet_fuzz -name '*.parquet'
seed features_json_fuzz -name '*.json'
seed readme_yaml_fuzz -name 'README.md'

# One target per core (FUZZ_PARALLEL, default 2) at a time; a line per target when all are done.
run_target() {
  local t=$1 crashes="build/fuzz/crashes/$1" log="$work/$1.log" start secs execs found
  mkdir -p "$crashes" "$work/corpus-$t"
  start=$(date +%s)
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
    "build/fuzz/fuzz/$t" -runs="$runs" -print_final_stats=1 -max_len=65536 -rss_limit_mb=4096 \
    -timeout=10 -artifact_prefix="$crashes/" "$work/corpus-$t" "$work/seed-$t" >"$log" 2>&1 || true
  secs=$(( $(date +%s) - start ))
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
  found=$(find "$crashes" -type f | wc -l)
  printf '%-20s %12s %9s %8s\n' "$t" "${execs:-?}" "$secs" "$found" >"$work/$t.line"
}
parallel=${FUZZ_PARALLEL:-2}
running=0
for t in "${targets[@]}"; do
  run_target "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$parallel" ]; then
    wait -n
    running=$((running - 1))
  fi
done
wait
printf '%-20s %12s %9s %8s\n' target executions seconds crashes
for t in "${targets[@]}"; do cat "$work/$t.line"; done
