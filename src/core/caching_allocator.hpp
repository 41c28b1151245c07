// An allocator that keeps the blocks it handed out, once freed, for the next requests of the same
// size: a batchifier asks for the same tensor sizes batch after batch, and fresh memory for each
// costs page faults (large blocks come from mmap and go back on free) and, with workers, frees of
// one thread's blocks by another. Freed blocks are kept per rounded size, at most
// `max_blocks_per_size` of each, so what it holds stays within a few batches.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "mouse/tensor.hpp"

namespace mouse::detail {

/// Caches freed blocks of `base` (which must outlive every block). Thread-safe; blocks may be
/// freed on any thread and after the allocator itself is gone.
class CachingAllocator final : public Allocator {
 public:
  CachingAllocator(const Allocator& base, int64_t max_blocks_per_size);
  ~CachingAllocator() override;

  /// A block of at least `nbytes` bytes (rounded up to 4 KiB), reused when one of that size was
  /// freed, else from the base allocator.
  std::shared_ptr<void> allocate(int64_t nbytes) const override;
  std::string_view name() const noexcept override { return name_; }
  bool page_locked() const noexcept override { return base_.page_locked(); }

  /// Blocks allocated from the base allocator so far (for tests and benchmarks).
  int64_t base_allocations() const noexcept;

 private:
  struct Pool;
  const Allocator& base_;
  std::string name_;
  std::shared_ptr<Pool> pool_;
};

}  // namespace mouse::detail
