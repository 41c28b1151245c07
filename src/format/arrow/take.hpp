// Gathering kernels: copy chosen elements of one or more arrays (chunks of a column) into a new
// array. Works for every type of mouse/arrow.hpp, nested ones included, with validity bitmaps
// and non-zero array offsets. Used by Dataset::select (take) and to combine chunks.
#pragma once

#include <cstdint>
#include <span>

#include "mouse/arrow.hpp"

namespace mouse::arrow {

/// A run of consecutive elements of one chunk: elements [start, start + length) of
/// `chunks[chunk]`, counted from the chunk's logical start (its `offset` already applied).
struct TakeRange {
  int64_t chunk = 0;
  int64_t start = 0;
  int64_t length = 0;
};

/// Copies the elements named by `ranges`, in order, into a new array of `type` (which every
/// chunk must have, structurally). The result owns fresh buffers, has offset 0 and an exact
/// null_count; its validity buffer is empty when nothing is null. Throws IndexError if a range
/// is outside its chunk, InvalidArgument if a chunk has another type or a utf8/binary/list
/// result would overflow 32-bit offsets, FormatError on corrupt offsets in the input.
ArrayPtr take_ranges(const TypePtr& type, std::span<const ArrayPtr> chunks,
                     std::span<const TakeRange> ranges);

/// out[i] = array[indices[i]] (indices may repeat and come in any order). IndexError naming
/// the bad index and the length.
ArrayPtr take(const ArrayPtr& array, std::span<const int64_t> indices);

/// One array holding all elements of `chunks` in order (copies); `type` as in take_ranges.
ArrayPtr concatenate_arrays(const TypePtr& type, std::span<const ArrayPtr> chunks);

}  // namespace mouse::arrow
