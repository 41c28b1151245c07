// Encoding random rows of a CartPole-like dataset (4-float observation, q_star of 2) into a
// TensorDict, against a plain memcpy of the same output size in the same run. Reports rows/s and
// output bytes/s for both.
#include <benchmark/benchmark.h>

#include <cstring>
#include <random>
#include <vector>

#include "mouse/dataset_store.hpp"
#include "synthetic.hpp"

namespace {

constexpr int64_t kDatasetRows = 200'000;
constexpr int64_t kBatchRows = 2048;

mouse::DatasetStore& cartpole_store() {
  static mouse::DatasetStore* store = [] {
    auto* s = new mouse::DatasetStore(/*max_action_dim=*/2, /*max_obs_continuous_dim=*/4);
    s->from_dataset(mouse::Dataset::from_batches(mouse::bench::cartpole_schema(),
                                                 mouse::bench::cartpole_batches(kDatasetRows)));
    return s;
  }();
  return *store;
}

std::vector<int64_t> random_indices(uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int64_t> pick(0, kDatasetRows - 1);
  std::vector<int64_t> idx(kBatchRows);
  for (auto& i : idx) i = pick(rng);
  return idx;
}

int64_t output_bytes(const mouse::TensorDict& td) {
  int64_t n = 0;
  for (const auto& [name, t] : td) n += t.nbytes();
  return n;
}

void BM_Encode2048RandomRows(benchmark::State& state) {
  const auto& store = cartpole_store();
  const auto idx = random_indices(1);
  const int64_t bytes = output_bytes(store.get(idx));
  for (auto _ : state) {
    mouse::TensorDict td = store.get(idx);
    benchmark::DoNotOptimize(td.at("action").data());
  }
  state.SetItemsProcessed(state.iterations() * kBatchRows);
  state.SetBytesProcessed(state.iterations() * bytes);
  state.counters["rows/s"] = benchmark::Counter(static_cast<double>(state.iterations() * kBatchRows),
                                                benchmark::Counter::kIsRate);
  state.counters["out_bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_Encode2048RandomRows)->Unit(benchmark::kMicrosecond);

// The floor: copying the same number of output bytes (into fresh buffers from the same
// allocator, as the encoder does).
void BM_MemcpySameOutputSize(benchmark::State& state) {
  const auto& store = cartpole_store();
  const auto idx = random_indices(1);
  const int64_t bytes = output_bytes(store.get(idx));
  std::vector<uint8_t> src(static_cast<size_t>(bytes), 1);
  for (auto _ : state) {
    auto dst = mouse::default_allocator().allocate(bytes);
    std::memcpy(dst.get(), src.data(), static_cast<size_t>(bytes));
    benchmark::DoNotOptimize(dst.get());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * kBatchRows);
  state.SetBytesProcessed(state.iterations() * bytes);
  state.counters["rows/s"] = benchmark::Counter(static_cast<double>(state.iterations() * kBatchRows),
                                                benchmark::Counter::kIsRate);
  state.counters["out_bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_MemcpySameOutputSize)->Unit(benchmark::kMicrosecond);

// Sequential rows (one window-like run) for comparison with the random gather.
void BM_Encode2048ConsecutiveRows(benchmark::State& state) {
  const auto& store = cartpole_store();
  std::vector<int64_t> idx(kBatchRows);
  for (int64_t i = 0; i < kBatchRows; ++i) idx[static_cast<size_t>(i)] = 5000 + i;
  const int64_t bytes = output_bytes(store.get(idx));
  for (auto _ : state) {
    mouse::TensorDict td = store.get(idx);
    benchmark::DoNotOptimize(td.at("action").data());
  }
  state.SetItemsProcessed(state.iterations() * kBatchRows);
  state.SetBytesProcessed(state.iterations() * bytes);
  state.counters["rows/s"] = benchmark::Counter(static_cast<double>(state.iterations() * kBatchRows),
                                                benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Encode2048ConsecutiveRows)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
