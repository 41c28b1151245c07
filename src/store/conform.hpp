// Bringing arrays of one Arrow type to another: the buffer's chunks (built with wide natural types:
// int64, float64, list) to the column types fixed by the first rows or by the source dataset,
// so that to_dataset can concatenate them. Null-typed data becomes all-null data of any type.
//
// The widening rule of SPEC §4 lives here once: bool -> int -> float, never a silent narrowing.
// wider_type() is the type two columns meet in; converts_exactly() says whether an array's
// values survive a conversion unchanged, so that a column is only ever narrowed in type where
// no value changes (float64 values that are float32 values into a float32 column).
#pragma once

#include <cstdint>
#include <string_view>

#include "mouse/arrow.hpp"

namespace mouse::detail {

/// An array of `length` nulls of `type` (zeroed values, empty lists; a fixed_size_list holds
/// length * size null items, a struct null members).
arrow::ArrayPtr all_null(const arrow::TypePtr& type, int64_t length);

/// Whether conform() can turn arrays of `from` into `to`: equal types; null into anything;
/// integers into any integer or float; floats into floats; bool into bool, any integer or float
/// (as 0 / 1); utf8 / large_utf8 /
/// binary / large_binary among themselves (not binary into utf8); any list kind into any list
/// kind with conformable items; structs member by member (missing members become null).
bool can_conform(const arrow::DataType& from, const arrow::DataType& to) noexcept;

/// The type columns of types `a` and `b` meet in (SPEC §4 widening, bool -> int -> float):
/// equal types stay; null gives the other; bool and an integer give the integer; bool and a
/// float give the float; two integers the wider of them when both are signed or both unsigned,
/// else int64; an integer and a float give float64; two floats the wider; utf8 with binary gives
/// binary (large offsets when either has them); lists give a list over the items' meeting type
/// (the kind of `a` when both are of that kind, with the same fixed size, else list / large_list);
/// structs that conform into `a` give `a`. nullptr when the two cannot meet (a number and a
/// string, ...).
arrow::TypePtr wider_type(const arrow::TypePtr& a, const arrow::TypePtr& b);

/// Whether conform(array, to) succeeds and keeps every value: can_conform, integers within the
/// target's range, floats (and integers into floats) that the target holds exactly (NaN counts
/// as exact), list rows of the fixed size of a fixed_size_list target. Null elements are not
/// looked at. Reads every value of a numeric array whose type differs from `to`.
bool converts_exactly(const arrow::ArrayData& array, const arrow::DataType& to);

/// The type a column of type `column` takes so that `array` joins it with no value changed:
/// `column` itself when the array's type is of no wider kind (bool < int < float, compared at
/// the list leaves) and converts_exactly(array, column); else wider_type(column, array type).
/// nullptr when the two cannot meet.
arrow::TypePtr settle_type(const arrow::TypePtr& column, const arrow::ArrayData& array);

/// `array` as type `to` (the array itself when the types are equal). Throws InvalidArgument
/// naming `where` when a value does not fit: an integer out of range, a list whose length is
/// not the fixed size, or types can_conform rejects.
arrow::ArrayPtr conform(const arrow::ArrayPtr& array, const arrow::TypePtr& to,
                        std::string_view where);

}  // namespace mouse::detail
