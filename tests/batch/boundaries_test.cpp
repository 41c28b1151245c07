// The boundaries policies: windows never straddle sources or episodes; short episodes are padded
// and masked.
#include <gtest/gtest.h>

#include <algorithm>
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
using Starts = std::vector<int64_t>;

BatchifierOptions opts(std::string sampling, std::string boundaries, int64_t workers = 0) {
  BatchifierOptions o;
  o.sampling = std::move(sampling);
  o.boundaries = std::move(boundaries);
  o.num_workers = workers;
  o.seed = 5;
  return o;
}

TEST(SourceBoundaries, RandomWindowsNeverStraddleTwoSources) {
  auto src = std::make_shared<FakeSource>(std::vector<int64_t>{10, 3, 12});
  src->append_rows(6);  // buffer [25, 31)
  PrefetchBatchifier b(src, 5, 64, opts("random", "source"));
  const std::vector<std::pair<int64_t, int64_t>> segments = {{0, 10}, {13, 25}, {25, 31}};
  std::set<int64_t> seen;
  for (int i = 0; i < 20; ++i) {
    for (int64_t s : b.next().starts) {
      seen.insert(s);
      bool inside = std::any_of(segments.begin(), segments.end(),
                                [&](auto seg) { return s >= seg.first && s + 5 <= seg.second; });
      ASSERT_TRUE(inside) << s;
    }
  }
  EXPECT_EQ(seen.size(), 6u + 8u + 2u);  // every valid start is drawn
  EXPECT_FALSE(b.next_batch().contains("mask"));
}

TEST(SourceBoundaries, SequentialTilesEachSourceOnItsOwn) {
  auto src = std::make_shared<FakeSource>(std::vector<int64_t>{10, 3, 12});
  PrefetchBatchifier b(src, 5, 3, opts("sequential", "source"));
  EXPECT_EQ(b.total_batches(), 2);  // windows 0, 5, 13, 18
  EXPECT_EQ(b.next().starts, (Starts{0, 5, 13}));
  EXPECT_EQ(b.next().starts, (Starts{18}));
  EXPECT_EQ(b.next().starts, (Starts{0, 5, 13}));
}

TEST(NoBoundaries, WindowsRunAcrossSources) {
  auto src = std::make_shared<FakeSource>(std::vector<int64_t>{7, 7});
  PrefetchBatchifier b(src, 5, 3, opts("sequential", "none"));
  EXPECT_EQ(b.next().starts, (Starts{0, 5}));
}

// Episodes: [0,6) [6,8) [8,9) [9,16), then a source boundary, [16,20) open in the buffer.
std::shared_ptr<FakeSource> episodes() {
  auto src = std::make_shared<FakeSource>();
  src->add_source({0, 0, 0, 0, 0, 1, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0});
  src->append({0, 0, 0, 0});
  return src;
}

TEST(EpisodeBoundaries, SequentialTilesEpisodesAndPadsShortOnesWithAMask) {
  auto src = episodes();
  PrefetchBatchifier b(src, 4, 8, opts("sequential", "episode"));
  SampledBatch batch = b.next();
  // [0,6) → 0 (4), 4 (2); [6,8) → 6 (2); [8,9) → 8 (1); [9,16) → 9 (4), 13 (3); [16,20) → 16.
  EXPECT_EQ(batch.starts, (Starts{0, 4, 6, 8, 9, 13, 16}));
  const Tensor& mask = batch.data.at("mask");
  ASSERT_EQ(mask.dtype(), DType::kBool);
  ASSERT_EQ(mask.shape(), (std::vector<int64_t>{7, 4}));
  const std::vector<int64_t> lengths = {4, 2, 2, 1, 4, 3, 4};
  const Tensor& row = batch.data.at("row");
  const Tensor& obs = batch.data.at("obs");
  for (int64_t i = 0; i < 7; ++i) {
    for (int64_t j = 0; j < 4; ++j) {
      const bool real = j < lengths[static_cast<size_t>(i)];
      EXPECT_EQ(mask.at<bool>({i, j}), real) << i << "," << j;
      const int64_t expected = real ? batch.starts[static_cast<size_t>(i)] + j : 0;
      EXPECT_EQ(row.at<int64_t>({i, j}), expected) << i << "," << j;
      EXPECT_EQ(obs.at<float>({i, j, 0}), static_cast<float>(expected));
      if (!real) {
        EXPECT_EQ(batch.data.at("done").at<int64_t>({i, j}), 0);
      }
    }
  }
}

TEST(EpisodeBoundaries, RandomStartsAreUniformOverValidStarts) {
  auto src = episodes();
  PrefetchBatchifier b(src, 4, 100, opts("random", "episode", 2));
  // Valid starts: [0,6) → 0,1,2; [6,8) → 6 (padded); [8,9) → 8; [9,16) → 9..12; [16,20) → 16.
  const std::set<int64_t> valid = {0, 1, 2, 6, 8, 9, 10, 11, 12, 16};
  std::map<int64_t, int64_t> counts;
  for (int i = 0; i < 200; ++i) {
    SampledBatch batch = b.next();
    const Tensor& mask = batch.data.at("mask");
    for (size_t k = 0; k < batch.starts.size(); ++k) {
      const int64_t s = batch.starts[k];
      ASSERT_TRUE(valid.count(s)) << s;
      ++counts[s];
      const int64_t real = (s == 6) ? 2 : (s == 8) ? 1 : 4;
      for (int64_t j = 0; j < 4; ++j) {
        ASSERT_EQ(mask.at<bool>({static_cast<int64_t>(k), j}), j < real);
      }
    }
  }
  const double expected = 200 * 100 / 10.0;
  double chi2 = 0;
  for (auto [s, n] : counts) chi2 += (n - expected) * (n - expected) / expected;
  EXPECT_LT(chi2, 27.9);  // 9 degrees of freedom, 99.9%
}

TEST(EpisodeBoundaries, AnEpisodeEndingLaterGrowsItsWindows) {
  auto src = std::make_shared<FakeSource>();
  src->append({0, 0});
  PrefetchBatchifier b(src, 2, 4, opts("sequential", "episode"));
  EXPECT_EQ(b.next().starts, (Starts{0}));
  src->append({0, 1, 0, 0, 0});  // episode [0,4) ended; [4,7) open
  EXPECT_EQ(b.next().starts, (Starts{0, 2, 4, 6}));
  SampledBatch last = b.next();
  EXPECT_EQ(last.starts, (Starts{0, 2, 4, 6}));
  EXPECT_FALSE(last.data.at("mask").at<bool>({3, 1}));
}

TEST(EpisodeBoundaries, EpisodesShorterThanSequenceLengthEverywhere) {
  auto src = std::make_shared<FakeSource>();
  src->add_source({1, 0, 1, 0, 0, 2, 1, 0, 1, 0});  // lengths 1, 2, 3, 1, 2, 1
  PrefetchBatchifier b(src, 8, 6, opts("last", "episode"));
  SampledBatch batch = b.next();
  EXPECT_EQ(batch.starts, (Starts{0, 1, 3, 6, 7, 9}));
  int64_t real = 0;
  const Tensor& mask = batch.data.at("mask");
  for (int64_t i = 0; i < 6; ++i) {
    for (int64_t j = 0; j < 8; ++j) real += mask.at<bool>({i, j});
  }
  EXPECT_EQ(real, 10);
}

}  // namespace
}  // namespace mouse
