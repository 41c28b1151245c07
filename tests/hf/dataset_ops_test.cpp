// Dataset in memory: from_batches, columns and locate, slice, select, concatenate, DatasetDict.
#include <gtest/gtest.h>

#include <numeric>

#include "hf_test_util.hpp"

namespace mouse {
namespace {

using test::json;

std::vector<json> rows_of(const Dataset& ds) { return test::dataset_rows(ds); }

TEST(DatasetFromBatches, CountsRowsAndKeepsBatchesZeroCopy) {
  Dataset ds = test::all_kinds_dataset(25, 10);
  EXPECT_EQ(ds.num_rows(), 25);
  EXPECT_EQ(ds.num_columns(), 20);
  EXPECT_EQ(ds.batches().size(), 3u);
  EXPECT_EQ(ds.features().type_of("img"), "Image()");
  EXPECT_EQ(ds.features().type_of("cls"), "ClassLabel(num_classes=3)");
  EXPECT_EQ(ds.features().type_of("fsl"), "Sequence(Value(float32), length=3)");
  EXPECT_EQ(ds.features().type_of("nested"), "Sequence(Sequence(Value(int32)))");
  EXPECT_EQ(ds.features().type_of("fsl_st"), "List({x: Value(float32)}, length=2)");
  EXPECT_TRUE(ds.data_files().empty());
  EXPECT_FALSE(ds.split().has_value());
  auto col = ds.column("i8");
  EXPECT_EQ(col.chunks[1].get(), ds.batches()[1].columns[0].get());
}

TEST(DatasetFromBatches, EmptyDatasetAndDefault) {
  Dataset empty;
  EXPECT_EQ(empty.num_rows(), 0);
  EXPECT_EQ(empty.num_columns(), 0);
  EXPECT_TRUE(empty.column_names().empty());
  Dataset none = test::all_kinds_dataset(0, 10);
  EXPECT_EQ(none.num_rows(), 0);
  EXPECT_EQ(none.num_columns(), 20);
  EXPECT_EQ(none.column("s").length(), 0);
}

TEST(DatasetFromBatches, RejectsBatchesThatDoNotFitTheSchema) {
  auto batch = test::all_kinds_batch(0, 4);
  auto other = arrow::make_batch({"x"}, {arrow::make_primitive<int32_t>(std::vector<int32_t>{1})});
  EXPECT_THROW_MSG(Dataset::from_batches(batch.schema, {other}), InvalidArgument,
                   "record batch 0 has 1 columns");
  auto wrong_type = batch;
  wrong_type.columns[0] = arrow::make_primitive<int64_t>(std::vector<int64_t>{1, 2, 3, 4});
  EXPECT_THROW_MSG(Dataset::from_batches(batch.schema, {wrong_type}), InvalidArgument,
                   "column \"i8\": has type int64, the schema says int8");
  auto short_col = batch;
  short_col.columns[0] = arrow::make_primitive<int8_t>(std::vector<int8_t>{1});
  EXPECT_THROW_MSG(Dataset::from_batches(batch.schema, {short_col}), InvalidArgument,
                   "has 1 rows");
  EXPECT_THROW_MSG(Dataset::from_batches(nullptr, {}), InvalidArgument, "schema is null");
}

TEST(DatasetFromBatches, FeaturesMustMatchTheSchema) {
  auto batch = arrow::make_batch({"x"}, {arrow::make_primitive<int32_t>(std::vector<int32_t>{1})});
  EXPECT_THROW_MSG(
      Dataset::from_batches(batch.schema, {batch},
                            Features::from_json(R"({"x": {"dtype": "int64", "_type": "Value"}})")),
      InvalidArgument, "column \"x\": features say Value(int64) (int64), the data has int32");
  EXPECT_THROW_MSG(
      Dataset::from_batches(batch.schema, {batch},
                            Features::from_json(R"({"y": {"dtype": "int32", "_type": "Value"}})")),
      InvalidArgument, "column \"x\" is in the data but not in the features");
}

TEST(DatasetFromBatches, UsesHuggingfaceSchemaMetadata) {
  auto batch = arrow::make_batch(
      {"label"}, {arrow::make_primitive<int64_t>(std::vector<int64_t>{0, 1})},
      {{"huggingface", R"({"info": {"features": {"label": {"names": ["a", "b"], "_type": "ClassLabel"}}}})"}});
  Dataset ds = Dataset::from_batches(batch.schema, {batch});
  EXPECT_EQ(ds.features().type_of("label"), "ClassLabel(num_classes=2)");
  auto bad = arrow::make_batch({"label"}, {arrow::make_primitive<int64_t>(std::vector<int64_t>{0})},
                               {{"huggingface", R"({"info": {"features": {"label": {"dtype": "string", "_type": "Value"}}}})"}});
  EXPECT_THROW_MSG(Dataset::from_batches(bad.schema, {bad}), FormatError, "column \"label\"");
  auto corrupt = arrow::make_batch({"label"}, {arrow::make_primitive<int64_t>(std::vector<int64_t>{0})},
                                   {{"huggingface", "{not json"}});
  EXPECT_THROW_MSG(Dataset::from_batches(corrupt.schema, {corrupt}), FormatError,
                   "schema metadata \"huggingface\"");
}

TEST(DatasetColumn, LocatesRowsAcrossChunksIncludingEmptyOnes) {
  auto b0 = test::all_kinds_batch(0, 3);
  auto empty = test::all_kinds_batch(3, 0);
  auto b2 = test::all_kinds_batch(3, 4);
  Dataset ds = Dataset::from_batches(b0.schema, {b0, empty, b2, empty});
  auto col = ds.column("u64");
  EXPECT_EQ(col.length(), 7);
  EXPECT_EQ(col.chunk_starts, (std::vector<int64_t>{0, 3, 3, 7, 7}));
  EXPECT_EQ(col.locate(0).chunk, 0u);
  EXPECT_EQ(col.locate(2).index, 2);
  EXPECT_EQ(col.locate(3).chunk, 2u);
  EXPECT_EQ(col.locate(3).index, 0);
  EXPECT_EQ(col.locate(6).chunk, 2u);
  EXPECT_EQ(col.locate(6).index, 3);
  EXPECT_THROW_MSG(col.locate(7), IndexError, "row 7 is out of range for column \"u64\" of 7 rows");
  EXPECT_THROW_MSG(col.locate(-1), IndexError, "row -1");
  EXPECT_EQ(col.field.name, "u64");
}

TEST(DatasetColumn, UnknownColumnIsKeyErrorListingColumns) {
  auto batch = arrow::make_batch({"a", "b"}, {arrow::make_primitive<int8_t>(std::vector<int8_t>{1}),
                                              arrow::make_primitive<int8_t>(std::vector<int8_t>{2})});
  Dataset ds = Dataset::from_batches(batch.schema, {batch});
  EXPECT_THROW_MSG(ds.column("c"), KeyError, "column \"c\" not found; available columns: [\"a\", \"b\"]");
}

TEST(DatasetSlice, IsZeroCopyAndSeesTheRightRows) {
  Dataset ds = test::all_kinds_dataset(35, 10);
  const auto all = rows_of(ds);
  Dataset s = ds.slice(7, 20);
  EXPECT_EQ(s.num_rows(), 20);
  EXPECT_EQ(s.batches().size(), 3u);
  const auto part = rows_of(s);
  for (size_t r = 0; r < part.size(); ++r) EXPECT_EQ(part[r], all[7 + r]) << r;
  // Same buffers as the source.
  EXPECT_EQ(s.batches()[0].columns[4]->buffers[1].data(), ds.batches()[0].columns[4]->buffers[1].data());
  // Slices of slices, empty slices, whole range.
  Dataset ss = s.slice(5, 3);
  const auto part2 = rows_of(ss);
  for (size_t r = 0; r < part2.size(); ++r) EXPECT_EQ(part2[r], all[12 + r]) << r;
  EXPECT_EQ(ds.slice(35, 0).num_rows(), 0);
  EXPECT_EQ(ds.slice(0, 35).batches().size(), 4u);
  EXPECT_TRUE(s.features() == ds.features());
}

TEST(DatasetSlice, BadRangesAreIndexErrors) {
  Dataset ds = test::all_kinds_dataset(10, 10);
  EXPECT_THROW_MSG(ds.slice(5, 6), IndexError, "slice [5, 11) is out of range for a dataset of 10 rows");
  EXPECT_THROW_MSG(ds.slice(-1, 2), IndexError, "slice [-1, 1)");
  EXPECT_THROW_MSG(ds.slice(11, 0), IndexError, "out of range");
  EXPECT_THROW_MSG(ds.slice(0, -1), IndexError, "out of range");
}

TEST(DatasetSelect, MaterializesRowsInOrderWithRepeats) {
  Dataset ds = test::all_kinds_dataset(45, 10);
  const auto all = rows_of(ds);
  const std::vector<int64_t> idx = {44, 0, 10, 11, 12, 9, 9, 30, 3, 21};
  Dataset sel = ds.select(idx);
  EXPECT_EQ(sel.num_rows(), 10);
  EXPECT_EQ(sel.batches().size(), 1u);
  EXPECT_TRUE(sel.features() == ds.features());
  EXPECT_EQ(sel.features().to_json(), ds.features().to_json());
  const auto got = rows_of(sel);
  for (size_t k = 0; k < idx.size(); ++k) EXPECT_EQ(got[k], all[static_cast<size_t>(idx[k])]) << k;
  // A copy: no buffer is shared with the source.
  EXPECT_NE(sel.batches()[0].columns[4]->buffers[1].owner(), ds.batches()[0].columns[4]->buffers[1].owner());
  // Select on a slice.
  Dataset s = ds.slice(5, 30);
  const std::vector<int64_t> idx2 = {0, 29, 15};
  const auto got2 = rows_of(s.select(idx2));
  EXPECT_EQ(got2[0], all[5]);
  EXPECT_EQ(got2[1], all[34]);
  EXPECT_EQ(got2[2], all[20]);
  EXPECT_EQ(ds.select({}).num_rows(), 0);
}

TEST(DatasetSelect, OutOfRangeIndexIsIndexError) {
  Dataset ds = test::all_kinds_dataset(10, 10);
  const std::vector<int64_t> big = {1, 10};
  EXPECT_THROW_MSG(ds.select(big), IndexError, "select: index 10 is out of range for a dataset of 10 rows");
  const std::vector<int64_t> negative = {-1};
  EXPECT_THROW_MSG(ds.select(negative), IndexError, "index -1");
}

TEST(DatasetConcatenate, AppendsRowsZeroCopy) {
  Dataset a = test::all_kinds_dataset(12, 5);
  Dataset b = test::all_kinds_dataset(7, 4).slice(2, 5);
  std::vector<Dataset> parts = {a, b, a};
  Dataset c = Dataset::concatenate(parts);
  EXPECT_EQ(c.num_rows(), 29);
  EXPECT_EQ(c.batches().size(), a.batches().size() * 2 + b.batches().size());
  const auto ra = rows_of(a), rb = rows_of(b), rc = rows_of(c);
  for (size_t r = 0; r < 12; ++r) EXPECT_EQ(rc[r], ra[r]);
  for (size_t r = 0; r < 5; ++r) EXPECT_EQ(rc[12 + r], rb[r]);
  for (size_t r = 0; r < 12; ++r) EXPECT_EQ(rc[17 + r], ra[r]);
  EXPECT_EQ(c.batches()[0].columns[0].get(), a.batches()[0].columns[0].get());
}

TEST(DatasetConcatenate, TheSameColumnsInAnotherOrderAlignByName) {
  auto kx = arrow::make_batch({"k", "x"}, {arrow::make_primitive<int8_t>(std::vector<int8_t>{1, 2}),
                                           arrow::make_primitive<int32_t>(std::vector<int32_t>{10, 20})});
  auto xk = arrow::make_batch({"x", "k"}, {arrow::make_primitive<int32_t>(std::vector<int32_t>{30}),
                                           arrow::make_primitive<int8_t>(std::vector<int8_t>{3})});
  std::vector<Dataset> parts = {Dataset::from_batches(kx.schema, {kx}),
                                Dataset::from_batches(xk.schema, {xk})};
  const Dataset c = Dataset::concatenate(parts);
  EXPECT_EQ(c.column_names(), (std::vector<std::string>{"k", "x"}));
  ASSERT_EQ(c.num_rows(), 3);
  EXPECT_EQ(c.batches()[1].columns[0].get(), xk.columns[1].get());  // zero-copy, moved by name
  EXPECT_EQ(c.batches()[1].columns[1].get(), xk.columns[0].get());
  // A reordered column of another type is still an error naming it.
  auto xk64 = arrow::make_batch({"x", "k"}, {arrow::make_primitive<int64_t>(std::vector<int64_t>{30}),
                                             arrow::make_primitive<int8_t>(std::vector<int8_t>{3})});
  std::vector<Dataset> bad = {parts[0], Dataset::from_batches(xk64.schema, {xk64})};
  EXPECT_THROW_MSG(Dataset::concatenate(bad), InvalidArgument, "column \"x\" is Value(int64)");
}

TEST(DatasetConcatenate, DifferentFeaturesAreInvalidArgumentNamingTheColumn) {
  auto x32 = arrow::make_batch({"k", "x"}, {arrow::make_primitive<int8_t>(std::vector<int8_t>{1}),
                                            arrow::make_primitive<int32_t>(std::vector<int32_t>{1})});
  auto x64 = arrow::make_batch({"k", "x"}, {arrow::make_primitive<int8_t>(std::vector<int8_t>{1}),
                                            arrow::make_primitive<int64_t>(std::vector<int64_t>{1})});
  auto y = arrow::make_batch({"k", "y"}, {arrow::make_primitive<int8_t>(std::vector<int8_t>{1}),
                                          arrow::make_primitive<int32_t>(std::vector<int32_t>{1})});
  std::vector<Dataset> types = {Dataset::from_batches(x32.schema, {x32}), Dataset::from_batches(x64.schema, {x64})};
  EXPECT_THROW_MSG(Dataset::concatenate(types), InvalidArgument,
                   "column \"x\" is Value(int64) (int64) in dataset 1 but Value(int32) (int32) in dataset 0");
  std::vector<Dataset> names = {Dataset::from_batches(x32.schema, {x32}), Dataset::from_batches(y.schema, {y})};
  EXPECT_THROW_MSG(Dataset::concatenate(names), InvalidArgument, "dataset 1 has column \"y\" at position 1");
  // Same storage, different feature: a ClassLabel is not a plain int64.
  auto lab = arrow::make_batch({"l"}, {arrow::make_primitive<int64_t>(std::vector<int64_t>{1})});
  std::vector<Dataset> labels = {
      Dataset::from_batches(lab.schema, {lab}),
      Dataset::from_batches(lab.schema, {lab}, Features::from_json(R"({"l": {"names": ["a", "b"], "_type": "ClassLabel"}})"))};
  EXPECT_THROW_MSG(Dataset::concatenate(labels), InvalidArgument, "column \"l\"");
  EXPECT_THROW_MSG(Dataset::concatenate({}), InvalidArgument, "no datasets");
}

TEST(DatasetDictInMemory, InsertReplaceAndLookup) {
  DatasetDict dict;
  dict.insert("train", test::all_kinds_dataset(5, 5));
  dict.insert("test", test::all_kinds_dataset(3, 5));
  dict.insert("train", test::all_kinds_dataset(4, 5));
  EXPECT_EQ(dict.split_names(), (std::vector<std::string>{"train", "test"}));
  EXPECT_EQ(dict.at("train").num_rows(), 4);
  EXPECT_THROW_MSG(dict.at("validation"), KeyError, "available splits: [\"train\", \"test\"]");
  EXPECT_THROW_MSG(dict.insert("a/b", Dataset()), InvalidArgument, "invalid split name \"a/b\"");
  EXPECT_THROW_MSG(dict.insert("", Dataset()), InvalidArgument, "invalid split name");
  EXPECT_THROW_MSG(dict.insert("..", Dataset()), InvalidArgument, "invalid split name");
}

}  // namespace
}  // namespace mouse
