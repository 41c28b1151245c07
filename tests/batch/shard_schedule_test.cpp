// The shard schedule of a remote store (SPEC §8), over an in-memory source that reports shards:
// windows never cross a shard, each batch draws only from the shards the schedule names, a
// sequential epoch over several ranks visits every window once, the batches depend on the seed
// only (not on the workers), state() / restore() resume exactly, and every planned batch is
// reported done so that its shards may leave the cache.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "batch/fake_source.hpp"
#include "mouse/batch.hpp"
#include "mouse/dataset_store.hpp"
#include "mouse/error.hpp"

namespace mouse {
namespace {

using test::FakeSource;

// Records what the schedule tells a remote store's fetcher.
class RecordingShards final : public StoreShards {
 public:
  RecordingShards(std::vector<int64_t> starts, int64_t prefetch, int64_t active)
      : starts_(std::move(starts)), prefetch_(prefetch), active_(active) {}
  const std::vector<int64_t>& starts() const noexcept override { return starts_; }
  int64_t prefetch_shards() const noexcept override { return prefetch_; }
  int64_t active_shards() const noexcept override { return active_; }
  void plan(int64_t batch, std::vector<int64_t> needed, std::vector<int64_t> ahead) override {
    std::lock_guard lock(mutex_);
    in_flight_[batch] = needed;
    planned_[batch] = std::move(needed);
    aheads_[batch] = std::move(ahead);
  }
  void done(int64_t batch) override {
    std::lock_guard lock(mutex_);
    in_flight_.erase(batch);
  }
  std::vector<int64_t> needed(int64_t batch) const {
    std::lock_guard lock(mutex_);
    return planned_.at(batch);
  }
  std::vector<int64_t> ahead(int64_t batch) const {
    std::lock_guard lock(mutex_);
    return aheads_.at(batch);
  }
  size_t in_flight() const {
    std::lock_guard lock(mutex_);
    return in_flight_.size();
  }
  size_t shard_of(int64_t row) const {
    return static_cast<size_t>(std::upper_bound(starts_.begin(), starts_.end(), row) -
                               starts_.begin()) -
           1;
  }

 private:
  std::vector<int64_t> starts_;
  int64_t prefetch_, active_;
  mutable std::mutex mutex_;
  std::map<int64_t, std::vector<int64_t>> in_flight_, planned_, aheads_;
};

// The source segments' starts and the total (without the empty buffer segment).
std::vector<int64_t> shard_starts(const FakeSource& rows) {
  std::vector<int64_t> starts = rows.segment_starts();
  starts.pop_back();
  return starts;
}

// A FakeSource whose segments are the shards.
class ShardedSource final : public detail::RowSource {
 public:
  ShardedSource(const std::vector<int64_t>& lengths, int64_t prefetch, int64_t active)
      : rows_(std::make_shared<FakeSource>(lengths)),
        shards_(std::make_shared<RecordingShards>(shard_starts(*rows_), prefetch, active)) {}
  int64_t size() const override { return rows_->size(); }
  std::vector<int64_t> segment_starts() const override { return rows_->segment_starts(); }
  void read_done(int64_t b, int64_t e, std::span<int64_t> out) const override {
    rows_->read_done(b, e, out);
  }
  TensorDict gather(std::span<const int64_t> rows, const Allocator& a) const override {
    return rows_->gather(rows, a);
  }
  StoreShards* shards() const override { return shards_.get(); }
  RecordingShards& recording() const { return *shards_; }

 private:
  std::shared_ptr<FakeSource> rows_;
  std::shared_ptr<RecordingShards> shards_;
};

BatchifierOptions options(std::string sampling, int64_t rank = 0, int64_t world = 1,
                          int64_t workers = 0) {
  BatchifierOptions o;
  o.sampling = std::move(sampling);
  o.rank = rank;
  o.world_size = world;
  o.num_workers = workers;
  o.seed = 11;
  o.boundaries = "source";
  return o;
}

// Checks that every window of `batch` lies inside one shard named as needed for it.
void expect_inside_needed(const ShardedSource& src, const SampledBatch& batch, int64_t s) {
  const RecordingShards& rec = src.recording();
  const std::vector<int64_t> needed = rec.needed(batch.number);
  for (int64_t start : batch.starts) {
    const size_t k = rec.shard_of(start);
    EXPECT_LE(start + s, rec.starts()[k + 1]) << "window at " << start << " crosses shard " << k;
    EXPECT_NE(std::find(needed.begin(), needed.end(), static_cast<int64_t>(k)), needed.end())
        << "batch " << batch.number << " reads shard " << k << " it did not announce";
  }
}

TEST(ShardSchedule, SequentialEpochOverTwoRanksVisitsEveryWindowOnce) {
  const std::vector<int64_t> lengths(8, 1000);
  const int64_t s = 16, b = 32;
  std::multiset<int64_t> seen;
  for (int64_t rank = 0; rank < 2; ++rank) {
    auto src = std::make_shared<ShardedSource>(lengths, 2, 2);
    PrefetchBatchifier batches(src, s, b, options("sequential", rank, 2, 2));
    const int64_t total = batches.total_batches();
    EXPECT_EQ(total, (4 * (1000 / s) + b - 1) / b);
    std::set<size_t> shards;
    for (int64_t i = 0; i < total; ++i) {
      const SampledBatch batch = batches.next();
      expect_inside_needed(*src, batch, s);
      for (size_t j = 0; j < batch.starts.size(); ++j) {
        const int64_t start = batch.starts[j];
        seen.insert(start);
        shards.insert(src->recording().shard_of(start));
        EXPECT_EQ(batch.data.at("row").at<int64_t>({static_cast<int64_t>(j), 0}), start);
      }
    }
    EXPECT_EQ(shards.size(), 4U) << "each rank reads half of the shards";
    EXPECT_EQ(batches.state().epoch, 1);
    batches.close();
    EXPECT_EQ(src->recording().in_flight(), 0U) << "every planned batch is reported done";
  }
  std::multiset<int64_t> expected;
  for (int64_t k = 0; k < 8; ++k) {
    for (int64_t w = 0; w < 1000 / s; ++w) expected.insert(k * 1000 + w * s);
  }
  EXPECT_EQ(seen, expected);
}

TEST(ShardSchedule, BatchModeShufflesShardsAndWindowsButCoversTheEpoch) {
  const std::vector<int64_t> lengths{300, 500, 200, 700, 400};
  auto src = std::make_shared<ShardedSource>(lengths, 1, 2);
  PrefetchBatchifier batches(src, 10, 7, options("batch"));
  std::vector<int64_t> order;
  for (int64_t i = 0, n = batches.total_batches(); i < n; ++i) {
    const SampledBatch batch = batches.next();
    expect_inside_needed(*src, batch, 10);
    order.insert(order.end(), batch.starts.begin(), batch.starts.end());
  }
  std::vector<int64_t> sorted = order;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> expected;
  int64_t first = 0;
  for (int64_t n : lengths) {
    for (int64_t w = 0; w < n / 10; ++w) expected.push_back(first + w * 10);
    first += n;
  }
  EXPECT_EQ(sorted, expected);
  EXPECT_NE(order, expected) << "batch mode permutes";
  // Shard by shard: once the epoch leaves a shard it does not come back to it.
  std::vector<size_t> runs;
  for (int64_t start : order) {
    const size_t k = src->recording().shard_of(start);
    if (runs.empty() || runs.back() != k) runs.push_back(k);
  }
  EXPECT_EQ(runs.size(), lengths.size());
}

TEST(ShardSchedule, RandomDrawsFromTheActiveShardsAndAnnouncesTheNextOnes) {
  const std::vector<int64_t> lengths(10, 640);
  auto src = std::make_shared<ShardedSource>(lengths, 3, 2);
  PrefetchBatchifier batches(src, 64, 8, options("random"));
  std::set<size_t> visited;
  int full = 0;
  for (int64_t i = 0; i < 60; ++i) {
    const SampledBatch batch = batches.next();
    expect_inside_needed(*src, batch, 64);
    std::set<size_t> shards;
    for (int64_t start : batch.starts) shards.insert(src->recording().shard_of(start));
    EXPECT_LE(shards.size(), 2U) << "batch " << i << " draws from at most active_shards shards";
    visited.insert(shards.begin(), shards.end());
    const std::vector<int64_t> ahead = src->recording().ahead(batch.number);
    // The active shards, then prefetch_shards more (fewer where the next epoch brings back a
    // shard already named).
    EXPECT_GE(ahead.size(), 4U);
    EXPECT_LE(ahead.size(), 5U);
    full += ahead.size() == 5 ? 1 : 0;
    for (size_t k : shards) {
      EXPECT_NE(std::find(ahead.begin(), ahead.end(), static_cast<int64_t>(k)), ahead.end());
    }
  }
  // 10 windows per shard, 8 per batch: 2 batches per shard, 20 per epoch; 60 batches: 3 epochs.
  EXPECT_EQ(visited.size(), 10U);
  EXPECT_GE(full, 45);
  EXPECT_EQ(batches.state().epoch, 2);
}

TEST(ShardSchedule, SameSeedSameBatchesWhateverTheWorkers) {
  const std::vector<int64_t> lengths{900, 1100, 800, 1000};
  for (const std::string sampling : {"random", "batch", "sequential"}) {
    std::vector<std::vector<int64_t>> runs;
    for (int64_t workers : {0, 1, 3}) {
      auto src = std::make_shared<ShardedSource>(lengths, 2, 2);
      PrefetchBatchifier batches(src, 20, 16, options(sampling, 0, 1, workers));
      std::vector<int64_t> starts;
      for (int i = 0; i < 25; ++i) {
        const SampledBatch batch = batches.next();
        starts.insert(starts.end(), batch.starts.begin(), batch.starts.end());
      }
      runs.push_back(std::move(starts));
    }
    EXPECT_EQ(runs[0], runs[1]) << sampling;
    EXPECT_EQ(runs[0], runs[2]) << sampling;
  }
}

TEST(ShardSchedule, RestoreMidEpochContinuesExactly) {
  const std::vector<int64_t> lengths{900, 1100, 800, 1000, 700};
  for (const std::string sampling : {"random", "batch", "sequential"}) {
    auto src = std::make_shared<ShardedSource>(lengths, 2, 2);
    PrefetchBatchifier first(src, 20, 16, options(sampling, 1, 2, 2));
    for (int i = 0; i < 7; ++i) first.next();
    const std::string saved = first.state().to_json();
    std::vector<int64_t> expected;
    for (int i = 0; i < 9; ++i) {
      const SampledBatch b = first.next();
      expected.insert(expected.end(), b.starts.begin(), b.starts.end());
    }
    auto other = std::make_shared<ShardedSource>(lengths, 2, 2);
    BatchifierOptions o = options(sampling, 1, 2, 1);
    o.seed = 999;  // the state's seed wins
    PrefetchBatchifier second(other, 20, 16, o);
    second.restore(BatchifierState::from_json(saved));
    std::vector<int64_t> got;
    for (int i = 0; i < 9; ++i) {
      const SampledBatch b = second.next();
      got.insert(got.end(), b.starts.begin(), b.starts.end());
    }
    EXPECT_EQ(got, expected) << sampling;
  }
}

TEST(ShardSchedule, ShortRanksWrapAndDropLastCuts) {
  // Ranks get shards {0, 2} (40 windows) and {1} (10 windows) in sequential order.
  const std::vector<int64_t> lengths{200, 100, 200};
  for (const bool drop_last : {false, true}) {
    std::vector<int64_t> counts;
    for (int64_t rank = 0; rank < 2; ++rank) {
      auto src = std::make_shared<ShardedSource>(lengths, 1, 1);
      BatchifierOptions o = options("sequential", rank, 2);
      o.drop_last = drop_last;
      PrefetchBatchifier batches(src, 10, 8, o);
      int64_t n = 0;
      std::vector<int64_t> starts;
      for (int64_t i = 0, t = batches.total_batches(); i < t; ++i) {
        const SampledBatch b = batches.next();
        n += static_cast<int64_t>(b.starts.size());
        starts.insert(starts.end(), b.starts.begin(), b.starts.end());
      }
      counts.push_back(n);
      if (rank == 1 && !drop_last) {
        EXPECT_EQ(starts[10], starts[0]) << "the short rank wraps to its first window";
      }
    }
    EXPECT_EQ(counts[0], counts[1]);
    EXPECT_EQ(counts[0], drop_last ? 10 : 40);
  }
}

TEST(ShardSchedule, RefusesWhatItCannotSchedule) {
  auto two = std::make_shared<ShardedSource>(std::vector<int64_t>{100, 100}, 1, 1);
  try {
    PrefetchBatchifier b(two, 10, 4, options("sequential", 0, 3));
    FAIL() << "three ranks over two shards";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("2 shards, fewer than world_size 3"), std::string::npos)
        << e.what();
  }
  try {
    BatchifierOptions o = options("random");
    o.boundaries = "episode";
    PrefetchBatchifier b(two, 10, 4, o);
    FAIL() << "episode boundaries";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("episode"), std::string::npos) << e.what();
  }
  try {
    PrefetchBatchifier b(two, 101, 4, options("random"));
    FAIL() << "no window fits a shard";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("never cross shards"), std::string::npos) << e.what();
  }
  auto local = std::make_shared<FakeSource>(std::vector<int64_t>{500});
  try {
    PrefetchBatchifier b(std::vector<std::shared_ptr<const detail::RowSource>>{local, two}, 10, 4,
                         options("random"));
    FAIL() << "a remote store beside another";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("only store"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mouse
