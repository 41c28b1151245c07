// SPEC §4 append / append_columns: a value that fails late (an image libpng refuses, image
// dimensions whose byte count overflows, an integer that does not fit) leaves the store exactly
// as it was, and the store keeps working afterwards.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

#include "store/image_codec.hpp"
#include "store_test_util.hpp"

namespace mouse {
namespace {

using test::iota;
using test::step_row;
using test::values_of;

ImagePixels pattern(int64_t h, int64_t w, int64_t c, int seed) {
  ImagePixels img{h, w, c, {}};
  for (int64_t i = 0; i < h * w * c; ++i)
    img.pixels.push_back(static_cast<uint8_t>((i * 5 + seed) % 256));
  return img;
}

StoreConfig image_config() {
  StoreConfig config;
  config.max_action_dim = 1;
  config.max_obs_image_pixels = 2 * 2 * 3;
  config.obs_image_dtype = DType::kUInt8;
  return config;
}

// Two good rows, with a note column before and an extra column after observation_image, so
// that a failure at the image happens after other columns of the row were visited.
DatasetStore& fill(DatasetStore& store) {
  for (int i = 0; i < 2; ++i) {
    StepRow row = step_row(i, 0.5 * i, 0);
    row["note"] = std::string(i == 0 ? "a" : "bb");
    row["observation_image"] = pattern(2, 2, 3, i);
    row["zz_extra"] = StepValue::List{i, i + 1};
    store.append(row);
  }
  return store;
}

// The store still holds rows 0 and 1 as fill() wrote them, takes a third row, and exports all
// three.
void expect_intact_then_usable(DatasetStore& store) {
  ASSERT_EQ(store.size(), 2);
  auto idx = iota(2);
  TensorDict td = store.get(idx);
  EXPECT_EQ(values_of<int64_t>(td.at("action")), (std::vector<int64_t>{0, 1}));
  std::vector<uint8_t> pixels = pattern(2, 2, 3, 0).pixels;
  const std::vector<uint8_t> second = pattern(2, 2, 3, 1).pixels;
  pixels.insert(pixels.end(), second.begin(), second.end());
  EXPECT_EQ(values_of<uint8_t>(td.at("obs_image")), pixels);

  StepRow good = step_row(2, 1.0, 1);
  good["observation_image"] = pattern(2, 2, 3, 2);
  store.append(good);
  ASSERT_EQ(store.size(), 3);
  std::vector<int64_t> last{-1};
  TensorDict row = store.get(last);
  EXPECT_EQ(values_of<int64_t>(row.at("action")), (std::vector<int64_t>{2}));
  EXPECT_EQ(values_of<uint8_t>(row.at("obs_image")), pattern(2, 2, 3, 2).pixels);
  auto all = iota(3);
  EXPECT_EQ(values_of<int64_t>(store.get(all).at("action")), (std::vector<int64_t>{0, 1, 2}));

  Dataset ds = store.to_dataset();
  EXPECT_EQ(ds.num_rows(), 3);
  EXPECT_EQ(ds.column_names(),
            (std::vector<std::string>{"action", "done", "note", "observation_image", "reward",
                                      "zz_extra"}));
}

TEST(AppendAtomic, ImageThatFailsToEncodeLeavesTheStoreUnchanged) {
  DatasetStore store(image_config());
  fill(store);
  StepRow bad = step_row(7, 7.0, 0);
  bad["note"] = std::string("ccc");
  bad["zz_extra"] = StepValue::List{7, 8};
  // Within our own limits, but wider than libpng writes (its user width limit is 1,000,000).
  bad["observation_image"] = ImagePixels{1, 1'000'001, 1, std::vector<uint8_t>(1'000'001)};
  EXPECT_THROW_MSG(store.append(bad), TypeError, "column \"observation_image\"");
  EXPECT_THROW_MSG(store.append(bad), TypeError, "libpng failed");
  expect_intact_then_usable(store);
}

TEST(AppendAtomic, ImageInAListThatFailsToEncodeLeavesTheStoreUnchanged) {
  DatasetStore store(image_config());
  fill(store);
  StepRow bad = step_row(7, 7.0, 0);
  bad["frames"] = StepValue::List{pattern(1, 1, 1, 0),
                                  ImagePixels{1, 1'000'001, 1, std::vector<uint8_t>(1'000'001)}};
  EXPECT_THROW_MSG(store.append(bad), TypeError, "column \"frames\"");
  expect_intact_then_usable(store);
}

TEST(AppendAtomic, ImagesInAListKeepTheirOrder) {
  DatasetStore store(image_config());
  const ImagePixels a = pattern(2, 1, 1, 10);
  const ImagePixels b = pattern(1, 3, 4, 20);
  StepRow row = step_row(0, 0.0, 0);
  row["frames"] = StepValue::List{a, nullptr, b};
  row["observation_image"] = pattern(2, 2, 3, 0);
  store.append(row);
  Dataset ds = store.to_dataset();
  const auto& schema = *ds.schema();
  const arrow::ArrayData& list =
      *ds.batches().back().columns[static_cast<size_t>(schema.field_index("frames"))];
  ASSERT_EQ(list.length, 1);
  ASSERT_EQ(arrow::value_range(list, 0), (std::pair<int64_t, int64_t>{0, 3}));
  const arrow::ArrayData& bytes = *list.children[0]->children[0];
  EXPECT_EQ(detail::decode_image(arrow::binary_value(bytes, 0), "frames[0]").pixels, a.pixels);
  EXPECT_FALSE(list.children[0]->is_valid(1));
  EXPECT_EQ(detail::decode_image(arrow::binary_value(bytes, 2), "frames[2]").pixels, b.pixels);
}

TEST(AppendAtomic, OverflowingImageDimensionsAreRefused) {
  DatasetStore store(image_config());
  fill(store);
  StepRow bad = step_row(7, 7.0, 0);
  bad["note"] = std::string("ccc");
  // 2^33 * 2^31 * 1 wraps to 0 in int64, which matched the empty pixel vector.
  bad["observation_image"] = ImagePixels{int64_t{1} << 33, int64_t{1} << 31, 1, {}};
  EXPECT_THROW_MSG(store.append(bad), TypeError, "column \"observation_image\"");
  EXPECT_THROW_MSG(store.append(bad), TypeError, "8589934592x2147483648x1");
  // Both sides in range, the pixel count not.
  const int64_t side = std::numeric_limits<int32_t>::max();
  bad["observation_image"] = ImagePixels{side, side, 4, {}};
  EXPECT_THROW_MSG(store.append(bad), TypeError, "expected at most 1073741824");
  bad["observation_image"] = ImagePixels{int64_t{1} << 32, int64_t{1} << 32, 4, {}};
  EXPECT_THROW_MSG(store.append(bad), TypeError, "expected height and width in 1..2147483647");
  bad["observation_image"] = ImagePixels{-2, -3, 1, std::vector<uint8_t>(6)};
  EXPECT_THROW_MSG(store.append(bad), TypeError, "-2x-3x1");
  expect_intact_then_usable(store);
}

TEST(AppendAtomic, ImageShapeCheckNamesDimensionsAndSize) {
  EXPECT_EQ(detail::check_image_shape(2, 3, 4, 24), "");
  EXPECT_NE(detail::check_image_shape(2, 3, 4, 23).find("2x3x4 need 24 bytes, got 23"),
            std::string::npos);
  EXPECT_NE(detail::check_image_shape(2, 3, 0, 0).find("1..4 channels"), std::string::npos);
  EXPECT_NE(detail::check_image_shape(2, 3, 5, 30).find("1..4 channels"), std::string::npos);
  EXPECT_NE(detail::check_image_shape(0, 3, 1, 0).find("0x3x1"), std::string::npos);
  EXPECT_NE(detail::check_image_shape(std::numeric_limits<int64_t>::max(), 2, 1, 0)
                .find("expected height"),
            std::string::npos);
  EXPECT_NE(detail::check_image_shape(int64_t{1} << 16, (int64_t{1} << 14) + 1, 1, 0)
                .find("expected at most"),
            std::string::npos);
  const uint8_t px[1] = {0};
  EXPECT_THROW_MSG(detail::encode_png(px, 1, int64_t{1} << 33, int64_t{1} << 31, 1),
                   InvalidArgument, "encode_png: image pixels 8589934592x2147483648x1");
  EXPECT_THROW_MSG(detail::encode_png(px, 1, 1, 2, 1), InvalidArgument, "need 2 bytes, got 1");
}

TEST(AppendAtomic, UInt64AboveInt64MaxIsRefusedByAppendColumns) {
  DatasetStore store(1);
  store.append(step_row(5, 0.5, 0));
  const auto reward = arrow::make_primitive<double>(std::vector<double>{1.0});
  const auto done = arrow::make_primitive<int64_t>(std::vector<int64_t>{0});
  for (const uint64_t v : {uint64_t{1} << 63, (uint64_t{1} << 63) + 1000, ~uint64_t{0}}) {
    const auto action = arrow::make_primitive<uint64_t>(std::vector<uint64_t>{v});
    EXPECT_THROW_MSG(store.append_columns({{"action", action}, {"reward", reward}, {"done", done}}),
                     InvalidArgument, "does not fit int64");
  }
  EXPECT_EQ(store.size(), 1);
  // The largest uint64 that fits still converts.
  const auto fits = arrow::make_primitive<uint64_t>(
      std::vector<uint64_t>{static_cast<uint64_t>(std::numeric_limits<int64_t>::max())});
  store.append_columns({{"action", fits}, {"reward", reward}, {"done", done}});
  auto idx = iota(2);
  EXPECT_EQ(values_of<int64_t>(store.get(idx).at("action")),
            (std::vector<int64_t>{5, std::numeric_limits<int64_t>::max()}));
}

}  // namespace
}  // namespace mouse

namespace mouse {
namespace {

// append_rows checks every row before it adds any: a bad row part-way leaves the store as it
// was, and the rows before it widen the column types the later rows are checked against.
TEST(AppendRows, ABadRowPartWayLeavesTheStoreUnchanged) {
  DatasetStore store(4);
  store.append(test::step_row(1, 0.5, 0));
  std::vector<StepRow> rows;
  for (int i = 0; i < 5; ++i) rows.push_back(test::step_row(i % 4, 1.0, 0));
  rows[3]["done"] = int64_t{7};  // out of contract
  try {
    store.append_rows(rows);
    FAIL() << "done = 7 was appended";
  } catch (const InvalidArgument& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("\"done\""), std::string::npos) << what;
    EXPECT_NE(what.find("row 4"), std::string::npos) << what;  // global row: 1 before it + 3
  }
  EXPECT_EQ(store.size(), 1);
  rows[3]["done"] = int64_t{1};
  store.append_rows(rows);
  EXPECT_EQ(store.size(), 6);
  EXPECT_EQ(values_of<int64_t>(store.get(iota(6)).at("action")),
            (std::vector<int64_t>{1, 0, 1, 2, 3, 0}));
}

TEST(AppendRows, TypesWidenAcrossTheRowsOfOneCall) {
  DatasetStore store(4);
  std::vector<StepRow> rows = {test::step_row(1, 0.5, 0), test::step_row(2, 0.5, 0),
                               test::step_row(3, 0.5, 1)};
  rows[0]["done"] = false;  // bool first ...
  rows[1]["flag"] = true;
  rows[2]["flag"] = 0.25;   // ... a float widens the bool column
  store.append_rows(rows);
  const Dataset ds = store.to_dataset();
  EXPECT_EQ(ds.features().type_of("done"), "Value(int64)");
  EXPECT_EQ(ds.features().type_of("flag"), "Value(float64)");
  EXPECT_EQ(values_of<int64_t>(store.get(iota(3)).at("done")), (std::vector<int64_t>{0, 0, 1}));
}

}  // namespace
}  // namespace mouse
