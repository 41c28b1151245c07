#include "store/conform.hpp"

#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "format/arrow/builders.hpp"
#include "format/arrow/take.hpp"
#include "mouse/error.hpp"
#include "store/numeric.hpp"

namespace mouse::detail {

namespace {

using arrow::ArrayData;
using arrow::ArrayPtr;
using arrow::DataType;
using arrow::TypeId;
using arrow::TypePtr;

bool is_stringish(TypeId id) noexcept {
  return id == TypeId::kUtf8 || id == TypeId::kLargeUtf8 || id == TypeId::kBinary ||
         id == TypeId::kLargeBinary;
}

bool is_text(TypeId id) noexcept { return id == TypeId::kUtf8 || id == TypeId::kLargeUtf8; }

// A validity bitmap (offset 0) for `a`, or an empty buffer when nothing is null.
Buffer copy_validity(const ArrayData& a, int64_t* null_count) {
  *null_count = 0;
  if (a.null_count == 0) return {};
  std::vector<bool> valid(static_cast<size_t>(a.length));
  for (int64_t i = 0; i < a.length; ++i) valid[static_cast<size_t>(i)] = a.is_valid(i);
  return arrow::make_validity(valid, a.length, null_count);
}

// Integral to integral only. std::in_range compares exactly; a comparison through double would
// round uint64 values in [2^63, 2^63 + 1024) to 2^63 == double(INT64_MAX) and let them wrap.
template <class To, class From>
void check_fits(From v, int64_t row, std::string_view where, const DataType& to) {
  static_assert(std::is_integral_v<To> && std::is_integral_v<From>);
  if (!std::in_range<To>(v)) {
    throw InvalidArgument(
        fmt::format("{}: value {} at row {} does not fit {}", where, v, row, to.to_string()));
  }
}

ArrayPtr convert_numbers(const ArrayData& a, const TypePtr& to, std::string_view where) {
  auto out = std::make_shared<ArrayData>();
  out->type = to;
  out->length = a.length;
  Buffer validity = copy_validity(a, &out->null_count);
  Buffer values = Buffer::allocate(a.length * to->byte_width());
  visit_number(a.type->id, [&](auto from_tag) {
    using From = typename decltype(from_tag)::type;
    visit_number(to->id, [&](auto to_tag) {
      using To = typename decltype(to_tag)::type;
      if constexpr (std::is_same_v<To, BitTag> || std::is_same_v<To, HalfTag>) {
        MOUSE_DCHECK(false);  // can_conform admits neither as a target of a cast
      } else {
        To* dst = reinterpret_cast<To*>(values.mutable_data());
        for (int64_t i = 0; i < a.length; ++i) {
          if (a.null_count > 0 && !a.is_valid(i)) {
            dst[i] = To{};
            continue;
          }
          const auto v = load<From>(a, i);
          if constexpr (std::is_integral_v<To> && std::is_integral_v<decltype(v)>) {
            if constexpr (!std::is_same_v<decltype(v), To>) {
              check_fits<To>(v, i, where, *to);
            }
          }
          dst[i] = static_cast<To>(v);
        }
      }
    });
  });
  out->buffers = {std::move(validity), std::move(values)};
  return out;
}

ArrayPtr convert_strings(const ArrayData& a, const TypePtr& to) {
  std::vector<std::optional<std::string>> values(static_cast<size_t>(a.length));
  for (int64_t i = 0; i < a.length; ++i) {
    if (a.is_valid(i)) values[static_cast<size_t>(i)] = std::string(arrow::binary_value(a, i));
  }
  const bool large = to->has_large_offsets();
  return is_text(to->id) ? arrow::make_utf8(values, large) : arrow::make_binary(values, large);
}

// Child range [begin, end) covering all rows of a list-like array, and each row's length.
std::pair<int64_t, int64_t> child_span(const ArrayData& a) {
  if (a.type->id == TypeId::kFixedSizeList) {
    const int64_t k = a.type->list_size;
    return {a.offset * k, (a.offset + a.length) * k};
  }
  if (a.length == 0) return {0, 0};
  return {arrow::value_range(a, 0).first, arrow::value_range(a, a.length - 1).second};
}

ArrayPtr convert_list(const ArrayData& a, const TypePtr& to, std::string_view where) {
  const auto [begin, end] = child_span(a);
  const ArrayPtr child =
      conform(a.children[0]->slice(begin, end - begin), to->value_type(), where);
  auto out = std::make_shared<ArrayData>();
  out->type = to;
  out->length = a.length;
  Buffer validity = copy_validity(a, &out->null_count);
  auto row_range = [&](int64_t i) -> std::pair<int64_t, int64_t> {
    if (a.type->id == TypeId::kFixedSizeList) {
      const int64_t k = a.type->list_size;
      return {(a.offset + i) * k, (a.offset + i + 1) * k};
    }
    return arrow::value_range(a, i);
  };
  if (to->id == TypeId::kFixedSizeList) {
    const int64_t k = to->list_size;
    // Valid rows must hold exactly k items; null rows get k null items whatever they held.
    std::vector<arrow::TakeRange> ranges;
    bool reshaped = false;
    for (int64_t i = 0; i < a.length; ++i) {
      const auto [b, e] = row_range(i);
      const bool valid = a.is_valid(i);
      if (valid && e - b != k) {
        throw InvalidArgument(fmt::format("{}: row {} is a list of {} items, the column type {} "
                                          "holds exactly {}",
                                          where, i, e - b, to->to_string(), k));
      }
      reshaped = reshaped || e - b != k;
      const arrow::TakeRange r = valid ? arrow::TakeRange{0, b - begin, k} : arrow::TakeRange{1, 0, k};
      if (!ranges.empty() && r.chunk == 0 && ranges.back().chunk == 0 &&
          ranges.back().start + ranges.back().length == r.start) {
        ranges.back().length += k;
      } else {
        ranges.push_back(r);
      }
    }
    out->buffers = {std::move(validity)};
    if (reshaped) {
      const std::vector<ArrayPtr> parts = {child, all_null(to->value_type(), k)};
      out->children = {arrow::take_ranges(to->value_type(), parts, ranges)};
      return out;
    }
  } else {
    const bool large = to->id == TypeId::kLargeList;
    const int64_t width = large ? 8 : 4;
    if (!large && end - begin > std::numeric_limits<int32_t>::max()) {
      throw InvalidArgument(fmt::format("{}: {} list items do not fit 32-bit offsets", where,
                                        end - begin));
    }
    Buffer offsets = Buffer::allocate((a.length + 1) * width);
    for (int64_t i = 0; i <= a.length; ++i) {
      const int64_t pos = (i < a.length ? row_range(i).first : end) - begin;
      if (large) {
        reinterpret_cast<int64_t*>(offsets.mutable_data())[i] = pos;
      } else {
        reinterpret_cast<int32_t*>(offsets.mutable_data())[i] = static_cast<int32_t>(pos);
      }
    }
    out->buffers = {std::move(validity), std::move(offsets)};
  }
  out->children = {child};
  return out;
}

ArrayPtr convert_struct(const ArrayData& a, const TypePtr& to, std::string_view where) {
  auto out = std::make_shared<ArrayData>();
  out->type = to;
  out->length = a.length;
  Buffer validity = copy_validity(a, &out->null_count);
  out->buffers = {std::move(validity)};
  for (const auto& field : to->children) {
    ArrayPtr member;
    for (size_t f = 0; f < a.type->children.size(); ++f) {
      if (a.type->children[f].name == field.name) {
        member = conform(a.children[f]->slice(a.offset, a.length), field.type,
                         fmt::format("{}.{}", where, field.name));
      }
    }
    out->children.push_back(member ? member : all_null(field.type, a.length));
  }
  return out;
}

}  // namespace

ArrayPtr all_null(const TypePtr& type, int64_t length) {
  if (type->id == TypeId::kNull) return arrow::make_null(length);
  auto out = std::make_shared<ArrayData>();
  out->type = type;
  out->length = length;
  out->null_count = length;
  Buffer validity = Buffer::allocate((length + 7) / 8);
  switch (type->id) {
    case TypeId::kBool:
      out->buffers = {validity, Buffer::allocate((length + 7) / 8)};
      break;
    case TypeId::kUtf8:
    case TypeId::kBinary:
      out->buffers = {validity, Buffer::allocate((length + 1) * 4), Buffer::allocate(0)};
      break;
    case TypeId::kLargeUtf8:
    case TypeId::kLargeBinary:
      out->buffers = {validity, Buffer::allocate((length + 1) * 8), Buffer::allocate(0)};
      break;
    case TypeId::kList:
    case TypeId::kLargeList:
      out->buffers = {validity, Buffer::allocate((length + 1) * (type->id == TypeId::kList ? 4 : 8))};
      out->children = {all_null(type->value_type(), 0)};
      break;
    case TypeId::kFixedSizeList:
      out->buffers = {validity};
      out->children = {all_null(type->value_type(), length * type->list_size)};
      break;
    case TypeId::kStruct:
      out->buffers = {validity};
      for (const auto& f : type->children) out->children.push_back(all_null(f.type, length));
      break;
    default:
      out->buffers = {validity, Buffer::allocate(length * type->byte_width())};
      break;
  }
  return out;
}

bool can_conform(const DataType& from, const DataType& to) noexcept {
  if (from.id == TypeId::kNull || from.equals(to)) return true;
  if (is_integer_type(from.id)) {
    return is_integer_type(to.id) || (is_float_type(to.id) && to.id != TypeId::kFloat16);
  }
  if (is_float_type(from.id)) return to.id == TypeId::kFloat32 || to.id == TypeId::kFloat64;
  if (from.id == TypeId::kBool) {
    return to.id == TypeId::kBool || is_integer_type(to.id) || to.id == TypeId::kFloat32 ||
           to.id == TypeId::kFloat64;
  }
  if (is_stringish(from.id)) return is_stringish(to.id) && !(is_text(to.id) && !is_text(from.id));
  if (from.is_list_like()) return to.is_list_like() && can_conform(*from.value_type(), *to.value_type());
  if (from.id == TypeId::kStruct && to.id == TypeId::kStruct) {
    for (const auto& f : from.children) {
      bool found = false;
      for (const auto& g : to.children) {
        if (g.name == f.name) found = can_conform(*f.type, *g.type);
      }
      if (!found) return false;
    }
    return true;
  }
  return false;
}

namespace {

bool is_signed_integer(TypeId id) noexcept {
  return id == TypeId::kInt8 || id == TypeId::kInt16 || id == TypeId::kInt32 || id == TypeId::kInt64;
}

// The rank of a numeric kind in the widening order: bool 0, integer 1, float 2 (of the list
// leaf); -1 for anything else.
int kind_rank(const DataType& type) noexcept {
  const DataType* t = &type;
  while (t->is_list_like()) t = t->value_type().get();
  if (t->id == TypeId::kBool) return 0;
  if (is_integer_type(t->id)) return 1;
  if (is_float_type(t->id)) return 2;
  return -1;
}

// Whether every valid element of the numeric array `a` keeps its value as `To`.
template <class From, class To>
bool numbers_exact(const ArrayData& a) {
  for (int64_t i = 0; i < a.length; ++i) {
    if (a.null_count > 0 && !a.is_valid(i)) continue;
    const auto v = load<From>(a, i);
    using V = decltype(v);
    if constexpr (std::is_integral_v<To>) {
      if constexpr (std::is_integral_v<V>) {
        if (!std::in_range<To>(v)) return false;
      } else {
        return false;  // can_conform admits no float into an integer
      }
    } else if constexpr (std::is_integral_v<V>) {
      // long double holds every int64 / uint64 exactly (x86-64: 64-bit mantissa).
      if (static_cast<long double>(static_cast<To>(v)) != static_cast<long double>(v)) return false;
    } else {
      if (!std::isnan(v) && static_cast<double>(static_cast<To>(v)) != static_cast<double>(v)) {
        return false;
      }
    }
  }
  return true;
}

}  // namespace

TypePtr wider_type(const TypePtr& a, const TypePtr& b) {
  if (!a || a->id == TypeId::kNull) return b;
  if (!b || b->id == TypeId::kNull) return a;
  if (a->equals(*b)) return a;
  const TypeId x = a->id;
  const TypeId y = b->id;
  if (is_numeric_or_bool_type(x) && is_numeric_or_bool_type(y)) {
    if (x == TypeId::kBool) return b;
    if (y == TypeId::kBool) return a;
    if (is_float_type(x) && is_float_type(y)) return a->byte_width() >= b->byte_width() ? a : b;
    if (is_float_type(x) || is_float_type(y)) return arrow::float64();
    if (is_signed_integer(x) == is_signed_integer(y)) {
      return a->byte_width() >= b->byte_width() ? a : b;
    }
    // A signed type wider than the unsigned one holds both; else int64 (uint64 values past
    // INT64_MAX fail the conversion, naming the value).
    const TypePtr& s = is_signed_integer(x) ? a : b;
    const TypePtr& u = is_signed_integer(x) ? b : a;
    return s->byte_width() > u->byte_width() ? s : arrow::int64();
  }
  if (is_stringish(x) && is_stringish(y)) {
    const bool large = a->has_large_offsets() || b->has_large_offsets();
    if (is_text(x) && is_text(y)) return large ? arrow::large_utf8() : arrow::utf8();
    return large ? arrow::large_binary() : arrow::binary();
  }
  if (a->is_list_like() && b->is_list_like()) {
    TypePtr item = wider_type(a->value_type(), b->value_type());
    if (!item) return nullptr;
    arrow::Field field = a->children.front();
    field.type = std::move(item);
    if (x == y && (x != TypeId::kFixedSizeList || a->list_size == b->list_size)) {
      if (x == TypeId::kFixedSizeList) return arrow::fixed_size_list(std::move(field), a->list_size);
      return x == TypeId::kLargeList ? arrow::large_list(std::move(field))
                                     : arrow::list(std::move(field));
    }
    return (x == TypeId::kLargeList || y == TypeId::kLargeList) ? arrow::large_list(std::move(field))
                                                                : arrow::list(std::move(field));
  }
  if (x == TypeId::kStruct && y == TypeId::kStruct && can_conform(*b, *a)) return a;
  return nullptr;
}

bool converts_exactly(const ArrayData& a, const DataType& to) {
  const DataType& from = *a.type;
  if (from.id == TypeId::kNull || from.equals(to)) return true;
  if (!can_conform(from, to)) return false;
  if (from.is_list_like()) {
    if (to.id == TypeId::kFixedSizeList) {
      const int64_t k = to.list_size;
      for (int64_t i = 0; i < a.length; ++i) {
        if (!a.is_valid(i)) continue;
        int64_t n = from.list_size;
        if (from.id != TypeId::kFixedSizeList) {
          const auto [b, e] = arrow::value_range(a, i);
          n = e - b;
        }
        if (n != k) return false;
      }
    }
    const auto [begin, end] = child_span(a);
    return converts_exactly(*a.children[0]->slice(begin, end - begin), *to.value_type());
  }
  if (from.id == TypeId::kStruct) {
    for (const auto& field : to.children) {
      for (size_t f = 0; f < from.children.size(); ++f) {
        if (from.children[f].name == field.name &&
            !converts_exactly(*a.children[f]->slice(a.offset, a.length), *field.type)) {
          return false;
        }
      }
    }
    return true;
  }
  if (is_stringish(from.id)) return true;
  bool exact = true;
  visit_number(from.id, [&](auto from_tag) {
    using From = typename decltype(from_tag)::type;
    visit_number(to.id, [&](auto to_tag) {
      using To = typename decltype(to_tag)::type;
      if constexpr (!std::is_same_v<To, BitTag> && !std::is_same_v<To, HalfTag>) {
        exact = numbers_exact<From, To>(a);
      }
    });
  });
  return exact;
}

TypePtr settle_type(const TypePtr& column, const ArrayData& array) {
  const TypePtr& type = array.type;
  if (!column || column->id == TypeId::kNull) return type;
  if (type->id == TypeId::kNull || type->equals(*column)) return column;
  TypePtr wider = wider_type(column, type);
  if (!wider || wider->equals(*column)) return wider;
  const int from_rank = kind_rank(*type);
  const int to_rank = kind_rank(*column);
  const bool wider_kind = from_rank >= 0 && to_rank >= 0 && from_rank > to_rank;
  if (!wider_kind && converts_exactly(array, *column)) return column;
  return wider;
}

ArrayPtr conform(const ArrayPtr& array, const TypePtr& to, std::string_view where) {
  const DataType& from = *array->type;
  if (from.equals(*to)) return array;
  if (from.id == TypeId::kNull) return all_null(to, array->length);
  if (!can_conform(from, *to)) {
    throw InvalidArgument(fmt::format("{}: values of type {} cannot be stored as {}", where,
                                      from.to_string(), to->to_string()));
  }
  if (from.is_list_like()) return convert_list(*array, to, where);
  if (from.id == TypeId::kStruct) return convert_struct(*array, to, where);
  if (is_stringish(from.id)) return convert_strings(*array, to);
  return convert_numbers(*array, to, where);
}

}  // namespace mouse::detail
