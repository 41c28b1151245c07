// The memory checks: the /proc and cgroup readings from sample kernel text, and the refusals.
#include "core/memory_limit.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "mouse/buffer.hpp"
#include "mouse/error.hpp"
#include "mouse/memory.hpp"

namespace mouse::detail {
namespace {

std::string message_of(int64_t bytes, std::string_view what) {
  try {
    check_fits_in_memory(bytes, what);
  } catch (const InvalidArgument& e) {
    return e.what();
  }
  return {};
}

TEST(Memory, SaturatingArithmetic) {
  EXPECT_EQ(saturating_product({int64_t{1} << 40, int64_t{1} << 40}), INT64_MAX);
  EXPECT_EQ(saturating_product({3, 4}), 12);
  EXPECT_EQ(saturating_product({3, 0, INT64_MAX}), 0);
  EXPECT_EQ(saturating_product({-1, 5}), 0);
  EXPECT_EQ(saturating_sum({INT64_MAX, 1}), INT64_MAX);
  EXPECT_EQ(saturating_sum({2, -7, 3}), 5);
  EXPECT_EQ(format_bytes(8'000'000'000), "8.0 GB");
  EXPECT_EQ(format_bytes(512), "512 bytes");
  EXPECT_EQ(format_bytes(INT64_MAX), "more than 9.2 EB");
}

TEST(Memory, MeminfoCountsAvailableAndFreeSwap) {
  const std::string meminfo =
      "MemTotal:       24000000 kB\n"
      "MemFree:         1000000 kB\n"
      "MemAvailable:    3000000 kB\n"
      "SwapTotal:       2000000 kB\n"
      "SwapFree:        1000000 kB\n";
  EXPECT_EQ(meminfo_available(meminfo), int64_t{4000000} * 1024);
  EXPECT_EQ(meminfo_available("MemAvailable: 10 kB\n"), 10240);
  EXPECT_EQ(meminfo_available("MemTotal: 10 kB\n"), std::nullopt);
  // A key that only starts like MemAvailable is not it.
  EXPECT_EQ(meminfo_available("MemAvailableX: 10 kB\n"), std::nullopt);
  EXPECT_EQ(meminfo_available(""), std::nullopt);
}

TEST(Memory, CgroupFileNamesTheMemoryHierarchies) {
  const auto v2 = memory_cgroups("0::/user.slice/session-3.scope\n");
  ASSERT_EQ(v2.size(), 1u);
  EXPECT_TRUE(v2[0].v2);
  EXPECT_EQ(v2[0].path, "/user.slice/session-3.scope");

  const auto v1 = memory_cgroups(
      "12:cpu,cpuacct:/x\n"
      "4:memory:/a/b\n"
      "3:blkio,memory:/c\n"
      "1:name=systemd:/d\n");
  ASSERT_EQ(v1.size(), 2u);
  EXPECT_FALSE(v1[0].v2);
  EXPECT_EQ(v1[0].path, "/a/b");
  EXPECT_EQ(v1[1].path, "/c");

  const auto root = memory_cgroups("0::/\n");
  ASSERT_EQ(root.size(), 1u);
  EXPECT_EQ(root[0].path, "/");
  // A path holding ':' stays whole; malformed lines are skipped.
  const auto colon = memory_cgroups("0::/a:b\ngarbage\n7:memory:relative\n");
  ASSERT_EQ(colon.size(), 1u);
  EXPECT_EQ(colon[0].path, "/a:b");
  EXPECT_TRUE(memory_cgroups("").empty());
}

TEST(Memory, CgroupHeadroomIsLimitLessWhatCannotBeDropped) {
  EXPECT_EQ(cgroup_headroom("1000\n", "400\n", ""), 600);
  EXPECT_EQ(cgroup_headroom("1000\n", "400\n", "anon 300\ninactive_file 100\nactive_file 5\n"),
            700);
  // Usage above the limit (cache not yet reclaimed) is no headroom, never negative.
  EXPECT_EQ(cgroup_headroom("1000", "1500", ""), 0);
  // No limit: v2 "max", v1's page-rounded INT64_MAX.
  EXPECT_EQ(cgroup_headroom("max\n", "400\n", ""), std::nullopt);
  EXPECT_EQ(cgroup_headroom("9223372036854771712\n", "400\n", ""), std::nullopt);
  // Unreadable or garbled files are no reading, not a zero.
  EXPECT_EQ(cgroup_headroom("", "400", ""), std::nullopt);
  EXPECT_EQ(cgroup_headroom("1000", "", ""), std::nullopt);
  EXPECT_EQ(cgroup_headroom("10x", "4", ""), std::nullopt);
}

TEST(Memory, AvailableIsPositiveAndAtMostPhysical) {
  const int64_t physical = physical_memory_bytes();
  const int64_t available = available_memory_bytes();
  EXPECT_GT(available, 0);
  EXPECT_LE(available, physical);
}

TEST(Memory, SizesPastAvailableMemoryAreRefusedWithTheBytes) {
  const std::string huge = message_of(INT64_MAX, "--thing 9");
  EXPECT_NE(huge.find("--thing 9 needs more than 9.2 EB"), std::string::npos) << huge;
  EXPECT_NE(huge.find("more than the memory available"), std::string::npos) << huge;
  // Just past what is available now is refused too; small sizes never read /proc.
  const int64_t available = available_memory_bytes();
  EXPECT_NE(message_of(saturating_sum({available, int64_t{1} << 30}), "x"), "");
  EXPECT_EQ(message_of(1 << 20, "x"), "");
  EXPECT_EQ(message_of(available / 4, "x"), "");
}

TEST(ByteBudget, TakesWhatFitsAndNothingPastIt) {
  ByteBudget budget(100);
  EXPECT_TRUE(budget.take(60));
  EXPECT_FALSE(budget.take(41));  // 101 > 100: nothing taken
  EXPECT_EQ(budget.used(), 60);
  EXPECT_TRUE(budget.take(40));
  EXPECT_FALSE(budget.take(1));
  budget.give_back(60);
  EXPECT_EQ(budget.used(), 40);
  EXPECT_TRUE(budget.take(60));
  EXPECT_FALSE(budget.take(INT64_MAX));  // no overflow
}

TEST(ByteBudget, ThreadsNeverTakeMoreThanTheLimit) {
  ByteBudget budget(1000);
  std::atomic<int64_t> taken{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        if (budget.take(7)) taken += 7;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(taken.load(), budget.used());
  EXPECT_LE(budget.used(), 1000);
  EXPECT_GT(budget.used(), 1000 - 7);  // filled up to the last 7 bytes that fit
}

TEST(Memory, BufferAllocatePastPhysicalMemoryNamesItself) {
  try {
    (void)Buffer::allocate(INT64_MAX / 2);
    FAIL() << "no error";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("Buffer::allocate needs"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mouse::detail
