// Thrift compact protocol: a bounds-checked reader over untrusted bytes and a writer, both just
// big enough for Parquet's footer and page headers.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mouse::parquet::detail {

/// Compact-protocol wire types (the low nibble of a field header).
enum class ThriftType : uint8_t {
  kStop = 0,
  kTrue = 1,
  kFalse = 2,
  kByte = 3,
  kI16 = 4,
  kI32 = 5,
  kI64 = 6,
  kDouble = 7,
  kBinary = 8,
  kList = 9,
  kSet = 10,
  kMap = 11,
  kStruct = 12,
};

/// Reads compact-protocol values from `[data, data + size)`. Every read checks the bytes left;
/// a failure throws FormatError naming `source` and the absolute byte offset (`base` is the
/// offset of `data` in the source). Nesting deeper than 64 structs/containers is rejected.
class ThriftReader {
 public:
  ThriftReader(const uint8_t* data, int64_t size, std::string_view source, int64_t base);

  /// One field header of the current struct. Returns false at the stop byte.
  bool next_field(int16_t* id, ThriftType* type);
  /// Enters a nested struct (resets the field-id delta); `end_struct` leaves it.
  void begin_struct();
  void end_struct();

  int64_t read_varint();  ///< unsigned LEB128, up to 64 bits
  int64_t read_i64();     ///< zigzag varint
  int32_t read_i32();     ///< zigzag varint, range checked
  int16_t read_i16();
  int8_t read_byte();
  double read_double();
  /// A field of type kTrue/kFalse carries its value in the header.
  static bool bool_of(ThriftType t) { return t == ThriftType::kTrue; }
  /// Binary/string: varint length then bytes (checked against what is left).
  std::string_view read_binary();
  /// List/set header: element type and count (count checked against the bytes left).
  int64_t read_list_header(ThriftType* elem);
  /// Skips one value of `type` (recursively for containers and structs).
  void skip(ThriftType type);

  /// Bytes consumed so far.
  int64_t position() const noexcept { return pos_; }
  /// Throws FormatError at the current position saying what was expected.
  [[noreturn]] void fail(const std::string& what) const;

 private:
  uint8_t read_u8();
  const uint8_t* data_;
  int64_t size_;
  int64_t pos_ = 0;
  std::string source_;
  int64_t base_;
  std::vector<int16_t> last_ids_;
  int16_t last_id_ = 0;
};

/// Appends compact-protocol values to a byte vector.
class ThriftWriter {
 public:
  explicit ThriftWriter(std::vector<uint8_t>& out) : out_(out) {}

  void field(int16_t id, ThriftType type);
  void stop() { out_.push_back(0); }
  void begin_struct();  ///< after a kStruct field header or list header
  void end_struct();    ///< writes the stop byte
  void varint(uint64_t v);
  void i32(int16_t id, int32_t v);
  void i64(int16_t id, int64_t v);
  void boolean(int16_t id, bool v);
  void binary(int16_t id, std::string_view v);
  void list_header(int16_t id, ThriftType elem, int64_t count);
  /// Elements of a list.
  void elem_i32(int32_t v);
  void elem_binary(std::string_view v);
  /// A list header without a field header (list elements of struct type use begin_struct).
  void raw_list_header(ThriftType elem, int64_t count);

 private:
  std::vector<uint8_t>& out_;
  std::vector<int16_t> last_ids_;
  int16_t last_id_ = 0;
};

}  // namespace mouse::parquet::detail
