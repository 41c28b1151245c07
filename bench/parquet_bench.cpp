// Parquet decode throughput: a 1M-step CartPole-like file (fixed-size-list observations, int64
// and float scalars) and a file of variable-length list columns, both written by our writer
// (snappy, dictionary where it pays), decoded from memory. Reports Parquet bytes/s and rows/s.
#include <benchmark/benchmark.h>

#include <map>
#include <random>
#include <vector>

#include "format/arrow/builders.hpp"
#include "mouse/parquet.hpp"
#include "synthetic.hpp"

namespace {

namespace pq = mouse::parquet;

struct File {
  mouse::Buffer bytes;
  int64_t rows = 0;
};

const File& cartpole_file(int64_t rows, pq::Compression codec) {
  static std::map<std::pair<int64_t, int>, File> made;
  auto key = std::make_pair(rows, static_cast<int>(codec));
  auto it = made.find(key);
  if (it != made.end()) return it->second;
  auto batches = mouse::bench::cartpole_batches(rows);
  pq::WriteOptions o;
  o.compression = codec;
  auto bytes = pq::write_parquet(mouse::bench::cartpole_schema(), batches, o);
  return made.emplace(key, File{mouse::Buffer::copy_of(bytes), rows}).first->second;
}

// Episodes as rows: list<float> rewards and list<int64> actions of 20..300 steps each.
const File& list_file(int64_t rows) {
  static std::map<int64_t, File> made;
  auto it = made.find(rows);
  if (it != made.end()) return it->second;
  std::mt19937_64 rng(7);
  std::vector<int64_t> offs{0};
  std::vector<float> rewards;
  std::vector<int64_t> actions;
  for (int64_t r = 0; r < rows; ++r) {
    int64_t len = 20 + static_cast<int64_t>(rng() % 281);
    for (int64_t k = 0; k < len; ++k) {
      rewards.push_back(static_cast<float>(rng() % 1000) / 100.0f);
      actions.push_back(static_cast<int64_t>(rng() % 4));
    }
    offs.push_back(static_cast<int64_t>(rewards.size()));
  }
  using namespace mouse::arrow;
  auto batch = make_batch({"rewards", "actions"},
                          {make_list(offs, make_primitive<float>(rewards)), make_list(offs, make_primitive<int64_t>(actions))});
  std::vector<RecordBatch> batches{batch};
  auto bytes = pq::write_parquet(batch.schema, batches);
  return made.emplace(rows, File{mouse::Buffer::copy_of(bytes), rows}).first->second;
}

void run(benchmark::State& state, const File& f) {
  for (auto _ : state) {
    pq::Table t = pq::read_parquet(f.bytes, "bench.parquet");
    benchmark::DoNotOptimize(t.batches.data());
  }
  state.SetBytesProcessed(state.iterations() * f.bytes.size());
  state.counters["rows/s"] = benchmark::Counter(static_cast<double>(state.iterations() * f.rows), benchmark::Counter::kIsRate);
  state.counters["file_MB"] = static_cast<double>(f.bytes.size()) / 1e6;
}

void BM_ParquetDecodeCartPole(benchmark::State& state) {
  run(state, cartpole_file(state.range(0), static_cast<pq::Compression>(state.range(1))));
}
BENCHMARK(BM_ParquetDecodeCartPole)
    ->Args({1000000, static_cast<int>(pq::Compression::kSnappy)})
    ->Args({1000000, static_cast<int>(pq::Compression::kZstd)})
    ->Args({1000000, static_cast<int>(pq::Compression::kNone)})
    ->Unit(benchmark::kMillisecond);

void BM_ParquetDecodeEpisodeLists(benchmark::State& state) { run(state, list_file(state.range(0))); }
BENCHMARK(BM_ParquetDecodeEpisodeLists)->Arg(6000)->Unit(benchmark::kMillisecond);

void BM_ParquetEncodeCartPole(benchmark::State& state) {
  auto batches = mouse::bench::cartpole_batches(state.range(0));
  int64_t out = 0;
  for (auto _ : state) {
    auto bytes = pq::write_parquet(mouse::bench::cartpole_schema(), batches);
    out = static_cast<int64_t>(bytes.size());
    benchmark::DoNotOptimize(bytes.data());
  }
  state.SetBytesProcessed(state.iterations() * out);
  state.counters["rows/s"] = benchmark::Counter(static_cast<double>(state.iterations() * state.range(0)), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ParquetEncodeCartPole)->Arg(1000000)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
