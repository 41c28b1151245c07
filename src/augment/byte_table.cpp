#include "augment/byte_table.hpp"

#include <bit>
#include <cstring>

#include "core/cpu_features.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define MOUSE_BYTE_TABLE_AVX2 1
#endif

namespace mouse::detail::augment {

namespace {

#ifdef MOUSE_BYTE_TABLE_AVX2

// vpshufb looks a byte up in a 16-entry table (per 128-bit half) by its low four bits, and gives
// 0 where the index byte's top bit is set. Bytes below 128 walk the eight lower tables and the
// others (top bit flipped) the eight upper ones: at step k the index is the byte minus 16 k with
// signed saturation, so it is >= 0 (a lookup) exactly while k <= byte / 16 and stays negative
// (0) after. Each step's table holds table k XOR table k - 1, so the XOR of the lookups a byte
// gets telescopes to its own table's entry.
struct Steps {
  __m256i step[16];
};

__attribute__((target("avx2"))) Steps load_steps(const uint8_t (&steps)[16][16]) noexcept {
  Steps s;
  for (int k = 0; k < 16; ++k) {
    s.step[k] = _mm256_broadcastsi128_si256(
        _mm_load_si128(reinterpret_cast<const __m128i*>(steps[k])));
  }
  return s;
}

// The table entry of each of the 32 bytes of v.
__attribute__((target("avx2"))) inline __m256i lookup32(__m256i v, const Steps& s) noexcept {
  const __m256i sixteen = _mm256_set1_epi8(16);
  __m256i low = v;
  __m256i high = _mm256_xor_si256(v, _mm256_set1_epi8(static_cast<char>(0x80)));
  __m256i r = _mm256_setzero_si256();
  for (int k = 0; k < 8; ++k) {
    r = _mm256_xor_si256(r, _mm256_shuffle_epi8(s.step[k], low));
    r = _mm256_xor_si256(r, _mm256_shuffle_epi8(s.step[k + 8], high));
    low = _mm256_subs_epi8(low, sixteen);
    high = _mm256_subs_epi8(high, sixteen);
  }
  return r;
}

__attribute__((target("avx2"))) int64_t apply_avx2(const uint8_t* src, uint8_t* dst,
                                                   int64_t count,
                                                   const uint8_t (&steps)[16][16]) noexcept {
  const Steps s = load_steps(steps);
  int64_t i = 0;
  for (; count - i >= 32; i += 32) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), lookup32(v, s));
  }
  return i;
}

// 32 int64 values at a time, while all 32 are in [0, 255]: their low bytes packed into one
// register (64-bit lane j, byte m: value 4 m + j), looked up, and spread back.
__attribute__((target("avx2"))) int64_t apply_int64_avx2(const int64_t* src, int64_t* dst,
                                                         int64_t count,
                                                         const uint8_t (&steps)[16][16]) noexcept {
  const Steps s = load_steps(steps);
  const __m256i above = _mm256_set1_epi64x(~int64_t{0xFF});
  const __m256i byte = _mm256_set1_epi64x(0xFF);
  int64_t i = 0;
  for (; count - i >= 32; i += 32) {
    __m256i v[8];
    __m256i any = _mm256_setzero_si256();
    for (int m = 0; m < 8; ++m) {
      v[m] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i + 4 * m));
      any = _mm256_or_si256(any, v[m]);
    }
    if (!_mm256_testz_si256(any, above)) break;  // a value outside [0, 255]: the caller's
    __m256i packed = v[0];
    for (int m = 1; m < 8; ++m) {
      packed = _mm256_or_si256(packed, _mm256_slli_epi64(v[m], 8 * m));
    }
    const __m256i r = lookup32(packed, s);
    for (int m = 0; m < 8; ++m) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i + 4 * m),
                          _mm256_and_si256(_mm256_srli_epi64(r, 8 * m), byte));
    }
  }
  return i;
}

#endif

}  // namespace

ByteTable::ByteTable(const uint8_t (&table)[256]) noexcept {
  std::memcpy(table_, table, sizeof table_);
  for (int k = 0; k < 16; ++k) {
    for (int j = 0; j < 16; ++j) {
      const uint8_t previous = k % 8 == 0 ? 0 : table[16 * (k - 1) + j];
      steps_[k][j] = static_cast<uint8_t>(table[16 * k + j] ^ previous);
    }
  }
}

void ByteTable::apply_portable(const uint8_t* src, uint8_t* dst, int64_t count) const noexcept {
  // Eight looked-up bytes per store: byte stores run at one per cycle at best, and every store
  // can stall the table loads behind it.
  int64_t i = 0;
  for (; count - i >= 8; i += 8) {
    uint64_t eight = 0;
    for (int k = 0; k < 8; ++k) {
      constexpr bool kLittle = std::endian::native == std::endian::little;
      eight |= uint64_t{table_[src[i + k]]} << (kLittle ? 8 * k : 56 - 8 * k);
    }
    std::memcpy(dst + i, &eight, sizeof eight);
  }
  for (; i < count; ++i) dst[i] = table_[src[i]];
}

int64_t ByteTable::apply_in_range(const int64_t* src, int64_t* dst,
                                  int64_t count) const noexcept {
#ifdef MOUSE_BYTE_TABLE_AVX2
  if (cpu_has_avx2()) return apply_int64_avx2(src, dst, count, steps_);
#endif
  (void)src;
  (void)dst;
  (void)count;
  return 0;
}

void ByteTable::apply(const uint8_t* src, uint8_t* dst, int64_t count) const noexcept {
#ifdef MOUSE_BYTE_TABLE_AVX2
  if (cpu_has_avx2()) {
    const int64_t done = apply_avx2(src, dst, count, steps_);
    src += done;
    dst += done;
    count -= done;
  }
#endif
  apply_portable(src, dst, count);
}

}  // namespace mouse::detail::augment
