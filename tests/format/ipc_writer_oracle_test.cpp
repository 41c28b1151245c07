// Cross-implementation checks of the IPC writer: apache-arrow (JS) reads what we write
// (tests/oracle/read_arrow.mjs), and rewriting the HF corpus files reproduces pyarrow's bodies
// and buffer layout byte for byte.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "format/arrow/builders.hpp"
#include "ipc_writer_test_util.hpp"
#include "mouse/arrow_ipc.hpp"
#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
using namespace mouse::arrow;
using mouse::test::every_type_batch;
using mouse::test::rows_json;
using mouse::test::StreamMessage;
using mouse::test::walk_stream;
using nlohmann::json;

void write_bytes(const fs::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

std::vector<uint8_t> read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string oracle_command(const std::string& args) {
  return "node '" + (mouse::test::oracle_dir() / "read_arrow.mjs").string() + "' " + args;
}

std::vector<json> json_lines(const std::string& text) {
  std::vector<json> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(json::parse(line));
  }
  return out;
}

// The every-type batch, a view of it at an unaligned offset, and an empty batch.
std::vector<RecordBatch> oracle_batches() {
  RecordBatch all = every_type_batch();
  return {all, mouse::test::view(all, 3, 6), mouse::test::view(all, 5, 0)};
}

TEST(IpcWriterOracle, ApacheArrowJsReadsEveryValue) {
  MOUSE_REQUIRE_ORACLE();
  mouse::test::TempDir dir;
  auto batches = oracle_batches();
  const fs::path file = dir / "every_type.arrow";
  write_bytes(file, write_ipc_stream(batches.front().schema, batches));

  auto result = mouse::test::run_command(oracle_command("'" + file.string() + "'"));
  ASSERT_EQ(result.status, 0) << result.out;
  std::vector<json> got = json_lines(result.out);
  std::vector<json> want;
  for (const auto& b : batches) {
    auto rows = rows_json(b);
    want.insert(want.end(), rows.begin(), rows.end());
  }
  ASSERT_EQ(got.size(), want.size());
  for (size_t r = 0; r < want.size(); ++r) {
    for (auto it = want[r].begin(); it != want[r].end(); ++it) {
      ASSERT_TRUE(got[r].contains(it.key())) << "row " << r << " column " << it.key();
      EXPECT_EQ(got[r][it.key()], it.value())
          << "row " << r << " column " << it.key() << "\n ours   " << it.value().dump()
          << "\n oracle " << got[r][it.key()].dump();
    }
    EXPECT_EQ(got[r].size(), want[r].size()) << "row " << r;
  }
}

TEST(IpcWriterOracle, ApacheArrowJsReadsNestedViews) {
  MOUSE_REQUIRE_ORACLE();
  mouse::test::TempDir dir;
  std::vector<RecordBatch> batches = {mouse::test::nested_views_batch()};
  const fs::path file = dir / "nested.arrow";
  write_bytes(file, write_ipc_stream(batches.front().schema, batches));
  auto result = mouse::test::run_command(oracle_command("'" + file.string() + "'"));
  ASSERT_EQ(result.status, 0) << result.out;
  EXPECT_EQ(json_lines(result.out), rows_json(batches.front()));
  const std::vector<json> by_hand = {
      json::parse(R"({"list": [], "fsl": null, "struct": {"l": []}})"),
      json::parse(R"({"list": null, "fsl": ["e", "f"], "struct": {"l": null}})"),
      json::parse(R"({"list": [7], "fsl": ["g", "h"], "struct": null})"),
  };
  EXPECT_EQ(json_lines(result.out), by_hand);
}

TEST(IpcWriterOracle, ApacheArrowJsReadsSchemaAndMetadata) {
  MOUSE_REQUIRE_ORACLE();
  mouse::test::TempDir dir;
  auto batches = oracle_batches();
  const fs::path file = dir / "every_type.arrow";
  write_bytes(file, write_ipc_stream(batches.front().schema, batches));

  auto result = mouse::test::run_command(oracle_command("--schema '" + file.string() + "'"));
  ASSERT_EQ(result.status, 0) << result.out;
  json schema = json::parse(result.out);

  const std::vector<std::pair<std::string, std::string>> expected = {
      {"null", "null"},
      {"bool", "bool"},
      {"bool_nonull", "bool"},
      {"int8", "int8"},
      {"int16", "int16"},
      {"int32", "int32"},
      {"int64", "int64"},
      {"uint8", "uint8"},
      {"uint16", "uint16"},
      {"uint32", "uint32"},
      {"uint64", "uint64"},
      {"float16", "halffloat"},
      {"float32", "float"},
      {"float64", "double"},
      {"utf8", "string"},
      {"large_utf8", "large_string"},
      {"binary", "binary"},
      {"large_binary", "large_binary"},
      {"list_int32", "list<item: int32>"},
      {"large_list_utf8", "large_list<item: string>"},
      {"fixed_size_list_float", "fixed_size_list<item: float>[3]"},
      {"struct", "struct<a: int64, b: string, c: list<item: float>>"},
      {"list_struct", "list<item: struct<x: fixed_size_list<item: int16>[2], y: bool>>"},
      {"struct_struct", "struct<inner: struct<z: uint8>>"},
  };
  ASSERT_EQ(schema["fields"].size(), expected.size());
  const Schema& ours = *batches.front().schema;
  for (size_t i = 0; i < expected.size(); ++i) {
    const json& f = schema["fields"][i];
    EXPECT_EQ(f["name"], expected[i].first);
    EXPECT_EQ(f["type"], expected[i].second) << expected[i].first;
    EXPECT_EQ(f["type"], ours.fields[i].type->to_string()) << "our to_string disagrees";
    EXPECT_EQ(f["nullable"], true);
  }
  EXPECT_EQ(schema["fields"][5]["metadata"], (json{{"unit", "steps"}}));
  EXPECT_EQ(schema["fields"][4]["metadata"], json::object());
  const std::string hf = ours.metadata_value("huggingface").value();
  EXPECT_EQ(schema["metadata"]["huggingface"], hf);
  EXPECT_EQ(json::parse(schema["metadata"]["huggingface"]
                            .get<std::string>())["info"]["features"]["int64"]["dtype"],
            "int64");
  EXPECT_EQ(schema["metadata"]["other"], "value");
  EXPECT_EQ(schema["batch_rows"], (json{10, 6, 0}));
}

TEST(IpcWriterOracle, ApacheArrowJsReadsNonNullableFieldsAndNoBatches) {
  MOUSE_REQUIRE_ORACLE();
  mouse::test::TempDir dir;
  auto schema = std::make_shared<Schema>();
  schema->fields.push_back(Field{"x", int64(), false, {}});
  const fs::path file = dir / "empty.arrow";
  write_bytes(file, write_ipc_stream(schema, {}));
  auto result = mouse::test::run_command(oracle_command("--schema '" + file.string() + "'"));
  ASSERT_EQ(result.status, 0) << result.out;
  json got = json::parse(result.out);
  EXPECT_EQ(got["fields"][0]["nullable"], false);
  EXPECT_EQ(got["batch_rows"], json::array());
  auto rows = mouse::test::run_command(oracle_command("'" + file.string() + "'"));
  ASSERT_EQ(rows.status, 0);
  EXPECT_EQ(rows.out, "");
}

// Reading a pyarrow-written HF file and writing it again must give the same record batch
// layout (nodes, buffer offsets and lengths) and the same body bytes.
TEST(IpcWriterCorpus, RewritingHfFilesReproducesPyarrowBodies) {
  MOUSE_REQUIRE_TESTDATA();
  int files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(mouse::test::testdata_dir() / "hf")) {
    if (entry.path().extension() != ".arrow") continue;
    SCOPED_TRACE(entry.path().string());
    ++files;
    IpcTable table = read_ipc(entry.path());
    auto ours = write_ipc_stream(table.schema, table.batches);
    auto theirs = read_bytes(entry.path());
    auto our_messages = walk_stream(ours);
    auto their_messages = walk_stream(theirs);
    ASSERT_EQ(our_messages.size(), their_messages.size());
    for (size_t k = 0; k < our_messages.size(); ++k) {
      const StreamMessage& a = our_messages[k];
      const StreamMessage& b = their_messages[k];
      EXPECT_EQ(a.header_type, b.header_type) << "message " << k;
      EXPECT_EQ(a.length, b.length) << "message " << k;
      EXPECT_EQ(a.nodes, b.nodes) << "message " << k;
      EXPECT_EQ(a.buffers, b.buffers) << "message " << k;
      ASSERT_EQ(a.body_length, b.body_length) << "message " << k;
      EXPECT_TRUE(std::equal(ours.begin() + a.body_position,
                             ours.begin() + a.body_position + a.body_length,
                             theirs.begin() + b.body_position))
          << "message " << k << ": body bytes differ";
    }
    IpcTable again = read_ipc(mouse::Buffer::copy_of(ours), "rewritten");
    EXPECT_EQ(again.schema->metadata, table.schema->metadata);
    ASSERT_EQ(again.batches.size(), table.batches.size());
    for (size_t b = 0; b < table.batches.size(); ++b) {
      EXPECT_EQ(rows_json(again.batches[b]), rows_json(table.batches[b]));
    }
  }
  EXPECT_GT(files, 0) << "no .arrow files under " << (mouse::test::testdata_dir() / "hf");
}

// The SPIRAL files were written by a 2025 pyarrow: reading and rewriting them must give the
// same file, byte for byte (metadata flatbuffers included). The 2024 LeRobot files differ only
// in the order pyarrow then created key/value strings, and the 2020 ones are metadata V4.
TEST(IpcWriterCorpus, RewritingRecentPyarrowFilesIsByteIdentical) {
  MOUSE_REQUIRE_TESTDATA();
  int files = 0;
  for (const auto& entry :
       fs::recursive_directory_iterator(mouse::test::testdata_dir() / "hf" / "spiral-math-eval")) {
    if (entry.path().extension() != ".arrow") continue;
    ++files;
    IpcTable table = read_ipc(entry.path());
    EXPECT_TRUE(write_ipc_stream(table.schema, table.batches) == read_bytes(entry.path()))
        << entry.path();
  }
  EXPECT_GT(files, 0);
}

}  // namespace
