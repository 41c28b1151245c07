// The source value checks of from_dataset (StoreConfig::validate) against memcpy of the same
// bytes: a save_to_disk dataset of MOUSE_VALIDATE_BENCH_ROWS rows (default 100M: action int64,
// reward float32, done int64 = 2 GB of values), memory-mapped, checked with the pages kept
// (the kernels alone, memory warm) and given back (what from_dataset does: every page faulted
// in from the page cache and dropped again), and in memory with float-stored action / done.
#include <benchmark/benchmark.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <vector>

#include "mouse/dataset.hpp"
#include "store/contract.hpp"
#include "store/validate.hpp"

namespace {

namespace fs = std::filesystem;
using namespace mouse;

int64_t bench_rows() {
  const char* v = std::getenv("MOUSE_VALIDATE_BENCH_ROWS");
  return v ? std::atoll(v) : 100'000'000;
}

fs::path bench_dir() {
  return fs::temp_directory_path() / ("mouse-validate-bench-" + std::to_string(::getpid()));
}

template <class T>
arrow::ArrayPtr column(arrow::TypePtr type, int64_t n, T (*value)(int64_t)) {
  Buffer values = Buffer::allocate(n * static_cast<int64_t>(sizeof(T)));
  T* p = reinterpret_cast<T*>(values.mutable_data());
  for (int64_t i = 0; i < n; ++i) p[i] = value(i);
  auto a = std::make_shared<arrow::ArrayData>();
  a->type = std::move(type);
  a->length = n;
  a->buffers = {Buffer(), values};
  return a;
}

std::shared_ptr<arrow::Schema> schema_of(arrow::TypePtr integer) {
  auto s = std::make_shared<arrow::Schema>();
  s->fields = {{"action", integer, true, {}},
               {"reward", arrow::float32(), true, {}},
               {"done", integer, true, {}}};
  return s;
}

// Steps [first, first + n): action i % 4, reward 1, done 1 every 200th row.
template <class I>
arrow::RecordBatch steps(const std::shared_ptr<arrow::Schema>& schema, int64_t first, int64_t n) {
  thread_local int64_t base = 0;
  base = first;
  arrow::RecordBatch b;
  b.schema = schema;
  b.num_rows = n;
  b.columns = {column<I>(schema->fields[0].type, n, [](int64_t i) { return I((base + i) % 4); }),
               column<float>(arrow::float32(), n, [](int64_t) { return 1.0f; }),
               column<I>(schema->fields[2].type, n,
                         [](int64_t i) { return I((base + i) % 200 == 199 ? 1 : 0); })};
  return b;
}

// The mapped dataset, written once per process.
const Dataset& mapped_dataset() {
  static const Dataset ds = [] {
    const int64_t rows = bench_rows();
    const auto schema = schema_of(arrow::int64());
    BatchStream stream;
    stream.layout = Dataset::from_batches(schema, {});
    stream.num_rows = rows;
    stream.produce = [&](const BatchStream::Emit& emit) {
      for (int64_t r = 0; r < rows; r += 1000) emit(steps<int64_t>(schema, r, std::min<int64_t>(1000, rows - r)));
    };
    save_stream_to_disk(stream, bench_dir() / "ds");
    return Dataset::load_from_disk(bench_dir() / "ds");
  }();
  return ds;
}

// Unmaps the dataset's pages from this process (as load_from_disk leaves them), keeping them in
// the page cache.
void unmap_pages(const Dataset& ds) {
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  for (const auto& batch : ds.batches()) {
    for (const auto& c : batch.columns) {
      const Buffer& b = c->buffers[1];
      const uintptr_t begin = reinterpret_cast<uintptr_t>(b.data()) / page * page;
      const uintptr_t end = reinterpret_cast<uintptr_t>(b.data()) + static_cast<uintptr_t>(b.size());
      (void)::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
    }
  }
}

void run_validate(benchmark::State& state, const Dataset& ds, bool release) {
  const StoreConfig config;
  const auto plan = detail::plan_schema(*ds.schema(), config, "bench", true);
  int64_t bytes = 0;
  uint64_t released = 0;
  for (auto _ : state) {
    if (release && !ds.data_files().empty()) {
      state.PauseTiming();
      unmap_pages(ds);
      state.ResumeTiming();
    }
    detail::ValidateStats stats;
    const auto problem =
        detail::validate_batches(ds.batches(), plan, config, 0, {std::nullopt, release}, &stats);
    if (problem) state.SkipWithError(problem->message.c_str());
    bytes += stats.bytes_checked;
    released += stats.bytes_released;
  }
  state.SetBytesProcessed(bytes);
  state.counters["rows"] = static_cast<double>(ds.num_rows());
  state.counters["released_GB"] =
      static_cast<double>(released) / 1e9 / static_cast<double>(state.iterations());
}

// The check alone: pages stay mapped (warm after the first iteration).
void BM_ValidateMapped(benchmark::State& state) { run_validate(state, mapped_dataset(), false); }
BENCHMARK(BM_ValidateMapped)->Unit(benchmark::kMillisecond)->UseRealTime();

// As from_dataset runs it: every page faulted in from the page cache (none mapped before, as
// after load_from_disk), then given back.
void BM_ValidateMappedReleasingPages(benchmark::State& state) {
  run_validate(state, mapped_dataset(), true);
}
BENCHMARK(BM_ValidateMappedReleasingPages)->Unit(benchmark::kMillisecond)->UseRealTime();

// memcpy of the same column buffers, chunk by chunk, into one destination.
void BM_MemcpySameBytes(benchmark::State& state) {
  const Dataset& ds = mapped_dataset();
  std::vector<uint8_t> dst(1 << 20);
  int64_t bytes = 0;
  for (auto _ : state) {
    for (const auto& batch : ds.batches()) {
      for (const auto& c : batch.columns) {
        const Buffer& b = c->buffers[1];
        const int64_t width = c->type->byte_width();
        const size_t n = static_cast<size_t>(c->length * width);
        std::memcpy(dst.data(), b.data() + c->offset * width, n);
        benchmark::ClobberMemory();
        bytes += static_cast<int64_t>(n);
      }
    }
  }
  state.SetBytesProcessed(bytes);
}
BENCHMARK(BM_MemcpySameBytes)->Unit(benchmark::kMillisecond)->UseRealTime();

// Floats in the integer columns (whole-number and range checks), in memory, 1/10 of the rows.
void BM_ValidateFloatCodedInMemory(benchmark::State& state) {
  static const Dataset ds = [] {
    const auto schema = schema_of(arrow::float64());
    std::vector<arrow::RecordBatch> batches;
    const int64_t rows = bench_rows() / 10;
    for (int64_t r = 0; r < rows; r += 1000) {
      batches.push_back(steps<double>(schema, r, std::min<int64_t>(1000, rows - r)));
    }
    return Dataset::from_batches(schema, std::move(batches));
  }();
  run_validate(state, ds, false);
}
BENCHMARK(BM_ValidateFloatCodedInMemory)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  std::error_code ec;
  fs::remove_all(bench_dir(), ec);
  return 0;
}
