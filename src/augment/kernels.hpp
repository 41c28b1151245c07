// The hot loops of TokenAugmenter: one pass from the input field to the freshly allocated output
// field, applying mask + transform per element. Inputs are validated before these run, so they
// are noexcept and branch only per row (mask) or not at all (the element transform is inlined,
// letting the compiler vectorise the inner loop).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace mouse::detail::augment {

/// out[r, i] = f(in[r, i]) for unmasked rows r, f(masked_value) for every element of a masked
/// row (mask[r] != 0). `mask` may be null (nothing masked). `rows * inner` elements each.
template <class T, class F>
inline void map_rows(const T* in, T* out, int64_t rows, int64_t inner, const uint8_t* mask,
                     T masked_value, F f) noexcept {
  if (inner == 0) return;
  if (inner == 1) {
    // Scalar fields ([B, S]): select, then transform, without a branch per element.
    if (mask == nullptr) {
      for (int64_t r = 0; r < rows; ++r) out[r] = f(in[r]);
    } else {
      for (int64_t r = 0; r < rows; ++r) out[r] = f(mask[r] != 0 ? masked_value : in[r]);
    }
    return;
  }
  const T masked_out = f(masked_value);
  for (int64_t r = 0; r < rows; ++r) {
    const T* src = in + r * inner;
    T* dst = out + r * inner;
    if (mask != nullptr && mask[r] != 0) {
      std::fill(dst, dst + inner, masked_out);
    } else {
      for (int64_t i = 0; i < inner; ++i) dst[i] = f(src[i]);
    }
  }
}

/// map_rows with the identity: a masked copy (memcpy for unmasked rows).
template <class T>
inline void copy_rows_masked(const T* in, T* out, int64_t rows, int64_t inner,
                             const uint8_t* mask, T masked_value) noexcept {
  if (rows * inner == 0) return;  // the pointers may be null then
  if (mask == nullptr) {
    std::memcpy(out, in, static_cast<size_t>(rows * inner) * sizeof(T));
    return;
  }
  for (int64_t r = 0; r < rows; ++r) {
    T* dst = out + r * inner;
    if (mask[r] != 0) {
      std::fill(dst, dst + inner, masked_value);
    } else {
      std::memcpy(dst, in + r * inner, static_cast<size_t>(inner) * sizeof(T));
    }
  }
}

/// Masks and permutes integer codes: out = perm[b][masked ? masked_value : in] for a [B, S, inner]
/// field whose values (and `masked_value`) are all in [0, n) (checked by the caller); `perm` is
/// [B, n] row-major.
inline void permute_codes(const int64_t* in, int64_t* out, int64_t batch, int64_t seq,
                          int64_t inner, const uint8_t* mask, int64_t masked_value,
                          const int64_t* perm, int64_t n) noexcept {
  const int64_t per_row = seq * inner;
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t* p = perm + b * n;
    map_rows(in + b * per_row, out + b * per_row, seq, inner,
             mask == nullptr ? nullptr : mask + b * seq, masked_value,
             [p](int64_t v) { return p[v]; });
  }
}

/// q_star target permutation: out[b, s, perm[b][a]] = in[b, s, a] for a in [0, n); `perm` rows
/// are permutations of [0, n) (checked by the caller).
inline void permute_columns(const float* in, float* out, int64_t batch, int64_t seq,
                            const int64_t* perm, int64_t n) noexcept {
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t* p = perm + b * n;
    for (int64_t s = 0; s < seq; ++s) {
      const float* src = in + (b * seq + s) * n;
      float* dst = out + (b * seq + s) * n;
      for (int64_t a = 0; a < n; ++a) dst[p[a]] = src[a];
    }
  }
}

/// Index of the first value outside [0, n) in `values[0, count)`, or -1.
inline int64_t first_out_of_range(const int64_t* values, int64_t count, int64_t n) noexcept {
  // Branch-free scan (vectorises); the position is searched only when something is wrong.
  bool bad = false;
  const auto limit = static_cast<uint64_t>(n);  // negative values wrap to huge ones
  for (int64_t i = 0; i < count; ++i) bad |= static_cast<uint64_t>(values[i]) >= limit;
  if (!bad) return -1;
  for (int64_t i = 0; i < count; ++i) {
    if (static_cast<uint64_t>(values[i]) >= limit) return i;
  }
  return -1;
}

/// x -> x * scale, then + shift (each step rounded to T, as two separate operations); the
/// flags skip an inactive step. T is float or double.
template <class T>
inline void scale_shift_rows(const T* in, T* out, int64_t rows, int64_t inner,
                             const uint8_t* mask, bool has_scale, T scale, bool has_shift,
                             T shift) noexcept {
  if (has_scale && has_shift) {
    map_rows(in, out, rows, inner, mask, T(0), [=](T v) {
      const T scaled = v * scale;
      return scaled + shift;
    });
  } else if (has_scale) {
    map_rows(in, out, rows, inner, mask, T(0), [=](T v) { return v * scale; });
  } else if (has_shift) {
    map_rows(in, out, rows, inner, mask, T(0), [=](T v) { return v + shift; });
  } else {
    copy_rows_masked(in, out, rows, inner, mask, T(0));
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
/// uint8 value, and every int64 value in [0, 255], is looked up; other int64 values call `f`.
/// One pass, one load per element, and bit-identical to calling `f` everywhere.
template <class T, class F>
inline void lut_rows(const T* in, T* out, int64_t rows, int64_t inner, const uint8_t* mask,
                     F f) noexcept {
  T lut[256];
  for (int v = 0; v < 256; ++v) lut[v] = f(static_cast<T>(v));
  if constexpr (std::is_same_v<T, uint8_t>) {
    map_rows(in, out, rows, inner, mask, T(0), [&lut](T x) { return lut[x]; });
  } else {
    map_rows(in, out, rows, inner, mask, T(0), [&lut, f](T x) {
      const auto u = static_cast<uint64_t>(x);
      return u < 256 ? lut[u] : f(x);
    });
  }
}

/// obs_image pixels (int64 or uint8): in float32, x * scale then round-and-clamp, then + shift
/// then round-and-clamp; an inactive step is skipped (no rounding or clamping for it).
template <class T>
inline void image_rows(const T* in, T* out, int64_t rows, int64_t inner, const uint8_t* mask,
                       bool has_scale, float scale, bool has_shift, float shift) noexcept {
  static_assert(std::is_same_v<T, int64_t> || std::is_same_v<T, uint8_t>);
  // Results are in [0, 255]: converting through int32 is exact.
  auto to_t = [](float v) { return static_cast<T>(static_cast<int32_t>(v)); };
  if (has_scale && has_shift) {
    lut_rows(in, out, rows, inner, mask, [=](T x) {
      const float v = round_clamp_255(static_cast<float>(x) * scale);
      return to_t(round_clamp_255(v + shift));
    });
  } else if (has_scale) {
    lut_rows(in, out, rows, inner, mask,
             [=](T x) { return to_t(round_clamp_255(static_cast<float>(x) * scale)); });
  } else if (has_shift) {
    lut_rows(in, out, rows, inner, mask,
             [=](T x) { return to_t(round_clamp_255(static_cast<float>(x) + shift)); });
  } else {
    copy_rows_masked(in, out, rows, inner, mask, T(0));
  }
}

}  // namespace mouse::detail::augment
