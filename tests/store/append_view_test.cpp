// Readers see the open block of the buffer through views of its builders, not copies: what a
// reader took must not change while later rows are appended into the same builders (which grow
// into new allocations and close into chunks).
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "store_test_util.hpp"

namespace mouse {
namespace {

using test::iota;
using test::step_row;
using test::values_of;

// Row `i` of the test: every kind of value the row builders handle, nulls included.
StepRow varied_row(int64_t i) {
  StepRow row = step_row(i, static_cast<double>(i) / 4, i % 3);
  if (i % 3 != 1) {
    row["note"] = std::string(static_cast<size_t>(i % 11), static_cast<char>('a' + i % 26));
  }
  if (i % 4 != 2) row["flag"] = i % 2 == 0;
  if (i % 5 != 3) {
    StepValue::List obs;
    for (int64_t k = 0; k < i % 4; ++k) obs.emplace_back(static_cast<double>(i * 10 + k));
    row["observation"] = obs;
  }
  ImagePixels img{2, 3, 1, std::vector<uint8_t>(6)};
  for (size_t k = 0; k < img.pixels.size(); ++k) img.pixels[k] = static_cast<uint8_t>(i + k);
  row["observation_image"] = img;
  return row;
}

// The note / flag values of a dataset's rows, read from its Arrow columns.
struct Extras {
  std::vector<std::optional<std::string>> notes;
  std::vector<std::optional<bool>> flags;
};

Extras extras_of(const Dataset& ds) {
  Extras out;
  const int note = ds.schema()->field_index("note");
  const int flag = ds.schema()->field_index("flag");
  for (const auto& batch : ds.batches()) {
    const arrow::ArrayData& n = *batch.columns[static_cast<size_t>(note)];
    const arrow::ArrayData& f = *batch.columns[static_cast<size_t>(flag)];
    for (int64_t r = 0; r < batch.num_rows; ++r) {
      out.notes.push_back(n.is_valid(r) ? std::optional<std::string>(arrow::binary_value(n, r))
                                        : std::nullopt);
      out.flags.push_back(f.is_valid(r) ? std::optional<bool>(arrow::bool_value(f, r))
                                        : std::nullopt);
    }
  }
  return out;
}

TEST(AppendViews, EarlierReadsKeepTheirRowsWhileLaterRowsAreAppended) {
  StoreConfig config;
  config.max_action_dim = 1;
  config.max_obs_continuous_dim = 3;
  config.max_obs_image_pixels = 6;
  config.obs_image_dtype = DType::kUInt8;
  DatasetStore reference(config);  // only the first 37 rows, never appended to again
  DatasetStore store(config);
  for (int64_t i = 0; i < 37; ++i) {
    reference.append(varied_row(i));
    store.append(varied_row(i));
  }
  const Dataset early = store.to_dataset();
  const std::vector<int64_t> first = iota(37);
  const TensorDict early_batch = store.get(first);
  // Enough rows to grow every builder several times and close two blocks.
  for (int64_t i = 37; i < 2100; ++i) store.append(varied_row(i));

  const Extras want = extras_of(reference.to_dataset());
  const Extras got = extras_of(early);
  EXPECT_EQ(early.num_rows(), 37);
  EXPECT_EQ(got.notes, want.notes);
  EXPECT_EQ(got.flags, want.flags);
  DatasetStore reread(config);
  reread.from_dataset(early);
  const TensorDict expected = reference.get(first);
  const TensorDict reread_batch = reread.get(first);
  for (const char* key : {"action", "reward", "done", "obs_continuous", "obs_image"}) {
    const auto want_values = values_of<double>(expected.at(key));
    EXPECT_EQ(values_of<double>(early_batch.at(key)), want_values) << key;
    EXPECT_EQ(values_of<double>(reread_batch.at(key)), want_values) << key;
  }
  // And the store as a whole holds every row as appended.
  const Extras all = extras_of(store.to_dataset());
  ASSERT_EQ(all.notes.size(), 2100u);
  for (int64_t i = 0; i < 2100; i += 97) {
    const StepRow row = varied_row(i);
    const auto note = row.find("note");
    const std::optional<std::string> want_note =
        note == row.end() ? std::nullopt
                          : std::optional<std::string>(std::get<std::string>(note->second.value));
    EXPECT_EQ(all.notes[static_cast<size_t>(i)], want_note) << i;
  }
  EXPECT_EQ(values_of<int64_t>(store.get(iota(2100)).at("action")), iota(2100));
}

}  // namespace
}  // namespace mouse
