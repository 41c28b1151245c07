// device "cuda" (BatchifierOptions::device) against a fake libcudart (tests/fake_cudart): this
// binary links it, so the batchifier's dlopen("libcudart.so") finds it already loaded. The
// fake keeps "device memory" in host memory, so the test reads device batches directly and
// checks what the runtime was asked: copies from page-locked memory into device blocks, the
// consumer's stream waiting on an event after them, slots reused only once that stream is done.
#include <dlpack/dlpack.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "batch/fake_source.hpp"
#include "mouse/batch.hpp"
#include "mouse/dlpack.hpp"
#include "mouse/error.hpp"

extern "C" {
struct FakeCudaCounters {
  int64_t mallocs, frees, live_device_blocks, host_allocs, host_frees, live_host_blocks, copies,
      waits, live_events, live_streams;
};
FakeCudaCounters fake_cuda_counters();
void fake_cuda_hold(void* stream, int held);
void fake_cuda_fail_next_mallocs(int64_t n);
void* fake_cuda_last_wait_stream(int* after_last_copy);
int fake_cuda_is_device_pointer(const void* p);
int fake_cuda_is_host_pointer(const void* p);
int cudaStreamCreateWithFlags(void** stream, unsigned flags);
int cudaStreamDestroy(void* stream);
int cudaSetDevice(int device);
int cudaGetDevice(int* device);
}

namespace mouse {
namespace {

using test::FakeSource;

BatchifierOptions options(const std::string& device, int64_t workers, std::string sampling) {
  BatchifierOptions o;
  o.device = device;
  o.num_workers = workers;
  o.sampling = std::move(sampling);
  o.seed = 7;
  o.prefetch = 3;
  return o;
}

// The bytes of a device tensor (the fake's device memory is host memory).
bool same_bytes(const Tensor& device, const Tensor& host) {
  if (!device.is_cuda() || host.is_cuda() || device.shape() != host.shape() ||
      device.dtype() != host.dtype()) {
    return false;
  }
  return host.nbytes() == 0 ||
         std::memcmp(device.data(), host.data(), static_cast<size_t>(host.nbytes())) == 0;
}

TEST(CudaDevice, BatchesEqualTheHostBatchesInDeviceMemory) {
  auto src = std::make_shared<FakeSource>(std::vector<int64_t>{500});
  for (const char* sampling : {"random", "sequential"}) {
    for (int64_t workers : {0, 2}) {
      SCOPED_TRACE(std::string(sampling) + " workers " + std::to_string(workers));
      PrefetchBatchifier host(src, 6, 4, options("cpu", workers, sampling));
      PrefetchBatchifier gpu(src, 6, 4, options("cuda:0", workers, sampling));
      EXPECT_EQ(host.cuda_device(), -1);
      EXPECT_EQ(gpu.cuda_device(), 0);
      EXPECT_TRUE(gpu.pinned());
      for (int i = 0; i < 20; ++i) {
        TensorDict h = host.next_batch();
        TensorDict d = gpu.next_batch();
        ASSERT_EQ(h.keys(), d.keys());
        EXPECT_EQ(h.batch_size(), d.batch_size());
        for (const auto& [name, t] : h) {
          const Tensor& dt = d.at(name);
          EXPECT_TRUE(same_bytes(dt, t)) << name;
          EXPECT_EQ(dt.cuda_device(), 0);
          EXPECT_TRUE(fake_cuda_is_device_pointer(dt.data())) << name;
          EXPECT_EQ(reinterpret_cast<uintptr_t>(dt.data()) % 256, 0u) << name;
        }
      }
    }
  }
}

TEST(CudaDevice, TheHostCannotReadADeviceTensorAndDlpackNamesTheDevice) {
  auto src = std::make_shared<FakeSource>(std::vector<int64_t>{100});
  PrefetchBatchifier gpu(src, 4, 2, options("cuda", 0, "random"));
  TensorDict d = gpu.next_batch();
  const Tensor& row = d.at("row");
  try {
    (void)row.data_as<int64_t>();
    FAIL() << "read device memory on the host";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("CUDA device 0"), std::string::npos) << e.what();
  }
  EXPECT_THROW((void)row.clone(), InvalidArgument);
  EXPECT_THROW((void)row.at<int64_t>({0, 0}), InvalidArgument);
  EXPECT_TRUE(row.reshape({-1}).is_cuda());
  DLManagedTensor* dl = to_dlpack(row);
  EXPECT_EQ(dl->dl_tensor.device.device_type, kDLCUDA);
  EXPECT_EQ(dl->dl_tensor.device.device_id, 0);
  EXPECT_EQ(dl->dl_tensor.data, row.data());
  dl->deleter(dl);
}

TEST(CudaDevice, TheConsumerStreamWaitsForTheCopiesOfItsBatch) {
  void* mine = nullptr;
  ASSERT_EQ(cudaStreamCreateWithFlags(&mine, 1), 0);
  {
    auto src = std::make_shared<FakeSource>(std::vector<int64_t>{200});
    {
      PrefetchBatchifier gpu(src, 5, 3, options("cuda:0", 1, "random"));
      for (int i = 0; i < 5; ++i) {
        const int64_t waits = fake_cuda_counters().waits;
        TensorDict d = gpu.next_batch(mine);
        int after_copy = 0;
        EXPECT_EQ(fake_cuda_last_wait_stream(&after_copy), mine);
        EXPECT_EQ(fake_cuda_counters().waits, waits + 1);
      }
    }  // its worker stopped: no copy of another batchifier runs below
    // With no worker the batch is copied inside next_batch: the wait comes after its copies.
    PrefetchBatchifier inline_gpu(src, 5, 3, options("cuda:0", 0, "random"));
    TensorDict d = inline_gpu.next_batch(mine);
    int after_copy = 0;
    EXPECT_EQ(fake_cuda_last_wait_stream(&after_copy), mine);
    EXPECT_EQ(after_copy, 1);
  }
  EXPECT_EQ(cudaStreamDestroy(mine), 0);
}

TEST(CudaDevice, ASlotIsReusedOnlyAfterTheConsumerStreamIsDone) {
  void* consumer = nullptr;
  ASSERT_EQ(cudaStreamCreateWithFlags(&consumer, 1), 0);
  {
    auto src = std::make_shared<FakeSource>(std::vector<int64_t>{400});
    PrefetchBatchifier gpu(src, 8, 4, options("cuda:0", 0, "random"));
    gpu.next_batch(consumer);  // dropped at once
    const int64_t first = fake_cuda_counters().mallocs;
    for (int i = 0; i < 50; ++i) gpu.next_batch(consumer);
    const int64_t steady = fake_cuda_counters().mallocs;
    EXPECT_LE(steady - first, 1) << "slots are reused while the stream keeps up";

    // The consumer's stream falls behind: dropped batches' slots stay reserved.
    fake_cuda_hold(consumer, 1);
    for (int i = 0; i < 5; ++i) gpu.next_batch(consumer);
    EXPECT_GE(fake_cuda_counters().mallocs - steady, 4) << "a slot was reused under running work";
    fake_cuda_hold(consumer, 0);
    const int64_t caught_up = fake_cuda_counters().mallocs;
    for (int i = 0; i < 50; ++i) gpu.next_batch(consumer);
    EXPECT_EQ(fake_cuda_counters().mallocs, caught_up);

    // A held batch keeps its slot: it is never handed to a later batch.
    TensorDict kept = gpu.next_batch(consumer);
    const void* kept_at = kept.at("obs").data();
    std::vector<int64_t> kept_rows(static_cast<size_t>(kept.at("row").numel()));
    std::memcpy(kept_rows.data(), kept.at("row").data(), kept_rows.size() * 8);
    for (int i = 0; i < 20; ++i) {
      TensorDict other = gpu.next_batch(consumer);
      EXPECT_NE(other.at("obs").data(), kept_at);
    }
    EXPECT_EQ(std::memcmp(kept.at("row").data(), kept_rows.data(), kept_rows.size() * 8), 0);
  }
  // Everything is given back: device slots, page-locked blocks, events, the side stream.
  const FakeCudaCounters c = fake_cuda_counters();
  EXPECT_EQ(c.live_device_blocks, 0);
  EXPECT_EQ(c.live_host_blocks, 0);
  EXPECT_EQ(c.live_events, 0);
  EXPECT_EQ(c.live_streams, 1);  // the test's own
  EXPECT_EQ(cudaStreamDestroy(consumer), 0);
}

TEST(CudaDevice, MemoryStaysBoundedOverManyBatchesWithWorkers) {
  {
    auto src = std::make_shared<FakeSource>(std::vector<int64_t>{1000});
    PrefetchBatchifier gpu(src, 10, 8, options("cuda:0", 2, "random"));
    for (int i = 0; i < 100; ++i) gpu.next_batch();
    const FakeCudaCounters before = fake_cuda_counters();
    for (int i = 0; i < 2000; ++i) gpu.next_batch();
    const FakeCudaCounters after = fake_cuda_counters();
    EXPECT_LE(after.live_device_blocks, 3 + 2 + 2 + 2);  // prefetch + workers + 2, + the held one
    EXPECT_LE(after.mallocs - before.mallocs, 8);
    EXPECT_LE(after.live_host_blocks, before.live_host_blocks + 8);
    // One copy per member (row, done, obs) of each batch: 2000 taken, give or take the few
    // made ahead (prefetch 3 + 2 workers) before either count was read.
    EXPECT_GE(after.copies - before.copies, (2000 - 3 - 2) * 3);
    EXPECT_LE(after.copies - before.copies, (2000 + 3 + 2) * 3);
  }
  EXPECT_EQ(fake_cuda_counters().live_device_blocks, 0);
  EXPECT_EQ(fake_cuda_counters().live_host_blocks, 0);
}

TEST(CudaDevice, OutOfDeviceMemoryIsAnErrorForThatBatchOnly) {
  auto src = std::make_shared<FakeSource>(std::vector<int64_t>{100});
  PrefetchBatchifier gpu(src, 4, 2, options("cuda:0", 0, "sequential"));
  {
    TensorDict hold = gpu.next_batch();  // keeps its slot: the next batch needs a new one
    fake_cuda_fail_next_mallocs(1);
    try {
      gpu.next_batch();
      FAIL() << "expected an error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("cudaMalloc"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("out of memory"), std::string::npos) << e.what();
    }
  }
  TensorDict d = gpu.next_batch();
  const int64_t first_row = *static_cast<const int64_t*>(d.at("row").data());
  EXPECT_EQ(first_row, 16);  // batches 0 and 1 (the failed one) were taken
}

TEST(CudaDevice, BadDevicesAreRejectedByName) {
  auto src = std::make_shared<FakeSource>(std::vector<int64_t>{100});
  for (const char* bad : {"gpu", "cuda:", "cuda:x", "cuda:-1", "CUDA", "cuda:0 "}) {
    try {
      PrefetchBatchifier b(src, 4, 2, options(bad, 0, "random"));
      FAIL() << bad;
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
    }
  }
  try {
    PrefetchBatchifier b(src, 4, 2, options("cuda:3", 0, "random"));
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("2 CUDA devices"), std::string::npos) << e.what();
  }
}

TEST(CudaDevice, LocalRankPicksTheGpuAndTheCallersDeviceIsKept) {
  ::setenv("LOCAL_RANK", "1", 1);  // the fake has two devices
  {
    auto src = std::make_shared<FakeSource>(std::vector<int64_t>{100});
    PrefetchBatchifier b(src, 4, 2, options("cuda", 0, "random"));
    EXPECT_EQ(b.cuda_device(), 1);
    ASSERT_EQ(cudaSetDevice(0), 0);
    TensorDict d = b.next_batch();  // assembled and copied on this thread
    EXPECT_EQ(d.at("row").cuda_device(), 1);
    int current = -1;
    cudaGetDevice(&current);
    EXPECT_EQ(current, 0);
    ::setenv("LOCAL_RANK", "one", 1);
    EXPECT_THROW(PrefetchBatchifier(src, 4, 2, options("cuda", 0, "random")), InvalidArgument);
  }
  ::unsetenv("LOCAL_RANK");
}

TEST(CudaDevice, TransformRunsOnTheHostBatchBeforeTheCopy) {
  auto src = std::make_shared<FakeSource>(std::vector<int64_t>{100});
  BatchifierOptions o = options("cuda:0", 1, "sequential");
  o.transform = [](TensorDict b, int64_t, const Allocator&) {
    EXPECT_FALSE(b.at("row").is_cuda());
    EXPECT_TRUE(fake_cuda_is_host_pointer(b.at("row").data()));  // page-locked
    Tensor row = b.at("row");
    for (int64_t i = 0; i < row.numel(); ++i) row.data_as<int64_t>()[i] *= 10;
    return b;
  };
  PrefetchBatchifier b(src, 4, 2, o);
  TensorDict d = b.next_batch();
  const auto* rows = static_cast<const int64_t*>(d.at("row").data());
  EXPECT_EQ(rows[0], 0);
  EXPECT_EQ(rows[5], 50);
}

}  // namespace
}  // namespace mouse
