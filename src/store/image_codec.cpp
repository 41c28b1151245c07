// PNG (libpng) and JPEG (libjpeg-turbo) decoding, PNG encoding.
//
// Both libraries report fatal errors by longjmp. The setjmp frames below keep every object that
// is written after setjmp behind a pointer fixed before it (the output lives in the caller's
// frame), so nothing is left indeterminate when a longjmp lands, and no C++ destructor is
// skipped: the jumps never leave the function that called setjmp.
#include "store/image_codec.hpp"

#include <fmt/format.h>
#include <jpeglib.h>
#include <png.h>

#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <limits>

#include "mouse/error.hpp"

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

// Returns false with err->message set on failure. `out` is filled on success.
bool png_decode(PngSource* src, PngError* err, DecodedImage* out) {
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, err, png_on_error, png_on_warning);
  if (png == nullptr) {
    std::snprintf(err->message, sizeof err->message, "png_create_read_struct failed");
    return false;
  }
  png_infop info = png_create_info_struct(png);
  png_bytep* volatile rows = nullptr;
  if (setjmp(err->jump)) {
    std::free(rows);
    png_destroy_read_struct(&png, &info, nullptr);
    return false;
  }
  if (info == nullptr) png_error(png, "png_create_info_struct failed");
  png_set_read_fn(png, src, png_read_from);
  png_read_info(png, info);
  png_set_expand(png);  // palette -> RGB(A), grey < 8 bits -> 8 bits, tRNS -> alpha
  png_set_strip_16(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  const png_uint_32 width = png_get_image_width(png, info);
  const png_uint_32 height = png_get_image_height(png, info);
  const int channels = png_get_channels(png, info);
  if (static_cast<int64_t>(width) * height > kMaxPixels) png_error(png, "image too large");
  if (png_get_rowbytes(png, info) != static_cast<size_t>(width) * channels) {
    png_error(png, "unexpected row layout");
  }
  out->height = height;
  out->width = width;
  out->channels = channels;
  out->pixels.resize(static_cast<size_t>(width) * height * channels);
  rows = static_cast<png_bytep*>(std::malloc(sizeof(png_bytep) * (height ? height : 1)));
  if (rows == nullptr) png_error(png, "out of memory");
  for (png_uint_32 y = 0; y < height; ++y) {
    rows[y] = out->pixels.data() + static_cast<size_t>(y) * width * channels;
  }
  png_read_image(png, rows);
  png_read_end(png, nullptr);
  std::free(rows);
  png_destroy_read_struct(&png, &info, nullptr);
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

bool jpeg_decode(const uint8_t* data, size_t size, JpegError* err, DecodedImage* out) {
  jpeg_decompress_struct cinfo;
  cinfo.err = jpeg_std_error(&err->mgr);
  err->mgr.error_exit = jpeg_on_error;
  err->mgr.emit_message = jpeg_on_message;
  if (setjmp(err->jump)) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  if (cinfo.jpeg_color_space == JCS_GRAYSCALE) {
    cinfo.out_color_space = JCS_GRAYSCALE;
  } else if (cinfo.jpeg_color_space == JCS_YCbCr || cinfo.jpeg_color_space == JCS_RGB) {
    cinfo.out_color_space = JCS_RGB;
  } else {
    std::snprintf(err->message, sizeof err->message,
                  "unsupported JPEG colour space %d (expected greyscale, YCbCr or RGB)",
                  static_cast<int>(cinfo.jpeg_color_space));
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
  out->height = height;
  out->width = width;
  out->channels = channels;
  out->pixels.resize(static_cast<size_t>(width * height * channels));
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = out->pixels.data() + static_cast<size_t>(cinfo.output_scanline) * width * channels;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return true;
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

DecodedImage decode_image(std::string_view bytes, const std::string& where) {
  DecodedImage out;
  switch (sniff_image(bytes)) {
    case ImageFormat::kPng: {
      PngSource src{reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), 0};
      PngError err{};
      if (!png_decode(&src, &err, &out)) {
        throw FormatError(where, -1, fmt::format("PNG image does not decode: {}", err.message));
      }
      return out;
    }
    case ImageFormat::kJpeg: {
      JpegError err{};
      if (!jpeg_decode(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), &err, &out)) {
        throw FormatError(where, -1, fmt::format("JPEG image does not decode: {}", err.message));
      }
      return out;
    }
    case ImageFormat::kUnknown:
      break;
  }
  std::string head;
  for (size_t i = 0; i < std::min<size_t>(bytes.size(), 4); ++i) {
    head += fmt::format("{:02x}", static_cast<unsigned char>(bytes[i]));
  }
  throw FormatError(where, -1,
                    fmt::format("expected PNG or JPEG image bytes, found {} bytes starting {}",
                                bytes.size(), head.empty() ? "(empty)" : head));
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
