// A 256-entry byte table applied to runs of bytes: the uint8 image transforms (scale and shift
// of pixels, each rounded and clamped) are such a table.
#pragma once

#include <cstdint>

namespace mouse::detail::augment {

/// A table of 256 bytes, prepared once for the runs it is applied to. AVX2 where the CPU has it
/// (sixteen 16-entry shuffles per 32 bytes), else eight table loads per 64-bit store.
class ByteTable {
 public:
  explicit ByteTable(const uint8_t (&table)[256]) noexcept;

  /// dst[i] = table[src[i]] for i in [0, count); src == dst is allowed (in place), other
  /// overlaps are not.
  void apply(const uint8_t* src, uint8_t* dst, int64_t count) const noexcept;

  /// apply without AVX2, whatever the CPU (for tests of both paths).
  void apply_portable(const uint8_t* src, uint8_t* dst, int64_t count) const noexcept;

  /// The int64 form for pixels in [0, 255]: dst[i] = table[src[i]] for a prefix of whole groups
  /// of 32 elements that are all in [0, 255], and returns its length (0 without AVX2; it stops
  /// before the first group holding a value outside, or the last partial group), leaving the
  /// rest to the caller. src == dst is allowed.
  int64_t apply_in_range(const int64_t* src, int64_t* dst, int64_t count) const noexcept;

 private:
  uint8_t table_[256];
  // Step k of the AVX2 lookup: table row k (16 entries) XOR row k - 1 (none for k = 0, 8).
  alignas(16) uint8_t steps_[16][16];
};

}  // namespace mouse::detail::augment
