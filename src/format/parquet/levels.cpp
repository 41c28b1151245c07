// RLE / bit-packed hybrid. Runs are validated against the bytes present before any value is
// produced; a final bit-packed run shorter than its header promises (some writers drop the
// padding of the last group) yields only the values whose bits are present.
#include "format/parquet/levels.hpp"

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
}  // namespace

int bit_width_for(uint64_t max_value) noexcept {
  int w = 0;
  while (w < 64 && (max_value >> w) != 0) ++w;
  return w;
}

uint64_t read_bits(const uint8_t* p, int64_t size, int64_t bit, int bit_width) noexcept {
  if (bit_width == 0) return 0;
  int64_t byte = bit >> 3;
  int shift = static_cast<int>(bit & 7);
  uint64_t v = 0;
  int64_t avail = std::min<int64_t>(8, size - byte);
  if (avail == 8) {
    std::memcpy(&v, p + byte, 8);
  } else {
    for (int64_t k = 0; k < avail; ++k) v |= uint64_t{p[byte + k]} << (8 * k);
  }
  v >>= shift;
  if (shift + bit_width > 64) v |= uint64_t{p[byte + 8]} << (64 - shift);
  return bit_width == 64 ? v : v & ((uint64_t{1} << bit_width) - 1);
}

RleDecoder::RleDecoder(const uint8_t* data, int64_t size, int bit_width, ByteSource src)
    : data_(data), size_(size), bit_width_(bit_width), src_(src) {
  if (bit_width < 0 || bit_width > 32) fail(src_, 0, fmt::format("bit width 0..32, found {}", bit_width));
}

bool RleDecoder::next_run() {
  if (pos_ >= size_) return false;
  uint64_t h = 0;
  int shift = 0;
  while (true) {
    if (pos_ >= size_) fail(src_, pos_, "run header truncated");
    uint8_t b = data_[pos_++];
    if (shift < 64) h |= uint64_t{static_cast<uint8_t>(b & 0x7f)} << shift;
    if ((b & 0x80) == 0) break;
    shift += 7;
    if (shift > 63) fail(src_, pos_, "run header varint too long");
  }
  if (h & 1) {
    uint64_t groups = h >> 1;
    if (groups > static_cast<uint64_t>(INT32_MAX)) fail(src_, pos_, fmt::format("{} bit-packed groups", groups));
    int64_t bytes = static_cast<int64_t>(groups) * bit_width_;
    int64_t have = std::min<int64_t>(bytes, size_ - pos_);
    packed_ = data_ + pos_;
    packed_size_ = have;
    packed_bit_ = 0;
    packed_left_ = bit_width_ == 0 ? static_cast<int64_t>(groups) * 8 : have * 8 / bit_width_;
    packed_left_ = std::min<int64_t>(packed_left_, static_cast<int64_t>(groups) * 8);
    pos_ += have;
  } else {
    int nbytes = (bit_width_ + 7) / 8;
    if (size_ - pos_ < nbytes) fail(src_, pos_, fmt::format("RLE run value of {} bytes, found {}", nbytes, size_ - pos_));
    uint32_t v = 0;
    for (int k = 0; k < nbytes; ++k) v |= uint32_t{data_[pos_ + k]} << (8 * k);
    pos_ += nbytes;
    if (bit_width_ < 32 && (v >> bit_width_) != 0) {
      fail(src_, pos_, fmt::format("RLE run value < 2^{}, found {}", bit_width_, v));
    }
    rle_value_ = v;
    rle_left_ = static_cast<int64_t>(h >> 1);
  }
  return true;
}

void RleDecoder::get(uint32_t* out, int64_t count) {
  int64_t done = 0;
  while (done < count) {
    if (rle_left_ > 0) {
      int64_t n = std::min(rle_left_, count - done);
      std::fill(out + done, out + done + n, rle_value_);
      rle_left_ -= n;
      done += n;
    } else if (packed_left_ > 0) {
      int64_t n = std::min(packed_left_, count - done);
      const uint64_t mask = (uint64_t{1} << bit_width_) - 1;
      int64_t i = 0;
      // Fast path: a whole 8-byte load is in bounds (bit_width <= 32, so shift + width <= 39).
      for (; i < n && (packed_bit_ >> 3) + 8 <= packed_size_; ++i) {
        uint64_t w;
        std::memcpy(&w, packed_ + (packed_bit_ >> 3), 8);
        out[done + i] = static_cast<uint32_t>((w >> (packed_bit_ & 7)) & mask);
        packed_bit_ += bit_width_;
      }
      for (; i < n; ++i) {
        out[done + i] = static_cast<uint32_t>(read_bits(packed_, packed_size_, packed_bit_, bit_width_));
        packed_bit_ += bit_width_;
      }
      packed_left_ -= n;
      done += n;
    } else if (!next_run()) {
      fail(src_, pos_, fmt::format("expected {} values, the data ends after {}", count, done));
    }
  }
}

int64_t decode_levels(int32_t encoding, const uint8_t* data, int64_t size, int max_level,
                      int64_t count, bool length_prefixed, int16_t* out, ByteSource src) {
  if (max_level == 0) {
    std::fill(out, out + count, int16_t{0});
    return 0;
  }
  const int bw = bit_width_for(static_cast<uint64_t>(max_level));
  int64_t used = 0;
  if (encoding == kRle) {
    const uint8_t* p = data;
    int64_t n = size;
    if (length_prefixed) {
      if (size < 4) fail(src, 0, fmt::format("4-byte length prefix, found {} bytes", size));
      uint32_t len;
      std::memcpy(&len, data, 4);
      if (len > static_cast<uint64_t>(size - 4)) {
        fail(src, 0, fmt::format("{} bytes of levels, only {} left", len, size - 4));
      }
      p += 4;
      n = len;
      used = 4 + static_cast<int64_t>(len);
    } else {
      used = size;
    }
    RleDecoder dec(p, n, bw, src);
    std::vector<uint32_t> tmp(static_cast<size_t>(std::min<int64_t>(count, 4096)));
    for (int64_t done = 0; done < count;) {
      int64_t k = std::min<int64_t>(count - done, static_cast<int64_t>(tmp.size()));
      dec.get(tmp.data(), k);
      for (int64_t i = 0; i < k; ++i) {
        if (tmp[i] > static_cast<uint32_t>(max_level)) {
          fail(src, -1, fmt::format("level <= {}, found {} at entry {}", max_level, tmp[i], done + i));
        }
        out[done + i] = static_cast<int16_t>(tmp[i]);
      }
      done += k;
    }
    return used;
  }
  if (encoding == kBitPacked) {
    // Deprecated: MSB-first bit packing, no length prefix.
    int64_t bytes = (count * bw + 7) / 8;
    if (bytes > size) fail(src, 0, fmt::format("{} bytes of BIT_PACKED levels, found {}", bytes, size));
    for (int64_t i = 0; i < count; ++i) {
      uint32_t v = 0;
      for (int b = 0; b < bw; ++b) {
        int64_t bit = i * bw + b;
        v = (v << 1) | ((data[bit >> 3] >> (7 - (bit & 7))) & 1);
      }
      if (v > static_cast<uint32_t>(max_level)) fail(src, -1, fmt::format("level <= {}, found {}", max_level, v));
      out[i] = static_cast<int16_t>(v);
    }
    return bytes;
  }
  fail(src, 0, fmt::format("level encoding RLE or BIT_PACKED, found {}", encoding_name(encoding)));
}

void rle_encode(const uint32_t* values, int64_t count, int bit_width, std::vector<uint8_t>& out) {
  auto varint = [&](uint64_t v) {
    while (v >= 0x80) {
      out.push_back(static_cast<uint8_t>(v | 0x80));
      v >>= 7;
    }
    out.push_back(static_cast<uint8_t>(v));
  };
  std::vector<uint32_t> lit;
  auto flush_literals = [&]() {
    if (lit.empty()) return;
    while (lit.size() % 8 != 0) lit.push_back(0);
    varint(((lit.size() / 8) << 1) | 1);
    size_t start = out.size();
    out.resize(start + lit.size() / 8 * static_cast<size_t>(bit_width), 0);
    uint64_t bit = 0;
    for (uint32_t v : lit) {
      for (int b = 0; b < bit_width; ++b, ++bit) {
        if ((v >> b) & 1) out[start + bit / 8] |= static_cast<uint8_t>(1u << (bit % 8));
      }
    }
    lit.clear();
  };
  const int nbytes = (bit_width + 7) / 8;
  int64_t i = 0;
  while (i < count) {
    int64_t run = 1;
    while (i + run < count && values[i + run] == values[i]) ++run;
    if (run >= 8 && lit.size() % 8 == 0) {
      flush_literals();
      varint(static_cast<uint64_t>(run) << 1);
      for (int k = 0; k < nbytes; ++k) out.push_back(static_cast<uint8_t>(values[i] >> (8 * k)));
      i += run;
    } else if (run >= 8) {
      int64_t take = 8 - static_cast<int64_t>(lit.size() % 8);
      lit.insert(lit.end(), values + i, values + i + take);
      i += take;
    } else {
      lit.insert(lit.end(), values + i, values + i + run);
      i += run;
    }
  }
  flush_literals();
}

}  // namespace mouse::parquet::detail
