#include "batch/pinned_allocator.hpp"

#include <dlfcn.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <mutex>
#include <new>

#include "batch/cuda_runtime.hpp"

namespace mouse::detail {

namespace {
constexpr unsigned int kCudaHostAllocPortable = 1;
}  // namespace

struct PageLockedAllocator::Cache {
  CudaHostApi api;
  size_t max_bytes = 0;
  std::mutex mutex;
  std::multimap<size_t, void*> free_blocks;  // capacity -> block
  size_t bytes = 0;

  ~Cache() {
    for (auto& [size, p] : free_blocks) api.free_host(p);
  }

  void release(void* p, size_t capacity) {
    {
      std::lock_guard lock(mutex);
      if (bytes + capacity <= max_bytes) {
        free_blocks.emplace(capacity, p);
        bytes += capacity;
        return;
      }
    }
    api.free_host(p);
  }
};

PageLockedAllocator::PageLockedAllocator(CudaHostApi api, size_t max_cached_bytes)
    : cache_(std::make_shared<Cache>()) {
  cache_->api = api;
  cache_->max_bytes = max_cached_bytes;
}

size_t PageLockedAllocator::cached_bytes() const {
  std::lock_guard lock(cache_->mutex);
  return cache_->bytes;
}

std::shared_ptr<void> PageLockedAllocator::allocate(int64_t nbytes) const {
  const auto size = static_cast<size_t>(std::max<int64_t>(nbytes, 1));
  void* p = nullptr;
  size_t capacity = size;
  {
    std::lock_guard lock(cache_->mutex);
    auto it = cache_->free_blocks.lower_bound(size);
    if (it != cache_->free_blocks.end() && it->first / 2 <= size) {
      capacity = it->first;
      p = it->second;
      cache_->bytes -= capacity;
      cache_->free_blocks.erase(it);
    }
  }
  if (p == nullptr &&
      (cache_->api.host_alloc(&p, size, kCudaHostAllocPortable) != 0 || p == nullptr)) {
    throw std::bad_alloc();
  }
  return std::shared_ptr<void>(
      p, [cache = cache_, capacity](void* q) { cache->release(q, capacity); });
}

bool load_cuda_host_api(CudaHostApi& api, std::string& why) {
  void* lib = open_cudart();
  if (lib == nullptr) {
    why = "libcudart could not be loaded";
    return false;
  }
  auto host_alloc =
      reinterpret_cast<int (*)(void**, size_t, unsigned int)>(::dlsym(lib, "cudaHostAlloc"));
  auto free_host = reinterpret_cast<int (*)(void*)>(::dlsym(lib, "cudaFreeHost"));
  auto device_count = reinterpret_cast<int (*)(int*)>(::dlsym(lib, "cudaGetDeviceCount"));
  if (host_alloc == nullptr || free_host == nullptr || device_count == nullptr) {
    why = "libcudart lacks cudaHostAlloc, cudaFreeHost or cudaGetDeviceCount";
    return false;
  }
  int devices = 0;
  if (int err = device_count(&devices); err != 0 || devices <= 0) {
    why = fmt::format("no CUDA device (cudaGetDeviceCount returned error {}, {} devices)", err,
                      devices);
    return false;
  }
  api.host_alloc = host_alloc;
  api.free_host = free_host;
  return true;
}

const Allocator* pinned_allocator_or_warn() {
  // Function-local statics: initialised once, thread-safely, on first use.
  static const std::unique_ptr<const Allocator> allocator =
      []() -> std::unique_ptr<const Allocator> {
    CudaHostApi api;
    std::string why;
    if (!load_cuda_host_api(api, why)) {
      std::fputs(fmt::format("mouse-data: warning: pin_memory requested but {}; batches use "
                             "ordinary memory\n",
                             why)
                     .c_str(),
                 stderr);
      return nullptr;
    }
    return std::make_unique<PageLockedAllocator>(api);
  }();
  return allocator.get();
}

}  // namespace mouse::detail
