// The RLE / bit-packing hybrid (definition and repetition levels, dictionary indices, RLE
// booleans), the deprecated BIT_PACKED level encoding, and an encoder for the writer.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mouse::parquet::detail {

/// Where a decoder's bytes came from, for error messages.
struct ByteSource {
  std::string_view file;
  int64_t offset = 0;  ///< file offset of the first byte (-1 when not known, e.g. decompressed)
  std::string_view what;  ///< "column \"x\" definition levels"
};

/// Number of bits needed for values 0..max_value.
int bit_width_for(uint64_t max_value) noexcept;

/// Reads `bit_width` (<= 64) bits at bit position `bit` of `p` (`size` bytes, checked by the
/// caller: bit + bit_width <= size * 8).
uint64_t read_bits(const uint8_t* p, int64_t size, int64_t bit, int bit_width) noexcept;

/// Decodes the hybrid over `[data, data + size)` with `bit_width` (0..32).
class RleDecoder {
 public:
  RleDecoder(const uint8_t* data, int64_t size, int bit_width, ByteSource src);
  /// Appends the next `count` values to `out`; FormatError if the data ends first.
  void get(uint32_t* out, int64_t count);

 private:
  bool next_run();
  const uint8_t* data_;
  int64_t size_;
  int64_t pos_ = 0;
  int bit_width_;
  ByteSource src_;
  int64_t rle_left_ = 0;
  uint32_t rle_value_ = 0;
  int64_t packed_left_ = 0;
  const uint8_t* packed_ = nullptr;
  int64_t packed_size_ = 0;
  int64_t packed_bit_ = 0;
};

/// Decodes `count` levels (max value `max_level`) in `encoding` (RLE with a 4-byte length
/// prefix when `length_prefixed`, RLE without one for page v2, or BIT_PACKED) into `out`.
/// Returns the bytes consumed. Every level is checked to be <= max_level.
int64_t decode_levels(int32_t encoding, const uint8_t* data, int64_t size, int max_level,
                      int64_t count, bool length_prefixed, int16_t* out, ByteSource src);

/// Appends the hybrid encoding of `values` (each < 2^bit_width) to `out`.
void rle_encode(const uint32_t* values, int64_t count, int bit_width, std::vector<uint8_t>& out);

}  // namespace mouse::parquet::detail
