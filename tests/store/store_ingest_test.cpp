// SPEC §9: StoreIngest applies numbered blocks of many collectors in order, whole episodes at a
// time, exactly once; and a sampler reading while blocks land never sees part of an episode.
// The stress test runs under ThreadSanitizer (tsan preset, label store).
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>

#include "mouse/store_ingest.hpp"
#include "store_test_util.hpp"

namespace mouse {
namespace {

using test::values_of;

// A block of `rows` steps: action = first + i (a global step id), done 1 on the last row when
// `ends`, observation [id, collector].
ColumnBlock block(int64_t first, int64_t rows, bool ends, int64_t collector = 0) {
  std::vector<int64_t> action, done;
  std::vector<double> reward;
  std::vector<float> obs;
  for (int64_t i = 0; i < rows; ++i) {
    action.push_back(first + i);
    reward.push_back(0.5);
    done.push_back(ends && i + 1 == rows ? 1 : 0);
    obs.push_back(static_cast<float>(first + i));
    obs.push_back(static_cast<float>(collector));
  }
  return {{"action", arrow::make_primitive<int64_t>(action)},
          {"reward", arrow::make_primitive<double>(reward)},
          {"done", arrow::make_primitive<int64_t>(done)},
          {"observation", arrow::make_fixed_size_list(arrow::make_primitive<float>(obs), 2)}};
}

std::vector<int64_t> actions(const DatasetStore& store) {
  if (store.size() == 0) return {};
  return values_of<int64_t>(store.get(test::iota(store.size())).at("action"));
}

TEST(StoreIngest, AppliesWholeEpisodesInNumberOrder) {
  DatasetStore store(1000, 2);
  StoreIngest ingest(store);
  EXPECT_EQ(ingest.open("a"), -1);
  // Episode 0 = blocks 0, 1 (ends); block 1 arrives first.
  SubmitResult r = ingest.submit("a", 1, block(3, 2, true));
  EXPECT_EQ(r.outcome, BlockOutcome::kHeld);
  EXPECT_EQ(store.size(), 0);
  r = ingest.submit("a", 0, block(0, 3, false));
  EXPECT_EQ(r.outcome, BlockOutcome::kApplied);
  EXPECT_EQ(r.blocks_applied, 2);
  EXPECT_EQ(r.steps_applied, 5);
  EXPECT_EQ(r.applied, 1);
  EXPECT_EQ(actions(store), (std::vector<int64_t>{0, 1, 2, 3, 4}));
  // An unfinished episode is held until its end arrives.
  EXPECT_EQ(ingest.submit("a", 2, block(5, 2, false)).outcome, BlockOutcome::kHeld);
  EXPECT_EQ(store.size(), 5);
  const IngestStats s = ingest.stats();
  EXPECT_EQ(s.blocks_held, 1);
  EXPECT_EQ(s.steps_held, 2);
  EXPECT_EQ(s.collectors.at(0).applied, 1);
  // release (a flush) applies a trailing unfinished episode.
  EXPECT_EQ(ingest.submit("a", 3, block(7, 1, false), true).outcome, BlockOutcome::kApplied);
  EXPECT_EQ(store.size(), 8);
}

TEST(StoreIngest, DropsDuplicatesAndReplaysOfARestartedWriter) {
  DatasetStore store(1000, 2);
  StoreIngest ingest(store);
  ingest.open("a");
  ingest.submit("a", 0, block(0, 2, true));
  EXPECT_EQ(ingest.submit("a", 0, block(0, 2, true)).outcome, BlockOutcome::kDuplicate);
  ingest.submit("a", 1, block(2, 2, false));  // held: the run dies here
  EXPECT_EQ(ingest.stats().blocks_held, 1);
  // The writer starts again: it learns block 0 is applied, the held block 1 is forgotten.
  EXPECT_EQ(ingest.open("a"), 0);
  EXPECT_EQ(ingest.stats().blocks_held, 0);
  EXPECT_EQ(ingest.stats().collectors.at(0).runs, 2);
  ingest.submit("a", 1, block(2, 2, false));
  ingest.submit("a", 2, block(4, 1, true));
  EXPECT_EQ(actions(store), (std::vector<int64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(ingest.stats().duplicates, 1);
  EXPECT_EQ(ingest.applied().at("a"), 2);
}

TEST(StoreIngest, CollectorsEpisodesNeverInterleave) {
  DatasetStore store(1000, 2);
  StoreIngest ingest(store);
  ingest.open("a");
  ingest.open("b");
  ingest.submit("a", 0, block(0, 2, false));
  ingest.submit("b", 0, block(100, 2, true));
  ingest.submit("a", 1, block(2, 2, true));
  EXPECT_EQ(actions(store), (std::vector<int64_t>{100, 101, 0, 1, 2, 3}));
}

TEST(StoreIngest, RefusesBlocksThatWouldPassMaxBufferSteps) {
  DatasetStore store(1000, 2);
  StoreIngest ingest(store, 4);
  ingest.open("a");
  ingest.open("b");
  EXPECT_EQ(ingest.submit("a", 0, block(0, 3, false)).outcome, BlockOutcome::kHeld);
  EXPECT_EQ(ingest.submit("b", 0, block(10, 2, false)).outcome, BlockOutcome::kRefused);
  // A block that applies at once (with what it completes) is never refused.
  EXPECT_EQ(ingest.submit("b", 0, block(10, 5, true)).outcome, BlockOutcome::kApplied);
  EXPECT_EQ(ingest.submit("a", 1, block(3, 1, false)).outcome, BlockOutcome::kHeld);
  EXPECT_EQ(ingest.submit("a", 2, block(4, 9, true)).outcome, BlockOutcome::kApplied);
  const IngestStats s = ingest.stats();
  EXPECT_EQ(s.refused, 1);
  EXPECT_EQ(s.steps_applied, 18);
  EXPECT_EQ(s.steps_held, 0);
  EXPECT_THROW_MSG(StoreIngest(store, -1), InvalidArgument, "max_buffer_steps");
}

TEST(StoreIngest, ErrorsNameTheCollectorAndBlock) {
  DatasetStore store(1000, 2);
  StoreIngest ingest(store);
  EXPECT_THROW_MSG(ingest.submit("nobody", 0, block(0, 1, true)), InvalidArgument,
                   "collector \"nobody\" has no writer");
  EXPECT_THROW_MSG(ingest.open(""), InvalidArgument, "collector id is empty");
  ingest.open("a");
  EXPECT_THROW_MSG(ingest.submit("a", -1, block(0, 1, true)), InvalidArgument, ">= 0");
  EXPECT_THROW_MSG(ingest.submit("a", 0, {{"action", arrow::make_primitive<int64_t>(
                                                          std::vector<int64_t>{1})}}),
                   InvalidArgument, "no \"done\" column");
  // A block the store refuses (a negative action) is dropped with its episode, named.
  ColumnBlock bad = block(0, 2, true);
  bad[0].second = arrow::make_primitive<int64_t>(std::vector<int64_t>{1, -1});
  ingest.submit("a", 0, block(0, 2, false));
  EXPECT_THROW_MSG(ingest.submit("a", 1, std::move(bad)), InvalidArgument,
                   "collector \"a\", blocks 0..1");
  EXPECT_EQ(store.size(), 0);
  EXPECT_EQ(ingest.stats().blocks_held, 0);
  EXPECT_EQ(ingest.submit("a", 2, block(0, 1, true)).outcome, BlockOutcome::kApplied);
  EXPECT_EQ(store.size(), 1);
}

TEST(StoreIngest, RestoreResumesFromSavedNumbers) {
  DatasetStore store(1000, 2);
  StoreIngest ingest(store);
  ingest.restore({{"a", 4}});
  EXPECT_EQ(ingest.open("a"), 4);
  EXPECT_EQ(ingest.submit("a", 3, block(0, 1, true)).outcome, BlockOutcome::kDuplicate);
  EXPECT_EQ(ingest.submit("a", 5, block(0, 1, true)).outcome, BlockOutcome::kApplied);
}

// Two collector threads submit shuffled blocks of episodes while readers sample: every read sees
// whole episodes only (each row's episode is complete up to the store's size), rows never change,
// and the final store holds every step exactly once.
TEST(StoreIngest, ReadersNeverSeePartOfAnEpisodeWhileBlocksLand) {
  constexpr int kCollectors = 2;
  constexpr int64_t kEpisodes = 150;
  DatasetStore store(1 << 20, 2);
  StoreIngest ingest(store, 0);
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::atomic<int64_t> reads{0};
  // Collector c's episode e has 1 + (e % 5) blocks of 3 steps; step ids are
  // c * 1'000'000 + running index; the last step of an episode has done 1.
  std::vector<std::thread> writers;
  std::mutex submit_mutex;  // one submitting thread at a time, as the learner's receiver
  for (int c = 0; c < kCollectors; ++c) {
    writers.emplace_back([&, c] {
      const std::string id = "c" + std::to_string(c);
      ingest.open(id);
      std::mt19937_64 rng(static_cast<uint64_t>(c));
      int64_t number = 0, step = int64_t{c} * 1'000'000;
      std::vector<std::pair<int64_t, ColumnBlock>> pending;
      for (int64_t e = 0; e < kEpisodes; ++e) {
        const int64_t blocks = 1 + e % 5;
        for (int64_t b = 0; b < blocks; ++b) {
          pending.emplace_back(number++, block(step, 3, b + 1 == blocks, c));
          step += 3;
        }
        if (pending.size() >= 6 || e + 1 == kEpisodes) {
          std::shuffle(pending.begin(), pending.end(), rng);  // out of order, and a duplicate
          pending.push_back({pending.front().first, pending.front().second});
          for (auto& [n, cols] : pending) {
            std::lock_guard<std::mutex> lock(submit_mutex);
            ingest.submit(id, n, std::move(cols));
          }
          pending.clear();
        }
      }
    });
  }
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&] {
      try {
        while (!stop.load() || reads.load() < 20) {
          const int64_t n = store.size();
          if (n == 0) continue;
          TensorDict td = store.get(test::iota(n));
          const auto done = values_of<int64_t>(td.at("done"));
          const auto obs = values_of<double>(td.at("obs_continuous"));
          // The last row of every collector present ends an episode: nothing half-applied.
          std::vector<int64_t> last(kCollectors, -1);
          for (int64_t i = 0; i < n; ++i) last[static_cast<size_t>(obs[i * 2 + 1])] = i;
          for (int64_t i : last) {
            if (i >= 0 && done[i] != 1) failures.fetch_add(1);
          }
          reads.fetch_add(1);
        }
      } catch (...) {
        failures.fetch_add(1);
      }
    });
  }
  for (auto& w : writers) w.join();
  stop.store(true);
  for (auto& r : readers) r.join();
  EXPECT_EQ(failures.load(), 0);
  const IngestStats s = ingest.stats();
  int64_t per = 0;
  for (int64_t e = 0; e < kEpisodes; ++e) per += 3 * (1 + e % 5);
  EXPECT_EQ(s.steps_applied, kCollectors * per);
  EXPECT_EQ(s.blocks_held, 0);
  EXPECT_GT(s.duplicates, 0);
  // Every step once, each collector's steps in order (episodes contiguous).
  std::vector<int64_t> a = actions(store);
  ASSERT_EQ(static_cast<int64_t>(a.size()), kCollectors * per);
  std::vector<int64_t> next(kCollectors);
  for (int c = 0; c < kCollectors; ++c) next[c] = int64_t{c} * 1'000'000;
  for (int64_t v : a) {
    const auto c = static_cast<size_t>(v / 1'000'000);
    ASSERT_EQ(v, next[c]);
    ++next[c];
  }
}

}  // namespace
}  // namespace mouse
