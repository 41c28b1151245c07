// DatasetStore::gather_windows / empty_rows / read_done: windows as chunk runs. Every window is
// checked against get() of the same rows (the row-by-row oracle), across record-batch
// boundaries, the source -> buffer boundary, sealed -> open buffer blocks, converted column
// types and nulls; padding is checked value by value; every error path names what was wrong.
#include <gtest/gtest.h>

#include <cstring>
#include <fmt/format.h>

#include <random>

#include "store_test_util.hpp"

namespace mouse {
namespace {

using test::iota;
using test::kNegInf;
using test::make_dataset;
using test::step_dataset;
using test::step_row;
using test::values_of;

// The bytes of row `r` of `t` (any dtype, any step shape).
std::vector<uint8_t> row_bytes(const Tensor& t, int64_t r) {
  const int64_t step = t.shape()[0] == 0 ? 0 : t.nbytes() / t.shape()[0];
  const auto* p = static_cast<const uint8_t*>(t.data()) + r * step;
  return {p, p + step};
}

// Checks `out` ([slots * S]) against get() of each window's rows, and the padding values.
void expect_windows_match_get(const DatasetStore& store, std::span<const WindowSlot> windows,
                              int64_t s, const TensorDict& out) {
  for (const WindowSlot& w : windows) {
    std::vector<int64_t> rows = iota(w.start + w.length, w.start);
    const TensorDict want = store.get(rows);
    ASSERT_EQ(want.keys(), out.keys());
    for (const auto& [name, t] : out) {
      const Tensor& ref = want.at(name);
      for (int64_t j = 0; j < w.length; ++j) {
        EXPECT_EQ(row_bytes(t, w.slot * s + j), row_bytes(ref, j))
            << name << " window at " << w.start << " step " << j;
      }
      // Padding: q_star -inf, time -1, everything else 0.
      for (int64_t j = w.length; j < s; ++j) {
        const std::vector<uint8_t> got = row_bytes(t, w.slot * s + j);
        std::vector<uint8_t> expect(got.size(), 0);
        if (name == "q_star") {
          for (size_t k = 0; k < got.size(); k += 4) std::memcpy(&expect[k], &kNegInf, 4);
        } else if (name == "time") {
          const int64_t minus_one = -1;
          std::memcpy(expect.data(), &minus_one, 8);
        }
        EXPECT_EQ(got, expect) << name << " padding of window at " << w.start << " step " << j;
      }
    }
  }
}

// A store whose rows cross every kind of chunk boundary: two source datasets in record
// batches of 7 rows, sealed buffer chunks from append_columns, and an open block of appended
// rows.
std::unique_ptr<DatasetStore> boundary_store() {
  // Actions name their rows (up to 3008); they index q-values, so max_action_dim is above them.
  auto store = std::make_unique<DatasetStore>(3009, 3);
  store->from_dataset(step_dataset(30, 0, 3, 7));
  store->from_dataset(step_dataset(12, 1000, 3, 5));
  for (int c = 0; c < 3; ++c) {
    std::vector<int64_t> action, done;
    std::vector<double> reward;
    for (int64_t i = 0; i < 6; ++i) {
      action.push_back(2000 + c * 10 + i);
      done.push_back(i % 2);
      reward.push_back(0.5 * static_cast<double>(i));
    }
    store->append_columns({{"action", arrow::make_primitive<int64_t>(action)},
                           {"reward", arrow::make_primitive<double>(reward)},
                           {"done", arrow::make_primitive<int64_t>(done)}});
  }
  for (int64_t i = 0; i < 9; ++i) {
    StepRow row = step_row(3000 + i, 0.25 * static_cast<double>(i), i % 3 == 2 ? 1 : 0);
    row["observation"] = StepValue::List{1.0 * static_cast<double>(i), 2.0, 3.0};
    store->append(row);
  }
  return store;
}

TEST(GatherWindows, MatchesGetAcrossEveryChunkBoundary) {
  auto store = boundary_store();
  const int64_t n = store->size();
  ASSERT_EQ(n, 30 + 12 + 18 + 9);
  const int64_t s = 9;
  // Every start, every length: windows inside one chunk, across one or several chunk
  // boundaries, source -> source, source -> buffer, sealed -> sealed and sealed -> open.
  std::vector<WindowSlot> windows;
  for (int64_t start = 0; start < n; ++start) {
    for (int64_t length : {int64_t{0}, int64_t{1}, int64_t{4}, s}) {
      if (start + length > n) continue;
      windows.push_back({start, length, static_cast<int64_t>(windows.size())});
    }
  }
  TensorDict out({static_cast<int64_t>(windows.size()) * s});
  store->gather_windows(windows, s, out);
  EXPECT_EQ(out.keys(), store->get(iota(1)).keys());
  expect_windows_match_get(*store, windows, s, out);
}

TEST(GatherWindows, RandomWindowsInRandomSlotsIntoAGivenOutput) {
  auto store = boundary_store();
  const int64_t n = store->size();
  const int64_t s = 16;
  std::mt19937_64 rng(7);
  for (int round = 0; round < 20; ++round) {
    const int64_t slots = 8;
    std::vector<int64_t> order = iota(slots);
    std::shuffle(order.begin(), order.end(), rng);
    std::vector<WindowSlot> windows;
    for (int64_t k = 0; k < 5; ++k) {  // 3 slots are left untouched
      const int64_t length = static_cast<int64_t>(rng() % (s + 1));
      const int64_t start = static_cast<int64_t>(rng() % static_cast<uint64_t>(n - length + 1));
      windows.push_back({start, length, order[static_cast<size_t>(k)]});
    }
    TensorDict out = store->empty_rows(slots * s);
    // Mark the untouched slots, which must keep their bytes.
    for (const auto& [name, t] : out) {
      Tensor m = t;
      std::memset(m.mutable_data(), 0x5A, static_cast<size_t>(m.nbytes()));
    }
    store->gather_windows(windows, s, out);
    expect_windows_match_get(*store, windows, s, out);
    for (int64_t k = 5; k < slots; ++k) {
      for (const auto& [name, t] : out) {
        const std::vector<uint8_t> got = row_bytes(t, order[static_cast<size_t>(k)] * s);
        EXPECT_EQ(got, std::vector<uint8_t>(got.size(), 0x5A)) << name;
      }
    }
  }
}

TEST(GatherWindows, ConvertedTypesAndNullsMatchGet) {
  // int32 action, bool done, float64 reward, float16-free list columns with nulls, a float
  // action column of whole numbers, a list<double> observation of varying length.
  const int64_t n = 40;
  std::vector<int32_t> action;
  std::vector<bool> done, valid;
  std::vector<double> reward, obs;
  std::vector<int64_t> obs_offsets{0}, time;
  for (int64_t i = 0; i < n; ++i) {
    action.push_back(static_cast<int32_t>(i * 3));
    done.push_back(i % 5 == 4);
    reward.push_back(static_cast<double>(i) * 0.125);
    valid.push_back(i % 6 != 1);
    time.push_back(i);
    for (int64_t k = 0; k < i % 5; ++k) obs.push_back(static_cast<double>(i) + 0.5 * static_cast<double>(k));
    obs_offsets.push_back(static_cast<int64_t>(obs.size()));
  }
  DatasetStore store(2, 3);
  store.from_dataset(make_dataset(
      {"action", "reward", "done", "episode_step", "observation"},
      {arrow::make_primitive<int32_t>(action), arrow::make_primitive<double>(reward),
       arrow::make_bool(done), arrow::make_primitive<int64_t>(time, valid),
       arrow::make_list(obs_offsets, arrow::make_primitive<double>(obs), valid)},
      6));
  const int64_t s = 8;
  std::vector<WindowSlot> windows;
  for (int64_t start = 0; start + s <= n; start += 3) {
    windows.push_back({start, s - start % 4, static_cast<int64_t>(windows.size())});
  }
  TensorDict out({static_cast<int64_t>(windows.size()) * s});
  store.gather_windows(windows, s, out);
  expect_windows_match_get(store, windows, s, out);
}

TEST(GatherWindows, KeysTheStoreLacksAreWrittenAsMissingValues) {
  // A store without episode_step and observation writes into an output that has them: the
  // rows get time -1 and obs 0, as get() gives rows of a segment without those columns.
  DatasetStore wide(test::unchecked(4, 3));
  wide.from_dataset(step_dataset(10, 0, 3));
  DatasetStore narrow(test::unchecked(4, 3));
  narrow.append_columns({{"action", arrow::make_primitive<int64_t>(std::vector<int64_t>{7, 8, 9})},
                         {"reward", arrow::make_primitive<float>(std::vector<float>{1, 2, 3})},
                         {"done", arrow::make_primitive<int64_t>(std::vector<int64_t>{0, 0, 1})}});
  TensorDict out = wide.empty_rows(4);
  const WindowSlot w{0, 3, 0};
  narrow.gather_windows(std::span<const WindowSlot>(&w, 1), 4, out);
  EXPECT_EQ(values_of<int64_t>(out.at("action")), (std::vector<int64_t>{7, 8, 9, 0}));
  EXPECT_EQ(values_of<int64_t>(out.at("time")), (std::vector<int64_t>{-1, -1, -1, -1}));
  EXPECT_EQ(values_of<double>(out.at("obs_continuous")), std::vector<double>(12, 0.0));
}

TEST(GatherWindows, ErrorsNameWhatWasWrong) {
  DatasetStore store(test::unchecked(4, 3));
  store.from_dataset(step_dataset(10, 0, 3, 4));
  auto one = [](int64_t start, int64_t length, int64_t slot) {
    return std::vector<WindowSlot>{{start, length, slot}};
  };
  TensorDict out({8});
  EXPECT_THROW_MSG(store.gather_windows(one(0, 4, 0), 0, out), InvalidArgument,
                   "sequence_length must be > 0, got 0");
  EXPECT_THROW_MSG(store.gather_windows(one(0, 4, 0), 3, out), InvalidArgument,
                   "the output has 8 rows, not a multiple of sequence_length 3");
  EXPECT_THROW_MSG(store.gather_windows(one(0, 5, 0), 4, out), InvalidArgument,
                   "window length 5 is outside [0, sequence_length 4]");
  EXPECT_THROW_MSG(store.gather_windows(one(0, -1, 0), 4, out), InvalidArgument,
                   "window length -1 is outside");
  EXPECT_THROW_MSG(store.gather_windows(one(0, 4, 2), 4, out), InvalidArgument,
                   "slot 2 is out of range for an output of 2 slots");
  EXPECT_THROW_MSG(store.gather_windows(one(7, 4, 0), 4, out), IndexError,
                   "rows [7, 11) are out of range for a store of 10 rows");
  EXPECT_THROW_MSG(store.gather_windows(one(-1, 2, 0), 4, out), IndexError,
                   "rows [-1, 1) are out of range");
  EXPECT_EQ(out.size(), 0u);  // nothing allocated by a failed call
  // An output from elsewhere must match the store's columns.
  TensorDict wrong = store.empty_rows(8);
  wrong.set("action", Tensor::empty({8}, DType::kFloat32));
  EXPECT_THROW_MSG(store.gather_windows(one(0, 4, 0), 4, wrong), InvalidArgument,
                   "output \"action\" is float32 of shape [8]; this store writes it as int64 [rows]");
  TensorDict narrow = store.empty_rows(8);
  narrow.set("obs_continuous", Tensor::empty({8, 2}, DType::kFloat64));
  EXPECT_THROW_MSG(store.gather_windows(one(0, 4, 0), 4, narrow), InvalidArgument,
                   "output \"obs_continuous\" is float64 of shape [8, 2]; this store writes it as "
                   "float64 [rows, 3]");
  TensorDict missing({8});
  missing.set("action", Tensor::empty({8}, DType::kInt64));
  EXPECT_THROW_MSG(store.gather_windows(one(0, 4, 0), 4, missing), InvalidArgument,
                   "the output has no \"reward\", which this store's rows have");
  EXPECT_THROW_MSG(store.empty_rows(-1), InvalidArgument, "rows must be >= 0, got -1");
}

TEST(GatherWindows, NullInARequiredColumnNamesTheRow) {
  std::vector<int64_t> action{0, 1, 2, 3, 4, 5};
  DatasetStore store(test::unchecked(2));
  store.from_dataset(make_dataset(
      {"action", "reward", "done"},
      {arrow::make_primitive<int64_t>(action, {true, true, true, true, false, true}),
       arrow::make_primitive<float>(std::vector<float>(6, 1.0f)),
       arrow::make_primitive<int64_t>(std::vector<int64_t>(6, 0))}));
  TensorDict out({4});
  const WindowSlot ok{0, 4, 0};
  EXPECT_NO_THROW(store.gather_windows(std::span<const WindowSlot>(&ok, 1), 4, out));
  const WindowSlot bad{2, 4, 0};
  EXPECT_THROW_MSG(store.gather_windows(std::span<const WindowSlot>(&bad, 1), 4, out),
                   InvalidArgument, "required column \"action\" is null at row 4");
}

TEST(GatherWindows, OverlappingImageWindowsMatchGetInBothDtypes) {
  // Frames appended as pixels (stored as PNG) in blocks sealed by append and by the block size:
  // overlapping windows decode each distinct frame once and copy it into the other slots, with
  // the same pixels as get() row by row; a null frame is zeros.
  for (const DType dtype : {DType::kUInt8, DType::kInt64}) {
    StoreConfig config;
    config.max_action_dim = 2;
    config.max_obs_image_pixels = 6 * 5 * 3 + 4;  // wider than a frame: zero padding
    config.obs_image_dtype = dtype;
    DatasetStore store(config);
    for (int64_t r = 0; r < 40; ++r) {
      StepRow row = step_row(r, 0.5, r % 9 == 8 ? 1 : 0);
      if (r % 13 != 5) {
        ImagePixels frame{6, 5, 3, {}};
        for (int64_t i = 0; i < 6 * 5 * 3; ++i) frame.pixels.push_back(static_cast<uint8_t>((i * 11 + r * 7) % 256));
        row["observation_image"] = std::move(frame);
      }
      store.append(row);
    }
    const int64_t s = 12;
    std::vector<WindowSlot> windows;
    for (int64_t start = 0; start + s <= store.size(); start += 3) {
      windows.push_back({start, s - (start % 2), static_cast<int64_t>(windows.size())});
    }
    TensorDict out({static_cast<int64_t>(windows.size()) * s});
    store.gather_windows(windows, s, out);
    ASSERT_TRUE(out.contains("obs_image"));
    EXPECT_EQ(out.at("obs_image").dtype(), dtype);
    expect_windows_match_get(store, windows, s, out);
  }
}

TEST(ReadDone, MatchesGetAcrossBoundariesAndChecksItsRange) {
  auto store = boundary_store();
  const int64_t n = store->size();
  const std::vector<int64_t> want = values_of<int64_t>(store->get(iota(n)).at("done"));
  for (int64_t begin = 0; begin <= n; begin += 5) {
    for (int64_t end = begin; end <= n; end += 11) {
      std::vector<int64_t> got(static_cast<size_t>(end - begin), -7);
      store->read_done(begin, end, got);
      EXPECT_EQ(got, std::vector<int64_t>(want.begin() + begin, want.begin() + end))
          << begin << ".." << end;
    }
  }
  std::vector<int64_t> two(2);
  EXPECT_THROW_MSG(store->read_done(n - 1, n + 1, two), IndexError,
                   fmt::format("rows [{}, {}) are out of range for a store of {} rows", n - 1,
                               n + 1, n));
  EXPECT_THROW_MSG(store->read_done(0, 3, two), InvalidArgument, "out holds 2 values for 3 rows");
}

}  // namespace
}  // namespace mouse
