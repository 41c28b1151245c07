// SPEC §4: append on one thread while others index; every reader sees a consistent prefix.
// Run under ThreadSanitizer (tsan preset) to check for data races.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <random>
#include <thread>

#include "store_test_util.hpp"

namespace mouse {
namespace {

using test::step_dataset;
using test::values_of;

TEST(StoreConcurrency, OneAppenderManyReadersSeeAConsistentPrefix) {
  constexpr int64_t kSource = 50;
  constexpr int64_t kAppends = 3000;
  constexpr int kReaders = 4;
  DatasetStore store(test::unchecked(3, 2));
  store.from_dataset(step_dataset(kSource, 0, 2, 16));  // action = row, reward = row / 2
  std::atomic<bool> done{false};
  std::atomic<int64_t> reads{0};
  std::atomic<int> failures{0};

  std::thread writer([&] {
    for (int64_t i = kSource; i < kSource + kAppends; ++i) {
      StepRow row{{"action", i}, {"reward", static_cast<double>(i) / 2}, {"done", i % 3}};
      row["observation"] = StepValue::List{static_cast<double>(i), 0.25 + static_cast<double>(i)};
      store.append(row);
    }
    done.store(true);
  });

  std::vector<std::thread> readers;
  for (int t = 0; t < kReaders; ++t) {
    readers.emplace_back([&, t] {
      try {
        std::mt19937_64 rng(static_cast<uint64_t>(t));
        int64_t last_size = 0;
        while (!done.load() || reads.load() < 50) {
          const int64_t n = store.size();
          if (n < last_size) failures.fetch_add(1);  // sizes never shrink without clear()
          last_size = n;
          std::uniform_int_distribution<int64_t> pick(0, n - 1);
          std::vector<int64_t> idx;
          for (int k = 0; k < 32; ++k) idx.push_back(pick(rng));
          idx.push_back(-1);
          TensorDict td = store.get(idx);
          auto action = values_of<int64_t>(td.at("action"));
          auto reward = values_of<float>(td.at("reward"));
          auto obs = values_of<double>(td.at("obs_continuous"));
          for (size_t k = 0; k + 1 < idx.size(); ++k) {
            if (action[k] != idx[k] || reward[k] != static_cast<float>(idx[k]) / 2 ||
                (idx[k] >= kSource && obs[k * 2] != static_cast<double>(idx[k]))) {
              failures.fetch_add(1);
            }
          }
          // -1 is the newest row of this reader's snapshot: at least the size seen before.
          if (action.back() < n - 1) failures.fetch_add(1);
          if (t == 0 && reads.load() % 16 == 0) {
            const auto starts = store.segment_starts();
            if (starts.front() != 0 || starts[starts.size() - 2] != kSource || starts.back() < n) {
              failures.fetch_add(1);
            }
            if (store.to_dataset().num_rows() < n) failures.fetch_add(1);
          }
          reads.fetch_add(1);
        }
      } catch (const std::exception& e) {
        ADD_FAILURE() << "reader " << t << ": " << e.what();
        failures.fetch_add(1);
        done.store(true);
      }
    });
  }
  writer.join();
  for (auto& r : readers) r.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(store.size(), kSource + kAppends);
  auto all = test::iota(store.size());
  EXPECT_EQ(values_of<int64_t>(store.get(all).at("action")), all);
}

TEST(StoreConcurrency, BulkAppendsWhileReading) {
  DatasetStore store(2);
  std::atomic<bool> done{false};
  std::atomic<int> failures{0};
  std::thread writer([&] {
    for (int64_t c = 0; c < 200; ++c) {
      std::vector<int64_t> a(10), d(10, 0);
      std::vector<float> r(10, 1.0f);
      for (int64_t i = 0; i < 10; ++i) a[static_cast<size_t>(i)] = c * 10 + i;
      store.append_columns({{"action", arrow::make_primitive<int64_t>(a)},
                            {"reward", arrow::make_primitive<float>(r)},
                            {"done", arrow::make_primitive<int64_t>(d)}});
    }
    done.store(true);
  });
  std::thread reader([&] {
    while (!done.load()) {
      const int64_t n = store.size();
      if (n == 0) continue;
      std::vector<int64_t> idx{0, n - 1, -1};
      auto action = values_of<int64_t>(store.get(idx).at("action"));
      if (action[0] != 0 || action[1] != n - 1 || action[2] < n - 1) failures.fetch_add(1);
    }
  });
  writer.join();
  reader.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(store.size(), 2000);
}

// The pixels of appended image row `i`: a gradient plus a per-row pattern (so rows differ and a
// row mixed from two appends would show), and the sizes vary so PNGs differ in length.
ImagePixels image_of_row(int64_t i) {
  const int64_t side = 8 + i % 9;
  ImagePixels img{side, side, 3, std::vector<uint8_t>(static_cast<size_t>(side * side * 3))};
  for (int64_t k = 0; k < side * side * 3; ++k) {
    img.pixels[static_cast<size_t>(k)] =
        static_cast<uint8_t>((k * 5 + i * 13 + (k * i) % 7) & 0xff);
  }
  return img;
}

TEST(StoreConcurrency, ReadersSeeCompleteImageRowsWhileAppending) {
  // Image rows are encoded outside the store's lock and the open block is viewed, not copied:
  // readers must still see every row whole, with the values appended. 2500 rows close two
  // blocks of 1000 rows, so readers cross closed chunks and the open block's views.
  constexpr int64_t kAppends = 2500;
  constexpr int64_t kSide = 16;
  constexpr int kReaders = 2;
  StoreConfig config;
  config.max_action_dim = 1;
  config.max_obs_continuous_dim = 2;
  config.max_obs_image_pixels = kSide * kSide * 3;
  config.obs_image_dtype = DType::kUInt8;
  DatasetStore store(config);
  std::atomic<bool> done{false};
  std::atomic<int64_t> reads{0};
  std::atomic<int> failures{0};

  std::thread writer([&] {
    for (int64_t i = 0; i < kAppends; ++i) {
      StepRow row{{"action", i}, {"reward", static_cast<double>(i) / 2}, {"done", i % 5 == 4}};
      row["observation_image"] = image_of_row(i);
      // Every 7th row has no observation (null): its validity must be seen as written. (Row 0
      // has one, so that obs_continuous is in every batch.)
      if (i % 7 != 3) row["observation"] = StepValue::List{static_cast<double>(i), -1.0};
      store.append(row);
    }
    done.store(true);
  });

  auto check_row = [&](int64_t i, int64_t k, const std::vector<int64_t>& action,
                       const std::vector<float>& reward, const std::vector<double>& obs,
                       const std::vector<uint8_t>& image) {
    bool ok = action[static_cast<size_t>(k)] == i &&
              reward[static_cast<size_t>(k)] == static_cast<float>(i) / 2 &&
              obs[static_cast<size_t>(k * 2)] == (i % 7 != 3 ? static_cast<double>(i) : 0.0) &&
              obs[static_cast<size_t>(k * 2 + 1)] == (i % 7 != 3 ? -1.0 : 0.0);
    // A row's pixels come flattened, then zeros up to kSide * kSide * 3.
    const ImagePixels want = image_of_row(i);
    const auto got = image.begin() + k * kSide * kSide * 3;
    ok = ok && std::equal(want.pixels.begin(), want.pixels.end(), got) &&
         std::all_of(got + static_cast<int64_t>(want.pixels.size()), got + kSide * kSide * 3,
                     [](uint8_t p) { return p == 0; });
    if (!ok) {
      ADD_FAILURE() << "row " << i << " is not the row appended";
      failures.fetch_add(1);
    }
  };

  std::vector<std::thread> readers;
  for (int t = 0; t < kReaders; ++t) {
    readers.emplace_back([&, t] {
      try {
        std::mt19937_64 rng(static_cast<uint64_t>(t) + 7);
        while (!done.load() || reads.load() < 20) {
          const int64_t n = store.size();
          if (n == 0) continue;
          std::uniform_int_distribution<int64_t> pick(0, n - 1);
          std::vector<int64_t> idx;
          for (int k = 0; k < 8; ++k) idx.push_back(pick(rng));
          idx.push_back(n - 1);
          idx.push_back(-1);
          TensorDict td = store.get(idx);
          const auto action = values_of<int64_t>(td.at("action"));
          const auto reward = values_of<float>(td.at("reward"));
          const auto obs = values_of<double>(td.at("obs_continuous"));
          const auto image = values_of<uint8_t>(td.at("obs_image"));
          for (size_t k = 0; k + 1 < idx.size(); ++k) {
            check_row(idx[k], static_cast<int64_t>(k), action, reward, obs, image);
          }
          // -1 is the newest row of the reader's snapshot, whole like the others.
          const int64_t last = action.back();
          if (last < n - 1) failures.fetch_add(1);
          check_row(last, static_cast<int64_t>(idx.size()) - 1, action, reward, obs, image);
          reads.fetch_add(1);
        }
      } catch (const std::exception& e) {
        ADD_FAILURE() << "reader " << t << ": " << e.what();
        failures.fetch_add(1);
        done.store(true);
      }
    });
  }
  writer.join();
  for (auto& r : readers) r.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(reads.load(), 0);
  ASSERT_EQ(store.size(), kAppends);
  auto all = test::iota(kAppends);
  EXPECT_EQ(values_of<int64_t>(store.get(all).at("action")), all);
  EXPECT_EQ(store.to_dataset().num_rows(), kAppends);
}

TEST(StoreConcurrency, AppendersRacingOverAColumnTypeAgreeOnOne) {
  // Rows are checked against the column types without the lock; when another append changes
  // them in between, the check runs again. Two appenders bring "x" as int and as string: the
  // first row to land fixes the type, every row of the other kind fails and changes nothing.
  constexpr int64_t kRows = 200;
  DatasetStore store(1);
  std::atomic<int> ready{0};
  std::array<int64_t, 2> appended{0, 0};
  std::array<int64_t, 2> refused{0, 0};
  auto appender = [&](int side) {
    ready.fetch_add(1);
    while (ready.load() < 2) {
    }
    for (int64_t i = 0; i < kRows; ++i) {
      StepRow row{{"action", i}, {"reward", 0.0}, {"done", int64_t{0}}};
      row["x"] = side == 0 ? StepValue(i) : StepValue(std::to_string(i));
      try {
        store.append(row);
        ++appended[static_cast<size_t>(side)];
      } catch (const TypeError& e) {
        EXPECT_NE(std::string(e.what()).find("column \"x\""), std::string::npos) << e.what();
        ++refused[static_cast<size_t>(side)];
      }
    }
  };
  std::thread a(appender, 0);
  std::thread b(appender, 1);
  a.join();
  b.join();
  EXPECT_EQ(appended[0] + refused[0], kRows);
  EXPECT_EQ(appended[1] + refused[1], kRows);
  // One kind won every row; the other none (its first row came after the winner's first).
  EXPECT_TRUE((appended[0] == kRows && appended[1] == 0) ||
              (appended[1] == kRows && appended[0] == 0))
      << appended[0] << " ints, " << appended[1] << " strings";
  EXPECT_EQ(store.size(), kRows);
  const Dataset ds = store.to_dataset();
  EXPECT_EQ(ds.num_rows(), kRows);
  EXPECT_EQ(ds.schema()->fields[static_cast<size_t>(ds.schema()->field_index("x"))].type->id,
            appended[0] == kRows ? arrow::TypeId::kInt64 : arrow::TypeId::kUtf8);
}

}  // namespace
}  // namespace mouse
