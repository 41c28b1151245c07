// Helpers for the Parquet tests: our tables as JSON rows in the format of
// tests/oracle/duckdb_parquet.mjs, and running that oracle.
#pragma once

#include <nlohmann/json.hpp>

#include <cstring>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "mouse/arrow.hpp"
#include "mouse/arrow_json.hpp"
#include "mouse/parquet.hpp"
#include "test_support.hpp"

namespace mouse::test {

inline double half_to_double(uint16_t h) {
  const int sign = h >> 15, exp = (h >> 10) & 0x1f, frac = h & 0x3ff;
  double v;
  if (exp == 0) {
    v = std::ldexp(frac, -24);
  } else if (exp == 31) {
    v = frac ? std::nan("") : INFINITY;
  } else {
    v = std::ldexp(frac + 1024, exp - 25);
  }
  return sign ? -v : v;
}

inline nlohmann::json float_json(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  return d;
}

/// Element `i` of `a` as JSON: null, bool, exact integers, floats as doubles ("nan", "inf",
/// "-inf"), strings, binary as base64, lists as arrays, structs as objects.
inline nlohmann::json pq_value_json(const arrow::ArrayData& a, int64_t i) {
  using arrow::TypeId;
  if (!a.is_valid(i)) return nullptr;
  switch (a.type->id) {
    case TypeId::kNull: return nullptr;
    case TypeId::kBool: return arrow::bool_value(a, i);
    case TypeId::kInt8: return arrow::values<int8_t>(a)[i];
    case TypeId::kInt16: return arrow::values<int16_t>(a)[i];
    case TypeId::kInt32: return arrow::values<int32_t>(a)[i];
    case TypeId::kInt64: return arrow::values<int64_t>(a)[i];
    case TypeId::kUInt8: return arrow::values<uint8_t>(a)[i];
    case TypeId::kUInt16: return arrow::values<uint16_t>(a)[i];
    case TypeId::kUInt32: return arrow::values<uint32_t>(a)[i];
    case TypeId::kUInt64: return arrow::values<uint64_t>(a)[i];
    case TypeId::kFloat16: return float_json(half_to_double(arrow::values<uint16_t>(a)[i]));
    case TypeId::kFloat32: return float_json(arrow::values<float>(a)[i]);
    case TypeId::kFloat64: return float_json(arrow::values<double>(a)[i]);
    case TypeId::kUtf8:
    case TypeId::kLargeUtf8: return std::string(arrow::binary_value(a, i));
    case TypeId::kBinary:
    case TypeId::kLargeBinary: return arrow::base64_encode(arrow::binary_value(a, i));
    case TypeId::kList:
    case TypeId::kLargeList: {
      auto [b, e] = arrow::value_range(a, i);
      nlohmann::json out = nlohmann::json::array();
      for (int64_t k = b; k < e; ++k) out.push_back(pq_value_json(*a.children[0], k));
      return out;
    }
    case TypeId::kFixedSizeList: {
      nlohmann::json out = nlohmann::json::array();
      const int64_t n = a.type->list_size;
      for (int64_t k = 0; k < n; ++k) out.push_back(pq_value_json(*a.children[0], (a.offset + i) * n + k));
      return out;
    }
    case TypeId::kStruct: {
      nlohmann::json out = nlohmann::json::object();
      for (size_t c = 0; c < a.children.size(); ++c) {
        out[a.type->children[c].name] = pq_value_json(*a.children[c], a.offset + i);
      }
      return out;
    }
  }
  return nullptr;
}

/// Every row of `table` as a JSON object keyed by column name.
inline std::vector<nlohmann::json> pq_rows(const parquet::Table& table) {
  std::vector<nlohmann::json> rows;
  for (const auto& b : table.batches) {
    for (int64_t r = 0; r < b.num_rows; ++r) {
      nlohmann::json row = nlohmann::json::object();
      for (size_t c = 0; c < b.columns.size(); ++c) row[table.schema->fields[c].name] = pq_value_json(*b.columns[c], r);
      rows.push_back(std::move(row));
    }
  }
  return rows;
}

inline std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

/// True when node and @duckdb/node-api are installed in tests/oracle.
inline bool duckdb_available() {
  return std::filesystem::exists(oracle_dir() / "node_modules" / "@duckdb" / "node-api") &&
         run_command("node --version >/dev/null 2>&1").status == 0;
}

/// Rows of `file` as DuckDB reads them (only `columns` if given); status != 0 on failure.
inline CommandResult duckdb_read(const std::filesystem::path& file, const std::vector<std::string>& columns = {}) {
  std::string cmd = "node " + shell_quote((oracle_dir() / "duckdb_parquet.mjs").string()) + " read " + shell_quote(file.string());
  for (const auto& c : columns) cmd += " " + shell_quote(c);
  return run_command(cmd);
}

/// Runs SQL statements in DuckDB.
inline CommandResult duckdb_sql(const std::vector<std::string>& statements) {
  std::string cmd = "node " + shell_quote((oracle_dir() / "duckdb_parquet.mjs").string()) + " sql";
  for (const auto& s : statements) cmd += " " + shell_quote(s);
  return run_command(cmd);
}

inline std::vector<nlohmann::json> json_lines(const std::string& text) {
  std::vector<nlohmann::json> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  }
  return out;
}

/// Compares row lists value for value, reporting the first differences.
inline void expect_same_rows(const std::vector<nlohmann::json>& ours, const std::vector<nlohmann::json>& theirs,
                             const std::string& what) {
  ASSERT_EQ(ours.size(), theirs.size()) << what << ": row count";
  int reported = 0;
  for (size_t r = 0; r < ours.size() && reported < 5; ++r) {
    if (ours[r] != theirs[r]) {
      ++reported;
      ADD_FAILURE() << what << ": row " << r << "\n ours   " << ours[r].dump().substr(0, 2000)
                    << "\n theirs " << theirs[r].dump().substr(0, 2000);
    }
  }
}

}  // namespace mouse::test

#define MOUSE_REQUIRE_DUCKDB()                                                             \
  do {                                                                                     \
    if (!::mouse::test::duckdb_available()) {                                              \
      GTEST_SKIP() << "SKIPPED: @duckdb/node-api missing; run `npm ci` in tests/oracle";   \
    }                                                                                      \
  } while (0)
