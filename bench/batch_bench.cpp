// PrefetchBatchifier throughput: batches of B = 32 windows of S = 64 steps from a 1M-step
// CartPole-like dataset (memory-mapped from a save_to_disk directory), for every sampling mode
// and 0, 1, 2 workers, alongside a memcpy of the same bytes. Reports batches/s, steps/s and
// bytes/s (bytes of the delivered batch tensors).
#include <benchmark/benchmark.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "batch/row_source.hpp"
#include "batch/window_index.hpp"
#include "core/rng.hpp"
#include "mouse/batch.hpp"
#include "mouse/dataset.hpp"
#include "mouse/dataset_store.hpp"
#include "mouse/envs.hpp"
#include "synthetic.hpp"

namespace {

constexpr int64_t kRows = 1'000'000;
constexpr int64_t kB = 32;
constexpr int64_t kS = 64;
const char* const kModes[] = {"random", "last", "sequential", "batch"};

std::filesystem::path bench_dir() {
  return std::filesystem::temp_directory_path() /
         ("mouse-batch-bench-" + std::to_string(::getpid()));
}

// One store over the dataset, written and mapped once per process.
const mouse::DatasetStore& store() {
  static const std::unique_ptr<mouse::DatasetStore> s = [] {
    const auto dir = bench_dir() / "cartpole";
    std::filesystem::create_directories(dir.parent_path());
    mouse::Dataset::from_batches(mouse::bench::cartpole_schema(),
                                 mouse::bench::cartpole_batches(kRows))
        .save_to_disk(dir);
    mouse::StoreConfig config;
    config.max_action_dim = 2;
    config.max_obs_continuous_dim = 4;
    auto out = std::make_unique<mouse::DatasetStore>(config);
    out->from_dataset(mouse::Dataset::load_from_disk(dir));
    return out;
  }();
  return *s;
}


void report(benchmark::State& state, int64_t batches, int64_t bytes) {
  state.SetItemsProcessed(batches);
  state.SetBytesProcessed(bytes);
  state.counters["batches/s"] =
      benchmark::Counter(static_cast<double>(batches), benchmark::Counter::kIsRate);
  state.counters["steps/s"] =
      benchmark::Counter(static_cast<double>(batches * kB * kS), benchmark::Counter::kIsRate);
}

// Args: mode index, workers, boundaries (0 none, 1 episode).
void BM_Batchifier(benchmark::State& state) {
  mouse::BatchifierOptions o;
  o.sampling = kModes[state.range(0)];
  o.num_workers = state.range(1);
  o.boundaries = state.range(2) ? "episode" : "none";
  o.seed = 1;
  o.prefetch = 8;
  mouse::PrefetchBatchifier b(store(), kS, kB, o);
  int64_t batches = 0, bytes = 0;
  for (auto _ : state) {
    mouse::TensorDict batch = b.next_batch();
    bytes += batch.nbytes();
    ++batches;
    benchmark::DoNotOptimize(batch);
  }
  state.SetLabel(o.sampling + (state.range(2) ? "/episode" : ""));
  report(state, batches, bytes);
}
BENCHMARK(BM_Batchifier)
    ->ArgsProduct({{0, 1, 2, 3}, {0, 1, 2}, {0}})
    ->ArgsProduct({{0}, {0, 1, 2}, {1}})
    ->ArgNames({"mode", "workers", "episode"})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

// Packed against padded on the same data (SPEC §5.1). Variant 0: padded [32, 64]; 1: packed
// with max_tokens = 32·64 and batch_size 32, i.e. the same 32 windows of 64 rows without a
// [B, S] shape; 2: packed ragged windows cut at episode ends, max_tokens 2048, no window bound.
// Random sampling, boundaries "episode" for variant 2 ("none" otherwise); workers 0, 1, 2.
// "rows/s" counts real rows, so variants 0 and 1 compare per row; the memcpy floor of the same
// bytes is BM_MemcpyBaseline.
void BM_PackedVsPadded(benchmark::State& state) {
  const int64_t variant = state.range(0);
  mouse::BatchifierOptions o;
  o.num_workers = state.range(1);
  o.seed = 1;
  o.prefetch = 8;
  int64_t b = kB;
  if (variant >= 1) {
    o.layout = "packed";
    o.max_tokens = kB * kS;
  }
  if (variant == 2) {
    o.lengths = "ragged";
    o.boundaries = "episode";
    b = 0;
  }
  mouse::PrefetchBatchifier bf(store(), kS, b, o);
  int64_t batches = 0, bytes = 0;
  double rows = 0;
  for (auto _ : state) {
    mouse::SampledBatch batch = bf.next();
    bytes += batch.data.nbytes();
    rows += batch.efficiency * static_cast<double>(kB * kS);
    ++batches;
    benchmark::DoNotOptimize(batch);
  }
  static const char* const kNames[] = {"padded[32,64]", "packed T=2048 B=32",
                                       "packed ragged/episode T=2048"};
  state.SetLabel(kNames[variant]);
  report(state, batches, bytes);
  state.counters["rows/s"] = benchmark::Counter(rows, benchmark::Counter::kIsRate);
  state.counters["efficiency"] = batches == 0 ? 0.0 : rows / static_cast<double>(batches * kB * kS);
}
BENCHMARK(BM_PackedVsPadded)
    ->ArgsProduct({{0, 1, 2}, {0, 1, 2}})
    ->ArgNames({"variant", "workers"})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

// Packing efficiency (real rows / T) of whole FrozenLake 4x4 episodes (random policy, 200k
// steps): lengths "ragged", boundaries "episode", S = 64, max_tokens 2048 binding (no
// batch_size). Mode 0 random (the window that would pass T is cut to fit), 2 sequential (it
// opens the next batch instead, so every episode is whole).
void BM_PackedFrozenLake(benchmark::State& state) {
  static const std::unique_ptr<mouse::DatasetStore> lake = [] {
    mouse::envs::GenerateOptions g;
    g.env = mouse::envs::Env::kFrozenLake4x4;
    g.steps = 200'000;
    g.seed = 3;
    mouse::StoreConfig config;
    config.max_action_dim = 4;
    auto out = std::make_unique<mouse::DatasetStore>(config);
    out->from_dataset(mouse::envs::generate(g));
    return out;
  }();
  mouse::BatchifierOptions o;
  o.sampling = kModes[state.range(0)];
  o.num_workers = 1;
  o.seed = 1;
  o.lengths = "ragged";
  o.boundaries = "episode";
  o.layout = "packed";
  o.max_tokens = kB * kS;
  mouse::PrefetchBatchifier bf(*lake, kS, 0, o);
  int64_t batches = 0, bytes = 0;
  double efficiency = 0;
  for (auto _ : state) {
    mouse::SampledBatch batch = bf.next();
    bytes += batch.data.nbytes();
    efficiency += batch.efficiency;
    ++batches;
  }
  state.SetLabel(std::string("frozenlake ") + o.sampling);
  report(state, batches, bytes);
  state.counters["efficiency"] = batches == 0 ? 0.0 : efficiency / static_cast<double>(batches);
}
BENCHMARK(BM_PackedFrozenLake)->Arg(0)->Arg(2)->ArgName("mode")->UseRealTime()->Unit(
    benchmark::kMicrosecond);

// The floor: copying a batch's bytes (from random places in a buffer of the same size as the
// encoded columns of `rows` rows) into fresh memory; with `huge`, the buffer in huge pages, as
// the store's mapped files are where the kernel allows it (the stricter floor).
// With `packed`, the bytes of a packed batch of the same windows (its sequence_id and position
// columns included, cu_seqlens and lengths aside) are copied the same way.
void memcpy_baseline(benchmark::State& state, int64_t rows, bool huge, bool packed = false) {
  mouse::BatchifierOptions o;
  o.num_workers = 0;
  o.seed = 1;
  if (packed) {
    o.layout = "packed";
    o.max_tokens = kB * kS;
  }
  mouse::PrefetchBatchifier b(store(), kS, kB, o);
  const int64_t row_bytes = b.next_batch().nbytes() / (kB * kS);
  const int64_t bytes_per_batch = row_bytes * kB * kS;
  constexpr size_t kHuge = size_t{2} << 20;
  const size_t src_bytes = (static_cast<size_t>(rows * row_bytes) + kHuge - 1) / kHuge * kHuge;
  std::unique_ptr<uint8_t, decltype(&std::free)> src(
      static_cast<uint8_t*>(std::aligned_alloc(kHuge, src_bytes)), &std::free);
  (void)::madvise(src.get(), src_bytes, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
  std::memset(src.get(), 1, src_bytes);
  int64_t batches = 0;
  uint64_t x = 88172645463325252ull;
  for (auto _ : state) {
    auto dst = std::make_unique_for_overwrite<uint8_t[]>(static_cast<size_t>(bytes_per_batch));
    for (int64_t w = 0; w < kB; ++w) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      const int64_t start = static_cast<int64_t>(x % static_cast<uint64_t>(rows - kS));
      std::memcpy(dst.get() + w * kS * row_bytes, src.get() + start * row_bytes,
                  static_cast<size_t>(kS * row_bytes));
    }
    benchmark::DoNotOptimize(dst.get());
    ++batches;
  }
  report(state, batches, batches * bytes_per_batch);
}

void BM_MemcpyBaseline(benchmark::State& state) { memcpy_baseline(state, kRows, false); }
BENCHMARK(BM_MemcpyBaseline)->UseRealTime()->Unit(benchmark::kMicrosecond);
void BM_MemcpyBaselineHugePages(benchmark::State& state) { memcpy_baseline(state, kRows, true); }
BENCHMARK(BM_MemcpyBaselineHugePages)->UseRealTime()->Unit(benchmark::kMicrosecond);
void BM_MemcpyBaselinePacked(benchmark::State& state) {
  memcpy_baseline(state, kRows, false, true);
}
BENCHMARK(BM_MemcpyBaselinePacked)->UseRealTime()->Unit(benchmark::kMicrosecond);

// 84x84x3 frames stored as PNG (an Image feature): every step of a batch is decoded, so this is
// where workers pay off. The frames are appended as pixels, written with save_to_disk (PNG
// bytes, as `datasets` stores them) and mapped back as the source.
constexpr int64_t kImageRows = 4'000;
constexpr int64_t kSide = 84;

const mouse::DatasetStore& image_store() {
  static const std::unique_ptr<mouse::DatasetStore> s = [] {
    mouse::StoreConfig config;
    config.max_action_dim = 4;
    config.max_obs_image_pixels = kSide * kSide * 3;
    config.obs_image_dtype = mouse::DType::kUInt8;
    mouse::DatasetStore writer(config);
    mouse::detail::CounterRng rng(9, 0);
    for (int64_t r = 0; r < kImageRows; ++r) {
      mouse::ImagePixels frame{kSide, kSide, 3, std::vector<uint8_t>(kSide * kSide * 3)};
      // A moving gradient with some noise: compresses about as well as an Atari frame.
      for (int64_t i = 0; i < kSide * kSide * 3; ++i) {
        frame.pixels[static_cast<size_t>(i)] = static_cast<uint8_t>(
            (i / 3 % kSide + r) / 2 + (rng.uniform_u32() & 7));
      }
      mouse::StepRow row;
      row["observation_image"] = std::move(frame);
      row["action"] = static_cast<int64_t>(r % 4);
      row["reward"] = 0.0;
      row["done"] = static_cast<int64_t>(r % 500 == 499 ? 1 : 0);
      writer.append(row);
    }
    const auto dir = bench_dir() / "frames";
    std::filesystem::create_directories(dir.parent_path());
    writer.to_dataset().save_to_disk(dir);
    auto out = std::make_unique<mouse::DatasetStore>(config);
    out->from_dataset(mouse::Dataset::load_from_disk(dir));
    return out;
  }();
  return *s;
}

// The same frames through the decoded-frame cache (built on first use in the bench directory).
const mouse::DatasetStore& cached_image_store() {
  static const std::unique_ptr<mouse::DatasetStore> s = [] {
    image_store();  // writes the frames
    mouse::StoreConfig config = image_store().config();
    config.image_cache = (bench_dir() / "frame-cache").string();
    auto out = std::make_unique<mouse::DatasetStore>(config);
    out->from_dataset(mouse::Dataset::load_from_disk(bench_dir() / "frames"));
    return out;
  }();
  return *s;
}

void BM_ImageBatchifierCached(benchmark::State& state) {
  mouse::BatchifierOptions o;
  o.num_workers = state.range(0);
  o.seed = 1;
  mouse::PrefetchBatchifier b(cached_image_store(), kS, kB, o);
  int64_t batches = 0, bytes = 0;
  for (auto _ : state) {
    mouse::TensorDict batch = b.next_batch();
    bytes += batch.nbytes();
    ++batches;
  }
  report(state, batches, bytes);
}
BENCHMARK(BM_ImageBatchifierCached)
    ->ArgName("workers")
    ->Arg(0)
    ->Arg(2)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// The floor for image batches: copying the batch's bytes (32 windows of 64 frames from random
// places of a buffer of the cache's size) into fresh memory.
void BM_ImageMemcpyBaseline(benchmark::State& state) {
  const int64_t row_bytes = kSide * kSide * 3;
  std::vector<uint8_t> src(static_cast<size_t>(kImageRows * row_bytes), 1);
  uint64_t x = 88172645463325252ull;
  int64_t batches = 0;
  for (auto _ : state) {
    auto dst = std::make_unique_for_overwrite<uint8_t[]>(static_cast<size_t>(kB * kS * row_bytes));
    for (int64_t w = 0; w < kB; ++w) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      const int64_t start = static_cast<int64_t>(x % static_cast<uint64_t>(kImageRows - kS));
      std::memcpy(dst.get() + w * kS * row_bytes, src.data() + start * row_bytes,
                  static_cast<size_t>(kS * row_bytes));
    }
    benchmark::DoNotOptimize(dst.get());
    ++batches;
  }
  report(state, batches, batches * kB * kS * row_bytes);
}
BENCHMARK(BM_ImageMemcpyBaseline)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_ImageBatchifier(benchmark::State& state) {
  mouse::BatchifierOptions o;
  o.num_workers = state.range(0);
  o.seed = 1;
  mouse::PrefetchBatchifier b(image_store(), kS, kB, o);
  int64_t batches = 0, bytes = 0;
  for (auto _ : state) {
    mouse::TensorDict batch = b.next_batch();
    bytes += batch.nbytes();
    ++batches;
  }
  report(state, batches, bytes);
}
BENCHMARK(BM_ImageBatchifier)
    ->ArgName("workers")
    ->Arg(0)
    ->Arg(1)
    ->Arg(2)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// A trainer's loop with episode boundaries: append one 84x84x3 step (PNG-encoded by the store),
// then take a batch on the calling thread. The batch brings the episode index up to date with
// the new step, which must read its done flag only, not encode (decode) the whole row. Args:
// sequence length and batch size (small batches make the per-append overhead visible).
std::vector<mouse::ImagePixels> frames(int64_t n) {
  std::vector<mouse::ImagePixels> out;
  mouse::detail::CounterRng rng(11, 0);
  for (int64_t r = 0; r < n; ++r) {
    mouse::ImagePixels frame{kSide, kSide, 3, std::vector<uint8_t>(kSide * kSide * 3)};
    for (int64_t i = 0; i < kSide * kSide * 3; ++i) {
      frame.pixels[static_cast<size_t>(i)] =
          static_cast<uint8_t>((i / 3 % kSide + r) / 2 + (rng.uniform_u32() & 7));
    }
    out.push_back(std::move(frame));
  }
  return out;
}

// A fresh, appendable store over the mapped frames of image_store().
std::unique_ptr<mouse::DatasetStore> appendable_image_store() {
  auto out = std::make_unique<mouse::DatasetStore>(image_store().config());
  out->from_dataset(mouse::Dataset::load_from_disk(bench_dir() / "frames"));
  return out;
}

void BM_AppendImageThenBatch(benchmark::State& state) {
  const int64_t s = state.range(0);
  const int64_t b = state.range(1);
  auto store = appendable_image_store();
  const std::vector<mouse::ImagePixels> pool = frames(64);
  mouse::BatchifierOptions o;
  o.num_workers = 0;
  o.boundaries = "episode";
  o.seed = 1;
  mouse::PrefetchBatchifier batchifier(*store, s, b, o);
  int64_t k = 0, bytes = 0;
  for (auto _ : state) {
    mouse::StepRow row;
    row["observation_image"] = pool[static_cast<size_t>(k % 64)];
    row["action"] = k % 4;
    row["reward"] = 0.0;
    row["done"] = static_cast<int64_t>(k % 100 == 99 ? 1 : 0);
    store->append(row);
    mouse::TensorDict batch = batchifier.next_batch();
    bytes += batch.nbytes();
    ++k;
  }
  state.SetItemsProcessed(k);
  state.SetBytesProcessed(bytes);
}
BENCHMARK(BM_AppendImageThenBatch)
    ->ArgNames({"S", "B"})
    ->Args({8, 4})
    ->Args({64, 32})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

// The index catch-up alone: append one image step, bring an episode index over the store up to
// date (the appended PNG is never decoded; the cost is the append and a snapshot). Arg update:0
// appends only, the floor to hold it against.
void BM_AppendImageThenIndexUpdate(benchmark::State& state) {
  const bool update = state.range(0) != 0;
  auto store = appendable_image_store();
  const std::vector<mouse::ImagePixels> pool = frames(64);
  auto rows = mouse::detail::store_row_source(*store);
  mouse::detail::WindowIndex index(mouse::detail::Boundaries::kEpisode, kS);
  index.update(*rows);
  int64_t k = 0;
  for (auto _ : state) {
    mouse::StepRow row;
    row["observation_image"] = pool[static_cast<size_t>(k % 64)];
    row["action"] = k % 4;
    row["reward"] = 0.0;
    row["done"] = static_cast<int64_t>(k % 100 == 99 ? 1 : 0);
    store->append(row);
    if (update) index.update(*rows);
    ++k;
  }
  state.counters["episodes"] = static_cast<double>(index.units());
  state.SetItemsProcessed(k);
}
BENCHMARK(BM_AppendImageThenIndexUpdate)
    ->ArgName("update")
    ->Arg(0)
    ->Arg(1)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

// A reader beside a busy appender: another thread appends 84x84x3 steps back to back (each PNG-
// encoded by the store) while this thread, every 50 us, takes a snapshot of the store, as every
// read does first (get, and the batchifier's index catch-up after new rows), here through
// segment_starts(). The time is that of the snapshot alone (mean, and the worst as a counter): a
// reader that has to wait for the store's lock while a step is encoded waits for the encode.
void BM_SnapshotWhileAppendingImages(benchmark::State& state) {
  auto store = appendable_image_store();
  const std::vector<mouse::ImagePixels> pool = frames(64);
  std::atomic<bool> stop{false};
  std::atomic<int64_t> appended{0};
  std::thread appender([&] {
    for (int64_t k = 0; !stop.load(std::memory_order_relaxed); ++k) {
      mouse::StepRow row;
      row["observation_image"] = pool[static_cast<size_t>(k % 64)];
      row["action"] = k % 4;
      row["reward"] = 0.0;
      row["done"] = static_cast<int64_t>(k % 100 == 99 ? 1 : 0);
      store->append(row);
      appended.fetch_add(1, std::memory_order_relaxed);
    }
  });
  double worst_us = 0;
  for (auto _ : state) {
    // Other work of the reader (encoding a batch, training): the lock is free meanwhile.
    const auto busy = std::chrono::steady_clock::now() + std::chrono::microseconds(50);
    while (std::chrono::steady_clock::now() < busy) {
    }
    const auto t0 = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(store->segment_starts());
    const std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
    state.SetIterationTime(dt.count());
    worst_us = std::max(worst_us, dt.count() * 1e6);
  }
  stop.store(true);
  appender.join();
  state.counters["worst_us"] = worst_us;
  state.counters["appended"] = static_cast<double>(appended.load());
  state.SetItemsProcessed(state.iterations());
}
// A fixed count: the manual time is short, so a time target would run (and append) for long.
BENCHMARK(BM_SnapshotWhileAppendingImages)
    ->Iterations(20000)
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

// First build of an episode index over the 1M-step mapped CartPole store: reads the done column
// chunk by chunk (reported as rows/s and done-column bytes/s).
void BM_EpisodeIndexFirstBuild(benchmark::State& state) {
  auto rows = mouse::detail::store_row_source(store());
  int64_t builds = 0;
  for (auto _ : state) {
    mouse::detail::WindowIndex index(mouse::detail::Boundaries::kEpisode, kS);
    index.update(*rows);
    benchmark::DoNotOptimize(index.num_starts());
    ++builds;
  }
  state.SetItemsProcessed(builds * kRows);
  state.SetBytesProcessed(builds * kRows * static_cast<int64_t>(sizeof(int64_t)));
}
BENCHMARK(BM_EpisodeIndexFirstBuild)->UseRealTime()->Unit(benchmark::kMillisecond);

// Episode-aware start draws must cost the same on 10k or 10M rows: a RowSource of `rows` rows
// in episodes of 1..400 steps (done flags only), the index built once, then B draws per batch.
class EpisodeRows final : public mouse::detail::RowSource {
 public:
  explicit EpisodeRows(int64_t rows) : done_(static_cast<size_t>(rows), 0) {
    mouse::detail::CounterRng rng(3, 0);
    for (int64_t r = 0; r < rows; r += 1 + static_cast<int64_t>(rng.uniform_int(400))) {
      done_[static_cast<size_t>(r)] = 1;
    }
  }
  int64_t size() const override { return static_cast<int64_t>(done_.size()); }
  std::vector<int64_t> segment_starts() const override { return {0, size(), size()}; }
  void read_done(int64_t begin, int64_t end, std::span<int64_t> out) const override {
    std::copy(done_.begin() + begin, done_.begin() + end, out.begin());
  }
  mouse::TensorDict gather(std::span<const int64_t>, const mouse::Allocator&) const override {
    return {};
  }

 private:
  std::vector<int64_t> done_;
};

void BM_EpisodeStartDraws(benchmark::State& state) {
  EpisodeRows rows(state.range(0));
  mouse::detail::WindowIndex index(mouse::detail::Boundaries::kEpisode, kS);
  index.update(rows);
  uint64_t batch = 0;
  int64_t sum = 0;
  for (auto _ : state) {
    mouse::detail::CounterRng rng(1, batch++);
    for (int64_t i = 0; i < kB; ++i) {
      sum += index.start_at(static_cast<int64_t>(
                                rng.uniform_int(static_cast<uint64_t>(index.num_starts()))))
                 .start;
    }
    index.update(rows);  // the per-batch catch-up check
  }
  benchmark::DoNotOptimize(sum);
  state.counters["episodes"] = static_cast<double>(index.units());
  state.SetItemsProcessed(static_cast<int64_t>(batch));
}
BENCHMARK(BM_EpisodeStartDraws)->Arg(10'000)->Arg(1'000'000)->Arg(10'000'000);

// The same batches at 1M and 100M rows. The stores are shards of 10M CartPole-like steps (one
// shard of 1M for the small case) written once with save_to_disk into $MOUSE_BENCH_CACHE
// (default ~/.cache/mouse-data/bench, 5.2 GB for 100M) and reused by later runs. Registered only
// with MOUSE_BENCH_LARGE=1, so an ordinary run writes nothing big.
std::filesystem::path large_cache_dir() {
  if (const char* dir = std::getenv("MOUSE_BENCH_CACHE"); dir != nullptr && *dir != '\0') {
    return dir;
  }
  const char* home = std::getenv("HOME");
  return std::filesystem::path(home != nullptr ? home : "/tmp") / ".cache/mouse-data/bench";
}

// A store over `shards` shards of `shard_rows` rows, each built on first use; `populate`:
// StoreConfig::populate (every page mapped in at load).
std::unique_ptr<mouse::DatasetStore> sharded_store(int64_t shards, int64_t shard_rows,
                                                   bool populate) {
  mouse::StoreConfig config;
  config.max_action_dim = 2;
  config.max_obs_continuous_dim = 4;
  config.populate = populate;
  auto out = std::make_unique<mouse::DatasetStore>(config);
  for (int64_t k = 0; k < shards; ++k) {
    const auto dir = large_cache_dir() /
                     ("cartpole-" + std::to_string(shard_rows) + "-" + std::to_string(k));
    if (!std::filesystem::exists(dir / "state.json")) {
      std::filesystem::create_directories(dir.parent_path());
      mouse::Dataset::from_batches(
          mouse::bench::cartpole_schema(),
          mouse::bench::cartpole_batches(shard_rows, 1000, static_cast<uint64_t>(k)))
          .save_to_disk(dir);
    }
    out->from_dataset(mouse::Dataset::load_from_disk(dir));
  }
  return out;
}

// A fresh store over `millions` of rows (1M: one shard of 1M rows; more: shards of 10M): the
// files are mapped anew, so no page of them is mapped in yet (the page cache stays warm).
std::unique_ptr<mouse::DatasetStore> scale_store(int64_t millions, bool populate) {
  return millions == 1 ? sharded_store(1, 1'000'000, populate)
                       : sharded_store(millions / 10, 10'000'000, populate);
}

// The memcpy floor over a buffer of the encoded size of 1M or 100M rows (6.3 GB), in 4 KB or
// huge pages: what random windows cost the memory system itself at each scale. Args: millions
// of rows, huge pages (0 / 1).
void BM_MemcpyBaselineAtScale(benchmark::State& state) {
  memcpy_baseline(state, state.range(0) * 1'000'000, state.range(1) != 0);
  state.SetLabel(std::to_string(state.range(0)) + "M rows memcpy" +
                 (state.range(1) ? " huge pages" : ""));
}

// Args: millions of rows (1, or a multiple of 10), mode index, workers, boundaries (0 none,
// 1 episode), populate (0 / 1). 20,000 batches per run, from a store loaded for the run.
void BM_BatchifierAtScale(benchmark::State& state) {
  mouse::BatchifierOptions o;
  o.sampling = kModes[state.range(1)];
  o.num_workers = state.range(2);
  o.boundaries = state.range(3) ? "episode" : "none";
  o.seed = 1;
  o.prefetch = 8;
  // Each run loads its store afresh (not timed; "load_s"), so the timed batches include the
  // page faults of a first pass over the data, unless populate mapped every page at load.
  const auto t0 = std::chrono::steady_clock::now();
  const std::unique_ptr<mouse::DatasetStore> store =
      scale_store(state.range(0), state.range(4) != 0);
  const double load_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  mouse::PrefetchBatchifier b(*store, kS, kB, o);
  int64_t batches = 0, bytes = 0;
  for (auto _ : state) {
    mouse::TensorDict batch = b.next_batch();
    bytes += batch.nbytes();
    ++batches;
    benchmark::DoNotOptimize(batch);
  }
  state.SetLabel(std::to_string(state.range(0)) + "M rows " + o.sampling +
                 (state.range(3) ? "/episode" : "") + (state.range(4) ? " populated" : ""));
  state.counters["load_s"] = load_s;
  report(state, batches, bytes);
}

}  // namespace

int main(int argc, char** argv) {
  if (const char* large = std::getenv("MOUSE_BENCH_LARGE"); large != nullptr && large[0] == '1') {
    // MOUSE_BENCH_LARGE_MILLIONS: the large sizes, e.g. "10,100" (default "100").
    std::vector<int64_t> sizes{1};
    const char* list = std::getenv("MOUSE_BENCH_LARGE_MILLIONS");
    std::string text = list != nullptr && *list != '\0' ? list : "100";
    for (size_t at = 0; at < text.size();) {
      const size_t comma = std::min(text.find(',', at), text.size());
      sizes.push_back(std::stoll(text.substr(at, comma - at)));
      at = comma + 1;
    }
    benchmark::RegisterBenchmark("BM_BatchifierAtScale", BM_BatchifierAtScale)
        ->ArgsProduct({sizes, {0}, {0, 2}, {0, 1}, {0, 1}})
        ->ArgsProduct({sizes, {1, 2}, {0, 2}, {0}, {0}})
        ->ArgNames({"Mrows", "mode", "workers", "episode", "populate"})
        ->Iterations(20'000)  // 640k windows from a fresh store: the first pass over the data
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark("BM_MemcpyBaselineAtScale", BM_MemcpyBaselineAtScale)
        ->ArgsProduct({sizes, {0, 1}})
        ->ArgNames({"Mrows", "huge"})
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  std::error_code ec;
  std::filesystem::remove_all(bench_dir(), ec);
  return 0;
}
