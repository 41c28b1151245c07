// IPC stream writer: round trips through read_ipc for every type (nulls at each level, sliced
// arrays, empty and multiple batches, compression), the byte layout pyarrow produces, and
// error paths. The cross-implementation check against apache-arrow (JS) is in
// ipc_writer_oracle_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "format/arrow/builders.hpp"
#include "ipc_writer_test_util.hpp"
#include "mouse/arrow_ipc.hpp"
#include "mouse/error.hpp"
#include "test_support.hpp"

namespace {

using namespace mouse::arrow;
using mouse::test::every_type_batch;
using mouse::test::rows_json;
using mouse::test::StreamMessage;
using mouse::test::walk_stream;
using nlohmann::json;

IpcTable read_back(const std::vector<uint8_t>& bytes) {
  return read_ipc(mouse::Buffer::copy_of(bytes), "writer output");
}

void expect_same_schema(const Schema& ours, const Schema& theirs) {
  ASSERT_EQ(ours.fields.size(), theirs.fields.size());
  for (size_t i = 0; i < ours.fields.size(); ++i) {
    const Field& a = ours.fields[i];
    const Field& b = theirs.fields[i];
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.type->to_string(), b.type->to_string()) << a.name;
    EXPECT_TRUE(a.type->equals(*b.type)) << a.name;
    EXPECT_EQ(a.nullable, b.nullable) << a.name;
    EXPECT_EQ(a.metadata, b.metadata) << a.name;
  }
  EXPECT_EQ(ours.metadata, theirs.metadata);
}

// Writes `batches`, reads them back and compares schema, batch sizes, null counts and values.
void expect_round_trip(const std::vector<RecordBatch>& batches,
                       IpcCompression compression = IpcCompression::kNone) {
  ASSERT_FALSE(batches.empty());
  auto bytes = write_ipc_stream(batches.front().schema, batches, {compression});
  IpcTable table = read_back(bytes);
  expect_same_schema(*batches.front().schema, *table.schema);
  ASSERT_EQ(table.batches.size(), batches.size());
  for (size_t b = 0; b < batches.size(); ++b) {
    const RecordBatch& ours = batches[b];
    const RecordBatch& theirs = table.batches[b];
    ASSERT_EQ(theirs.num_rows, ours.num_rows) << "batch " << b;
    ASSERT_EQ(theirs.columns.size(), ours.columns.size());
    for (size_t c = 0; c < ours.columns.size(); ++c) {
      EXPECT_EQ(theirs.columns[c]->length, ours.num_rows);
      EXPECT_EQ(theirs.columns[c]->null_count, mouse::test::count_nulls(*ours.columns[c]))
          << "batch " << b << " column " << ours.schema->fields[c].name;
    }
    auto want = rows_json(ours);
    auto got = rows_json(theirs);
    ASSERT_EQ(got.size(), want.size());
    for (size_t r = 0; r < want.size(); ++r) {
      EXPECT_EQ(got[r], want[r]) << "batch " << b << " row " << r << "\n want " << want[r].dump()
                                 << "\n got  " << got[r].dump();
    }
  }
}

// A batch of a single column.
RecordBatch one_column(const std::string& name, ArrayPtr column) {
  return make_batch({name}, {std::move(column)});
}

// ---- round trips ------------------------------------------------------------------------------

class IpcWriterRoundTrip : public ::testing::TestWithParam<IpcCompression> {};

TEST_P(IpcWriterRoundTrip, EveryTypeWithNullsAtEachLevel) {
  expect_round_trip({every_type_batch()}, GetParam());
}

TEST_P(IpcWriterRoundTrip, EachColumnAlone) {
  RecordBatch all = every_type_batch();
  for (size_t c = 0; c < all.columns.size(); ++c) {
    SCOPED_TRACE(all.schema->fields[c].name);
    expect_round_trip({one_column(all.schema->fields[c].name, all.columns[c])}, GetParam());
  }
}

TEST_P(IpcWriterRoundTrip, SlicedArraysAtUnalignedOffsets) {
  RecordBatch all = every_type_batch();
  for (auto [start, length] : {std::pair<int64_t, int64_t>{3, 6}, {1, 9}, {8, 2}, {9, 1}}) {
    SCOPED_TRACE(testing::Message() << "slice " << start << "+" << length);
    expect_round_trip({mouse::test::view(all, start, length)}, GetParam());
  }
}

TEST_P(IpcWriterRoundTrip, SlicesMadeByArrayDataSlice) {
  RecordBatch all = every_type_batch();
  RecordBatch sliced{all.schema, 5, {}};
  for (const auto& c : all.columns) sliced.columns.push_back(c->slice(2, 5));
  expect_round_trip({sliced}, GetParam());
}

TEST_P(IpcWriterRoundTrip, EmptyBatches) {
  RecordBatch all = every_type_batch();
  expect_round_trip({mouse::test::view(all, 0, 0), mouse::test::view(all, 7, 0)}, GetParam());
}

TEST_P(IpcWriterRoundTrip, MultipleBatches) {
  RecordBatch all = every_type_batch();
  expect_round_trip({all, mouse::test::view(all, 3, 4), mouse::test::view(all, 0, 0), all},
                    GetParam());
}

TEST_P(IpcWriterRoundTrip, NestedChildrenWithOwnOffsets) {
  expect_round_trip({mouse::test::nested_views_batch()}, GetParam());
}

TEST_P(IpcWriterRoundTrip, LargeValuesSpanManyBitmapBytes) {
  std::vector<int32_t> values(1000);
  std::vector<bool> valid(1000);
  std::vector<bool> bits(1000);
  for (int i = 0; i < 1000; ++i) {
    values[static_cast<size_t>(i)] = i * 7;
    valid[static_cast<size_t>(i)] = i % 3 != 0;
    bits[static_cast<size_t>(i)] = i % 5 == 0;
  }
  auto batch =
      make_batch({"i", "b"}, {make_primitive<int32_t>(values, valid), make_bool(bits, valid)});
  expect_round_trip({batch, mouse::test::view(batch, 13, 901)}, GetParam());
}

INSTANTIATE_TEST_SUITE_P(Compression, IpcWriterRoundTrip,
                         ::testing::Values(IpcCompression::kNone, IpcCompression::kLz4Frame,
                                           IpcCompression::kZstd),
                         [](const auto& info) {
                           switch (info.param) {
                             case IpcCompression::kNone:
                               return std::string("None");
                             case IpcCompression::kLz4Frame:
                               return std::string("Lz4Frame");
                             case IpcCompression::kZstd:
                               return std::string("Zstd");
                           }
                           return std::string("Unknown");
                         });

TEST(IpcWriter, SchemaOnlyStreamHasNoBatches) {
  auto batch = every_type_batch();
  auto bytes = write_ipc_stream(batch.schema, {});
  IpcTable table = read_back(bytes);
  expect_same_schema(*batch.schema, *table.schema);
  EXPECT_TRUE(table.batches.empty());
}

TEST(IpcWriter, IncrementalWriterMatchesConvenienceFunction) {
  auto batch = every_type_batch();
  std::vector<uint8_t> streamed;
  std::vector<size_t> chunk_sizes;
  IpcStreamWriter writer(
      [&](std::span<const uint8_t> bytes) {
        chunk_sizes.push_back(bytes.size());
        streamed.insert(streamed.end(), bytes.begin(), bytes.end());
      },
      batch.schema);
  const int64_t after_schema = writer.bytes_written();
  EXPECT_GT(after_schema, 0);
  EXPECT_EQ(after_schema, static_cast<int64_t>(streamed.size()));
  writer.write(batch);
  writer.write(batch);
  writer.finish();
  writer.finish();  // idempotent
  EXPECT_EQ(writer.bytes_written(), static_cast<int64_t>(streamed.size()));
  EXPECT_EQ(std::count(chunk_sizes.begin(), chunk_sizes.end(), 0u), 0) << "empty sink calls";
  std::vector<RecordBatch> two = {batch, batch};
  EXPECT_EQ(streamed, write_ipc_stream(batch.schema, two));
}

// ---- byte layout ------------------------------------------------------------------------------

TEST(IpcWriterLayout, FramingSchemaMessageAndEndOfStream) {
  auto batch = every_type_batch();
  std::vector<RecordBatch> batches = {batch};
  auto bytes = write_ipc_stream(batch.schema, batches);
  ASSERT_GE(bytes.size(), 16u);
  EXPECT_EQ(std::vector<uint8_t>(bytes.begin(), bytes.begin() + 4),
            (std::vector<uint8_t>{0xFF, 0xFF, 0xFF, 0xFF}));
  EXPECT_EQ(std::vector<uint8_t>(bytes.end() - 8, bytes.end()),
            (std::vector<uint8_t>{0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0}));
  EXPECT_EQ(bytes.size() % 8, 0u);
  auto messages = walk_stream(bytes);
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0].header_type, 1);  // Schema
  EXPECT_EQ(messages[0].body_length, 0);
  EXPECT_EQ(messages[1].header_type, 3);  // RecordBatch
  for (const StreamMessage& m : messages) {
    EXPECT_EQ(m.version, 4) << "metadata V5";
    EXPECT_EQ((8 + m.metadata_length) % 8, 0) << "metadata padded to 8 bytes";
    EXPECT_EQ(m.body_position % 8, 0);
    EXPECT_EQ(m.body_length % 8, 0);
  }
}

TEST(IpcWriterLayout, BuffersAlignedExactAndValidityOmittedWithoutNulls) {
  auto batch = every_type_batch();
  std::vector<RecordBatch> batches = {batch, mouse::test::view(batch, 3, 5)};
  auto bytes = write_ipc_stream(batch.schema, batches);
  auto messages = walk_stream(bytes);
  ASSERT_EQ(messages.size(), 3u);
  for (size_t k = 1; k < messages.size(); ++k) {
    const StreamMessage& m = messages[k];
    EXPECT_EQ(m.compression, nullptr);
    int64_t running = 0;
    for (const auto& b : m.buffers) {
      EXPECT_EQ(b.first % 8, 0) << "buffer offset";
      EXPECT_EQ(b.first, running) << "buffers follow each other with minimal padding";
      running = b.first + ((b.second + 7) & ~int64_t{7});
    }
    EXPECT_EQ(running, m.body_length);
  }
  // Null column: node (10, 10) and no buffers; bool column with nulls: bitmap of 2 bytes;
  // bool_nonull: validity omitted (length 0), values 2 bytes; int8 with nulls: 10 bytes.
  const StreamMessage& m = messages[1];
  ASSERT_GE(m.nodes.size(), 4u);
  EXPECT_EQ(m.nodes[0], (mouse::test::FbPair{10, 10}));
  EXPECT_EQ(m.nodes[1], (mouse::test::FbPair{10, 3}));
  EXPECT_EQ(m.nodes[2], (mouse::test::FbPair{10, 0}));
  ASSERT_GE(m.buffers.size(), 6u);
  EXPECT_EQ(m.buffers[0], (mouse::test::FbPair{0, 2}));    // bool validity
  EXPECT_EQ(m.buffers[1], (mouse::test::FbPair{8, 2}));    // bool values
  EXPECT_EQ(m.buffers[2], (mouse::test::FbPair{16, 0}));   // bool_nonull validity omitted
  EXPECT_EQ(m.buffers[3], (mouse::test::FbPair{16, 2}));   // bool_nonull values
  EXPECT_EQ(m.buffers[4], (mouse::test::FbPair{24, 2}));   // int8 validity
  EXPECT_EQ(m.buffers[5], (mouse::test::FbPair{32, 10}));  // int8 values, unpadded length
}

TEST(IpcWriterLayout, SimpleInt64ColumnMatchesPyarrowBytes) {
  auto batch = one_column("x", make_primitive<int64_t>(std::vector<int64_t>{1, 2, 3}));
  std::vector<RecordBatch> batches = {batch};
  auto bytes = write_ipc_stream(batch.schema, batches);
  auto messages = walk_stream(bytes);
  ASSERT_EQ(messages.size(), 2u);
  const StreamMessage& m = messages[1];
  EXPECT_EQ(m.length, 3);
  EXPECT_EQ(m.nodes, (std::vector<mouse::test::FbPair>{{3, 0}}));
  EXPECT_EQ(m.buffers, (std::vector<mouse::test::FbPair>{{0, 0}, {0, 24}}));
  EXPECT_EQ(m.body_length, 24);
  const uint8_t* body = bytes.data() + m.body_position;
  int64_t v[3];
  std::memcpy(v, body, 24);
  EXPECT_EQ(v[0], 1);
  EXPECT_EQ(v[2], 3);
}

TEST(IpcWriterLayout, SlicedValuesAreRebased) {
  auto col = make_utf8({"aa", "b", std::nullopt, "cccc", "dd"});
  auto batch = one_column("s", mouse::test::view(col, 3, 2));
  std::vector<RecordBatch> batches = {batch};
  auto bytes = write_ipc_stream(batch.schema, batches);
  auto messages = walk_stream(bytes);
  ASSERT_EQ(messages.size(), 2u);
  const StreamMessage& m = messages[1];
  ASSERT_EQ(m.buffers.size(), 3u);
  EXPECT_EQ(m.buffers[0].second, 0) << "no nulls in the slice: validity omitted";
  EXPECT_EQ(m.buffers[1].second, 12);
  EXPECT_EQ(m.buffers[2].second, 6);
  int32_t offsets[3];
  std::memcpy(offsets, bytes.data() + m.body_position + m.buffers[1].first, 12);
  EXPECT_EQ(offsets[0], 0);
  EXPECT_EQ(offsets[1], 4);
  EXPECT_EQ(offsets[2], 6);
  EXPECT_EQ(
      std::string(
          reinterpret_cast<const char*>(bytes.data() + m.body_position + m.buffers[2].first), 6),
      "ccccdd");
}

TEST(IpcWriterLayout, CompressedBodyHasLengthPrefixesAndBodyCompression) {
  std::vector<int64_t> values(500, 7);
  auto batch = one_column("x", make_primitive<int64_t>(values));
  std::vector<RecordBatch> batches = {batch};
  for (IpcCompression codec : {IpcCompression::kLz4Frame, IpcCompression::kZstd}) {
    auto bytes = write_ipc_stream(batch.schema, batches, {codec});
    auto messages = walk_stream(bytes);
    ASSERT_EQ(messages.size(), 2u);
    const StreamMessage& m = messages[1];
    ASSERT_NE(m.compression, nullptr);
    EXPECT_EQ(m.compression->GetField<int8_t>(mouse::test::fb_slot(0), 0),
              codec == IpcCompression::kLz4Frame ? 0 : 1);
    ASSERT_EQ(m.buffers.size(), 2u);
    EXPECT_EQ(m.buffers[0].second, 0) << "empty buffers stay empty";
    ASSERT_GT(m.buffers[1].second, 8);
    EXPECT_LT(m.buffers[1].second, 4000) << "compressed";
    int64_t uncompressed;
    std::memcpy(&uncompressed, bytes.data() + m.body_position + m.buffers[1].first, 8);
    EXPECT_EQ(uncompressed, 4000);
  }
}

// ---- errors -----------------------------------------------------------------------------------

template <class F>
void expect_invalid(F&& f, const std::string& substring) {
  try {
    f();
    ADD_FAILURE() << "no exception; expected InvalidArgument with \"" << substring << "\"";
  } catch (const mouse::InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find(substring), std::string::npos) << e.what();
  }
}

struct Discard {
  void operator()(std::span<const uint8_t>) const {}
};

TEST(IpcWriterErrors, WrongColumnCount) {
  auto batch = make_batch({"a", "b"}, {make_primitive<int32_t>(std::vector<int32_t>{1}),
                                       make_primitive<int32_t>(std::vector<int32_t>{2})});
  IpcStreamWriter writer(Discard{}, batch.schema);
  RecordBatch bad = batch;
  bad.columns.pop_back();
  expect_invalid([&] { writer.write(bad); }, "has 1 columns, schema has 2");
}

TEST(IpcWriterErrors, WrongColumnType) {
  auto batch = one_column("a", make_primitive<int32_t>(std::vector<int32_t>{1}));
  IpcStreamWriter writer(Discard{}, batch.schema);
  RecordBatch bad = batch;
  bad.columns[0] = make_primitive<int64_t>(std::vector<int64_t>{1});
  expect_invalid([&] { writer.write(bad); }, "column \"a\": has type int64, schema says int32");
}

TEST(IpcWriterErrors, WrongColumnLength) {
  auto batch = one_column("a", make_primitive<int32_t>(std::vector<int32_t>{1, 2}));
  IpcStreamWriter writer(Discard{}, batch.schema);
  RecordBatch bad = batch;
  bad.num_rows = 3;
  expect_invalid([&] { writer.write(bad); }, "has 2 rows");
}

TEST(IpcWriterErrors, BuffersTooSmall) {
  auto col = std::make_shared<ArrayData>(*make_primitive<int32_t>(std::vector<int32_t>{1, 2}));
  col->length = 5;
  auto batch = one_column("a", col);
  IpcStreamWriter writer(Discard{}, batch.schema);
  expect_invalid([&] { writer.write(batch); }, "values buffer needs 20 bytes, has 8");
}

TEST(IpcWriterErrors, OffsetsOutsideTheChild) {
  auto list = std::make_shared<ArrayData>(
      *make_list(std::vector<int64_t>{0, 2}, make_primitive<int8_t>(std::vector<int8_t>{1, 2})));
  auto shorter = std::make_shared<ArrayData>(*list->children[0]);
  shorter->length = 1;
  list->children[0] = shorter;
  auto batch = one_column("l", list);
  IpcStreamWriter writer(Discard{}, batch.schema);
  expect_invalid([&] { writer.write(batch); }, "offsets [0, 2] do not fit");
}

TEST(IpcWriterErrors, WriteAfterFinish) {
  auto batch = one_column("a", make_primitive<int32_t>(std::vector<int32_t>{1}));
  IpcStreamWriter writer(Discard{}, batch.schema);
  writer.write(batch);
  writer.finish();
  expect_invalid([&] { writer.write(batch); }, "after finish");
}

TEST(IpcWriterErrors, FailingSinkBreaksTheStream) {
  auto batch = one_column("a", make_primitive<int32_t>(std::vector<int32_t>{1}));
  bool armed = false;
  int calls = 0;
  IpcStreamWriter writer(
      [&](std::span<const uint8_t>) {
        // Fail on the second piece of the batch message, after its prefix went out.
        if (armed && ++calls == 2) throw mouse::IoError("disk full");
      },
      batch.schema);
  armed = true;
  EXPECT_THROW(writer.write(batch), mouse::IoError);
  try {
    writer.write(batch);
    ADD_FAILURE() << "write on a broken stream succeeded";
  } catch (const mouse::Error& e) {
    EXPECT_NE(std::string(e.what()).find("failed midway"), std::string::npos) << e.what();
  }
  EXPECT_THROW(writer.finish(), mouse::Error);
}

TEST(IpcWriterBuilders, RejectInconsistentInput) {
  auto ints = make_primitive<int32_t>(std::vector<int32_t>{1, 2, 3});
  expect_invalid(
      [&] {
        make_primitive<int32_t>(std::vector<int32_t>{1, 2}, {true});
      },
      "validity has 1 entries, expected 2");
  expect_invalid([&] { make_list(std::vector<int64_t>{0, 2, 1}, ints); }, "non-decreasing");
  expect_invalid([&] { make_list(std::vector<int64_t>{0, 4}, ints); }, "offset 1 is 4");
  expect_invalid([&] { make_fixed_size_list(ints, 2); }, "not a multiple of list size 2");
  expect_invalid([&] { make_struct({"a", "b"}, {ints}); }, "2 names for 1 children");
  expect_invalid(
      [&] {
        make_struct({"a", "b"}, {ints, make_null(2)});
      },
      "child \"b\" has 2 elements, expected 3");
  expect_invalid(
      [&] {
        make_batch({"a", "b"}, {ints, make_null(2)});
      },
      "column \"b\" has 2 rows, expected 3");
}

TEST(IpcWriterBuilders, BuildExactNullCountsAndOmitAllValidBitmaps) {
  auto a = make_utf8({"x", std::nullopt, ""});
  EXPECT_EQ(a->null_count, 1);
  EXPECT_FALSE(a->buffers[0].empty());
  EXPECT_EQ(mouse::test::value_json(*a, 2), "");
  auto b = make_bool({true, false}, {true, true});
  EXPECT_EQ(b->null_count, 0);
  EXPECT_TRUE(b->buffers[0].empty());
  auto n = make_null(4);
  EXPECT_EQ(n->null_count, 4);
  EXPECT_EQ(n->type->id, TypeId::kNull);
  auto s = make_struct({}, {}, {}, 5);
  EXPECT_EQ(s->length, 5);
  EXPECT_EQ(s->type->to_string(), "struct<>");
  auto f = make_fixed_size_list(make_primitive<float>(std::vector<float>{}), 0, {true, false});
  EXPECT_EQ(f->length, 2);
  EXPECT_EQ(f->null_count, 1);
}

TEST(IpcWriterErrors, NullSchemaOrSink) {
  auto batch = one_column("a", make_primitive<int32_t>(std::vector<int32_t>{1}));
  expect_invalid([&] { IpcStreamWriter w(Discard{}, nullptr); }, "no schema");
  expect_invalid([&] { IpcStreamWriter w(nullptr, batch.schema); }, "no sink");
}

}  // namespace
