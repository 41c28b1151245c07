// Decoding the Schema flatbuffer (Schema.fbs) into the mouse Arrow model, rejecting every type
// SPEC §2.5 does not cover with an error naming the field and the type.
#include <fmt/format.h>

#include "format/arrow/ipc_internal.hpp"
#include "mouse/error.hpp"

namespace mouse::detail {

namespace {

using arrow::Field;
using arrow::TypeId;
using arrow::TypePtr;

// Type union members (Schema.fbs `union Type`).
enum FbType : uint8_t {
  kNone = 0,
  kNull = 1,
  kInt = 2,
  kFloatingPoint = 3,
  kBinary = 4,
  kUtf8 = 5,
  kBool = 6,
  kDecimal = 7,
  kDate = 8,
  kTime = 9,
  kTimestamp = 10,
  kInterval = 11,
  kList = 12,
  kStruct = 13,
  kUnion = 14,
  kFixedSizeBinary = 15,
  kFixedSizeList = 16,
  kMap = 17,
  kDuration = 18,
  kLargeBinary = 19,
  kLargeUtf8 = 20,
  kLargeList = 21,
  kRunEndEncoded = 22,
  kBinaryView = 23,
  kUtf8View = 24,
  kListView = 25,
  kLargeListView = 26,
};

std::string fb_type_name(uint8_t t) {
  static constexpr const char* kNames[] = {
      "NONE",          "Null",      "Int",           "FloatingPoint",
      "Binary",        "Utf8",      "Bool",          "Decimal",
      "Date",          "Time",      "Timestamp",     "Interval",
      "List",          "Struct_",   "Union",         "FixedSizeBinary",
      "FixedSizeList", "Map",       "Duration",      "LargeBinary",
      "LargeUtf8",     "LargeList", "RunEndEncoded", "BinaryView",
      "Utf8View",      "ListView",  "LargeListView"};
  if (t < std::size(kNames)) return kNames[t];
  return fmt::format("unknown type #{}", t);
}

class SchemaDecoder {
 public:
  explicit SchemaDecoder(const fb::Table& schema) : schema_(schema) {
    // Every distinct Field table owns at least 4 bytes, so more fields than that means tables
    // are shared (a DAG), which could otherwise blow up exponentially.
    field_budget_ = schema.bytes().size / 4 + 1;
  }

  std::shared_ptr<const arrow::Schema> decode() {
    auto out = std::make_shared<arrow::Schema>();
    const int16_t endianness = schema_.scalar<int16_t>(fbs::kSchemaEndianness, 0);
    if (endianness == 1) {
      fail(schema_,
           "big-endian data is not supported (the schema says Endianness.Big; "
           "mouse-data reads little-endian only)");
    }
    if (endianness != 0) fail(schema_, fmt::format("unknown endianness {}", endianness));
    if (auto fields = schema_.vector(fbs::kSchemaFields, 4, 4)) {
      out->fields.reserve(fields->size());
      for (uint32_t i = 0; i < fields->size(); ++i) {
        out->fields.push_back(decode_field(fields->table(i), "", 0));
      }
    }
    out->metadata = decode_metadata(schema_, fbs::kSchemaMetadata);
    return out;
  }

 private:
  [[noreturn]] void fail(const fb::Table& at, const std::string& what) const {
    throw FormatError(std::string(at.bytes().source), at.file_offset(), "schema: " + what);
  }

  arrow::KeyValueMetadata decode_metadata(const fb::Table& t, int id) const {
    arrow::KeyValueMetadata out;
    auto kvs = t.vector(id, 4, 4);
    if (!kvs) return out;
    out.reserve(kvs->size());
    for (uint32_t i = 0; i < kvs->size(); ++i) {
      fb::Table kv = kvs->table(i);
      out.emplace_back(std::string(kv.string(fbs::kKey).value_or("")),
                       std::string(kv.string(fbs::kValue).value_or("")));
    }
    return out;
  }

  Field decode_field(const fb::Table& f, const std::string& parent, int depth) {
    if (--field_budget_ < 0)
      fail(f, "more Field tables than the metadata can hold (shared tables)");
    Field out;
    out.name = std::string(f.string(fbs::kFieldName).value_or(""));
    const std::string path =
        parent.empty() ? printable_name(out.name) : parent + "." + printable_name(out.name);
    if (depth >= kMaxTypeDepth) {
      fail(f, fmt::format("field \"{}\": types nested deeper than {} levels", path, kMaxTypeDepth));
    }
    out.nullable = f.scalar<uint8_t>(fbs::kFieldNullable, 0) != 0;
    out.metadata = decode_metadata(f, fbs::kFieldMetadata);
    const uint8_t type_type = f.scalar<uint8_t>(fbs::kFieldTypeType, kNone);
    if (f.has(fbs::kFieldDictionary)) {
      fail(f, fmt::format("field \"{}\": dictionary-encoded {} is not supported (mouse-data "
                          "reads no dictionaries)",
                          path, fb_type_name(type_type)));
    }
    std::vector<Field> children;
    if (auto kids = f.vector(fbs::kFieldChildren, 4, 4)) {
      children.reserve(kids->size());
      for (uint32_t i = 0; i < kids->size(); ++i) {
        children.push_back(decode_field(kids->table(i), path, depth + 1));
      }
    }
    std::optional<fb::Table> type = f.table(fbs::kFieldType);
    auto need_children = [&](size_t n) {
      if (children.size() != n) {
        fail(f, fmt::format("field \"{}\": type {} needs {} child field(s), found {}", path,
                            fb_type_name(type_type), n, children.size()));
      }
    };
    auto need_table = [&]() -> const fb::Table& {
      if (!type) {
        fail(f, fmt::format("field \"{}\": type {} has no parameters table", path,
                            fb_type_name(type_type)));
      }
      return *type;
    };
    switch (type_type) {
      case kNull:
      case kBinary:
      case kUtf8:
      case kBool:
      case kLargeBinary:
      case kLargeUtf8: {
        need_children(0);
        static constexpr TypeId kIds[] = {TypeId::kNull, TypeId::kNull,   TypeId::kNull,
                                          TypeId::kNull, TypeId::kBinary, TypeId::kUtf8,
                                          TypeId::kBool};
        TypeId id = type_type == kLargeBinary ? TypeId::kLargeBinary
                    : type_type == kLargeUtf8 ? TypeId::kLargeUtf8
                                              : kIds[type_type];
        out.type = arrow::primitive(id);
        break;
      }
      case kInt: {
        need_children(0);
        const fb::Table& t = need_table();
        const int32_t bits = t.scalar<int32_t>(0, 0);
        const bool is_signed = t.scalar<uint8_t>(1, 0) != 0;
        TypeId id;
        switch (bits) {
          case 8:
            id = is_signed ? TypeId::kInt8 : TypeId::kUInt8;
            break;
          case 16:
            id = is_signed ? TypeId::kInt16 : TypeId::kUInt16;
            break;
          case 32:
            id = is_signed ? TypeId::kInt32 : TypeId::kUInt32;
            break;
          case 64:
            id = is_signed ? TypeId::kInt64 : TypeId::kUInt64;
            break;
          default:
            fail(t, fmt::format("field \"{}\": Int bitWidth {} (expected 8, 16, 32 or 64)", path,
                                bits));
        }
        out.type = arrow::primitive(id);
        break;
      }
      case kFloatingPoint: {
        need_children(0);
        const fb::Table& t = need_table();
        const int16_t precision = t.scalar<int16_t>(0, 0);
        if (precision < 0 || precision > 2) {
          fail(t, fmt::format("field \"{}\": FloatingPoint precision {} (expected HALF=0, "
                              "SINGLE=1 or DOUBLE=2)",
                              path, precision));
        }
        static constexpr TypeId kIds[] = {TypeId::kFloat16, TypeId::kFloat32, TypeId::kFloat64};
        out.type = arrow::primitive(kIds[precision]);
        break;
      }
      case kList:
        need_children(1);
        out.type = arrow::list(std::move(children[0]));
        break;
      case kLargeList:
        need_children(1);
        out.type = arrow::large_list(std::move(children[0]));
        break;
      case kFixedSizeList: {
        need_children(1);
        const fb::Table& t = need_table();
        const int32_t size = t.scalar<int32_t>(0, 0);
        if (size < 0) {
          fail(t, fmt::format("field \"{}\": FixedSizeList listSize {} is negative", path, size));
        }
        out.type = arrow::fixed_size_list(std::move(children[0]), size);
        break;
      }
      case kStruct:
        out.type = arrow::struct_(std::move(children));
        break;
      case kNone:
        fail(f, fmt::format("field \"{}\": no type given", path));
      default:
        fail(f, fmt::format("field \"{}\": type {} is not supported (SPEC §2.5 covers null, bool, "
                            "int, float, utf8, binary, lists and struct)",
                            path, fb_type_name(type_type)));
    }
    return out;
  }

  const fb::Table& schema_;
  int64_t field_budget_;
};

}  // namespace

std::string printable_name(std::string_view name) {
  std::string out;
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::shared_ptr<const arrow::Schema> decode_schema(const fb::Table& schema) {
  return SchemaDecoder(schema).decode();
}

void check_metadata_version(int16_t version, const fb::Table& table) {
  if (version > fbs::kVersionV5) {
    throw FormatError(std::string(table.bytes().source), table.file_offset(),
                      fmt::format("metadata version V{} is newer than V5, the newest supported",
                                  static_cast<int>(version) + 1));
  }
  if (version < fbs::kVersionV4) {
    throw FormatError(std::string(table.bytes().source), table.file_offset(),
                      fmt::format("metadata version V{} is older than V4, the oldest supported",
                                  static_cast<int>(version) + 1));
  }
}

}  // namespace mouse::detail
