// Helpers for the hf tests: rows as JSON, the npm oracle, value comparison that knows float32,
// and a dataset holding every feature kind.
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "format/arrow/builders.hpp"
#include "mouse/arrow_json.hpp"
#include "mouse/dataset.hpp"
#include "mouse/error.hpp"
#include "test_support.hpp"

namespace mouse::test {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

inline std::filesystem::path hf_dir() { return testdata_dir() / "hf"; }

inline std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void write_text(const std::filesystem::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

/// Element `i` of `array` as parsed JSON (the arrow_json.hpp format).
inline json value_json(const arrow::ArrayData& array, int64_t i) {
  std::string s;
  arrow::append_json_value(s, array, i);
  return json::parse(s);
}

/// Every row of `ds` as a JSON object {column: value}.
inline std::vector<json> dataset_rows(const Dataset& ds) {
  std::vector<ChunkedColumn> cols;
  for (const auto& name : ds.column_names()) cols.push_back(ds.column(name));
  std::vector<json> rows;
  rows.reserve(static_cast<size_t>(ds.num_rows()));
  for (int64_t r = 0; r < ds.num_rows(); ++r) {
    json row = json::object();
    for (const auto& c : cols) {
      auto [chunk, index] = c.locate(r);
      row[c.field.name] = value_json(*c.chunks[chunk], index);
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

/// Rows of an Arrow stream file as printed by the apache-arrow (JS) oracle.
inline std::vector<json> oracle_rows(const std::filesystem::path& file) {
  const auto script = oracle_dir() / "read_arrow.mjs";
  auto r = run_command(fmt::format("node '{}' '{}'", script.string(), file.string()));
  EXPECT_EQ(r.status, 0) << "oracle failed on " << file;
  std::vector<json> rows;
  std::istringstream lines(r.out);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.empty()) rows.push_back(json::parse(line));
  }
  return rows;
}

/// The oracle's --schema description of an Arrow stream file.
inline json oracle_schema(const std::filesystem::path& file) {
  const auto script = oracle_dir() / "read_arrow.mjs";
  auto r = run_command(fmt::format("node '{}' --schema '{}'", script.string(), file.string()));
  EXPECT_EQ(r.status, 0) << "oracle --schema failed on " << file;
  return r.status == 0 ? json::parse(r.out) : json();
}

/// Compares a value printed by us with one printed by the oracle, guided by the Arrow type:
/// float32/float16 compare after rounding to float (the oracle prints the double of the float),
/// 64-bit integers outside +-2^53 come from the oracle as decimal strings.
inline void expect_same_value(const json& ours, const json& theirs, const arrow::DataType& type,
                              const std::string& where) {
  if (ours.is_null() || theirs.is_null()) {
    EXPECT_EQ(ours.is_null(), theirs.is_null()) << where << ": ours " << ours << " oracle " << theirs;
    return;
  }
  switch (type.id) {
    case arrow::TypeId::kFloat16:
    case arrow::TypeId::kFloat32:
    case arrow::TypeId::kFloat64:
      if (ours.is_string() || theirs.is_string()) {
        EXPECT_EQ(ours, theirs) << where;
      } else if (type.id == arrow::TypeId::kFloat64) {
        EXPECT_EQ(ours.get<double>(), theirs.get<double>()) << where;
      } else {
        EXPECT_EQ(static_cast<float>(ours.get<double>()), static_cast<float>(theirs.get<double>()))
            << where;
      }
      return;
    case arrow::TypeId::kInt64:
    case arrow::TypeId::kUInt64:
      if (theirs.is_string()) {
        EXPECT_EQ(ours.dump(), theirs.get<std::string>()) << where;
      } else {
        EXPECT_EQ(ours, theirs) << where;
      }
      return;
    case arrow::TypeId::kList:
    case arrow::TypeId::kLargeList:
    case arrow::TypeId::kFixedSizeList:
      ASSERT_TRUE(ours.is_array() && theirs.is_array()) << where;
      ASSERT_EQ(ours.size(), theirs.size()) << where;
      for (size_t i = 0; i < ours.size(); ++i) {
        expect_same_value(ours[i], theirs[i], *type.value_type(), fmt::format("{}[{}]", where, i));
      }
      return;
    case arrow::TypeId::kStruct:
      ASSERT_TRUE(ours.is_object() && theirs.is_object()) << where;
      for (const auto& f : type.children) {
        expect_same_value(ours.at(f.name), theirs.at(f.name), *f.type,
                          fmt::format("{}.{}", where, f.name));
      }
      return;
    default:
      EXPECT_EQ(ours, theirs) << where;
  }
}

/// Every value of every row of `ds` against `theirs` (oracle rows in the same order).
inline void expect_rows_match(const Dataset& ds, const std::vector<json>& ours,
                              const std::vector<json>& theirs, const std::string& what) {
  ASSERT_EQ(ours.size(), theirs.size()) << what;
  for (size_t r = 0; r < ours.size(); ++r) {
    for (const auto& field : ds.schema()->fields) {
      expect_same_value(ours[r].at(field.name), theirs[r].at(field.name), *field.type,
                        fmt::format("{} row {} column {}", what, r, field.name));
    }
  }
}

/// Checks our rows of a loaded dataset against the oracle reading each of its shards.
inline void expect_matches_oracle(const Dataset& ds, const std::string& what) {
  std::vector<json> theirs;
  for (const auto& f : ds.data_files()) {
    auto part = oracle_rows(f.path);
    theirs.insert(theirs.end(), part.begin(), part.end());
  }
  expect_rows_match(ds, dataset_rows(ds), theirs, what);
}

// ---------------------------------------------------------------------------------------------
// A dataset with every feature kind, nulls, nested lists and Images.

inline arrow::Field item(arrow::TypePtr t) { return {"item", std::move(t), true, {}}; }

/// One batch of `rows` rows starting at logical row `first` (values depend on the row number).
inline arrow::RecordBatch all_kinds_batch(int64_t first, int64_t rows) {
  using namespace arrow;
  std::vector<int8_t> i8;
  std::vector<bool> i8_valid;
  std::vector<uint64_t> u64;
  std::vector<uint16_t> f16;
  std::vector<float> f32;
  std::vector<double> f64;
  std::vector<bool> b, b_valid;
  std::vector<std::optional<std::string>> s, ls, bin, lbin, img_bytes, img_path, st_b;
  std::vector<float> fsl_child;
  std::vector<bool> fsl_valid;
  std::vector<int64_t> lst_offsets{0}, lst_child;
  std::vector<bool> lst_valid;
  std::vector<int64_t> outer_offsets{0}, inner_offsets{0};
  std::vector<int32_t> inner_child;
  std::vector<int64_t> llst_offsets{0};
  std::vector<double> llst_child;
  std::vector<int32_t> st_a;
  std::vector<bool> st_valid;
  std::vector<int64_t> lst_st_offsets{0}, lst_st_x;
  std::vector<float> fsl_st_x;
  std::vector<int64_t> cls;
  for (int64_t k = 0; k < rows; ++k) {
    const int64_t r = first + k;
    i8.push_back(static_cast<int8_t>(r % 200 - 100));
    i8_valid.push_back(r % 7 != 3);
    u64.push_back(r % 5 == 0 ? 18446744073709551615ull - static_cast<uint64_t>(r)
                             : static_cast<uint64_t>(r));
    const float half_values[] = {0.0f, 1.0f, -2.5f, 65504.0f};
    const uint16_t half_bits[] = {0x0000, 0x3C00, 0xC100, 0x7BFF};
    (void)half_values;
    f16.push_back(half_bits[r % 4]);
    f32.push_back(r % 11 == 5 ? NAN : r % 13 == 6 ? INFINITY : static_cast<float>(r) * 0.1f);
    f64.push_back(static_cast<double>(r) / 3.0);
    b.push_back(r % 2 == 0);
    b_valid.push_back(r % 5 != 4);
    s.push_back(r % 6 == 2 ? std::nullopt
                           : std::optional<std::string>(fmt::format("row {} é ✓ \"q\"", r)));
    ls.push_back(fmt::format("large {}", r));
    bin.push_back(r % 9 == 1 ? std::nullopt : std::optional<std::string>(std::string("\x00\xff", 2) + std::to_string(r)));
    lbin.push_back(std::string(static_cast<size_t>(r % 4), 'z'));
    fsl_valid.push_back(r % 8 != 7);
    for (int j = 0; j < 3; ++j) fsl_child.push_back(static_cast<float>(r * 3 + j));
    lst_valid.push_back(r % 10 != 9);
    for (int64_t j = 0; j < r % 4; ++j) lst_child.push_back(r * 100 + j);
    lst_offsets.push_back(static_cast<int64_t>(lst_child.size()));
    for (int64_t j = 0; j < r % 3; ++j) {
      for (int64_t m = 0; m <= j; ++m) inner_child.push_back(static_cast<int32_t>(r + m));
      inner_offsets.push_back(static_cast<int64_t>(inner_child.size()));
    }
    outer_offsets.push_back(static_cast<int64_t>(inner_offsets.size()) - 1);
    for (int64_t j = 0; j < (r % 2) + 1; ++j) llst_child.push_back(static_cast<double>(r) + 0.5 * j);
    llst_offsets.push_back(static_cast<int64_t>(llst_child.size()));
    img_bytes.push_back(std::string("\x89PNG\r\n\x1a\n", 8) + std::to_string(r));
    img_path.push_back(r % 3 == 0 ? std::optional<std::string>(fmt::format("img/{}.png", r))
                                  : std::nullopt);
    st_a.push_back(static_cast<int32_t>(r * 2));
    st_b.push_back(fmt::format("b{}", r));
    st_valid.push_back(r % 12 != 11);
    for (int64_t j = 0; j < r % 3; ++j) lst_st_x.push_back(r + j);
    lst_st_offsets.push_back(static_cast<int64_t>(lst_st_x.size()));
    fsl_st_x.push_back(static_cast<float>(r));
    fsl_st_x.push_back(static_cast<float>(-r));
    cls.push_back(r % 3);
  }
  std::vector<std::string> names;
  std::vector<ArrayPtr> cols;
  auto add = [&](std::string n, ArrayPtr a) {
    names.push_back(std::move(n));
    cols.push_back(std::move(a));
  };
  add("i8", make_primitive<int8_t>(i8, i8_valid));
  add("u64", make_primitive<uint64_t>(u64));
  add("f16", make_float16(f16));
  add("f32", make_primitive<float>(f32));
  add("f64", make_primitive<double>(f64));
  add("b", make_bool(b, b_valid));
  add("s", make_utf8(s));
  add("ls", make_utf8(ls, true));
  add("bin", make_binary(bin));
  add("lbin", make_binary(lbin, true));
  add("nul", make_null(rows));
  add("fsl", make_fixed_size_list(make_primitive<float>(fsl_child), 3, fsl_valid));
  add("lst", make_list(lst_offsets, make_primitive<int64_t>(lst_child), lst_valid));
  add("nested", make_list(outer_offsets, make_list(inner_offsets, make_primitive<int32_t>(inner_child))));
  add("llst", make_list(llst_offsets, make_primitive<double>(llst_child), {}, true));
  add("img", make_struct({"bytes", "path"}, {make_binary(img_bytes), make_utf8(img_path)}));
  add("st", make_struct({"a", "b"}, {make_primitive<int32_t>(st_a), make_utf8(st_b)}, st_valid));
  add("lst_st", make_list(lst_st_offsets, make_struct({"x"}, {make_primitive<int64_t>(lst_st_x)})));
  add("fsl_st", make_fixed_size_list(make_struct({"x"}, {make_primitive<float>(fsl_st_x)}), 2));
  add("cls", make_primitive<int64_t>(cls));
  return make_batch(names, cols);
}

/// Features of all_kinds_batch: inferred, with "img" an Image and "cls" a ClassLabel.
inline Features all_kinds_features(const arrow::Schema& schema) {
  ojson j = ojson::parse(Features::from_schema(schema).to_json());
  j["img"] = ojson{{"_type", "Image"}};
  j["cls"] = ojson{{"names", {"neg", "zero", "pos"}}, {"_type", "ClassLabel"}};
  return Features::from_json(j.dump());
}

/// A dataset of `rows` rows in batches of `batch_rows`.
inline Dataset all_kinds_dataset(int64_t rows, int64_t batch_rows) {
  std::vector<arrow::RecordBatch> batches;
  for (int64_t r = 0; r < rows; r += batch_rows) {
    batches.push_back(all_kinds_batch(r, std::min(batch_rows, rows - r)));
  }
  auto schema = batches.empty() ? all_kinds_batch(0, 0).schema : batches[0].schema;
  for (auto& b : batches) b.schema = schema;
  return Dataset::from_batches(schema, std::move(batches), all_kinds_features(*schema));
}

/// Copies a directory tree.
/// all_kinds_batch without the null column (Parquet has no column type for Arrow null).
inline arrow::RecordBatch all_kinds_without_null_batch(int64_t first, int64_t rows) {
  arrow::RecordBatch b = all_kinds_batch(first, rows);
  const int nul = b.schema->field_index("nul");
  auto schema = std::make_shared<arrow::Schema>(*b.schema);
  schema->fields.erase(schema->fields.begin() + nul);
  b.columns.erase(b.columns.begin() + nul);
  b.schema = std::move(schema);
  return b;
}

/// all_kinds_dataset without the null column, in batches of `batch_rows`.
inline Dataset all_kinds_without_null(int64_t rows, int64_t batch_rows) {
  std::vector<arrow::RecordBatch> batches;
  std::shared_ptr<const arrow::Schema> schema = all_kinds_without_null_batch(0, 0).schema;
  for (int64_t r = 0; r < rows; r += batch_rows) {
    batches.push_back(all_kinds_without_null_batch(r, std::min(batch_rows, rows - r)));
    batches.back().schema = schema;
  }
  return Dataset::from_batches(schema, std::move(batches), all_kinds_features(*schema));
}

inline void copy_tree(const std::filesystem::path& from, const std::filesystem::path& to) {
  std::filesystem::copy(from, to, std::filesystem::copy_options::recursive);
}

}  // namespace mouse::test

/// Expects `stmt` to throw `type` whose message contains `substr`.
#define EXPECT_THROW_MSG(stmt, type, substr)                                             \
  do {                                                                                   \
    try {                                                                                \
      stmt;                                                                              \
      ADD_FAILURE() << "expected " #type " from: " #stmt;                                \
    } catch (const type& e__) {                                                          \
      EXPECT_NE(std::string(e__.what()).find(substr), std::string::npos)                 \
          << "message: " << e__.what() << "\nexpected to contain: " << (substr);         \
    } catch (const std::exception& e__) {                                                \
      ADD_FAILURE() << "expected " #type ", got another exception: " << e__.what();      \
    }                                                                                    \
  } while (0)
