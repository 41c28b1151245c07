// Mask sampling. Drawing one uniform per position costs the same whatever p is; at the small
// probabilities masks use, most of those draws say "not masked", so below kSparseMaskMaxP the
// sampler jumps from one masked position to the next with a geometric gap instead.
#include "augment/mask_sampler.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

namespace mouse::detail::augment {

namespace {

// Eight bytes as a little-endian integer: byte k in bits 8k..8k+7 on any host.
uint64_t load_le64(const uint8_t* p) noexcept {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);
  return v;
}

// Bit 0 of each byte of `v` (byte k in bits 8k..), packed into bits 0..7 of the result. The
// multiplier moves byte k's bit to bit 56 + k; the cross terms either overflow past bit 63 or
// stay below bit 56 without carrying into it (they sum to less than 2^56).
uint64_t gather_bits(uint64_t v) noexcept {
  return ((v & 0x0101010101010101ull) * 0x0102040810204080ull) >> 56;
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
  // Uniforms come in blocks of 64 (128 words: CounterRng::fill_u32 runs vectorised in rounds
  // of 128 words, several times faster per word than outside them); words left over when the
  // last gap runs past n are dropped (nothing else uses this stream).
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
  uint8_t flags[kChunk];  // bit 0: masked; bit 1: undecided (high byte == high)
  int64_t count = 0;
  for (int64_t base = 0; base < n; base += kChunk) {
    const int64_t m = std::min(kChunk, n - base);
    // Whole multiples of 128 words: fill_u32 is vectorised in rounds of that size and several
    // times slower per word outside them, so drawing a few unused words is cheaper.
    const auto num_words = static_cast<size_t>((m + 511) / 512 * 128);
    rng.fill_u32(std::span<uint32_t>(words, num_words));
    // Position 4w + j takes byte j (bits 8j..8j+7) of word w: the words' bytes in
    // little-endian order, whatever the host's.
    if constexpr (std::endian::native == std::endian::big) {
      for (size_t w = 0; w < num_words; ++w) words[w] = __builtin_bswap32(words[w]);
    }
    const auto* bytes = reinterpret_cast<const uint8_t*>(words);
    for (int64_t i = 0; i < m; ++i) {
      const uint8_t b = bytes[i];
      flags[i] = static_cast<uint8_t>(b < high ? 1 : b == high ? 2 : 0);
    }
    const int64_t padded = (m + 63) & ~int64_t{63};
    std::fill(flags + m, flags + padded, uint8_t{0});
    // 64 positions at a time as bit sets: undecided positions are settled in position order
    // (their extra words are drawn in that order), then the set bits are written out.
    for (int64_t g = 0; g < padded; g += 64) {
      uint64_t masked = 0;
      uint64_t any = 0;
      for (int64_t k = 0; k < 64; k += 8) {
        const uint64_t eight = load_le64(flags + g + k);
        masked |= gather_bits(eight) << k;
        any |= eight;
      }
      if ((any & 0x0202020202020202ull) != 0) {
        uint64_t undecided = 0;
        for (int64_t k = 0; k < 64; k += 8) {
          undecided |= gather_bits(load_le64(flags + g + k) >> 1) << k;
        }
        while (undecided != 0) {
          const int k = std::countr_zero(undecided);
          undecided &= undecided - 1;
          if ((rng.uniform_u32() & 0xFFFFFF) < low) masked |= uint64_t{1} << k;
        }
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
