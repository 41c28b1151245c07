// SPEC §4 append / append_columns / to_dataset: type rules, errors that leave the store
// unchanged, the columnar buffer, and to_dataset -> save_to_disk -> reload round trips.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "store_test_util.hpp"

namespace mouse {
namespace {

using test::iota;
using test::kNegInf;
using test::make_dataset;
using test::step_dataset;
using test::step_row;
using test::values_of;

TensorDict all_rows(const DatasetStore& store) {
  auto idx = iota(store.size());
  return store.get(idx);
}

// Saves `ds`, loads it back into a fresh store with `config`, and returns all rows encoded.
TensorDict reload_encoded(const Dataset& ds, const StoreConfig& config, const test::TempDir& dir) {
  ds.save_to_disk(dir / "saved");
  DatasetStore again(config);
  again.from_dataset(Dataset::load_from_disk(dir / "saved"));
  return all_rows(again);
}

TEST(StoreAppend, EmptyRowIsAnError) {
  DatasetStore store;
  EXPECT_THROW_MSG(store.append(StepRow{}), InvalidArgument, "the row is empty");
  EXPECT_EQ(store.size(), 0);
}

TEST(StoreAppend, RequiredColumnsMustHaveValues) {
  DatasetStore store;
  EXPECT_THROW_MSG(store.append(StepRow{{"action", 1}, {"reward", 1.0}}), InvalidArgument,
                   "required column \"done\"");
  EXPECT_THROW_MSG(store.append(StepRow{{"action", nullptr}, {"reward", 1.0}, {"done", 0}}),
                   InvalidArgument, "required column \"action\"");
  EXPECT_EQ(store.size(), 0);
}

TEST(StoreAppend, FirstRowFixesTypesLaterRowsOmitOrAddColumns) {
  DatasetStore store(3, 2);
  StepRow r0 = step_row(1, 0.5, 0);
  r0["observation"] = StepValue::List{1.0, 2.0};
  store.append(r0);
  StepRow r1 = step_row(2, 1, 0);  // int reward into the float column; no observation
  r1["metadata_q_star"] = StepValue::List{3, 4.5};  // a new column: earlier rows null
  store.append(r1);
  store.append(step_row(0, 2, 1));  // with q-values, actions are below max_action_dim
  EXPECT_EQ(store.size(), 3);
  TensorDict td = all_rows(store);
  EXPECT_EQ(values_of<int64_t>(td.at("action")), (std::vector<int64_t>{1, 2, 0}));
  EXPECT_EQ(values_of<float>(td.at("reward")), (std::vector<float>{0.5f, 1, 2}));
  EXPECT_EQ(values_of<double>(td.at("obs_continuous")), (std::vector<double>{1, 2, 0, 0, 0, 0}));
  EXPECT_EQ(values_of<float>(td.at("q_star")),
            (std::vector<float>{kNegInf, kNegInf, kNegInf, 3, 4.5f, kNegInf, kNegInf, kNegInf, kNegInf}));
  Dataset ds = store.to_dataset();
  EXPECT_EQ(ds.column_names(),
            (std::vector<std::string>{"action", "done", "observation", "reward", "metadata_q_star"}));
  EXPECT_EQ(ds.features().type_of("reward"), "Value(float64)");
  EXPECT_EQ(ds.features().type_of("action"), "Value(int64)");
}

TEST(StoreAppend, IncompatibleTypeNamesColumnAndLeavesStoreUnchanged) {
  DatasetStore store(2, 2);
  StepRow r0 = step_row(1, 0.5, 0);
  r0["note"] = "first";
  r0["observation"] = StepValue::List{1.0, 2.0};
  store.append(r0);
  const TensorDict before = all_rows(store);
  StepRow bad = step_row(2, 1.0, 0);
  bad["note"] = 5;  // string column
  EXPECT_THROW_MSG(store.append(bad), TypeError, "column \"note\"");
  StepRow bad_action = step_row(2, 1.0, 0);
  bad_action["action"] = 2.5;  // not a whole number: no action (a value error)
  EXPECT_THROW_MSG(store.append(bad_action), InvalidArgument, "column \"action\" gets the value 2.5");
  StepRow bad_list = step_row(2, 1.0, 0);
  bad_list["observation"] = StepValue::List{StepValue::List{1.0}};  // nested into a flat list
  EXPECT_THROW_MSG(store.append(bad_list), TypeError, "column \"observation\"");
  StepRow mixed = step_row(2, 1.0, 0);
  mixed["observation"] = StepValue::List{1.0, "x"};
  EXPECT_THROW_MSG(store.append(mixed), TypeError, "list item 1");
  EXPECT_EQ(store.size(), 1);
  EXPECT_TRUE(all_rows(store).equals(before));
  EXPECT_EQ(store.to_dataset().column_names(),
            (std::vector<std::string>{"action", "done", "note", "observation", "reward"}));
}

TEST(StoreAppend, ContractIsCheckedOnAppend) {
  DatasetStore store(2, 0, 0, 4);
  StepRow row = step_row(1, 0.5, 0);
  row["action"] = "left";
  EXPECT_THROW_MSG(store.append(row), TypeError, "column \"action\" has type string");
  StepRow img = step_row(1, 0.5, 0);
  img["observation_image"] = 3.5;
  EXPECT_THROW_MSG(store.append(img), TypeError, "\"observation_image\"");
  EXPECT_EQ(store.size(), 0);
}

TEST(StoreAppend, NullFirstValueIsRefinedLater) {
  DatasetStore store(2, 3);
  StepRow r0 = step_row(0, 0, 0);
  r0["observation"] = nullptr;
  store.append(r0);
  StepRow r1 = step_row(1, 0, 0);
  r1["observation"] = StepValue::List{};  // list<null>
  store.append(r1);
  StepRow r2 = step_row(2, 0, 0);
  r2["observation"] = StepValue::List{4, 5};  // now list<int64>
  store.append(r2);
  TensorDict td = all_rows(store);
  EXPECT_EQ(values_of<double>(td.at("obs_continuous")),
            (std::vector<double>{0, 0, 0, 0, 0, 0, 4, 5, 0}));
  Dataset ds = store.to_dataset();
  EXPECT_EQ(ds.schema()->fields[ds.schema()->field_index("observation")].type->to_string(),
            "list<item: int64>");
}

TEST(StoreAppend, ManyRowsCrossBlockBoundaries) {
  DatasetStore store(2);
  for (int64_t i = 0; i < 2345; ++i) {
    store.append(step_row(i, static_cast<double>(i) * 0.5, i % 3));
    if (i == 999 || i == 1500) {
      std::vector<int64_t> last{-1};
      EXPECT_EQ(values_of<int64_t>(store.get(last).at("action")), (std::vector<int64_t>{i}));
    }
  }
  EXPECT_EQ(store.size(), 2345);
  auto actions = values_of<int64_t>(all_rows(store).at("action"));
  EXPECT_EQ(actions, iota(2345));
  Dataset ds = store.to_dataset();
  EXPECT_EQ(ds.num_rows(), 2345);
  EXPECT_EQ(ds.batches().size(), 3u);
}

TEST(StoreAppendColumns, BulkPathKeepsArrowTypes) {
  DatasetStore store(2, 2);
  std::vector<float> obs{1, 2, 3, 4, 5, 6};
  store.append_columns({{"action", arrow::make_primitive<int64_t>(std::vector<int64_t>{1, 2, 3})},
                        {"reward", arrow::make_primitive<float>(std::vector<float>{0.5f, 1, 2})},
                        {"done", arrow::make_primitive<int64_t>(std::vector<int64_t>{0, 0, 1})},
                        {"observation", arrow::make_fixed_size_list(arrow::make_primitive<float>(obs), 2)}});
  StepRow row = step_row(4, 3, 0);
  row["observation"] = StepValue::List{7.0, 8.0};  // a row after the bulk chunk
  store.append(row);
  EXPECT_EQ(store.size(), 4);
  TensorDict td = all_rows(store);
  EXPECT_EQ(values_of<int64_t>(td.at("action")), (std::vector<int64_t>{1, 2, 3, 4}));
  EXPECT_EQ(values_of<double>(td.at("obs_continuous")), (std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8}));
  Dataset ds = store.to_dataset();
  EXPECT_EQ(ds.features().type_of("observation"), "Sequence(Value(float32), length=2)");
  EXPECT_EQ(ds.features().type_of("reward"), "Value(float32)");
  // A row list of the wrong length for the fixed-size column is refused.
  StepRow bad = step_row(5, 3, 0);
  bad["observation"] = StepValue::List{1.0, 2.0, 3.0};
  EXPECT_THROW_MSG(store.append(bad), TypeError, "holds exactly 2");
  EXPECT_EQ(store.size(), 4);
}

TEST(StoreAppendColumns, MatchingTypesAreKeptWithoutACopy) {
  DatasetStore store(2);
  auto action = arrow::make_primitive<int64_t>(std::vector<int64_t>{4, 5});
  auto reward = arrow::make_primitive<float>(std::vector<float>{1, 2});
  auto done = arrow::make_primitive<int64_t>(std::vector<int64_t>{0, 1});
  store.append_columns({{"action", action}, {"reward", reward}, {"done", done}});
  store.append_columns({{"action", action}, {"reward", reward}, {"done", done}});
  Dataset ds = store.to_dataset();
  ASSERT_EQ(ds.batches().size(), 2u);
  EXPECT_EQ(ds.batches()[1].columns[0].get(), action.get());
  EXPECT_EQ(ds.batches()[1].columns[1].get(), reward.get());
  EXPECT_EQ(values_of<int64_t>(all_rows(store).at("action")), (std::vector<int64_t>{4, 5, 4, 5}));
}

TEST(StoreAppendColumns, Errors) {
  DatasetStore store(2);
  auto ints = [](std::vector<int64_t> v) { return arrow::make_primitive<int64_t>(v); };
  EXPECT_THROW_MSG(store.append_columns({}), InvalidArgument, "no columns");
  EXPECT_THROW_MSG(store.append_columns({{"action", ints({1, 2})}, {"reward", ints({1})}, {"done", ints({0, 0})}}),
                   InvalidArgument, "expected equal lengths");
  EXPECT_THROW_MSG(store.append_columns({{"action", ints({1})}, {"action", ints({1})}}), InvalidArgument,
                   "given twice");
  EXPECT_THROW_MSG(store.append_columns({{"action", ints({1})}, {"reward", ints({1})}}), InvalidArgument,
                   "required column \"done\"");
  store.append_columns({{"action", ints({1})}, {"reward", ints({1})}, {"done", ints({0})}});
  EXPECT_THROW_MSG(store.append_columns({{"action", arrow::make_utf8({std::string("x")})},
                                         {"reward", ints({1})}, {"done", ints({0})}}),
                   TypeError, "column \"action\" has type string");
  EXPECT_EQ(store.size(), 1);
}

TEST(StoreToDataset, BufferOnlyRoundTripsThroughSaveToDisk) {
  StoreConfig config;
  config.validate = false;  // row-numbered actions, past max_action_dim
  config.max_action_dim = 3;
  config.max_obs_continuous_dim = 2;
  config.max_obs_discrete_dim = 2;
  DatasetStore store(config);
  for (int64_t i = 0; i < 1200; ++i) {
    StepRow row = step_row(i % 3, static_cast<double>(i) / 8, i % 3);
    row["episode_step"] = i % 50;
    row["observation"] = StepValue::List{static_cast<double>(i), -0.5};
    if (i % 5 != 0) row["metadata_q_star"] = StepValue::List{1.0, static_cast<double>(i)};
    row["observation_discrete"] = StepValue::List{i % 7, i % 11};
    row["info"] = fmt::format("step {}", i);
    store.append(row);
  }
  test::TempDir dir;
  TensorDict want = all_rows(store);
  TensorDict got = reload_encoded(store.to_dataset(), config, dir);
  EXPECT_TRUE(got.equals(want));
  EXPECT_EQ(got.keys(), want.keys());
  Dataset loaded = Dataset::load_from_disk(dir / "saved");
  EXPECT_EQ(loaded.features().type_of("info"), "Value(string)");
}

TEST(StoreToDataset, SourceAndBufferConcatenateWithTheSourceTypes) {
  StoreConfig config;
  config.validate = false;  // row-numbered actions, past max_action_dim
  config.max_action_dim = 4;
  config.max_obs_continuous_dim = 3;
  DatasetStore store(config);
  store.from_dataset(step_dataset(5, 0, 3));
  StepRow row = step_row(2, 0.25, 2);
  row["observation"] = StepValue::List{9.0, 8.0, 7.0};
  row["metadata_q_star"] = StepValue::List{1, 2, 3, 4, 5};
  store.append(row);
  store.append(step_row(3, 0.5, 0));
  Dataset ds = store.to_dataset();
  EXPECT_EQ(ds.num_rows(), 7);
  EXPECT_EQ(ds.features().type_of("observation"), "Sequence(Value(float32), length=3)");
  test::TempDir dir;
  TensorDict got = reload_encoded(ds, config, dir);
  TensorDict want = all_rows(store);
  EXPECT_TRUE(got.equals(want));
  EXPECT_EQ(values_of<int64_t>(got.at("action")), (std::vector<int64_t>{0, 1, 2, 3, 4, 2, 3}));
  // A buffer column the source lacks cannot be concatenated.
  StepRow extra = step_row(1, 0, 0);
  extra["new_column"] = 1;
  store.append(extra);
  EXPECT_THROW_MSG(store.to_dataset(), InvalidArgument, "buffer column \"new_column\" is not a column of the source");
}

TEST(StoreEncodeHfRows, EncodesADatasetWithItsOwnKeys) {
  DatasetStore store(2, 3);
  TensorDict td = store.encode_hf_rows(step_dataset(3, 5, 3, 2));
  EXPECT_EQ(values_of<int64_t>(td.at("action")), (std::vector<int64_t>{5, 6, 7}));
  EXPECT_TRUE(td.contains("obs_continuous"));
  EXPECT_EQ(store.size(), 0);  // encoding does not load anything
}

}  // namespace
}  // namespace mouse
