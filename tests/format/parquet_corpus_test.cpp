// Every Parquet file of the conformance corpus (parquet-testing data/ and bad_data/,
// arrow-testing data/parquet/) is read and checked: values against DuckDB (an independent
// reader) or against the expected values shipped with the file; unsupported column types must
// be reported by name; corrupt files must give a FormatError, never a crash.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "mouse/error.hpp"
#include "mouse/parquet.hpp"
#include "parquet_test_util.hpp"
#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using mouse::FormatError;
namespace pq = mouse::parquet;

fs::path data_dir() { return mouse::test::testdata_dir() / "parquet-testing" / "data"; }
fs::path bad_dir() { return mouse::test::testdata_dir() / "parquet-testing" / "bad_data"; }
fs::path arrow_dir() { return mouse::test::testdata_dir() / "arrow-testing" / "data" / "parquet"; }

// Top-level columns whose types SPEC §2.5 has no Arrow type for (INT96, DECIMAL, DATE, TIME,
// TIMESTAMP): the reader must name them when asked for them, and read the rest.
const std::map<std::string, std::set<std::string>>& unsupported_columns() {
  static const std::map<std::string, std::set<std::string>> m = {
      {"alltypes_dictionary.parquet", {"timestamp_col"}},
      {"alltypes_plain.parquet", {"timestamp_col"}},
      {"alltypes_plain.snappy.parquet", {"timestamp_col"}},
      {"alltypes_tiny_pages_plain.parquet", {"timestamp_col"}},
      {"byte_array_decimal.parquet", {"value"}},
      {"byte_stream_split_extended.gzip.parquet", {"decimal_plain", "decimal_byte_stream_split"}},
      {"fixed_length_decimal.parquet", {"value"}},
      {"fixed_length_decimal_legacy.parquet", {"value"}},
      {"int32_decimal.parquet", {"value"}},
      {"int64_decimal.parquet", {"value"}},
      {"int96_from_spark.parquet", {"a"}},
      {"nested_structs.rust.parquet", {"ul_observation_date"}},
      {"alltypes-java.parquet",
       {"date_ms", "time_ms", "timestamp_ms", "timestamptz_ms", "time_ns", "timestamp_ns",
        "timestamptz_ns", "decimal128", "decimal256"}},
      {"ARROW-GH-41317.parquet",
       {"timestamp_ms_gmt", "timestamp_ms_gmt_plus_2", "timestamp_ms_gmt_minus_0215",
        "timestamp_s_no_tz", "timestamp_us_no_tz", "timestamp_ns_no_tz", "time32_s", "time32_ms",
        "time64_us", "time64_ns", "date32", "date64", "decimal128", "decimal256",
        "list_decimal128", "list_decimal256", "map_decimal128", "map_decimal256"}},
      {"ARROW-GH-41321.parquet",
       {"timestamp_ms_gmt", "timestamp_ms_gmt_plus_2", "timestamp_ms_gmt_minus_0215",
        "timestamp_s_no_tz", "timestamp_us_no_tz", "timestamp_ns_no_tz", "time32_s", "time32_ms",
        "time64_us", "time64_ns", "date32", "date64", "decimal128", "decimal256",
        "list_decimal128", "list_decimal256", "map_decimal128", "map_decimal256"}},
  };
  return m;
}

// Pages with a wrong CRC32: the reader must reject them, and read them with checking off.
const std::set<std::string> kBadChecksum = {"datapage_v1-corrupt-checksum.parquet",
                                            "rle-dict-uncompressed-corrupt-checksum.parquet"};

const char* const kLz4Rows =
    R"([{"c0":1593604800,"c1":"YWJj","v11":42.0},{"c0":1593604800,"c1":"ZGVm","v11":7.7},
        {"c0":1593604801,"c1":"YWJj","v11":42.125},{"c0":1593604801,"c1":"ZGVm","v11":7.7}])";

// Files DuckDB cannot read, with the expected rows from the file's companion document.
const std::map<std::string, std::string>& hand_expected() {
  static const std::map<std::string, std::string> m = {
      // map_no_value.md (DuckDB: "MAP_KEY_VALUE requires two children").
      {"map_no_value.parquet",
       R"([{"my_map":[{"key":1,"value":null},{"key":2,"value":null},{"key":3,"value":null}],"my_map_no_v":[{"key":1},{"key":2},{"key":3}],"my_list":[1,2,3]},
           {"my_map":[{"key":4,"value":null},{"key":5,"value":null},{"key":6,"value":null}],"my_map_no_v":[{"key":4},{"key":5},{"key":6}],"my_list":[4,5,6]},
           {"my_map":[{"key":7,"value":null},{"key":8,"value":null},{"key":9,"value":null}],"my_map_no_v":[{"key":7},{"key":8},{"key":9}],"my_list":[7,8,9]}])"},
      // The MANIFEST and hyparquet (DuckDB has no Hadoop LZ4 codec).
      {"hadoop_lz4_compressed.parquet", kLz4Rows},
      {"non_hadoop_lz4_compressed.parquet", kLz4Rows},
      // pyarrow 2.0 wrote compressed V2 pages flagged is_compressed = 0 (DuckDB and hyparquet
      // fail on it); the frame is pandas' {1..5, "a".."e", 1.0..5.0, a a a b b}.
      {"ARROW-17100.parquet",
       R"([{"col1":1,"col2":"a","col3":1.0,"col4":"a"},{"col1":2,"col2":"b","col3":2.0,"col4":"a"},
           {"col1":3,"col2":"c","col3":3.0,"col4":"a"},{"col1":4,"col2":"d","col3":4.0,"col4":"b"},
           {"col1":5,"col2":"e","col3":5.0,"col4":"b"}])"},
  };
  return m;
}

// Files DuckDB cannot read whose expected rows come from expected-hyparquet/<stem>.json.
const std::set<std::string> kHyparquet = {
    // DuckDB: "BYTE_STREAM_SPLIT encoding is only supported for FLOAT or DOUBLE data".
    "byte_stream_split_extended.gzip.parquet"};

// bad_data files that are in fact readable (valid-but-odd), checked against DuckDB.
// ARROW-GH-41317's damage (a page header of column "timestamp_us_no_tz" whose sizes have the
// wrong wire type) lies in a column of a type outside SPEC §2.5: reading every column is a
// FormatError naming the unsupported columns, reading the others is a correct table.
const std::set<std::string> kReadableBad = {"ARROW-GH-43605.parquet", "ARROW-GH-41317.parquet"};

std::vector<std::string> parquet_files(const fs::path& dir) {
  std::vector<std::string> out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".parquet") out.push_back(e.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string test_name(const std::string& file) {
  std::string s;
  for (char c : file.substr(0, file.size() - 8)) s += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return s;
}

// Reads the supported columns of `path` and returns them; checks the unsupported ones are
// reported by name.
pq::Table read_supported(const fs::path& path, std::vector<std::string>* columns, bool verify = true) {
  const std::string file = path.filename().string();
  pq::FileInfo info = pq::inspect_parquet(path);
  std::set<std::string> unsupported;
  for (const auto& c : info.columns) {
    if (!c.unsupported.empty()) {
      unsupported.insert(c.name);
      EXPECT_NE(c.unsupported.find("not supported"), std::string::npos) << c.unsupported;
    } else {
      columns->push_back(c.name);
    }
  }
  auto it = unsupported_columns().find(file);
  EXPECT_EQ(unsupported, it == unsupported_columns().end() ? std::set<std::string>{} : it->second);
  if (!unsupported.empty()) {
    try {
      pq::read_parquet(path);
      ADD_FAILURE() << file << ": reading every column should fail on the unsupported ones";
    } catch (const FormatError& e) {
      EXPECT_NE(std::string(e.what()).find("not supported"), std::string::npos) << e.what();
    }
    std::cout << "[ SKIPPED COLUMNS ] " << file << ":";
    for (const auto& c : unsupported) std::cout << " " << c;
    std::cout << " (type outside SPEC §2.5)\n";
  }
  if (columns->empty()) return {};
  pq::ReadOptions options;
  options.columns = *columns;
  options.verify_checksums = verify;
  return pq::read_parquet(path, options);
}

void compare_with_duckdb(const fs::path& path, const pq::Table& table, const std::vector<std::string>& columns) {
  if (!mouse::test::duckdb_available()) {
    std::cout << "[ SKIPPED ORACLE ] DuckDB not installed; " << path.filename() << " read but not compared\n";
    return;
  }
  auto r = mouse::test::duckdb_read(path, columns);
  ASSERT_EQ(r.status, 0) << "DuckDB failed on " << path;
  mouse::test::expect_same_rows(mouse::test::pq_rows(table), mouse::test::json_lines(r.out), path.filename().string());
}

// hyparquet rows are arrays in file column order; numbers compare as doubles (it reads int64 as
// JS numbers), fixed-length byte arrays are arrays of bytes.
json hyparquet_value(const json& v) {
  if (v.is_array()) {
    std::string bytes;
    for (const auto& b : v) bytes += static_cast<char>(b.get<int>());
    return mouse::arrow::base64_encode(bytes);
  }
  if (v.is_number()) return v.get<double>();
  return v;
}

void compare_with_hyparquet(const fs::path& path, const pq::Table& table) {
  const std::string stem = path.stem().string();
  std::ifstream in(mouse::test::testdata_dir() / "parquet-testing" / "expected-hyparquet" / (stem + ".json"));
  ASSERT_TRUE(in.good()) << stem;
  json want = json::parse(in);
  pq::FileInfo info = pq::inspect_parquet(path);
  auto rows = mouse::test::pq_rows(table);
  ASSERT_EQ(rows.size(), want.size());
  for (size_t r = 0; r < rows.size(); ++r) {
    for (size_t c = 0; c < info.columns.size(); ++c) {
      if (!info.columns[c].unsupported.empty()) continue;
      json ours = rows[r][info.columns[c].name];
      if (ours.is_number()) ours = ours.get<double>();
      ASSERT_EQ(ours, hyparquet_value(want[r][c])) << stem << " row " << r << " column " << info.columns[c].name;
    }
  }
}

class ParquetCorpusData : public ::testing::TestWithParam<std::string> {};

TEST_P(ParquetCorpusData, ReadsEveryValueAsAnIndependentReaderDoes) {
  MOUSE_REQUIRE_TESTDATA();
  const std::string file = GetParam();
  const fs::path path = data_dir() / file;
  std::vector<std::string> columns;
  const bool bad_crc = kBadChecksum.count(file) > 0;
  if (bad_crc) {
    try {
      pq::read_parquet(path);
      ADD_FAILURE() << file << ": a page with a wrong CRC32 must be rejected";
    } catch (const FormatError& e) {
      EXPECT_NE(std::string(e.what()).find("CRC32"), std::string::npos) << e.what();
      EXPECT_GT(e.offset(), 0);
    }
  }
  pq::Table table = read_supported(path, &columns, !bad_crc);
  if (columns.empty()) {
    std::cout << "[ SKIPPED VALUES ] " << file << ": every column has a type outside SPEC §2.5\n";
    return;
  }
  auto hand = hand_expected().find(file);
  if (hand != hand_expected().end()) {
    json want = json::parse(hand->second);
    mouse::test::expect_same_rows(mouse::test::pq_rows(table), std::vector<json>(want.begin(), want.end()), file);
    return;
  }
  if (kHyparquet.count(file)) {
    compare_with_hyparquet(path, table);
    return;
  }
  compare_with_duckdb(path, table, columns);
}

INSTANTIATE_TEST_SUITE_P(ParquetFiles, ParquetCorpusData, ::testing::ValuesIn(parquet_files(data_dir())),
                         [](const auto& info) { return test_name(info.param); });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(ParquetCorpusData);

class ParquetCorpusBad : public ::testing::TestWithParam<fs::path> {};

TEST_P(ParquetCorpusBad, GivesAClearErrorOrTheCorrectTable) {
  MOUSE_REQUIRE_TESTDATA();
  const fs::path path = GetParam();
  const std::string file = path.filename().string();
  const bool readable = kReadableBad.count(file) > 0 || path.parent_path() == arrow_dir();
  try {
    std::vector<std::string> columns;
    pq::Table table = read_supported(path, &columns);
    EXPECT_TRUE(readable) << file << " is invalid but was read without error";
    auto hand = hand_expected().find(file);
    if (hand != hand_expected().end()) {
      json want = json::parse(hand->second);
      mouse::test::expect_same_rows(mouse::test::pq_rows(table), std::vector<json>(want.begin(), want.end()), file);
    } else if (readable) {
      compare_with_duckdb(path, table, columns);
    }
  } catch (const FormatError& e) {
    EXPECT_FALSE(readable) << file << ": " << e.what();
    EXPECT_NE(std::string(e.what()).find(file), std::string::npos) << "the error names the file: " << e.what();
    std::cout << "[ REJECTED ] " << e.what() << "\n";
  }
}

std::vector<fs::path> bad_files() {
  std::vector<fs::path> out;
  for (const auto& f : parquet_files(bad_dir())) out.push_back(bad_dir() / f);
  for (const auto& f : parquet_files(arrow_dir())) out.push_back(arrow_dir() / f);
  return out;
}

INSTANTIATE_TEST_SUITE_P(ParquetFiles, ParquetCorpusBad, ::testing::ValuesIn(bad_files()),
                         [](const auto& info) { return test_name(info.param.filename().string()); });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(ParquetCorpusBad);

TEST(ParquetCorpus, EveryFileIsCovered) {
  MOUSE_REQUIRE_TESTDATA();
  EXPECT_EQ(parquet_files(data_dir()).size(), 56u) << "parquet-testing/data changed: review the expectations";
  EXPECT_EQ(bad_files().size(), 10u);
}

// Footer num_rows is 0 in this file; the six rows are counted from the levels.
TEST(ParquetCorpus, RowCountComesFromLevelsNotTheFooter) {
  MOUSE_REQUIRE_TESTDATA();
  const fs::path path = data_dir() / "repeated_no_annotation.parquet";
  EXPECT_EQ(pq::inspect_parquet(path).footer_num_rows, 0);
  pq::Table t = pq::read_parquet(path);
  EXPECT_EQ(t.num_rows(), 6);
}

// Independent of node: the CSVs shipped with the delta-encoding files.
std::vector<std::vector<std::string>> read_csv(const fs::path& path) {
  std::ifstream in(path);
  std::vector<std::vector<std::string>> rows;
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::string cell;
    bool quoted = false, was_quoted = false;
    for (char c : line) {
      if (c == '"') {
        quoted = !quoted;
        was_quoted = true;
      } else if (c == ',' && !quoted) {
        cells.push_back(was_quoted || !cell.empty() ? cell : std::string("\x01null"));
        cell.clear();
        was_quoted = false;
      } else {
        cell += c;
      }
    }
    cells.push_back(was_quoted || !cell.empty() ? cell : std::string("\x01null"));
    rows.push_back(cells);
  }
  return rows;
}

std::string cell_text(const json& v) {
  if (v.is_null()) return "\x01null";
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

class ParquetExpectCsv : public ::testing::TestWithParam<std::string> {};

TEST_P(ParquetExpectCsv, MatchesTheShippedExpectedValues) {
  MOUSE_REQUIRE_TESTDATA();
  const std::string stem = GetParam();
  pq::Table t = pq::read_parquet(data_dir() / (stem + ".parquet"));
  auto csv = read_csv(data_dir() / (stem + "_expect.csv"));
  ASSERT_FALSE(csv.empty());
  auto rows = mouse::test::pq_rows(t);
  ASSERT_EQ(rows.size() + 1, csv.size());
  ASSERT_EQ(t.schema->fields.size(), csv[0].size());
  for (size_t r = 0; r < rows.size(); ++r) {
    for (size_t c = 0; c < csv[0].size(); ++c) {
      ASSERT_EQ(cell_text(rows[r][t.schema->fields[c].name]), csv[r + 1][c])
          << stem << " row " << r << " column " << t.schema->fields[c].name;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(ParquetFiles, ParquetExpectCsv,
                         ::testing::Values("delta_binary_packed", "delta_byte_array",
                                           "delta_encoding_optional_column",
                                           "delta_encoding_required_column"));

}  // namespace
