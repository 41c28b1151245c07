// A small, strict, read-only flatbuffers accessor for untrusted Arrow IPC metadata. Every
// offset is checked against the bytes before it is followed: vtables (size, alignment, bounds),
// uoffset targets, vector lengths (with overflow checks), strings (NUL terminator), and table
// nesting depth. Failures throw FormatError naming the file, the byte offset in it and what was
// expected. No generated code: callers name fields by their schema id (vtable slot 4 + 2 * id).
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "mouse/error.hpp"

namespace mouse::detail::fb {

/// The bytes of one flatbuffer and where they sit in their file (for error messages).
struct Bytes {
  const uint8_t* data = nullptr;
  uint32_t size = 0;
  std::string_view source;
  int64_t file_offset = 0;  ///< file position of data[0]

  /// Throws FormatError at `pos` (relative to data) with `what`.
  [[noreturn]] void fail(uint64_t pos, const std::string& what) const;
};

/// Deepest table nesting accepted (Message > Schema > Field > Field ...).
inline constexpr int kMaxDepth = 96;

class Vector;

/// A table: position of its soffset and its validated vtable.
class Table {
 public:
  /// The root table of `bytes` (uoffset at byte 0).
  static Table root(const Bytes& bytes);

  /// True if field `id` is present.
  bool has(int id) const { return field_pos(id, 0) != 0; }

  /// Scalar field `id`, or `def` when absent.
  template <class T>
  T scalar(int id, T def) const {
    const uint32_t off = field_pos(id, sizeof(T));
    if (off == 0) return def;
    T v;
    std::memcpy(&v, bytes_->data + pos_ + off, sizeof(T));
    return v;
  }

  /// Table-valued field `id`, or nullopt when absent.
  std::optional<Table> table(int id) const;
  /// String field `id`, or nullopt when absent.
  std::optional<std::string_view> string(int id) const;
  /// Vector field `id` of elements `elem_size` bytes wide aligned to `elem_align`, or nullopt.
  std::optional<Vector> vector(int id, uint32_t elem_size, uint32_t elem_align) const;

  /// File offset of scalar field `id` of `size` bytes, or -1 when absent (for tools and tests
  /// that patch metadata).
  int64_t field_file_offset(int id, uint32_t size) const {
    const uint32_t off = field_pos(id, size);
    return off == 0 ? -1 : bytes_->file_offset + pos_ + off;
  }
  /// File offset of this table (for error messages).
  int64_t file_offset() const { return bytes_->file_offset + pos_; }
  const Bytes& bytes() const { return *bytes_; }
  int depth() const { return depth_; }

  /// Validates a table at `pos`, reached at nesting `depth`.
  static Table at(const Bytes& bytes, uint64_t pos, int depth);

 private:
  Table(const Bytes* b, uint32_t pos, uint32_t vt, uint16_t vt_size, uint16_t t_size, int depth)
      : bytes_(b),
        pos_(pos),
        vtable_(vt),
        vtable_size_(vt_size),
        table_size_(t_size),
        depth_(depth) {}
  // Offset of field `id` inside the table (0 = absent), checked to hold `size` bytes aligned
  // to min(size, 8) bytes.
  uint32_t field_pos(int id, uint32_t size) const;
  // Follows the uoffset stored in field `id`; 0 when absent.
  uint64_t follow(int id) const;

  const Bytes* bytes_;
  uint32_t pos_;
  uint32_t vtable_;
  uint16_t vtable_size_;
  uint16_t table_size_;
  int depth_;
};

/// A vector whose bytes have been checked to lie inside the buffer.
class Vector {
 public:
  Vector(const Bytes* b, uint32_t data_pos, uint32_t count, uint32_t elem_size, int depth)
      : bytes_(b), data_(data_pos), count_(count), elem_size_(elem_size), depth_(depth) {}
  uint32_t size() const { return count_; }
  /// Element `i` of a vector of tables.
  Table table(uint32_t i) const;
  /// Element `i` of a vector of strings.
  std::string_view string(uint32_t i) const;
  /// Little-endian scalar at byte `field_offset` of element `i` (struct member or scalar).
  template <class T>
  T get(uint32_t i, uint32_t field_offset) const {
    MOUSE_DCHECK(i < count_ && field_offset + sizeof(T) <= elem_size_);
    T v;
    std::memcpy(&v, bytes_->data + data_ + static_cast<uint64_t>(i) * elem_size_ + field_offset,
                sizeof(T));
    return v;
  }
  /// File offset of element `i`.
  int64_t file_offset(uint32_t i) const {
    return bytes_->file_offset + data_ + static_cast<int64_t>(i) * elem_size_;
  }

 private:
  const Bytes* bytes_;
  uint32_t data_;
  uint32_t count_;
  uint32_t elem_size_;
  int depth_;
};

}  // namespace mouse::detail::fb
