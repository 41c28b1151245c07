// Image bytes <-> pixels for the obs_image column (SPEC §3) and to_dataset (SPEC §4): PNG through
// libpng and JPEG through libjpeg-turbo, both from Debian. Pixels are H x W x C uint8, row-major,
// C = 1 (grey), 2 (grey + alpha), 3 (RGB) or 4 (RGBA).
#pragma once

#include <cstddef>
#include <cstdint>
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

/// What the leading bytes say the image is.
enum class ImageFormat { kUnknown, kPng, kJpeg };

/// Sniffs the PNG signature or the JPEG start-of-image marker.
ImageFormat sniff_image(std::string_view bytes) noexcept;

/// Decodes PNG or JPEG bytes. Palette PNGs are expanded to RGB(A), 16-bit samples reduced to
/// 8 bits, sub-byte grey expanded to 8 bits; no gamma or colour-profile correction is applied
/// (the pixels are the stored ones, as PIL gives them). Throws FormatError naming `where` for
/// bytes that are neither format or that fail to decode.
DecodedImage decode_image(std::string_view bytes, const std::string& where);

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
