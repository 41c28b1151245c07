// PNG (libdeflate for plain images, libpng for the rest) and JPEG (libjpeg-turbo) decoding, PNG
// encoding.
//
// Both libraries report fatal errors by longjmp. The setjmp frames below keep every object that
// is written after setjmp behind a pointer fixed before it (the output lives in the caller's
// frame), so nothing is left indeterminate when a longjmp lands, and no C++ destructor is
// skipped: the jumps never leave the function that called setjmp.
#include "store/image_codec.hpp"

#include <fmt/format.h>
#include <jpeglib.h>
#include <png.h>

#include <algorithm>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <limits>
#include <new>
#include <optional>
#include <vector>

#include "mouse/error.hpp"
#include "store/png_fast.hpp"

namespace mouse::detail {

namespace {

// Images above this many pixels are refused before allocating (a corrupt header could claim
// 2^31 x 2^31).
constexpr int64_t kMaxPixels = kMaxImagePixels;

struct PngSource {
  const uint8_t* data;
  size_t size;
  size_t pos;
};

struct PngError {
  std::jmp_buf jump;
  char message[256];
};

void png_read_from(png_structp png, png_bytep out, png_size_t count) {
  auto* src = static_cast<PngSource*>(png_get_io_ptr(png));
  if (count > src->size - src->pos) {
    png_error(png, "unexpected end of data");
  }
  std::memcpy(out, src->data + src->pos, count);
  src->pos += count;
}

void png_on_error(png_structp png, png_const_charp msg) {
  auto* err = static_cast<PngError*>(png_get_error_ptr(png));
  std::snprintf(err->message, sizeof err->message, "%s", msg);
  std::longjmp(err->jump, 1);
}

void png_on_warning(png_structp, png_const_charp) {}

// Where a decoder puts a whole image: the caller's span when the image fits it, a growing
// vector (decode_image), or per-thread scratch that finish() copies the fitting part from.
class PixelSink {
 public:
  explicit PixelSink(std::span<uint8_t> dst) noexcept : dst_(dst) {}
  explicit PixelSink(std::vector<uint8_t>* grow) noexcept : grow_(grow) {}

  // A buffer for `total` bytes of pixels. Throws std::bad_alloc.
  uint8_t* reserve(size_t total) {
    if (grow_ != nullptr) {
      grow_->resize(total);
      return grow_->data();
    }
    if (dst_.size() >= total) return dst_.data();
    std::vector<uint8_t>& s = scratch();
    if (s.size() < total) s.resize(total);
    used_scratch_ = true;
    return s.data();
  }

  // After a decode of `total` bytes into reserve(total): truncates into or zero-pads the span.
  void finish(size_t total) noexcept {
    if (grow_ != nullptr) return;
    if (used_scratch_) {
      std::vector<uint8_t>& s = scratch();
      if (!dst_.empty()) std::memcpy(dst_.data(), s.data(), std::min(total, dst_.size()));
      if (s.capacity() > kKeepScratchBytes) std::vector<uint8_t>().swap(s);
      used_scratch_ = false;
    }
    if (dst_.size() > total) std::memset(dst_.data() + total, 0, dst_.size() - total);
  }

 private:
  static constexpr size_t kKeepScratchBytes = size_t{16} << 20;
  static std::vector<uint8_t>& scratch() {
    thread_local std::vector<uint8_t> s;
    return s;
  }

  std::span<uint8_t> dst_;
  std::vector<uint8_t>* grow_ = nullptr;
  bool used_scratch_ = false;
};

// Returns false with err->message set on failure; on success the pixels are in `sink`.
bool png_decode(PngSource* src, PngError* err, PixelSink* sink, ImageInfo* info) {
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, err, png_on_error, png_on_warning);
  if (png == nullptr) {
    std::snprintf(err->message, sizeof err->message, "png_create_read_struct failed");
    return false;
  }
  png_infop info_ptr = png_create_info_struct(png);
  png_bytep* volatile rows = nullptr;
  if (setjmp(err->jump)) {
    std::free(rows);
    png_destroy_read_struct(&png, &info_ptr, nullptr);
    return false;
  }
  if (info_ptr == nullptr) png_error(png, "png_create_info_struct failed");
  png_set_read_fn(png, src, png_read_from);
  png_read_info(png, info_ptr);
  png_set_expand(png);  // palette -> RGB(A), grey < 8 bits -> 8 bits, tRNS -> alpha
  png_set_strip_16(png);  // 16 -> 8 bits: the high byte
  png_set_interlace_handling(png);
  png_read_update_info(png, info_ptr);
  const png_uint_32 width = png_get_image_width(png, info_ptr);
  const png_uint_32 height = png_get_image_height(png, info_ptr);
  const int channels = png_get_channels(png, info_ptr);
  if (static_cast<int64_t>(width) * height > kMaxPixels) png_error(png, "image too large");
  if (png_get_rowbytes(png, info_ptr) != static_cast<size_t>(width) * channels) {
    png_error(png, "unexpected row layout");
  }
  info->height = height;
  info->width = width;
  info->channels = channels;
  uint8_t* pixels = nullptr;
  try {
    pixels = sink->reserve(static_cast<size_t>(width) * height * channels);
  } catch (const std::bad_alloc&) {
  }
  if (pixels == nullptr) png_error(png, "out of memory");
  rows = static_cast<png_bytep*>(std::malloc(sizeof(png_bytep) * (height ? height : 1)));
  if (rows == nullptr) png_error(png, "out of memory");
  for (png_uint_32 y = 0; y < height; ++y) {
    rows[y] = pixels + static_cast<size_t>(y) * width * channels;
  }
  png_read_image(png, rows);
  png_read_end(png, nullptr);
  std::free(rows);
  png_destroy_read_struct(&png, &info_ptr, nullptr);
  return true;
}

struct JpegError {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void jpeg_on_error(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegError*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

void jpeg_on_message(j_common_ptr, int) {}

// Sets the output colour space after jpeg_read_header: grey stays grey, YCbCr and RGB give RGB.
// Returns false with err->message set for any other (CMYK, YCCK).
bool jpeg_choose_output(jpeg_decompress_struct* cinfo, JpegError* err) {
  if (cinfo->jpeg_color_space == JCS_GRAYSCALE) {
    cinfo->out_color_space = JCS_GRAYSCALE;
    return true;
  }
  if (cinfo->jpeg_color_space == JCS_YCbCr || cinfo->jpeg_color_space == JCS_RGB) {
    cinfo->out_color_space = JCS_RGB;
    return true;
  }
  std::snprintf(err->message, sizeof err->message,
                "unsupported JPEG colour space %d (expected greyscale, YCbCr or RGB)",
                static_cast<int>(cinfo->jpeg_color_space));
  return false;
}

// Decodes a JPEG with libjpeg's default settings into `sink`. The reference reads one scanline
// per jpeg_read_scanlines call, as the decoder always did; otherwise every remaining row is
// offered to each call, which lets libjpeg-turbo hand out several rows at once (same pixels).
// A fresh decompressor per image, on purpose: a reused one keeps the previous image's
// quantisation and Huffman tables, so a JPEG missing its own would decode with a stranger's
// instead of failing.
bool jpeg_decode(const uint8_t* data, size_t size, JpegError* err, PixelSink* sink,
                 ImageInfo* info, bool one_row_per_call) {
  jpeg_decompress_struct cinfo;
  cinfo.err = jpeg_std_error(&err->mgr);
  err->mgr.error_exit = jpeg_on_error;
  err->mgr.emit_message = jpeg_on_message;
  JSAMPROW* volatile rows = nullptr;
  if (setjmp(err->jump)) {
    std::free(rows);
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  if (!jpeg_choose_output(&cinfo, err)) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_start_decompress(&cinfo);
  const int64_t width = cinfo.output_width;
  const int64_t height = cinfo.output_height;
  const int64_t channels = cinfo.output_components;
  if (width * height > kMaxPixels) {
    std::snprintf(err->message, sizeof err->message, "image too large");
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  info->height = height;
  info->width = width;
  info->channels = channels;
  uint8_t* pixels = nullptr;
  try {
    pixels = sink->reserve(static_cast<size_t>(width * height * channels));
  } catch (const std::bad_alloc&) {
  }
  rows = static_cast<JSAMPROW*>(std::malloc(sizeof(JSAMPROW) * static_cast<size_t>(height)));
  if (pixels == nullptr || rows == nullptr) {
    std::snprintf(err->message, sizeof err->message, "out of memory");
    std::free(rows);
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  const size_t row_bytes = static_cast<size_t>(width * channels);
  for (int64_t y = 0; y < height; ++y) rows[y] = pixels + static_cast<size_t>(y) * row_bytes;
  while (cinfo.output_scanline < cinfo.output_height) {
    const JDIMENSION left = cinfo.output_height - cinfo.output_scanline;
    jpeg_read_scanlines(&cinfo, rows + cinfo.output_scanline, one_row_per_call ? 1 : left);
  }
  jpeg_finish_decompress(&cinfo);
  std::free(rows);
  jpeg_destroy_decompress(&cinfo);
  return true;
}

ImageInfo decode_jpeg(std::string_view bytes, const std::string& where, PixelSink* sink,
                      bool one_row_per_call) {
  JpegError err{};
  ImageInfo info;
  if (!jpeg_decode(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), &err, sink,
                   &info, one_row_per_call)) {
    throw FormatError(where, -1, fmt::format("JPEG image does not decode: {}", err.message));
  }
  sink->finish(static_cast<size_t>(info.size()));
  return info;
}

[[noreturn]] void throw_not_an_image(std::string_view bytes, const std::string& where) {
  std::string head;
  for (size_t i = 0; i < std::min<size_t>(bytes.size(), 4); ++i) {
    head += fmt::format("{:02x}", static_cast<unsigned char>(bytes[i]));
  }
  throw FormatError(where, -1,
                    fmt::format("expected PNG or JPEG image bytes, found {} bytes starting {}",
                                bytes.size(), head.empty() ? "(empty)" : head));
}

ImageInfo decode_png_libpng(std::string_view bytes, const std::string& where, PixelSink* sink) {
  PngSource src{reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), 0};
  PngError err{};
  ImageInfo info;
  if (!png_decode(&src, &err, sink, &info)) {
    throw FormatError(where, -1, fmt::format("PNG image does not decode: {}", err.message));
  }
  sink->finish(static_cast<size_t>(info.size()));
  return info;
}

ImageInfo decode_to_sink(std::string_view bytes, const std::string& where, PixelSink* sink) {
  switch (sniff_image(bytes)) {
    case ImageFormat::kPng: {
      if (std::optional<PlainPng> plain = probe_plain_png(bytes)) {
        const ImageInfo info{plain->height, plain->width, plain->channels};
        if (decode_plain_png(bytes, *plain, sink->reserve(static_cast<size_t>(info.size())))) {
          sink->finish(static_cast<size_t>(info.size()));
          return info;
        }
      }
      return decode_png_libpng(bytes, where, sink);  // everything else, and every error
    }
    case ImageFormat::kJpeg:
      return decode_jpeg(bytes, where, sink, false);
    case ImageFormat::kUnknown:
      break;
  }
  throw_not_an_image(bytes, where);
}

}  // namespace

ImageFormat sniff_image(std::string_view bytes) noexcept {
  static constexpr unsigned char kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (bytes.size() >= 8 && std::memcmp(bytes.data(), kPng, 8) == 0) return ImageFormat::kPng;
  if (bytes.size() >= 3 && static_cast<unsigned char>(bytes[0]) == 0xFF &&
      static_cast<unsigned char>(bytes[1]) == 0xD8 && static_cast<unsigned char>(bytes[2]) == 0xFF) {
    return ImageFormat::kJpeg;
  }
  return ImageFormat::kUnknown;
}

ImageInfo decode_image_into(std::string_view bytes, const std::string& where,
                            std::span<uint8_t> dst) {
  PixelSink sink(dst);
  return decode_to_sink(bytes, where, &sink);
}

ImageInfo decode_image_into(std::string_view bytes, const std::string& where,
                            std::span<int64_t> dst) {
  thread_local std::vector<uint8_t> narrow;
  PixelSink sink(&narrow);
  const ImageInfo info = decode_to_sink(bytes, where, &sink);
  const size_t n = std::min(static_cast<size_t>(info.size()), dst.size());
  for (size_t i = 0; i < n; ++i) dst[i] = narrow[i];
  std::fill(dst.begin() + static_cast<std::ptrdiff_t>(n), dst.end(), int64_t{0});
  if (narrow.capacity() > (size_t{16} << 20)) std::vector<uint8_t>().swap(narrow);
  return info;
}

DecodedImage decode_image(std::string_view bytes, const std::string& where) {
  DecodedImage out;
  PixelSink sink(&out.pixels);
  const ImageInfo info = decode_to_sink(bytes, where, &sink);
  out.height = info.height;
  out.width = info.width;
  out.channels = info.channels;
  return out;
}

DecodedImage decode_image_reference(std::string_view bytes, const std::string& where) {
  DecodedImage out;
  PixelSink sink(&out.pixels);
  ImageInfo info;
  switch (sniff_image(bytes)) {
    case ImageFormat::kPng:
      info = decode_png_libpng(bytes, where, &sink);
      break;
    case ImageFormat::kJpeg:
      info = decode_jpeg(bytes, where, &sink, true);
      break;
    case ImageFormat::kUnknown:
      throw_not_an_image(bytes, where);
  }
  out.height = info.height;
  out.width = info.width;
  out.channels = info.channels;
  return out;
}

std::string check_image_shape(int64_t height, int64_t width, int64_t channels, size_t pixel_bytes) {
  constexpr int64_t kMaxSide = std::numeric_limits<int32_t>::max();
  if (height <= 0 || width <= 0 || height > kMaxSide || width > kMaxSide || channels < 1 ||
      channels > 4) {
    return fmt::format(
        "image pixels {}x{}x{}: expected height and width in 1..{} and 1..4 channels", height,
        width, channels, kMaxSide);
  }
  // Both sides are below 2^31, so the product fits int64; the byte count is computed only once
  // the pixel count is bounded.
  const int64_t pixels = height * width;
  if (pixels > kMaxImagePixels) {
    return fmt::format("image pixels {}x{}x{}: {} pixels, expected at most {}", height, width,
                       channels, pixels, kMaxImagePixels);
  }
  const int64_t bytes = pixels * channels;
  if (pixel_bytes != static_cast<size_t>(bytes)) {
    return fmt::format("image pixels {}x{}x{} need {} bytes, got {}", height, width, channels,
                       bytes, pixel_bytes);
  }
  return {};
}

std::string encode_png(const uint8_t* pixels, size_t pixel_bytes, int64_t height, int64_t width,
                       int64_t channels) {
  if (std::string problem = check_image_shape(height, width, channels, pixel_bytes);
      !problem.empty()) {
    throw InvalidArgument(fmt::format("encode_png: {}", problem));
  }
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  image.width = static_cast<png_uint_32>(width);
  image.height = static_cast<png_uint_32>(height);
  static constexpr png_uint_32 kFormats[] = {PNG_FORMAT_GRAY, PNG_FORMAT_GA, PNG_FORMAT_RGB,
                                             PNG_FORMAT_RGBA};
  image.format = kFormats[channels - 1];
  image.flags = PNG_IMAGE_FLAG_FAST;
  png_alloc_size_t size = 0;
  if (!png_image_write_to_memory(&image, nullptr, &size, 0, pixels, 0, nullptr)) {
    std::string msg = image.message;
    png_image_free(&image);
    throw InvalidArgument(fmt::format("encode_png: libpng failed: {}", msg));
  }
  std::string out(size, '\0');
  if (!png_image_write_to_memory(&image, out.data(), &size, 0, pixels, 0, nullptr)) {
    std::string msg = image.message;
    png_image_free(&image);
    throw InvalidArgument(fmt::format("encode_png: libpng failed: {}", msg));
  }
  out.resize(size);
  return out;
}

}  // namespace mouse::detail
