// A 256-entry byte table applied to a run of bytes: the uint8 image transforms (scale and shift
// of pixels, each rounded and clamped) are such a table.
#pragma once

#include <cstdint>

namespace mouse::detail::augment {

/// dst[i] = table[src[i]] for i in [0, count); src == dst is allowed (in place), other overlaps
/// are not. AVX2 where the CPU has it (sixteen 16-entry shuffles per 32 bytes), else eight
/// table loads per 64-bit store.
void apply_byte_table(const uint8_t* src, uint8_t* dst, int64_t count,
                      const uint8_t (&table)[256]) noexcept;

/// The int64 form for pixels in [0, 255]: dst[i] = table[src[i]] for a prefix of whole groups
/// of 32 elements that are all in [0, 255], and returns its length (0 without AVX2; it stops
/// before the first group holding a value outside, or the last partial group), leaving the rest
/// to the caller. src == dst is allowed.
int64_t apply_byte_table_in_range(const int64_t* src, int64_t* dst, int64_t count,
                                  const uint8_t (&table)[256]) noexcept;

/// apply_byte_table without AVX2, whatever the CPU (for tests of both paths).
void apply_byte_table_portable(const uint8_t* src, uint8_t* dst, int64_t count,
                               const uint8_t (&table)[256]) noexcept;

}  // namespace mouse::detail::augment
