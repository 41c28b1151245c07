// StoreConfig::populate: every page of a memory-mapped source's encoded columns is mapped into
// the process at from_dataset; data that does not fit in the memory available is left to page
// faults, with one line on stderr.
#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "store/populate.hpp"
#include "store_test_util.hpp"

namespace mouse {
namespace {

// RssFile of /proc/self/status in bytes: the file pages this process has mapped in.
int64_t rss_file() {
  std::ifstream status("/proc/self/status");
  std::string key;
  int64_t kb = 0;
  while (status >> key) {
    if (key == "RssFile:") {
      status >> kb;
      return kb * 1024;
    }
    status.ignore(1 << 12, '\n');
  }
  return -1;
}

// 1M steps (20 MB: action and done int64, reward float32) saved and loaded back memory-mapped.
Dataset mapped_steps(const test::TempDir& dir, const std::string& name) {
  const int64_t n = 1'000'000;
  std::vector<int64_t> action(n), done(n);
  std::vector<float> reward(n, 0.5f);
  for (int64_t i = 0; i < n; ++i) {
    action[static_cast<size_t>(i)] = i % 4;
    done[static_cast<size_t>(i)] = i % 50 == 49;
  }
  test::make_dataset({"action", "reward", "done"},
                     {arrow::make_primitive<int64_t>(action), arrow::make_primitive<float>(reward),
                      arrow::make_primitive<int64_t>(done)},
                     100'000)
      .save_to_disk(dir / name);
  return Dataset::load_from_disk(dir / name);
}

TEST(Populate, MapsEveryPageOfTheSourcesColumnsAndOnlyWhenAsked) {
  if (rss_file() < 0) GTEST_SKIP() << "no RssFile in /proc/self/status";
  test::TempDir dir;
  for (bool populate : {false, true}) {
    const Dataset ds = mapped_steps(dir, populate ? "populated" : "plain");
    StoreConfig config = test::unchecked(4);
    config.populate = populate;
    DatasetStore store(config);
    const int64_t before = rss_file();
    store.from_dataset(ds);
    const int64_t grew = rss_file() - before;
    if (populate) {
      EXPECT_GE(grew, 19'000'000) << "populate mapped " << grew << " bytes of 20 MB";
    } else {
      EXPECT_LT(grew, 2'000'000) << "from_dataset without populate mapped " << grew << " bytes";
    }
    EXPECT_EQ(store.size(), 1'000'000);
    EXPECT_EQ(test::values_of<int64_t>(store.get(std::vector<int64_t>{999'999}).at("action")),
              std::vector<int64_t>{3});
  }
}

TEST(Populate, DataThatDoesNotFitIsLeftToPageFaultsWithOneLine) {
  std::vector<uint8_t> data(1 << 20, 1);
  const auto p = reinterpret_cast<uintptr_t>(data.data());
  testing::internal::CaptureStderr();
  const detail::PopulateOutcome out =
      detail::populate_ranges({{p, p + data.size()}}, 512 << 10, "dataset \"big\"");
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_FALSE(out.populated);
  EXPECT_GE(out.bytes, int64_t{1} << 20);
  EXPECT_NE(err.find("populate: dataset \"big\" maps 1."), std::string::npos) << err;
  EXPECT_NE(err.find("more than 90% of the 524.3 kB of memory available"), std::string::npos)
      << err;
}

TEST(Populate, OverlappingRangesCountOnce) {
  std::vector<uint8_t> data(64 << 10, 1);
  const auto p = reinterpret_cast<uintptr_t>(data.data());
  const detail::PopulateOutcome out = detail::populate_ranges(
      {{p + 4096 * 4, p + 4096 * 8}, {p, p + 4096 * 5}, {p + 4096 * 7, p + 4096 * 9}},
      int64_t{1} << 30, "x");
  EXPECT_TRUE(out.populated);
  // Page-aligned and merged: at most [p rounded down, p + 9 pages rounded up).
  EXPECT_GE(out.bytes, 4096 * 9);
  EXPECT_LE(out.bytes, 4096 * 10);
}

}  // namespace
}  // namespace mouse
