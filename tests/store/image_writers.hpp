// Image writers for the store tests: PNGs of every colour type, depth, palette / tRNS variant and
// interlacing through libpng's full writer, and JPEGs through libjpeg.
#pragma once

#include <gtest/gtest.h>
#include <jpeglib.h>
#include <png.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace mouse::test {


// A small deterministic generator for pixel bytes (xorshift).
struct Bytes {
  uint32_t s;
  uint8_t next() {
    s ^= s << 13;
    s ^= s >> 17;
    s ^= s << 5;
    return static_cast<uint8_t>(s >> 7);
  }
};

struct PngCase {
  std::string name;
  int width = 0, height = 0, depth = 8, colour = PNG_COLOR_TYPE_RGB;
  bool interlace = false;
  int palette = 0;   // palette entries (colour type 3)
  int trans = -1;    // tRNS: palette alpha entries, or 0 for a colour key; -1: none
  int filters = PNG_ALL_FILTERS;
  int level = 6;
  size_t idat = 8192;  // IDAT chunk size
  bool smooth = false; // gradients (compress well, pick Sub/Up/Paeth) rather than noise
  bool ancillary = false;  // gAMA, tEXt and an unknown ancillary chunk
};

inline int png_channels(int colour) {
  switch (colour) {
    case PNG_COLOR_TYPE_GRAY: return 1;
    case PNG_COLOR_TYPE_GRAY_ALPHA: return 2;
    case PNG_COLOR_TYPE_RGB: return 3;
    case PNG_COLOR_TYPE_RGB_ALPHA: return 4;
    default: return 1;  // palette indices
  }
}

inline void append_to_string(png_structp png, png_bytep data, png_size_t n) {
  static_cast<std::string*>(png_get_io_ptr(png))->append(reinterpret_cast<const char*>(data), n);
}

// PNG bytes for `c`, written with libpng's full writer (not the simplified API encode_png uses).
inline std::string write_png(const PngCase& c, uint32_t seed) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  std::string out;
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    ADD_FAILURE() << "libpng could not write case " << c.name;
    return {};
  }
  png_set_write_fn(png, &out, append_to_string, nullptr);
  png_set_IHDR(png, info, static_cast<png_uint_32>(c.width), static_cast<png_uint_32>(c.height),
               c.depth, c.colour, c.interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_set_filter(png, 0, c.filters);
  png_set_compression_level(png, c.level);
  png_set_compression_buffer_size(png, c.idat);
  Bytes gen{seed * 2654435761u + 1};
  std::vector<png_color> palette(static_cast<size_t>(c.palette));
  for (auto& p : palette) p = {gen.next(), gen.next(), gen.next()};
  if (c.colour == PNG_COLOR_TYPE_PALETTE) png_set_PLTE(png, info, palette.data(), c.palette);
  const size_t row_bytes =
      (static_cast<size_t>(c.width) * png_channels(c.colour) * c.depth + 7) / 8;
  std::vector<uint8_t> pixels(row_bytes * static_cast<size_t>(c.height));
  const int max_index = c.colour == PNG_COLOR_TYPE_PALETTE ? c.palette : 256;
  for (size_t y = 0; y < static_cast<size_t>(c.height); ++y) {
    for (size_t i = 0; i < row_bytes; ++i) {
      uint8_t v = c.smooth ? static_cast<uint8_t>(y * 3 + i / 3 + (gen.next() & 3)) : gen.next();
      if (c.colour == PNG_COLOR_TYPE_PALETTE && c.depth == 8) v = static_cast<uint8_t>(v % max_index);
      pixels[y * row_bytes + i] = v;
    }
  }
  if (c.colour == PNG_COLOR_TYPE_PALETTE && c.depth < 8) {
    // Packed indices beyond the palette are allowed by libpng; keep them in range anyway.
    const int per_byte = 8 / c.depth;
    for (auto& b : pixels) {
      uint8_t packed = 0;
      for (int k = 0; k < per_byte; ++k) {
        packed = static_cast<uint8_t>((packed << c.depth) | (gen.next() % max_index));
      }
      b = packed;
    }
  }
  png_color_16 key{};
  std::vector<png_byte> alphas;
  if (c.trans >= 0) {
    if (c.colour == PNG_COLOR_TYPE_PALETTE) {
      for (int i = 0; i < c.trans; ++i) alphas.push_back(gen.next());
      png_set_tRNS(png, info, alphas.data(), c.trans, nullptr);
    } else {
      // The colour key is the first pixel, so some pixels do become transparent.
      auto sample = [&](int k) -> png_uint_16 {
        if (c.depth == 16) return static_cast<png_uint_16>(pixels[2 * k] << 8 | pixels[2 * k + 1]);
        if (c.depth == 8) return pixels[static_cast<size_t>(k)];
        return static_cast<png_uint_16>(pixels[0] >> (8 - c.depth));
      };
      if (c.colour == PNG_COLOR_TYPE_GRAY) {
        key.gray = sample(0);
      } else {
        key.red = sample(0);
        key.green = sample(1);
        key.blue = sample(2);
      }
      png_set_tRNS(png, info, nullptr, 0, &key);
    }
  }
  if (c.ancillary) {
    png_set_gAMA(png, info, 0.45455);
    png_text text{};
    text.compression = PNG_TEXT_COMPRESSION_NONE;
    text.key = const_cast<char*>("Comment");
    text.text = const_cast<char*>("written by image_decode_test");
    png_set_text(png, info, &text, 1);
    png_unknown_chunk unknown{};
    std::memcpy(unknown.name, "zzZz", 5);
    static png_byte kData[3] = {1, 2, 3};
    unknown.data = kData;
    unknown.size = 3;
    unknown.location = PNG_HAVE_IHDR;
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_ALWAYS, nullptr, 0);
    png_set_unknown_chunks(png, info, &unknown, 1);
  }
  png_write_info(png, info);
  std::vector<png_bytep> rows(static_cast<size_t>(c.height));
  for (size_t y = 0; y < rows.size(); ++y) rows[y] = pixels.data() + y * row_bytes;
  png_write_image(png, rows.data());
  png_write_end(png, info);
  png_destroy_write_struct(&png, &info);
  return out;
}

inline std::string write_jpeg(int width, int height, int channels, int quality, int subsampling,
                       bool progressive, uint32_t seed) {
  jpeg_compress_struct cinfo;
  jpeg_error_mgr jerr;
  cinfo.err = jpeg_std_error(&jerr);
  jpeg_create_compress(&cinfo);
  unsigned char* out = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&cinfo, &out, &size);
  cinfo.image_width = static_cast<JDIMENSION>(width);
  cinfo.image_height = static_cast<JDIMENSION>(height);
  cinfo.input_components = channels;
  cinfo.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  if (channels == 3) {  // 0: 4:4:4, 1: 4:2:2, 2: 4:2:0
    cinfo.comp_info[0].h_samp_factor = subsampling == 0 ? 1 : 2;
    cinfo.comp_info[0].v_samp_factor = subsampling == 2 ? 2 : 1;
  }
  if (progressive) jpeg_simple_progression(&cinfo);
  jpeg_start_compress(&cinfo, TRUE);
  Bytes gen{seed + 17};
  std::vector<uint8_t> row(static_cast<size_t>(width * channels));
  while (cinfo.next_scanline < cinfo.image_height) {
    for (size_t i = 0; i < row.size(); ++i) {
      row[i] = static_cast<uint8_t>(cinfo.next_scanline * 2 + i + (gen.next() & 15));
    }
    JSAMPROW p = row.data();
    jpeg_write_scanlines(&cinfo, &p, 1);
  }
  jpeg_finish_compress(&cinfo);
  std::string bytes(reinterpret_cast<char*>(out), size);
  jpeg_destroy_compress(&cinfo);
  std::free(out);
  return bytes;
}

}  // namespace mouse::test
