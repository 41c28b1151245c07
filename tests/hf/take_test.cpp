// The take / concatenate kernels over every Arrow type, with nulls, sliced and chunked inputs.
#include <gtest/gtest.h>

#include "format/arrow/take.hpp"
#include "hf_test_util.hpp"

namespace mouse {
namespace {

using test::value_json;

int64_t count_nulls(const arrow::ArrayData& a) {
  int64_t n = 0;
  for (int64_t i = 0; i < a.length; ++i) n += a.is_valid(i) ? 0 : 1;
  return n;
}

// The result is a well-formed, offset-0 array whose element k is source[indices[k]].
void expect_taken(const arrow::ArrayData& source, std::span<const int64_t> indices,
                  const arrow::ArrayPtr& out, const std::string& what) {
  ASSERT_TRUE(out) << what;
  ASSERT_EQ(out->length, static_cast<int64_t>(indices.size())) << what;
  EXPECT_EQ(out->offset, 0) << what;
  EXPECT_TRUE(out->type->equals(*source.type)) << what;
  EXPECT_NO_THROW(arrow::validate(*out, what, true)) << what;
  EXPECT_EQ(out->null_count, count_nulls(*out)) << what;
  if (out->type->id != arrow::TypeId::kNull && out->null_count == 0) {
    EXPECT_TRUE(out->buffers[0].empty()) << what << ": validity kept without nulls";
  }
  for (size_t k = 0; k < indices.size(); ++k) {
    EXPECT_EQ(value_json(*out, static_cast<int64_t>(k)), value_json(source, indices[k]))
        << what << " element " << k << " (source index " << indices[k] << ")";
  }
}

TEST(Take, GathersEveryTypeWithNulls) {
  auto batch = test::all_kinds_batch(0, 40);
  const std::vector<int64_t> idx = {39, 0, 5, 5, 12, 13, 14, 3, 7, 20, 11, 9, 27, 23};
  for (size_t c = 0; c < batch.columns.size(); ++c) {
    expect_taken(*batch.columns[c], idx, arrow::take(batch.columns[c], idx),
                 batch.schema->fields[c].name);
  }
}

TEST(Take, ContiguousAndEmptySelections) {
  auto batch = test::all_kinds_batch(0, 30);
  std::vector<int64_t> run;
  for (int64_t i = 5; i < 25; ++i) run.push_back(i);
  for (size_t c = 0; c < batch.columns.size(); ++c) {
    const auto& name = batch.schema->fields[c].name;
    expect_taken(*batch.columns[c], run, arrow::take(batch.columns[c], run), name + " run");
    expect_taken(*batch.columns[c], {}, arrow::take(batch.columns[c], {}), name + " empty");
  }
}

TEST(Take, RespectsOffsetsOfSlicedInputs) {
  auto batch = test::all_kinds_batch(0, 50);
  const std::vector<int64_t> idx = {0, 19, 3, 4, 5, 11, 18};
  for (size_t c = 0; c < batch.columns.size(); ++c) {
    const auto& name = batch.schema->fields[c].name;
    auto sliced = batch.columns[c]->slice(7, 20);
    expect_taken(*sliced, idx, arrow::take(sliced, idx), name + " sliced");
    // A slice of a slice.
    auto twice = sliced->slice(3, 10);
    const std::vector<int64_t> idx2 = {9, 0, 4};
    expect_taken(*twice, idx2, arrow::take(twice, idx2), name + " sliced twice");
  }
}

TEST(Take, RangesAcrossChunks) {
  auto b0 = test::all_kinds_batch(0, 10);
  auto b1 = test::all_kinds_batch(10, 30);
  const std::vector<arrow::TakeRange> ranges = {{1, 2, 5}, {0, 8, 2}, {1, 0, 0}, {0, 0, 1}, {1, 19, 1}};
  for (size_t c = 0; c < b0.columns.size(); ++c) {
    const auto& name = b0.schema->fields[c].name;
    std::vector<arrow::ArrayPtr> chunks = {b0.columns[c], b1.columns[c]->slice(5, 20)};
    auto out = arrow::take_ranges(b0.schema->fields[c].type, chunks, ranges);
    ASSERT_EQ(out->length, 9) << name;
    EXPECT_NO_THROW(arrow::validate(*out, name, true));
    int64_t k = 0;
    for (const auto& r : ranges) {
      for (int64_t i = 0; i < r.length; ++i, ++k) {
        EXPECT_EQ(value_json(*out, k), value_json(*chunks[static_cast<size_t>(r.chunk)], r.start + i))
            << name << " element " << k;
      }
    }
  }
}

TEST(Take, ConcatenatesChunks) {
  auto b0 = test::all_kinds_batch(0, 13);
  auto b1 = test::all_kinds_batch(13, 17);
  for (size_t c = 0; c < b0.columns.size(); ++c) {
    const auto& name = b0.schema->fields[c].name;
    std::vector<arrow::ArrayPtr> chunks = {b0.columns[c]->slice(3, 10), b1.columns[c]};
    auto out = arrow::concatenate_arrays(b0.schema->fields[c].type, chunks);
    ASSERT_EQ(out->length, 27) << name;
    for (int64_t i = 0; i < 27; ++i) {
      const auto& src = i < 10 ? *chunks[0] : *chunks[1];
      EXPECT_EQ(value_json(*out, i), value_json(src, i < 10 ? i : i - 10)) << name << " " << i;
    }
  }
}

TEST(Take, OutOfRangeIndexIsIndexError) {
  auto a = arrow::make_primitive<int32_t>(std::vector<int32_t>{1, 2, 3});
  const std::vector<int64_t> bad = {0, 3};
  EXPECT_THROW_MSG(arrow::take(a, bad), IndexError, "index 3 is out of range for an array of length 3");
  const std::vector<int64_t> negative = {-1};
  EXPECT_THROW_MSG(arrow::take(a, negative), IndexError, "index -1");
  std::vector<arrow::ArrayPtr> chunks = {a};
  const std::vector<arrow::TakeRange> r = {{0, 2, 2}};
  EXPECT_THROW_MSG(arrow::take_ranges(arrow::int32(), chunks, r), IndexError, "[2, 4)");
  const std::vector<arrow::TakeRange> c = {{1, 0, 1}};
  EXPECT_THROW_MSG(arrow::take_ranges(arrow::int32(), chunks, c), IndexError, "chunk 1");
}

TEST(Take, ChunksOfAnotherTypeAreRejected) {
  std::vector<arrow::ArrayPtr> chunks = {arrow::make_primitive<int32_t>(std::vector<int32_t>{1}),
                                         arrow::make_primitive<int64_t>(std::vector<int64_t>{1})};
  EXPECT_THROW_MSG(arrow::concatenate_arrays(arrow::int32(), chunks), InvalidArgument,
                   "chunk 1 has type int64, expected int32");
}

TEST(Take, CorruptOffsetsAreFormatErrors) {
  auto good = arrow::make_utf8({std::string("ab"), std::string("cd")});
  auto bad = std::make_shared<arrow::ArrayData>(*good);
  // Offsets {0, 2, 9}: the last one points past the 4 data bytes.
  Buffer offsets = Buffer::allocate(12);
  const int32_t o[] = {0, 2, 9};
  std::memcpy(offsets.mutable_data(), o, sizeof o);
  bad->buffers[1] = offsets;
  const std::vector<int64_t> idx = {1};
  EXPECT_THROW_MSG(arrow::take(bad, idx), FormatError, "do not fit");
}

}  // namespace
}  // namespace mouse
