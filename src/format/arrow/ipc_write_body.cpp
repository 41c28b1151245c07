// Record batch bodies for the IPC writer: each column flattened, in pre-order, into FieldNodes
// and body buffers the way pyarrow lays them out, with sliced arrays rebased to offset 0.
#include "format/arrow/ipc_write_body.hpp"

#include <lz4frame.h>
#include <zstd.h>

#include <fmt/format.h>
#include <algorithm>
#include <bit>
#include <cstring>

#include "mouse/error.hpp"

namespace mouse::detail {

using arrow::ArrayData;
using arrow::DataType;
using arrow::get_bit;
using arrow::TypeId;

namespace {

// Arrow C++'s default ZSTD level.
constexpr int kZstdLevel = 1;

// Elements [offset, offset + length) of `array`'s buffers (offset already includes the
// array's own offset), to be written as a node of `type`.
struct View {
  const ArrayData* array;
  int64_t offset;
  int64_t length;
};

int64_t count_nulls(const uint8_t* bits, int64_t start, int64_t length) {
  int64_t valid = 0;
  int64_t i = start;
  const int64_t end = start + length;
  for (; i < end && (i & 7) != 0; ++i) valid += get_bit(bits, i);
  for (; i + 8 <= end; i += 8) valid += std::popcount(static_cast<unsigned>(bits[i >> 3]));
  for (; i < end; ++i) valid += get_bit(bits, i);
  return length - valid;
}

// Bits [start, start + length) of `bits` as a bitmap starting at bit 0: the buffer as it is
// when it starts at bit 0 and ends within the padding (what pyarrow keeps), a zero-copy slice
// when `start` is byte-aligned, else a shifted copy.
Buffer rebase_bitmap(const Buffer& bits, int64_t start, int64_t length) {
  const int64_t bytes = (length + 7) / 8;
  if (start == 0 && bits.size() <= pad8(bytes)) return bits;
  if (start % 8 == 0) return bits.slice(start / 8, bytes);
  Buffer out = Buffer::allocate(bytes);
  const uint8_t* src = bits.data() + start / 8;
  const int shift = static_cast<int>(start % 8);
  const int64_t available = (start + length + 7) / 8 - start / 8;  // source bytes in range
  uint8_t* dst = out.mutable_data();
  for (int64_t k = 0; k < bytes; ++k) {
    unsigned v = src[k] >> shift;
    if (k + 1 < available) v |= static_cast<unsigned>(src[k + 1]) << (8 - shift);
    dst[k] = static_cast<uint8_t>(v);
  }
  if (length % 8 != 0) dst[bytes - 1] &= static_cast<uint8_t>((1u << (length % 8)) - 1);
  return out;
}

// Bytes [start, start + length) of `buffer`, extended by whatever of the padding up to the next
// multiple of 8 the buffer has: pyarrow writes (and records the length of) those bytes too, so
// rewriting a buffer read from a pyarrow file reproduces it exactly. Buffers built to their
// exact size stay exact.
Buffer keep_padding(const Buffer& buffer, int64_t start, int64_t length) {
  return buffer.slice(start, std::min(pad8(length), buffer.size() - start));
}

template <class O>
O read_offset(const Buffer& offsets, int64_t i) {
  O v;
  std::memcpy(&v, offsets.data() + i * static_cast<int64_t>(sizeof(O)), sizeof(O));
  return v;
}

class BodyBuilder {
 public:
  explicit BodyBuilder(IpcBody& out) : out_(out) {}

  void add(const View& v, const DataType& type, const std::string& where) {
    const ArrayData& a = *v.array;
    if (!a.type || a.type->id != type.id ||
        (type.id == TypeId::kFixedSizeList && a.type->list_size != type.list_size)) {
      throw InvalidArgument(fmt::format("IPC writer: {}: array has type {}, schema says {}", where,
                                        a.type ? a.type->to_string() : "(none)", type.to_string()));
    }
    if (type.id == TypeId::kNull) {
      // A null array has no buffers at all (metadata V5); every slot is null.
      out_.nodes.push_back({v.length, v.length});
      return;
    }
    const int64_t null_count = nulls_of(v, where);
    out_.nodes.push_back({v.length, null_count});
    out_.buffers.push_back(null_count > 0 ? rebase_bitmap(a.buffers[0], v.offset, v.length)
                                          : Buffer());

    switch (type.id) {
      case TypeId::kBool:
        need_buffers(a, 2, where);
        need_bytes(a.buffers[1], (v.offset + v.length + 7) / 8, "values bitmap", where);
        out_.buffers.push_back(rebase_bitmap(a.buffers[1], v.offset, v.length));
        return;
      case TypeId::kInt8:
      case TypeId::kInt16:
      case TypeId::kInt32:
      case TypeId::kInt64:
      case TypeId::kUInt8:
      case TypeId::kUInt16:
      case TypeId::kUInt32:
      case TypeId::kUInt64:
      case TypeId::kFloat16:
      case TypeId::kFloat32:
      case TypeId::kFloat64: {
        need_buffers(a, 2, where);
        const int64_t width = type.byte_width();
        need_bytes(a.buffers[1], (v.offset + v.length) * width, "values", where);
        out_.buffers.push_back(keep_padding(a.buffers[1], v.offset * width, v.length * width));
        return;
      }
      case TypeId::kUtf8:
      case TypeId::kBinary:
        add_binary<int32_t>(v, where);
        return;
      case TypeId::kLargeUtf8:
      case TypeId::kLargeBinary:
        add_binary<int64_t>(v, where);
        return;
      case TypeId::kList:
        add_list<int32_t>(v, type, where);
        return;
      case TypeId::kLargeList:
        add_list<int64_t>(v, type, where);
        return;
      case TypeId::kFixedSizeList: {
        const ArrayData& child = child_of(a, 0, where);
        const int64_t size = type.list_size;
        if ((v.offset + v.length) * size > child.length) {
          throw InvalidArgument(
              fmt::format("IPC writer: {}: fixed_size_list needs {} child elements, child has {}",
                          where, (v.offset + v.length) * size, child.length));
        }
        add({&child, child.offset + v.offset * size, v.length * size}, *type.value_type(),
            where + "." + type.children[0].name);
        return;
      }
      case TypeId::kStruct:
        for (size_t i = 0; i < type.children.size(); ++i) {
          const ArrayData& child = child_of(a, i, where);
          const std::string child_where = where + "." + type.children[i].name;
          if (v.offset + v.length > child.length) {
            throw InvalidArgument(fmt::format("IPC writer: {}: needs {} elements, has {}",
                                              child_where, v.offset + v.length, child.length));
          }
          add({&child, child.offset + v.offset, v.length}, *type.children[i].type, child_where);
        }
        return;
      case TypeId::kNull:
        return;
    }
  }

 private:
  IpcBody& out_;

  static void need_buffers(const ArrayData& a, size_t n, const std::string& where) {
    if (a.buffers.size() < n) {
      throw InvalidArgument(fmt::format("IPC writer: {}: {} array needs {} buffers, has {}", where,
                                        a.type->to_string(), n, a.buffers.size()));
    }
  }

  static void need_bytes(const Buffer& buffer, int64_t bytes, const char* what,
                         const std::string& where) {
    if (buffer.size() < bytes) {
      throw InvalidArgument(fmt::format("IPC writer: {}: {} buffer needs {} bytes, has {}", where,
                                        what, bytes, buffer.size()));
    }
  }

  static const ArrayData& child_of(const ArrayData& a, size_t i, const std::string& where) {
    if (a.children.size() <= i || !a.children[i]) {
      throw InvalidArgument(fmt::format("IPC writer: {}: {} array is missing child {}", where,
                                        a.type->to_string(), i));
    }
    return *a.children[i];
  }

  // Null count of the view: the array's own count when the view covers it (or it has none),
  // otherwise counted from the bitmap.
  static int64_t nulls_of(const View& v, const std::string& where) {
    const ArrayData& a = *v.array;
    const bool has_bitmap = !a.buffers.empty() && !a.buffers[0].empty();
    if (!has_bitmap) {
      if (a.null_count > 0) {
        throw InvalidArgument(
            fmt::format("IPC writer: {}: null_count is {} but there is no validity bitmap", where,
                        a.null_count));
      }
      return 0;
    }
    if (a.null_count == 0 || v.length == 0) return 0;
    need_bytes(a.buffers[0], (v.offset + v.length + 7) / 8, "validity", where);
    if (a.null_count > 0 && v.offset == a.offset && v.length == a.length) return a.null_count;
    return count_nulls(a.buffers[0].data(), v.offset, v.length);
  }

  // Offsets [offset, offset + length] rebased to start at 0, and the range they cover.
  template <class O>
  std::pair<int64_t, int64_t> add_offsets(const View& v, int64_t limit, const char* limit_what,
                                          const std::string& where) {
    const ArrayData& a = *v.array;
    need_buffers(a, 2, where);
    const Buffer& offsets = a.buffers[1];
    constexpr auto width = static_cast<int64_t>(sizeof(O));
    if (v.length == 0 && offsets.size() < (v.offset + 1) * width) {
      // An empty array may come without offsets; the stream still gets the single 0.
      out_.buffers.push_back(Buffer::allocate(width));
      return {0, 0};
    }
    need_bytes(offsets, (v.offset + v.length + 1) * width, "offsets", where);
    const int64_t first = read_offset<O>(offsets, v.offset);
    const int64_t last = read_offset<O>(offsets, v.offset + v.length);
    if (first < 0 || last < first || last > limit) {
      throw InvalidArgument(fmt::format("IPC writer: {}: offsets [{}, {}] do not fit the {} ({})",
                                        where, first, last, limit_what, limit));
    }
    if (first == 0) {
      out_.buffers.push_back(offsets.slice(v.offset * width, (v.length + 1) * width));
    } else {
      Buffer shifted = Buffer::allocate((v.length + 1) * width);
      auto* out = reinterpret_cast<O*>(shifted.mutable_data());
      for (int64_t i = 0; i <= v.length; ++i) {
        out[i] = static_cast<O>(read_offset<O>(offsets, v.offset + i) - first);
      }
      out_.buffers.push_back(std::move(shifted));
    }
    return {first, last};
  }

  template <class O>
  void add_binary(const View& v, const std::string& where) {
    const ArrayData& a = *v.array;
    need_buffers(a, 3, where);
    auto [first, last] = add_offsets<O>(v, a.buffers[2].size(), "data buffer bytes", where);
    out_.buffers.push_back(keep_padding(a.buffers[2], first, last - first));
  }

  template <class O>
  void add_list(const View& v, const DataType& type, const std::string& where) {
    const ArrayData& child = child_of(*v.array, 0, where);
    auto [first, last] = add_offsets<O>(v, child.length, "child elements", where);
    add({&child, child.offset + first, last - first}, *type.value_type(),
        where + "." + type.children[0].name);
  }
};

}  // namespace

void append_column(IpcBody& body, const ArrayData& column, const DataType& type,
                   const std::string& where) {
  BodyBuilder(body).add({&column, column.offset, column.length}, type, where);
}

// Compresses one body buffer as Arrow's BUFFER method does: int64 uncompressed length, then the
// codec's frame. Empty buffers stay empty.
Buffer compress_body_buffer(const Buffer& in, arrow::IpcCompression codec) {
  if (in.empty()) return in;
  const auto n = static_cast<size_t>(in.size());
  size_t bound = 0;
  if (codec == arrow::IpcCompression::kLz4Frame) {
    bound = LZ4F_compressFrameBound(n, nullptr);
  } else {
    bound = ZSTD_compressBound(n);
  }
  Buffer out = Buffer::allocate(static_cast<int64_t>(8 + bound));
  const int64_t uncompressed = in.size();
  std::memcpy(out.mutable_data(), &uncompressed, 8);
  size_t written = 0;
  if (codec == arrow::IpcCompression::kLz4Frame) {
    // Default frame preferences, as Arrow C++ uses (no content size in the frame header).
    written = LZ4F_compressFrame(out.mutable_data() + 8, bound, in.data(), n, nullptr);
    if (LZ4F_isError(written)) {
      throw Error(
          fmt::format("IPC writer: LZ4 frame compression failed: {}", LZ4F_getErrorName(written)));
    }
  } else {
    written = ZSTD_compress(out.mutable_data() + 8, bound, in.data(), n, kZstdLevel);
    if (ZSTD_isError(written)) {
      throw Error(
          fmt::format("IPC writer: ZSTD compression failed: {}", ZSTD_getErrorName(written)));
    }
  }
  return out.slice(0, static_cast<int64_t>(8 + written));
}

}  // namespace mouse::detail
