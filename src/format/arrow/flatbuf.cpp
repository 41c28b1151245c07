// Checked flatbuffers access: peek at an offset, verify it against the buffer, then decode.
#include "format/arrow/flatbuf.hpp"

#include <fmt/format.h>

namespace mouse::detail::fb {

namespace {

template <class T>
T load(const Bytes& b, uint64_t pos) {
  T v;
  std::memcpy(&v, b.data + pos, sizeof(T));
  return v;
}

// Reads the uoffset at `pos` and returns its checked target (pos + value).
uint64_t follow_uoffset(const Bytes& b, uint64_t pos) {
  if (pos + 4 > b.size)
    b.fail(pos, fmt::format("uoffset needs 4 bytes, buffer ends at {}", b.size));
  const uint64_t target = pos + load<uint32_t>(b, pos);
  if (target >= b.size) {
    b.fail(pos, fmt::format("uoffset points to byte {}, outside the {}-byte flatbuffer", target,
                            b.size));
  }
  return target;
}

}  // namespace

void Bytes::fail(uint64_t pos, const std::string& what) const {
  throw FormatError(std::string(source), file_offset + static_cast<int64_t>(pos),
                    "flatbuffer metadata: " + what);
}

Table Table::root(const Bytes& bytes) {
  if (bytes.size < 8) {
    bytes.fail(0, fmt::format("expected at least 8 bytes of flatbuffer, found {}", bytes.size));
  }
  return at(bytes, follow_uoffset(bytes, 0), 0);
}

Table Table::at(const Bytes& b, uint64_t pos, int depth) {
  if (depth > kMaxDepth) {
    b.fail(pos, fmt::format("tables nested deeper than {}", kMaxDepth));
  }
  if (pos % 4 != 0) b.fail(pos, "table is not 4-byte aligned");
  if (pos + 4 > b.size) b.fail(pos, "table header runs past the end of the flatbuffer");
  const int64_t vt = static_cast<int64_t>(pos) - load<int32_t>(b, pos);
  if (vt < 0 || vt + 4 > static_cast<int64_t>(b.size)) {
    b.fail(pos, fmt::format("vtable at {} is outside the {}-byte flatbuffer", vt, b.size));
  }
  if (vt % 2 != 0) b.fail(pos, fmt::format("vtable at {} is not 2-byte aligned", vt));
  const uint16_t vt_size = load<uint16_t>(b, static_cast<uint64_t>(vt));
  const uint16_t t_size = load<uint16_t>(b, static_cast<uint64_t>(vt) + 2);
  if (vt_size < 4 || vt_size % 2 != 0 || vt + vt_size > static_cast<int64_t>(b.size)) {
    b.fail(static_cast<uint64_t>(vt),
           fmt::format("vtable size {} is invalid (expected even, >= 4, within {} bytes)", vt_size,
                       b.size - vt));
  }
  if (t_size < 4 || pos + t_size > b.size) {
    b.fail(pos, fmt::format("table size {} is invalid (expected >= 4, within {} bytes)", t_size,
                            b.size - pos));
  }
  return Table(&b, static_cast<uint32_t>(pos), static_cast<uint32_t>(vt), vt_size, t_size, depth);
}

uint32_t Table::field_pos(int id, uint32_t size) const {
  const uint32_t slot = 4 + 2 * static_cast<uint32_t>(id);
  if (slot + 2 > vtable_size_) return 0;
  const uint16_t off = load<uint16_t>(*bytes_, vtable_ + slot);
  if (off == 0) return 0;
  if (off < 4 || static_cast<uint32_t>(off) + size > table_size_) {
    bytes_->fail(pos_, fmt::format("field {} at table offset {} (+{} bytes) lies outside the "
                                   "{}-byte table",
                                   id, off, size, table_size_));
  }
  const uint32_t align = size > 8 ? 8 : (size == 0 ? 1 : size);
  if ((pos_ + off) % align != 0) {
    bytes_->fail(pos_ + off, fmt::format("field {} is not {}-byte aligned", id, align));
  }
  return off;
}

uint64_t Table::follow(int id) const {
  const uint32_t off = field_pos(id, 4);
  if (off == 0) return 0;
  return follow_uoffset(*bytes_, pos_ + off);
}

std::optional<Table> Table::table(int id) const {
  const uint64_t target = follow(id);
  if (target == 0) return std::nullopt;
  return at(*bytes_, target, depth_ + 1);
}

namespace {

// Checks a string at `pos` (uint32 length, bytes, NUL) and returns it.
std::string_view string_at(const Bytes& b, uint64_t pos) {
  if (pos % 4 != 0) b.fail(pos, "string is not 4-byte aligned");
  if (pos + 4 > b.size) b.fail(pos, "string length runs past the end of the flatbuffer");
  const uint64_t len = load<uint32_t>(b, pos);
  if (pos + 4 + len + 1 > b.size) {
    b.fail(pos, fmt::format("string of {} bytes (+ NUL) runs past the end of the {}-byte "
                            "flatbuffer",
                            len, b.size));
  }
  if (b.data[pos + 4 + len] != 0) b.fail(pos + 4 + len, "string is not NUL-terminated");
  return {reinterpret_cast<const char*>(b.data + pos + 4), static_cast<size_t>(len)};
}

}  // namespace

std::optional<std::string_view> Table::string(int id) const {
  const uint64_t target = follow(id);
  if (target == 0) return std::nullopt;
  return string_at(*bytes_, target);
}

std::optional<Vector> Table::vector(int id, uint32_t elem_size, uint32_t elem_align) const {
  const uint64_t pos = follow(id);
  if (pos == 0) return std::nullopt;
  const Bytes& b = *bytes_;
  if (pos % 4 != 0) b.fail(pos, "vector is not 4-byte aligned");
  if (pos + 4 > b.size) b.fail(pos, "vector length runs past the end of the flatbuffer");
  const uint64_t count = load<uint32_t>(b, pos);
  const uint64_t data = pos + 4;
  // count < 2^32 and elem_size is small, so the product fits in 64 bits.
  const uint64_t bytes = count * elem_size;
  if (data + bytes > b.size) {
    b.fail(pos, fmt::format("vector of {} elements x {} bytes needs {} bytes, {} left", count,
                            elem_size, bytes, b.size - data));
  }
  // Element alignment is not required: writers leave empty struct vectors 4-aligned, and every
  // element is read with memcpy.
  (void)elem_align;
  return Vector(&b, static_cast<uint32_t>(data), static_cast<uint32_t>(count), elem_size,
                depth_ + 1);
}

Table Vector::table(uint32_t i) const {
  MOUSE_DCHECK(i < count_ && elem_size_ == 4);
  return Table::at(*bytes_, follow_uoffset(*bytes_, data_ + 4ull * i), depth_ + 1);
}

std::string_view Vector::string(uint32_t i) const {
  MOUSE_DCHECK(i < count_ && elem_size_ == 4);
  return string_at(*bytes_, follow_uoffset(*bytes_, data_ + 4ull * i));
}

}  // namespace mouse::detail::fb
