// The in-memory Arrow columnar model used throughout mouse-data: data types, fields, schemas,
// arrays (ArrayData) and record batches. Arrays are immutable views over Buffers, so a column
// read from a memory-mapped file stays zero-copy and keeps the map alive.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mouse/buffer.hpp"

namespace mouse::arrow {

/// The Arrow types mouse-data reads and writes (SPEC §2.5). Anything else is a FormatError.
enum class TypeId : uint8_t {
  kNull,
  kBool,
  kInt8,
  kInt16,
  kInt32,
  kInt64,
  kUInt8,
  kUInt16,
  kUInt32,
  kUInt64,
  kFloat16,
  kFloat32,
  kFloat64,
  kUtf8,
  kLargeUtf8,
  kBinary,
  kLargeBinary,
  kList,
  kLargeList,
  kFixedSizeList,
  kStruct,
};

struct Field;
struct DataType;
/// Types are immutable and shared.
using TypePtr = std::shared_ptr<const DataType>;
/// Ordered key/value pairs (schema and field metadata).
using KeyValueMetadata = std::vector<std::pair<std::string, std::string>>;

/// A named, typed column or child.
struct Field {
  std::string name;
  TypePtr type;
  bool nullable = true;
  KeyValueMetadata metadata;
};

/// An Arrow data type. `children` holds the item field of list types (exactly one) and the
/// member fields of a struct; `list_size` is the fixed length of a FixedSizeList.
struct DataType {
  TypeId id = TypeId::kNull;
  int32_t list_size = 0;
  std::vector<Field> children;

  /// Width in bytes of one value of a fixed-width primitive (int, uint, float); 0 for bool
  /// (bit-packed) and for every non-primitive type.
  int byte_width() const noexcept;
  /// int*, uint*, float*.
  bool is_numeric() const noexcept;
  /// utf8, large_utf8, binary, large_binary.
  bool is_binary_like() const noexcept;
  /// list, large_list, fixed_size_list.
  bool is_list_like() const noexcept;
  /// Uses 64-bit offsets (large_utf8, large_binary, large_list).
  bool has_large_offsets() const noexcept;
  /// The item type of a list-like type (precondition: is_list_like()).
  const TypePtr& value_type() const noexcept { return children.front().type; }
  /// Readable form as pyarrow prints it: "int64", "list<item: float>", "struct<a: int64>",
  /// "fixed_size_list<item: float>[4]".
  std::string to_string() const;
  /// Structural equality (names of children included, nullability and metadata ignored).
  bool equals(const DataType& other) const noexcept;
};

/// Name of a type id as pyarrow spells it ("int64", "float", "double", "string", ...).
std::string_view type_id_name(TypeId id) noexcept;

/// Type factories.
TypePtr null();
TypePtr boolean();
TypePtr int8();
TypePtr int16();
TypePtr int32();
TypePtr int64();
TypePtr uint8();
TypePtr uint16();
TypePtr uint32();
TypePtr uint64();
TypePtr float16();
TypePtr float32();
TypePtr float64();
TypePtr utf8();
TypePtr large_utf8();
TypePtr binary();
TypePtr large_binary();
/// The primitive (non-nested, parameter-free) type for `id`; InvalidArgument for nested ids.
TypePtr primitive(TypeId id);
/// list<item>; the item field is conventionally named "item".
TypePtr list(Field item);
TypePtr large_list(Field item);
TypePtr fixed_size_list(Field item, int32_t size);
TypePtr struct_(std::vector<Field> fields);

/// A schema: ordered fields plus key/value metadata (HF keeps its features JSON under
/// "huggingface").
struct Schema {
  std::vector<Field> fields;
  KeyValueMetadata metadata;

  /// Index of the field named `name`, or -1.
  int field_index(std::string_view name) const noexcept;
  /// Value of metadata key `key`, or nullopt.
  std::optional<std::string> metadata_value(std::string_view key) const;
  /// Structural equality of the fields (names and types, metadata ignored).
  bool equals(const Schema& other) const noexcept;
};

/// One array (column or child): `length` logical elements starting at element `offset` of its
/// buffers (Arrow's offset semantics: the offset applies to validity, values and offsets).
///
/// buffers[0] is the validity bitmap (an empty Buffer means "no nulls"); then by type:
///   null: nothing else (buffers may be just the empty validity) · bool / numeric: [1] values ·
///   binary-like: [1] offsets (int32, or int64 for large), [2] data ·
///   list / large_list: [1] offsets, children[0] the items · fixed_size_list: children[0] holds
///   length*list_size items (from offset*list_size) · struct: children are the members.
/// Invariant after `validate`: every buffer is large enough and suitably aligned for
/// `offset + length` elements, so typed access below needs no further checks except for the
/// per-element offsets of variable-size types, which the accessors check.
struct ArrayData {
  TypePtr type;
  int64_t length = 0;
  int64_t offset = 0;
  int64_t null_count = 0;
  std::vector<Buffer> buffers;
  std::vector<std::shared_ptr<const ArrayData>> children;

  /// True unless element `i` (0-based, relative to this array) is null.
  bool is_valid(int64_t i) const noexcept;
  /// Zero-copy view of elements `[start, start + len)`; precondition: in range. The null
  /// count of the slice is recomputed (cheap: counts bits of the slice only).
  std::shared_ptr<const ArrayData> slice(int64_t start, int64_t len) const;
};
using ArrayPtr = std::shared_ptr<const ArrayData>;

/// Rows of a schema as one array per field, all of `num_rows` length.
struct RecordBatch {
  std::shared_ptr<const Schema> schema;
  int64_t num_rows = 0;
  std::vector<ArrayPtr> columns;
};

/// Checks the structure of `array`: buffer count, sizes and alignment for offset + length,
/// children and their lengths, null_count range; with `full`, also every offset of
/// variable-size types (non-decreasing and inside the data/child) and that null_count matches
/// the bitmap. Throws FormatError with `where` (e.g. "file.arrow: record batch 3, column x").
/// Cost without `full` is O(1) per node: it touches no value memory beyond first/last offsets.
void validate(const ArrayData& array, std::string_view where, bool full);

/// Reads bit `i` of an LSB-first bitmap.
inline bool get_bit(const uint8_t* bits, int64_t i) noexcept {
  return (bits[i >> 3] >> (i & 7)) & 1;
}

/// Typed pointer to element 0 of a bool-free fixed-width array (offset applied).
template <class T>
const T* values(const ArrayData& a) noexcept {
  return a.buffers[1].as<T>() + a.offset;
}

/// Value `i` of a bool array.
inline bool bool_value(const ArrayData& a, int64_t i) noexcept {
  return get_bit(a.buffers[1].data(), a.offset + i);
}

/// `[begin, end)` of element `i` of a binary-like or (large_)list array, in bytes (binary) or
/// child elements (list). Throws FormatError if the offsets are decreasing or out of bounds.
std::pair<int64_t, int64_t> value_range(const ArrayData& a, int64_t i);

/// Bytes of element `i` of a binary-like array (checked as value_range).
std::string_view binary_value(const ArrayData& a, int64_t i);

}  // namespace mouse::arrow
