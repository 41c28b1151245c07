// Page-locked (CUDA pinned) host memory through the CUDA runtime, loaded with dlopen at run
// time: no build dependency on CUDA, and a machine without libcudart or a GPU falls back to
// ordinary memory with one warning.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "mouse/tensor.hpp"

namespace mouse::detail {

/// The two CUDA runtime entry points the allocator uses (cudaHostAlloc, cudaFreeHost); a
/// non-zero return is a cudaError_t.
struct CudaHostApi {
  int (*host_alloc)(void** ptr, size_t size, unsigned int flags) = nullptr;
  int (*free_host)(void* ptr) = nullptr;
};

/// Allocates through `api` (cudaHostAllocPortable), caching freed blocks for reuse as
/// PyTorch's host allocator does: registering page-locked memory costs far more than a batch
/// takes to fill, and batches come in a few repeating sizes. A request takes a cached block of
/// at least its size and at most twice it; blocks freed while the cache holds more than
/// `max_cached_bytes` go back to the runtime. Thread-safe; page_locked() is true. Throws
/// std::bad_alloc when the runtime refuses.
class PageLockedAllocator final : public Allocator {
 public:
  explicit PageLockedAllocator(CudaHostApi api, size_t max_cached_bytes = size_t{1} << 30);
  std::shared_ptr<void> allocate(int64_t nbytes) const override;
  std::string_view name() const noexcept override { return "cuda-pinned"; }
  bool page_locked() const noexcept override { return true; }
  /// Bytes held in the cache, free for reuse.
  size_t cached_bytes() const;

  struct Cache;

 private:
  std::shared_ptr<Cache> cache_;  // shared with the deleters of blocks in use
};

/// Loads libcudart (libcudart.so, .so.12, .so.11.0) and checks that a device exists. Returns
/// false with the reason in `why` when it cannot. Thread-safe.
bool load_cuda_host_api(CudaHostApi& api, std::string& why);

/// The process-wide pinned allocator, or null when CUDA is unavailable; the first call that
/// finds it unavailable prints one warning on stderr. Thread-safe; loads the runtime once.
const Allocator* pinned_allocator_or_warn();

}  // namespace mouse::detail
