// The Parquet writer: round trips through our reader for every supported type, codec and
// encoding choice; files we write are read value for value by DuckDB and by parquet-wasm
// (arrow-rs); files DuckDB writes (each codec, dictionary on/off, page v1/v2, nested lists and
// nulls) are read by us value for value.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <tuple>
#include <vector>

#include "format/arrow/builders.hpp"
#include "mouse/error.hpp"
#include "mouse/parquet.hpp"
#include "parquet_test_util.hpp"
#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
namespace pq = mouse::parquet;
using namespace mouse::arrow;
using nlohmann::json;


// Every type the writer supports, with nulls at each nesting level, in `n` rows.
RecordBatch every_type_batch(int64_t n, int64_t seed = 0) {
  std::vector<int8_t> i8;
  std::vector<int16_t> i16;
  std::vector<int32_t> i32;
  std::vector<int64_t> i64;
  std::vector<uint8_t> u8;
  std::vector<uint16_t> u16;
  std::vector<uint32_t> u32;
  std::vector<uint64_t> u64;
  std::vector<float> f32;
  std::vector<double> f64;
  std::vector<uint16_t> f16;
  std::vector<bool> b, valid;
  std::vector<std::optional<std::string>> s, bin;
  for (int64_t k = 0; k < n; ++k) {
    const int64_t i = k + seed;
    i8.push_back(static_cast<int8_t>(i * 37 - 128));
    i16.push_back(static_cast<int16_t>(i * 1231 - 30000));
    i32.push_back(static_cast<int32_t>(i * 104729 - 1000000000));
    i64.push_back(i * 1000003 - 4000000000000LL);
    u8.push_back(static_cast<uint8_t>(200 + i % 50));
    u16.push_back(static_cast<uint16_t>(60000 + i % 5000));
    u32.push_back(static_cast<uint32_t>(4000000000u + static_cast<uint32_t>(i)));
    u64.push_back(uint64_t{1} << 52 | static_cast<uint64_t>(i));
    f32.push_back(i % 11 == 5 ? -0.0f : static_cast<float>(i) * 0.37f - 3.0f);
    f64.push_back(i % 13 == 7 ? std::nan("") : static_cast<double>(i) / 3.0);
    f16.push_back(static_cast<uint16_t>(0x3c00 + (i % 7) * 0x100));  // 1.0, 2.0, 4.0, ...
    b.push_back(i % 3 == 0);
    valid.push_back(i % 5 != 2);
    s.push_back(i % 4 == 1 ? std::nullopt : std::optional<std::string>("s" + std::to_string(i % 9) + (i % 2 ? "é" : "")));
    bin.push_back(i % 6 == 3 ? std::nullopt : std::optional<std::string>(std::string("\0\x01\xff", 3) + std::to_string(i)));
  }
  // list<int32>: null lists, empty lists, null items.
  std::vector<int64_t> offs{0};
  std::vector<int32_t> items;
  std::vector<bool> item_valid, list_valid;
  for (int64_t k = 0; k < n; ++k) {
    const int64_t i = k + seed;
    list_valid.push_back(i % 7 != 3);
    int len = i % 7 == 3 ? 0 : static_cast<int>(i % 4);
    for (int j = 0; j < len; ++j) {
      items.push_back(static_cast<int32_t>(i * 10 + j));
      item_valid.push_back((i + j) % 5 != 1);
    }
    offs.push_back(static_cast<int64_t>(items.size()));
  }
  auto list_i32 = make_list(offs, make_primitive<int32_t>(items, item_valid), list_valid);
  // list<list<string>> (non-null outer items).
  std::vector<int64_t> outer{0}, inner{0};
  std::vector<std::optional<std::string>> words;
  std::vector<bool> inner_valid;
  for (int64_t k = 0; k < n; ++k) {
    const int64_t i = k + seed;
    for (int a = 0; a < static_cast<int>(i % 3); ++a) {
      inner_valid.push_back((i + a) % 4 != 2);
      for (int c = 0; c < (inner_valid.back() ? static_cast<int>((i + a) % 3) : 0); ++c) {
        words.push_back((i + c) % 5 == 4 ? std::nullopt : std::optional<std::string>("w" + std::to_string(i + c)));
      }
      inner.push_back(static_cast<int64_t>(words.size()));
    }
    outer.push_back(static_cast<int64_t>(inner.size()) - 1);
  }
  auto lls = make_list(outer, make_list(inner, make_utf8(words), inner_valid));
  // struct<a: int64, b: string, c: list<float>> with null structs.
  std::vector<int64_t> sa, so{0};
  std::vector<std::optional<std::string>> sb;
  std::vector<float> sc;
  std::vector<bool> struct_valid;
  for (int64_t k = 0; k < n; ++k) {
    const int64_t i = k + seed;
    struct_valid.push_back(i % 6 != 4);
    sa.push_back(i * 3);
    sb.push_back(i % 2 ? std::optional<std::string>("b" + std::to_string(i)) : std::nullopt);
    for (int j = 0; j < static_cast<int>(i % 3); ++j) sc.push_back(static_cast<float>(j) + 0.5f);
    so.push_back(static_cast<int64_t>(sc.size()));
  }
  auto st = make_struct({"a", "b", "c"}, {make_primitive<int64_t>(sa), make_utf8(sb), make_list(so, make_primitive<float>(sc))},
                        struct_valid);
  // fixed_size_list<float>[3] (HF Sequence(length=3)).
  std::vector<float> fs;
  for (int64_t k = 0; k < n * 3; ++k) fs.push_back(static_cast<float>(k + seed) * 0.25f);
  auto fsl = make_fixed_size_list(make_primitive<float>(fs), 3);
  return make_batch(
      {"i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "f16", "f32", "f64", "bool", "str", "large_str", "bin",
       "list_i32", "list_list_str", "struct", "fsl"},
      {make_primitive<int8_t>(i8), make_primitive<int16_t>(i16, valid), make_primitive<int32_t>(i32),
       make_primitive<int64_t>(i64, valid), make_primitive<uint8_t>(u8), make_primitive<uint16_t>(u16),
       make_primitive<uint32_t>(u32, valid), make_primitive<uint64_t>(u64), make_float16(f16, valid),
       make_primitive<float>(f32), make_primitive<double>(f64, valid), make_bool(b, valid), make_utf8(s),
       make_utf8(s, true), make_binary(bin), list_i32, lls, st, fsl},
      {{"huggingface", R"({"info": {"features": {}}})"}});
}

std::vector<json> rows_of(const std::vector<RecordBatch>& batches) {
  pq::Table t;
  t.schema = batches.front().schema;
  t.batches = batches;
  return mouse::test::pq_rows(t);
}

using Params = std::tuple<pq::Compression, bool>;

class ParquetWriterRoundTrip : public ::testing::TestWithParam<Params> {};

TEST_P(ParquetWriterRoundTrip, OurReaderGetsBackEveryValue) {
  auto [compression, dictionary] = GetParam();
  std::vector<RecordBatch> batches = {every_type_batch(300), every_type_batch(77, 300), every_type_batch(0)};
  pq::WriteOptions o;
  o.compression = compression;
  o.dictionary = dictionary;
  o.row_group_rows = 128;  // several row groups, cut inside batches
  o.page_bytes = 256;      // several pages per chunk
  auto bytes = pq::write_parquet(batches.front().schema, batches, o);
  mouse::Buffer buf = mouse::Buffer::copy_of(bytes);
  pq::Table t = pq::read_parquet(buf, "roundtrip.parquet");
  EXPECT_EQ(t.num_rows(), 377);
  EXPECT_EQ(t.batches.size(), 3u);
  EXPECT_EQ(t.schema->metadata_value("huggingface"), std::optional<std::string>(R"({"info": {"features": {}}})"));
  EXPECT_TRUE(t.schema->metadata_value("ARROW:schema").has_value());
  // ARROW:schema gives back large_string and fixed_size_list (HF Sequence(length=3)).
  EXPECT_TRUE(t.schema->equals(*batches.front().schema)) << t.schema->fields[13].type->to_string() << " / "
                                                         << t.schema->fields[18].type->to_string();
  mouse::test::expect_same_rows(mouse::test::pq_rows(t), rows_of(batches), "round trip");
}

TEST(ParquetWriter, WithoutArrowSchemaTheParquetTypesAreUsed) {
  std::vector<RecordBatch> batches = {every_type_batch(20)};
  auto bytes = pq::write_parquet(batches.front().schema, batches);
  pq::ReadOptions o;
  o.use_arrow_schema = false;
  o.columns = {"large_str", "fsl"};
  pq::Table t = pq::read_parquet(mouse::Buffer::copy_of(bytes), "plain-types.parquet", o);
  EXPECT_EQ(t.schema->fields[0].type->to_string(), "string");
  EXPECT_EQ(t.schema->fields[1].type->to_string(), "list<element: float>");
  o.use_arrow_schema = true;
  t = pq::read_parquet(mouse::Buffer::copy_of(bytes), "arrow-types.parquet", o);
  EXPECT_EQ(t.schema->fields[0].type->to_string(), "large_string");
  EXPECT_EQ(t.schema->fields[1].type->to_string(), "fixed_size_list<item: float>[3]");
}

// A fixed_size_list column whose rows are all null in a row group (a column a merged split
// lacks) has no items to stand under its null slots: it reads back as nulls of the declared size.
TEST(ParquetWriter, AllNullFixedSizeListRowGroupsReadBack) {
  const std::vector<float> items = {1, 2, 3, 4, 5, 6};
  RecordBatch valid = make_batch({"fsl"}, {make_fixed_size_list(make_primitive<float>(items), 3)});
  RecordBatch nulls = make_batch(
      {"fsl"}, {make_fixed_size_list(make_primitive<float>(std::vector<float>(9, 0.0f)), 3,
                                     {false, false, false})});
  nulls.schema = valid.schema;
  pq::WriteOptions o;
  o.row_group_rows = 3;  // row group 1 holds only null rows
  const std::vector<RecordBatch> batches = {valid, nulls};
  auto bytes = pq::write_parquet(valid.schema, batches, o);
  pq::Table t = pq::read_parquet(mouse::Buffer::copy_of(bytes), "null-fsl.parquet");
  ASSERT_EQ(t.num_rows(), 5);
  EXPECT_EQ(t.schema->fields[0].type->to_string(), "fixed_size_list<item: float>[3]");
  mouse::test::expect_same_rows(mouse::test::pq_rows(t), rows_of(batches), "all-null row group");
}

INSTANTIATE_TEST_SUITE_P(
    ParquetCodecs, ParquetWriterRoundTrip,
    ::testing::Combine(::testing::Values(pq::Compression::kNone, pq::Compression::kSnappy, pq::Compression::kGzip,
                                         pq::Compression::kZstd, pq::Compression::kLz4Raw, pq::Compression::kBrotli),
                       ::testing::Bool()));

TEST(ParquetWriter, DictionaryEncodesLowCardinalityColumnsOnly) {
  std::vector<int64_t> low, high;
  for (int64_t i = 0; i < 10000; ++i) {
    low.push_back(i % 3);
    high.push_back(i * 7919);
  }
  auto batch = make_batch({"low", "high"}, {make_primitive<int64_t>(low), make_primitive<int64_t>(high)});
  std::vector<RecordBatch> batches{batch};
  pq::WriteOptions o;
  o.compression = pq::Compression::kNone;
  auto with = pq::write_parquet(batch.schema, batches, o);
  o.dictionary = false;
  auto without = pq::write_parquet(batch.schema, batches, o);
  // 10000 int64 PLAIN = 80000 bytes per column: with the dictionary, "low" shrinks to a few
  // hundred bytes and "high" (all distinct) stays PLAIN.
  EXPECT_GT(with.size(), 80000u);
  EXPECT_GT(without.size(), with.size() + 75000);
  auto t = pq::read_parquet(mouse::Buffer::copy_of(with), "dict.parquet");
  mouse::test::expect_same_rows(mouse::test::pq_rows(t), rows_of(batches), "dictionary");
}

TEST(ParquetWriter, RejectsUnsupportedTypesAndMismatchedBatches) {
  auto nulls = make_batch({"n"}, {make_null(3)});
  std::vector<RecordBatch> b1{nulls};
  EXPECT_THROW(pq::write_parquet(nulls.schema, b1), mouse::InvalidArgument);
  auto ints = make_batch({"x"}, {make_primitive<int32_t>(std::vector<int32_t>{1, 2})});
  auto other = make_batch({"x"}, {make_primitive<int64_t>(std::vector<int64_t>{1, 2})});
  std::vector<RecordBatch> b2{ints, other};
  EXPECT_THROW(pq::write_parquet(ints.schema, b2), mouse::InvalidArgument);
}

std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

std::string file_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(ParquetStreamWriter, WritesTheBytesOfWriteParquetARowGroupAtATime) {
  std::vector<RecordBatch> batches = {every_type_batch(300), every_type_batch(77, 300), every_type_batch(0)};
  mouse::test::TempDir tmp;
  pq::WriteOptions o;
  o.row_group_rows = 128;
  o.page_bytes = 256;
  for (const auto compression : {pq::Compression::kNone, pq::Compression::kZstd}) {
    o.compression = compression;
    const auto whole = pq::write_parquet(batches.front().schema, batches, o);
    const fs::path path = tmp / "streamed.parquet";
    fs::remove(path);
    pq::ParquetWriter w(path, batches.front().schema, o);
    w.write(batches[0]);
    // Two row groups are on disk already, under the temporary name; the target is not there.
    EXPECT_FALSE(fs::exists(path));
    const auto names = names_in(tmp.path());
    ASSERT_EQ(names.size(), 1u);
    EXPECT_TRUE(names[0].starts_with("streamed.parquet.tmp-")) << names[0];
    EXPECT_GT(fs::file_size(tmp / names[0]), 1000u);
    w.write(batches[1]);
    w.write(batches[2]);
    w.close();
    w.close();  // a second close does nothing
    EXPECT_EQ(file_bytes(path), std::string(whole.begin(), whole.end()));
    EXPECT_EQ(names_in(tmp.path()), std::vector<std::string>{"streamed.parquet"});
    EXPECT_THROW(w.write(batches[0]), mouse::InvalidArgument);
  }
}

TEST(ParquetStreamWriter, AWriterNotClosedLeavesTheTargetAsItWas) {
  mouse::test::TempDir tmp;
  const fs::path path = tmp / "t.parquet";
  const auto ints = make_batch({"x"}, {make_primitive<int32_t>(std::vector<int32_t>{1, 2})});
  const auto longs = make_batch({"x"}, {make_primitive<int64_t>(std::vector<int64_t>{1, 2})});
  std::vector<RecordBatch> old{ints};
  pq::write_parquet(path, ints.schema, old);
  const std::string before = file_bytes(path);
  {
    pq::WriteOptions o;
    o.row_group_rows = 1;
    pq::ParquetWriter w(path, ints.schema, o);
    w.write(ints);
    // A batch of another type is refused, naming the column; the writer is dropped unclosed.
    try {
      w.write(longs);
      ADD_FAILURE() << "no error";
    } catch (const mouse::InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find("\"x\""), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(file_bytes(path), before);
  EXPECT_EQ(names_in(tmp.path()), std::vector<std::string>{"t.parquet"});
  // Bad arguments and an unwritable place are errors before anything is written.
  EXPECT_THROW(pq::ParquetWriter(path, nullptr), mouse::InvalidArgument);
  pq::WriteOptions zero;
  zero.row_group_rows = 0;
  EXPECT_THROW(pq::ParquetWriter(path, ints.schema, zero), mouse::InvalidArgument);
  EXPECT_THROW(pq::ParquetWriter(tmp / "missing" / "t.parquet", ints.schema), mouse::IoError);
}

// --- cross-implementation -------------------------------------------------------------------

fs::path write_file(const mouse::test::TempDir& dir, const std::string& name, const std::vector<RecordBatch>& batches,
                    const pq::WriteOptions& o) {
  fs::path p = dir / name;
  pq::write_parquet(p, batches.front().schema, batches, o);
  return p;
}

class ParquetWriterOracle : public ::testing::TestWithParam<Params> {};

TEST_P(ParquetWriterOracle, DuckDbReadsEveryValue) {
  MOUSE_REQUIRE_DUCKDB();
  auto [compression, dictionary] = GetParam();
  mouse::test::TempDir dir;
  std::vector<RecordBatch> batches = {every_type_batch(200), every_type_batch(50, 200)};
  pq::WriteOptions o;
  o.compression = compression;
  o.dictionary = dictionary;
  o.row_group_rows = 100;
  o.page_bytes = 512;
  fs::path p = write_file(dir, "ours.parquet", batches, o);
  auto r = mouse::test::duckdb_read(p);
  ASSERT_EQ(r.status, 0) << r.out;
  mouse::test::expect_same_rows(mouse::test::json_lines(r.out), rows_of(batches), "DuckDB reading our file");
}

TEST_P(ParquetWriterOracle, ParquetWasmReadsEveryValue) {
  MOUSE_REQUIRE_ORACLE();
  auto [compression, dictionary] = GetParam();
  mouse::test::TempDir dir;
  std::vector<RecordBatch> batches = {every_type_batch(200), every_type_batch(50, 200)};
  pq::WriteOptions o;
  o.compression = compression;
  o.dictionary = dictionary;
  o.row_group_rows = 100;
  o.page_bytes = 512;
  fs::path p = write_file(dir, "ours.parquet", batches, o);
  const fs::path ipc = dir / "wasm.arrows";
  auto conv = mouse::test::run_command("node " + mouse::test::shell_quote((mouse::test::oracle_dir() / "parquet_wasm_to_ipc.mjs").string()) +
                                       " " + mouse::test::shell_quote(p.string()) + " " + mouse::test::shell_quote(ipc.string()));
  ASSERT_EQ(conv.status, 0) << conv.out;
  auto r = mouse::test::run_command("node " + mouse::test::shell_quote((mouse::test::oracle_dir() / "read_arrow.mjs").string()) +
                                    " " + mouse::test::shell_quote(ipc.string()));
  ASSERT_EQ(r.status, 0) << r.out;
  auto theirs = mouse::test::json_lines(r.out);
  auto ours = rows_of(batches);
  // read_arrow.mjs prints int64 beyond +-(2^53 - 1) as decimal strings.
  for (auto& row : ours) {
    for (auto& [k, v] : row.items()) {
      if (v.is_number_unsigned() && v.get<uint64_t>() > (uint64_t{1} << 53) - 1) v = std::to_string(v.get<uint64_t>());
    }
  }
  mouse::test::expect_same_rows(theirs, ours, "parquet-wasm reading our file");
}

INSTANTIATE_TEST_SUITE_P(ParquetCodecs, ParquetWriterOracle,
                         ::testing::Combine(::testing::Values(pq::Compression::kSnappy, pq::Compression::kZstd,
                                                              pq::Compression::kNone),
                                            ::testing::Bool()));

// DuckDB writes; we read and compare with DuckDB reading the same file.
using DuckParams = std::tuple<std::string, bool, std::string>;  // codec, dictionary, V1/V2
class ParquetDuckDbWritten : public ::testing::TestWithParam<DuckParams> {};

TEST_P(ParquetDuckDbWritten, WeReadEveryValue) {
  MOUSE_REQUIRE_DUCKDB();
  auto [codec, dictionary, version] = GetParam();
  mouse::test::TempDir dir;
  const fs::path p = dir / "duck.parquet";
  const std::string create =
      "CREATE TABLE t AS SELECT i::INTEGER AS i32, (i * 1000003 - 4000000000)::BIGINT AS i64, "
      "(i % 5)::TINYINT AS i8, (i % 300)::USMALLINT AS u16, (i * 0.25)::FLOAT AS f32, "
      "CASE WHEN i % 7 = 3 THEN NULL ELSE i / 3.0 END::DOUBLE AS f64, i % 3 = 0 AS b, "
      "CASE WHEN i % 4 = 1 THEN NULL ELSE 'str' || (i % 11)::VARCHAR END AS s, "
      "CASE WHEN i % 9 = 2 THEN NULL WHEN i % 9 = 4 THEN [] ELSE [i, NULL, i + 1] END AS li, "
      "[[('w' || i::VARCHAR)], [], CASE WHEN i % 2 = 0 THEN NULL ELSE ['x', NULL] END] AS lls, "
      "CASE WHEN i % 6 = 5 THEN NULL ELSE {'a': i, 'b': CASE WHEN i % 2 = 0 THEN NULL ELSE 'v' END, "
      "'c': [i::DOUBLE, 0.5]} END AS st, "
      "('\\x00\\xFF' || i::VARCHAR)::BLOB AS bl "
      "FROM range(5000) r(i)";
  std::string copy = "COPY t TO '" + p.string() + "' (FORMAT parquet, COMPRESSION " + codec +
                     ", ROW_GROUP_SIZE 2048, PARQUET_VERSION " + version +
                     (dictionary ? "" : ", DICTIONARY_SIZE_LIMIT 1") + ")";
  auto w = mouse::test::duckdb_sql({create, copy});
  ASSERT_EQ(w.status, 0) << w.out;
  pq::Table t = pq::read_parquet(p);
  EXPECT_EQ(t.num_rows(), 5000);
  auto r = mouse::test::duckdb_read(p);
  ASSERT_EQ(r.status, 0);
  mouse::test::expect_same_rows(mouse::test::pq_rows(t), mouse::test::json_lines(r.out), "our read of DuckDB's file");
}

INSTANTIATE_TEST_SUITE_P(ParquetDuck, ParquetDuckDbWritten,
                         ::testing::Combine(::testing::Values("uncompressed", "snappy", "gzip", "zstd", "lz4_raw", "brotli"),
                                            ::testing::Bool(), ::testing::Values("V1", "V2")),
                         [](const auto& info) {
                           return std::get<0>(info.param) + (std::get<1>(info.param) ? "_dict_" : "_plain_") +
                                  std::get<2>(info.param);
                         });

}  // namespace
