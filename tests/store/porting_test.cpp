// Behaviours of mouse-core 0.3.0 that a port must not trip over (SPEC §3-4): int columns widening
// to float on append, integral floats and bools in integer columns, null episode_step as time -1,
// float image pixels.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "store_test_util.hpp"

namespace mouse {
namespace {

using test::iota;
using test::kNegInf;
using test::make_dataset;
using test::step_row;
using test::values_of;

TensorDict all_rows(const DatasetStore& store) {
  auto idx = iota(store.size());
  return store.get(idx);
}

std::string type_of(const Dataset& ds, const std::string& column) {
  return ds.schema()->fields[static_cast<size_t>(ds.schema()->field_index(column))].type->to_string();
}

// Column `column` of `ds` as doubles (one record batch per chunk), nulls as NaN.
std::vector<double> doubles_of(const Dataset& ds, const std::string& column) {
  std::vector<double> out;
  const int index = ds.schema()->field_index(column);
  for (const auto& batch : ds.batches()) {
    const arrow::ArrayData& a = *batch.columns[static_cast<size_t>(index)];
    EXPECT_EQ(a.type->id, arrow::TypeId::kFloat64);
    for (int64_t i = 0; i < a.length; ++i) {
      out.push_back(a.is_valid(i) ? arrow::values<double>(a)[i]
                                  : std::numeric_limits<double>::quiet_NaN());
    }
  }
  return out;
}

TEST(AppendWidening, IntColumnThenFloatBecomesFloat64WithEarlierIntsExact) {
  DatasetStore store(2);
  for (int64_t i = 0; i < 3; ++i) {
    StepRow r = step_row(i, 0, 0);
    r["speed"] = i * 1000003;
    store.append(r);
  }
  StepRow f = step_row(3, 0, 0);
  f["speed"] = 0.5;
  store.append(f);
  StepRow after = step_row(4, 0, 0);
  after["speed"] = 7;  // an int into the widened column
  store.append(after);
  const Dataset ds = store.to_dataset();
  EXPECT_EQ(type_of(ds, "speed"), "double");
  EXPECT_EQ(ds.features().type_of("speed"), "Value(float64)");
  EXPECT_EQ(doubles_of(ds, "speed"), (std::vector<double>{0, 1000003, 2000006, 0.5, 7}));
}

TEST(AppendWidening, WidensAcrossASealedBlock) {
  // 1000 int rows fill and seal a block; the float arrives in the next one.
  DatasetStore store(2);
  for (int64_t i = 0; i < 1001; ++i) {
    StepRow r = step_row(0, 0, 0);
    r["x"] = i;
    store.append(r);
  }
  StepRow f = step_row(0, 0, 0);
  f["x"] = -2.25;
  store.append(f);
  const std::vector<double> x = doubles_of(store.to_dataset(), "x");
  ASSERT_EQ(x.size(), 1002u);
  for (int64_t i = 0; i < 1001; ++i) ASSERT_EQ(x[static_cast<size_t>(i)], static_cast<double>(i));
  EXPECT_EQ(x[1001], -2.25);
}

TEST(AppendWidening, ListOfIntsThenListWithAFloatBecomesListOfDouble) {
  DatasetStore store(2, 3);
  StepRow r0 = step_row(0, 0, 0);
  r0["observation"] = StepValue::List{1, 2, 3};
  store.append(r0);
  StepRow r1 = step_row(1, 0, 0);
  r1["observation"] = StepValue::List{4, 5.5};
  store.append(r1);
  StepRow r2 = step_row(2, 0, 0);
  r2["observation"] = StepValue::List{6};
  store.append(r2);
  const Dataset ds = store.to_dataset();
  EXPECT_EQ(type_of(ds, "observation"), "list<item: double>");
  const TensorDict td = all_rows(store);
  EXPECT_EQ(values_of<double>(td.at("obs_continuous")),
            (std::vector<double>{1, 2, 3, 4, 5.5, 0, 6, 0, 0}));
  const TensorDict back = store.encode_hf_rows(ds);
  EXPECT_TRUE(back.at("obs_continuous").equals(td.at("obs_continuous")));
}

TEST(AppendWidening, FloatWidensBoolButNotStringColumns) {
  DatasetStore store(2);
  StepRow r0 = step_row(0, 0, 0);
  r0["flag"] = true;
  r0["note"] = "a";
  store.append(r0);
  StepRow bad_note = step_row(1, 0, 0);
  bad_note["note"] = 0.5;
  EXPECT_THROW_MSG(store.append(bad_note), TypeError, "column \"note\"");
  StepRow bad_flag = step_row(1, 0, 0);
  bad_flag["flag"] = "x";
  EXPECT_THROW_MSG(store.append(bad_flag), TypeError, "column \"flag\": the column has type bool");
  EXPECT_EQ(store.size(), 1);
  EXPECT_EQ(type_of(store.to_dataset(), "flag"), "bool");
  StepRow wider = step_row(1, 0, 0);
  wider["flag"] = 0.5;  // bool -> float (SPEC §4: bool -> int -> float)
  store.append(wider);
  EXPECT_EQ(type_of(store.to_dataset(), "flag"), "double");
}

// action float32, done float64, episode_step bool, observation_discrete float32 scalar.
Dataset float_step_dataset(std::vector<float> action, std::vector<double> done,
                           int64_t batch_rows = 0) {
  const size_t n = action.size();
  std::vector<float> reward(n, 0.5f), discrete;
  std::vector<bool> step;
  for (size_t i = 0; i < n; ++i) {
    step.push_back(i % 2 == 1);
    discrete.push_back(static_cast<float>(i) * 2);
  }
  return make_dataset({"action", "reward", "done", "episode_step", "observation_discrete"},
                      {arrow::make_primitive<float>(action), arrow::make_primitive<float>(reward),
                       arrow::make_primitive<double>(done), arrow::make_bool(step),
                       arrow::make_primitive<float>(discrete)},
                      batch_rows);
}

TEST(IntegralFloats, FloatAndBoolIntegerColumnsLoadAndEncode) {
  const Dataset ds = float_step_dataset({0, 3, -2, 7}, {0, 1, 2, 0}, 3);
  DatasetStore store(test::unchecked(2, 0, 1));
  store.from_dataset(ds);
  const TensorDict td = all_rows(store);
  EXPECT_EQ(td.at("action").dtype(), DType::kInt64);
  EXPECT_EQ(values_of<int64_t>(td.at("action")), (std::vector<int64_t>{0, 3, -2, 7}));
  EXPECT_EQ(values_of<int64_t>(td.at("done")), (std::vector<int64_t>{0, 1, 2, 0}));
  EXPECT_EQ(values_of<int64_t>(td.at("time")), (std::vector<int64_t>{0, 1, 0, 1}));
  EXPECT_EQ(values_of<int64_t>(td.at("obs_discrete")), (std::vector<int64_t>{0, 2, 4, 6}));
  EXPECT_TRUE(store.encode_hf_rows(ds).equals(td));
}

TEST(IntegralFloats, NonIntegralSourceValueNamesColumnAndRow) {
  // Two record batches: the bad value is row 3 of the dataset (row 1 of its batch).
  const Dataset ds = float_step_dataset({0, 1, 2, 1.5f}, {0, 0, 0, 0}, 2);
  DatasetStore store(test::unchecked(2));
  store.from_dataset(ds);  // values are checked when their rows are encoded
  const std::vector<int64_t> good = {0, 1, 2};
  EXPECT_EQ(values_of<int64_t>(store.get(good).at("action")), (std::vector<int64_t>{0, 1, 2}));
  const std::vector<int64_t> bad = {0, 3};
  EXPECT_THROW_MSG(store.get(bad), InvalidArgument,
                   "column \"action\" has the value 1.5 at row 3, which is not a whole number");
  EXPECT_THROW_MSG(store.encode_hf_rows(ds), InvalidArgument,
                   "encode_hf_rows: rows: column \"action\" has the value 1.5 at row 3");
}

TEST(IntegralFloats, NanAndInfinityAreErrors) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  DatasetStore store(2);
  EXPECT_THROW_MSG(store.encode_hf_rows(float_step_dataset({0, 1}, {0, nan})), InvalidArgument,
                   "column \"done\" has the value nan at row 1");
  EXPECT_THROW_MSG(store.encode_hf_rows(float_step_dataset({0, 1}, {-inf, 0})), InvalidArgument,
                   "column \"done\" has the value -inf at row 0");
  EXPECT_THROW_MSG(store.encode_hf_rows(float_step_dataset({0, 1}, {0, 1e19})), InvalidArgument,
                   "column \"done\" has the value 1e+19 at row 1");
}

TEST(IntegralFloats, ListOfFloatObservationDiscrete) {
  std::vector<int64_t> offsets = {0, 2, 3, 3};
  auto discrete = [&](std::vector<float> items) {
    return make_dataset({"action", "reward", "done", "observation_discrete"},
                        {arrow::make_primitive<int64_t>(std::vector<int64_t>{0, 1, 2}),
                         arrow::make_primitive<float>(std::vector<float>{0, 0, 0}),
                         arrow::make_primitive<int64_t>(std::vector<int64_t>{0, 0, 1}),
                         arrow::make_list(offsets, arrow::make_primitive<float>(items))});
  };
  DatasetStore store(2, 0, 3);
  store.from_dataset(discrete({4, 5, -6}));
  EXPECT_EQ(values_of<int64_t>(all_rows(store).at("obs_discrete")),
            (std::vector<int64_t>{4, 5, 0, -6, 0, 0, 0, 0, 0}));
  EXPECT_THROW_MSG(store.encode_hf_rows(discrete({4, 5, 0.25f})), InvalidArgument,
                   "column \"observation_discrete\" has the value 0.25 at row 1");
}

TEST(IntegralFloats, AppendedFloatAndBoolValuesEncode) {
  DatasetStore store(2, 0, 2);
  StepRow r0{{"action", 1.0}, {"reward", 0.5}, {"done", true}, {"episode_step", 3.0},
             {"observation_discrete", StepValue::List{1.0, 2.0}}};
  store.append(r0);
  StepRow r1{{"action", 4}, {"reward", 0}, {"done", false}, {"episode_step", 4},
             {"observation_discrete", StepValue::List{7, -1}}};
  store.append(r1);
  const TensorDict td = all_rows(store);
  EXPECT_EQ(values_of<int64_t>(td.at("action")), (std::vector<int64_t>{1, 4}));
  EXPECT_EQ(values_of<int64_t>(td.at("done")), (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(values_of<int64_t>(td.at("time")), (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(values_of<int64_t>(td.at("obs_discrete")), (std::vector<int64_t>{1, 2, 7, -1}));
  EXPECT_EQ(type_of(store.to_dataset(), "action"), "double");
  EXPECT_TRUE(store.encode_hf_rows(store.to_dataset()).equals(td));
}

TEST(IntegralFloats, AppendedNonIntegralValueNamesColumnAndRowAndChangesNothing) {
  DatasetStore store(2, 0, 2);
  store.append(step_row(0, 0, 0));
  store.append(step_row(1, 0, 0));
  const TensorDict before = all_rows(store);
  StepRow bad = step_row(2, 0, 0);
  bad["action"] = 1.5;  // would widen the int column, but 1.5 is no action
  EXPECT_THROW_MSG(store.append(bad), InvalidArgument,
                   "column \"action\" gets the value 1.5 at row 2, which is not a whole number");
  StepRow nan = step_row(2, 0, 0);
  nan["episode_step"] = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THROW_MSG(store.append(nan), InvalidArgument, "column \"episode_step\" gets the value nan");
  StepRow list = step_row(2, 0, 0);
  list["observation_discrete"] = StepValue::List{1, 2.5};
  EXPECT_THROW_MSG(store.append(list), InvalidArgument,
                   "column \"observation_discrete\" gets the value 2.5 at row 2");
  EXPECT_EQ(store.size(), 2);
  EXPECT_TRUE(all_rows(store).equals(before));
  EXPECT_EQ(type_of(store.to_dataset(), "action"), "int64");
}

TEST(IntegralFloats, AppendColumnsChecksFloatValuesOfIntegerKeys) {
  DatasetStore store(2);
  const std::vector<std::pair<std::string, arrow::ArrayPtr>> good = {
      {"action", arrow::make_primitive<float>(std::vector<float>{1, 2})},
      {"reward", arrow::make_primitive<float>(std::vector<float>{0, 0})},
      {"done", arrow::make_primitive<double>(std::vector<double>{0, 2})}};
  store.append_columns(good);
  const std::vector<std::pair<std::string, arrow::ArrayPtr>> bad = {
      {"action", arrow::make_primitive<float>(std::vector<float>{1, 2})},
      {"reward", arrow::make_primitive<float>(std::vector<float>{0, 0})},
      {"done", arrow::make_primitive<double>(std::vector<double>{0, 2.5})}};
  EXPECT_THROW_MSG(store.append_columns(bad), InvalidArgument,
                   "append_columns (rows counted from 0 within the call): column \"done\" has the "
                   "value 2.5 at row 1");
  const TensorDict td = all_rows(store);
  EXPECT_EQ(values_of<int64_t>(td.at("action")), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(values_of<int64_t>(td.at("done")), (std::vector<int64_t>{0, 2}));
}

Dataset timed_dataset(std::vector<int64_t> time, std::vector<bool> valid) {
  const size_t n = time.size();
  return make_dataset({"action", "reward", "done", "episode_step"},
                      {arrow::make_primitive<int64_t>(std::vector<int64_t>(n, 1)),
                       arrow::make_primitive<float>(std::vector<float>(n, 0)),
                       arrow::make_primitive<int64_t>(std::vector<int64_t>(n, 0)),
                       arrow::make_primitive<int64_t>(time, valid)});
}

TEST(NullTime, NullEpisodeStepInASourceIsMinusOne) {
  const Dataset ds = timed_dataset({0, 9, 2}, {true, false, true});
  DatasetStore store(2);
  store.from_dataset(ds);
  EXPECT_EQ(values_of<int64_t>(all_rows(store).at("time")), (std::vector<int64_t>{0, -1, 2}));
  EXPECT_EQ(values_of<int64_t>(store.encode_hf_rows(ds).at("time")),
            (std::vector<int64_t>{0, -1, 2}));
  const Dataset floats =
      make_dataset({"action", "reward", "done", "episode_step"},
                   {arrow::make_primitive<int64_t>(std::vector<int64_t>{1, 1}),
                    arrow::make_primitive<float>(std::vector<float>{0, 0}),
                    arrow::make_primitive<int64_t>(std::vector<int64_t>{0, 0}),
                    arrow::make_primitive<double>(std::vector<double>{0.5, 4}, {false, true})});
  EXPECT_EQ(values_of<int64_t>(store.encode_hf_rows(floats).at("time")),
            (std::vector<int64_t>{-1, 4}));
}

TEST(NullTime, NullAndMissingEpisodeStepInTheBufferIsMinusOne) {
  DatasetStore store(2);
  // 1000 rows without the column seal a block; they are null rows of the column that follows.
  for (int i = 0; i < 1000; ++i) store.append(step_row(0, 0, 0));
  store.append(step_row(0, 0, 0));  // in the open block, before the column
  StepRow r = step_row(0, 0, 0);
  r["episode_step"] = 5;
  store.append(r);
  StepRow null_step = step_row(0, 0, 0);
  null_step["episode_step"] = nullptr;
  store.append(null_step);
  store.append(step_row(0, 0, 0));  // omitted
  const std::vector<int64_t> time = values_of<int64_t>(all_rows(store).at("time"));
  ASSERT_EQ(time.size(), 1004u);
  EXPECT_EQ(time[0], -1);
  EXPECT_EQ(time[999], -1);
  EXPECT_EQ(std::vector<int64_t>(time.begin() + 1000, time.end()),
            (std::vector<int64_t>{-1, 5, -1, -1}));
  EXPECT_EQ(values_of<int64_t>(store.encode_hf_rows(store.to_dataset()).at("time")), time);
}

TEST(NullTime, SegmentWithoutTheColumnGetsMinusOneAsItsToDatasetNullsDo) {
  // SPEC §4 zero-fills a key one segment lacks (q_star -inf), i.e. its null-row value; time's
  // null-row value is -1 (SPEC §3), and to_dataset stores those rows as nulls, so get() and a
  // to_dataset round trip agree.
  DatasetStore store(2);
  store.from_dataset(make_dataset({"action", "reward", "done"},
                                  {arrow::make_primitive<int64_t>(std::vector<int64_t>{1, 1}),
                                   arrow::make_primitive<float>(std::vector<float>{0, 0}),
                                   arrow::make_primitive<int64_t>(std::vector<int64_t>{0, 0})}));
  StepRow r = step_row(0, 0, 0);
  r["episode_step"] = 7;
  store.append(r);
  StepRow null_step = step_row(0, 0, 0);
  null_step["episode_step"] = nullptr;
  store.append(null_step);
  EXPECT_EQ(values_of<int64_t>(all_rows(store).at("time")), (std::vector<int64_t>{-1, -1, 7, -1}));
  EXPECT_THROW_MSG(store.to_dataset(), InvalidArgument,
                   "buffer column \"episode_step\" is not a column of the source");

  DatasetStore other(2);
  other.from_dataset(timed_dataset({3, 0}, {true, false}));
  other.append(step_row(0, 0, 0));
  const TensorDict got = all_rows(other);
  EXPECT_EQ(values_of<int64_t>(got.at("time")), (std::vector<int64_t>{3, -1, -1}));
  EXPECT_EQ(values_of<int64_t>(other.encode_hf_rows(other.to_dataset()).at("time")),
            (std::vector<int64_t>{3, -1, -1}));
  // q_star and the other keys keep SPEC §4's fill.
  other.append([] {
    StepRow q = step_row(0, 0, 0);
    q["metadata_q_star"] = StepValue::List{2.5};
    q["xformed_reward"] = 1.5;
    return q;
  }());
  const std::vector<int64_t> last = {0, 3};
  const TensorDict mixed = other.get(last);
  EXPECT_EQ(values_of<float>(mixed.at("q_star")), (std::vector<float>{kNegInf, kNegInf, 2.5f, kNegInf}));
  EXPECT_EQ(values_of<float>(mixed.at("xformed_reward")), (std::vector<float>{0, 1.5f}));
}

TEST(FloatImages, FloatPixelsAreScaledBy255ClampedAndTruncated) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  ImagePixels img;
  img.height = 2;
  img.width = 2;
  img.channels = 3;
  img.float_pixels = {0, 1, 0.5, 0.25, -0.1, 1.7, nan, 0.002, 0.998, 100.0 / 255, 0.75, 1e-9};
  const std::vector<int64_t> want = {0, 255, 127, 63, 0, 255, 0, 0, 254, 100, 191, 0};
  DatasetStore store(2, 0, 0, 12);
  StepRow r = step_row(0, 0, 0);
  r["observation_image"] = img;
  store.append(r);
  ImagePixels same;
  same.height = 2;
  same.width = 2;
  same.channels = 3;
  for (int64_t v : want) same.pixels.push_back(static_cast<uint8_t>(v));
  StepRow u = step_row(1, 0, 0);
  u["observation_image"] = same;
  store.append(u);
  const TensorDict td = all_rows(store);
  std::vector<int64_t> both = want;
  both.insert(both.end(), want.begin(), want.end());
  EXPECT_EQ(values_of<int64_t>(td.at("obs_image")), both);
  // Stored as an Image feature (PNG of the scaled pixels): encoding the dataset agrees.
  const Dataset ds = store.to_dataset();
  EXPECT_EQ(ds.features().type_of("observation_image"), "Image()");
  EXPECT_TRUE(store.encode_hf_rows(ds).equals(td));
}

TEST(FloatImages, BadFloatPixelsAreTypeErrorsAndChangeNothing) {
  DatasetStore store(2, 0, 0, 4);
  ImagePixels both{2, 2, 1, std::vector<uint8_t>(4), std::vector<double>(4, 0.5)};
  StepRow r = step_row(0, 0, 0);
  r["observation_image"] = both;
  EXPECT_THROW_MSG(store.append(r), TypeError,
                   "column \"observation_image\": image pixels hold both 4 uint8 pixels and 4 "
                   "float pixels");
  ImagePixels short_float{2, 2, 1, {}, std::vector<double>(3, 0.5)};
  r["observation_image"] = short_float;
  EXPECT_THROW_MSG(store.append(r), TypeError, "column \"observation_image\"");
  EXPECT_EQ(store.size(), 0);
}

}  // namespace
}  // namespace mouse
