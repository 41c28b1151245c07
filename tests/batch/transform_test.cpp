// BatchifierOptions::transform: runs on the assembling thread, numbered in delivery order, errors
// rethrown, and a TokenAugmenter applied in the workers gives the same batches as applying it on
// the consumer thread.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include "batch/fake_source.hpp"
#include "mouse/augment.hpp"
#include "mouse/batch.hpp"
#include "mouse/error.hpp"

namespace mouse {
namespace {

using test::FakeSource;

BatchifierOptions opts(int64_t workers, uint64_t seed = 5) {
  BatchifierOptions o;
  o.num_workers = workers;
  o.seed = seed;
  o.prefetch = 3;
  return o;
}

TEST(BatchTransform, GetsBatchNumbersInDeliveryOrderOffTheConsumersOwnTime) {
  auto src = std::make_shared<FakeSource>(std::vector<int64_t>{500});
  src->set_gather_delay(50);  // batches finish out of order
  const auto consumer = std::this_thread::get_id();
  // The consumer may assemble a batch itself, but only inside next() (while it would wait).
  std::atomic<bool> in_next{false};
  std::atomic<int> on_consumer_outside_next{0};
  BatchifierOptions o = opts(3);
  o.transform = [&](TensorDict b, int64_t number, const Allocator& a) {
    if (std::this_thread::get_id() == consumer && !in_next) ++on_consumer_outside_next;
    Tensor n = Tensor::full({b.batch_size()[0], b.batch_size()[1]}, DType::kInt64,
                            static_cast<double>(number), a);
    b.set("number", n);
    return b;
  };
  PrefetchBatchifier batchifier(src, 8, 4, o);
  for (int64_t k = 0; k < 20; ++k) {
    in_next = true;
    SampledBatch b = batchifier.next();
    in_next = false;
    EXPECT_EQ(b.number, k);
    EXPECT_EQ(b.data.at("number").at<int64_t>({0, 0}), k);
    EXPECT_EQ(b.data.at("number").at<int64_t>({3, 7}), k);
  }
  batchifier.close();
  EXPECT_EQ(on_consumer_outside_next.load(), 0);
}

TEST(BatchTransform, RunsOnTheCallerWithoutWorkers) {
  auto src = std::make_shared<FakeSource>(std::vector<int64_t>{100});
  int calls = 0;
  BatchifierOptions o = opts(0);
  o.transform = [&](TensorDict b, int64_t number, const Allocator&) {
    EXPECT_EQ(number, calls);
    ++calls;
    return b;
  };
  PrefetchBatchifier batchifier(src, 4, 2, o);
  for (int i = 0; i < 5; ++i) (void)batchifier.next_batch();
  EXPECT_EQ(calls, 5);
}

TEST(BatchTransform, ExceptionIsRethrownByNextBatchAndTheNextBatchStillComes) {
  auto src = std::make_shared<FakeSource>(std::vector<int64_t>{100});
  for (int64_t workers : {0, 2}) {
    SCOPED_TRACE(workers);
    BatchifierOptions o = opts(workers);
    o.transform = [](TensorDict b, int64_t number, const Allocator&) {
      if (number == 1) throw InvalidArgument("transform refused batch 1");
      return b;
    };
    PrefetchBatchifier batchifier(src, 4, 2, o);
    EXPECT_EQ(batchifier.next().number, 0);
    try {
      (void)batchifier.next_batch();
      ADD_FAILURE() << "expected the transform's exception";
    } catch (const InvalidArgument& e) {
      EXPECT_STREQ(e.what(), "transform refused batch 1");
    }
    EXPECT_EQ(batchifier.next().number, 2);
  }
}

TEST(BatchTransform, AugmenterInWorkersEqualsAugmenterOnTheConsumer) {
  auto src = std::make_shared<FakeSource>(std::vector<int64_t>{400});
  AugmentTokensConfig config;
  config.mask_prob.done = 0.5;
  config.permute_done = true;
  auto aug = std::make_shared<const TokenAugmenter>(config, 4, 0, 17);

  // Reference: plain batches, augmented on this thread by the stateful API.
  PrefetchBatchifier plain(src, 8, 6, opts(0));
  TokenAugmenter stateful(config, 4, 0, 17);
  std::vector<TensorDict> expected;
  for (int i = 0; i < 12; ++i) {
    TensorDict b = plain.next_batch();
    stateful.update_augmentations(b);
    expected.push_back(stateful.augment(b));
  }
  for (int64_t workers : {0, 1, 3}) {
    BatchifierOptions o = opts(workers);
    o.transform = [aug](TensorDict b, int64_t n, const Allocator& a) {
      return aug->apply_fresh(b, static_cast<uint64_t>(n), a);
    };
    PrefetchBatchifier batchifier(src, 8, 6, o);
    for (size_t i = 0; i < expected.size(); ++i) {
      ASSERT_TRUE(batchifier.next_batch().equals(expected[i])) << "batch " << i << ", " << workers
                                                               << " workers";
    }
  }
}

}  // namespace
}  // namespace mouse
