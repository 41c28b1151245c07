// Mask sampling. Drawing one uniform per position costs the same whatever p is; at the small
// probabilities masks use, most of those draws say "not masked", so below kSparseMaskMaxP the
// sampler jumps from one masked position to the next with a geometric gap instead.
#include "augment/mask_sampler.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

namespace mouse::detail::augment {

namespace {

// Bit k of `below` / `equal`: byte k of bytes[0, 64) is < / == `high`.
void classify64(const uint8_t* bytes, uint8_t high, uint64_t& below, uint64_t& equal) noexcept {
#ifdef __SSE2__
  // Sixteen bytes per compare; pmovmskb packs each byte's result into one bit. SSE2 has no
  // unsigned byte compare: b < high exactly when high > 0 and max(b, high - 1) == high - 1.
  const __m128i h = _mm_set1_epi8(static_cast<char>(high));
  const __m128i h1 = _mm_set1_epi8(static_cast<char>(high - 1));
  below = 0;
  equal = 0;
  for (int k = 0; k < 64; k += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bytes + k));
    const auto lt = static_cast<uint32_t>(
        _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_max_epu8(v, h1), h1)));
    const auto eq = static_cast<uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, h)));
    below |= uint64_t{lt} << k;
    equal |= uint64_t{eq} << k;
  }
  if (high == 0) below = 0;
#else
  // Bit 0 of each byte of an eight-byte group, packed into bits 0..7: the multiplier moves
  // byte j's bit to bit 56 + j; the cross terms either overflow past bit 63 or stay below bit
  // 56 without carrying into it (they sum to less than 2^56).
  auto gather_bits = [](uint64_t v) {
    return ((v & 0x0101010101010101ull) * 0x0102040810204080ull) >> 56;
  };
  below = 0;
  equal = 0;
  for (int k = 0; k < 64; k += 8) {
    uint64_t lt = 0, eq = 0;
    for (int j = 0; j < 8; ++j) {
      lt |= uint64_t{bytes[k + j] < high} << (8 * j);
      eq |= uint64_t{bytes[k + j] == high} << (8 * j);
    }
    below |= gather_bits(lt) << k;
    equal |= gather_bits(eq) << k;
  }
#endif
}

}  // namespace

int64_t* MaskScratch::reserve(int64_t n) {
  if (n > capacity_) {
    data_ = std::make_unique_for_overwrite<int64_t[]>(static_cast<size_t>(n));
    capacity_ = n;
  }
  return data_.get();
}

int64_t sparse_mask_positions(CounterRng& rng, double p, int64_t n, int64_t* out) noexcept {
  // P(gap >= k) = P(U <= (1-p)^k) = (1-p)^k: exactly k unmasked positions, then a masked one,
  // with probability (1-p)^k p, which is what independent Bernoulli(p) positions give.
  // log1p keeps log(1-p) accurate for small p and is < 0 for every 0 < p < 1.
  const double log_q = std::log1p(-p);
  // Uniforms come in blocks of 64 (128 words: whole passes of philox_blocks, 16 blocks each with
  // AVX2, which fill_u32 computes several times faster per word than single blocks); words left
  // over when the last gap runs past n are dropped (nothing else uses this stream).
  constexpr size_t kGaps = 64;
  uint32_t words[2 * kGaps];
  int64_t count = 0;
  int64_t pos = 0;  // the first position not decided yet
  for (;;) {
    rng.fill_u32(words);
    for (size_t i = 0; i < kGaps; ++i) {
      const uint64_t bits = ((uint64_t{words[2 * i]} << 32) | words[2 * i + 1]) >> 11;
      const double u = static_cast<double>(bits + 1) * 0x1.0p-53;  // (0, 1]: log is finite
      // gap >= 0, so truncating is floor. Compared as a double before converting: for tiny p
      // the gap can exceed any integer (or be +inf).
      const double gap = std::log(u) / log_q;
      if (!(gap < static_cast<double>(n - pos))) return count;
      pos += static_cast<int64_t>(gap);
      out[count++] = pos++;
    }
  }
}

int64_t dense_mask_positions(CounterRng& rng, double p, int64_t n, int64_t* out) noexcept {
  const uint64_t threshold = bernoulli_threshold32(p);
  if (threshold == 0 || n <= 0) return 0;
  if (threshold == uint64_t{1} << 32) {
    for (int64_t i = 0; i < n; ++i) out[i] = i;
    return n;
  }
  // W < threshold  <=>  high byte of W < high, or it equals high and the low 24 bits < low.
  const auto high = static_cast<uint8_t>(threshold >> 24);
  const auto low = static_cast<uint32_t>(threshold & 0xFFFFFF);
  constexpr int64_t kChunk = 1024;  // positions per round, a multiple of 64
  uint32_t words[kChunk / 4];
  int64_t count = 0;
  for (int64_t base = 0; base < n; base += kChunk) {
    const int64_t m = std::min(kChunk, n - base);
    // Whole multiples of 128 words (whole philox_blocks passes): words outside them come one
    // block at a time, several times slower per word, so drawing a few unused words is cheaper.
    const auto num_words = static_cast<size_t>((m + 511) / 512 * 128);
    rng.fill_u32(std::span<uint32_t>(words, num_words));
    // Position 4w + j takes byte j (bits 8j..8j+7) of word w: the words' bytes in
    // little-endian order, whatever the host's.
    if constexpr (std::endian::native == std::endian::big) {
      for (size_t w = 0; w < num_words; ++w) words[w] = __builtin_bswap32(words[w]);
    }
    const auto* bytes = reinterpret_cast<const uint8_t*>(words);
    // 64 positions at a time as bit sets: undecided positions are settled in position order
    // (their extra words are drawn in that order), then the set bits are written out. The
    // words drawn cover whole groups of 64 positions; bits past m are dropped.
    for (int64_t g = 0; g < m; g += 64) {
      const uint64_t valid = m - g >= 64 ? ~uint64_t{0} : (uint64_t{1} << (m - g)) - 1;
      uint64_t masked = 0;
      uint64_t undecided = 0;
      classify64(bytes + g, high, masked, undecided);
      masked &= valid;
      undecided &= valid;
      while (undecided != 0) {
        const int k = std::countr_zero(undecided);
        undecided &= undecided - 1;
        if ((rng.uniform_u32() & 0xFFFFFF) < low) masked |= uint64_t{1} << k;
      }
      while (masked != 0) {
        out[count++] = base + g + std::countr_zero(masked);
        masked &= masked - 1;
      }
    }
    // Drop what is left of the block the extra words came from: the next fill_u32 then starts
    // on a block boundary and runs vectorised throughout, instead of one block at a time for
    // its first words.
    rng.seek(rng.block());
  }
  return count;
}

std::span<const int64_t> mask_positions(CounterRng& rng, double p, int64_t n,
                                        MaskScratch& scratch) {
  if (!(p > 0.0) || n <= 0) return {};
  int64_t* out = scratch.reserve(n);
  int64_t count;
  if (p >= 1.0) {
    for (int64_t i = 0; i < n; ++i) out[i] = i;
    count = n;
  } else if (p < kSparseMaskMaxP) {
    count = sparse_mask_positions(rng, p, n, out);
  } else {
    count = dense_mask_positions(rng, p, n, out);
  }
  return {out, static_cast<size_t>(count)};
}

}  // namespace mouse::detail::augment
