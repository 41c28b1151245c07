// Helpers for the IPC writer tests: a test-side reading of ArrayData into the oracle's JSON form
// (written independently of the library's json_value.cpp), sample batches holding every type
// with nulls at every level, and a walker over the messages of an IPC stream.
#pragma once

#include <flatbuffers/flatbuffers.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "format/arrow/builders.hpp"
#include "mouse/arrow.hpp"

namespace mouse::test {

using nlohmann::json;
namespace ar = ::mouse::arrow;

// ---- values as JSON (the read_arrow.mjs format) -----------------------------------------------

inline std::string base64(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  auto byte = [&](size_t k) { return static_cast<uint32_t>(static_cast<uint8_t>(bytes[k])); };
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t v = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    for (int s = 18; s >= 0; s -= 6) out += kAlphabet[(v >> s) & 63];
  }
  if (bytes.size() - i == 1) {
    uint32_t v = byte(i) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (bytes.size() - i == 2) {
    uint32_t v = byte(i) << 16 | byte(i + 1) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

inline double half_to_double(uint16_t h) {
  const int exponent = (h >> 10) & 0x1f;
  const int mantissa = h & 0x3ff;
  double v;
  if (exponent == 0) {
    v = std::ldexp(mantissa, -24);
  } else if (exponent == 31) {
    v = mantissa != 0 ? std::numeric_limits<double>::quiet_NaN()
                      : std::numeric_limits<double>::infinity();
  } else {
    v = std::ldexp(mantissa + 1024, exponent - 25);
  }
  return (h & 0x8000) ? -v : v;
}

inline json float_json(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return v;
}

template <class T>
json integer_json(T v) {
  constexpr int64_t kMaxSafe = (int64_t{1} << 53) - 1;
  if constexpr (std::is_signed_v<T>) {
    if (v > kMaxSafe || v < -kMaxSafe) return std::to_string(v);
    return static_cast<int64_t>(v);
  } else {
    if (v > static_cast<uint64_t>(kMaxSafe)) return std::to_string(v);
    return static_cast<uint64_t>(v);
  }
}

template <class T>
T load(const Buffer& b, int64_t i) {
  T v;
  std::memcpy(&v, b.data() + i * static_cast<int64_t>(sizeof(T)), sizeof(T));
  return v;
}

/// Element i of `a` (relative to its offset) as JSON.
inline json value_json(const ar::ArrayData& a, int64_t i) {
  using ar::TypeId;
  const int64_t j = a.offset + i;
  if (a.type->id == TypeId::kNull) return nullptr;
  if (!a.buffers.empty() && !a.buffers[0].empty() && !ar::get_bit(a.buffers[0].data(), j)) {
    return nullptr;
  }
  auto range = [&](int64_t k) -> std::pair<int64_t, int64_t> {
    if (a.type->has_large_offsets())
      return {load<int64_t>(a.buffers[1], k), load<int64_t>(a.buffers[1], k + 1)};
    return {load<int32_t>(a.buffers[1], k), load<int32_t>(a.buffers[1], k + 1)};
  };
  switch (a.type->id) {
    case TypeId::kNull:
      return nullptr;
    case TypeId::kBool:
      return ar::get_bit(a.buffers[1].data(), j);
    case TypeId::kInt8:
      return integer_json(load<int8_t>(a.buffers[1], j));
    case TypeId::kInt16:
      return integer_json(load<int16_t>(a.buffers[1], j));
    case TypeId::kInt32:
      return integer_json(load<int32_t>(a.buffers[1], j));
    case TypeId::kInt64:
      return integer_json(load<int64_t>(a.buffers[1], j));
    case TypeId::kUInt8:
      return integer_json(load<uint8_t>(a.buffers[1], j));
    case TypeId::kUInt16:
      return integer_json(load<uint16_t>(a.buffers[1], j));
    case TypeId::kUInt32:
      return integer_json(load<uint32_t>(a.buffers[1], j));
    case TypeId::kUInt64:
      return integer_json(load<uint64_t>(a.buffers[1], j));
    case TypeId::kFloat16:
      return float_json(half_to_double(load<uint16_t>(a.buffers[1], j)));
    case TypeId::kFloat32:
      return float_json(load<float>(a.buffers[1], j));
    case TypeId::kFloat64:
      return float_json(load<double>(a.buffers[1], j));
    case TypeId::kUtf8:
    case TypeId::kLargeUtf8:
    case TypeId::kBinary:
    case TypeId::kLargeBinary: {
      auto [b, e] = range(j);
      std::string s(reinterpret_cast<const char*>(a.buffers[2].data()) + b,
                    static_cast<size_t>(e - b));
      if (a.type->id == TypeId::kBinary || a.type->id == TypeId::kLargeBinary) return base64(s);
      return s;
    }
    case TypeId::kList:
    case TypeId::kLargeList: {
      auto [b, e] = range(j);
      json out = json::array();
      for (int64_t k = b; k < e; ++k) out.push_back(value_json(*a.children[0], k));
      return out;
    }
    case TypeId::kFixedSizeList: {
      json out = json::array();
      const int64_t n = a.type->list_size;
      for (int64_t k = j * n; k < (j + 1) * n; ++k) out.push_back(value_json(*a.children[0], k));
      return out;
    }
    case TypeId::kStruct: {
      json out = json::object();
      for (size_t c = 0; c < a.children.size(); ++c) {
        out[a.type->children[c].name] = value_json(*a.children[c], j);
      }
      return out;
    }
  }
  return "?";
}

/// One JSON object per row: column name -> value.
inline std::vector<json> rows_json(const ar::RecordBatch& batch) {
  std::vector<json> rows;
  for (int64_t r = 0; r < batch.num_rows; ++r) {
    json row = json::object();
    for (size_t c = 0; c < batch.columns.size(); ++c) {
      row[batch.schema->fields[c].name] = value_json(*batch.columns[c], r);
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

/// Number of nulls among elements [0, length) of `a` (test-side count).
inline int64_t count_nulls(const ar::ArrayData& a) {
  if (a.type->id == ar::TypeId::kNull) return a.length;
  if (a.buffers.empty() || a.buffers[0].empty()) return 0;
  int64_t n = 0;
  for (int64_t i = 0; i < a.length; ++i)
    n += ar::get_bit(a.buffers[0].data(), a.offset + i) ? 0 : 1;
  return n;
}

/// A zero-copy view of rows [start, start + length) made by hand (not ArrayData::slice).
inline ar::ArrayPtr view(const ar::ArrayPtr& a, int64_t start, int64_t length) {
  auto out = std::make_shared<ar::ArrayData>(*a);
  out->offset = a->offset + start;
  out->length = length;
  out->null_count = count_nulls(*out);
  return out;
}

/// The same batch with every column viewed at [start, start + length).
inline ar::RecordBatch view(const ar::RecordBatch& batch, int64_t start, int64_t length) {
  ar::RecordBatch out{batch.schema, length, {}};
  for (const auto& c : batch.columns) out.columns.push_back(view(c, start, length));
  return out;
}

// ---- sample data ------------------------------------------------------------------------------

/// Ten rows of every type in TypeId, with nulls at the top level (rows 1, 4, 8), inside lists
/// and struct members, nested lists of structs and structs of structs, extreme integers,
/// NaN/inf floats, empty and non-ASCII strings, and a "huggingface" schema metadata entry.
inline ar::RecordBatch every_type_batch() {
  using namespace ar;
  const std::vector<bool> v = {true, false, true, true, false, true, true, true, false, true};
  std::vector<std::string> names;
  std::vector<ArrayPtr> cols;
  auto add = [&](std::string name, ArrayPtr col) {
    names.push_back(std::move(name));
    cols.push_back(std::move(col));
  };
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  constexpr double kInf = std::numeric_limits<double>::infinity();

  add("null", make_null(10));
  add("bool", make_bool({true, false, true, true, false, false, true, false, true, true}, v));
  add("bool_nonull", make_bool({false, true, true, false, true, false, false, true, true, false}));
  add("int8", make_primitive<int8_t>(std::vector<int8_t>{-128, 0, 127, -1, 5, 6, 7, 8, 9, 10}, v));
  add("int16",
      make_primitive<int16_t>(std::vector<int16_t>{-32768, 1, 32767, -2, 4, 5, 6, 7, 8, 9}, v));
  add("int32", make_primitive<int32_t>(std::vector<int32_t>{std::numeric_limits<int32_t>::min(), 2,
                                                            std::numeric_limits<int32_t>::max(), -3,
                                                            0, 1, 2, 3, 4, 5}));
  add("int64", make_primitive<int64_t>(
                   std::vector<int64_t>{std::numeric_limits<int64_t>::min(), 3,
                                        std::numeric_limits<int64_t>::max(), (int64_t{1} << 53) + 1,
                                        0, -(int64_t{1} << 53) + 1, 42, -42, 7, 9},
                   v));
  add("uint8", make_primitive<uint8_t>(std::vector<uint8_t>{0, 1, 255, 3, 4, 5, 6, 7, 8, 9}, v));
  add("uint16",
      make_primitive<uint16_t>(std::vector<uint16_t>{0, 1, 65535, 3, 4, 5, 6, 7, 8, 9}, v));
  add("uint32",
      make_primitive<uint32_t>(std::vector<uint32_t>{0, 1, 4294967295u, 3, 4, 5, 6, 7, 8, 9}, v));
  add("uint64",
      make_primitive<uint64_t>(std::vector<uint64_t>{0, 1, std::numeric_limits<uint64_t>::max(),
                                                     uint64_t{1} << 53, 4, 5, 6, 7, 8, 9},
                               v));
  add("float16", make_float16(std::vector<uint16_t>{0x3C00, 0xC000, 0x7C00, 0xFC00, 0x7E00, 0x0001,
                                                    0x7BFF, 0x0000, 0x8000, 0x3555},
                              {true, true, true, true, true, true, true, true, false, true}));
  add("float32", make_primitive<float>(
                     std::vector<float>{0.1f, -1.5f, float(kNaN), float(kInf), -float(kInf),
                                        std::numeric_limits<float>::min(),
                                        std::numeric_limits<float>::max(), 0.0f, -0.0f, 3.25f},
                     v));
  add("float64", make_primitive<double>(std::vector<double>{
                     0.1, -1.5, kNaN, kInf, -kInf, std::numeric_limits<double>::min(),
                     std::numeric_limits<double>::max(), 0.0, 1e-300, 3.25}));
  const std::vector<std::optional<std::string>> text = {"a",
                                                        std::nullopt,
                                                        "",
                                                        "h\xC3\xA9llo \xE2\x9C\x93",
                                                        std::nullopt,
                                                        "quote\"back\\slash",
                                                        "line\nbreak",
                                                        std::string(40, 'x'),
                                                        std::nullopt,
                                                        "end"};
  add("utf8", make_utf8(text));
  add("large_utf8", make_utf8(text, true));
  const std::vector<std::optional<std::string>> bytes = {
      std::string("\0\xFF\x01", 3), std::nullopt, "",   "abc",        std::nullopt,
      std::string(1, '\0'),         "\x80\x81",   "xy", std::nullopt, "z"};
  add("binary", make_binary(bytes));
  add("large_binary", make_binary(bytes, true));

  // list<int32>: empty, null and null-item entries.
  auto ints = make_primitive<int32_t>(
      std::vector<int32_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12},
      {true, true, false, true, true, true, true, false, true, true, true, true});
  const std::vector<int64_t> list_offsets = {0, 2, 2, 2, 5, 5, 6, 6, 9, 9, 12};
  add("list_int32", make_list(list_offsets, ints, v));
  auto strs =
      make_utf8({"p", std::nullopt, "q", "", "r", "s", "t", std::nullopt, "u", "v", "w", "x"});
  add("large_list_utf8", make_list(list_offsets, strs, v, true));

  // fixed_size_list<float>[3]
  std::vector<float> fvals(30);
  std::vector<bool> fvalid(30, true);
  for (int k = 0; k < 30; ++k) fvals[static_cast<size_t>(k)] = static_cast<float>(k) * 0.5f;
  fvalid[4] = fvalid[17] = false;
  add("fixed_size_list_float", make_fixed_size_list(make_primitive<float>(fvals, fvalid), 3, v));

  // struct<a: int64, b: string, c: list<float>>
  auto sa = make_primitive<int64_t>(std::vector<int64_t>{10, 11, 12, 13, 14, 15, 16, 17, 18, 19},
                                    {true, true, false, true, true, true, false, true, true, true});
  auto sb = make_utf8({"s0", "s1", "s2", std::nullopt, "s4", "s5", "s6", "s7", "s8", "s9"});
  auto sc = make_list(std::vector<int64_t>{0, 1, 1, 3, 3, 3, 4, 4, 5, 6, 6},
                      make_primitive<float>(std::vector<float>{1, 2, 3, 4, 5, 6}),
                      {true, true, true, true, true, false, true, true, true, true});
  add("struct", make_struct({"a", "b", "c"}, {sa, sb, sc}, v));

  // list<struct<x: fixed_size_list<int16>[2], y: bool>>
  auto xs = make_fixed_size_list(
      make_primitive<int16_t>(
          std::vector<int16_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12},
          {true, true, true, false, true, true, true, true, true, true, true, true}),
      2, {true, true, false, true, true, true});
  auto ys =
      make_bool({true, false, true, false, true, true}, {true, true, true, true, false, true});
  auto structs = make_struct({"x", "y"}, {xs, ys}, {true, true, true, true, true, false});
  add("list_struct", make_list(std::vector<int64_t>{0, 1, 1, 3, 3, 3, 4, 4, 5, 6, 6}, structs,
                               {true, false, true, true, true, true, true, true, true, false}));

  // struct<inner: struct<z: uint8>>
  auto z = make_primitive<uint8_t>(std::vector<uint8_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9},
                                   {true, true, true, true, true, true, true, false, true, true});
  auto inner =
      make_struct({"z"}, {z}, {true, true, true, false, true, true, true, true, true, true});
  add("struct_struct", make_struct({"inner"}, {inner}, v));

  RecordBatch batch =
      make_batch(names, std::move(cols),
                 {{"huggingface",
                   R"({"info": {"features": {"int64": {"dtype": "int64", "_type": "Value"}}}})"},
                  {"other", "value"}});
  // Field metadata on one column.
  auto schema = std::make_shared<Schema>(*batch.schema);
  schema->fields[5].metadata = {{"unit", "steps"}};
  batch.schema = std::move(schema);
  return batch;
}

/// Views inside views: a list whose child is a view and whose offsets do not start at 0, a
/// fixed_size_list over a viewed child, and a struct of that list, each viewed again.
inline ar::RecordBatch nested_views_batch() {
  using namespace ar;
  auto child =
      view(make_primitive<int64_t>(std::vector<int64_t>{-1, -2, 1, 2, 3, 4, 5, 6, 7},
                                   {true, true, true, false, true, true, true, true, true}),
           2, 7);
  auto list = make_list(std::vector<int64_t>{1, 3, 3, 6, 7}, child, {true, true, false, true});
  auto fsl = view(make_fixed_size_list(
                      view(make_utf8({"x", "a", "b", "c", std::nullopt, "e", "f", "g", "h"}), 1, 8),
                      2, {true, false, true, true}),
                  1, 3);
  auto st = view(make_struct({"l"}, {list}, {true, true, true, false}), 1, 3);
  return make_batch({"list", "fsl", "struct"}, {view(list, 1, 3), fsl, st});
}

// ---- stream walking ---------------------------------------------------------------------------

/// FieldNode and Buffer structs as stored in the flatbuffer.
struct FbPair {
  int64_t first;
  int64_t second;
  bool operator==(const FbPair&) const = default;
};

/// One framed message of an IPC stream.
struct StreamMessage {
  int64_t position = 0;         ///< of the continuation marker
  int32_t metadata_length = 0;  ///< the int32 after the marker
  const flatbuffers::Table* message = nullptr;
  uint8_t header_type = 0;
  int16_t version = 0;
  int64_t body_position = 0;
  int64_t body_length = 0;
  std::vector<FbPair> nodes;    ///< RecordBatch only
  std::vector<FbPair> buffers;  ///< RecordBatch only
  int64_t length = 0;           ///< RecordBatch rows
  const flatbuffers::Table* compression = nullptr;
};

constexpr flatbuffers::voffset_t fb_slot(int id) {
  return static_cast<flatbuffers::voffset_t>(4 + 2 * id);
}

/// Splits a stream into its messages (stops at the end-of-stream marker, which must be last).
inline std::vector<StreamMessage> walk_stream(const std::vector<uint8_t>& bytes) {
  std::vector<StreamMessage> out;
  size_t pos = 0;
  while (true) {
    EXPECT_LE(pos + 8, bytes.size());
    if (pos + 8 > bytes.size()) return out;
    uint32_t marker;
    int32_t len;
    std::memcpy(&marker, bytes.data() + pos, 4);
    std::memcpy(&len, bytes.data() + pos + 4, 4);
    EXPECT_EQ(marker, 0xFFFFFFFFu) << "at " << pos;
    if (len == 0) {
      EXPECT_EQ(pos + 8, bytes.size()) << "bytes after end-of-stream marker";
      return out;
    }
    StreamMessage m;
    m.position = static_cast<int64_t>(pos);
    m.metadata_length = len;
    m.message = flatbuffers::GetRoot<flatbuffers::Table>(bytes.data() + pos + 8);
    m.version = m.message->GetField<int16_t>(fb_slot(0), 0);
    m.header_type = m.message->GetField<uint8_t>(fb_slot(1), 0);
    m.body_length = m.message->GetField<int64_t>(fb_slot(3), 0);
    m.body_position = m.position + 8 + len;
    if (m.header_type == 3) {
      auto* rb = m.message->GetPointer<const flatbuffers::Table*>(fb_slot(2));
      m.length = rb->GetField<int64_t>(fb_slot(0), 0);
      if (auto* nodes = rb->GetPointer<const flatbuffers::Vector<const FbPair*>*>(fb_slot(1))) {
        for (auto* n : *nodes) m.nodes.push_back(*n);
      }
      if (auto* bufs = rb->GetPointer<const flatbuffers::Vector<const FbPair*>*>(fb_slot(2))) {
        for (auto* b : *bufs) m.buffers.push_back(*b);
      }
      m.compression = rb->GetPointer<const flatbuffers::Table*>(fb_slot(3));
    }
    out.push_back(m);
    pos = static_cast<size_t>(m.body_position + m.body_length);
  }
}

}  // namespace mouse::test
