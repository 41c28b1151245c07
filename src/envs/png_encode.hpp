// PNG encoding of RGB frames (libpng) for the generated `observation_image` column.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace mouse::envs::detail {

/// The PNG file (8-bit RGB, no interlace) of `rgb`, height x width x 3 row-major bytes.
/// InvalidArgument if the sizes do not match or are not positive; Error if libpng fails.
std::string encode_png_rgb(std::span<const uint8_t> rgb, int width, int height);

}  // namespace mouse::envs::detail
