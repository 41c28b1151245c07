// Plain PNGs through libdeflate. The checks mirror what libpng would refuse so that a file the
// fast path decodes is one libpng decodes to the same pixels; everything else is declined and
// goes to libpng (image_codec.cpp).
#include "store/png_fast.hpp"

#include <libdeflate.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <cstring>
#include <memory>
#include <vector>

#include "store/image_codec.hpp"

namespace mouse::detail {

namespace {

// libpng's default user limits (PNG_USER_WIDTH_MAX / PNG_USER_HEIGHT_MAX); a larger side is
// libpng's to refuse.
constexpr uint32_t kMaxSide = 1'000'000;
// DEFLATE codes a 258-byte match in 2 bits at best, so no stream expands more than 1032 times.
constexpr uint64_t kMaxInflateRatio = 1032;
// Scratch buffers above this are freed after use rather than kept for the thread's next image.
constexpr size_t kKeepScratchBytes = size_t{16} << 20;

uint32_t be32(const uint8_t* p) noexcept {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

bool is_letter(uint8_t c) noexcept { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

bool crc_ok(const uint8_t* chunk, uint32_t length) noexcept {
  // The CRC covers the type and the data: from chunk + 4 for length + 4 bytes.
  return libdeflate_crc32(0, chunk + 4, size_t{length} + 4) == be32(chunk + 8 + length);
}

// Per-thread decoder state: the decompressor (about 10 KB of tables, built once per thread) and
// the buffers for split IDAT data and the filtered scanlines.
struct InflateState {
  struct FreeDecompressor {
    void operator()(libdeflate_decompressor* d) const noexcept { libdeflate_free_decompressor(d); }
  };
  std::unique_ptr<libdeflate_decompressor, FreeDecompressor> decompressor;
  std::vector<uint8_t> idat;
  std::vector<uint8_t> filtered;
};

InflateState& inflate_state() {
  thread_local InflateState state;
  if (!state.decompressor) {
    state.decompressor.reset(libdeflate_alloc_decompressor());
    if (!state.decompressor) throw std::bad_alloc();
  }
  return state;
}

uint8_t* scratch(std::vector<uint8_t>& buf, size_t n) {
  if (buf.size() < n) buf.resize(n);
  return buf.data();
}

void trim(std::vector<uint8_t>& buf) {
  if (buf.capacity() > kKeepScratchBytes) std::vector<uint8_t>().swap(buf);
}

// The Paeth predictor of the PNG specification, §9.4.
inline uint8_t paeth(int a, int b, int c) noexcept {
  const int pa = b > c ? b - c : c - b;
  const int pb = a > c ? a - c : c - a;
  const int pc = (a + b - 2 * c) < 0 ? -(a + b - 2 * c) : (a + b - 2 * c);
  if (pa <= pb && pa <= pc) return static_cast<uint8_t>(a);
  return static_cast<uint8_t>(pb <= pc ? b : c);
}

#if defined(__SSE2__)
// Paeth for 3- and 4-byte pixels, one pixel per step in 16-bit lanes: the pixels depend on each
// other through `a`, so the gain is doing a pixel's channels in one instruction each (the
// scalar loop runs out of registers). Same arithmetic as paeth() above, so the same bytes.
template <int Bpp>
void paeth_row_sse2(const uint8_t* in, const uint8_t* prev, uint8_t* out, size_t n) noexcept {
  const __m128i zero = _mm_setzero_si128();
  const __m128i low_byte = _mm_set1_epi16(0xff);
  // Three bytes are gathered in a register: a 3-byte memcpy into a word goes through the stack
  // and stalls on store forwarding every pixel.
  auto load = [&](const uint8_t* p) {
    uint32_t v;
    if constexpr (Bpp == 4) {
      std::memcpy(&v, p, 4);
    } else {
      v = uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16);
    }
    return _mm_unpacklo_epi8(_mm_cvtsi32_si128(static_cast<int>(v)), zero);
  };
  auto abs16 = [&](__m128i x) { return _mm_max_epi16(x, _mm_sub_epi16(zero, x)); };
  __m128i a = zero, c = zero;
  for (size_t i = 0; i < n; i += Bpp) {
    const __m128i b = load(prev + i);
    const __m128i p = _mm_sub_epi16(b, c);
    const __m128i q = _mm_sub_epi16(a, c);
    const __m128i pa = abs16(p), pb = abs16(q), pc = abs16(_mm_add_epi16(p, q));
    const __m128i least = _mm_min_epi16(_mm_min_epi16(pa, pb), pc);
    const __m128i pick_a = _mm_cmpeq_epi16(least, pa);  // pa <= pb && pa <= pc
    const __m128i pick_b = _mm_cmpeq_epi16(least, pb);  // else pb <= pc
    __m128i pred = _mm_or_si128(_mm_and_si128(pick_b, b), _mm_andnot_si128(pick_b, c));
    pred = _mm_or_si128(_mm_and_si128(pick_a, a), _mm_andnot_si128(pick_a, pred));
    a = _mm_and_si128(_mm_add_epi16(pred, load(in + i)), low_byte);
    const uint32_t v = static_cast<uint32_t>(_mm_cvtsi128_si32(_mm_packus_epi16(a, a)));
    if constexpr (Bpp == 4) {
      std::memcpy(out + i, &v, 4);
    } else {
      out[i] = static_cast<uint8_t>(v);
      out[i + 1] = static_cast<uint8_t>(v >> 8);
      out[i + 2] = static_cast<uint8_t>(v >> 16);
    }
    c = b;
  }
}
#endif

// Reverses one scanline's filter: `in` holds the filtered bytes, `prev` the previous
// reconstructed row (nullptr for the first row, which the specification treats as zeros).
// Returns false for an unknown filter type.
template <int Bpp>
bool unfilter_row(uint8_t filter, const uint8_t* in, const uint8_t* prev, uint8_t* out,
                  size_t n) noexcept {
  switch (filter) {
    case 0:
      std::memcpy(out, in, n);
      return true;
    case 1:
      for (size_t i = 0; i < Bpp; ++i) out[i] = in[i];
      for (size_t i = Bpp; i < n; ++i) out[i] = static_cast<uint8_t>(in[i] + out[i - Bpp]);
      return true;
    case 2:
      if (prev == nullptr) {
        std::memcpy(out, in, n);
      } else {
        for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(in[i] + prev[i]);
      }
      return true;
    case 3:
      if (prev == nullptr) {
        for (size_t i = 0; i < Bpp; ++i) out[i] = in[i];
        for (size_t i = Bpp; i < n; ++i) out[i] = static_cast<uint8_t>(in[i] + (out[i - Bpp] >> 1));
      } else {
        for (size_t i = 0; i < Bpp; ++i) out[i] = static_cast<uint8_t>(in[i] + (prev[i] >> 1));
        for (size_t i = Bpp; i < n; ++i) {
          out[i] = static_cast<uint8_t>(in[i] + ((out[i - Bpp] + prev[i]) >> 1));
        }
      }
      return true;
    case 4:
      if (prev == nullptr) {  // b = c = 0: the predictor is a, as for Sub
        return unfilter_row<Bpp>(1, in, nullptr, out, n);
      }
#if defined(__SSE2__)
      if constexpr (Bpp >= 3) {
        paeth_row_sse2<Bpp>(in, prev, out, n);
        return true;
      }
#endif
      for (size_t i = 0; i < Bpp; ++i) out[i] = static_cast<uint8_t>(in[i] + prev[i]);
      for (size_t i = Bpp; i < n; ++i) {
        out[i] = static_cast<uint8_t>(in[i] + paeth(out[i - Bpp], prev[i], prev[i - Bpp]));
      }
      return true;
    default:
      return false;
  }
}

template <int Bpp>
bool unfilter_image(const uint8_t* filtered, int64_t height, size_t row_bytes,
                    uint8_t* out) noexcept {
  const uint8_t* prev = nullptr;
  for (int64_t y = 0; y < height; ++y) {
    const uint8_t* in = filtered + static_cast<size_t>(y) * (row_bytes + 1);
    uint8_t* row = out + static_cast<size_t>(y) * row_bytes;
    if (!unfilter_row<Bpp>(in[0], in + 1, prev, row, row_bytes)) return false;
    prev = row;
  }
  return true;
}

}  // namespace

std::optional<PlainPng> probe_plain_png(std::string_view bytes) noexcept {
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  const size_t size = bytes.size();
  PlainPng png;
  if (size < 8) return std::nullopt;
  size_t pos = 8;
  bool seen_ihdr = false;
  bool in_idat_run = false;
  while (true) {
    if (size - pos < 12) return std::nullopt;  // truncated: libpng's to report
    const uint32_t length = be32(p + pos);
    if (length > 0x7fffffffu || size - pos - 12 < length) return std::nullopt;
    const uint8_t* type = p + pos + 4;
    if (!is_letter(type[0]) || !is_letter(type[1]) || !is_letter(type[2]) || !is_letter(type[3])) {
      return std::nullopt;
    }
    const bool critical = type[0] >= 'A' && type[0] <= 'Z';
    if (critical && !crc_ok(p + pos, length)) return std::nullopt;
    const std::string_view name(reinterpret_cast<const char*>(type), 4);
    if (!seen_ihdr) {
      if (name != "IHDR" || length != 13) return std::nullopt;
      const uint8_t* h = p + pos + 8;
      const uint32_t width = be32(h);
      const uint32_t height = be32(h + 4);
      const uint8_t depth = h[8], colour = h[9], compression = h[10], filter = h[11],
                    interlace = h[12];
      static constexpr int kChannels[7] = {1, 0, 3, 0, 2, 0, 4};
      if (width == 0 || height == 0 || width > kMaxSide || height > kMaxSide || depth != 8 ||
          colour > 6 || kChannels[colour] == 0 || compression != 0 || filter != 0 ||
          interlace != 0) {
        return std::nullopt;
      }
      if (uint64_t{width} * height > static_cast<uint64_t>(kMaxImagePixels)) return std::nullopt;
      png.width = width;
      png.height = height;
      png.channels = kChannels[colour];
      seen_ihdr = true;
    } else if (name == "IDAT") {
      if (png.idat_chunks == 0) {
        png.first_idat = pos;
      } else if (!in_idat_run) {
        return std::nullopt;  // IDAT chunks split by another chunk
      }
      ++png.idat_chunks;
      png.idat_bytes += length;
      in_idat_run = true;
      pos += 12 + size_t{length};
      continue;
    } else if (name == "IEND") {
      if (length != 0 || png.idat_chunks == 0) return std::nullopt;
      const uint64_t filtered =
          static_cast<uint64_t>(png.height) * (static_cast<uint64_t>(png.width * png.channels) + 1);
      // Data that cannot inflate to the image is libpng's to report; refusing it here keeps a
      // small hostile file from making the fast path allocate gigabytes first.
      if (filtered > static_cast<uint64_t>(png.idat_bytes) * kMaxInflateRatio + 4096) {
        return std::nullopt;
      }
      return png;
    } else if (critical) {
      return std::nullopt;  // PLTE, a second IHDR or an unknown critical chunk
    } else if (name == "tRNS") {
      return std::nullopt;  // transparency becomes an alpha channel: libpng's job
    }
    in_idat_run = false;
    pos += 12 + size_t{length};
  }
}

bool decode_plain_png(std::string_view bytes, const PlainPng& png, uint8_t* out) {
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  InflateState& state = inflate_state();
  const size_t row_bytes = static_cast<size_t>(png.width * png.channels);
  const size_t filtered_bytes = static_cast<size_t>(png.height) * (row_bytes + 1);

  // One IDAT chunk (what Pillow and libpng write for small images) is inflated in place; split
  // data is gathered first, since libdeflate takes the whole stream at once.
  const uint8_t* zdata = p + png.first_idat + 8;
  if (png.idat_chunks > 1) {
    uint8_t* joined = scratch(state.idat, png.idat_bytes);
    size_t pos = png.first_idat, at = 0;
    for (size_t k = 0; k < png.idat_chunks; ++k) {
      const uint32_t length = be32(p + pos);
      std::memcpy(joined + at, p + pos + 8, length);
      at += length;
      pos += 12 + size_t{length};
    }
    zdata = joined;
  }
  uint8_t* filtered = scratch(state.filtered, filtered_bytes);
  size_t consumed = 0;
  const libdeflate_result r =
      libdeflate_zlib_decompress_ex(state.decompressor.get(), zdata, png.idat_bytes, filtered,
                                    filtered_bytes, &consumed, nullptr);
  bool ok = r == LIBDEFLATE_SUCCESS && consumed == png.idat_bytes;
  if (ok) {
    switch (png.channels) {
      case 1: ok = unfilter_image<1>(filtered, png.height, row_bytes, out); break;
      case 2: ok = unfilter_image<2>(filtered, png.height, row_bytes, out); break;
      case 3: ok = unfilter_image<3>(filtered, png.height, row_bytes, out); break;
      default: ok = unfilter_image<4>(filtered, png.height, row_bytes, out); break;
    }
  }
  trim(state.idat);
  trim(state.filtered);
  return ok;
}

}  // namespace mouse::detail
