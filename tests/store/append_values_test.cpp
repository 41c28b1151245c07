// SPEC §4: the values real loops append. The widening rule (bool -> int -> float, never a silent
// narrowing) in append, append_columns, to_dataset and merge_stores_to_dataset; the value
// contract checked where values enter (done 0/1/2, action >= 0 and < max_action_dim with
// q-values, finite reward, whole numbers in integer columns), naming column and row and leaving
// the store unchanged; and the once-per-store warning for images wider than max_obs_image_pixels.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "store/encoder.hpp"
#include "store/image_codec.hpp"
#include "store_test_util.hpp"

namespace mouse {
namespace {

using test::iota;
using test::make_dataset;
using test::step_row;
using test::values_of;

using Columns = std::vector<std::pair<std::string, arrow::ArrayPtr>>;

TensorDict all_rows(const DatasetStore& store) {
  auto idx = iota(store.size());
  return store.get(idx);
}

std::string type_of(const Dataset& ds, const std::string& column) {
  const int i = ds.schema()->field_index(column);
  return i < 0 ? std::string("(absent)") : ds.schema()->fields[static_cast<size_t>(i)].type->to_string();
}

// Saves `ds`, loads it back, and encodes every row with `config`.
TensorDict reloaded(const Dataset& ds, const StoreConfig& config, const test::TempDir& dir,
                    const std::string& name = "saved") {
  ds.save_to_disk(dir / name);
  DatasetStore again(config);
  again.from_dataset(Dataset::load_from_disk(dir / name));
  return all_rows(again);
}

arrow::ArrayPtr ints(std::vector<int64_t> v) { return arrow::make_primitive<int64_t>(v); }
arrow::ArrayPtr floats(std::vector<float> v) { return arrow::make_primitive<float>(v); }
arrow::ArrayPtr doubles(std::vector<double> v) { return arrow::make_primitive<double>(v); }
arrow::ArrayPtr bools(std::vector<bool> v) { return arrow::make_bool(v); }

// A 3-row source whose done column is `done` (int64 / bool / float64 holding 0, 1, 0).
Dataset source_with_done(const arrow::ArrayPtr& done) {
  return make_dataset({"action", "reward", "done"},
                      {ints({0, 1, 2}), floats({0.5f, 1.5f, 2.5f}), done});
}

// --- widening --------------------------------------------------------------------------------

TEST(AppendWidening, BoolColumnWidensToIntThenFloat) {
  DatasetStore store(4);
  StepRow r = step_row(0, 0, 0);
  r["done"] = false;
  r["flag"] = true;
  store.append(r);
  r["done"] = true;
  r["flag"] = false;
  store.append(r);
  r["done"] = 2;  // an int after bools: the column becomes int64, earlier values 0 / 1
  r["flag"] = 3;
  store.append(r);
  r["done"] = false;  // a bool into the int column is 0 / 1
  r["flag"] = 0.5;    // a float widens the int column to float64
  store.append(r);
  const Dataset ds = store.to_dataset();
  EXPECT_EQ(type_of(ds, "done"), "int64");
  EXPECT_EQ(type_of(ds, "flag"), "double");
  const TensorDict td = all_rows(store);
  EXPECT_EQ(values_of<int64_t>(td.at("done")), (std::vector<int64_t>{0, 1, 2, 0}));
  DatasetStore reread(4);
  reread.from_dataset(ds);
  EXPECT_TRUE(all_rows(reread).equals(td));
  const auto flag = ds.column("flag");
  std::vector<double> got;
  for (const auto& chunk : flag.chunks) {
    for (int64_t i = 0; i < chunk->length; ++i) got.push_back(arrow::values<double>(*chunk)[i]);
  }
  EXPECT_EQ(got, (std::vector<double>{1, 0, 3, 0.5}));
}

TEST(AppendWidening, BoolListItemsWidenToInt) {
  DatasetStore store(4, 0, 3);
  StepRow r = step_row(0, 0, 0);
  r["observation_discrete"] = StepValue::List{true, false, true};
  store.append(r);
  r["observation_discrete"] = StepValue::List{2, true, 0};
  store.append(r);
  EXPECT_EQ(values_of<int64_t>(all_rows(store).at("obs_discrete")),
            (std::vector<int64_t>{1, 0, 1, 2, 1, 0}));
  EXPECT_EQ(type_of(store.to_dataset(), "observation_discrete"), "list<item: int64>");
}

// Every source done type x every kind of first appended value: appends, samples, and
// round-trips through to_dataset -> save_to_disk -> load_from_disk value for value, in the type
// both meet in (the wider one; only a source column that is narrower is converted).
class DoneKinds : public ::testing::TestWithParam<std::tuple<int, int>> {};

TEST_P(DoneKinds, AppendSampleAndRoundTrip) {
  const auto [source_kind, first_kind] = GetParam();
  const arrow::ArrayPtr source_done[] = {ints({0, 1, 0}), bools({false, true, false}),
                                         doubles({0, 1, 0})};
  const StepValue first[] = {StepValue(true), StepValue(int64_t{1}), StepValue(1.0)};
  DatasetStore store(4);
  store.from_dataset(source_with_done(source_done[source_kind]));
  // What a loop appends: the first value, then bools, ints and floats in any order.
  const std::vector<StepValue> later = {first[first_kind], StepValue(false), StepValue(int64_t{2}),
                                        StepValue(true), StepValue(0.0), StepValue(int64_t{0})};
  for (size_t i = 0; i < later.size(); ++i) {
    StepRow r = step_row(static_cast<int64_t>(i), 0.25 * static_cast<double>(i), 0);
    r["done"] = later[i];
    store.append(r);
  }
  const std::vector<int64_t> expected_done = {0, 1, 0, 1, 0, 2, 1, 0, 0};
  const TensorDict td = all_rows(store);
  EXPECT_EQ(values_of<int64_t>(td.at("done")), expected_done);
  const Dataset ds = store.to_dataset();
  // The buffer holds a float (0.0), so done is float64 whatever the source had.
  EXPECT_EQ(type_of(ds, "done"), "double");
  EXPECT_EQ(type_of(ds, "action"), "int64");   // unchanged source columns stay as they were
  EXPECT_EQ(type_of(ds, "reward"), "float");   // 0.25 * i are float32 values: no widening
  test::TempDir dir;
  EXPECT_TRUE(reloaded(ds, store.config(), dir).equals(td));
}

INSTANTIATE_TEST_SUITE_P(SourceTimesFirstValue, DoneKinds,
                         ::testing::Combine(::testing::Values(0, 1, 2), ::testing::Values(0, 1, 2)));

TEST(ToDatasetWidening, BoolAppendedIntoInt64SourceWritesInt64) {
  // The reported failure: an int64 done in the source, bools appended.
  DatasetStore store(4);
  store.from_dataset(source_with_done(ints({0, 1, 0})));
  StepRow r = step_row(3, 1.0, 0);
  r["done"] = false;
  store.append(r);
  r["done"] = true;
  store.append(r);
  r["done"] = int64_t{2};  // an int after bools: accepted
  store.append(r);
  const Dataset ds = store.to_dataset();
  EXPECT_EQ(type_of(ds, "done"), "int64");
  const TensorDict td = all_rows(store);
  EXPECT_EQ(values_of<int64_t>(td.at("done")), (std::vector<int64_t>{0, 1, 0, 0, 1, 2}));
  test::TempDir dir;
  EXPECT_TRUE(reloaded(ds, store.config(), dir).equals(td));
}

TEST(ToDatasetWidening, WiderBufferConvertsOnlyThatSourceColumn) {
  DatasetStore store(4);
  const Dataset source = source_with_done(bools({false, true, false}));
  store.from_dataset(source);
  store.append(step_row(3, 1.0, 2));  // int done: wider than the source's bool
  const Dataset ds = store.to_dataset();
  EXPECT_EQ(type_of(ds, "done"), "int64");
  EXPECT_EQ(ds.features().type_of("done"), "Value(int64)");
  // The other source columns are the source's own arrays, not copies.
  EXPECT_EQ(ds.batches()[0].columns[0].get(), source.batches()[0].columns[0].get());
  EXPECT_NE(ds.batches()[0].columns[2].get(), source.batches()[0].columns[2].get());
  test::TempDir dir;
  EXPECT_TRUE(reloaded(ds, store.config(), dir).equals(all_rows(store)));
}

TEST(ToDatasetWidening, FloatsKeepTheSourceFloat32OnlyWhenExact) {
  DatasetStore store(4);
  store.from_dataset(source_with_done(ints({0, 0, 0})));
  store.append(step_row(3, 0.75, 0));  // a float32 value: the source's float32 holds it
  EXPECT_EQ(type_of(store.to_dataset(), "reward"), "float");
  store.append(step_row(4, 0.1, 0));  // not a float32 value: the column becomes float64
  const Dataset ds = store.to_dataset();
  EXPECT_EQ(type_of(ds, "reward"), "double");
  const auto col = ds.column("reward");
  std::vector<double> got;
  for (const auto& chunk : col.chunks) {
    for (int64_t i = 0; i < chunk->length; ++i) got.push_back(arrow::values<double>(*chunk)[i]);
  }
  EXPECT_EQ(got, (std::vector<double>{0.5, 1.5, 2.5, 0.75, 0.1}));
}

TEST(ToDatasetWidening, FloatObservationsIntoFixedSizeFloat32Source) {
  // A gym loop appends float32 observations as lists of floats: they keep the source's
  // fixed_size_list<float32>.
  DatasetStore store(4, 3);
  const Dataset source = test::step_dataset(4, 0, 3);
  store.from_dataset(source);
  StepRow r = step_row(1, 0.5, 1);
  r["observation"] = StepValue::List{0.25, -1.5, 3.0};
  r["episode_step"] = int64_t{7};
  store.append(r);
  const Dataset ds = store.to_dataset();
  EXPECT_EQ(type_of(ds, "observation"), type_of(source, "observation"));
  test::TempDir dir;
  EXPECT_TRUE(reloaded(ds, store.config(), dir).equals(all_rows(store)));
}

TEST(ToDatasetWidening, SourcesOfDifferentDoneTypesConcatenate) {
  DatasetStore store(4);
  store.from_dataset(source_with_done(bools({false, true, false})));
  store.from_dataset(source_with_done(ints({0, 2, 0})));
  const Dataset ds = store.to_dataset();
  EXPECT_EQ(type_of(ds, "done"), "int64");
  EXPECT_EQ(ds.num_rows(), 6);
  test::TempDir dir;
  EXPECT_TRUE(reloaded(ds, store.config(), dir).equals(all_rows(store)));
}

TEST(ToDatasetWidening, IncompatibleTypesNameColumnAndBoth) {
  DatasetStore store(4);
  store.from_dataset(make_dataset({"action", "reward", "done", "note"},
                                  {ints({0}), floats({0}), ints({0}), ints({5})}));
  StepRow r = step_row(0, 0, 0);
  r["note"] = "text";
  store.append(r);
  EXPECT_THROW_MSG(store.to_dataset(), InvalidArgument,
                   "column \"note\" is int64 in dataset in-memory dataset and string in append "
                   "buffer; the two cannot be concatenated");
}

TEST(MergeStoresWidening, StoresOfDifferentTypesMerge) {
  DatasetStore a(4);
  DatasetStore b(4);
  StepRow r = step_row(0, 0, 0);
  r["done"] = true;
  a.append(r);
  b.append(step_row(1, 0.5, 2));
  const DatasetStore* stores[] = {&a, &b};
  const Dataset ds = DatasetStore::merge_stores_to_dataset(stores);
  EXPECT_EQ(type_of(ds, "done"), "int64");
  DatasetStore reread(4);
  reread.from_dataset(ds);
  EXPECT_EQ(values_of<int64_t>(all_rows(reread).at("done")), (std::vector<int64_t>{1, 2}));
}

TEST(AppendColumnsWidening, BoolArrayThenIntArrayWidensTheColumn) {
  DatasetStore store(4);
  store.append_columns({{"action", ints({0, 1})}, {"reward", floats({0, 1})},
                        {"done", bools({false, true})}});
  store.append_columns({{"action", ints({2})}, {"reward", floats({2})}, {"done", ints({2})}});
  StepRow r = step_row(3, 3, 0);
  r["done"] = true;
  store.append(r);
  EXPECT_EQ(values_of<int64_t>(all_rows(store).at("done")), (std::vector<int64_t>{0, 1, 2, 1}));
  const Dataset ds = store.to_dataset();
  EXPECT_EQ(type_of(ds, "done"), "int64");
  test::TempDir dir;
  EXPECT_TRUE(reloaded(ds, store.config(), dir).equals(all_rows(store)));
}

TEST(AppendColumnsWidening, MatchingTypesAreKeptWithoutACopy) {
  DatasetStore store(4);
  const Columns cols = {{"action", ints({0, 1, 2})},
                        {"reward", floats({0, 1, 2})},
                        {"done", ints({0, 0, 1})}};
  store.append_columns(cols);
  store.append_columns(cols);
  const Dataset ds = store.to_dataset();
  ASSERT_EQ(ds.batches().size(), 2u);
  for (const auto& batch : ds.batches()) {
    for (size_t c = 0; c < cols.size(); ++c) {
      EXPECT_EQ(batch.columns[c]->buffers[1].data(), cols[c].second->buffers[1].data());
    }
  }
}

// --- the value contract at entry ------------------------------------------------------------

// A store with a 2-row source (so that append's row numbers are global) and one buffer row.
struct Filled {
  DatasetStore store;
  TensorDict before;
  explicit Filled(int64_t max_action_dim = 4, bool q_star = false) : store(max_action_dim) {
    std::vector<std::string> names = {"action", "reward", "done"};
    std::vector<arrow::ArrayPtr> cols = {ints({0, 1}), floats({0, 1}), ints({0, 1})};
    if (q_star) {
      names.push_back("metadata_q_star");
      cols.push_back(arrow::make_list(std::vector<int64_t>{0, 1, 2}, floats({0.5f, 1.5f})));
    }
    store.from_dataset(make_dataset(names, cols));
    store.append(step_row(1, 0.5, 0));
    before = all_rows(store);
  }
  void expect_unchanged() const {
    EXPECT_EQ(store.size(), 3);
    EXPECT_TRUE(all_rows(store).equals(before));
  }
};

TEST(AppendContract, DoneMustBeZeroOneOrTwo) {
  Filled f;
  EXPECT_THROW_MSG(f.store.append(step_row(1, 0, 3)), InvalidArgument,
                   "append: column \"done\" at row 3: the value 3 is not 0 (running), 1 "
                   "(terminal) or 2 (truncated)");
  EXPECT_THROW_MSG(f.store.append(step_row(1, 0, -1)), InvalidArgument, "the value -1 is not 0");
  StepRow r = step_row(1, 0, 0);
  r["done"] = 1.5;
  EXPECT_THROW_MSG(f.store.append(r), InvalidArgument,
                   "column \"done\" gets the value 1.5 at row 3, which is not a whole number");
  f.expect_unchanged();
}

TEST(AppendContract, NegativeActionIsAnError) {
  Filled f;
  EXPECT_THROW_MSG(f.store.append(step_row(-2, 0, 0)), InvalidArgument,
                   "append: column \"action\" at row 3: the value -2 is negative");
  f.expect_unchanged();
}

TEST(AppendContract, ActionPastMaxActionDimOnlyWithQValues) {
  Filled plain(4, false);
  plain.store.append(step_row(9, 0, 0));  // no q-values: any index is an action
  EXPECT_EQ(plain.store.size(), 4);
  Filled f(4, true);
  EXPECT_THROW_MSG(f.store.append(step_row(4, 0, 0)), InvalidArgument,
                   "append: column \"action\" at row 3: the value 4 is not below max_action_dim 4");
  f.expect_unchanged();
  f.store.append(step_row(3, 0, 0));
  // q-values in the buffer (or the row itself) count as well.
  DatasetStore buffer_q(2);
  StepRow q = step_row(1, 0, 0);
  q["metadata_q_star"] = StepValue::List{0.5, 1.0};
  EXPECT_THROW_MSG(buffer_q.append([&] { StepRow r = q; r["action"] = int64_t{2}; return r; }()),
                   InvalidArgument, "column \"action\" at row 0: the value 2 is not below");
  buffer_q.append(q);
  EXPECT_THROW_MSG(buffer_q.append(step_row(5, 0, 0)), InvalidArgument, "at row 1: the value 5");
}

TEST(AppendContract, RewardMustBeFinite) {
  Filled f;
  for (const double bad : {std::numeric_limits<double>::quiet_NaN(),
                           std::numeric_limits<double>::infinity(),
                           -std::numeric_limits<double>::infinity()}) {
    EXPECT_THROW_MSG(f.store.append(step_row(1, bad, 0)), InvalidArgument,
                     fmt::format("append: column \"reward\" at row 3: the value {} is not finite",
                                 bad));
  }
  f.expect_unchanged();
}

TEST(AppendContract, NonIntegralValuesInIntegerColumns) {
  DatasetStore store(4, 0, 2);
  store.append(step_row(1, 0, 0));
  StepRow r = step_row(1, 0, 0);
  r["action"] = 1.5;
  EXPECT_THROW_MSG(store.append(r), InvalidArgument,
                   "column \"action\" gets the value 1.5 at row 1, which is not a whole number");
  r = step_row(1, 0, 0);
  r["episode_step"] = std::numeric_limits<double>::infinity();
  EXPECT_THROW_MSG(store.append(r), InvalidArgument, "column \"episode_step\" gets the value inf");
  r = step_row(1, 0, 0);
  r["observation_discrete"] = StepValue::List{1, 0.5};
  EXPECT_THROW_MSG(store.append(r), InvalidArgument,
                   "column \"observation_discrete\" gets the value 0.5 at row 1");
  EXPECT_EQ(store.size(), 1);
  EXPECT_EQ(type_of(store.to_dataset(), "action"), "int64");
}

TEST(AppendColumnsContract, EachCheckNamesColumnAndRowOfTheCall) {
  const std::string call = "at row 2 of the call (rows counted from 0 within the call)";
  struct Case {
    const char* name;
    Columns columns;
    std::string message;
  };
  const Case cases[] = {
      {"done", {{"action", ints({0, 1, 2})}, {"reward", floats({0, 0, 0})}, {"done", ints({0, 1, 3})}},
       "append_columns: column \"done\" " + call + ": the value 3 is not 0 (running)"},
      {"float done",
       {{"action", ints({0, 1, 2})}, {"reward", floats({0, 0, 0})}, {"done", doubles({0, 1, -1})}},
       "column \"done\" " + call + ": the value -1 is not 0"},
      {"action", {{"action", ints({0, 1, -1})}, {"reward", floats({0, 0, 0})}, {"done", ints({0, 0, 0})}},
       "column \"action\" " + call + ": the value -1 is negative"},
      {"q action",
       {{"action", ints({0, 1, 4})},
        {"reward", floats({0, 0, 0})},
        {"done", ints({0, 0, 0})},
        {"metadata_q_star", arrow::make_list(std::vector<int64_t>{0, 1, 2, 3}, floats({0, 1, 2}))}},
       "column \"action\" " + call + ": the value 4 is not below max_action_dim 4"},
      {"reward nan",
       {{"action", ints({0, 1, 2})},
        {"reward", doubles({0, 0, std::numeric_limits<double>::quiet_NaN()})},
        {"done", ints({0, 0, 0})}},
       "column \"reward\" " + call + ": the value nan is not finite"},
      {"reward inf",
       {{"action", ints({0, 1, 2})},
        {"reward", floats({0, 0, -std::numeric_limits<float>::infinity()})},
        {"done", ints({0, 0, 0})}},
       "column \"reward\" " + call + ": the value -inf is not finite"},
      {"non-integral",
       {{"action", doubles({0, 1, 2.5})}, {"reward", floats({0, 0, 0})}, {"done", ints({0, 0, 0})}},
       "append_columns (rows counted from 0 within the call): column \"action\" has the value 2.5 "
       "at row 2, which is not a whole number"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Filled f;
    EXPECT_THROW_MSG(f.store.append_columns(c.columns), InvalidArgument, c.message);
    f.expect_unchanged();
  }
}

TEST(AppendColumnsContract, QValuesOfTheSourceCount) {
  Filled f(4, true);
  EXPECT_THROW_MSG(
      f.store.append_columns({{"action", ints({3, 4})}, {"reward", floats({0, 0})}, {"done", ints({0, 0})}}),
      InvalidArgument, "column \"action\" at row 1 of the call");
  f.expect_unchanged();
  f.store.append_columns({{"action", ints({3, 0})}, {"reward", floats({0, 0})}, {"done", ints({0, 2})}});
  EXPECT_EQ(f.store.size(), 5);
}

TEST(AppendColumnsContract, BoolDoneAndActionColumnsPass) {
  DatasetStore store(1);  // max_action_dim 1: with q-values, only action 0 is valid
  store.append_columns({{"action", bools({false, true})}, {"reward", bools({true, false})},
                        {"done", bools({false, true})}});
  EXPECT_EQ(values_of<int64_t>(all_rows(store).at("action")), (std::vector<int64_t>{0, 1}));
}

// --- images wider than max_obs_image_pixels -------------------------------------------------

ImagePixels pixels(int64_t h, int64_t w, int64_t c) {
  ImagePixels px;
  px.height = h;
  px.width = w;
  px.channels = c;
  px.pixels.assign(static_cast<size_t>(h * w * c), 7);
  return px;
}

TEST(WideImages, AppendWarnsOncePerStoreNamingColumnShapeAndLimit) {
  DatasetStore store(4, 0, 0, 16);  // 4 x 4 grey; an RGB 4 x 4 image needs 48
  StepRow r = step_row(0, 0, 0);
  r["observation_image"] = pixels(4, 4, 1);
  testing::internal::CaptureStderr();
  store.append(r);
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
  r["observation_image"] = pixels(4, 4, 3);
  testing::internal::CaptureStderr();
  store.append(r);
  store.append(r);
  (void)all_rows(store);
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("column \"observation_image\" (append, row 1) holds an image of 4 x 4 x 3"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("max_obs_image_pixels = 16"), std::string::npos) << err;
  EXPECT_EQ(err.find("warning", err.find("warning") + 1), std::string::npos) << "warned twice: " << err;
  // Another store warns for itself.
  DatasetStore other(4, 0, 0, 16);
  testing::internal::CaptureStderr();
  other.append(r);
  EXPECT_NE(testing::internal::GetCapturedStderr().find("4 x 4 x 3"), std::string::npos);
}

TEST(WideImages, EncodedBytesAreMeasuredFromTheirHeaders) {
  const std::vector<uint8_t> rgb(2 * 3 * 3, 9);
  const std::string png = detail::encode_png(rgb.data(), rgb.size(), 2, 3, 3);
  const auto shape = detail::peek_image_shape(png);
  ASSERT_TRUE(shape.has_value());
  EXPECT_EQ(*shape, (std::array<int64_t, 3>{2, 3, 3}));
  DatasetStore store(4, 0, 0, 6);
  StepRow r = step_row(0, 0, 0);
  r["observation_image"] = EncodedImage{png};
  testing::internal::CaptureStderr();
  store.append(r);
  EXPECT_NE(testing::internal::GetCapturedStderr().find("2 x 3 x 3 (H x W x C) = 18 values"),
            std::string::npos);
}

TEST(WideImages, SourceFramesWarnWhenEncoded) {
  const std::vector<uint8_t> rgb(4 * 4 * 3, 9);
  const std::string png = detail::encode_png(rgb.data(), rgb.size(), 4, 4, 3);
  const auto image = arrow::make_binary({std::optional<std::string>(png),
                                         std::optional<std::string>(png)});
  const Dataset ds = make_dataset({"action", "reward", "done", "observation_image"},
                                  {ints({0, 1}), floats({0, 0}), ints({0, 0}), image});
  DatasetStore store(4, 0, 0, 16);
  testing::internal::CaptureStderr();
  store.from_dataset(ds);
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");  // nothing decoded yet
  testing::internal::CaptureStderr();
  const TensorDict td = all_rows(store);
  (void)all_rows(store);
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("column \"observation_image\""), std::string::npos) << err;
  EXPECT_NE(err.find("row 0) holds an image of 4 x 4 x 3 (H x W x C) = 48 values, more than "
                     "max_obs_image_pixels = 16"),
            std::string::npos)
      << err;
  EXPECT_EQ(err.find("warning", err.find("warning") + 1), std::string::npos) << err;
  EXPECT_EQ(td.at("obs_image").shape(), (std::vector<int64_t>{2, 16}));
}

}  // namespace
}  // namespace mouse
