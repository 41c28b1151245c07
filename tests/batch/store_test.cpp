// The batchifier over a real DatasetStore: batches equal the store's own encoding of the window
// rows, boundaries follow loaded datasets and the done column, appends are picked up.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <numeric>
#include <thread>
#include <vector>

#include "../bench/synthetic.hpp"
#include "batch/row_source.hpp"
#include "mouse/batch.hpp"
#include "mouse/dataset.hpp"
#include "mouse/dataset_store.hpp"

namespace mouse {
namespace {

Dataset cartpole(int64_t rows, uint64_t seed) {
  return Dataset::from_batches(bench::cartpole_schema(), bench::cartpole_batches(rows, 1000, seed));
}

std::unique_ptr<DatasetStore> cartpole_store(std::vector<int64_t> sizes) {
  StoreConfig config;
  config.max_action_dim = 2;
  config.max_obs_continuous_dim = 4;
  auto store = std::make_unique<DatasetStore>(config);
  uint64_t seed = 0;
  for (int64_t n : sizes) store->from_dataset(cartpole(n, seed++));
  return store;
}

StepRow step(int64_t action, int64_t done) {
  StepRow row;
  row["action"] = action;
  row["reward"] = 1.0;
  row["done"] = done;
  row["episode_step"] = int64_t{0};
  return row;
}

// The store's encoding of the window rows of `batch`, shaped [b, S].
TensorDict expected_batch(const DatasetStore& store, const SampledBatch& batch, int64_t s) {
  std::vector<int64_t> rows;
  for (int64_t start : batch.starts) {
    for (int64_t j = 0; j < s; ++j) rows.push_back(start + j);
  }
  return store.get(rows).reshape({static_cast<int64_t>(batch.starts.size()), s});
}

TEST(StoreBatches, EqualTheStoresEncodingOfTheWindowRows) {
  auto store = cartpole_store({3000, 2000});
  for (int i = 0; i < 10; ++i) store->append(step(i % 2, i == 9 ? 1 : 0));
  for (const char* mode : {"random", "last", "sequential", "batch"}) {
    BatchifierOptions o;
    o.sampling = mode;
    o.num_workers = 2;
    o.seed = 4;
    PrefetchBatchifier b(*store, 16, 8, o);
    for (int i = 0; i < 5; ++i) {
      SampledBatch batch = b.next();
      ASSERT_EQ(batch.data.batch_size(), (std::vector<int64_t>{8, 16}));
      ASSERT_TRUE(batch.data.equals(expected_batch(*store, batch, 16))) << mode << " " << i;
    }
  }
}

TEST(StoreBatches, SameSeedSameBatchesWhateverTheWorkers) {
  auto store = cartpole_store({5000});
  std::vector<TensorDict> reference;
  for (int64_t workers : {0, 1, 4}) {
    BatchifierOptions o;
    o.sampling = "batch";
    o.num_workers = workers;
    o.seed = 42;
    PrefetchBatchifier b(*store, 32, 4, o);
    for (int i = 0; i < 12; ++i) {
      TensorDict batch = b.next_batch();
      if (workers == 0) {
        reference.push_back(batch);
      } else {
        ASSERT_TRUE(batch.equals(reference[static_cast<size_t>(i)])) << workers << " " << i;
      }
    }
  }
}

TEST(StoreBatches, SourceBoundariesFollowLoadedDatasets) {
  auto store = cartpole_store({100, 50, 100});
  BatchifierOptions o;
  o.boundaries = "source";
  o.num_workers = 1;
  o.seed = 3;
  PrefetchBatchifier b(*store, 64, 32, o);
  for (int i = 0; i < 20; ++i) {
    for (int64_t s : b.next().starts) {
      ASSERT_TRUE((s >= 0 && s + 64 <= 100) || (s >= 150 && s + 64 <= 250)) << s;
    }
  }
}

TEST(StoreBatches, EpisodeWindowsEndAtDoneAndAreMasked) {
  auto store = cartpole_store({20000});
  BatchifierOptions o;
  o.boundaries = "episode";
  o.num_workers = 2;
  o.seed = 8;
  PrefetchBatchifier b(*store, 64, 32, o);
  for (int i = 0; i < 20; ++i) {
    SampledBatch batch = b.next();
    const Tensor& done = batch.data.at("done");
    const Tensor& mask = batch.data.at("mask");
    const Tensor& time = batch.data.at("time");
    for (int64_t w = 0; w < 32; ++w) {
      // Real steps are consecutive steps of one episode: done only on the last real step.
      int64_t real = 0;
      while (real < 64 && mask.at<bool>({w, real})) ++real;
      ASSERT_GE(real, 1);
      for (int64_t j = real; j < 64; ++j) ASSERT_FALSE(mask.at<bool>({w, j}));
      for (int64_t j = 0; j + 1 < real; ++j) {
        ASSERT_EQ(done.at<int64_t>({w, j}), 0);
        ASSERT_EQ(time.at<int64_t>({w, j + 1}), time.at<int64_t>({w, j}) + 1);
      }
      if (real < 64) {
        ASSERT_NE(done.at<int64_t>({w, real - 1}), 0);
      }
    }
  }
}

TEST(StoreBatches, AppendsDuringSamplingAreRaceFreeAndIncluded) {
  auto store = cartpole_store({500});
  BatchifierOptions o;
  o.boundaries = "episode";
  o.num_workers = 3;
  o.seed = 1;
  PrefetchBatchifier b(*store, 16, 8, o);
  std::atomic<bool> stop{false};
  std::thread appender([&] {
    int64_t k = 0;
    while (!stop && k < 5000) {
      store->append(step(k % 2, (k % 37 == 36) ? 1 : 0));
      ++k;
    }
  });
  int64_t max_start = 0;
  for (int i = 0; i < 300; ++i) {
    for (int64_t s : b.next().starts) max_start = std::max(max_start, s);
  }
  stop = true;
  appender.join();
  b.close();
  EXPECT_GE(store->size(), 500);
  if (store->size() > 1000) {
    EXPECT_GT(max_start, 500);
  }
}

TEST(StoreRowSource, DoneFlagsMatchTheStoresEncoding) {
  auto store = cartpole_store({1500, 700});
  for (int i = 0; i < 40; ++i) store->append(step(0, i % 9 == 8 ? 2 : 0));
  auto source = detail::store_row_source(*store);
  EXPECT_EQ(source->size(), 2240);
  EXPECT_EQ(source->segment_starts(), (std::vector<int64_t>{0, 1500, 2200, 2240}));
  for (auto [begin, end] : std::vector<std::pair<int64_t, int64_t>>{
           {0, 1500}, {1400, 1600}, {2190, 2210}, {2200, 2240}, {0, 2240}, {5, 5}}) {
    std::vector<int64_t> rows(static_cast<size_t>(end - begin));
    std::iota(rows.begin(), rows.end(), begin);
    const Tensor expected = store->get(rows).at("done");
    std::vector<int64_t> got(rows.size());
    source->read_done(begin, end, got);
    for (size_t i = 0; i < got.size(); ++i) {
      ASSERT_EQ(got[i], expected.data_as<int64_t>()[i]) << begin + static_cast<int64_t>(i);
    }
  }
}

}  // namespace
}  // namespace mouse
