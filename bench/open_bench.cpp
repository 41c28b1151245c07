// Opening a save_to_disk dataset must cost the same for 20k or 2M rows: memory-map the shards,
// read the per-batch metadata, copy no column data. Reports wall time per open and the resident
// memory the open adds while the dataset is alive.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "mouse/dataset.hpp"
#include "synthetic.hpp"

namespace {

int64_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * ::sysconf(_SC_PAGESIZE);
}

// One dataset per row count, written once per process into a temp dir.
const std::filesystem::path& dataset_with_rows(int64_t rows) {
  static std::map<int64_t, std::filesystem::path> made;
  auto it = made.find(rows);
  if (it != made.end()) return it->second;
  auto dir = std::filesystem::temp_directory_path() / ("mouse-open-bench-" + std::to_string(::getpid())) /
             std::to_string(rows);
  std::filesystem::create_directories(dir.parent_path());
  auto batches = mouse::bench::cartpole_batches(rows);
  mouse::Dataset::from_batches(mouse::bench::cartpole_schema(), std::move(batches)).save_to_disk(dir);
  return made.emplace(rows, dir).first->second;
}

void BM_LoadFromDisk(benchmark::State& state) {
  const auto& dir = dataset_with_rows(state.range(0));
  int64_t added = 0, opens = 0;
  for (auto _ : state) {
    int64_t before = resident_bytes();
    mouse::Dataset ds = mouse::Dataset::load_from_disk(dir);
    benchmark::DoNotOptimize(ds.num_rows());
    added += resident_bytes() - before;
    ++opens;
  }
  state.counters["rows"] = static_cast<double>(state.range(0));
  state.counters["rss_added_MB"] = static_cast<double>(added) / opens / 1e6;
}
BENCHMARK(BM_LoadFromDisk)->Arg(20'000)->Arg(2'000'000)->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  std::error_code ec;
  std::filesystem::remove_all(std::filesystem::temp_directory_path() /
                                  ("mouse-open-bench-" + std::to_string(::getpid())),
                              ec);
  return 0;
}
