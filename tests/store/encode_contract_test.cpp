// SPEC §3: the column contract of the encoder (keys, dtypes, shapes, padding, -inf, presence,
// conversions and the errors for columns that cannot convert).
#include <gtest/gtest.h>

#include "store/contract.hpp"
#include "store_test_util.hpp"

namespace mouse {
namespace {

using test::kNegInf;
using test::make_dataset;
using test::step_dataset;
using test::values_of;

TEST(ColumnContract, RequiredKeysDtypesAndShapes) {
  DatasetStore store(5);
  TensorDict td = store.encode_hf_rows(step_dataset(4));
  EXPECT_EQ(td.batch_size(), (std::vector<int64_t>{4}));
  EXPECT_EQ(td.at("action").dtype(), DType::kInt64);
  EXPECT_EQ(td.at("reward").dtype(), DType::kFloat32);
  EXPECT_EQ(td.at("done").dtype(), DType::kInt64);
  EXPECT_EQ(td.at("time").dtype(), DType::kInt64);
  EXPECT_EQ(td.at("q_star").dtype(), DType::kFloat32);
  EXPECT_EQ(td.at("action").shape(), (std::vector<int64_t>{4}));
  EXPECT_EQ(td.at("q_star").shape(), (std::vector<int64_t>{4, 5}));
  EXPECT_EQ(values_of<int64_t>(td.at("action")), (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(values_of<float>(td.at("reward")), (std::vector<float>{0, 0.5f, 1, 1.5f}));
  EXPECT_EQ(values_of<int64_t>(td.at("done")), (std::vector<int64_t>{0, 1, 2, 0}));
  EXPECT_EQ(values_of<int64_t>(td.at("time")), (std::vector<int64_t>{0, 1, 2, 3}));
  // observation is in the data but max_obs_continuous_dim is 0: no key.
  EXPECT_FALSE(td.contains("obs_continuous"));
  EXPECT_EQ(td.keys(), (std::vector<std::string>{"action", "reward", "done", "time", "q_star"}));
}

TEST(ColumnContract, QStarIsRightPaddedWithNegInfAndTruncated) {
  DatasetStore wide(3);
  // Row i has q_star {i, i+1, ...} of length i % 4.
  auto q = values_of<float>(wide.encode_hf_rows(step_dataset(4)).at("q_star"));
  const std::vector<float> expected = {kNegInf, kNegInf, kNegInf,  // []
                                       1, kNegInf, kNegInf,        // [1]
                                       2, 3, kNegInf,              // [2, 3]
                                       3, 4, 5};                   // [3, 4, 5]
  EXPECT_EQ(q, expected);
  DatasetStore narrow(2);
  auto t = values_of<float>(narrow.encode_hf_rows(step_dataset(4)).at("q_star"));
  EXPECT_EQ(t, (std::vector<float>{kNegInf, kNegInf, 1, kNegInf, 2, 3, 3, 4}));
}

TEST(ColumnContract, NullQStarRowIsAllNegInfAndNullItemsAreNegInf) {
  std::vector<int64_t> offsets{0, 2, 2, 3};
  auto q = arrow::make_list(offsets, arrow::make_primitive<float>(std::vector<float>{1, 2, 7},
                                                                  {true, false, true}),
                            {true, false, true});
  auto ds = make_dataset({"action", "reward", "done", "metadata_q_star"},
                         {arrow::make_primitive<int64_t>(std::vector<int64_t>{0, 1, 2}),
                          arrow::make_primitive<float>(std::vector<float>{0, 0, 0}),
                          arrow::make_primitive<int64_t>(std::vector<int64_t>{0, 0, 1}), q});
  auto got = values_of<float>(DatasetStore(2).encode_hf_rows(ds).at("q_star"));
  EXPECT_EQ(got, (std::vector<float>{1, kNegInf, kNegInf, kNegInf, 7, kNegInf}));
}

TEST(ColumnContract, ObsContinuousIsFloat64ZeroPaddedAndTruncated) {
  DatasetStore pad(1, 5);
  TensorDict td = pad.encode_hf_rows(step_dataset(2, 10, 3));
  EXPECT_EQ(td.at("obs_continuous").dtype(), DType::kFloat64);
  EXPECT_EQ(td.at("obs_continuous").shape(), (std::vector<int64_t>{2, 5}));
  EXPECT_EQ(values_of<double>(td.at("obs_continuous")),
            (std::vector<double>{10, 10.25, 10.5, 0, 0, 11, 11.25, 11.5, 0, 0}));
  DatasetStore cut(1, 2);
  EXPECT_EQ(values_of<double>(cut.encode_hf_rows(step_dataset(2, 10, 3)).at("obs_continuous")),
            (std::vector<double>{10, 10.25, 11, 11.25}));
}

TEST(ColumnContract, ObsDiscreteScalarAndListShapes) {
  auto base = [](arrow::ArrayPtr disc) {
    return make_dataset({"action", "reward", "done", "observation_discrete"},
                        {arrow::make_primitive<int64_t>(std::vector<int64_t>{0, 1}),
                         arrow::make_primitive<float>(std::vector<float>{0, 0}),
                         arrow::make_bool({false, true}), std::move(disc)});
  };
  DatasetStore store(1, 0, 3);
  TensorDict scalar = store.encode_hf_rows(base(arrow::make_primitive<int32_t>(std::vector<int32_t>{7, 9})));
  EXPECT_EQ(scalar.at("obs_discrete").shape(), (std::vector<int64_t>{2}));
  EXPECT_EQ(values_of<int64_t>(scalar.at("obs_discrete")), (std::vector<int64_t>{7, 9}));
  // bool done converts to 0 / 1.
  EXPECT_EQ(values_of<int64_t>(scalar.at("done")), (std::vector<int64_t>{0, 1}));
  std::vector<int64_t> offsets{0, 4, 5};
  TensorDict list = store.encode_hf_rows(
      base(arrow::make_list(offsets, arrow::make_primitive<uint8_t>(std::vector<uint8_t>{1, 2, 3, 4, 5}))));
  EXPECT_EQ(list.at("obs_discrete").shape(), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(values_of<int64_t>(list.at("obs_discrete")), (std::vector<int64_t>{1, 2, 3, 5, 0, 0}));
  DatasetStore off(1);
  EXPECT_FALSE(off.encode_hf_rows(base(arrow::make_primitive<int32_t>(std::vector<int32_t>{7, 9})))
                   .contains("obs_discrete"));
}

TEST(ColumnContract, OptionalKeysPresentIffColumnInSchema) {
  DatasetStore store(2, 2, 2, 4);
  auto minimal = make_dataset({"action", "reward", "done"},
                              {arrow::make_primitive<int64_t>(std::vector<int64_t>{1}),
                               arrow::make_primitive<double>(std::vector<double>{0.5}),
                               arrow::make_primitive<int8_t>(std::vector<int8_t>{2})});
  TensorDict td = store.encode_hf_rows(minimal);
  EXPECT_EQ(td.keys(), (std::vector<std::string>{"action", "reward", "done"}));
  EXPECT_EQ(values_of<float>(td.at("reward")), (std::vector<float>{0.5f}));
  // Present but entirely null: the key is there (decided by the schema, not by the values).
  auto nulls = make_dataset(
      {"action", "reward", "done", "xformed_reward", "episode_step"},
      {arrow::make_primitive<int64_t>(std::vector<int64_t>{1}),
       arrow::make_primitive<float>(std::vector<float>{0}),
       arrow::make_primitive<int64_t>(std::vector<int64_t>{0}),
       arrow::make_primitive<float>(std::vector<float>{3}, {false}),
       arrow::make_primitive<int64_t>(std::vector<int64_t>{4}, {false})});
  TensorDict n = store.encode_hf_rows(nulls);
  EXPECT_EQ(n.keys(), (std::vector<std::string>{"action", "reward", "done", "xformed_reward", "time"}));
  EXPECT_EQ(values_of<float>(n.at("xformed_reward")), (std::vector<float>{0}));
  EXPECT_EQ(values_of<int64_t>(n.at("time")), (std::vector<int64_t>{-1}));  // SPEC §3
}

TEST(ColumnContract, NullTypedColumnCountsAsAbsent) {
  auto ds = make_dataset({"action", "reward", "done", "metadata_q_star", "observation"},
                         {arrow::make_primitive<int64_t>(std::vector<int64_t>{1}),
                          arrow::make_primitive<float>(std::vector<float>{0}),
                          arrow::make_primitive<int64_t>(std::vector<int64_t>{0}),
                          arrow::make_null(1), arrow::make_null(1)});
  TensorDict td = DatasetStore(2, 3).encode_hf_rows(ds);
  EXPECT_FALSE(td.contains("q_star"));
  EXPECT_FALSE(td.contains("obs_continuous"));
  auto no_action = make_dataset({"action", "reward", "done"},
                                {arrow::make_null(1), arrow::make_primitive<float>(std::vector<float>{0}),
                                 arrow::make_primitive<int64_t>(std::vector<int64_t>{0})});
  EXPECT_THROW_MSG(DatasetStore().encode_hf_rows(no_action), InvalidArgument,
                   "required column \"action\" is typed null");
}

TEST(ColumnContract, MissingRequiredColumnNamesColumnAndDataset) {
  auto ds = make_dataset({"action", "done"},
                         {arrow::make_primitive<int64_t>(std::vector<int64_t>{1}),
                          arrow::make_primitive<int64_t>(std::vector<int64_t>{0})});
  EXPECT_THROW_MSG(DatasetStore().encode_hf_rows(ds), InvalidArgument, "\"reward\" is missing");
  DatasetStore store;
  EXPECT_THROW_MSG(store.from_dataset(ds), InvalidArgument, "in-memory dataset");
  EXPECT_THROW_MSG(store.from_dataset(ds), InvalidArgument, "available columns: [\"action\", \"done\"]");
  EXPECT_EQ(store.size(), 0);
}

TEST(ColumnContract, UnconvertibleTypesAreErrorsNotZeros) {
  auto with = [](const std::string& name, arrow::ArrayPtr col) {
    std::vector<std::string> names = {"action", "reward", "done"};
    std::vector<arrow::ArrayPtr> cols = {arrow::make_primitive<int64_t>(std::vector<int64_t>{1}),
                                         arrow::make_primitive<float>(std::vector<float>{0}),
                                         arrow::make_primitive<int64_t>(std::vector<int64_t>{0})};
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i] == name) cols[i] = col;
    }
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      names.push_back(name);
      cols.push_back(col);
    }
    return make_dataset(names, cols);
  };
  DatasetStore store(4, 4, 4, 4);
  EXPECT_THROW_MSG(store.encode_hf_rows(with("action", arrow::make_utf8({std::string("x")}))),
                   InvalidArgument, "column \"action\" has type string, which cannot convert to \"action\"");
  // A float integer column converts when whole (SPEC §3); 1.5 does not.
  EXPECT_THROW_MSG(store.encode_hf_rows(with("action", arrow::make_primitive<float>(std::vector<float>{1.5f}))),
                   InvalidArgument, "column \"action\" has the value 1.5 at row 0");
  EXPECT_THROW_MSG(store.encode_hf_rows(with("reward", arrow::make_utf8({std::string("x")}))),
                   InvalidArgument, "column \"reward\" has type string");
  EXPECT_THROW_MSG(store.encode_hf_rows(with("metadata_q_star", arrow::make_utf8({std::string("x")}))),
                   InvalidArgument, "\"metadata_q_star\"");
  EXPECT_THROW_MSG(store.encode_hf_rows(with("observation_discrete", arrow::make_utf8({std::string("x")}))),
                   InvalidArgument, "\"observation_discrete\"");
  EXPECT_THROW_MSG(store.encode_hf_rows(with("observation_image", arrow::make_utf8({std::string("x")}))),
                   InvalidArgument, "\"observation_image\"");
  // A disabled key does not look at its column.
  DatasetStore off(4);
  EXPECT_NO_THROW(off.encode_hf_rows(with("observation", arrow::make_utf8({std::string("x")}))));
}

TEST(ColumnContract, NullInRequiredColumnIsAnErrorNamingTheRow) {
  auto ds = make_dataset({"action", "reward", "done"},
                         {arrow::make_primitive<int64_t>(std::vector<int64_t>{1, 2}, {true, false}),
                          arrow::make_primitive<float>(std::vector<float>{0, 0}),
                          arrow::make_primitive<int64_t>(std::vector<int64_t>{0, 0})});
  EXPECT_THROW_MSG(DatasetStore().encode_hf_rows(ds), InvalidArgument,
                   "required column \"action\" is null at row 1");
}

TEST(ColumnContract, NumericConversionsFromEveryWidth) {
  auto ds = make_dataset(
      {"action", "reward", "done", "observation", "metadata_q_star"},
      {arrow::make_primitive<uint16_t>(std::vector<uint16_t>{65535}),
       arrow::make_float16(std::vector<uint16_t>{0x3C00}),  // 1.0
       arrow::make_primitive<int32_t>(std::vector<int32_t>{2}),
       arrow::make_primitive<int8_t>(std::vector<int8_t>{-3}),  // a scalar observation is [x]
       arrow::make_fixed_size_list(arrow::make_primitive<double>(std::vector<double>{0.5, 1e300}), 2)});
  TensorDict td = DatasetStore(3, 2).encode_hf_rows(ds);
  EXPECT_EQ(values_of<int64_t>(td.at("action")), (std::vector<int64_t>{65535}));
  EXPECT_EQ(values_of<float>(td.at("reward")), (std::vector<float>{1.0f}));
  EXPECT_EQ(values_of<double>(td.at("obs_continuous")), (std::vector<double>{-3, 0}));
  auto q = values_of<float>(td.at("q_star"));
  EXPECT_EQ(q[0], 0.5f);
  EXPECT_TRUE(std::isinf(q[1]) && q[1] > 0);  // float64 beyond float32 rounds to +inf
  EXPECT_EQ(q[2], kNegInf);
}

TEST(ColumnContract, KeySpecTableMatchesSpec) {
  const auto& specs = detail::key_specs();
  EXPECT_EQ(specs[static_cast<int>(detail::Key::kTime)].column, "episode_step");
  EXPECT_EQ(specs[static_cast<int>(detail::Key::kQStar)].column, "metadata_q_star");
  EXPECT_EQ(specs[static_cast<int>(detail::Key::kObsImage)].name, "obs_image");
  int required = 0;
  for (const auto& s : specs) required += s.required;
  EXPECT_EQ(required, 3);
}

}  // namespace
}  // namespace mouse
