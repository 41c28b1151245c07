// Ranks (rank / world_size) and several weighted stores: disjoint complete epochs across ranks,
// independent random streams, resumable per rank, store draws at their weights, windows that
// never leave their store.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "batch/fake_source.hpp"
#include "mouse/batch.hpp"
#include "mouse/error.hpp"

namespace mouse {
namespace {

using test::FakeSource;
using Sources = std::vector<std::shared_ptr<const detail::RowSource>>;

BatchifierOptions ranked(std::string sampling, int64_t rank, int64_t world, int64_t workers = 0,
                         bool drop_last = false) {
  BatchifierOptions o;
  o.sampling = std::move(sampling);
  o.rank = rank;
  o.world_size = world;
  o.num_workers = workers;
  o.drop_last = drop_last;
  o.seed = 5;
  return o;
}

// Every window start of one epoch of each rank, in delivery order.
std::vector<std::vector<int64_t>> epoch_per_rank(const std::shared_ptr<FakeSource>& src,
                                                 const std::string& sampling, int64_t world,
                                                 bool drop_last, int64_t s, int64_t b) {
  std::vector<std::vector<int64_t>> out;
  for (int64_t r = 0; r < world; ++r) {
    PrefetchBatchifier bat(src, s, b, ranked(sampling, r, world, 1, drop_last));
    const int64_t batches = bat.total_batches();
    std::vector<int64_t> starts;
    for (int64_t i = 0; i < batches; ++i) {
      SampledBatch sb = bat.next();
      EXPECT_EQ(sb.epoch, 0);
      EXPECT_EQ(test::row_starts(sb.data), sb.starts);
      starts.insert(starts.end(), sb.starts.begin(), sb.starts.end());
    }
    EXPECT_EQ(bat.next().epoch, 1) << "rank " << r << ": the epoch has " << batches << " batches";
    out.push_back(std::move(starts));
  }
  return out;
}

class RankEpoch : public ::testing::TestWithParam<std::string> {};

TEST_P(RankEpoch, EveryWindowExactlyOnceAcrossRanks) {
  auto src = std::make_shared<FakeSource>(std::vector<int64_t>{240});  // 24 windows of 10
  for (int64_t world : {1, 2, 3, 4}) {
    const auto per_rank = epoch_per_rank(src, GetParam(), world, false, 10, 5);
    std::multiset<int64_t> all;
    for (const auto& starts : per_rank) {
      EXPECT_EQ(starts.size(), per_rank[0].size()) << "world " << world;
      all.insert(starts.begin(), starts.end());
    }
    std::multiset<int64_t> want;
    for (int64_t w = 0; w < 24; ++w) want.insert(w * 10);
    EXPECT_EQ(all, want) << "world " << world;
  }
}

TEST_P(RankEpoch, UnevenEpochsPadOrDropSoRanksStayInStep) {
  auto src = std::make_shared<FakeSource>(std::vector<int64_t>{230});  // 23 windows
  const auto padded = epoch_per_rank(src, GetParam(), 4, false, 10, 4);
  std::set<int64_t> seen;
  for (const auto& starts : padded) {
    ASSERT_EQ(starts.size(), 6u);  // ceil(23 / 4)
    seen.insert(starts.begin(), starts.end());
  }
  EXPECT_EQ(seen.size(), 23u);  // all windows, one of them twice

  const auto dropped = epoch_per_rank(src, GetParam(), 4, true, 10, 4);
  std::set<int64_t> kept;
  for (const auto& starts : dropped) {
    ASSERT_EQ(starts.size(), 5u);  // floor(23 / 4)
    kept.insert(starts.begin(), starts.end());
  }
  EXPECT_EQ(kept.size(), 20u);  // disjoint
}

TEST_P(RankEpoch, OneRankOfOneIsTheSingleProcessStream) {
  auto src = std::make_shared<FakeSource>(std::vector<int64_t>{230});
  BatchifierOptions plain;
  plain.sampling = GetParam();
  plain.seed = 5;
  plain.num_workers = 0;
  PrefetchBatchifier a(src, 10, 4, plain);
  PrefetchBatchifier b(src, 10, 4, ranked(GetParam(), 0, 1));
  for (int i = 0; i < 9; ++i) EXPECT_EQ(a.next().starts, b.next().starts);
}

TEST_P(RankEpoch, StateOfEachRankResumesExactly) {
  auto src = std::make_shared<FakeSource>(std::vector<int64_t>{230});
  for (int64_t r = 0; r < 3; ++r) {
    PrefetchBatchifier whole(src, 10, 2, ranked(GetParam(), r, 3));
    std::vector<std::vector<int64_t>> expected;
    for (int i = 0; i < 12; ++i) expected.push_back(whole.next().starts);

    PrefetchBatchifier first(src, 10, 2, ranked(GetParam(), r, 3, 2));
    for (int i = 0; i < 5; ++i) EXPECT_EQ(first.next().starts, expected[static_cast<size_t>(i)]);
    const std::string saved = first.state().to_json();

    PrefetchBatchifier second(src, 10, 2, ranked(GetParam(), r, 3, 1));
    second.restore(BatchifierState::from_json(saved));
    for (int i = 5; i < 12; ++i) EXPECT_EQ(second.next().starts, expected[static_cast<size_t>(i)]);

    // Another world size, or another rank's state: refused, naming both.
    PrefetchBatchifier other(src, 10, 2, ranked(GetParam(), 0, 2));
    try {
      other.restore(BatchifierState::from_json(saved));
      ADD_FAILURE() << "restore across world sizes was accepted";
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find("world_size 3"), std::string::npos) << e.what();
    }
    if (r != 0) {
      PrefetchBatchifier rank0(src, 10, 2, ranked(GetParam(), 0, 3));
      EXPECT_THROW(rank0.restore(BatchifierState::from_json(saved)), InvalidArgument);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, RankEpoch, ::testing::Values("sequential", "batch"));

TEST(RankRandom, StreamsDifferBetweenRanksAndRepeatForASeed) {
  auto src = std::make_shared<FakeSource>(std::vector<int64_t>{100000});
  std::vector<std::vector<int64_t>> first;
  for (int64_t r = 0; r < 3; ++r) {
    PrefetchBatchifier b(src, 16, 64, ranked("random", r, 3, 2));
    first.push_back(b.next().starts);
    PrefetchBatchifier again(src, 16, 64, ranked("random", r, 3, 0));
    EXPECT_EQ(again.next().starts, first.back());
  }
  EXPECT_NE(first[0], first[1]);
  EXPECT_NE(first[1], first[2]);
  PrefetchBatchifier single(src, 16, 64, ranked("random", 0, 1));
  EXPECT_NE(single.next().starts, first[0]);  // rank 0 of 3 is not the single-process stream
}

TEST(RankLast, DealsTheLastWindowsAcrossRanks) {
  auto src = std::make_shared<FakeSource>(std::vector<int64_t>{100});  // 10 windows
  std::set<int64_t> seen;
  for (int64_t r = 0; r < 2; ++r) {
    PrefetchBatchifier b(src, 10, 3, ranked("last", r, 2));
    const auto starts = b.next().starts;
    seen.insert(starts.begin(), starts.end());
  }
  EXPECT_EQ(seen, (std::set<int64_t>{40, 50, 60, 70, 80, 90}));
  EXPECT_THROW(PrefetchBatchifier(src, 10, 3, ranked("last", 0, 4)), InvalidArgument);
}

TEST(RankOptions, BadValuesAreRefusedByName) {
  auto src = std::make_shared<FakeSource>(std::vector<int64_t>{100});
  auto expect = [&](BatchifierOptions o, const std::string& needle) {
    try {
      PrefetchBatchifier b(src, 10, 2, std::move(o));
      ADD_FAILURE() << "accepted, expected an error with " << needle;
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect(ranked("random", 2, 2), "rank must be in [0, world_size 2), got 2");
  expect(ranked("random", -1, 2), "rank");
  expect(ranked("random", 0, 0), "world_size must be >= 1, got 0");
  BatchifierOptions unseeded = ranked("batch", 0, 2);
  unseeded.seed.reset();
  expect(unseeded, "needs a seed");
  expect(ranked("sequential", 0, 20, 0, true), "cannot be split over world_size 20");
  BatchifierOptions weights = ranked("random", 0, 1);
  weights.weights = {1.0, 2.0};
  expect(weights, "weights has 2 entries for 1 stores");
  weights.weights = {-1.0};
  expect(weights, "weights[0] must be finite and >= 0, got -1");
  weights.weights = {0.0};
  expect(weights, "the weights are all 0");
  weights.weights = {};
  weights.weight_mode = "per_row";
  expect(weights, "weight_mode must be \"per_store\" or \"per_step\", got \"per_row\"");
}

TEST(BatchifierSizes, AbsurdSizesAreRefusedByNameBeforeAllocating) {
  auto src = std::make_shared<FakeSource>(std::vector<int64_t>{100});
  try {
    PrefetchBatchifier b(src, 10, int64_t{1} << 50, ranked("random", 0, 1));
    ADD_FAILURE() << "a batch of 2^50 windows was accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("batch_size 1125899906842624 x sequence_length 10 needs"),
              std::string::npos)
        << e.what();
  }
  BatchifierOptions o = ranked("random", 0, 1);
  o.prefetch = int64_t{1} << 40;
  try {
    PrefetchBatchifier b(src, 10, 64, o);
    ADD_FAILURE() << "prefetch 2^40 was accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("prefetch 1099511627776 batches"), std::string::npos)
        << e.what();
  }
}

TEST(RankState, JsonKeepsTheNewFieldsAndReadsOldStates) {
  BatchifierState s;
  s.sampling = "batch";
  s.boundaries = "none";
  s.sequence_length = 8;
  s.batch_size = 2;
  s.rank = 1;
  s.world_size = 4;
  s.drop_last = true;
  s.stores = 2;
  s.weights = {0.25, 0.75};
  s.weight_mode = "per_step";
  s.epoch_windows = 30;
  s.epoch_store_windows = {10, 20};
  EXPECT_EQ(BatchifierState::from_json(s.to_json()), s);
  const BatchifierState old = BatchifierState::from_json(
      R"({"version":1,"sampling":"random","boundaries":"none","sequence_length":4,)"
      R"("batch_size":2,"seed":3,"batches":7,"epoch":0,"next_window":0,"epoch_windows":0})");
  EXPECT_EQ(old.rank, 0);
  EXPECT_EQ(old.world_size, 1);
  EXPECT_EQ(old.stores, 1);
  EXPECT_TRUE(old.weights.empty());
  EXPECT_THROW(BatchifierState::from_json(
                   R"({"version":1,"sampling":"random","boundaries":"none","sequence_length":4,)"
                   R"("batch_size":2,"seed":3,"batches":7,"epoch":0,"next_window":0,)"
                   R"("epoch_windows":0,"weights":[1,"x"]})"),
               InvalidArgument);
}

// --- several stores -----------------------------------------------------------------------------

// Draws 100 batches of 1000 windows from two stores of `rows` rows and checks that store 1
// comes up with probability `p` (within 4 sigma).
void expect_store_frequency(std::vector<int64_t> rows, BatchifierOptions o, double p) {
  auto first = std::make_shared<FakeSource>(std::vector<int64_t>{rows[0]});
  auto second = std::make_shared<FakeSource>(std::vector<int64_t>{rows[1]});
  PrefetchBatchifier b(Sources{first, second}, 8, 1000, std::move(o));
  int64_t draws = 0;
  int64_t from_second = 0;
  for (int i = 0; i < 100; ++i) {
    SampledBatch sb = b.next();
    for (int64_t s : sb.stores) from_second += s;
    draws += static_cast<int64_t>(sb.stores.size());
  }
  const double sigma = std::sqrt(static_cast<double>(draws) * p * (1 - p));
  EXPECT_NEAR(static_cast<double>(from_second), p * static_cast<double>(draws), 4 * sigma);
}

TEST(Mixing, PerStoreWeightsSetTheStoreFrequencies) {
  BatchifierOptions o = ranked("random", 0, 1, 2);
  o.weights = {1.0, 3.0};
  expect_store_frequency({1000, 9000}, o, 0.75);
  expect_store_frequency({9000, 1000}, o, 0.75);  // whatever the sizes
}

TEST(Mixing, PerStepWeightsScaleByRows) {
  BatchifierOptions o = ranked("random", 0, 1, 0);
  o.weight_mode = "per_step";
  o.weights = {2.0, 1.0};  // 2·1000 : 1·3000 → store 1 with p = 0.6
  expect_store_frequency({1000, 3000}, o, 0.6);
}

TEST(Mixing, WindowsStayInsideTheirStore) {
  // Store 0 has 50 rows, store 1 has 23: a window of 10 starting at row 45 would cross into
  // store 1 if the stores were concatenated.
  auto a = std::make_shared<FakeSource>(std::vector<int64_t>{50});
  auto c = std::make_shared<FakeSource>(std::vector<int64_t>{23});
  PrefetchBatchifier b(Sources{a, c}, 10, 64, ranked("random", 0, 1, 2));
  std::set<int64_t> stores;
  for (int i = 0; i < 50; ++i) {
    SampledBatch sb = b.next();
    const Tensor& row = sb.data.at("row");
    for (size_t k = 0; k < sb.starts.size(); ++k) {
      const int64_t limit = sb.stores[k] == 0 ? 50 : 23;
      stores.insert(sb.stores[k]);
      EXPECT_LE(sb.starts[k] + 10, limit);
      for (int64_t j = 0; j < 10; ++j) {
        EXPECT_EQ(row.at<int64_t>({static_cast<int64_t>(k), j}), sb.starts[k] + j);
      }
    }
  }
  EXPECT_EQ(stores, (std::set<int64_t>{0, 1}));
}

TEST(Mixing, SequentialEpochVisitsEveryStoresWindowsOnce) {
  auto a = std::make_shared<FakeSource>(std::vector<int64_t>{55});  // 5 windows of 10
  auto c = std::make_shared<FakeSource>(std::vector<int64_t>{37});  // 3
  for (const char* mode : {"sequential", "batch"}) {
    for (int64_t world : {1, 2}) {
      std::multiset<std::pair<int64_t, int64_t>> seen;
      for (int64_t r = 0; r < world; ++r) {
        PrefetchBatchifier b(Sources{a, c}, 10, 3, ranked(mode, r, world, 1));
        const int64_t batches = b.total_batches();
        for (int64_t i = 0; i < batches; ++i) {
          SampledBatch sb = b.next();
          for (size_t k = 0; k < sb.starts.size(); ++k) seen.insert({sb.stores[k], sb.starts[k]});
        }
        // Mid-epoch state of a mixed epoch round-trips and resumes.
        const BatchifierState st = b.state();
        EXPECT_EQ(st.stores, 2);
        EXPECT_EQ(BatchifierState::from_json(st.to_json()), st);
      }
      std::multiset<std::pair<int64_t, int64_t>> want;
      for (int64_t w = 0; w < 5; ++w) want.insert({0, w * 10});
      for (int64_t w = 0; w < 3; ++w) want.insert({1, w * 10});
      EXPECT_EQ(seen, want) << mode << " world " << world;
    }
  }
}

TEST(Mixing, AnEmptyStoreIsLeftOutUntilItHasRows) {
  auto a = std::make_shared<FakeSource>(std::vector<int64_t>{100});
  auto empty = std::make_shared<FakeSource>();
  PrefetchBatchifier b(Sources{a, empty}, 10, 32, ranked("random", 0, 1, 0));
  for (int64_t s : b.next().stores) EXPECT_EQ(s, 0);
  empty->append_rows(100);
  std::set<int64_t> stores;
  for (int i = 0; i < 5; ++i) {
    for (int64_t s : b.next().stores) stores.insert(s);
  }
  EXPECT_EQ(stores, (std::set<int64_t>{0, 1}));

  auto none = std::make_shared<FakeSource>();
  EXPECT_THROW(PrefetchBatchifier(Sources{none, std::make_shared<FakeSource>()}, 10, 2,
                                  ranked("random", 0, 1)),
               InvalidArgument);
  EXPECT_THROW(PrefetchBatchifier(Sources{}, 10, 2, ranked("random", 0, 1)), InvalidArgument);
  EXPECT_THROW(PrefetchBatchifier(Sources{a, nullptr}, 10, 2, ranked("random", 0, 1)),
               InvalidArgument);
}

TEST(Mixing, RestoringAMixedStateNeedsTheSameStoresAndWeights) {
  auto a = std::make_shared<FakeSource>(std::vector<int64_t>{100});
  auto c = std::make_shared<FakeSource>(std::vector<int64_t>{100});
  BatchifierOptions o = ranked("random", 0, 1, 0);
  o.weights = {1.0, 2.0};
  PrefetchBatchifier b(Sources{a, c}, 10, 4, o);
  b.next();
  const BatchifierState st = b.state();
  std::vector<std::vector<int64_t>> expected;
  for (int i = 0; i < 4; ++i) expected.push_back(b.next().starts);
  PrefetchBatchifier again(Sources{a, c}, 10, 4, o);
  again.restore(st);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(again.next().starts, expected[static_cast<size_t>(i)]);

  BatchifierOptions other = o;
  other.weights = {1.0, 1.0};
  PrefetchBatchifier different(Sources{a, c}, 10, 4, other);
  EXPECT_THROW(different.restore(st), InvalidArgument);
  PrefetchBatchifier single(a, 10, 4, ranked("random", 0, 1, 0));
  EXPECT_THROW(single.restore(st), InvalidArgument);
}

}  // namespace
}  // namespace mouse
