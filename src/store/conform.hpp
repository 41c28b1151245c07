// Bringing arrays of one Arrow type to another: the buffer's chunks (built with wide natural types:
// int64, float64, list) to the column types fixed by the first rows or by the source dataset,
// so that to_dataset can concatenate them. Null-typed data becomes all-null data of any type.
#pragma once

#include <cstdint>
#include <string_view>

#include "mouse/arrow.hpp"

namespace mouse::detail {

/// An array of `length` nulls of `type` (zeroed values, empty lists; a fixed_size_list holds
/// length * size null items, a struct null members).
arrow::ArrayPtr all_null(const arrow::TypePtr& type, int64_t length);

/// Whether conform() can turn arrays of `from` into `to`: equal types; null into anything;
/// integers into any integer or float; floats into floats; bool into bool, any integer or
/// float (0 / 1); utf8 / large_utf8 /
/// binary / large_binary among themselves (not binary into utf8); any list kind into any list
/// kind with conformable items; structs member by member (missing members become null).
bool can_conform(const arrow::DataType& from, const arrow::DataType& to) noexcept;

/// `array` as type `to` (the array itself when the types are equal). Throws InvalidArgument
/// naming `where` when a value does not fit: an integer out of range, a list whose length is
/// not the fixed size, or types can_conform rejects.
arrow::ArrayPtr conform(const arrow::ArrayPtr& array, const arrow::TypePtr& to,
                        std::string_view where);

}  // namespace mouse::detail
