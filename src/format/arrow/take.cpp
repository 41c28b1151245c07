#include "format/arrow/take.hpp"

#include <cstring>
#include <fmt/format.h>
#include <limits>
#include <vector>

#include "mouse/error.hpp"

namespace mouse::arrow {

namespace {

inline void set_bit(uint8_t* bits, int64_t i) noexcept {
  bits[i >> 3] = static_cast<uint8_t>(bits[i >> 3] | (1u << (i & 7)));
}

// Copies n bits (LSB-first) from src at bit src_off to dst at bit dst_off (dst starts zeroed).
void copy_bits(const uint8_t* src, int64_t src_off, uint8_t* dst, int64_t dst_off, int64_t n) {
  if ((src_off & 7) == 0 && (dst_off & 7) == 0) {
    const int64_t bytes = n / 8;
    if (bytes > 0) std::memcpy(dst + dst_off / 8, src + src_off / 8, static_cast<size_t>(bytes));
    for (int64_t i = bytes * 8; i < n; ++i) {
      if (get_bit(src, src_off + i)) set_bit(dst, dst_off + i);
    }
    return;
  }
  for (int64_t i = 0; i < n; ++i) {
    if (get_bit(src, src_off + i)) set_bit(dst, dst_off + i);
  }
}

int64_t count_zero_bits(const uint8_t* bits, int64_t off, int64_t n) {
  int64_t zeros = 0;
  for (int64_t i = 0; i < n; ++i) zeros += get_bit(bits, off + i) ? 0 : 1;
  return zeros;
}

void need_bytes(const Buffer& buf, int64_t bytes, const char* what, int64_t chunk) {
  if (buf.size() < bytes) {
    throw FormatError("", -1,
                      fmt::format("take: chunk {}: {} buffer needs {} bytes, has {}", chunk, what,
                                  bytes, buf.size()));
  }
}

bool has_validity(const ArrayData& a) { return !a.buffers.empty() && !a.buffers[0].empty(); }

template <class O>
int64_t read_offset(const Buffer& offsets, int64_t i) {
  O v;
  std::memcpy(&v, offsets.data() + i * static_cast<int64_t>(sizeof(O)), sizeof(O));
  return static_cast<int64_t>(v);
}

class Gatherer {
 public:
  // `top` distinguishes caller errors (IndexError) from corrupt nested data (FormatError).
  ArrayPtr run(const TypePtr& type, const std::vector<const ArrayData*>& chunks,
               const std::vector<TakeRange>& ranges, bool top) {
    int64_t total = 0;
    for (const TakeRange& r : ranges) {
      if (r.chunk < 0 || r.chunk >= static_cast<int64_t>(chunks.size())) {
        throw IndexError(fmt::format("take: chunk {} out of range (there are {} chunks)", r.chunk,
                                     chunks.size()));
      }
      const ArrayData& c = *chunks[static_cast<size_t>(r.chunk)];
      if (r.start < 0 || r.length < 0 || r.start > c.length || r.length > c.length - r.start) {
        const std::string what =
            fmt::format("take: elements [{}, {}) are out of range for an array of length {}",
                        r.start, r.start + r.length, c.length);
        if (top) throw IndexError(what);
        throw FormatError("", -1, what);
      }
      total += r.length;
    }
    auto out = std::make_shared<ArrayData>();
    out->type = type;
    out->length = total;
    out->offset = 0;
    if (type->id == TypeId::kNull) {
      out->null_count = total;
      out->buffers = {Buffer()};
      return out;
    }
    out->buffers.push_back(gather_validity(chunks, ranges, total, &out->null_count));
    switch (type->id) {
      case TypeId::kNull:
        break;
      case TypeId::kBool:
        out->buffers.push_back(gather_bools(chunks, ranges, total));
        break;
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
      case TypeId::kFloat64:
        out->buffers.push_back(gather_fixed(chunks, ranges, total, type->byte_width()));
        break;
      case TypeId::kUtf8:
      case TypeId::kBinary:
        gather_binary<int32_t>(chunks, ranges, total, *out);
        break;
      case TypeId::kLargeUtf8:
      case TypeId::kLargeBinary:
        gather_binary<int64_t>(chunks, ranges, total, *out);
        break;
      case TypeId::kList:
        gather_list<int32_t>(type, chunks, ranges, total, *out);
        break;
      case TypeId::kLargeList:
        gather_list<int64_t>(type, chunks, ranges, total, *out);
        break;
      case TypeId::kFixedSizeList:
        gather_fixed_size_list(type, chunks, ranges, *out);
        break;
      case TypeId::kStruct:
        gather_struct(type, chunks, ranges, *out);
        break;
    }
    return out;
  }

 private:
  static Buffer gather_validity(const std::vector<const ArrayData*>& chunks,
                                const std::vector<TakeRange>& ranges, int64_t total,
                                int64_t* null_count) {
    int64_t nulls = 0;
    for (const TakeRange& r : ranges) {
      const ArrayData& c = *chunks[static_cast<size_t>(r.chunk)];
      if (!has_validity(c) || r.length == 0) continue;
      need_bytes(c.buffers[0], (c.offset + r.start + r.length + 7) / 8, "validity", r.chunk);
      nulls += count_zero_bits(c.buffers[0].data(), c.offset + r.start, r.length);
    }
    *null_count = nulls;
    if (nulls == 0) return Buffer();
    Buffer bits = Buffer::allocate((total + 7) / 8);
    uint8_t* dst = bits.mutable_data();
    int64_t pos = 0;
    for (const TakeRange& r : ranges) {
      const ArrayData& c = *chunks[static_cast<size_t>(r.chunk)];
      if (has_validity(c)) {
        copy_bits(c.buffers[0].data(), c.offset + r.start, dst, pos, r.length);
      } else {
        for (int64_t i = 0; i < r.length; ++i) set_bit(dst, pos + i);
      }
      pos += r.length;
    }
    return bits;
  }

  static Buffer gather_bools(const std::vector<const ArrayData*>& chunks,
                             const std::vector<TakeRange>& ranges, int64_t total) {
    Buffer bits = Buffer::allocate((total + 7) / 8);
    int64_t pos = 0;
    for (const TakeRange& r : ranges) {
      const ArrayData& c = *chunks[static_cast<size_t>(r.chunk)];
      if (r.length > 0) {
        if (c.buffers.size() < 2) throw FormatError("", -1, "take: bool array without values");
        need_bytes(c.buffers[1], (c.offset + r.start + r.length + 7) / 8, "values", r.chunk);
        copy_bits(c.buffers[1].data(), c.offset + r.start, bits.mutable_data(), pos, r.length);
      }
      pos += r.length;
    }
    return bits;
  }

  static Buffer gather_fixed(const std::vector<const ArrayData*>& chunks,
                             const std::vector<TakeRange>& ranges, int64_t total, int width) {
    Buffer values = Buffer::allocate(total * width);
    uint8_t* dst = values.mutable_data();
    for (const TakeRange& r : ranges) {
      if (r.length == 0) continue;
      const ArrayData& c = *chunks[static_cast<size_t>(r.chunk)];
      if (c.buffers.size() < 2) throw FormatError("", -1, "take: array without values buffer");
      need_bytes(c.buffers[1], (c.offset + r.start + r.length) * width, "values", r.chunk);
      const size_t bytes = static_cast<size_t>(r.length * width);
      std::memcpy(dst, c.buffers[1].data() + (c.offset + r.start) * width, bytes);
      dst += bytes;
    }
    return values;
  }

  // Writes the offsets of `ranges` (rebased to run on from `base`) into `out_offsets` starting at
  // `pos`, checking them; returns for each range the [first, last) it covers in the source.
  template <class In, class Out>
  static std::vector<std::pair<int64_t, int64_t>> gather_offsets(
      const std::vector<const ArrayData*>& chunks, const std::vector<TakeRange>& ranges,
      int64_t total, Buffer* out_offsets, const char* limit_what, bool limit_is_child) {
    std::vector<std::pair<int64_t, int64_t>> spans;
    spans.reserve(ranges.size());
    int64_t sum = 0;
    for (const TakeRange& r : ranges) {
      const ArrayData& c = *chunks[static_cast<size_t>(r.chunk)];
      if (c.buffers.size() < 2) throw FormatError("", -1, "take: array without offsets buffer");
      if (r.length == 0) {
        spans.emplace_back(0, 0);
        continue;
      }
      need_bytes(c.buffers[1], (c.offset + r.start + r.length + 1) * int64_t{sizeof(In)},
                 "offsets", r.chunk);
      const int64_t first = read_offset<In>(c.buffers[1], c.offset + r.start);
      const int64_t last = read_offset<In>(c.buffers[1], c.offset + r.start + r.length);
      int64_t limit;
      if (limit_is_child) {
        limit = c.children.empty() ? 0 : c.children[0]->length;
      } else {
        limit = c.buffers.size() > 2 ? c.buffers[2].size() : 0;
      }
      if (first < 0 || last < first || last > limit) {
        throw FormatError("", -1,
                          fmt::format("take: chunk {}: offsets [{}, {}] do not fit the {} ({})",
                                      r.chunk, first, last, limit_what, limit));
      }
      spans.emplace_back(first, last);
      sum += last - first;
    }
    if (sum > static_cast<int64_t>(std::numeric_limits<Out>::max())) {
      throw InvalidArgument(fmt::format(
          "take: the result needs {} {} which overflows 32-bit offsets; use a large type", sum,
          limit_what));
    }
    *out_offsets = Buffer::allocate((total + 1) * int64_t{sizeof(Out)});
    Out* dst = reinterpret_cast<Out*>(out_offsets->mutable_data());
    int64_t pos = 0;
    int64_t base = 0;
    dst[0] = 0;
    for (size_t k = 0; k < ranges.size(); ++k) {
      const TakeRange& r = ranges[k];
      if (r.length == 0) continue;
      const ArrayData& c = *chunks[static_cast<size_t>(r.chunk)];
      const auto [first, last] = spans[k];
      int64_t prev = first;
      for (int64_t i = 1; i <= r.length; ++i) {
        const int64_t v = read_offset<In>(c.buffers[1], c.offset + r.start + i);
        if (v < prev || v > last) {
          throw FormatError("", -1,
                            fmt::format("take: chunk {}: offset {} of element {} is outside [{}, "
                                        "{}] or decreasing",
                                        r.chunk, v, r.start + i, prev, last));
        }
        dst[pos + i] = static_cast<Out>(base + (v - first));
        prev = v;
      }
      pos += r.length;
      base += last - first;
    }
    return spans;
  }

  template <class O>
  static void gather_binary(const std::vector<const ArrayData*>& chunks,
                            const std::vector<TakeRange>& ranges, int64_t total, ArrayData& out) {
    Buffer offsets;
    auto spans = gather_offsets<O, O>(chunks, ranges, total, &offsets, "data bytes", false);
    int64_t bytes = 0;
    for (const auto& [first, last] : spans) bytes += last - first;
    Buffer data = Buffer::allocate(bytes);
    uint8_t* dst = data.mutable_data();
    for (size_t k = 0; k < ranges.size(); ++k) {
      const auto [first, last] = spans[k];
      if (last == first) continue;
      const ArrayData& c = *chunks[static_cast<size_t>(ranges[k].chunk)];
      std::memcpy(dst, c.buffers[2].data() + first, static_cast<size_t>(last - first));
      dst += last - first;
    }
    out.buffers.push_back(std::move(offsets));
    out.buffers.push_back(std::move(data));
  }

  static std::vector<const ArrayData*> child_chunks(const std::vector<const ArrayData*>& chunks,
                                                    size_t child) {
    std::vector<const ArrayData*> out;
    out.reserve(chunks.size());
    for (const ArrayData* c : chunks) {
      if (c->children.size() <= child || !c->children[child]) {
        throw FormatError("", -1,
                          fmt::format("take: {} array is missing child {}",
                                      c->type ? c->type->to_string() : "?", child));
      }
      out.push_back(c->children[child].get());
    }
    return out;
  }

  template <class O>
  void gather_list(const TypePtr& type, const std::vector<const ArrayData*>& chunks,
                   const std::vector<TakeRange>& ranges, int64_t total, ArrayData& out) {
    Buffer offsets;
    auto spans = gather_offsets<O, O>(chunks, ranges, total, &offsets, "child elements", true);
    std::vector<TakeRange> child_ranges;
    child_ranges.reserve(ranges.size());
    for (size_t k = 0; k < ranges.size(); ++k) {
      const auto [first, last] = spans[k];
      if (last > first) child_ranges.push_back({ranges[k].chunk, first, last - first});
    }
    out.buffers.push_back(std::move(offsets));
    out.children.push_back(run(type->value_type(), child_chunks(chunks, 0), child_ranges, false));
  }

  void gather_fixed_size_list(const TypePtr& type, const std::vector<const ArrayData*>& chunks,
                              const std::vector<TakeRange>& ranges, ArrayData& out) {
    const int64_t size = type->list_size;
    std::vector<TakeRange> child_ranges;
    child_ranges.reserve(ranges.size());
    for (const TakeRange& r : ranges) {
      if (r.length == 0 || size == 0) continue;
      const ArrayData& c = *chunks[static_cast<size_t>(r.chunk)];
      child_ranges.push_back({r.chunk, (c.offset + r.start) * size, r.length * size});
    }
    out.children.push_back(run(type->value_type(), child_chunks(chunks, 0), child_ranges, false));
  }

  void gather_struct(const TypePtr& type, const std::vector<const ArrayData*>& chunks,
                     const std::vector<TakeRange>& ranges, ArrayData& out) {
    std::vector<TakeRange> child_ranges;
    child_ranges.reserve(ranges.size());
    for (const TakeRange& r : ranges) {
      if (r.length == 0) continue;
      const ArrayData& c = *chunks[static_cast<size_t>(r.chunk)];
      child_ranges.push_back({r.chunk, c.offset + r.start, r.length});
    }
    for (size_t m = 0; m < type->children.size(); ++m) {
      out.children.push_back(
          run(type->children[m].type, child_chunks(chunks, m), child_ranges, false));
    }
  }
};

std::vector<const ArrayData*> checked_chunks(const TypePtr& type,
                                             std::span<const ArrayPtr> chunks) {
  if (!type) throw InvalidArgument("take: no type given");
  std::vector<const ArrayData*> out;
  out.reserve(chunks.size());
  for (size_t i = 0; i < chunks.size(); ++i) {
    const ArrayPtr& c = chunks[i];
    if (!c || !c->type) throw InvalidArgument(fmt::format("take: chunk {} is null", i));
    if (!c->type->equals(*type)) {
      throw InvalidArgument(fmt::format("take: chunk {} has type {}, expected {}", i,
                                        c->type->to_string(), type->to_string()));
    }
    out.push_back(c.get());
  }
  return out;
}

}  // namespace

ArrayPtr take_ranges(const TypePtr& type, std::span<const ArrayPtr> chunks,
                     std::span<const TakeRange> ranges) {
  auto raw = checked_chunks(type, chunks);
  std::vector<TakeRange> rs(ranges.begin(), ranges.end());
  return Gatherer().run(type, raw, rs, true);
}

ArrayPtr take(const ArrayPtr& array, std::span<const int64_t> indices) {
  if (!array) throw InvalidArgument("take: array is null");
  std::vector<TakeRange> ranges;
  for (int64_t index : indices) {
    if (index < 0 || index >= array->length) {
      throw IndexError(fmt::format("take: index {} is out of range for an array of length {}",
                                   index, array->length));
    }
    // Consecutive indices become one run, so contiguous selections copy in bulk.
    if (!ranges.empty() && ranges.back().start + ranges.back().length == index) {
      ++ranges.back().length;
    } else {
      ranges.push_back({0, index, 1});
    }
  }
  std::vector<const ArrayData*> raw{array.get()};
  return Gatherer().run(array->type, raw, ranges, true);
}

ArrayPtr concatenate_arrays(const TypePtr& type, std::span<const ArrayPtr> chunks) {
  auto raw = checked_chunks(type, chunks);
  std::vector<TakeRange> ranges;
  for (size_t i = 0; i < raw.size(); ++i) {
    ranges.push_back({static_cast<int64_t>(i), 0, raw[i]->length});
  }
  return Gatherer().run(type, raw, ranges, true);
}

}  // namespace mouse::arrow
