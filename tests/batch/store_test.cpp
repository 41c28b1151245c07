// The batchifier over a real DatasetStore: batches equal the store's own encoding of the window
// rows, boundaries follow loaded datasets and the done column, appends are picked up, and the
// episode index reads done flags without decoding images.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <numeric>
#include <thread>
#include <vector>

#include "batch/row_source.hpp"
#include "batch/window_index.hpp"
#include "mouse/batch.hpp"
#include "mouse/dataset.hpp"
#include "mouse/dataset_store.hpp"
#include "mouse/error.hpp"
#include "synthetic.hpp"

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

// A Hub-like store (observations, q-values, episode steps) mixed with an online store that
// appends only action / reward / done: every batch has the columns of both, and a window of the
// online store reads as the same rows appended to the Hub store would (obs 0, q_star -inf).
TEST(StoreBatches, StoresWithDifferentColumnsMixAsOneStoreWithBothSegments) {
  auto hub = cartpole_store({3000});
  auto combined = cartpole_store({3000});
  StoreConfig config = hub->config();
  DatasetStore online(config);
  for (int i = 0; i < 500; ++i) {
    StepRow row;
    row["action"] = int64_t{i % 2};
    row["reward"] = 0.5 * i;
    row["done"] = int64_t{i % 37 == 36 ? 1 : 0};
    online.append(row);
    combined->append(row);
  }
  for (const char* mode : {"random", "sequential"}) {
    for (int64_t workers : {0, 2}) {
      BatchifierOptions o;
      o.sampling = mode;
      o.num_workers = workers;
      o.seed = 11;
      PrefetchBatchifier b(std::vector<const DatasetStore*>{hub.get(), &online}, 8, 16, o);
      bool saw[2] = {false, false};
      for (int i = 0; i < 30; ++i) {  // 28 batches make a sequential epoch
        SampledBatch batch = b.next();
        std::vector<int64_t> rows;
        for (size_t w = 0; w < batch.starts.size(); ++w) {
          saw[batch.stores[w]] = true;
          const int64_t base = batch.stores[w] == 1 ? hub->size() : 0;
          for (int64_t j = 0; j < 8; ++j) rows.push_back(base + batch.starts[w] + j);
        }
        const TensorDict want =
            combined->get(rows).reshape({static_cast<int64_t>(batch.starts.size()), 8});
        ASSERT_EQ(batch.data.keys().size(), 6u) << mode;  // obs_continuous and q_star included
        ASSERT_TRUE(batch.data.equals(want)) << mode << " workers " << workers << " batch " << i;
      }
      EXPECT_TRUE(saw[0] && saw[1]) << mode;
    }
  }
}

TEST(StoreBatches, StoresEncodingASharedColumnDifferentlyAreRefusedByName) {
  auto hub = cartpole_store({1000});
  StoreConfig narrow = hub->config();
  narrow.max_obs_continuous_dim = 3;
  DatasetStore other(narrow);
  other.from_dataset(cartpole(1000, 5));
  try {
    PrefetchBatchifier b(std::vector<const DatasetStore*>{hub.get(), &other}, 8, 4);
    FAIL() << "stores with obs_continuous [4] and [3] were mixed";
  } catch (const InvalidArgument& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("column \"obs_continuous\""), std::string::npos) << what;
    EXPECT_NE(what.find("store 1"), std::string::npos) << what;
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
  std::vector<int64_t> out(11);
  EXPECT_THROW(source->read_done(2230, 2241, out), IndexError);
}

// Image steps: 6x5 RGB frames (stored PNG-encoded), episodes ending now and then (done 1 or 2).
constexpr int64_t kFramePixels = 6 * 5 * 3;

StoreConfig image_config() {
  StoreConfig config;
  config.max_action_dim = 3;
  config.max_obs_image_pixels = kFramePixels;
  config.obs_image_dtype = DType::kUInt8;
  return config;
}

StepRow image_step(int64_t k) {
  StepRow row = step(k % 3, k % 11 == 10 ? 1 : (k % 17 == 16 ? 2 : 0));
  ImagePixels frame{6, 5, 3, std::vector<uint8_t>(kFramePixels)};
  for (int64_t i = 0; i < kFramePixels; ++i) {
    frame.pixels[static_cast<size_t>(i)] = static_cast<uint8_t>(i * 7 + k);
  }
  row["observation_image"] = std::move(frame);
  return row;
}

// A store whose source is image steps [0, n) loaded from a dataset (an Image column, as
// `datasets` stores it).
std::unique_ptr<DatasetStore> image_source_store(int64_t n) {
  DatasetStore writer(image_config());
  for (int64_t k = 0; k < n; ++k) writer.append(image_step(k));
  auto store = std::make_unique<DatasetStore>(image_config());
  store->from_dataset(writer.to_dataset());
  return store;
}

std::vector<detail::Window> all_windows(const detail::WindowIndex& index) {
  std::vector<detail::Window> out;
  for (int64_t w = 0; w < index.num_windows(); ++w) out.push_back(index.window_at(w));
  return out;
}

std::vector<detail::Window> all_starts(const detail::WindowIndex& index) {
  std::vector<detail::Window> out;
  for (int64_t i = 0; i < index.num_starts(); ++i) out.push_back(index.start_at(i));
  return out;
}

TEST(StoreBatches, EpisodeWindowsOfImageStepsAppendedBetweenBatchesMatchAllStepsUpFront) {
  constexpr int64_t kSource = 300, kSteps = 800;
  auto full = image_source_store(kSource);
  for (int64_t k = kSource; k < kSteps; ++k) full->append(image_step(k));
  for (const char* mode : {"random", "sequential"}) {
    auto grown = image_source_store(kSource);
    BatchifierOptions o;
    o.sampling = mode;
    o.boundaries = "episode";
    o.num_workers = 0;  // each batch is planned, and the index extended, when it is taken
    o.seed = 5;
    PrefetchBatchifier b(*grown, 8, 4, o);
    detail::WindowIndex index(detail::Boundaries::kEpisode, 8);
    auto rows = detail::store_row_source(*grown);
    for (int64_t k = kSource; k < kSteps; ++k) {
      grown->append(image_step(k));
      if (k % 7 == 0) b.next();
      if (k % 5 == 0) index.update(*rows);
    }
    index.update(*rows);
    detail::WindowIndex fresh(detail::Boundaries::kEpisode, 8);
    fresh.update(*detail::store_row_source(*full));
    ASSERT_EQ(all_starts(index), all_starts(fresh)) << mode;
    ASSERT_EQ(all_windows(index), all_windows(fresh)) << mode;
    // A batchifier over the store built up front, at the same position, delivers the same
    // windows, masks and rows.
    PrefetchBatchifier ref(*full, 8, 4, o);
    ref.restore(b.state());
    EXPECT_EQ(b.total_batches(), ref.total_batches()) << mode;
    for (int i = 0; i < 30; ++i) {
      SampledBatch x = b.next();
      SampledBatch y = ref.next();
      ASSERT_EQ(x.starts, y.starts) << mode << " " << i;
      ASSERT_TRUE(x.data.at("mask").equals(y.data.at("mask"))) << mode << " " << i;
      ASSERT_TRUE(x.data.equals(y.data)) << mode << " " << i;
    }
  }
}

// Bytes that pass the PNG signature check of append() but do not decode.
EncodedImage broken_png() {
  return {std::string("\x89PNG\r\n\x1a\n", 8) + "not an image"};
}

TEST(StoreRowSource, DoneFlagsAreReadWithoutDecodingImages) {
  // The source's done is a bool column, the buffer's an int64 one; every image is undecodable,
  // so any decode on the way would throw.
  DatasetStore writer(image_config());
  for (int64_t k = 0; k < 50; ++k) {
    StepRow row = step(0, 0);
    row["done"] = k % 10 == 9;
    row["observation_image"] = broken_png();
    writer.append(row);
  }
  DatasetStore store(image_config());
  store.from_dataset(writer.to_dataset());
  auto append_broken = [&](int64_t k) {
    StepRow row = step(1, k % 10 == 9 ? 2 : 0);
    row["observation_image"] = broken_png();
    store.append(row);
  };
  for (int64_t k = 0; k < 30; ++k) append_broken(k);
  const std::vector<int64_t> first{0};
  const std::vector<int64_t> last{79};
  ASSERT_THROW(store.get(first), FormatError);
  ASSERT_THROW(store.get(last), FormatError);

  auto source = detail::store_row_source(store);
  std::vector<int64_t> done(80);
  source->read_done(0, 80, done);
  for (int64_t r = 0; r < 80; ++r) {
    const int64_t want = r < 50 ? (r % 10 == 9 ? 1 : 0) : ((r - 50) % 10 == 9 ? 2 : 0);
    ASSERT_EQ(done[static_cast<size_t>(r)], want) << r;
  }
  // Building and extending the episode index never touches the images either.
  detail::WindowIndex index(detail::Boundaries::kEpisode, 4);
  index.update(*source);
  EXPECT_EQ(index.units(), 5u + 3u);  // the source and the buffer both end with a done row
  for (int64_t k = 30; k < 45; ++k) {
    append_broken(k);
    index.update(*source);
  }
  EXPECT_EQ(index.rows(), 95);
  EXPECT_EQ(index.units(), 5u + 4u + 1u);
}

}  // namespace
}  // namespace mouse
