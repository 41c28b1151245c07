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


void BM_Encode2048RandomRows(benchmark::State& state) {
  const auto& store = cartpole_store();
  const auto idx = random_indices(1);
  const int64_t bytes = store.get(idx).nbytes();
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
  const int64_t bytes = store.get(idx).nbytes();
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
  const int64_t bytes = store.get(idx).nbytes();
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

// The window path: the same 2048 consecutive rows as one window of gather_windows (what the
// batchifier calls), into fresh tensors.
void BM_GatherWindow2048ConsecutiveRows(benchmark::State& state) {
  const auto& store = cartpole_store();
  const mouse::WindowSlot window{5000, kBatchRows, 0};
  int64_t bytes = 0;
  for (auto _ : state) {
    mouse::TensorDict td({kBatchRows});
    store.gather_windows(std::span<const mouse::WindowSlot>(&window, 1), kBatchRows, td);
    bytes = td.nbytes();
    benchmark::DoNotOptimize(td.at("action").data());
  }
  state.SetItemsProcessed(state.iterations() * kBatchRows);
  state.SetBytesProcessed(state.iterations() * bytes);
  state.counters["rows/s"] = benchmark::Counter(static_cast<double>(state.iterations() * kBatchRows),
                                                benchmark::Counter::kIsRate);
}
BENCHMARK(BM_GatherWindow2048ConsecutiveRows)->Unit(benchmark::kMicrosecond);

// A trainer's loop on a small-step environment: append one CartPole step to a store holding the
// 200k-row source plus a growing buffer, then encode the last 64 rows (all in the buffer once 64
// steps are in). The cost is the append, the snapshot readers take after it and the encode.
void BM_AppendCartPoleStepThenGetLast64(benchmark::State& state) {
  mouse::DatasetStore store(/*max_action_dim=*/2, /*max_obs_continuous_dim=*/4);
  store.from_dataset(mouse::Dataset::from_batches(mouse::bench::cartpole_schema(),
                                                  mouse::bench::cartpole_batches(kDatasetRows)));
  constexpr int64_t kLast = 64;
  std::vector<int64_t> idx(kLast);
  for (int64_t i = 0; i < kLast; ++i) idx[static_cast<size_t>(i)] = i - kLast;
  int64_t k = 0, bytes = 0;
  for (auto _ : state) {
    const double x = static_cast<double>(k % 200) * 0.01;
    mouse::StepRow row;
    row["observation"] = mouse::StepValue::List{x, -x, 0.5 * x, 0.25};
    row["action"] = k % 2;
    row["reward"] = 1.0;
    row["done"] = static_cast<int64_t>(k % 200 == 199 ? 1 : 0);
    row["episode_step"] = k % 200;
    row["metadata_q_star"] = mouse::StepValue::List{100.0 - x, 100.5 - x};
    store.append(row);
    mouse::TensorDict td = store.get(idx);
    benchmark::DoNotOptimize(td.at("action").data());
    bytes += td.nbytes();
    ++k;
  }
  state.SetItemsProcessed(k);
  state.SetBytesProcessed(bytes);
}
BENCHMARK(BM_AppendCartPoleStepThenGetLast64)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
