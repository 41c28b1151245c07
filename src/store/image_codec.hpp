// Image bytes <-> pixels for the obs_image column (SPEC §3) and to_dataset (SPEC §4). Plain 8-bit
// PNGs decode through libdeflate (png_fast.hpp), every other PNG through libpng, JPEG through
// libjpeg-turbo, all from Debian. Pixels are H x W x C uint8, row-major, C = 1 (grey),
// 2 (grey + alpha), 3 (RGB) or 4 (RGBA).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mouse::detail {

/// Decoded pixels.
struct DecodedImage {
  int64_t height = 0;
  int64_t width = 0;
  int64_t channels = 0;
  std::vector<uint8_t> pixels;
};

/// The shape of a decoded image.
struct ImageInfo {
  int64_t height = 0;
  int64_t width = 0;
  int64_t channels = 0;
  /// height * width * channels: the decoded image's size in bytes (or values).
  int64_t size() const noexcept { return height * width * channels; }
};

/// What the leading bytes say the image is.
enum class ImageFormat { kUnknown, kPng, kJpeg };

/// Sniffs the PNG signature or the JPEG start-of-image marker.
ImageFormat sniff_image(std::string_view bytes) noexcept;

/// Decodes PNG or JPEG bytes straight into `dst`: the first min(image size, dst.size()) bytes
/// of the H x W x C pixels, then zeros to the end of `dst`. Returns the image's shape (so the
/// caller sees the image was truncated when info.size() > dst.size()). PNG: palette expanded to
/// RGB, tRNS to an alpha channel, 16-bit samples reduced to their high byte, sub-byte grey
/// scaled to 8 bits, interlacing undone; no gamma or colour-profile correction (the stored
/// pixels, as PIL gives them). JPEG: greyscale stays grey, YCbCr and RGB give RGB, decoded with
/// libjpeg's defaults (accurate integer IDCT, fancy upsampling), as PIL does. Throws FormatError
/// naming `where` for bytes that are neither format or fail to decode (then `dst` holds
/// unspecified bytes). Thread-safe: the PNG decoder keeps per-thread state (a libdeflate
/// decompressor and scratch buffers), reused from image to image; each JPEG gets a fresh
/// libjpeg decompressor (a reused one would lend an image the previous one's tables).
ImageInfo decode_image_into(std::string_view bytes, const std::string& where,
                            std::span<uint8_t> dst);

/// As the uint8 overload, widening each pixel byte to int64 (the obs_image default dtype); the
/// bytes are decoded into a per-thread buffer first.
ImageInfo decode_image_into(std::string_view bytes, const std::string& where,
                            std::span<int64_t> dst);

/// Decodes PNG or JPEG bytes into a new vector; the pixels are those of decode_image_into.
/// Throws FormatError naming `where`, as decode_image_into.
DecodedImage decode_image(std::string_view bytes, const std::string& where);

/// The decoder as it was before the fast paths: libpng for every PNG, libjpeg one scanline
/// per call. Same pixels and errors as decode_image; kept
/// for the tests that cross-check the two and for the benchmarks.
DecodedImage decode_image_reference(std::string_view bytes, const std::string& where);

/// Largest image accepted for encoding or decoding, in pixels (height * width).
inline constexpr int64_t kMaxImagePixels = int64_t{1} << 30;

/// Checks untrusted pixel dimensions without overflow: 0 < height, width <= INT32_MAX,
/// channels in 1..4, height * width <= kMaxImagePixels, and `pixel_bytes` equal to
/// height * width * channels (computed only once the factors are known to be small). Returns an
/// empty string, or the problem naming the dimensions and the expected size.
std::string check_image_shape(int64_t height, int64_t width, int64_t channels, size_t pixel_bytes);

/// Encodes pixels as PNG (8-bit, fast zlib level). The shape must pass check_image_shape for
/// `pixel_bytes` (InvalidArgument otherwise); a libpng failure is InvalidArgument too.
std::string encode_png(const uint8_t* pixels, size_t pixel_bytes, int64_t height, int64_t width,
                       int64_t channels);

}  // namespace mouse::detail
