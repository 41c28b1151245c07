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

TEST(AppendWidening, FloatDoesNotWidenBoolOrStringColumns) {
  DatasetStore store(2);
  StepRow r0 = step_row(0, 0, 0);
  r0["flag"] = true;
  r0["note"] = "a";
  store.append(r0);
  StepRow bad = step_row(1, 0, 0);
  bad["flag"] = 0.5;
  EXPECT_THROW_MSG(store.append(bad), TypeError, "column \"flag\": the column has type bool");
  StepRow bad_note = step_row(1, 0, 0);
  bad_note["note"] = 0.5;
  EXPECT_THROW_MSG(store.append(bad_note), TypeError, "column \"note\"");
  EXPECT_EQ(store.size(), 1);
  EXPECT_EQ(type_of(store.to_dataset(), "flag"), "bool");
}

}  // namespace
}  // namespace mouse
