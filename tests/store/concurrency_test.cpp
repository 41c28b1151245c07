// SPEC §4: append on one thread while others index; every reader sees a consistent prefix.
// Run under ThreadSanitizer (tsan preset) to check for data races.
#include <gtest/gtest.h>

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
  DatasetStore store(3, 2);
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

}  // namespace
}  // namespace mouse
