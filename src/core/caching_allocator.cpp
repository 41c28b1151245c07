#include "core/caching_allocator.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <limits>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "mouse/error.hpp"

namespace mouse::detail {

namespace {

constexpr int64_t kGranule = 4096;

}  // namespace

struct CachingAllocator::Pool {
  explicit Pool(int64_t max_per_size) : max_per_size(max_per_size) {}

  // A freed block of `size` bytes, or null.
  std::shared_ptr<void> take(int64_t size) {
    std::lock_guard lock(mutex);
    auto it = free.find(size);
    if (it == free.end() || it->second.empty()) return nullptr;
    std::shared_ptr<void> block = std::move(it->second.back());
    it->second.pop_back();
    return block;
  }

  // Keeps `block` for reuse, or frees it (outside the lock) when enough of its size are kept.
  void give(std::shared_ptr<void> block, int64_t size) {
    {
      std::lock_guard lock(mutex);
      std::vector<std::shared_ptr<void>>& kept = free[size];
      if (static_cast<int64_t>(kept.size()) < max_per_size) {
        kept.push_back(std::move(block));
        return;
      }
    }
    block.reset();
  }

  const int64_t max_per_size;
  std::mutex mutex;
  std::unordered_map<int64_t, std::vector<std::shared_ptr<void>>> free;
  std::atomic<int64_t> base_allocations{0};
};

CachingAllocator::CachingAllocator(const Allocator& base, int64_t max_blocks_per_size)
    : base_(base),
      name_(fmt::format("caching {}", base.name())),
      pool_(std::make_shared<Pool>(max_blocks_per_size)) {
  if (max_blocks_per_size < 0) {
    throw InvalidArgument(
        fmt::format("CachingAllocator: max_blocks_per_size must be >= 0, got {}", max_blocks_per_size));
  }
}

CachingAllocator::~CachingAllocator() = default;

std::shared_ptr<void> CachingAllocator::allocate(int64_t nbytes) const {
  if (nbytes < 0) {
    throw InvalidArgument(fmt::format("{} allocator: negative size {}", name_, nbytes));
  }
  if (nbytes > std::numeric_limits<int64_t>::max() - kGranule) throw std::bad_alloc();
  const int64_t size = std::max<int64_t>(kGranule, (nbytes + kGranule - 1) / kGranule * kGranule);
  std::shared_ptr<void> block = pool_->take(size);
  if (!block) {
    block = base_.allocate(size);
    pool_->base_allocations.fetch_add(1, std::memory_order_relaxed);
  }
  void* data = block.get();
  // The deleter returns the block to the pool, which it keeps alive.
  return std::shared_ptr<void>(data, [pool = pool_, block = std::move(block), size](void*) mutable {
    pool->give(std::move(block), size);
  });
}

int64_t CachingAllocator::base_allocations() const noexcept {
  return pool_->base_allocations.load(std::memory_order_relaxed);
}

}  // namespace mouse::detail
