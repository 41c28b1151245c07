// Helpers for the envs tests: an independent FrozenLake model and value iteration, PNG
// decoding with libpng, and column access.
#pragma once

#include <gtest/gtest.h>
#include <png.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <csetjmp>
#include <cstring>
#include <string>
#include <vector>

#include "mouse/arrow.hpp"
#include "mouse/dataset.hpp"

namespace mouse::test {

/// gym's maps, written out again here so the tests do not trust the library's copy.
inline std::vector<std::string> lake_map(int size) {
  if (size == 4) return {"SFFF", "FHFH", "FFFH", "HFFG"};
  return {"SFFFFFFF", "FFFFFFFF", "FFFHFFFF", "FFFFFHFF",
          "FFFHFFFF", "FHHFFFHF", "FHFFHFHF", "FFFHFFFG"};
}

/// The cell reached from (r, c) by direction d (0 left, 1 down, 2 right, 3 up), clamped.
inline int lake_move(int n, int s, int d) {
  const int dr[] = {0, 1, 0, -1};
  const int dc[] = {-1, 0, 1, 0};
  const int r = std::clamp(s / n + dr[d], 0, n - 1);
  const int c = std::clamp(s % n + dc[d], 0, n - 1);
  return r * n + c;
}

/// Q* of the n x n lake by Gauss-Seidel value iteration on V, then Q from V (a different
/// scheme from the library's Jacobi sweep over Q, converging to the same fixed point).
inline std::vector<double> reference_q_star(int n, bool slippery, double gamma) {
  const auto map = lake_map(n);
  auto letter = [&](int s) { return map[static_cast<size_t>(s / n)][static_cast<size_t>(s % n)]; };
  auto terminal = [&](int s) { return letter(s) == 'H' || letter(s) == 'G'; };
  auto q_of = [&](const std::vector<double>& v, int s, int a) {
    if (terminal(s)) return 0.0;
    double q = 0;
    const std::vector<int> dirs = slippery ? std::vector<int>{(a + 3) % 4, a, (a + 1) % 4}
                                           : std::vector<int>{a};
    for (int d : dirs) {
      const int t = lake_move(n, s, d);
      const double r = letter(t) == 'G' ? 1.0 : 0.0;
      q += (r + (terminal(t) ? 0.0 : gamma * v[static_cast<size_t>(t)])) / static_cast<double>(dirs.size());
    }
    return q;
  };
  std::vector<double> v(static_cast<size_t>(n * n), 0.0);
  for (int it = 0; it < 200000; ++it) {
    double delta = 0;
    for (int s = 0; s < n * n; ++s) {
      double best = 0;
      for (int a = 0; a < 4; ++a) best = std::max(best, q_of(v, s, a));
      delta = std::max(delta, std::abs(best - v[static_cast<size_t>(s)]));
      v[static_cast<size_t>(s)] = best;
    }
    if (delta < 1e-13) break;
  }
  std::vector<double> q;
  for (int s = 0; s < n * n; ++s) {
    for (int a = 0; a < 4; ++a) q.push_back(q_of(v, s, a));
  }
  return q;
}

/// A decoded PNG: width, height, channels and row-major pixels.
struct DecodedPng {
  int width = 0;
  int height = 0;
  int channels = 0;
  std::vector<uint8_t> pixels;

  std::array<uint8_t, 3> rgb(int x, int y) const {
    const uint8_t* p = &pixels[static_cast<size_t>((y * width + x) * channels)];
    return {p[0], p[1], p[2]};
  }
};

namespace detail_png {
struct Reader {
  const std::string* bytes;
  size_t pos;
};
inline void read_bytes(png_structp png, png_bytep out, png_size_t n) {
  auto* r = static_cast<Reader*>(png_get_io_ptr(png));
  if (r->pos + n > r->bytes->size()) png_error(png, "truncated PNG");
  std::memcpy(out, r->bytes->data() + r->pos, n);
  r->pos += n;
}
// Decodes into `out` (pre-sized by the caller from the header); false on a libpng error.
inline bool decode_into(Reader* reader, DecodedPng* out, std::vector<uint8_t>* buffer) {
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    return false;
  }
  png_set_read_fn(png, reader, read_bytes);
  png_read_info(png, info);
  out->width = static_cast<int>(png_get_image_width(png, info));
  out->height = static_cast<int>(png_get_image_height(png, info));
  out->channels = png_get_channels(png, info);
  const size_t row_bytes = png_get_rowbytes(png, info);
  if (buffer->size() < row_bytes * static_cast<size_t>(out->height)) {
    png_destroy_read_struct(&png, &info, nullptr);
    return false;
  }
  for (int y = 0; y < out->height; ++y) png_read_row(png, buffer->data() + row_bytes * static_cast<size_t>(y), nullptr);
  png_read_end(png, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);
  return true;
}
}  // namespace detail_png

/// Decodes an 8-bit PNG with libpng; fails the test on a libpng error.
inline DecodedPng decode_png(const std::string& bytes) {
  DecodedPng out;
  std::vector<uint8_t> buffer(4 * 1024 * 1024);
  detail_png::Reader reader{&bytes, 0};
  EXPECT_TRUE(detail_png::decode_into(&reader, &out, &buffer)) << "libpng failed to decode";
  buffer.resize(static_cast<size_t>(out.width * out.height * out.channels));
  out.pixels = std::move(buffer);
  return out;
}

/// Every value of a primitive column, concatenated over chunks.
template <class T>
std::vector<T> column_values(const Dataset& ds, std::string_view name) {
  std::vector<T> out;
  for (const auto& chunk : ds.column(name).chunks) {
    const T* v = arrow::values<T>(*chunk);
    out.insert(out.end(), v, v + chunk->length);
  }
  return out;
}

/// Every list of a list<float> or fixed_size_list<float> column, as vectors.
inline std::vector<std::vector<float>> list_values(const Dataset& ds, std::string_view name) {
  std::vector<std::vector<float>> out;
  for (const auto& chunk : ds.column(name).chunks) {
    const auto& child = *chunk->children[0];
    const float* items = arrow::values<float>(child);
    for (int64_t i = 0; i < chunk->length; ++i) {
      int64_t b, e;
      if (chunk->type->id == arrow::TypeId::kFixedSizeList) {
        b = (chunk->offset + i) * chunk->type->list_size;
        e = b + chunk->type->list_size;
      } else {
        std::tie(b, e) = arrow::value_range(*chunk, i);
      }
      out.emplace_back(items + b, items + e);
    }
  }
  return out;
}

/// The PNG bytes of every row of an Image column.
inline std::vector<std::string> image_bytes(const Dataset& ds, std::string_view name) {
  std::vector<std::string> out;
  for (const auto& chunk : ds.column(name).chunks) {
    const auto& bytes = *chunk->children[0];
    for (int64_t i = 0; i < chunk->length; ++i) {
      out.emplace_back(arrow::binary_value(bytes, chunk->offset + i));
    }
  }
  return out;
}

}  // namespace mouse::test
