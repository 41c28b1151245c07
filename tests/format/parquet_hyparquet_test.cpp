// Node-free check of the reader: every file with expected rows in expected-hyparquet/ (decoded
// by hyparquet, an independent JavaScript reader) must match value for value. hyparquet's JSON
// conventions are followed: int64 as doubles, NaN as null, maps as objects, binary as text or
// byte arrays, columns in file order (columns of types outside SPEC §2.5 are skipped by name).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include "mouse/parquet.hpp"
#include "parquet_test_util.hpp"
#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
namespace pq = mouse::parquet;
using mouse::arrow::ArrayData;
using mouse::arrow::TypeId;
using nlohmann::json;

bool match(const ArrayData& a, int64_t i, const json& want, std::string& why);

bool match_bytes(std::string_view ours, const json& want) {
  if (want.is_string()) return want.get<std::string>() == ours;
  if (!want.is_array() || want.size() != ours.size()) return false;
  for (size_t k = 0; k < ours.size(); ++k) {
    if (!want[k].is_number() || want[k].get<int>() != static_cast<uint8_t>(ours[k])) return false;
  }
  return true;
}

std::string key_text(const ArrayData& a, int64_t i) {
  json k = mouse::test::pq_value_json(a, i);
  return k.is_string() ? k.get<std::string>() : k.dump();
}

bool match(const ArrayData& a, int64_t i, const json& want, std::string& why) {
  json ours = mouse::test::pq_value_json(a, i);
  auto fail = [&]() {
    why = "ours " + ours.dump().substr(0, 300) + " vs hyparquet " + want.dump().substr(0, 300);
    return false;
  };
  if (ours.is_null()) return want.is_null() ? true : fail();
  const TypeId id = a.type->id;
  if (id == TypeId::kFloat32 || id == TypeId::kFloat64 || id == TypeId::kFloat16) {
    if (ours.is_string()) return ours == "nan" ? (want.is_null() ? true : fail()) : fail();
    if (!want.is_number()) return fail();
    double w = want.get<double>(), o = ours.get<double>();
    if (id == TypeId::kFloat32) return static_cast<float>(w) == static_cast<float>(o) ? true : fail();
    return w == o ? true : fail();
  }
  if (a.type->is_numeric()) {
    return want.is_number() && want.get<double>() == ours.get<double>() ? true : fail();
  }
  if (id == TypeId::kBool) return want == ours ? true : fail();
  if (a.type->is_binary_like()) return match_bytes(mouse::arrow::binary_value(a, i), want) ? true : fail();
  if (id == TypeId::kStruct) {
    if (!want.is_object()) return fail();
    for (size_t c = 0; c < a.children.size(); ++c) {
      const std::string& name = a.type->children[c].name;
      const json w = want.contains(name) ? want[name] : json();
      if (!match(*a.children[c], a.offset + i, w, why)) {
        why = name + ": " + why;
        return false;
      }
    }
    return true;
  }
  if (a.type->is_list_like()) {
    auto [b, e] = mouse::arrow::value_range(a, i);
    const ArrayData& child = *a.children[0];
    const auto& ct = *child.type;
    const bool map_like = ct.id == TypeId::kStruct && !ct.children.empty() && ct.children[0].name == "key";
    if (map_like && want.is_object()) {
      if (static_cast<int64_t>(want.size()) != e - b) return fail();
      for (int64_t k = b; k < e; ++k) {
        std::string key = key_text(*child.children[0], child.offset + k);
        if (!want.contains(key)) return fail();
        if (child.children.size() > 1 && !match(*child.children[1], child.offset + k, want[key], why)) return false;
      }
      return true;
    }
    if (!want.is_array() || static_cast<int64_t>(want.size()) != e - b) return fail();
    for (int64_t k = b; k < e; ++k) {
      if (!match(child, k, want[static_cast<size_t>(k - b)], why)) return false;
    }
    return true;
  }
  return fail();
}

std::vector<std::string> hyparquet_stems() {
  std::vector<std::string> out;
  const fs::path dir = mouse::test::testdata_dir() / "parquet-testing" / "expected-hyparquet";
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (e.path().extension() == ".json" && name.find(".metadata.json") == std::string::npos) {
      out.push_back(name.substr(0, name.size() - 5));
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

class ParquetHyparquet : public ::testing::TestWithParam<std::string> {};

TEST_P(ParquetHyparquet, MatchesTheIndependentReader) {
  MOUSE_REQUIRE_TESTDATA();
  const std::string stem = GetParam();
  const fs::path root = mouse::test::testdata_dir() / "parquet-testing";
  const fs::path file = root / "data" / (stem + ".parquet");
  std::ifstream in(root / "expected-hyparquet" / (stem + ".json"));
  json want = json::parse(in);
  pq::FileInfo info = pq::inspect_parquet(file);
  pq::ReadOptions o;
  std::vector<size_t> index;
  for (size_t c = 0; c < info.columns.size(); ++c) {
    if (info.columns[c].unsupported.empty()) {
      o.columns.push_back(info.columns[c].name);
      index.push_back(c);
    }
  }
  if (o.columns.empty()) {
    std::cout << "[ SKIPPED VALUES ] " << stem << ": every column has a type outside SPEC §2.5\n";
    return;
  }
  pq::Table t = pq::read_parquet(file, o);
  ASSERT_EQ(t.num_rows(), static_cast<int64_t>(want.size()));
  size_t row = 0;
  for (const auto& b : t.batches) {
    for (int64_t r = 0; r < b.num_rows; ++r, ++row) {
      for (size_t c = 0; c < b.columns.size(); ++c) {
        std::string why;
        ASSERT_TRUE(match(*b.columns[c], r, want[row][index[c]], why))
            << stem << " row " << row << " column " << o.columns[c] << ": " << why;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(ParquetFiles, ParquetHyparquet, ::testing::ValuesIn(hyparquet_stems()),
                         [](const auto& info) {
                           std::string s;
                           for (char c : info.param) s += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return s;
                         });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(ParquetHyparquet);

}  // namespace
