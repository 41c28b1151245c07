// Typed access to numeric Arrow arrays for the store's loops: one switch on the type id picks a
// C++ element type, the loop body is then a template over it.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "mouse/arrow.hpp"
#include "mouse/error.hpp"

namespace mouse::detail {

/// Element tag for float16 (stored as IEEE half bits).
struct HalfTag {};
/// Element tag for bool (bit-packed).
struct BitTag {};
/// Carries an element type through a generic lambda.
template <class T>
struct Tag {
  using type = T;
};

/// True for the eight Arrow integer types, signed and unsigned (not bool).
constexpr bool is_integer_type(arrow::TypeId id) noexcept {
  using arrow::TypeId;
  return id == TypeId::kInt8 || id == TypeId::kInt16 || id == TypeId::kInt32 ||
         id == TypeId::kInt64 || id == TypeId::kUInt8 || id == TypeId::kUInt16 ||
         id == TypeId::kUInt32 || id == TypeId::kUInt64;
}

/// True for float16, float32 and float64.
constexpr bool is_float_type(arrow::TypeId id) noexcept {
  using arrow::TypeId;
  return id == TypeId::kFloat16 || id == TypeId::kFloat32 || id == TypeId::kFloat64;
}

/// An integer type or bool: what the key contract accepts for integer keys (action, done, ...).
constexpr bool is_integer_or_bool_type(arrow::TypeId id) noexcept {
  return id == arrow::TypeId::kBool || is_integer_type(id);
}

/// An integer, float or bool type: every id visit_number() accepts.
constexpr bool is_numeric_or_bool_type(arrow::TypeId id) noexcept {
  return is_integer_or_bool_type(id) || is_float_type(id);
}

/// True for float element tags (float16, float32, float64).
template <class T>
inline constexpr bool kFloatElement =
    std::is_same_v<T, HalfTag> || std::is_same_v<T, float> || std::is_same_v<T, double>;

/// Whether `v` is a finite whole number within int64: what an integer key (action, done, ...)
/// accepts from a float column.
inline bool is_whole_int64(double v) noexcept {
  return std::isfinite(v) && v == std::trunc(v) && v >= -0x1p63 && v < 0x1p63;
}

/// IEEE half bits -> float.
inline float half_to_float(uint16_t h) noexcept {
  const uint32_t exp = (h >> 10) & 0x1Fu;
  const uint32_t mant = h & 0x3FFu;
  float magnitude;
  if (exp == 0) {
    magnitude = std::ldexp(static_cast<float>(mant), -24);
  } else if (exp == 31) {
    magnitude = mant ? std::numeric_limits<float>::quiet_NaN() : std::numeric_limits<float>::infinity();
  } else {
    magnitude = std::ldexp(static_cast<float>(mant | 0x400u), static_cast<int>(exp) - 25);
  }
  return (h & 0x8000u) ? -magnitude : magnitude;
}

/// Calls f(Tag<T>{}) with the C++ type storing `id` (HalfTag / BitTag for float16 / bool);
/// returns false (without calling f) for a non-numeric id.
template <class F>
bool visit_number(arrow::TypeId id, F&& f) {
  using arrow::TypeId;
  switch (id) {
    case TypeId::kBool: f(Tag<BitTag>{}); return true;
    case TypeId::kInt8: f(Tag<int8_t>{}); return true;
    case TypeId::kInt16: f(Tag<int16_t>{}); return true;
    case TypeId::kInt32: f(Tag<int32_t>{}); return true;
    case TypeId::kInt64: f(Tag<int64_t>{}); return true;
    case TypeId::kUInt8: f(Tag<uint8_t>{}); return true;
    case TypeId::kUInt16: f(Tag<uint16_t>{}); return true;
    case TypeId::kUInt32: f(Tag<uint32_t>{}); return true;
    case TypeId::kUInt64: f(Tag<uint64_t>{}); return true;
    case TypeId::kFloat16: f(Tag<HalfTag>{}); return true;
    case TypeId::kFloat32: f(Tag<float>{}); return true;
    case TypeId::kFloat64: f(Tag<double>{}); return true;
    default: return false;
  }
}

/// Element `i` of a numeric array (offset applied): bool as int64 0/1, float16 as float.
template <class T>
auto load(const arrow::ArrayData& a, int64_t i) noexcept {
  if constexpr (std::is_same_v<T, BitTag>) {
    return static_cast<int64_t>(arrow::bool_value(a, i));
  } else if constexpr (std::is_same_v<T, HalfTag>) {
    return half_to_float(arrow::values<uint16_t>(a)[i]);
  } else {
    return arrow::values<T>(a)[i];
  }
}

/// The leaf array under `a` (through every list level) and, in `lo` / `hi`, the range of its
/// elements that hold rows [lo, hi) of `a` (offsets already validated).
inline const arrow::ArrayData& leaf_span(const arrow::ArrayData& a, int64_t& lo, int64_t& hi) {
  const arrow::ArrayData* level = &a;
  while (level->type->is_list_like()) {
    if (level->type->id == arrow::TypeId::kFixedSizeList) {
      const int64_t size = level->type->list_size;
      lo = (level->offset + lo) * size;
      hi = (level->offset + hi) * size;
    } else if (hi > lo) {
      const int64_t b = arrow::value_range(*level, lo).first;
      hi = arrow::value_range(*level, hi - 1).second;
      lo = b;
    } else {
      lo = hi = 0;
    }
    level = level->children[0].get();
  }
  return *level;
}

}  // namespace mouse::detail
