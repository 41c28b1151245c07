#include "store/step_value.hpp"

#include <fmt/format.h>

#include <cmath>
#include <limits>

#include "store/contract.hpp"
#include "store/image_codec.hpp"
#include "store/numeric.hpp"

namespace mouse {

StepValue StepValue::list(std::span<const double> values) {
  List items;
  items.reserve(values.size());
  for (double v : values) items.emplace_back(v);
  return StepValue(std::move(items));
}

StepValue StepValue::list(std::span<const int64_t> values) {
  List items;
  items.reserve(values.size());
  for (int64_t v : values) items.emplace_back(v);
  return StepValue(std::move(items));
}

}  // namespace mouse

namespace mouse::detail {

namespace {

using arrow::DataType;
using arrow::TypeId;
using arrow::TypePtr;

// The same list kind as `like`, over `item`.
TypePtr relist(const DataType& like, TypePtr item) {
  arrow::Field field = like.children.front();
  field.type = std::move(item);
  switch (like.id) {
    case TypeId::kLargeList: return arrow::large_list(std::move(field));
    case TypeId::kFixedSizeList: return arrow::fixed_size_list(std::move(field), like.list_size);
    default: return arrow::list(std::move(field));
  }
}

TypePtr list_of(TypePtr item) { return arrow::list(arrow::Field{"item", std::move(item), true, {}}); }

bool int_fits(int64_t v, TypeId id) noexcept {
  switch (id) {
    case TypeId::kInt8: return v >= -128 && v <= 127;
    case TypeId::kInt16: return v >= -32768 && v <= 32767;
    case TypeId::kInt32:
      return v >= std::numeric_limits<int32_t>::min() && v <= std::numeric_limits<int32_t>::max();
    case TypeId::kUInt8: return v >= 0 && v <= 255;
    case TypeId::kUInt16: return v >= 0 && v <= 65535;
    case TypeId::kUInt32: return v >= 0 && v <= std::numeric_limits<uint32_t>::max();
    case TypeId::kUInt64: return v >= 0;
    default: return true;
  }
}

}  // namespace

const TypePtr& image_type() {
  static const TypePtr type = arrow::struct_({arrow::Field{"bytes", arrow::binary(), true, {}},
                                             arrow::Field{"path", arrow::utf8(), true, {}}});
  return type;
}

std::string_view value_kind(const StepValue& v) noexcept {
  static constexpr std::string_view kNames[] = {"null",   "bool", "int",          "float",
                                                "string", "list", "image pixels", "encoded image"};
  return kNames[v.value.index()];
}

TypePtr natural_type(const StepValue& v, std::string& error) {
  switch (v.value.index()) {
    case 0: return arrow::null();
    case 1: return arrow::boolean();
    case 2: return arrow::int64();
    case 3: return arrow::float64();
    case 4: return arrow::utf8();
    case 6:
    case 7: return image_type();
    default: break;
  }
  const auto& items = std::get<StepValue::List>(v.value);
  TypePtr item = arrow::null();
  for (size_t i = 0; i < items.size(); ++i) {
    TypePtr t = natural_type(items[i], error);
    if (!t) return nullptr;
    std::string inner;
    TypePtr merged = merge_value_type(item, t, inner);
    if (!merged) {
      error = fmt::format("list item {} is {} but earlier items are {}", i, t->to_string(),
                          item->to_string());
      return nullptr;
    }
    item = merged;
  }
  return list_of(item);
}

TypePtr merge_value_type(const TypePtr& column, const TypePtr& value, std::string& error) {
  if (!column || column->id == TypeId::kNull) return value;
  if (value->id == TypeId::kNull) return column;
  if (column->is_list_like() && value->is_list_like()) {
    TypePtr item = merge_value_type(column->value_type(), value->value_type(), error);
    if (!item) return nullptr;
    return item == column->value_type() ? column : relist(*column, item);
  }
  bool fits = false;
  // SPEC §4 widening, bool -> int -> float: a value of a wider kind widens the column (earlier
  // values become 0 / 1, or floats), one of a narrower kind is stored in the column's kind.
  switch (value->id) {
    case TypeId::kInt64:
      if (column->id == TypeId::kBool) return value;
      fits = is_integer_type(column->id) || is_float_type(column->id);
      break;
    case TypeId::kFloat64:
      // An integer column widens to float64 when a float arrives, as `datasets` infers [0, 0.5].
      if (is_integer_or_bool_type(column->id)) return value;
      fits = is_float_type(column->id);
      break;
    case TypeId::kBool: fits = is_numeric_or_bool_type(column->id); break;
    case TypeId::kUtf8:
      fits = column->id == TypeId::kUtf8 || column->id == TypeId::kLargeUtf8 ||
             column->id == TypeId::kBinary || column->id == TypeId::kLargeBinary;
      break;
    case TypeId::kStruct: fits = is_image_struct(*column); break;
    default: break;
  }
  if (!fits) {
    error = fmt::format("the column has type {}, the value is {}", column->to_string(),
                        value->equals(*image_type()) ? "an image" : value->to_string());
    return nullptr;
  }
  return column;
}

std::string check_value(const DataType& type, const StepValue& v) {
  if (const auto* i = std::get_if<int64_t>(&v.value)) {
    if (is_integer_type(type.id) && !int_fits(*i, type.id)) {
      return fmt::format("value {} does not fit the column type {}", *i, type.to_string());
    }
  } else if (const auto* list = std::get_if<StepValue::List>(&v.value)) {
    if (type.id == TypeId::kFixedSizeList && static_cast<int64_t>(list->size()) != type.list_size) {
      return fmt::format("a list of {} items, the column type {} holds exactly {}", list->size(),
                         type.to_string(), type.list_size);
    }
    if (type.is_list_like()) {
      for (size_t k = 0; k < list->size(); ++k) {
        std::string problem = check_value(*type.value_type(), (*list)[k]);
        if (!problem.empty()) return fmt::format("item {}: {}", k, problem);
      }
    }
  } else if (const auto* px = std::get_if<ImagePixels>(&v.value)) {
    if (!px->pixels.empty() && !px->float_pixels.empty()) {
      return fmt::format("image pixels hold both {} uint8 pixels and {} float pixels; expected one "
                         "of the two",
                         px->pixels.size(), px->float_pixels.size());
    }
    return check_image_shape(px->height, px->width, px->channels,
                             px->float_pixels.empty() ? px->pixels.size() : px->float_pixels.size());
  } else if (const auto* enc = std::get_if<EncodedImage>(&v.value)) {
    if (sniff_image(enc->bytes) == ImageFormat::kUnknown) {
      return fmt::format("encoded image of {} bytes is neither PNG nor JPEG", enc->bytes.size());
    }
  }
  return {};
}

uint8_t float_pixel(double v) noexcept {
  if (!(v > 0)) return 0;  // also NaN
  // As mouse-core's to_dataset: clip(v * 255, 0, 255), then truncate (numpy's astype(uint8)).
  const double scaled = v * 255.0;
  return scaled >= 255.0 ? uint8_t{255} : static_cast<uint8_t>(scaled);
}

std::vector<uint8_t> uint8_pixels(const ImagePixels& image) {
  if (image.float_pixels.empty()) return image.pixels;
  std::vector<uint8_t> out(image.float_pixels.size());
  for (size_t i = 0; i < out.size(); ++i) out[i] = float_pixel(image.float_pixels[i]);
  return out;
}

TypePtr builder_type(const TypePtr& column) {
  const TypeId id = column->id;
  if (id == TypeId::kNull || id == TypeId::kBool) return column;
  if (is_integer_type(id)) return arrow::int64();
  if (is_float_type(id)) return arrow::float64();
  if (id == TypeId::kUtf8 || id == TypeId::kLargeUtf8) return arrow::utf8();
  if (id == TypeId::kBinary || id == TypeId::kLargeBinary) return arrow::binary();
  if (column->is_list_like()) {
    TypePtr item = builder_type(column->value_type());
    return item ? list_of(item) : nullptr;
  }
  if (is_image_struct(*column)) return image_type();
  return nullptr;
}

}  // namespace mouse::detail
