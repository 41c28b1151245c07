// The Arrow in-memory model: type factories, printing, equality, slicing and validation.
#include <fmt/format.h>
#include <bit>
#include <cstring>

#include "mouse/arrow.hpp"
#include "mouse/error.hpp"

namespace mouse::arrow {

namespace {

TypePtr make_type(TypeId id) {
  auto t = std::make_shared<DataType>();
  t->id = id;
  return t;
}

// One shared instance per parameter-free type; function-local statics are thread-safe.
const TypePtr& cached(TypeId id) {
  static const std::vector<TypePtr> kTypes = [] {
    std::vector<TypePtr> v;
    for (int i = 0; i <= static_cast<int>(TypeId::kLargeBinary); ++i) {
      v.push_back(make_type(static_cast<TypeId>(i)));
    }
    return v;
  }();
  return kTypes[static_cast<size_t>(id)];
}

bool is_nested(TypeId id) noexcept {
  return id == TypeId::kList || id == TypeId::kLargeList || id == TypeId::kFixedSizeList ||
         id == TypeId::kStruct;
}

[[noreturn]] void fail(std::string_view where, const std::string& what) {
  throw FormatError(std::string(where), -1, what);
}

// a * b + c without overflow, or -1 if it would not fit in int64.
int64_t mul_add(int64_t a, int64_t b, int64_t c) noexcept {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r) || __builtin_add_overflow(r, c, &r)) return -1;
  return r;
}

int64_t bitmap_bytes(int64_t bits) noexcept {
  return bits / 8 + (bits % 8 != 0 ? 1 : 0);
}

// Number of set bits in [first, first + count) of an LSB-first bitmap.
int64_t count_set_bits(const uint8_t* bits, int64_t first, int64_t count) noexcept {
  int64_t n = 0;
  int64_t i = first;
  const int64_t end = first + count;
  while (i < end && (i & 7) != 0) n += get_bit(bits, i++);
  while (end - i >= 64) {
    uint64_t w;
    std::memcpy(&w, bits + (i >> 3), 8);
    n += std::popcount(w);
    i += 64;
  }
  while (i < end) n += get_bit(bits, i++);
  return n;
}

bool aligned(const Buffer& b, size_t alignment) noexcept {
  return reinterpret_cast<uintptr_t>(b.data()) % alignment == 0;
}

int64_t read_offset(const ArrayData& a, int64_t index) noexcept {
  if (a.type->has_large_offsets()) {
    int64_t v;
    std::memcpy(&v, a.buffers[1].data() + index * 8, 8);
    return v;
  }
  int32_t v;
  std::memcpy(&v, a.buffers[1].data() + index * 4, 4);
  return v;
}

size_t expected_buffer_count(TypeId id) noexcept {
  switch (id) {
    case TypeId::kNull:
      return 1;
    case TypeId::kUtf8:
    case TypeId::kLargeUtf8:
    case TypeId::kBinary:
    case TypeId::kLargeBinary:
      return 3;
    case TypeId::kFixedSizeList:
    case TypeId::kStruct:
      return 1;
    default:
      return 2;
  }
}

void validate_offsets(const ArrayData& a, std::string_view where, bool full, int64_t limit,
                      const char* limit_name) {
  const int width = a.type->has_large_offsets() ? 8 : 4;
  const Buffer& offsets = a.buffers[1];
  if (a.length == 0 && offsets.empty()) return;  // writers may omit offsets of empty arrays
  const int64_t needed = mul_add(a.offset + a.length + 1, width, 0);
  if (needed < 0 || offsets.size() < needed) {
    fail(where, fmt::format("offsets buffer needs {} bytes for {} elements at offset {}, has {}",
                            needed, a.length, a.offset, offsets.size()));
  }
  if (!aligned(offsets, static_cast<size_t>(width))) {
    fail(where, fmt::format("offsets buffer is not {}-byte aligned", width));
  }
  const int64_t first = read_offset(a, a.offset);
  const int64_t last = read_offset(a, a.offset + a.length);
  if (first < 0 || first > last || last > limit) {
    fail(where, fmt::format("offsets run from {} to {}; expected 0 <= first <= last <= {} ({})",
                            first, last, limit, limit_name));
  }
  if (!full) return;
  int64_t prev = first;
  for (int64_t i = 1; i <= a.length; ++i) {
    const int64_t cur = read_offset(a, a.offset + i);
    if (cur < prev) {
      fail(where, fmt::format("offset {} of element {} is less than the previous offset {}", cur, i,
                              prev));
    }
    prev = cur;
  }
}

}  // namespace

int DataType::byte_width() const noexcept {
  switch (id) {
    case TypeId::kInt8:
    case TypeId::kUInt8:
      return 1;
    case TypeId::kInt16:
    case TypeId::kUInt16:
    case TypeId::kFloat16:
      return 2;
    case TypeId::kInt32:
    case TypeId::kUInt32:
    case TypeId::kFloat32:
      return 4;
    case TypeId::kInt64:
    case TypeId::kUInt64:
    case TypeId::kFloat64:
      return 8;
    default:
      return 0;
  }
}

bool DataType::is_numeric() const noexcept {
  return byte_width() != 0;
}

bool DataType::is_binary_like() const noexcept {
  return id == TypeId::kUtf8 || id == TypeId::kLargeUtf8 || id == TypeId::kBinary ||
         id == TypeId::kLargeBinary;
}

bool DataType::is_list_like() const noexcept {
  return id == TypeId::kList || id == TypeId::kLargeList || id == TypeId::kFixedSizeList;
}

bool DataType::has_large_offsets() const noexcept {
  return id == TypeId::kLargeUtf8 || id == TypeId::kLargeBinary || id == TypeId::kLargeList;
}

std::string_view type_id_name(TypeId id) noexcept {
  switch (id) {
    case TypeId::kNull:
      return "null";
    case TypeId::kBool:
      return "bool";
    case TypeId::kInt8:
      return "int8";
    case TypeId::kInt16:
      return "int16";
    case TypeId::kInt32:
      return "int32";
    case TypeId::kInt64:
      return "int64";
    case TypeId::kUInt8:
      return "uint8";
    case TypeId::kUInt16:
      return "uint16";
    case TypeId::kUInt32:
      return "uint32";
    case TypeId::kUInt64:
      return "uint64";
    case TypeId::kFloat16:
      return "halffloat";
    case TypeId::kFloat32:
      return "float";
    case TypeId::kFloat64:
      return "double";
    case TypeId::kUtf8:
      return "string";
    case TypeId::kLargeUtf8:
      return "large_string";
    case TypeId::kBinary:
      return "binary";
    case TypeId::kLargeBinary:
      return "large_binary";
    case TypeId::kList:
      return "list";
    case TypeId::kLargeList:
      return "large_list";
    case TypeId::kFixedSizeList:
      return "fixed_size_list";
    case TypeId::kStruct:
      return "struct";
  }
  return "unknown";
}

std::string DataType::to_string() const {
  auto field_text = [](const Field& f) {
    return fmt::format("{}: {}{}", f.name, f.type ? f.type->to_string() : "?",
                       f.nullable ? "" : " not null");
  };
  switch (id) {
    case TypeId::kList:
    case TypeId::kLargeList:
    case TypeId::kFixedSizeList: {
      std::string s = fmt::format("{}<{}>", type_id_name(id),
                                  children.empty() ? std::string("?") : field_text(children[0]));
      if (id == TypeId::kFixedSizeList) s += fmt::format("[{}]", list_size);
      return s;
    }
    case TypeId::kStruct: {
      std::string s = "struct<";
      for (size_t i = 0; i < children.size(); ++i) {
        if (i > 0) s += ", ";
        s += field_text(children[i]);
      }
      return s + ">";
    }
    default:
      return std::string(type_id_name(id));
  }
}

bool DataType::equals(const DataType& other) const noexcept {
  if (this == &other) return true;
  if (id != other.id || children.size() != other.children.size()) return false;
  if (id == TypeId::kFixedSizeList && list_size != other.list_size) return false;
  for (size_t i = 0; i < children.size(); ++i) {
    const Field& a = children[i];
    const Field& b = other.children[i];
    if (a.name != b.name || !a.type || !b.type || !a.type->equals(*b.type)) return false;
  }
  return true;
}

TypePtr null() {
  return cached(TypeId::kNull);
}
TypePtr boolean() {
  return cached(TypeId::kBool);
}
TypePtr int8() {
  return cached(TypeId::kInt8);
}
TypePtr int16() {
  return cached(TypeId::kInt16);
}
TypePtr int32() {
  return cached(TypeId::kInt32);
}
TypePtr int64() {
  return cached(TypeId::kInt64);
}
TypePtr uint8() {
  return cached(TypeId::kUInt8);
}
TypePtr uint16() {
  return cached(TypeId::kUInt16);
}
TypePtr uint32() {
  return cached(TypeId::kUInt32);
}
TypePtr uint64() {
  return cached(TypeId::kUInt64);
}
TypePtr float16() {
  return cached(TypeId::kFloat16);
}
TypePtr float32() {
  return cached(TypeId::kFloat32);
}
TypePtr float64() {
  return cached(TypeId::kFloat64);
}
TypePtr utf8() {
  return cached(TypeId::kUtf8);
}
TypePtr large_utf8() {
  return cached(TypeId::kLargeUtf8);
}
TypePtr binary() {
  return cached(TypeId::kBinary);
}
TypePtr large_binary() {
  return cached(TypeId::kLargeBinary);
}

TypePtr primitive(TypeId id) {
  if (is_nested(id)) {
    throw InvalidArgument(fmt::format("arrow::primitive: {} is a nested type and needs parameters",
                                      type_id_name(id)));
  }
  return cached(id);
}

namespace {
TypePtr make_list_type(TypeId id, Field item, int32_t size) {
  auto t = std::make_shared<DataType>();
  t->id = id;
  t->list_size = size;
  t->children.push_back(std::move(item));
  return t;
}
}  // namespace

TypePtr list(Field item) {
  return make_list_type(TypeId::kList, std::move(item), 0);
}
TypePtr large_list(Field item) {
  return make_list_type(TypeId::kLargeList, std::move(item), 0);
}
TypePtr fixed_size_list(Field item, int32_t size) {
  if (size < 0) throw InvalidArgument(fmt::format("fixed_size_list: negative size {}", size));
  return make_list_type(TypeId::kFixedSizeList, std::move(item), size);
}
TypePtr struct_(std::vector<Field> fields) {
  auto t = std::make_shared<DataType>();
  t->id = TypeId::kStruct;
  t->children = std::move(fields);
  return t;
}

int Schema::field_index(std::string_view name) const noexcept {
  for (size_t i = 0; i < fields.size(); ++i) {
    if (fields[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

std::optional<std::string> Schema::metadata_value(std::string_view key) const {
  for (const auto& [k, v] : metadata) {
    if (k == key) return v;
  }
  return std::nullopt;
}

bool Schema::equals(const Schema& other) const noexcept {
  if (fields.size() != other.fields.size()) return false;
  for (size_t i = 0; i < fields.size(); ++i) {
    const Field& a = fields[i];
    const Field& b = other.fields[i];
    if (a.name != b.name || !a.type || !b.type || !a.type->equals(*b.type)) return false;
  }
  return true;
}

bool ArrayData::is_valid(int64_t i) const noexcept {
  if (type && type->id == TypeId::kNull) return false;
  if (buffers.empty() || buffers[0].empty()) return true;
  return get_bit(buffers[0].data(), offset + i);
}

std::shared_ptr<const ArrayData> ArrayData::slice(int64_t start, int64_t len) const {
  MOUSE_DCHECK(start >= 0 && len >= 0 && start + len <= length);
  auto out = std::make_shared<ArrayData>(*this);
  out->offset = offset + start;
  out->length = len;
  if (type && type->id == TypeId::kNull) {
    out->null_count = len;
  } else if (buffers.empty() || buffers[0].empty()) {
    out->null_count = 0;
  } else {
    out->null_count = len - count_set_bits(buffers[0].data(), out->offset, len);
  }
  return out;
}

void validate(const ArrayData& a, std::string_view where, bool full) {
  if (!a.type) fail(where, "array has no type");
  const DataType& t = *a.type;
  if (a.length < 0 || a.offset < 0) {
    fail(where, fmt::format("length {} and offset {} must not be negative", a.length, a.offset));
  }
  const int64_t end = mul_add(a.offset, 1, a.length);
  if (end < 0) fail(where, fmt::format("offset {} + length {} overflows", a.offset, a.length));
  if (a.null_count < 0 || a.null_count > a.length) {
    fail(where, fmt::format("null count {} outside [0, {}]", a.null_count, a.length));
  }

  const size_t want_buffers = expected_buffer_count(t.id);
  if (t.id == TypeId::kNull) {
    if (a.buffers.size() > 1 || (a.buffers.size() == 1 && !a.buffers[0].empty())) {
      fail(where, "null array must have no buffers");
    }
    if (!a.children.empty()) fail(where, "null array must have no children");
    return;
  }
  if (a.buffers.size() != want_buffers) {
    fail(where, fmt::format("{} array needs {} buffers, has {}", t.to_string(), want_buffers,
                            a.buffers.size()));
  }

  const Buffer& validity = a.buffers[0];
  if (validity.empty()) {
    if (a.null_count != 0) {
      fail(where, fmt::format("null count is {} but there is no validity bitmap", a.null_count));
    }
  } else {
    const int64_t needed = bitmap_bytes(end);
    if (validity.size() < needed) {
      fail(where, fmt::format("validity bitmap needs {} bytes for {} elements at offset {}, has {}",
                              needed, a.length, a.offset, validity.size()));
    }
    if (full) {
      const int64_t nulls = a.length - count_set_bits(validity.data(), a.offset, a.length);
      if (nulls != a.null_count) {
        fail(where, fmt::format("null count is {} but the validity bitmap has {} nulls",
                                a.null_count, nulls));
      }
    }
  }

  const size_t want_children = t.id == TypeId::kStruct ? t.children.size()
                               : t.is_list_like()      ? 1
                                                       : 0;
  if (a.children.size() != want_children || t.children.size() != want_children) {
    fail(where, fmt::format("{} array needs {} children, has {}", t.to_string(), want_children,
                            a.children.size()));
  }
  for (size_t c = 0; c < a.children.size(); ++c) {
    if (!a.children[c] || !a.children[c]->type || !t.children[c].type ||
        !a.children[c]->type->equals(*t.children[c].type)) {
      fail(where, fmt::format("child {} does not have the type {}", c,
                              t.children[c].type ? t.children[c].type->to_string() : "?"));
    }
  }

  switch (t.id) {
    case TypeId::kBool: {
      const int64_t needed = bitmap_bytes(end);
      if (a.buffers[1].size() < needed) {
        fail(where, fmt::format("values bitmap needs {} bytes for {} elements at offset {}, has {}",
                                needed, a.length, a.offset, a.buffers[1].size()));
      }
      break;
    }
    case TypeId::kUtf8:
    case TypeId::kLargeUtf8:
    case TypeId::kBinary:
    case TypeId::kLargeBinary:
      validate_offsets(a, where, full, a.buffers[2].size(), "size of the data buffer");
      break;
    case TypeId::kList:
    case TypeId::kLargeList: {
      const ArrayData& child = *a.children[0];
      validate_offsets(a, where, full, child.length, "length of the child");
      validate(child, fmt::format("{}.{}", where, t.children[0].name), full);
      break;
    }
    case TypeId::kFixedSizeList: {
      const ArrayData& child = *a.children[0];
      if (t.list_size < 0) fail(where, fmt::format("negative list size {}", t.list_size));
      const int64_t needed = mul_add(end, t.list_size, 0);
      if (needed < 0 || child.length < needed) {
        fail(where, fmt::format("child needs {} elements ({} lists of {} at offset {}), has {}",
                                needed, a.length, t.list_size, a.offset, child.length));
      }
      validate(child, fmt::format("{}.{}", where, t.children[0].name), full);
      break;
    }
    case TypeId::kStruct:
      for (size_t c = 0; c < a.children.size(); ++c) {
        const ArrayData& child = *a.children[c];
        if (child.length < end) {
          fail(where, fmt::format("member \"{}\" has {} elements, needs {}", t.children[c].name,
                                  child.length, end));
        }
        validate(child, fmt::format("{}.{}", where, t.children[c].name), full);
      }
      break;
    default: {
      const int width = t.byte_width();
      MOUSE_DCHECK(width > 0);
      const int64_t needed = mul_add(end, width, 0);
      if (needed < 0 || a.buffers[1].size() < needed) {
        fail(where,
             fmt::format("values buffer needs {} bytes for {} {} values at offset {}, has {}",
                         needed, a.length, t.to_string(), a.offset, a.buffers[1].size()));
      }
      if (!a.buffers[1].empty() && !aligned(a.buffers[1], static_cast<size_t>(width))) {
        fail(where, fmt::format("values buffer is not {}-byte aligned", width));
      }
      break;
    }
  }
}

std::pair<int64_t, int64_t> value_range(const ArrayData& a, int64_t i) {
  const DataType& t = *a.type;
  if (!t.is_binary_like() && t.id != TypeId::kList && t.id != TypeId::kLargeList) {
    throw InvalidArgument(fmt::format("value_range: {} has no offsets", t.to_string()));
  }
  const int width = t.has_large_offsets() ? 8 : 4;
  const int64_t index = a.offset + i;
  if (i < 0 || i >= a.length || a.buffers.size() < 2 ||
      a.buffers[1].size() < mul_add(index + 2, width, 0)) {
    throw FormatError(
        "", -1,
        fmt::format("{} element {}: offsets buffer of {} bytes too short", t.to_string(), i,
                    a.buffers.size() < 2 ? 0 : a.buffers[1].size()));
  }
  const int64_t begin = read_offset(a, index);
  const int64_t end = read_offset(a, index + 1);
  int64_t limit;
  if (t.is_binary_like()) {
    limit = a.buffers.size() > 2 ? a.buffers[2].size() : 0;
  } else {
    limit = a.children.empty() || !a.children[0] ? 0 : a.children[0]->length;
  }
  if (begin < 0 || begin > end || end > limit) {
    throw FormatError("", -1,
                      fmt::format("{} element {}: offsets [{}, {}) are decreasing or "
                                  "outside [0, {}]",
                                  t.to_string(), i, begin, end, limit));
  }
  return {begin, end};
}

std::string_view binary_value(const ArrayData& a, int64_t i) {
  if (!a.type->is_binary_like()) {
    throw InvalidArgument(fmt::format("binary_value: {} is not binary-like", a.type->to_string()));
  }
  auto [begin, end] = value_range(a, i);
  return {reinterpret_cast<const char*>(a.buffers[2].data()) + begin,
          static_cast<size_t>(end - begin)};
}

}  // namespace mouse::arrow
