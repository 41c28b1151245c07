// libpng reports errors by longjmp, so the frame that calls setjmp holds only trivially
// destructible locals, and the write callback never lets a C++ exception cross libpng.
#include "envs/png_encode.hpp"

#include <fmt/format.h>
#include <png.h>

#include <csetjmp>
#include <new>

#include "mouse/error.hpp"

namespace mouse::envs::detail {

namespace {

struct Sink {
  std::string* out;
  bool out_of_memory;
};

void write_bytes(png_structp png, png_bytep data, png_size_t length) {
  auto* sink = static_cast<Sink*>(png_get_io_ptr(png));
  bool failed = false;
  try {
    sink->out->append(reinterpret_cast<const char*>(data), length);
  } catch (const std::bad_alloc&) {
    failed = true;
  }
  if (failed) {
    sink->out_of_memory = true;
    png_error(png, "out of memory");
  }
}

void flush_nothing(png_structp) {}

// Returns nullptr on success, else libpng's failure description.
const char* encode(const uint8_t* rgb, int width, int height, Sink* sink) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  if (png == nullptr) return "png_create_write_struct failed";
  png_infop info = png_create_info_struct(png);
  if (info == nullptr) {
    png_destroy_write_struct(&png, nullptr);
    return "png_create_info_struct failed";
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return "libpng reported an error while writing";
  }
  png_set_write_fn(png, sink, write_bytes, flush_nothing);
  png_set_IHDR(png, info, static_cast<png_uint_32>(width), static_cast<png_uint_32>(height), 8,
               PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int y = 0; y < height; ++y) {
    png_write_row(png, rgb + static_cast<size_t>(y) * static_cast<size_t>(width) * 3);
  }
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return nullptr;
}

}  // namespace

std::string encode_png_rgb(std::span<const uint8_t> rgb, int width, int height) {
  if (width <= 0 || height <= 0 ||
      rgb.size() != static_cast<size_t>(width) * static_cast<size_t>(height) * 3) {
    throw InvalidArgument(fmt::format("encode_png_rgb: {} bytes do not hold a {}x{} RGB frame",
                                      rgb.size(), width, height));
  }
  std::string out;
  Sink sink{&out, false};
  if (const char* failure = encode(rgb.data(), width, height, &sink)) {
    if (sink.out_of_memory) throw std::bad_alloc();
    throw Error(fmt::format("encode_png_rgb: {} ({}x{} frame)", failure, width, height));
  }
  return out;
}

}  // namespace mouse::envs::detail
