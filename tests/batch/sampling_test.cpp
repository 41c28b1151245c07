// Each sampling mode's exact windows (SPEC §5) and the constructor's errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "batch/fake_source.hpp"
#include "mouse/batch.hpp"
#include "mouse/error.hpp"

namespace mouse {
namespace {

using test::FakeSource;
using test::row_starts;
using Starts = std::vector<int64_t>;

BatchifierOptions opts(std::string sampling, int64_t workers = 0, uint64_t seed = 7) {
  BatchifierOptions o;
  o.sampling = std::move(sampling);
  o.num_workers = workers;
  o.seed = seed;
  return o;
}

TEST(SequentialSampling, ShortLastBatchThenWrapsToWindowZero) {
  auto src = std::make_shared<FakeSource>(std::vector<int64_t>{23});  // W = 23 / 4 = 5
  PrefetchBatchifier b(src, 4, 2, opts("sequential"));
  EXPECT_EQ(b.total_batches(), 3);
  std::vector<Starts> got;
  std::vector<int64_t> epochs;
  for (int i = 0; i < 4; ++i) {
    SampledBatch batch = b.next();
    got.push_back(batch.starts);
    epochs.push_back(batch.epoch);
    EXPECT_EQ(batch.number, i);
    EXPECT_EQ(row_starts(batch.data), batch.starts);
  }
  EXPECT_EQ(got, (std::vector<Starts>{{0, 4}, {8, 12}, {16}, {0, 4}}));
  EXPECT_EQ(epochs, (std::vector<int64_t>{0, 0, 0, 1}));
}

TEST(SequentialSampling, BatchTensorsAreWindowsOfConsecutiveRows) {
  auto src = std::make_shared<FakeSource>(std::vector<int64_t>{12});
  PrefetchBatchifier b(src, 3, 2, opts("sequential"));
  TensorDict batch = b.next_batch();
  EXPECT_EQ(batch.batch_size(), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(batch.at("obs").shape(), (std::vector<int64_t>{2, 3, 2}));
  for (int64_t i = 0; i < 2; ++i) {
    for (int64_t j = 0; j < 3; ++j) {
      EXPECT_EQ(batch.at("row").at<int64_t>({i, j}), i * 3 + j);
      EXPECT_EQ(batch.at("obs").at<float>({i, j, 1}), -static_cast<float>(i * 3 + j));
    }
  }
  EXPECT_FALSE(batch.contains("mask"));
}

TEST(BatchSampling, VisitsEveryWindowOncePerEpochInAFreshOrder) {
  auto src = std::make_shared<FakeSource>(std::vector<int64_t>{50});  // W = 50 / 5 = 10
  PrefetchBatchifier b(src, 5, 3, opts("batch"));
  EXPECT_EQ(b.total_batches(), 4);
  std::vector<Starts> epochs(3);
  for (int e = 0; e < 3; ++e) {
    std::vector<int64_t> sizes;
    for (int i = 0; i < 4; ++i) {
      SampledBatch batch = b.next();
      EXPECT_EQ(batch.epoch, e);
      sizes.push_back(static_cast<int64_t>(batch.starts.size()));
      epochs[e].insert(epochs[e].end(), batch.starts.begin(), batch.starts.end());
    }
    EXPECT_EQ(sizes, (std::vector<int64_t>{3, 3, 3, 1}));
    Starts sorted = epochs[e];
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(sorted, (Starts{0, 5, 10, 15, 20, 25, 30, 35, 40, 45}));
  }
  EXPECT_NE(epochs[0], epochs[1]);
  EXPECT_NE(epochs[1], epochs[2]);
}

TEST(LastSampling, ReturnsTheLastBWindowsEveryTime) {
  auto src = std::make_shared<FakeSource>(std::vector<int64_t>{22});  // W = 5
  PrefetchBatchifier b(src, 4, 3, opts("last"));
  EXPECT_EQ(b.next().starts, (Starts{8, 12, 16}));
  EXPECT_EQ(b.next().starts, (Starts{8, 12, 16}));
  src->append_rows(4);  // 26 rows: W = 6
  EXPECT_EQ(b.next().starts, (Starts{12, 16, 20}));
}

TEST(LastSampling, FewerWindowsThanBatchSizeIsAnError) {
  auto src = std::make_shared<FakeSource>(std::vector<int64_t>{11});  // W = 2
  try {
    PrefetchBatchifier b(src, 4, 3, opts("last"));
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("needs batch_size 3 windows, the store has 2"),
              std::string::npos)
        << e.what();
  }
}

TEST(RandomSampling, StartsStayInRangeAndCoverItUniformly) {
  auto src = std::make_shared<FakeSource>(std::vector<int64_t>{27});  // starts 0 .. 19
  PrefetchBatchifier b(src, 8, 50, opts("random", 0, 123));
  std::map<int64_t, int64_t> counts;
  const int batches = 400;
  for (int i = 0; i < batches; ++i) {
    SampledBatch batch = b.next();
    ASSERT_EQ(batch.starts.size(), 50u);
    ASSERT_EQ(row_starts(batch.data), batch.starts);
    for (int64_t s : batch.starts) {
      ASSERT_GE(s, 0);
      ASSERT_LE(s, 19);
      ++counts[s];
    }
  }
  ASSERT_EQ(counts.size(), 20u);
  // Chi-square with 19 degrees of freedom: the 99.9% quantile is 43.8.
  const double expected = batches * 50.0 / 20.0;
  double chi2 = 0;
  for (auto [start, n] : counts) chi2 += (n - expected) * (n - expected) / expected;
  EXPECT_LT(chi2, 43.8);
}

TEST(RandomSampling, DifferentSeedsGiveDifferentBatches) {
  auto src = std::make_shared<FakeSource>(std::vector<int64_t>{1000});
  PrefetchBatchifier a(src, 8, 16, opts("random", 0, 1));
  PrefetchBatchifier b(src, 8, 16, opts("random", 0, 2));
  EXPECT_NE(a.next().starts, b.next().starts);
}

TEST(RandomSampling, WithoutASeedOneIsDrawnAndRecorded) {
  auto src = std::make_shared<FakeSource>(std::vector<int64_t>{1000});
  BatchifierOptions o;
  o.num_workers = 0;
  PrefetchBatchifier a(src, 8, 16, o);
  ASSERT_TRUE(a.options().seed.has_value());
  EXPECT_EQ(a.state().seed, *a.options().seed);
  PrefetchBatchifier b(src, 8, 16, opts("random", 0, *a.options().seed));
  EXPECT_EQ(a.next().starts, b.next().starts);
}

TEST(TotalBatches, IsCeilOfWindowsOverBatchSizeAndFollowsAppends) {
  auto src = std::make_shared<FakeSource>(std::vector<int64_t>{40});
  PrefetchBatchifier b(src, 4, 3, opts("random"));
  EXPECT_EQ(b.total_batches(), 4);  // ceil(10 / 3)
  src->append_rows(8);
  EXPECT_EQ(b.total_batches(), 4);  // ceil(12 / 3)
  src->append_rows(1);
  EXPECT_EQ(b.total_batches(), 4);
  src->append_rows(3);
  EXPECT_EQ(b.total_batches(), 5);  // ceil(13 / 3)
}

void expect_invalid(int64_t s, int64_t b, const BatchifierOptions& o, const std::string& needle,
                    int64_t rows = 10) {
  auto src = std::make_shared<FakeSource>(std::vector<int64_t>{rows});
  try {
    PrefetchBatchifier bf(src, s, b, o);
    FAIL() << "expected InvalidArgument containing " << needle;
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(BatchifierConstructor, RejectsEveryBadArgument) {
  expect_invalid(0, 2, opts("random"), "sequence_length must be > 0, got 0");
  expect_invalid(-3, 2, opts("random"), "sequence_length must be > 0, got -3");
  expect_invalid(2, 0, opts("random"), "batch_size must be > 0, got 0");
  BatchifierOptions o = opts("random");
  o.prefetch = 0;
  expect_invalid(2, 2, o, "prefetch must be >= 1, got 0");
  o = opts("random");
  o.num_workers = -1;
  expect_invalid(2, 2, o, "num_workers must be >= 0, got -1");
  expect_invalid(2, 2, opts("shuffle"),
                 "sampling must be \"random\", \"last\", \"sequential\" or "
                 "\"batch\", got \"shuffle\"");
  o = opts("random");
  o.boundaries = "episodes";
  expect_invalid(2, 2, o,
                 "boundaries must be \"none\", \"source\" or \"episode\", got \"episodes\"");
  expect_invalid(11, 2, opts("random"), "the store has 10 rows, fewer than sequence_length 11");
  expect_invalid(3, 2, opts("sequential"), "the store has 0 rows", 0);
  EXPECT_THROW(PrefetchBatchifier(nullptr, 2, 2, opts("random")), InvalidArgument);
}

TEST(BatchifierConstructor, SourcePolicyWithNoFittingSegmentIsAnError) {
  auto src = std::make_shared<FakeSource>(std::vector<int64_t>{3, 3, 3});
  BatchifierOptions o = opts("random");
  o.boundaries = "source";
  try {
    PrefetchBatchifier b(src, 4, 2, o);
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("no window of 4 steps fits"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace mouse
