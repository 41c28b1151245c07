// Drawing TokenAugmenter's masks: which of n positions are masked when each is masked
// independently with probability p. The result is the sorted list of masked positions, which the
// kernels use to transform unmasked runs in bulk and then overwrite the masked rows.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "core/rng.hpp"

namespace mouse::detail::augment {

/// Below this probability masks are drawn by skipping geometric gaps (one uniform and one log
/// per masked position); from it up, per position (one random byte per position). Chosen by
/// measurement (bench/augment_bench.cpp, BM_SparseMask / BM_DenseMask on 2048 positions): the
/// two cost the same near p = 0.07.
inline constexpr double kSparseMaskMaxP = 0.07;

/// Scratch memory for masked positions, reused across the fields of one apply call. Not
/// thread-safe (one per call).
class MaskScratch {
 public:
  /// Room for at least `n` positions (n >= 0); keeps the storage when it is already big enough.
  int64_t* reserve(int64_t n);

 private:
  std::unique_ptr<int64_t[]> data_;
  int64_t capacity_ = 0;
};

/// Writes the positions in [0, n) masked by geometric skip-ahead into `out` (room for n), in
/// increasing order, and returns how many. Each gap to the next masked position is
/// floor(log(U) / log(1 - p)) with U uniform on (0, 1] (53 bits, two words of `rng`), which
/// makes every position masked independently with probability p. For 0 < p < 1 and n >= 0.
/// Consumes `rng`: it reads words ahead, so where `rng` stands afterwards is unspecified.
int64_t sparse_mask_positions(CounterRng& rng, double p, int64_t n, int64_t* out) noexcept;

/// As sparse_mask_positions, drawing per position: position i is masked when a 32-bit word W_i
/// is below bernoulli_threshold32(p), i.e. with probability p rounded to a multiple of 2^-32.
/// W_i's high byte is drawn first (four positions per word of `rng`); the low 24 bits are drawn
/// only when the high byte alone does not decide (probability 1/256). For 0 <= p <= 1 and
/// n >= 0. Consumes `rng` as sparse_mask_positions does.
int64_t dense_mask_positions(CounterRng& rng, double p, int64_t n, int64_t* out) noexcept;

/// The masked positions of n (n >= 0) when each is masked independently with probability `p`
/// (in [0, 1]): empty for p == 0 and every position for p == 1 (both without drawing);
/// otherwise sparse_mask_positions below kSparseMaskMaxP and dense_mask_positions from it up.
/// The result lives in `scratch` until its next use and depends only on the draws of `rng`.
std::span<const int64_t> mask_positions(CounterRng& rng, double p, int64_t n, MaskScratch& scratch);

}  // namespace mouse::detail::augment
