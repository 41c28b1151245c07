// Small helpers that build ArrayData from C++ values: for tests, and for layers that produce
// Arrow columns (the HF encoder). Every result owns freshly allocated buffers, has offset 0 and
// an exact null_count; the validity buffer is left empty when nothing is null.
//
// A `valid` vector, when given, must have one entry per element (false = null); an empty vector
// means "all valid". Sizes that do not match throw InvalidArgument.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "mouse/arrow.hpp"

namespace mouse::arrow {

/// The Arrow type of the C++ value type T (int8_t ... uint64_t, float, double).
template <class T>
TypePtr type_of() {
  if constexpr (std::is_same_v<T, int8_t>)
    return int8();
  else if constexpr (std::is_same_v<T, int16_t>)
    return int16();
  else if constexpr (std::is_same_v<T, int32_t>)
    return int32();
  else if constexpr (std::is_same_v<T, int64_t>)
    return int64();
  else if constexpr (std::is_same_v<T, uint8_t>)
    return uint8();
  else if constexpr (std::is_same_v<T, uint16_t>)
    return uint16();
  else if constexpr (std::is_same_v<T, uint32_t>)
    return uint32();
  else if constexpr (std::is_same_v<T, uint64_t>)
    return uint64();
  else if constexpr (std::is_same_v<T, float>)
    return float32();
  else if constexpr (std::is_same_v<T, double>)
    return float64();
  else
    static_assert(sizeof(T) == 0, "type_of: not an Arrow primitive value type");
}

/// Builds a validity bitmap from `valid`; returns an empty Buffer (and null_count 0) when
/// `valid` is empty or all true. `length` is the array length `valid` must match.
Buffer make_validity(const std::vector<bool>& valid, int64_t length, int64_t* null_count);

/// A fixed-width array of `type` from `length` packed little-endian values at `data`.
ArrayPtr make_fixed_width(TypePtr type, const void* data, int64_t length,
                          const std::vector<bool>& valid = {});

/// A numeric array from C++ values (the values of null slots are written as given).
template <class T>
ArrayPtr make_primitive(std::span<const T> values, const std::vector<bool>& valid = {}) {
  return make_fixed_width(type_of<T>(), values.data(), static_cast<int64_t>(values.size()), valid);
}

/// A float16 array from raw IEEE half-precision bit patterns.
ArrayPtr make_float16(std::span<const uint16_t> bits, const std::vector<bool>& valid = {});

/// A bool array (bit-packed).
ArrayPtr make_bool(const std::vector<bool>& values, const std::vector<bool>& valid = {});

/// A utf8 (or large_utf8) array; nullopt entries are null.
ArrayPtr make_utf8(const std::vector<std::optional<std::string>>& values, bool large = false);

/// A binary (or large_binary) array; nullopt entries are null.
ArrayPtr make_binary(const std::vector<std::optional<std::string>>& values, bool large = false);

/// A list (or large_list) array over `child` with item field "item" (nullable). `offsets` has
/// length + 1 entries, non-decreasing, within the child; list i is child[offsets[i],
/// offsets[i+1]).
ArrayPtr make_list(std::span<const int64_t> offsets, ArrayPtr child,
                   const std::vector<bool>& valid = {}, bool large = false);

/// A fixed_size_list<item>[size] array; `child` must hold a multiple of `size` elements.
ArrayPtr make_fixed_size_list(ArrayPtr child, int32_t size, const std::vector<bool>& valid = {});

/// A struct array whose members are `children`, named `names` (all fields nullable). All
/// children must have the same length; `length` is only needed when there are no children.
ArrayPtr make_struct(const std::vector<std::string>& names, std::vector<ArrayPtr> children,
                     const std::vector<bool>& valid = {}, int64_t length = -1);

/// A null-typed array of `length` elements (no buffers, null_count == length).
ArrayPtr make_null(int64_t length);

/// A record batch of `columns` named `names` (all fields nullable), with a schema built from
/// them carrying `metadata`.
RecordBatch make_batch(const std::vector<std::string>& names, std::vector<ArrayPtr> columns,
                       KeyValueMetadata metadata = {});

}  // namespace mouse::arrow
