// pin_memory: page-locked allocation through the CUDA runtime when present, one warning and
// ordinary memory when not (this test machine has no GPU).
#include "batch/pinned_allocator.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "batch/fake_source.hpp"
#include "mouse/batch.hpp"

namespace mouse {
namespace {

using test::FakeSource;

std::atomic<int> fake_allocs{0};
std::atomic<int> fake_frees{0};

int fake_host_alloc(void** p, size_t size, unsigned int flags) {
  if (flags != 1) return 1;
  *p = std::aligned_alloc(4096, (size + 4095) / 4096 * 4096);
  ++fake_allocs;
  return 0;
}
int fake_free_host(void* p) {
  std::free(p);
  ++fake_frees;
  return 0;
}
int failing_host_alloc(void**, size_t, unsigned int) { return 2; }

TEST(PageLockedAllocator, AllocatesThroughTheRuntimeAndReusesFreedBlocks) {
  fake_allocs = 0;
  fake_frees = 0;
  {
    detail::PageLockedAllocator alloc({fake_host_alloc, fake_free_host});
    EXPECT_TRUE(alloc.page_locked());
    EXPECT_EQ(alloc.name(), "cuda-pinned");
    {
      Tensor t = Tensor::zeros({16, 3}, DType::kFloat32, alloc);  // 192 bytes
      EXPECT_TRUE(t.is_page_locked());
      EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data()) % 64, 0u);
      EXPECT_NE(alloc.allocate(0).get(), nullptr);
    }
    EXPECT_EQ(fake_allocs.load(), 2);
    EXPECT_EQ(fake_frees.load(), 0);
    EXPECT_EQ(alloc.cached_bytes(), 193u);
    auto reused = alloc.allocate(150);  // the 192-byte block: at most twice the request
    EXPECT_EQ(fake_allocs.load(), 2);
    auto fresh = alloc.allocate(1000);  // nothing cached is large enough
    EXPECT_EQ(fake_allocs.load(), 3);
    auto small = alloc.allocate(0);  // the 1-byte block
    EXPECT_EQ(fake_allocs.load(), 3);
    EXPECT_EQ(alloc.cached_bytes(), 0u);
  }
  // Blocks in use keep the cache alive; the last one gone, everything is returned.
  EXPECT_EQ(fake_frees.load(), 3);
}

TEST(PageLockedAllocator, FreesBeyondTheCacheLimitGoBackToTheRuntime) {
  fake_allocs = 0;
  fake_frees = 0;
  detail::PageLockedAllocator alloc({fake_host_alloc, fake_free_host}, 100);
  alloc.allocate(80).reset();
  alloc.allocate(500).reset();
  EXPECT_EQ(fake_frees.load(), 1);
  EXPECT_EQ(alloc.cached_bytes(), 80u);
}

TEST(PageLockedAllocator, RuntimeFailureIsBadAlloc) {
  detail::PageLockedAllocator alloc({failing_host_alloc, fake_free_host});
  EXPECT_THROW(alloc.allocate(10), std::bad_alloc);
}

TEST(PinMemory, WithoutCudaWarnsOnceAndUsesOrdinaryMemory) {
  detail::CudaHostApi api;
  std::string why;
  if (detail::load_cuda_host_api(api, why)) GTEST_SKIP() << "a CUDA device is present";
  auto src = std::make_shared<FakeSource>(std::vector<int64_t>{100});
  BatchifierOptions o;
  o.pin_memory = true;
  o.seed = 1;
  testing::internal::CaptureStderr();
  std::vector<std::unique_ptr<PrefetchBatchifier>> many;
  for (int64_t workers : {0, 2}) {
    o.num_workers = workers;
    many.push_back(std::make_unique<PrefetchBatchifier>(src, 4, 2, o));
    EXPECT_FALSE(many.back()->pinned());
    EXPECT_FALSE(many.back()->next_batch().at("row").is_page_locked());
  }
  many.clear();
  const std::string err = testing::internal::GetCapturedStderr();
  // The warning is process-wide and may already have been printed by an earlier test.
  const auto first = err.find("pin_memory requested but");
  if (first != std::string::npos) {
    EXPECT_EQ(err.find("pin_memory requested but", first + 1), std::string::npos) << err;
  }
  EXPECT_EQ(detail::pinned_allocator_or_warn(), nullptr);
}

TEST(CudaDevice, WithoutCudaADeviceIsAClearError) {
  detail::CudaHostApi api;
  std::string why;
  if (detail::load_cuda_host_api(api, why)) GTEST_SKIP() << "a CUDA device is present";
  auto src = std::make_shared<FakeSource>(std::vector<int64_t>{100});
  BatchifierOptions o;
  o.device = "cuda:0";
  try {
    PrefetchBatchifier b(src, 4, 2, o);
    FAIL() << "a batchifier on a GPU this machine lacks";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("device \"cuda:0\" was asked for"), std::string::npos)
        << e.what();
  }
  o.device = "cpu";
  PrefetchBatchifier host(src, 4, 2, o);
  EXPECT_EQ(host.cuda_device(), -1);
}

}  // namespace
}  // namespace mouse
