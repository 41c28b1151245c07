// Reads every Arrow IPC gold file of arrow-testing (stream and file framing) and compares every
// value of every batch with its integration-JSON description (.json.gz).
#include <zlib.h>

#include <fmt/format.h>
#include <cmath>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>

#include "mouse/arrow_ipc.hpp"
#include "mouse/error.hpp"
#include "test_support.hpp"

namespace mouse::arrow {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

fs::path integration_dir() {
  return test::testdata_dir() / "arrow-testing" / "data" / "arrow-ipc-stream" / "integration";
}

// Gold files mouse-data must refuse, keyed by "<dir>/<stem>", with the substring the
// FormatError must contain. SPEC §2.5 lists the supported types; everything else is named.
// Adding support for a type means moving its files out of this table.
const std::map<std::string, std::string>& expected_failures() {
  static const std::map<std::string, std::string> k = {
      {"0.14.1/generated_primitive", "FixedSizeBinary"},
      {"1.0.0-bigendian/generated_primitive", "big-endian"},
      {"1.0.0-littleendian/generated_primitive", "FixedSizeBinary"},
      {"cpp-21.0.0/generated_binary", "FixedSizeBinary"},
      {"cpp-21.0.0/generated_binary_no_batches", "FixedSizeBinary"},
      {"cpp-21.0.0/generated_binary_zerolength", "FixedSizeBinary"},
      {"cpp-21.0.0/generated_binary_view", "BinaryView"},
      {"cpp-21.0.0/generated_datetime", "Date"},
      {"cpp-21.0.0/generated_decimal", "Decimal"},
      {"cpp-21.0.0/generated_decimal256", "Decimal"},
      {"cpp-21.0.0/generated_decimal32", "Decimal"},
      {"cpp-21.0.0/generated_decimal64", "Decimal"},
      {"cpp-21.0.0/generated_dictionary", "dictionary-encoded"},
      {"cpp-21.0.0/generated_dictionary_unsigned", "dictionary-encoded"},
      {"cpp-21.0.0/generated_nested_dictionary", "dictionary-encoded"},
      {"cpp-21.0.0/generated_duration", "Duration"},
      // Extension types are plain storage + metadata; here the storage is fixed_size_binary.
      {"cpp-21.0.0/generated_extension", "FixedSizeBinary"},
      {"cpp-21.0.0/generated_interval", "Interval"},
      {"cpp-21.0.0/generated_interval_mdn", "Interval"},
      {"cpp-21.0.0/generated_list_view", "ListView"},
      {"cpp-21.0.0/generated_map", "Map"},
      {"cpp-21.0.0/generated_map_non_canonical", "Map"},
      {"cpp-21.0.0/generated_run_end_encoded", "RunEndEncoded"},
      {"cpp-21.0.0/generated_union", "Union"},
  };
  return k;
}

struct GoldenCase {
  fs::path file;
  fs::path json_gz;
  std::string key;   // "<dir>/<stem>"
  std::string name;  // test name
};

std::vector<GoldenCase> golden_cases() {
  std::vector<GoldenCase> out;
  std::error_code ec;
  if (!fs::exists(integration_dir(), ec)) return out;
  for (const auto& e : fs::recursive_directory_iterator(integration_dir())) {
    const fs::path& p = e.path();
    if (p.extension() != ".stream" && p.extension() != ".arrow_file") continue;
    GoldenCase c;
    c.file = p;
    c.json_gz = p.parent_path() / (p.stem().string() + ".json.gz");
    c.key = p.parent_path().filename().string() + "/" + p.stem().string();
    std::string n = c.key + "_" + p.extension().string().substr(1);
    for (char& ch : n) {
      if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
    }
    c.name = n;
    out.push_back(c);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

json read_json_gz(const fs::path& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) throw std::runtime_error("cannot open " + path.string());
  std::string text;
  char buf[65536];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
  gzclose(f);
  return json::parse(text);
}

TypePtr type_from_json(const json& field);

Field field_from_json(const json& j) {
  Field f;
  f.name = j.at("name").get<std::string>();
  f.nullable = j.at("nullable").get<bool>();
  f.type = type_from_json(j);
  if (j.contains("metadata")) {
    for (const auto& kv : j["metadata"]) {
      f.metadata.emplace_back(kv.at("key").get<std::string>(), kv.at("value").get<std::string>());
    }
  }
  return f;
}

TypePtr type_from_json(const json& field) {
  const json& t = field.at("type");
  const std::string name = t.at("name").get<std::string>();
  std::vector<Field> children;
  for (const auto& c : field.value("children", json::array()))
    children.push_back(field_from_json(c));
  if (name == "null") return null();
  if (name == "bool") return boolean();
  if (name == "utf8") return utf8();
  if (name == "largeutf8") return large_utf8();
  if (name == "binary") return binary();
  if (name == "largebinary") return large_binary();
  if (name == "int") {
    const bool s = t.at("isSigned").get<bool>();
    switch (t.at("bitWidth").get<int>()) {
      case 8:
        return s ? int8() : uint8();
      case 16:
        return s ? int16() : uint16();
      case 32:
        return s ? int32() : uint32();
      default:
        return s ? int64() : uint64();
    }
  }
  if (name == "floatingpoint") {
    const std::string p = t.at("precision").get<std::string>();
    return p == "HALF" ? float16() : p == "SINGLE" ? float32() : float64();
  }
  if (name == "list") return list(children.at(0));
  if (name == "largelist") return large_list(children.at(0));
  if (name == "fixedsizelist") return fixed_size_list(children.at(0), t.at("listSize").get<int>());
  if (name == "struct") return struct_(children);
  throw std::runtime_error("unexpected JSON type " + name);
}

int64_t json_int(const json& v) {
  if (v.is_string()) return std::stoll(v.get<std::string>());
  return v.get<int64_t>();
}
uint64_t json_uint(const json& v) {
  if (v.is_string()) return std::stoull(v.get<std::string>());
  return v.get<uint64_t>();
}

float half_to_float(uint16_t h) {
  const int exp = (h >> 10) & 0x1f;
  const int mant = h & 0x3ff;
  float v;
  if (exp == 0) {
    v = std::ldexp(static_cast<float>(mant), -24);
  } else if (exp == 31) {
    v = mant != 0 ? NAN : INFINITY;
  } else {
    v = std::ldexp(static_cast<float>(mant + 1024), exp - 25);
  }
  return (h & 0x8000) ? -v : v;
}

std::string hex(std::string_view bytes) {
  std::string s;
  for (unsigned char c : bytes) s += fmt::format("{:02X}", c);
  return s;
}

int64_t raw_offset(const ArrayData& a, int64_t i) {
  if (a.type->has_large_offsets()) {
    int64_t v;
    std::memcpy(&v, a.buffers[1].data() + (a.offset + i) * 8, 8);
    return v;
  }
  int32_t v;
  std::memcpy(&v, a.buffers[1].data() + (a.offset + i) * 4, 4);
  return v;
}

template <class T>
T value_at(const ArrayData& a, int64_t i) {
  return values<T>(a)[i];
}

// Compares array `a` with integration-JSON column `col`; returns the number of values checked.
int64_t compare(const ArrayData& a, const json& col, const std::string& where) {
  int64_t checked = 0;
  const int64_t count = col.at("count").get<int64_t>();
  EXPECT_EQ(a.length, count) << where;
  if (a.length != count) return 0;
  const DataType& t = *a.type;
  std::vector<bool> valid(static_cast<size_t>(count), t.id != TypeId::kNull);
  if (col.contains("VALIDITY")) {
    for (int64_t i = 0; i < count; ++i) valid[i] = col["VALIDITY"].at(i).get<int>() != 0;
  }
  int64_t nulls = 0;
  for (int64_t i = 0; i < count; ++i) {
    EXPECT_EQ(a.is_valid(i), valid[i]) << where << " validity of element " << i;
    nulls += valid[i] ? 0 : 1;
  }
  EXPECT_EQ(a.null_count, nulls) << where;
  const json* data = col.contains("DATA") ? &col["DATA"] : nullptr;
  auto each_valid = [&](auto&& fn) {
    for (int64_t i = 0; i < count; ++i) {
      if (!valid[i]) continue;
      fn(i, data->at(i));
      ++checked;
    }
  };
  switch (t.id) {
    case TypeId::kNull:
      break;
    case TypeId::kBool:
      each_valid([&](int64_t i, const json& v) {
        EXPECT_EQ(bool_value(a, i), v.get<bool>()) << where << "[" << i << "]";
      });
      break;
    case TypeId::kInt8:
      each_valid([&](int64_t i, const json& v) {
        EXPECT_EQ(value_at<int8_t>(a, i), json_int(v)) << where << "[" << i << "]";
      });
      break;
    case TypeId::kInt16:
      each_valid([&](int64_t i, const json& v) {
        EXPECT_EQ(value_at<int16_t>(a, i), json_int(v)) << where << "[" << i << "]";
      });
      break;
    case TypeId::kInt32:
      each_valid([&](int64_t i, const json& v) {
        EXPECT_EQ(value_at<int32_t>(a, i), json_int(v)) << where << "[" << i << "]";
      });
      break;
    case TypeId::kInt64:
      each_valid([&](int64_t i, const json& v) {
        EXPECT_EQ(value_at<int64_t>(a, i), json_int(v)) << where << "[" << i << "]";
      });
      break;
    case TypeId::kUInt8:
      each_valid([&](int64_t i, const json& v) {
        EXPECT_EQ(value_at<uint8_t>(a, i), json_uint(v)) << where << "[" << i << "]";
      });
      break;
    case TypeId::kUInt16:
      each_valid([&](int64_t i, const json& v) {
        EXPECT_EQ(value_at<uint16_t>(a, i), json_uint(v)) << where << "[" << i << "]";
      });
      break;
    case TypeId::kUInt32:
      each_valid([&](int64_t i, const json& v) {
        EXPECT_EQ(value_at<uint32_t>(a, i), json_uint(v)) << where << "[" << i << "]";
      });
      break;
    case TypeId::kUInt64:
      each_valid([&](int64_t i, const json& v) {
        EXPECT_EQ(value_at<uint64_t>(a, i), json_uint(v)) << where << "[" << i << "]";
      });
      break;
    case TypeId::kFloat16:
      each_valid([&](int64_t i, const json& v) {
        EXPECT_FLOAT_EQ(half_to_float(value_at<uint16_t>(a, i)), v.get<float>())
            << where << "[" << i << "]";
      });
      break;
    case TypeId::kFloat32:
      each_valid([&](int64_t i, const json& v) {
        EXPECT_FLOAT_EQ(value_at<float>(a, i), v.get<float>()) << where << "[" << i << "]";
      });
      break;
    case TypeId::kFloat64:
      each_valid([&](int64_t i, const json& v) {
        EXPECT_DOUBLE_EQ(value_at<double>(a, i), v.get<double>()) << where << "[" << i << "]";
      });
      break;
    case TypeId::kUtf8:
    case TypeId::kLargeUtf8:
    case TypeId::kBinary:
    case TypeId::kLargeBinary: {
      const bool text = t.id == TypeId::kUtf8 || t.id == TypeId::kLargeUtf8;
      each_valid([&](int64_t i, const json& v) {
        std::string_view got = binary_value(a, i);
        if (text) {
          EXPECT_EQ(got, v.get<std::string>()) << where << "[" << i << "]";
        } else {
          EXPECT_EQ(hex(got), v.get<std::string>()) << where << "[" << i << "]";
        }
      });
      break;
    }
    default:
      break;
  }
  if (t.id == TypeId::kUtf8 || t.id == TypeId::kLargeUtf8 || t.id == TypeId::kBinary ||
      t.id == TypeId::kLargeBinary || t.id == TypeId::kList || t.id == TypeId::kLargeList) {
    if (!a.buffers[1].empty()) {
      const json& off = col.at("OFFSET");
      EXPECT_EQ(static_cast<int64_t>(off.size()), count + 1) << where;
      for (int64_t i = 0; i <= count && i < static_cast<int64_t>(off.size()); ++i) {
        EXPECT_EQ(raw_offset(a, i), json_int(off[i])) << where << " offset " << i;
      }
    } else {
      EXPECT_EQ(count, 0) << where << ": offsets buffer omitted for a non-empty array";
    }
  }
  if (t.id == TypeId::kList || t.id == TypeId::kLargeList || t.id == TypeId::kFixedSizeList ||
      t.id == TypeId::kStruct) {
    const json& kids = col.at("children");
    EXPECT_EQ(kids.size(), a.children.size()) << where;
    for (size_t c = 0; c < a.children.size() && c < kids.size(); ++c) {
      checked += compare(*a.children[c], kids[c], where + "." + t.children[c].name);
    }
  }
  return checked;
}

void PrintTo(const GoldenCase& c, std::ostream* os) {
  *os << c.key << c.file.extension();
}

class IpcGolden : public ::testing::TestWithParam<GoldenCase> {};

TEST_P(IpcGolden, ReadsAndMatchesIntegrationJson) {
  const GoldenCase& c = GetParam();
  const auto& failures = expected_failures();
  auto expected_failure = failures.find(c.key);
  if (expected_failure != failures.end()) {
    try {
      (void)read_ipc(c.file);
      FAIL() << c.file << ": expected a FormatError containing \"" << expected_failure->second
             << "\", but it read";
    } catch (const FormatError& e) {
      EXPECT_NE(std::string(e.what()).find(expected_failure->second), std::string::npos)
          << e.what();
      EXPECT_NE(std::string(e.what()).find(c.file.filename().string()), std::string::npos)
          << e.what();
    }
    return;
  }
  const json expected = read_json_gz(c.json_gz);
  for (bool full : {false, true}) {
    IpcReadOptions options;
    options.validate_full = full;
    IpcTable table = read_ipc(c.file, options);
    if (c.file.extension() == ".arrow_file") {
      EXPECT_EQ(table.framing, IpcFraming::kFile);
    } else if (c.key.starts_with("0.14.1/")) {
      EXPECT_EQ(table.framing, IpcFraming::kLegacyStream);
    } else {
      EXPECT_EQ(table.framing, IpcFraming::kStream);
    }
    // Schema: names, types, nullability, metadata.
    const json& jfields = expected.at("schema").at("fields");
    ASSERT_EQ(table.schema->fields.size(), jfields.size());
    for (size_t i = 0; i < jfields.size(); ++i) {
      const Field want = field_from_json(jfields[i]);
      const Field& got = table.schema->fields[i];
      EXPECT_EQ(got.name, want.name);
      EXPECT_EQ(got.nullable, want.nullable) << got.name;
      EXPECT_TRUE(got.type->equals(*want.type))
          << got.name << ": " << got.type->to_string() << " vs " << want.type->to_string();
      EXPECT_EQ(got.metadata, want.metadata) << got.name;
    }
    KeyValueMetadata want_meta;
    if (expected.at("schema").contains("metadata")) {
      for (const auto& kv : expected["schema"]["metadata"]) {
        want_meta.emplace_back(kv.at("key").get<std::string>(), kv.at("value").get<std::string>());
      }
    }
    EXPECT_EQ(table.schema->metadata, want_meta);
    // Batches: every value.
    const json& jbatches = expected.at("batches");
    ASSERT_EQ(table.batches.size(), jbatches.size());
    int64_t checked = 0;
    for (size_t b = 0; b < jbatches.size(); ++b) {
      const RecordBatch& batch = table.batches[b];
      EXPECT_EQ(batch.num_rows, jbatches[b].at("count").get<int64_t>());
      const json& cols = jbatches[b].at("columns");
      ASSERT_EQ(batch.columns.size(), cols.size());
      for (size_t i = 0; i < cols.size(); ++i) {
        checked += compare(*batch.columns[i], cols[i],
                           fmt::format("batch {} column {}", b, table.schema->fields[i].name));
      }
      for (const ArrayPtr& col : batch.columns) EXPECT_NO_THROW(validate(*col, "golden", true));
    }
    RecordProperty("values_checked", std::to_string(checked));
  }
}

std::string case_name(const ::testing::TestParamInfo<GoldenCase>& info) {
  return info.param.name;
}

INSTANTIATE_TEST_SUITE_P(ArrowTesting, IpcGolden, ::testing::ValuesIn(golden_cases()), case_name);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(IpcGolden);

TEST(IpcGoldenCorpus, IsPresentAndComplete) {
  MOUSE_REQUIRE_TESTDATA();
  const auto cases = golden_cases();
  EXPECT_EQ(cases.size(), 88u) << "gold files under " << integration_dir();
  // Every expected failure names a file that exists, so the table cannot go stale.
  for (const auto& [key, why] : expected_failures()) {
    EXPECT_TRUE(std::any_of(cases.begin(), cases.end(), [&](const auto& c) {
      return c.key == key;
    })) << key;
  }
}

TEST(IpcGoldenCorpus, BigEndianIsRejectedNotMisread) {
  MOUSE_REQUIRE_TESTDATA();
  for (const char* ext : {".stream", ".arrow_file"}) {
    const fs::path p =
        integration_dir() / "1.0.0-bigendian" / (std::string("generated_primitive") + ext);
    try {
      (void)read_ipc(p);
      FAIL() << p << " read";
    } catch (const FormatError& e) {
      EXPECT_NE(std::string(e.what()).find("big-endian"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("generated_primitive"), std::string::npos) << e.what();
    }
  }
}

TEST(IpcGoldenCorpus, MetadataV6IsRejectedNamingTheVersion) {
  MOUSE_REQUIRE_TESTDATA();
  const fs::path p =
      test::testdata_dir() / "arrow-testing" / "data" / "forward-compatibility" / "schema_v6.arrow";
  try {
    (void)read_ipc(p);
    FAIL() << p << " read";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("V6"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("schema_v6.arrow"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mouse::arrow
