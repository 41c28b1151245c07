// The hot loops of TokenAugmenter: from the input field to the freshly allocated output field,
// applying mask + transform. Masks arrive as sorted lists of masked [b, s] positions, so the
// element loops carry no per-row mask test and vectorise (the transform is inlined). Inputs are
// validated before these run, so they are noexcept.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>

#include "augment/byte_table.hpp"

namespace mouse::detail::augment {

/// Rows of at least this many elements are written run by run, each element once; shorter rows
/// are transformed in one pass over the whole field and the masked rows overwritten after,
/// which beats a loop per run when runs are a few elements long.
inline constexpr int64_t kRunMinInner = 16;

/// The row walk of map_rows with the transform given in bulk: `bulk(src, dst, count)` writes
/// dst[i] = f(src[i]) for i in [0, count), and `masked_out` is f(masked_value).
template <class T, class Bulk>
inline void map_rows_bulk(const T* in, T* out, int64_t rows, int64_t inner,
                          std::span<const int64_t> masked, T masked_out, Bulk bulk) noexcept {
  if (rows * inner == 0) return;
  if (inner < kRunMinInner) {
    bulk(in, out, rows * inner);
    if (inner == 1) {
      for (int64_t r : masked) out[r] = masked_out;
    } else {
      for (int64_t r : masked) std::fill_n(out + r * inner, inner, masked_out);
    }
    return;
  }
  int64_t begin = 0;  // first row of the current unmasked run
  for (int64_t r : masked) {
    bulk(in + begin * inner, out + begin * inner, (r - begin) * inner);
    std::fill_n(out + r * inner, inner, masked_out);
    begin = r + 1;
  }
  bulk(in + begin * inner, out + begin * inner, (rows - begin) * inner);
}

/// out[r, i] = f(in[r, i]) for rows r not in `masked`, f(masked_value) for every element of the
/// rows in `masked` (sorted, distinct, each in [0, rows); empty: nothing masked). `rows * inner`
/// elements each.
template <class T, class F>
inline void map_rows(const T* in, T* out, int64_t rows, int64_t inner,
                     std::span<const int64_t> masked, T masked_value, F f) noexcept {
  map_rows_bulk(in, out, rows, inner, masked, f(masked_value),
                [f](const T* src, T* dst, int64_t count) {
                  if (src == dst) {
                    // In place through one pointer: with two equal ones the compiler's overlap
                    // check sends the loop down its scalar path.
                    for (int64_t i = 0; i < count; ++i) dst[i] = f(dst[i]);
                  } else {
                    for (int64_t i = 0; i < count; ++i) dst[i] = f(src[i]);
                  }
                });
}

/// map_rows with the identity: a masked copy (memcpy for unmasked rows; in == out only writes
/// the masked rows).
template <class T>
inline void copy_rows_masked(const T* in, T* out, int64_t rows, int64_t inner,
                             std::span<const int64_t> masked, T masked_value) noexcept {
  if (rows * inner == 0) return;  // the pointers may be null then
  auto copy = [in, out, inner](int64_t first_row, int64_t end_row) {
    if (end_row > first_row && in != out) {  // in == out: in place, nothing to copy
      std::memcpy(out + first_row * inner, in + first_row * inner,
                  static_cast<size_t>((end_row - first_row) * inner) * sizeof(T));
    }
  };
  if (inner < kRunMinInner) {
    copy(0, rows);
    if (inner == 1) {
      for (int64_t r : masked) out[r] = masked_value;
    } else {
      for (int64_t r : masked) std::fill_n(out + r * inner, inner, masked_value);
    }
    return;
  }
  int64_t begin = 0;
  for (int64_t r : masked) {
    copy(begin, r);
    std::fill_n(out + r * inner, inner, masked_value);
    begin = r + 1;
  }
  copy(begin, rows);
}

/// Masks and permutes integer codes: out = perm[b][masked ? masked_value : in] for a [B, S, inner]
/// field whose values (and `masked_value`) are all in [0, n) (checked by the caller); `perm` is
/// [B, n] row-major; `masked` holds masked [b, s] positions as b * S + s, as in map_rows.
inline void permute_codes(const int64_t* in, int64_t* out, int64_t batch, int64_t seq,
                          int64_t inner, std::span<const int64_t> masked, int64_t masked_value,
                          const int64_t* perm, int64_t n) noexcept {
  const int64_t per_row = seq * inner;
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t* p = perm + b * n;
    const int64_t* src = in + b * per_row;
    int64_t* dst = out + b * per_row;
    if (n == 2) {
      // Two codes (CartPole's actions): kept, or swapped by flipping bit 0; no table load.
      const int64_t flip = p[0];
      if (src == dst) {  // in place through one pointer (see map_rows)
        if (flip != 0) {
          for (int64_t i = 0; i < per_row; ++i) dst[i] ^= flip;
        }
      } else {
        for (int64_t i = 0; i < per_row; ++i) dst[i] = src[i] ^ flip;
      }
    } else {
      for (int64_t i = 0; i < per_row; ++i) dst[i] = p[src[i]];
    }
  }
  // Masked positions are overwritten afterwards (code fields are narrow: see kRunMinInner).
  // They increase, so the row follows them without a division per position.
  int64_t b = 0;
  int64_t row_end = seq;  // first position past row b
  for (int64_t pos : masked) {
    while (pos >= row_end) {
      ++b;
      row_end += seq;
    }
    std::fill_n(out + pos * inner, inner, perm[b * n + masked_value]);
  }
}

/// q_star target permutation: out[b, s, perm[b][a]] = in[b, s, a] for a in [0, n); `perm` rows
/// are permutations of [0, n) (checked by the caller).
inline void permute_columns(const float* in, float* out, int64_t batch, int64_t seq,
                            const int64_t* perm, int64_t n) noexcept {
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t* p = perm + b * n;
    const float* src = in + b * seq * n;
    float* dst = out + b * seq * n;
    if (n == 2) {
      // Two actions (CartPole): the row is kept or each pair of floats swapped, 64 bits at once.
      if (p[0] == 0) {
        std::memcpy(dst, src, static_cast<size_t>(seq * n) * sizeof(float));
      } else {
        for (int64_t s = 0; s < seq; ++s) {
          uint64_t pair;
          std::memcpy(&pair, src + 2 * s, sizeof pair);
          pair = std::rotl(pair, 32);
          std::memcpy(dst + 2 * s, &pair, sizeof pair);
        }
      }
    } else if (n < 8) {
      // Few actions: a loop over n columns per step is mostly loop overhead, so move one
      // column at a time down the whole sequence instead.
      for (int64_t a = 0; a < n; ++a) {
        const float* from = src + a;
        float* to = dst + p[a];
        for (int64_t s = 0; s < seq; ++s) to[s * n] = from[s * n];
      }
    } else {
      for (int64_t s = 0; s < seq; ++s) {
        for (int64_t a = 0; a < n; ++a) dst[s * n + p[a]] = src[s * n + a];
      }
    }
  }
}

/// permute_codes for a packed batch: window b holds rows [cu[b], cu[b+1]) and uses perm row b;
/// `masked` holds masked packed rows (increasing), `sid` the window of each row.
inline void permute_codes_packed(const int64_t* in, int64_t* out, int64_t batch,
                                 const int32_t* cu, const int64_t* sid, int64_t inner,
                                 std::span<const int64_t> masked, int64_t masked_value,
                                 const int64_t* perm, int64_t n) noexcept {
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t* p = perm + b * n;
    for (int64_t i = cu[b] * inner; i < cu[b + 1] * inner; ++i) out[i] = p[in[i]];
  }
  for (int64_t row : masked) {
    std::fill_n(out + row * inner, inner, perm[sid[row] * n + masked_value]);
  }
}

/// permute_columns for a packed batch (windows as in permute_codes_packed).
inline void permute_columns_packed(const float* in, float* out, int64_t batch, const int32_t* cu,
                                   const int64_t* perm, int64_t n) noexcept {
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t* p = perm + b * n;
    for (int64_t r = cu[b]; r < cu[b + 1]; ++r) {
      for (int64_t a = 0; a < n; ++a) out[r * n + p[a]] = in[r * n + a];
    }
  }
}

/// Index of the first value outside [0, n) in `values[0, count)`, or -1.
inline int64_t first_out_of_range(const int64_t* values, int64_t count, int64_t n) noexcept {
  if (count <= 0) return -1;
  // Branch-free scan; the position is searched only when something is wrong. 0 <= v <= n - 1
  // exactly when neither v nor (n - 1) - v has the sign bit set (in uint64 arithmetic, so
  // nothing overflows); OR-ing those needs no 64-bit compare, which SSE2 lacks, so it vectorises.
  const auto last = static_cast<uint64_t>(n) - 1;
  uint64_t bits = 0;
  for (int64_t i = 0; i < count; ++i) {
    const auto v = static_cast<uint64_t>(values[i]);
    bits |= v | (last - v);
  }
  if ((bits >> 63) == 0) return -1;
  const auto limit = static_cast<uint64_t>(n);  // negative values wrap to huge ones
  for (int64_t i = 0; i < count; ++i) {
    if (static_cast<uint64_t>(values[i]) >= limit) return i;
  }
  return -1;
}

/// x -> x * scale, then + shift (each step rounded to T, as two separate operations); the
/// flags skip an inactive step. T is float or double.
template <class T>
inline void scale_shift_rows(const T* in, T* out, int64_t rows, int64_t inner,
                             std::span<const int64_t> masked, bool has_scale, T scale,
                             bool has_shift, T shift) noexcept {
  if (has_scale && has_shift) {
    map_rows(in, out, rows, inner, masked, T(0), [=](T v) {
      const T scaled = v * scale;
      return scaled + shift;
    });
  } else if (has_scale) {
    map_rows(in, out, rows, inner, masked, T(0), [=](T v) { return v * scale; });
  } else if (has_shift) {
    map_rows(in, out, rows, inner, masked, T(0), [=](T v) { return v + shift; });
  } else {
    copy_rows_masked(in, out, rows, inner, masked, T(0));
  }
}

/// Rounds to the nearest integer (ties to even, as torch.round) and clamps to [0, 255]. Clamping
/// first is equivalent (both bounds are integers) and keeps |v| < 2^23, where adding and
/// subtracting 2^23 rounds exactly under the default rounding mode; unlike nearbyint this
/// vectorises without SSE4.1.
inline float round_clamp_255(float v) noexcept {
  v = std::min(std::max(v, 0.0f), 255.0f);
  return (v + 0x1.0p23f) - 0x1.0p23f;
}

/// map_rows for pixels through a 256-entry table of `f` (f must map into [0, 255]): every
/// uint8 value, and every int64 value in [0, 255], is looked up (ByteTable: 32 at a time
/// with AVX2); other int64 values call `f`. One pass, and bit-identical to calling `f`
/// everywhere.
template <class T, class F>
inline void lut_rows(const T* in, T* out, int64_t rows, int64_t inner,
                     std::span<const int64_t> masked, F f) noexcept {
  T lut[256];
  for (int v = 0; v < 256; ++v) lut[v] = f(static_cast<T>(v));
  if constexpr (std::is_same_v<T, uint8_t>) {
    const ByteTable table(lut);
    map_rows_bulk(in, out, rows, inner, masked, lut[0],
                  [&table](const uint8_t* src, uint8_t* dst, int64_t count) {
                    table.apply(src, dst, count);
                  });
  } else {
    // Runs of 32 pixels in [0, 255] through the byte table (AVX2); the rest one by one.
    uint8_t bytes[256];
    for (int v = 0; v < 256; ++v) bytes[v] = static_cast<uint8_t>(lut[v]);
    const ByteTable table(bytes);
    auto one = [&lut, f](T x) {
      const auto u = static_cast<uint64_t>(x);
      return u < 256 ? lut[u] : f(x);
    };
    map_rows_bulk(in, out, rows, inner, masked, lut[0],
                  [&table, one](const T* src, T* dst, int64_t count) {
                    int64_t i = 0;
                    while (i < count) {
                      i += table.apply_in_range(src + i, dst + i, count - i);
                      for (const int64_t end = std::min(count, i + 32); i < end; ++i) {
                        dst[i] = one(src[i]);
                      }
                    }
                  });
  }
}

/// obs_image pixels (int64 or uint8): in float32, x * scale then round-and-clamp, then + shift
/// then round-and-clamp; an inactive step is skipped (no rounding or clamping for it).
template <class T>
inline void image_rows(const T* in, T* out, int64_t rows, int64_t inner,
                       std::span<const int64_t> masked, bool has_scale, float scale,
                       bool has_shift, float shift) noexcept {
  static_assert(std::is_same_v<T, int64_t> || std::is_same_v<T, uint8_t>);
  // Results are in [0, 255]: converting through int32 is exact.
  auto to_t = [](float v) { return static_cast<T>(static_cast<int32_t>(v)); };
  if (has_scale && has_shift) {
    lut_rows(in, out, rows, inner, masked, [=](T x) {
      const float v = round_clamp_255(static_cast<float>(x) * scale);
      return to_t(round_clamp_255(v + shift));
    });
  } else if (has_scale) {
    lut_rows(in, out, rows, inner, masked,
             [=](T x) { return to_t(round_clamp_255(static_cast<float>(x) * scale)); });
  } else if (has_shift) {
    lut_rows(in, out, rows, inner, masked,
             [=](T x) { return to_t(round_clamp_255(static_cast<float>(x) + shift)); });
  } else {
    copy_rows_masked(in, out, rows, inner, masked, T(0));
  }
}

}  // namespace mouse::detail::augment
