#include "batch/window_index.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

#include "batch/fake_source.hpp"
#include "mouse/error.hpp"

namespace mouse::detail {
namespace {

using test::FakeSource;

std::vector<Window> all_starts(const WindowIndex& index) {
  std::vector<Window> out;
  for (int64_t i = 0; i < index.num_starts(); ++i) out.push_back(index.start_at(i));
  return out;
}

std::vector<Window> all_windows(const WindowIndex& index) {
  std::vector<Window> out;
  for (int64_t w = 0; w < index.num_windows(); ++w) out.push_back(index.window_at(w));
  return out;
}

TEST(PrefixLocator, LocatesEveryItemAcrossEmptyAndGrowingUnits) {
  PrefixLocator loc;
  std::vector<int64_t> counts = {3, 0, 0, 70, 1, 0, 5, 40};
  for (int64_t c : counts) loc.push(c);
  loc.grow_last(100);
  counts.back() = 100;
  int64_t item = 0;
  for (size_t u = 0; u < counts.size(); ++u) {
    for (int64_t k = 0; k < counts[u]; ++k, ++item) {
      auto [unit, offset] = loc.locate(item);
      ASSERT_EQ(unit, u) << "item " << item;
      ASSERT_EQ(offset, k);
    }
  }
  EXPECT_EQ(loc.total(), item);
}

TEST(PrefixLocator, TruncateRestoresAnEarlierState) {
  PrefixLocator loc;
  for (int64_t c : {3, 0, 40}) loc.push(c);
  PrefixLocator grown = loc;
  grown.grow_last(70);
  for (int64_t c : {0, 100, 5}) grown.push(c);
  grown.truncate(loc.units(), loc.total());
  ASSERT_EQ(grown.units(), loc.units());
  ASSERT_EQ(grown.total(), loc.total());
  for (int64_t item = 0; item < loc.total(); ++item) {
    ASSERT_EQ(grown.locate(item), loc.locate(item)) << item;
  }
  // It keeps working as a locator after the truncation.
  grown.push(50);
  EXPECT_EQ(grown.locate(loc.total() + 49), (std::pair<size_t, int64_t>{loc.units(), 49}));
}

TEST(BoundariesPolicy, ParsesKnownNamesAndRejectsOthers) {
  EXPECT_EQ(parse_boundaries("none"), Boundaries::kNone);
  EXPECT_EQ(parse_boundaries("source"), Boundaries::kSource);
  EXPECT_EQ(parse_boundaries("episode"), Boundaries::kEpisode);
  try {
    parse_boundaries("episodes");
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("\"episodes\""), std::string::npos);
  }
}

TEST(WindowIndex, NoneCoversTheWholeTable) {
  FakeSource src({7, 6});
  WindowIndex index(Boundaries::kNone, 4);
  index.update(src);
  EXPECT_EQ(index.rows(), 13);
  EXPECT_EQ(index.num_starts(), 10);  // 0 .. 9
  EXPECT_EQ(index.num_windows(), 3);  // 13 / 4
  EXPECT_EQ(index.start_at(9), (Window{9, 4}));
  EXPECT_EQ(all_windows(index), (std::vector<Window>{{0, 4}, {4, 4}, {8, 4}}));
}

TEST(WindowIndex, SourceKeepsWindowsInsideEachSegment) {
  FakeSource src({7, 2, 6});
  src.append_rows(5);
  WindowIndex index(Boundaries::kSource, 4);
  index.update(src);
  // Segments [0,7) [7,9) [9,15) [15,20): starts 4 + 0 + 3 + 2.
  EXPECT_EQ(all_starts(index), (std::vector<Window>{{0, 4}, {1, 4}, {2, 4}, {3, 4}, {9, 4},
                                                     {10, 4}, {11, 4}, {15, 4}, {16, 4}}));
  EXPECT_EQ(all_windows(index), (std::vector<Window>{{0, 4}, {9, 4}, {15, 4}}));
}

TEST(WindowIndex, EpisodeTilesEachEpisodeAndPadsItsTail) {
  FakeSource src;
  // Episodes: [0,5) ends at 4, [5,7) ends at 6, [7,10) ends with the segment.
  src.add_source({0, 0, 0, 0, 1, 0, 2, 0, 0, 0});
  WindowIndex index(Boundaries::kEpisode, 3);
  index.update(src);
  EXPECT_EQ(index.units(), 3u);
  EXPECT_EQ(all_starts(index),
            (std::vector<Window>{{0, 3}, {1, 3}, {2, 3}, {5, 2}, {7, 3}}));
  EXPECT_EQ(all_windows(index), (std::vector<Window>{{0, 3}, {3, 2}, {5, 2}, {7, 3}}));
}

TEST(WindowIndex, AppendsExtendTheOpenUnitLikeARebuild) {
  for (auto policy : {Boundaries::kNone, Boundaries::kSource, Boundaries::kEpisode}) {
    FakeSource src;
    src.add_source({0, 0, 1, 0, 0});
    WindowIndex grown(policy, 3);
    grown.update(src);
    const std::vector<std::vector<int64_t>> chunks = {{0}, {0, 1, 0}, {0, 0, 0, 0, 2}, {1}, {0, 0}};
    for (const auto& chunk : chunks) {
      src.append(chunk);
      grown.update(src);
      WindowIndex fresh(policy, 3);
      fresh.update(src);
      ASSERT_EQ(all_starts(grown), all_starts(fresh)) << static_cast<int>(policy);
      ASSERT_EQ(all_windows(grown), all_windows(fresh)) << static_cast<int>(policy);
    }
  }
}

TEST(WindowIndex, ASourceLoadedBeforeTheBufferRebuildsTheIndex) {
  FakeSource src({4});
  src.append_rows(4);
  WindowIndex index(Boundaries::kSource, 4);
  index.update(src);
  EXPECT_EQ(all_windows(index), (std::vector<Window>{{0, 4}, {4, 4}}));
  src.add_source({0, 0, 0, 0, 0});  // rows 4..8 are now source, the buffer moved to 9..12
  index.update(src);
  EXPECT_EQ(all_windows(index), (std::vector<Window>{{0, 4}, {4, 4}, {9, 4}}));
}

TEST(WindowIndex, DoneReadErrorLeavesTheIndexUnchanged) {
  class Failing final : public RowSource {
   public:
    int64_t size() const override { return n; }
    std::vector<int64_t> segment_starts() const override { return {0, n}; }
    void read_done(int64_t, int64_t, std::span<int64_t> out) const override {
      if (fail) throw IoError("disk gone");
      for (auto& d : out) d = 0;
    }
    TensorDict gather(std::span<const int64_t>, const Allocator&) const override { return {}; }
    int64_t n = 5;
    bool fail = false;
  } src;
  WindowIndex index(Boundaries::kEpisode, 2);
  index.update(src);
  src.n = 9;
  src.fail = true;
  EXPECT_THROW(index.update(src), IoError);
  EXPECT_EQ(index.rows(), 5);
  EXPECT_EQ(index.num_starts(), 4);
  src.fail = false;
  index.update(src);
  EXPECT_EQ(index.num_starts(), 8);
}

// A RowSource of episodes of 1..700 rows in two source segments and a buffer, whose
// read_done records the largest range asked for and can fail on the n-th call.
class LongEpisodes final : public RowSource {
 public:
  explicit LongEpisodes(int64_t rows) : done_(static_cast<size_t>(rows), 0) {
    for (int64_t r = 0, k = 0; r < rows; r += 1 + (k * 37) % 700, ++k) {
      done_[static_cast<size_t>(r)] = 1 + k % 2;
    }
  }
  int64_t size() const override { return n; }
  std::vector<int64_t> segment_starts() const override { return {0, 1500, 4000, n}; }
  void read_done(int64_t begin, int64_t end, std::span<int64_t> out) const override {
    if (calls++ == fail_at) throw IoError("disk gone");
    largest = std::max(largest, end - begin);
    std::copy(done_.begin() + begin, done_.begin() + end, out.begin());
  }
  TensorDict gather(std::span<const int64_t>, const Allocator&) const override { return {}; }
  const std::vector<int64_t>& done() const { return done_; }

  int64_t n = 0;
  int64_t fail_at = -1;  // read_done call (from 0) that throws; -1: none
  mutable int64_t calls = 0;
  mutable int64_t largest = 0;

 private:
  std::vector<int64_t> done_;
};

// The episode index of rows [0, src.n) worked out directly from the done flags and segments.
struct Expected {
  std::vector<Window> starts;
  std::vector<Window> windows;
};
Expected expected_episodes(const LongEpisodes& src, int64_t s) {
  Expected out;
  int64_t begin = 0;
  for (int64_t r = 0; r < src.n; ++r) {
    if (src.done()[static_cast<size_t>(r)] != 0 || r + 1 == src.n || r + 1 == 1500 ||
        r + 1 == 4000) {
      const int64_t end = r + 1;
      if (end - begin < s) out.starts.push_back({begin, end - begin});
      for (int64_t t = begin; t + s <= end; ++t) out.starts.push_back({t, s});
      for (int64_t w = begin; w < end; w += s) out.windows.push_back({w, std::min(s, end - w)});
      begin = end;
    }
  }
  return out;
}

TEST(WindowIndex, EpisodeBuildStreamsDoneFlagsInBoundedChunks) {
  LongEpisodes src(20'000);
  src.n = 20'000;
  WindowIndex index(Boundaries::kEpisode, 16);
  index.update(src);
  EXPECT_LE(src.largest, 1024);
  EXPECT_GE(src.calls, 20);
  const Expected want = expected_episodes(src, 16);
  EXPECT_EQ(all_starts(index), want.starts);
  EXPECT_EQ(all_windows(index), want.windows);
}

TEST(WindowIndex, ExtensionFailingAfterSomeChunksRollsBack) {
  LongEpisodes src(20'000);
  src.n = 5'000;
  WindowIndex index(Boundaries::kEpisode, 16);
  index.update(src);
  const std::vector<Window> starts = all_starts(index);
  const std::vector<Window> windows = all_windows(index);
  src.n = 20'000;
  src.calls = 0;
  src.fail_at = 5;  // after about 5000 new rows were applied
  EXPECT_THROW(index.update(src), IoError);
  EXPECT_EQ(index.rows(), 5'000);
  EXPECT_EQ(all_starts(index), starts);
  EXPECT_EQ(all_windows(index), windows);
  src.fail_at = -1;
  index.update(src);
  WindowIndex fresh(Boundaries::kEpisode, 16);
  fresh.update(src);
  EXPECT_EQ(all_starts(index), all_starts(fresh));
  EXPECT_EQ(all_windows(index), expected_episodes(src, 16).windows);
}

TEST(WindowIndex, FirstBuildFailingHalfwayLeavesItEmpty) {
  LongEpisodes src(20'000);
  src.n = 20'000;
  src.fail_at = 10;
  WindowIndex index(Boundaries::kEpisode, 16);
  EXPECT_THROW(index.update(src), IoError);
  EXPECT_EQ(index.rows(), 0);
  EXPECT_EQ(index.units(), 0u);
  EXPECT_EQ(index.num_starts(), 0);
  EXPECT_EQ(index.num_windows(), 0);
  src.fail_at = -1;
  index.update(src);
  const Expected want = expected_episodes(src, 16);
  EXPECT_EQ(all_starts(index), want.starts);
  EXPECT_EQ(all_windows(index), want.windows);
}

}  // namespace
}  // namespace mouse::detail
