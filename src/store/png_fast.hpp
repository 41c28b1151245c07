// The fast PNG path: plain 8-bit images (what Pillow, `datasets` and our encode_png write)
// inflated with libdeflate and unfiltered straight into the caller's pixels. Anything it does not
// recognise as a plain, intact PNG it declines, and image_codec.cpp hands the bytes to libpng,
// which decides and words the error exactly as before. So the fast path changes speed, never
// which files decode or what their pixels are.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace mouse::detail {

/// A PNG that the fast path takes: its shape and where its image data lies in the bytes.
struct PlainPng {
  int64_t height = 0;
  int64_t width = 0;
  int64_t channels = 0;   ///< 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA
  size_t first_idat = 0;  ///< offset of the first IDAT chunk's length field
  size_t idat_chunks = 0; ///< number of consecutive IDAT chunks
  size_t idat_bytes = 0;  ///< their data, in total
};

/// Walks the chunks of PNG `bytes` (the signature already checked) and returns the image if it
/// is plain: IHDR first with bit depth 8, colour type grey, grey + alpha, RGB or RGBA, not
/// interlaced, sides within libpng's default limit of 1,000,000 and at most kMaxImagePixels
/// pixels; no PLTE or tRNS chunk (they change the output); no unknown critical chunk; chunk
/// names of letters only; every critical chunk complete with a correct CRC; the IDAT chunks
/// consecutive and large enough to hold the image at DEFLATE's best ratio; IEND reached. Returns
/// nullopt for anything else. Reads only the bytes; thread-safe; does not throw.
std::optional<PlainPng> probe_plain_png(std::string_view bytes) noexcept;

/// Inflates and unfilters a PNG that probe_plain_png accepted from the same `bytes` into `out`,
/// which must hold height * width * channels bytes. Returns false, with `out` left in an
/// unspecified state, when the zlib stream is corrupt, does not fill the image exactly, has
/// bytes after its end, or a row has an unknown filter type. Uses a per-thread libdeflate
/// decompressor and scratch buffer (safe from any number of threads at once). Throws only
/// std::bad_alloc.
bool decode_plain_png(std::string_view bytes, const PlainPng& png, uint8_t* out);

}  // namespace mouse::detail
