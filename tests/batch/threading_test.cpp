// Workers, order, reproducibility, errors, close, and appends racing with sampling.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "batch/fake_source.hpp"
#include "mouse/batch.hpp"
#include "mouse/error.hpp"

namespace mouse {
namespace {

using test::FakeSource;
using test::row_starts;
using Starts = std::vector<int64_t>;

BatchifierOptions opts(std::string sampling, int64_t workers, uint64_t seed = 99) {
  BatchifierOptions o;
  o.sampling = std::move(sampling);
  o.num_workers = workers;
  o.seed = seed;
  o.prefetch = 3;
  return o;
}

std::vector<TensorDict> take(PrefetchBatchifier& b, int n) {
  std::vector<TensorDict> out;
  for (int i = 0; i < n; ++i) out.push_back(b.next_batch());
  return out;
}

class SameSeedSameBatches : public ::testing::TestWithParam<std::string> {};

TEST_P(SameSeedSameBatches, WhateverTheNumberOfWorkers) {
  auto src = std::make_shared<FakeSource>(std::vector<int64_t>{300, 211});
  src->append_rows(77);
  PrefetchBatchifier sync(src, 16, 5, opts(GetParam(), 0));
  std::vector<TensorDict> expected = take(sync, 25);
  for (int64_t workers : {1, 4}) {
    PrefetchBatchifier threaded(src, 16, 5, opts(GetParam(), workers));
    std::vector<TensorDict> got = take(threaded, 25);
    for (size_t i = 0; i < got.size(); ++i) {
      ASSERT_TRUE(got[i].equals(expected[i])) << "batch " << i << ", " << workers << " workers";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(EveryMode, SameSeedSameBatches,
                         ::testing::Values("random", "last", "sequential", "batch"));

TEST(Workers, DeliverInBatchOrderWhenLaterBatchesFinishFirst) {
  auto src = std::make_shared<FakeSource>(std::vector<int64_t>{1000});
  PrefetchBatchifier sync(src, 10, 1, opts("random", 0));
  std::vector<TensorDict> expected = take(sync, 40);
  src->set_gather_delay(300);
  BatchifierOptions o = opts("random", 4);
  o.prefetch = 8;
  PrefetchBatchifier threaded(src, 10, 1, o);
  for (int i = 0; i < 40; ++i) {
    SampledBatch batch = threaded.next();
    ASSERT_EQ(batch.number, i);
    ASSERT_TRUE(batch.data.equals(expected[static_cast<size_t>(i)])) << i;
  }
}

TEST(Workers, KeepEpochOrderWithManyWorkers) {
  auto src = std::make_shared<FakeSource>(std::vector<int64_t>{400});
  PrefetchBatchifier b(src, 4, 3, opts("sequential", 4));
  Starts all;
  // 33 full batches, a batch of 1, then epoch 1.
  for (int i = 0; i < 35; ++i) {
    SampledBatch batch = b.next();
    ASSERT_EQ(batch.number, i);
    all.insert(all.end(), batch.starts.begin(), batch.starts.end());
  }
  for (size_t i = 0; i < 100; ++i) ASSERT_EQ(all[i], static_cast<int64_t>(i) * 4);
  EXPECT_EQ(all[100], 0);  // epoch 1
}

TEST(Workers, ErrorIsRethrownByNextBatchWithItsTypeAndMessageThenSamplingGoesOn) {
  auto src = std::make_shared<FakeSource>(std::vector<int64_t>{100});
  src->fail_gather_after(2, "shard 3 vanished");
  PrefetchBatchifier b(src, 4, 2, opts("sequential", 1));
  EXPECT_EQ(b.next().starts, (Starts{0, 4}));
  EXPECT_EQ(b.next().starts, (Starts{8, 12}));
  try {
    b.next_batch();
    FAIL();
  } catch (const IoError& e) {
    EXPECT_STREQ(e.what(), "shard 3 vanished");
  }
  // The failed batch's windows were planned, so sampling continues after them.
  EXPECT_EQ(b.next().starts, (Starts{24, 28}));
}

TEST(Workers, ErrorInSynchronousModeIsThrownDirectly) {
  auto src = std::make_shared<FakeSource>(std::vector<int64_t>{100});
  src->fail_gather_after(1, "no disk");
  PrefetchBatchifier b(src, 4, 2, opts("random", 0));
  b.next_batch();
  EXPECT_THROW(b.next_batch(), IoError);
  b.next_batch();
}

TEST(Close, IsIdempotentAndNextBatchAfterItIsAnError) {
  auto src = std::make_shared<FakeSource>(std::vector<int64_t>{100});
  for (int64_t workers : {0, 2}) {
    PrefetchBatchifier b(src, 4, 2, opts("random", workers));
    b.next_batch();
    EXPECT_FALSE(b.closed());
    b.close();
    b.close();
    EXPECT_TRUE(b.closed());
    try {
      b.next_batch();
      FAIL();
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find("next_batch after close"), std::string::npos);
    }
    EXPECT_THROW(b.restore(b.state()), InvalidArgument);
  }
}

TEST(Close, StopsWorkersBlockedOnAFullQueue) {
  auto src = std::make_shared<FakeSource>(std::vector<int64_t>{100});
  BatchifierOptions o = opts("random", 4);
  o.prefetch = 2;
  PrefetchBatchifier b(src, 4, 2, o);
  // Let the workers fill the queue and block.
  for (int i = 0; i < 5000 && src->gathers() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(src->gathers(), 2);  // bounded by prefetch
  b.close();
}

TEST(Close, WakesAConsumerBlockedInNextBatch) {
  auto src = std::make_shared<FakeSource>(std::vector<int64_t>{100});
  BatchifierOptions o = opts("random", 1);
  o.prefetch = 1;
  PrefetchBatchifier b(src, 4, 2, o);
  b.next_batch();
  src->set_gather_delay(5000);  // up to 30 ms per batch: the consumer mostly waits
  std::atomic<bool> threw{false};
  std::thread consumer([&] {
    try {
      for (;;) b.next_batch();
    } catch (const InvalidArgument&) {
      threw = true;
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  b.close();
  consumer.join();
  EXPECT_TRUE(threw);
}

TEST(Close, FromAWatchdogWhileTheConsumerDestroysTheBatchifier) {
  // The consumer, woken by the watchdog's close(), destroys the batchifier at once: its
  // destructor's close() must wait for the watchdog's join instead of returning early.
  auto src = std::make_shared<FakeSource>(std::vector<int64_t>{100});
  for (int round = 0; round < 20; ++round) {
    BatchifierOptions o = opts("random", 3);
    o.prefetch = 1;
    auto b = std::make_unique<PrefetchBatchifier>(src, 4, 2, o);
    src->set_gather_delay(round % 2 == 0 ? 2000 : 0);
    std::atomic<bool> threw{false};
    std::thread consumer([&] {
      try {
        for (;;) b->next_batch();
      } catch (const InvalidArgument&) {
        threw = true;
        b.reset();
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    PrefetchBatchifier* raw = b.get();
    raw->close();  // b stays alive until the consumer resets it, after this close wakes it
    consumer.join();
    EXPECT_TRUE(threw);
    EXPECT_EQ(b, nullptr);
  }
}

// A next_batch whose batch is not ready, with room in the ring, assembles the next batch itself
// (the same batch a worker would have made), so one worker and the consumer share the work.
TEST(Workers, ConsumerAssemblesWhileItsBatchIsNotReady) {
  auto src = std::make_shared<FakeSource>(std::vector<int64_t>{1000});
  PrefetchBatchifier sync(src, 10, 3, opts("random", 0));
  std::vector<TensorDict> expected = take(sync, 12);
  const auto consumer = std::this_thread::get_id();
  std::atomic<int> on_consumer{0};
  BatchifierOptions o = opts("random", 1);
  o.prefetch = 4;
  o.transform = [&](TensorDict b, int64_t, const Allocator&) {
    if (std::this_thread::get_id() == consumer) ++on_consumer;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // batches are slow to make
    return b;
  };
  PrefetchBatchifier b(src, 10, 3, o);
  for (size_t i = 0; i < expected.size(); ++i) {
    ASSERT_TRUE(b.next_batch().equals(expected[i])) << "batch " << i;
  }
  EXPECT_GT(on_consumer.load(), 0);
}

// close() from another thread while the consumer is assembling a batch inside next_batch: that
// next_batch (or the one after it) throws the closed error; nothing hangs or leaks.
TEST(Close, WhileTheConsumerAssemblesABatch) {
  auto src = std::make_shared<FakeSource>(std::vector<int64_t>{1000});
  for (int round = 0; round < 10; ++round) {
    BatchifierOptions o = opts("random", 1);
    o.prefetch = 4;
    o.transform = [](TensorDict b, int64_t, const Allocator&) {
      std::this_thread::sleep_for(std::chrono::milliseconds(3));
      return b;
    };
    PrefetchBatchifier b(src, 10, 3, o);
    std::atomic<bool> threw{false};
    std::thread consumer([&] {
      try {
        for (;;) b.next_batch();
      } catch (const InvalidArgument& e) {
        threw = std::string(e.what()).find("close") != std::string::npos;
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(1 + round));
    b.close();
    consumer.join();
    EXPECT_TRUE(threw) << "round " << round;
  }
}

TEST(Close, DestructorJoinsRunningWorkers) {
  auto src = std::make_shared<FakeSource>(std::vector<int64_t>{1000});
  for (int i = 0; i < 20; ++i) {
    PrefetchBatchifier b(src, 8, 4, opts("batch", 3));
    if (i % 2) b.next_batch();
  }
  SUCCEED();
}

TEST(OnlineAppend, RowsAppendedLaterAppearInLaterBatches) {
  auto src = std::make_shared<FakeSource>(std::vector<int64_t>{8});
  PrefetchBatchifier b(src, 4, 2, opts("sequential", 0));
  EXPECT_EQ(b.next().starts, (Starts{0, 4}));
  src->append_rows(8);
  // The new epoch counts the appended windows.
  EXPECT_EQ(b.next().starts, (Starts{0, 4}));
  EXPECT_EQ(b.next().starts, (Starts{8, 12}));

  auto rnd = std::make_shared<FakeSource>(std::vector<int64_t>{8});
  PrefetchBatchifier r(rnd, 4, 64, opts("random", 0));
  for (int64_t s : r.next().starts) EXPECT_LE(s, 4);
  rnd->append_rows(1000);
  int64_t max_start = 0;
  for (int i = 0; i < 4; ++i) {
    for (int64_t s : r.next().starts) max_start = std::max(max_start, s);
  }
  EXPECT_GT(max_start, 100);
}

// Run under TSan: an appender thread grows the source while workers plan and gather.
TEST(OnlineAppend, ConcurrentAppendsAndWorkersAreRaceFree) {
  for (const char* boundaries : {"none", "source", "episode"}) {
    auto src = std::make_shared<FakeSource>(std::vector<int64_t>{64});
    BatchifierOptions o = opts("random", 3);
    o.boundaries = boundaries;
    PrefetchBatchifier b(src, 8, 4, o);
    std::atomic<bool> stop{false};
    std::thread appender([&] {
      int64_t k = 0;
      while (!stop) {
        src->append(std::vector<int64_t>{0, 0, 0, (k++ % 3 == 0) ? 1 : 0});
        std::this_thread::yield();
      }
    });
    int64_t last_size = 0;
    // At least 200 batches, and on until the appender (which a loaded machine may not schedule
    // for a while) has grown the source under the workers.
    for (int i = 0; i < 200 || (last_size <= 80 && i < 2'000'000); ++i) {
      SampledBatch batch = b.next();
      ASSERT_EQ(row_starts(batch.data), batch.starts);
      for (int64_t s : batch.starts) ASSERT_GE(s, 0);
      last_size = src->size();
      b.total_batches();
    }
    stop = true;
    appender.join();
    EXPECT_GT(last_size, 64);
    b.close();
  }
}

}  // namespace
}  // namespace mouse
