// Lining datasets up by column name (merging stores and splits, SPEC §4): the union of the
// columns, widened types, nulls where a dataset lacks a column, and the encoder's fill for them.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "format/arrow/builders.hpp"
#include "mouse/dataset_store.hpp"
#include "mouse/error.hpp"
#include "mouse/hub.hpp"
#include "store_test_util.hpp"

namespace mouse {
namespace {

using test::make_dataset;

std::string what_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}

TEST(AlignColumns, UnionOfColumnsNullWhereMissingAndWidenedTypes) {
  const std::vector<int64_t> a_done = {0, 1};
  const Dataset a = make_dataset({"action", "done", "flag"},
                                 {arrow::make_primitive<int64_t>(std::vector<int64_t>{1, 2}),
                                  arrow::make_primitive<int64_t>(a_done),
                                  arrow::make_bool({true, false})});
  const Dataset b = make_dataset({"done", "action", "extra"},
                                 {arrow::make_bool({false, true, true}),
                                  arrow::make_primitive<int64_t>(std::vector<int64_t>{3, 4, 5}),
                                  arrow::make_primitive<double>(std::vector<double>{0.5, 1.5, 2.5})});
  const Dataset c = make_dataset({"action", "done", "flag"},
                                 {arrow::make_primitive<int64_t>(std::vector<int64_t>{6}),
                                  arrow::make_primitive<double>(std::vector<double>{2.0}),
                                  arrow::make_primitive<int64_t>(std::vector<int64_t>{7})});
  const std::vector<Dataset> parts = {a, b, c};
  const std::vector<Dataset> out = align_columns(parts);
  ASSERT_EQ(out.size(), 3u);
  const Dataset all = Dataset::concatenate(out);
  EXPECT_EQ(all.column_names(), (std::vector<std::string>{"action", "done", "flag", "extra"}));
  EXPECT_EQ(all.num_rows(), 6);
  // done: int64, bool and float64 -> float64; flag: bool and int64 -> int64.
  EXPECT_EQ(all.schema()->fields[1].type->to_string(), arrow::float64()->to_string());
  EXPECT_EQ(all.schema()->fields[2].type->to_string(), arrow::int64()->to_string());
  EXPECT_EQ(all.features().type_of("done"), "Value(float64)");
  EXPECT_EQ(all.features().type_of("flag"), "Value(int64)");
  const ChunkedColumn done = all.column("done");
  std::vector<double> got;
  for (const auto& chunk : done.chunks) {
    for (int64_t i = 0; i < chunk->length; ++i) got.push_back(arrow::values<double>(*chunk)[chunk->offset + i]);
  }
  EXPECT_EQ(got, (std::vector<double>{0, 1, 0, 1, 1, 2}));
  // extra is null in a's and c's rows, flag in b's.
  const ChunkedColumn extra = all.column("extra");
  EXPECT_FALSE(extra.chunks[0]->is_valid(0));
  EXPECT_TRUE(extra.chunks[1]->is_valid(0));
  EXPECT_FALSE(extra.chunks[2]->is_valid(0));
  EXPECT_FALSE(all.column("flag").chunks[1]->is_valid(2));
}

TEST(AlignColumns, DatasetsAlreadyInShapeAreReturnedAsTheyAre) {
  const Dataset a = test::step_dataset(10);
  const Dataset b = test::step_dataset(5, 100);
  const std::vector<Dataset> parts = {a, b};
  const std::vector<Dataset> out = align_columns(parts);
  // Same columns and types: the same record batches, no copy.
  EXPECT_EQ(out[0].batches()[0].columns[0].get(), a.batches()[0].columns[0].get());
  EXPECT_EQ(out[1].batches()[0].columns[0].get(), b.batches()[0].columns[0].get());
}

TEST(AlignColumns, TypesThatCannotLineUpAreAnErrorNamingTheColumn) {
  const Dataset a = make_dataset({"action", "note"},
                                 {arrow::make_primitive<int64_t>(std::vector<int64_t>{1}),
                                  arrow::make_primitive<double>(std::vector<double>{1.5})});
  const Dataset b = make_dataset({"action", "note"},
                                 {arrow::make_primitive<int64_t>(std::vector<int64_t>{2}),
                                  arrow::make_utf8({std::string("x")})});
  const std::vector<Dataset> parts = {a, b};
  const std::string what = what_of([&] { align_columns(parts); });
  EXPECT_NE(what.find("column \"note\""), std::string::npos) << what;
  EXPECT_NE(what.find("dataset 1"), std::string::npos) << what;
}

// A Hub-like store (q-values, episode steps, observations) merged with an online store that
// appended fewer columns: the online rows read back as SPEC §3's fill, not as zeros.
TEST(MergeStores, ColumnsOneStoreLacksAreNullAndEncodeAsTheirFill) {
  StoreConfig config;
  config.max_action_dim = 8;
  config.max_obs_continuous_dim = 3;
  DatasetStore hub(config);
  hub.from_dataset(test::step_dataset(6));
  DatasetStore online(config);
  for (int i = 0; i < 4; ++i) online.append(test::step_row(1, 0.5, i == 3 ? 1 : 0));
  const DatasetStore* stores[] = {&hub, &online};
  const Dataset merged = DatasetStore::merge_stores_to_dataset(stores);
  ASSERT_EQ(merged.num_rows(), 10);
  EXPECT_EQ(merged.column_names(), hub.to_dataset().column_names());
  DatasetStore back(config);
  back.from_dataset(merged);
  const std::vector<int64_t> rows = test::iota(10);
  const TensorDict td = back.get(rows);
  const auto time = test::values_of<int64_t>(td.at("time"));
  const auto q = test::values_of<float>(td.at("q_star"));
  const auto obs = test::values_of<double>(td.at("obs_continuous"));
  for (int64_t r = 6; r < 10; ++r) {
    EXPECT_EQ(time[static_cast<size_t>(r)], -1) << r;
    for (int64_t k = 0; k < 8; ++k) EXPECT_TRUE(std::isinf(q[static_cast<size_t>(r * 8 + k)])) << r;
    for (int64_t k = 0; k < 3; ++k) EXPECT_EQ(obs[static_cast<size_t>(r * 3 + k)], 0.0) << r;
  }
  EXPECT_EQ(time[5], 5);
}

TEST(SaveStoresToHub, SplitsWithDifferentColumnsAreLinedUpByName) {
  const test::TempDir tmp;
  const std::filesystem::path dir = tmp.path();
  StoreConfig config;
  config.max_action_dim = 8;
  DatasetStore train(config);
  train.from_dataset(test::step_dataset(8));
  DatasetStore test_split(config);
  for (int i = 0; i < 3; ++i) test_split.append(test::step_row(2, 1.0, 0));
  StoreConfigSplits splits{"default", {{"train", {&train}}, {"test", {&test_split}}}};
  ASSERT_TRUE(save_stores_to_hub_layout(splits, dir / "hub"));
  const DatasetDict dict = load_hub_layout(dir / "hub", {.cache_dir = dir / "cache"});
  ASSERT_EQ(dict.split_names(), (std::vector<std::string>{"train", "test"}));
  EXPECT_EQ(dict.at("test").column_names(), dict.at("train").column_names());
  EXPECT_EQ(dict.at("test").num_rows(), 3);
  EXPECT_FALSE(dict.at("test").column("episode_step").chunks[0]->is_valid(0));
  // Nothing to write: false, and no directory.
  DatasetStore empty(config);
  StoreConfigSplits none{"default", {{"train", {&empty}}}};
  EXPECT_FALSE(save_stores_to_hub_layout(none, dir / "none"));
  EXPECT_FALSE(std::filesystem::exists(dir / "none"));
}

}  // namespace
}  // namespace mouse
