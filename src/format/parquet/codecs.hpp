// Page compression codecs, all from the system libraries (snappy, zlib, zstd, lz4, brotli).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace mouse::parquet::detail {

/// Decompresses one page body compressed with `codec` into exactly `uncompressed_size` bytes
/// appended to nothing (the result has that size). Throws FormatError naming `source`, `offset`
/// and the codec when the data is corrupt or does not inflate to the expected size.
std::vector<uint8_t> decompress(int32_t codec, std::span<const uint8_t> in,
                                int64_t uncompressed_size, std::string_view source,
                                int64_t offset);

/// Compresses `in` with `codec` (UNCOMPRESSED, SNAPPY, GZIP, ZSTD, LZ4_RAW, BROTLI).
std::vector<uint8_t> compress(int32_t codec, std::span<const uint8_t> in, int level);

}  // namespace mouse::parquet::detail
