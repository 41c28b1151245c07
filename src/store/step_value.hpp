// Type rules for appended values (SPEC §4 `append`): the Arrow type a StepValue naturally has, how
// a column's type fixed by earlier rows absorbs a new value, and the per-value checks (integer
// range, fixed list length, image shape) that make later conversion infallible.
#pragma once

#include <string>

#include "mouse/arrow.hpp"
#include "mouse/dataset_store.hpp"

namespace mouse::detail {

/// The Arrow type of an HF Image column: struct<bytes: binary, path: string>.
const arrow::TypePtr& image_type();

/// The natural type of `v`: null, bool, int64, float64 (double), utf8 (string), list<item>
/// (items merged as merge_value_type merges: bool with int gives int64, int with float float64,
/// null with T gives T; empty → list<null>), and
/// image_type() for pixels and encoded images. Returns nullptr and sets `error` for a list
/// whose items have incompatible types.
arrow::TypePtr natural_type(const StepValue& v, std::string& error);

/// The column type after storing a value of natural type `value` in a column of type `column`
/// (null when new), by the SPEC §4 widening bool -> int -> float: null parts of either side are
/// filled in; `column` is kept when the value fits it (a bool in an integer or float column, an
/// int in a float column, a string in a binary column, a list of any kind into any list kind
/// with fitting items, an image into an Image column); a bool column (or list item) that gets an
/// int becomes int64, a bool or integer one that gets a float float64. Returns nullptr and sets
/// `error` when it does not fit.
arrow::TypePtr merge_value_type(const arrow::TypePtr& column, const arrow::TypePtr& value,
                                std::string& error);

/// Checks `v` against the column type `type` (already merged): integers within the width,
/// lists of a fixed_size_list column of exactly that length, pixel images with 1..4 channels
/// and H*W*C bytes, encoded images with a PNG or JPEG signature. Returns an empty string or
/// the problem.
std::string check_value(const arrow::DataType& type, const StepValue& v);

/// The type rows are built with for a column of type `column`: integers as int64, floats as
/// float64, strings as utf8, binary as binary, any list as list, Images as image_type(). nullptr
/// for a type rows cannot be built for (a struct that is not an Image).
arrow::TypePtr builder_type(const arrow::TypePtr& column);

/// A float pixel (intensity in [0, 1]) as uint8: v * 255 clamped to [0, 255] and truncated, as
/// mouse-core's to_dataset does; NaN is 0.
uint8_t float_pixel(double v) noexcept;

/// The uint8 pixels of `image`: `pixels`, or `float_pixels` converted by float_pixel().
std::vector<uint8_t> uint8_pixels(const ImagePixels& image);

/// Readable name of a value's kind for messages ("int", "list", "image pixels" ...).
std::string_view value_kind(const StepValue& v) noexcept;

}  // namespace mouse::detail
