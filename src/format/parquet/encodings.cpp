// Value decoders. Each checks the bytes it needs before reading them; counts come from page
// headers and levels (already bounded by the page size) so allocations stay proportional to
// the input.
#include "format/parquet/encodings.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "format/parquet/metadata.hpp"
#include "mouse/error.hpp"

namespace mouse::parquet::detail {

namespace {

[[noreturn]] void fail(const ByteSource& s, int64_t pos, const std::string& what) {
  throw FormatError(std::string(s.file), s.offset >= 0 && pos >= 0 ? s.offset + pos : -1,
                    fmt::format("{}: {}", s.what, what));
}

// Unsigned LEB128 with bounds checks.
uint64_t uvarint(const uint8_t* p, int64_t size, int64_t& pos, const ByteSource& src) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (pos >= size) fail(src, pos, "varint truncated");
    uint8_t b = p[pos++];
    v |= uint64_t{static_cast<uint8_t>(b & 0x7f)} << shift;
    if ((b & 0x80) == 0) return v;
  }
  fail(src, pos, "varint longer than 10 bytes");
}

int64_t zigzag(uint64_t v) { return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1); }

void plain(int32_t type, const uint8_t* data, int64_t size, int64_t count, Values& out,
           const ByteSource& src) {
  if (type == kBoolean) {
    if ((count + 7) / 8 > size) {
      fail(src, 0, fmt::format("{} PLAIN booleans need {} bytes, page has {}", count, (count + 7) / 8, size));
    }
    size_t at = out.data.size();
    out.data.resize(at + static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i) out.data[at + i] = (data[i >> 3] >> (i & 7)) & 1;
    return;
  }
  if (type == kByteArray) {
    int64_t pos = 0;
    out.offsets.reserve(out.offsets.size() + static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i) {
      if (size - pos < 4) fail(src, pos, fmt::format("length of value {} of {}, page ends", i, count));
      uint32_t len;
      std::memcpy(&len, data + pos, 4);
      pos += 4;
      if (len > static_cast<uint64_t>(size - pos)) {
        fail(src, pos, fmt::format("value {} of {} bytes, only {} left", i, len, size - pos));
      }
      out.data.insert(out.data.end(), data + pos, data + pos + len);
      out.offsets.push_back(static_cast<int64_t>(out.data.size()));
      pos += len;
    }
    return;
  }
  const int64_t w = out.width;
  if (count > size / w) {
    fail(src, 0, fmt::format("{} PLAIN values of {} bytes need {} bytes, page has {}", count, w, count * w, size));
  }
  out.data.insert(out.data.end(), data, data + count * w);
}

void dictionary(const uint8_t* data, int64_t size, int64_t count, const Values* dict, Values& out,
                const ByteSource& src) {
  if (dict == nullptr) fail(src, 0, "dictionary-encoded page but the column chunk has no dictionary page");
  if (count == 0) return;
  if (size < 1) fail(src, 0, "dictionary index bit width byte missing");
  int bw = data[0];
  if (bw > 32) fail(src, 0, fmt::format("dictionary index bit width <= 32, found {}", bw));
  RleDecoder dec(data + 1, size - 1, bw, src);
  std::vector<uint32_t> idx(static_cast<size_t>(std::min<int64_t>(count, 8192)));
  const int64_t n_dict = dict->count();
  for (int64_t done = 0; done < count;) {
    int64_t k = std::min<int64_t>(count - done, static_cast<int64_t>(idx.size()));
    dec.get(idx.data(), k);
    for (int64_t i = 0; i < k; ++i) {
      if (idx[i] >= n_dict) {
        fail(src, -1, fmt::format("dictionary index < {}, found {} (value {})", n_dict, idx[i], done + i));
      }
    }
    if (out.width > 0) {
      const size_t w = static_cast<size_t>(out.width);
      size_t at = out.data.size();
      out.data.resize(at + static_cast<size_t>(k) * w);
      uint8_t* dst = out.data.data() + at;
      const uint8_t* base = dict->data.data();
      if (w == 4) {
        for (int64_t i = 0; i < k; ++i) std::memcpy(dst + i * 4, base + size_t{idx[i]} * 4, 4);
      } else if (w == 8) {
        for (int64_t i = 0; i < k; ++i) std::memcpy(dst + i * 8, base + size_t{idx[i]} * 8, 8);
      } else {
        for (int64_t i = 0; i < k; ++i) std::memcpy(dst + i * w, base + idx[i] * w, w);
      }
    } else {
      for (int64_t i = 0; i < k; ++i) {
        int64_t b = dict->offsets[idx[i]], e = dict->offsets[idx[i] + 1];
        out.data.insert(out.data.end(), dict->data.begin() + b, dict->data.begin() + e);
        out.offsets.push_back(static_cast<int64_t>(out.data.size()));
      }
    }
    done += k;
  }
}

void delta_length(const uint8_t* data, int64_t size, int64_t count, Values& out,
                  const ByteSource& src, int64_t* consumed) {
  std::vector<int64_t> lens;
  int64_t pos = decode_delta_binary(data, size, count, true, lens, src);
  for (int64_t i = 0; i < count; ++i) {
    int64_t len = lens[i];
    if (len < 0 || len > size - pos) {
      fail(src, pos, fmt::format("value {} of length {}, {} bytes left", i, len, size - pos));
    }
    out.data.insert(out.data.end(), data + pos, data + pos + len);
    out.offsets.push_back(static_cast<int64_t>(out.data.size()));
    pos += len;
  }
  if (consumed) *consumed = pos;
}

void delta_byte_array(int32_t type, const uint8_t* data, int64_t size, int64_t count, Values& out,
                      const ByteSource& src) {
  std::vector<int64_t> prefix;
  int64_t pos = decode_delta_binary(data, size, count, true, prefix, src);
  Values suffix;
  delta_length(data + pos, size - pos, count, suffix, src, nullptr);
  std::vector<uint8_t> prev;
  std::vector<uint8_t> cur;
  for (int64_t i = 0; i < count; ++i) {
    int64_t p = prefix[i];
    if (p < 0 || p > static_cast<int64_t>(prev.size())) {
      fail(src, -1, fmt::format("value {}: prefix length 0..{}, found {}", i, prev.size(), p));
    }
    cur.assign(prev.begin(), prev.begin() + p);
    cur.insert(cur.end(), suffix.data.begin() + suffix.offsets[i], suffix.data.begin() + suffix.offsets[i + 1]);
    if (type == kFixedLenByteArray) {
      if (static_cast<int64_t>(cur.size()) != out.width) {
        fail(src, -1, fmt::format("value {} of {} bytes, found {}", i, out.width, cur.size()));
      }
      out.data.insert(out.data.end(), cur.begin(), cur.end());
    } else {
      out.data.insert(out.data.end(), cur.begin(), cur.end());
      out.offsets.push_back(static_cast<int64_t>(out.data.size()));
    }
    prev.swap(cur);
  }
}

}  // namespace

int value_width(int32_t type, int32_t type_length) noexcept {
  switch (type) {
    case kBoolean: return 1;
    case kInt32:
    case kFloat: return 4;
    case kInt64:
    case kDouble: return 8;
    case kInt96: return 12;
    case kFixedLenByteArray: return type_length;
    default: return 0;
  }
}

int64_t decode_delta_binary(const uint8_t* data, int64_t size, int64_t count, bool is32,
                            std::vector<int64_t>& out, const ByteSource& src) {
  int64_t pos = 0;
  uint64_t block = uvarint(data, size, pos, src);
  uint64_t minis = uvarint(data, size, pos, src);
  uint64_t total = uvarint(data, size, pos, src);
  int64_t first = zigzag(uvarint(data, size, pos, src));
  if (block == 0 || block % 128 != 0 || block > (1u << 20) || minis == 0 || block % minis != 0 ||
      (block / minis) % 32 != 0) {
    fail(src, 0, fmt::format("DELTA_BINARY_PACKED block size a multiple of 128 split into "
                             "miniblocks of a multiple of 32, found {} / {}", block, minis));
  }
  if (total != static_cast<uint64_t>(count)) {
    fail(src, 0, fmt::format("DELTA_BINARY_PACKED header of {} values, the page needs {}", total, count));
  }
  out.clear();
  if (count == 0) return pos;
  out.reserve(static_cast<size_t>(count));
  const int64_t per_mini = static_cast<int64_t>(block / minis);
  const int max_bw = is32 ? 32 : 64;
  uint64_t cur = static_cast<uint64_t>(first);
  out.push_back(is32 ? static_cast<int32_t>(cur) : static_cast<int64_t>(cur));
  while (static_cast<int64_t>(out.size()) < count) {
    uint64_t min_delta = static_cast<uint64_t>(zigzag(uvarint(data, size, pos, src)));
    if (size - pos < static_cast<int64_t>(minis)) fail(src, pos, "miniblock bit widths truncated");
    const uint8_t* widths = data + pos;
    pos += static_cast<int64_t>(minis);
    for (uint64_t m = 0; m < minis && static_cast<int64_t>(out.size()) < count; ++m) {
      int bw = widths[m];
      if (bw > max_bw) fail(src, pos, fmt::format("miniblock bit width <= {}, found {}", max_bw, bw));
      int64_t need = std::min<int64_t>(per_mini, count - static_cast<int64_t>(out.size()));
      int64_t full = per_mini * bw / 8;
      int64_t used = (need * bw + 7) / 8;
      if (used > size - pos) {
        fail(src, pos, fmt::format("miniblock of {} bytes, {} left", used, size - pos));
      }
      const int64_t avail = std::min(full, size - pos);
      for (int64_t i = 0; i < need; ++i) {
        uint64_t d = read_bits(data + pos, avail, i * bw, bw);
        cur += min_delta + d;
        if (is32) cur = static_cast<uint32_t>(cur);
        out.push_back(is32 ? static_cast<int32_t>(static_cast<uint32_t>(cur)) : static_cast<int64_t>(cur));
      }
      pos += avail;
    }
  }
  return pos;
}

void decode_values(int32_t type, int32_t encoding, const uint8_t* data, int64_t size,
                   int64_t count, const Values* dict, Values& out, const ByteSource& src) {
  auto wrong = [&]() {
    fail(src, 0, fmt::format("encoding {} does not apply to {}", encoding_name(encoding),
                             physical_type_name(type)));
  };
  switch (encoding) {
    case kPlain:
      plain(type, data, size, count, out, src);
      return;
    case kPlainDictionary:
    case kRleDictionary:
      dictionary(data, size, count, dict, out, src);
      return;
    case kRle: {
      if (type != kBoolean) wrong();
      if (size < 4) fail(src, 0, "RLE booleans: 4-byte length prefix missing");
      uint32_t len;
      std::memcpy(&len, data, 4);
      if (len > static_cast<uint64_t>(size - 4)) fail(src, 0, fmt::format("RLE booleans: {} bytes, {} left", len, size - 4));
      RleDecoder dec(data + 4, len, 1, src);
      std::vector<uint32_t> v(static_cast<size_t>(count));
      dec.get(v.data(), count);
      for (uint32_t b : v) out.data.push_back(static_cast<uint8_t>(b));
      return;
    }
    case kDeltaBinaryPacked: {
      if (type != kInt32 && type != kInt64) wrong();
      std::vector<int64_t> v;
      decode_delta_binary(data, size, count, type == kInt32, v, src);
      for (int64_t x : v) {
        if (type == kInt32) {
          int32_t y = static_cast<int32_t>(x);
          out.data.insert(out.data.end(), reinterpret_cast<uint8_t*>(&y), reinterpret_cast<uint8_t*>(&y) + 4);
        } else {
          out.data.insert(out.data.end(), reinterpret_cast<uint8_t*>(&x), reinterpret_cast<uint8_t*>(&x) + 8);
        }
      }
      return;
    }
    case kDeltaLengthByteArray:
      if (type != kByteArray) wrong();
      delta_length(data, size, count, out, src, nullptr);
      return;
    case kDeltaByteArray:
      if (type != kByteArray && type != kFixedLenByteArray) wrong();
      delta_byte_array(type, data, size, count, out, src);
      return;
    case kByteStreamSplit: {
      if (type == kBoolean || type == kByteArray || out.width <= 0) wrong();
      const int64_t w = out.width;
      if (count > size / w) fail(src, 0, fmt::format("{} values of {} bytes, page has {}", count, w, size));
      size_t at = out.data.size();
      out.data.resize(at + static_cast<size_t>(count * w));
      for (int64_t i = 0; i < count; ++i) {
        for (int64_t k = 0; k < w; ++k) out.data[at + i * w + k] = data[k * count + i];
      }
      return;
    }
    default:
      fail(src, 0, fmt::format("value encoding {} ({}) not supported", encoding, encoding_name(encoding)));
  }
}

}  // namespace mouse::parquet::detail
