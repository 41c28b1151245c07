// philox_blocks: many Philox4x32-10 blocks at once. Masks and snapshot permutations draw a few
// hundred blocks per field and call, so this loop is most of what drawing them costs.
#include "core/rng.hpp"

#include "core/cpu_features.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define MOUSE_PHILOX_AVX2 1
#endif

namespace mouse::detail {

namespace {

// Eight blocks per pass, one per lane of each counter word: a loop the compiler vectorises for
// whatever the build targets. Returns the blocks written (count rounded down to eight).
size_t blocks_by_eight(std::array<uint32_t, 2> key, uint64_t stream, uint64_t first,
                       size_t count, uint32_t* out) noexcept {
  constexpr size_t kLanes = 8;
  size_t done = 0;
  for (; count - done >= kLanes; done += kLanes) {
    uint32_t c0[kLanes], c1[kLanes], c2[kLanes], c3[kLanes];
    for (size_t l = 0; l < kLanes; ++l) {
      const uint64_t block = first + done + l;
      c0[l] = static_cast<uint32_t>(block);
      c1[l] = static_cast<uint32_t>(block >> 32);
      c2[l] = static_cast<uint32_t>(stream);
      c3[l] = static_cast<uint32_t>(stream >> 32);
    }
    uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; ++round) {
      if (round > 0) {
        k0 += kPhiloxWeyl0;
        k1 += kPhiloxWeyl1;
      }
      for (size_t l = 0; l < kLanes; ++l) {
        const uint64_t p0 = uint64_t{kPhiloxMul0} * c0[l];
        const uint64_t p1 = uint64_t{kPhiloxMul1} * c2[l];
        c0[l] = static_cast<uint32_t>(p1 >> 32) ^ c1[l] ^ k0;
        c1[l] = static_cast<uint32_t>(p1);
        c2[l] = static_cast<uint32_t>(p0 >> 32) ^ c3[l] ^ k1;
        c3[l] = static_cast<uint32_t>(p0);
      }
    }
    uint32_t* o = out + 4 * done;
    for (size_t l = 0; l < kLanes; ++l) {
      o[4 * l] = c0[l];
      o[4 * l + 1] = c1[l];
      o[4 * l + 2] = c2[l];
      o[4 * l + 3] = c3[l];
    }
  }
  return done;
}

// One block at a time, for what is left over.
void blocks_one_by_one(std::array<uint32_t, 2> key, uint64_t stream, uint64_t first,
                       size_t count, uint32_t* out) noexcept {
  for (size_t i = 0; i < count; ++i) {
    const uint64_t block = first + i;
    const std::array<uint32_t, 4> w = philox4x32_10(
        {static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32),
         static_cast<uint32_t>(stream), static_cast<uint32_t>(stream >> 32)},
        key);
    for (size_t j = 0; j < 4; ++j) out[4 * i + j] = w[j];
  }
}

#ifdef MOUSE_PHILOX_AVX2

// The low and high 32 bits of x * m for each 32-bit lane of x (m: the multiplier in every
// lane). _mm256_mul_epu32 multiplies the even lanes; the odd ones are shifted down first.
__attribute__((target("avx2"))) inline void mulhilo(__m256i x, __m256i m, __m256i& lo,
                                                    __m256i& hi) noexcept {
  const __m256i even = _mm256_mul_epu32(x, m);
  const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(x, 32), m);
  lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
  hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
}

// One Philox round on eight blocks (lane l of c0..c3 is word 0..3 of block l).
__attribute__((target("avx2"))) inline void round8(__m256i& c0, __m256i& c1, __m256i& c2,
                                                   __m256i& c3, __m256i k0,
                                                   __m256i k1) noexcept {
  __m256i lo0, hi0, lo1, hi1;
  mulhilo(c0, _mm256_set1_epi32(static_cast<int>(kPhiloxMul0)), lo0, hi0);
  mulhilo(c2, _mm256_set1_epi32(static_cast<int>(kPhiloxMul1)), lo1, hi1);
  c0 = _mm256_xor_si256(_mm256_xor_si256(hi1, c1), k0);
  c1 = lo1;
  c2 = _mm256_xor_si256(_mm256_xor_si256(hi0, c3), k1);
  c3 = lo0;
}

// Writes eight blocks from lane-per-block words to block order: a 4x4 transpose in each
// 128-bit half, then the halves put in block order.
__attribute__((target("avx2"))) inline void store8(__m256i c0, __m256i c1, __m256i c2,
                                                   __m256i c3, uint32_t* out) noexcept {
  const __m256i t0 = _mm256_unpacklo_epi32(c0, c1);
  const __m256i t1 = _mm256_unpackhi_epi32(c0, c1);
  const __m256i t2 = _mm256_unpacklo_epi32(c2, c3);
  const __m256i t3 = _mm256_unpackhi_epi32(c2, c3);
  const __m256i b04 = _mm256_unpacklo_epi64(t0, t2);  // blocks 0 and 4
  const __m256i b15 = _mm256_unpackhi_epi64(t0, t2);
  const __m256i b26 = _mm256_unpacklo_epi64(t1, t3);
  const __m256i b37 = _mm256_unpackhi_epi64(t1, t3);
  auto* o = reinterpret_cast<__m256i*>(out);
  _mm256_storeu_si256(o, _mm256_permute2x128_si256(b04, b15, 0x20));
  _mm256_storeu_si256(o + 1, _mm256_permute2x128_si256(b26, b37, 0x20));
  _mm256_storeu_si256(o + 2, _mm256_permute2x128_si256(b04, b15, 0x31));
  _mm256_storeu_si256(o + 3, _mm256_permute2x128_si256(b26, b37, 0x31));
}

// Sixteen blocks per pass, as two interleaved sets of eight (the multiplies' latency hides
// behind the other set). Returns the blocks written (count rounded down to sixteen).
__attribute__((target("avx2"))) size_t blocks_avx2(std::array<uint32_t, 2> key,
                                                   uint64_t stream, uint64_t first,
                                                   size_t count, uint32_t* out) noexcept {
  constexpr size_t kBlocks = 16;
  const __m256i s0 = _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(stream)));
  const __m256i s1 = _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(stream >> 32)));
  size_t done = 0;
  for (; count - done >= kBlocks; done += kBlocks) {
    alignas(32) uint32_t low[kBlocks];
    alignas(32) uint32_t high[kBlocks];
    for (size_t l = 0; l < kBlocks; ++l) {
      const uint64_t block = first + done + l;
      low[l] = static_cast<uint32_t>(block);
      high[l] = static_cast<uint32_t>(block >> 32);
    }
    __m256i a0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(low));
    __m256i b0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(low + 8));
    __m256i a1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(high));
    __m256i b1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(high + 8));
    __m256i a2 = s0, b2 = s0, a3 = s1, b3 = s1;
    uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; ++round) {
      if (round > 0) {
        k0 += kPhiloxWeyl0;
        k1 += kPhiloxWeyl1;
      }
      const __m256i vk0 = _mm256_set1_epi32(static_cast<int>(k0));
      const __m256i vk1 = _mm256_set1_epi32(static_cast<int>(k1));
      round8(a0, a1, a2, a3, vk0, vk1);
      round8(b0, b1, b2, b3, vk0, vk1);
    }
    store8(a0, a1, a2, a3, out + 4 * done);
    store8(b0, b1, b2, b3, out + 4 * done + 32);
  }
  return done;
}

#endif

}  // namespace

void philox_blocks_portable(std::array<uint32_t, 2> key, uint64_t stream, uint64_t first,
                            size_t count, uint32_t* out) noexcept {
  const size_t done = blocks_by_eight(key, stream, first, count, out);
  blocks_one_by_one(key, stream, first + done, count - done, out + 4 * done);
}

void philox_blocks(std::array<uint32_t, 2> key, uint64_t stream, uint64_t first, size_t count,
                   uint32_t* out) noexcept {
#ifdef MOUSE_PHILOX_AVX2
  if (cpu_has_avx2()) {
    const size_t done = blocks_avx2(key, stream, first, count, out);
    first += done;
    count -= done;
    out += 4 * done;
  }
#endif
  philox_blocks_portable(key, stream, first, count, out);
}

}  // namespace mouse::detail
