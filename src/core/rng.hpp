// Counter-based random numbers (Philox4x32-10, Salmon et al., "Parallel random numbers: as easy
// as 1, 2, 3", SC'11). A draw is a pure function of (seed, stream, position), so work split over
// threads gets the same numbers however it is scheduled: derive one stream per unit of work
// (epoch, batch, row, field...) with stream_id() and draw from it on whichever thread runs it.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <utility>

namespace mouse::detail {

/// Philox4x32's round multipliers and key increments (Salmon et al.; Random123's constants).
inline constexpr uint32_t kPhiloxMul0 = 0xD2511F53u;
inline constexpr uint32_t kPhiloxMul1 = 0xCD9E8D57u;
inline constexpr uint32_t kPhiloxWeyl0 = 0x9E3779B9u;
inline constexpr uint32_t kPhiloxWeyl1 = 0xBB67AE85u;

/// One Philox4x32-10 block: 128 random bits from a 128-bit counter and a 64-bit key. Matches the
/// Random123 reference (`philox4x32 10` known-answer vectors). Pure and thread-safe.
constexpr std::array<uint32_t, 4> philox4x32_10(std::array<uint32_t, 4> ctr,
                                                std::array<uint32_t, 2> key) noexcept {
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      key[0] += kPhiloxWeyl0;
      key[1] += kPhiloxWeyl1;
    }
    const uint64_t p0 = uint64_t{kPhiloxMul0} * ctr[0];
    const uint64_t p1 = uint64_t{kPhiloxMul1} * ctr[2];
    ctr = {static_cast<uint32_t>(p1 >> 32) ^ ctr[1] ^ key[0], static_cast<uint32_t>(p1),
           static_cast<uint32_t>(p0 >> 32) ^ ctr[3] ^ key[1], static_cast<uint32_t>(p0)};
  }
  return ctr;
}

/// Blocks [first, first + count) of the Philox4x32-10 stream (key, stream): out[4 i + j] is word j
/// of block first + i (the block's counter is (first + i, stream), as CounterRng uses it). Uses
/// AVX2 when the CPU has it and a loop the compiler vectorises otherwise; both give exactly
/// philox4x32_10's words. `out` holds 4 * count words. Thread-safe.
void philox_blocks(std::array<uint32_t, 2> key, uint64_t stream, uint64_t first, size_t count,
                   uint32_t* out) noexcept;

/// philox_blocks without AVX2, whatever the CPU (for tests and benchmarks of both paths).
void philox_blocks_portable(std::array<uint32_t, 2> key, uint64_t stream, uint64_t first,
                            size_t count, uint32_t* out) noexcept;

/// SplitMix64's finaliser: a bijective 64-bit mix (Steele, Lea, Flood 2014). Pure.
constexpr uint64_t mix64(uint64_t x) noexcept {
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBull;
  x ^= x >> 31;
  return x;
}

/// Folds a tuple of ids (e.g. {kind, epoch, batch, row}) into one 64-bit stream id. Order
/// matters; different tuples collide only with probability about 2^-64 per pair. Pure.
constexpr uint64_t stream_id(std::initializer_list<uint64_t> ids) noexcept {
  uint64_t h = 0x6A09E667F3BCC908ull ^ ids.size();
  for (uint64_t id : ids) h = mix64(h ^ mix64(id + 0x9E3779B97F4A7C15ull));
  return h;
}

/// A random stream: Philox4x32-10 keyed by `seed`, with counter = (block position, stream).
/// Every (seed, stream) pair is an independent sequence of 2^64 blocks of four 32-bit words, so
/// the numbers do not depend on which thread draws them or in what order streams are used.
///
/// A CounterRng is a small value (48 bytes) meant to live on the stack of whoever draws; it is
/// not thread-safe (each thread makes its own from the same seed and stream id). Every method is
/// noexcept. The exact sequence each method consumes is part of the contract (results replay
/// across versions): uniform_u32 takes one word, uniform_u64/uniform_double/normal two per
/// underlying 64-bit draw, in block order; fill_u32 gives the same words as repeated uniform_u32.
class CounterRng {
 public:
  /// Stream `stream` of generator `seed`, positioned at block `block` (default: the start).
  constexpr CounterRng(uint64_t seed, uint64_t stream, uint64_t block = 0) noexcept
      : key_{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)},
        stream_(stream),
        block_(block) {}

  /// Moves to block `block` of the stream (the next word is that block's first).
  constexpr void seek(uint64_t block) noexcept {
    block_ = block;
    used_ = 4;
  }

  /// The block the next refill will use: words drawn so far = 4 * block() - unused words.
  constexpr uint64_t block() const noexcept { return block_; }

  /// The next 32 uniformly random bits.
  constexpr uint32_t uniform_u32() noexcept {
    if (used_ == 4) refill();
    return words_[used_++];
  }

  /// Fills `out` with the next out.size() words, exactly as that many uniform_u32() calls would,
  /// computing the whole blocks in bulk (philox_blocks: AVX2 where the CPU has it).
  void fill_u32(std::span<uint32_t> out) noexcept {
    size_t i = 0;
    while (i < out.size() && used_ < 4) out[i++] = words_[used_++];
    const size_t blocks = (out.size() - i) / 4;
    if (blocks > 0) {
      philox_blocks(key_, stream_, block_, blocks, out.data() + i);
      block_ += blocks;
      i += 4 * blocks;
    }
    while (i < out.size()) out[i++] = uniform_u32();
  }

  /// The next 64 uniformly random bits (two words, first word in the high half).
  constexpr uint64_t uniform_u64() noexcept {
    const uint64_t hi = uniform_u32();
    return (hi << 32) | uniform_u32();
  }

  /// Uniform on [0, 1) with 53 random bits (every value a multiple of 2^-53).
  double uniform_double() noexcept {
    return static_cast<double>(uniform_u64() >> 11) * 0x1.0p-53;
  }

  /// Uniform on [0, 1) with 24 random bits (one word; every value a multiple of 2^-24).
  float uniform_float() noexcept { return static_cast<float>(uniform_u32() >> 8) * 0x1.0p-24f; }

  /// Uniform on [low, high) for low < high; `low` when low == high. Rounding can never return
  /// `high` itself. Arguments must be finite with low <= high.
  double uniform_double(double low, double high) noexcept {
    if (!(low < high)) return low;
    const double x = low + (high - low) * uniform_double();
    return x < high ? x : std::nextafter(high, low);
  }

  /// A standard normal draw (Box-Muller, using the cosine branch only so each call consumes
  /// exactly two 64-bit draws).
  double normal() noexcept {
    const double u1 = 1.0 - uniform_double();  // (0, 1]: log is finite
    const double u2 = uniform_double();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586476925 * u2);
  }

  /// True with probability `p` (53-bit resolution; p <= 0 never, p >= 1 always). One 64-bit draw.
  bool bernoulli(double p) noexcept { return uniform_double() < p; }

  /// Uniform integer in [0, n) without modulo bias (Lemire's multiply-and-reject), for n >= 1;
  /// n == 0 returns 0 without drawing.
  uint64_t uniform_int(uint64_t n) noexcept {
    if (n == 0) return 0;
    __extension__ using U128 = unsigned __int128;
    U128 m = static_cast<U128>(uniform_u64()) * n;
    uint64_t low = static_cast<uint64_t>(m);
    if (low < n) {
      const uint64_t threshold = (0 - n) % n;  // 2^64 mod n
      while (low < threshold) {
        m = static_cast<U128>(uniform_u64()) * n;
        low = static_cast<uint64_t>(m);
      }
    }
    return static_cast<uint64_t>(m >> 64);
  }

  /// Shuffles `values` in place (Fisher-Yates, from the back; every order equally likely).
  template <class T>
  void shuffle(std::span<T> values) noexcept {
    for (size_t i = values.size(); i > 1; --i) {
      const size_t j = static_cast<size_t>(uniform_int(i));
      std::swap(values[i - 1], values[j]);
    }
  }

  /// Writes a uniformly random permutation of 0, 1, ..., out.size() - 1 into `out`.
  template <class T>
  void permutation(std::span<T> out) noexcept {
    for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<T>(i);
    shuffle(out);
  }

 private:
  constexpr void refill() noexcept {
    words_ = philox4x32_10({static_cast<uint32_t>(block_), static_cast<uint32_t>(block_ >> 32),
                            static_cast<uint32_t>(stream_), static_cast<uint32_t>(stream_ >> 32)},
                           key_);
    ++block_;
    used_ = 0;
  }

  std::array<uint32_t, 2> key_;
  uint64_t stream_;
  uint64_t block_;
  std::array<uint32_t, 4> words_{};
  uint32_t used_ = 4;
};

/// Probability `p` as a threshold on one 32-bit word: `word < threshold` is true with
/// probability p rounded to a multiple of 2^-32 (exactly 0 for p <= 0, exactly 1 for p >= 1).
/// For drawing many Bernoulli variables fast (masks): one word each instead of two.
inline uint64_t bernoulli_threshold32(double p) noexcept {
  if (!(p > 0.0)) return 0;
  if (p >= 1.0) return uint64_t{1} << 32;
  return static_cast<uint64_t>(std::llround(std::ldexp(p, 32)));
}

/// Fills `out[i]` with 1 (probability p) or 0, one 32-bit word per element, using
/// bernoulli_threshold32(p). Draws nothing when p <= 0 or p >= 1.
inline void fill_bernoulli(CounterRng& rng, double p, std::span<uint8_t> out) noexcept {
  const uint64_t threshold = bernoulli_threshold32(p);
  if (threshold == 0 || threshold == (uint64_t{1} << 32)) {
    const uint8_t v = threshold == 0 ? 0 : 1;
    for (uint8_t& o : out) o = v;
    return;
  }
  constexpr size_t kChunk = 256;
  uint32_t words[kChunk];
  for (size_t start = 0; start < out.size(); start += kChunk) {
    const size_t n = std::min(kChunk, out.size() - start);
    rng.fill_u32(std::span<uint32_t>(words, n));
    for (size_t i = 0; i < n; ++i) out[start + i] = static_cast<uint8_t>(words[i] < threshold);
  }
}

}  // namespace mouse::detail
