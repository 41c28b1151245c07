// Thrift compact protocol. The reader treats its input as hostile: lengths and counts are checked
// against the bytes that are actually left before anything is allocated or read.
#include "format/parquet/thrift.hpp"

#include <fmt/format.h>

#include <cstring>

#include "mouse/error.hpp"

namespace mouse::parquet::detail {

namespace {
constexpr size_t kMaxDepth = 64;

uint64_t zigzag_encode(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
int64_t zigzag_decode(uint64_t v) {
  return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
}
}  // namespace

ThriftReader::ThriftReader(const uint8_t* data, int64_t size, std::string_view source,
                           int64_t base)
    : data_(data), size_(size), source_(source), base_(base) {}

void ThriftReader::fail(const std::string& what) const {
  throw FormatError(source_, base_ + pos_, "thrift metadata: " + what);
}

uint8_t ThriftReader::read_u8() {
  if (pos_ >= size_) fail("expected 1 more byte, found the end of the metadata");
  return data_[pos_++];
}

int64_t ThriftReader::read_varint() {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    uint8_t b = read_u8();
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return static_cast<int64_t>(v);
  }
  fail("varint longer than 10 bytes");
}

int64_t ThriftReader::read_i64() { return zigzag_decode(static_cast<uint64_t>(read_varint())); }

int32_t ThriftReader::read_i32() {
  int64_t v = read_i64();
  if (v < INT32_MIN || v > INT32_MAX) fail(fmt::format("i32 value, found {}", v));
  return static_cast<int32_t>(v);
}

int16_t ThriftReader::read_i16() {
  int64_t v = read_i64();
  if (v < INT16_MIN || v > INT16_MAX) fail(fmt::format("i16 value, found {}", v));
  return static_cast<int16_t>(v);
}

int8_t ThriftReader::read_byte() { return static_cast<int8_t>(read_u8()); }

double ThriftReader::read_double() {
  if (size_ - pos_ < 8) fail("8-byte double, found the end of the metadata");
  double d;
  std::memcpy(&d, data_ + pos_, 8);
  pos_ += 8;
  return d;
}

std::string_view ThriftReader::read_binary() {
  int64_t n = read_varint();
  if (n < 0 || n > size_ - pos_) {
    fail(fmt::format("binary of {} bytes, only {} left", n, size_ - pos_));
  }
  std::string_view s(reinterpret_cast<const char*>(data_ + pos_), static_cast<size_t>(n));
  pos_ += n;
  return s;
}

int64_t ThriftReader::read_list_header(ThriftType* elem) {
  uint8_t h = read_u8();
  *elem = static_cast<ThriftType>(h & 0x0f);
  int64_t n = h >> 4;
  if (n == 15) n = read_varint();
  // Every element takes at least one byte (bools in lists do too), so a count larger than the
  // bytes left cannot be right; this also bounds any allocation made from it.
  if (n < 0 || n > size_ - pos_) {
    fail(fmt::format("list of {} elements, only {} bytes left", n, size_ - pos_));
  }
  if (static_cast<uint8_t>(*elem) > 12 || *elem == ThriftType::kStop) {
    fail(fmt::format("list element type 1..12, found {}", static_cast<int>(*elem)));
  }
  return n;
}

void ThriftReader::begin_struct() {
  if (last_ids_.size() >= kMaxDepth) fail("nesting of at most 64 levels");
  last_ids_.push_back(last_id_);
  last_id_ = 0;
}

void ThriftReader::end_struct() {
  MOUSE_DCHECK(!last_ids_.empty());
  last_id_ = last_ids_.back();
  last_ids_.pop_back();
}

bool ThriftReader::next_field(int16_t* id, ThriftType* type) {
  uint8_t h = read_u8();
  if (h == 0) return false;
  *type = static_cast<ThriftType>(h & 0x0f);
  if (static_cast<uint8_t>(*type) > 12) {
    fail(fmt::format("field type 1..12, found {}", static_cast<int>(*type)));
  }
  int delta = h >> 4;
  *id = delta != 0 ? static_cast<int16_t>(last_id_ + delta) : read_i16();
  last_id_ = *id;
  return true;
}

void ThriftReader::skip(ThriftType type) {
  switch (type) {
    case ThriftType::kTrue:
    case ThriftType::kFalse:
      return;
    case ThriftType::kByte:
      read_u8();
      return;
    case ThriftType::kI16:
    case ThriftType::kI32:
    case ThriftType::kI64:
      read_varint();
      return;
    case ThriftType::kDouble:
      read_double();
      return;
    case ThriftType::kBinary:
      read_binary();
      return;
    case ThriftType::kList:
    case ThriftType::kSet: {
      ThriftType elem;
      int64_t n = read_list_header(&elem);
      if (last_ids_.size() >= kMaxDepth) fail("nesting of at most 64 levels");
      last_ids_.push_back(last_id_);
      for (int64_t i = 0; i < n; ++i) {
        if (elem == ThriftType::kTrue || elem == ThriftType::kFalse) {
          read_u8();
        } else {
          skip(elem);
        }
      }
      last_id_ = last_ids_.back();
      last_ids_.pop_back();
      return;
    }
    case ThriftType::kMap: {
      int64_t n = read_varint();
      if (n < 0 || n > size_ - pos_) fail(fmt::format("map of {} entries", n));
      if (n == 0) return;
      uint8_t kv = read_u8();
      auto k = static_cast<ThriftType>(kv >> 4), v = static_cast<ThriftType>(kv & 0x0f);
      if (last_ids_.size() >= kMaxDepth) fail("nesting of at most 64 levels");
      last_ids_.push_back(last_id_);
      for (int64_t i = 0; i < n; ++i) {
        for (ThriftType t : {k, v}) {
          if (t == ThriftType::kTrue || t == ThriftType::kFalse) {
            read_u8();
          } else {
            skip(t);
          }
        }
      }
      last_id_ = last_ids_.back();
      last_ids_.pop_back();
      return;
    }
    case ThriftType::kStruct: {
      begin_struct();
      int16_t id;
      ThriftType t;
      while (next_field(&id, &t)) skip(t);
      end_struct();
      return;
    }
    case ThriftType::kStop:
      break;
  }
  fail(fmt::format("a value type, found {}", static_cast<int>(type)));
}

// ---------------------------------------------------------------------------------------------

void ThriftWriter::varint(uint64_t v) {
  while (v >= 0x80) {
    out_.push_back(static_cast<uint8_t>(v | 0x80));
    v >>= 7;
  }
  out_.push_back(static_cast<uint8_t>(v));
}

void ThriftWriter::field(int16_t id, ThriftType type) {
  int delta = id - last_id_;
  if (delta > 0 && delta <= 15) {
    out_.push_back(static_cast<uint8_t>((delta << 4) | static_cast<uint8_t>(type)));
  } else {
    out_.push_back(static_cast<uint8_t>(type));
    varint(zigzag_encode(id));
  }
  last_id_ = id;
}

void ThriftWriter::begin_struct() {
  last_ids_.push_back(last_id_);
  last_id_ = 0;
}

void ThriftWriter::end_struct() {
  stop();
  last_id_ = last_ids_.back();
  last_ids_.pop_back();
}

void ThriftWriter::i32(int16_t id, int32_t v) {
  field(id, ThriftType::kI32);
  varint(zigzag_encode(v));
}

void ThriftWriter::i64(int16_t id, int64_t v) {
  field(id, ThriftType::kI64);
  varint(zigzag_encode(v));
}

void ThriftWriter::boolean(int16_t id, bool v) {
  field(id, v ? ThriftType::kTrue : ThriftType::kFalse);
}

void ThriftWriter::binary(int16_t id, std::string_view v) {
  field(id, ThriftType::kBinary);
  elem_binary(v);
}

void ThriftWriter::raw_list_header(ThriftType elem, int64_t count) {
  if (count < 15) {
    out_.push_back(static_cast<uint8_t>((count << 4) | static_cast<uint8_t>(elem)));
  } else {
    out_.push_back(static_cast<uint8_t>(0xf0 | static_cast<uint8_t>(elem)));
    varint(static_cast<uint64_t>(count));
  }
}

void ThriftWriter::list_header(int16_t id, ThriftType elem, int64_t count) {
  field(id, ThriftType::kList);
  raw_list_header(elem, count);
}

void ThriftWriter::elem_i32(int32_t v) { varint(zigzag_encode(v)); }

void ThriftWriter::elem_binary(std::string_view v) {
  varint(v.size());
  out_.insert(out_.end(), v.begin(), v.end());
}

}  // namespace mouse::parquet::detail
