// A small keyed counter-based generator for the built-in environments: draw k of stream
// (seed, stream) is the SplitMix64 finalizer of key + k * golden-gamma, where the key mixes
// the seed and the stream. No shared state, so a rollout depends only on (seed, stream).
#pragma once

#include <cstdint>

#include "core/rng.hpp"

namespace mouse::envs::detail {

using mouse::detail::mix64;

/// Sequential draws of one keyed stream. Not thread-safe (each rollout owns one).
class KeyedRandom {
 public:
  KeyedRandom(uint64_t seed, uint64_t stream) noexcept
      : key_(mix64(seed ^ mix64(stream + kGamma))) {}

  /// The next 64 random bits.
  uint64_t next() noexcept { return mix64(key_ + kGamma * ++counter_); }
  /// Uniform in [0, 1) with 53 random bits.
  double uniform() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  /// Uniform integer in [0, n) for 0 < n < 2^32 (multiply-shift; the bias is below 2^-32).
  int below(int n) noexcept {
    return static_cast<int>(((next() >> 32) * static_cast<uint64_t>(n)) >> 32);
  }

 private:
  static constexpr uint64_t kGamma = 0x9E3779B97F4A7C15ull;
  uint64_t key_;
  uint64_t counter_ = 0;
};

}  // namespace mouse::envs::detail
