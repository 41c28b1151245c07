// CachingAllocator: freed blocks are reused for the next request of the same rounded size, at
// most max_blocks_per_size of each are kept, blocks may outlive the allocator, and threads may
// allocate and free at once.
#include "core/caching_allocator.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "mouse/error.hpp"

namespace mouse {
namespace {

using detail::CachingAllocator;

// The default allocator, counting the blocks it hands out and those still alive.
class CountingAllocator final : public Allocator {
 public:
  std::shared_ptr<void> allocate(int64_t nbytes) const override {
    ++allocations;
    ++alive;
    auto block = default_allocator().allocate(nbytes);
    void* p = block.get();
    return std::shared_ptr<void>(p, [this, block](void*) mutable {
      block.reset();
      --alive;
    });
  }
  std::string_view name() const noexcept override { return "counting"; }
  bool page_locked() const noexcept override { return true; }

  mutable std::atomic<int64_t> allocations{0};
  mutable std::atomic<int64_t> alive{0};
};

TEST(CachingAllocator, ReusesFreedBlocksOfTheSameRoundedSize) {
  CountingAllocator base;
  CachingAllocator cache(base, 4);
  EXPECT_EQ(cache.name(), "caching counting");
  EXPECT_TRUE(cache.page_locked());
  void* first = nullptr;
  {
    auto a = cache.allocate(10'000);
    first = a.get();
    std::memset(a.get(), 1, 10'000);
  }
  // 10 000 and 12 000 bytes both round to 12 KiB: the freed block comes back.
  for (int round = 0; round < 100; ++round) {
    auto b = cache.allocate(round % 2 ? 10'000 : 12'000);
    EXPECT_EQ(b.get(), first);
  }
  EXPECT_EQ(base.allocations.load(), 1);
  EXPECT_EQ(cache.base_allocations(), 1);
  // Another size is another block; zero bytes still get a real one.
  auto other = cache.allocate(100'000);
  auto empty = cache.allocate(0);
  EXPECT_NE(other.get(), first);
  EXPECT_NE(empty.get(), nullptr);
  EXPECT_EQ(base.allocations.load(), 3);
  EXPECT_THROW(cache.allocate(-1), InvalidArgument);
}

TEST(CachingAllocator, KeepsAtMostMaxBlocksPerSizeAndFreesTheRest) {
  CountingAllocator base;
  {
    CachingAllocator cache(base, 2);
    std::vector<std::shared_ptr<void>> held;
    for (int i = 0; i < 5; ++i) held.push_back(cache.allocate(4096));
    EXPECT_EQ(base.alive.load(), 5);
    held.clear();  // two are kept, three go back to the base allocator
    EXPECT_EQ(base.alive.load(), 2);
    for (int i = 0; i < 2; ++i) held.push_back(cache.allocate(4096));
    EXPECT_EQ(base.allocations.load(), 5);  // both reused
    held.push_back(cache.allocate(4096));
    EXPECT_EQ(base.allocations.load(), 6);
    // A block that outlives the allocator is freed when dropped, not kept.
    auto survivor = cache.allocate(8192);
    held.clear();
    std::shared_ptr<void> late = std::move(survivor);
    // `cache` is destroyed here with `late` still alive.
    (void)late;
  }
  EXPECT_EQ(base.alive.load(), 0);
  EXPECT_THROW(CachingAllocator(base, -1), InvalidArgument);
}

TEST(CachingAllocator, ThreadsAllocateAndFreeAtOnce) {
  CountingAllocator base;
  auto cache = std::make_unique<CachingAllocator>(base, 8);
  std::vector<std::thread> threads;
  std::vector<std::shared_ptr<void>> handed(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        auto block = cache->allocate(4096 * (1 + (i + t) % 3));
        static_cast<uint8_t*>(block.get())[0] = static_cast<uint8_t>(i);
        if (i % 100 == 0) handed[static_cast<size_t>(t)] = block;  // freed later, elsewhere
      }
    });
  }
  for (auto& th : threads) th.join();
  // Per size at most 8 in use at once (4 threads, each one block plus the one it handed on) and
  // 8 kept: at most 16 blocks of each of the 3 sizes ever come from the base, of 8000 requests.
  EXPECT_LE(base.allocations.load(), 3 * 16);
  cache.reset();
  handed.clear();
  EXPECT_EQ(base.alive.load(), 0);
}

}  // namespace
}  // namespace mouse
