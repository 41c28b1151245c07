// Value encodings of data and dictionary pages: PLAIN, RLE (booleans), PLAIN_DICTIONARY /
// RLE_DICTIONARY, DELTA_BINARY_PACKED, DELTA_LENGTH_BYTE_ARRAY, DELTA_BYTE_ARRAY,
// BYTE_STREAM_SPLIT; and the PLAIN encoder the writer uses.
#pragma once

#include <cstdint>
#include <vector>

#include "format/parquet/levels.hpp"

namespace mouse::parquet::detail {

/// Decoded values of one leaf column in physical form. Fixed-width types (BOOLEAN as one byte
/// 0/1 per value, INT32, INT64, INT96, FLOAT, DOUBLE, FIXED_LEN_BYTE_ARRAY) keep `width` bytes
/// per value in `data`; BYTE_ARRAY keeps the concatenated bytes in `data` and `count + 1`
/// offsets in `offsets`.
struct Values {
  int width = 0;  ///< 0 for BYTE_ARRAY
  std::vector<uint8_t> data;
  std::vector<int64_t> offsets{0};

  int64_t count() const noexcept {
    return width > 0 ? static_cast<int64_t>(data.size()) / width
                     : static_cast<int64_t>(offsets.size()) - 1;
  }
  void clear() {
    data.clear();
    offsets.assign(1, 0);
  }
};

/// Byte width of a physical type's values in `Values` (0 for BYTE_ARRAY).
int value_width(int32_t physical_type, int32_t type_length) noexcept;

/// Decodes exactly `count` values of `physical_type` encoded with `encoding` from
/// `[data, data + size)`, appending to `out` (whose width is already set). `dict` holds the
/// dictionary for the dictionary encodings (nullptr if the chunk has none). Throws FormatError
/// (via `src`) on truncated or inconsistent data, out-of-range dictionary indices, or an
/// encoding that does not apply to the type.
void decode_values(int32_t physical_type, int32_t encoding, const uint8_t* data, int64_t size,
                   int64_t count, const Values* dict, Values& out, const ByteSource& src);

/// Decodes a DELTA_BINARY_PACKED block sequence of exactly `count` values; returns the bytes
/// consumed. `is32` makes the arithmetic wrap at 32 bits.
int64_t decode_delta_binary(const uint8_t* data, int64_t size, int64_t count, bool is32,
                            std::vector<int64_t>& out, const ByteSource& src);

}  // namespace mouse::parquet::detail
