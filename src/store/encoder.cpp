// Typed conversion loops of the SPEC §3 encoder. Each loop is chosen once per (chunk, key) by
// the column's Arrow type; the per-row work is a load, a conversion and a store.
#include "store/encoder.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <type_traits>

#include "core/checked_file.hpp"
#include "mouse/error.hpp"
#include "store/image_codec.hpp"
#include "store/numeric.hpp"

namespace mouse::detail {

namespace {

using arrow::ArrayData;
using arrow::TypeId;

template <class T>
std::span<T> row_span(Tensor& t, int64_t width, int64_t row) {
  return {t.data_as<T>() + row * width, static_cast<size_t>(width)};
}

[[noreturn]] void throw_null(std::string_view dataset, Key key, int64_t row) {
  throw InvalidArgument(fmt::format(
      "{}: required column \"{}\" is null at row {}; required columns must have a value in every "
      "row",
      dataset, key_specs()[static_cast<int>(key)].column, row));
}

// Names a chunk's rows in conversion errors.
struct Where {
  std::string_view dataset;
  Key key;
  int64_t first_row;  // global row of element 0
};

[[noreturn]] void throw_non_integral(const Where& w, int64_t local, double v) {
  throw InvalidArgument(fmt::format(
      "{}: column \"{}\" has the value {} at row {}, which is not a whole number; \"{}\" is "
      "int64, so a float column must hold whole numbers",
      w.dataset, key_specs()[static_cast<int>(w.key)].column, v, w.first_row + local,
      key_specs()[static_cast<int>(w.key)].name));
}

// Element `k` of `leaf` (row `local` of the chunk) as O; a float into an integer output must be
// a whole number.
template <class O, class T>
O convert(const ArrayData& leaf, int64_t k, const Where& w, int64_t local) {
  const auto v = load<T>(leaf, k);
  if constexpr (std::is_integral_v<O> && kFloatElement<T>) {
    if (!is_whole_int64(static_cast<double>(v))) throw_non_integral(w, local, static_cast<double>(v));
  }
  return static_cast<O>(v);
}

// Scalar column -> one element per row; null rows get `null_value`.
template <class O>
void scalar_rows(const ArrayData& a, std::span<const RowRef> rows, O* out, bool required,
                 const Where& w, O null_value) {
  const bool nulls = a.null_count > 0;
  if (nulls && required) {
    for (const RowRef& r : rows) {
      if (!a.is_valid(r.local)) throw_null(w.dataset, w.key, w.first_row + r.local);
    }
  }
  visit_number(a.type->id, [&](auto tag) {
    using T = typename decltype(tag)::type;
    for (const RowRef& r : rows) {
      out[r.out] = (nulls && !a.is_valid(r.local)) ? null_value
                                                   : convert<O, T>(a, r.local, w, r.local);
    }
  });
}

// The leaf array under (nested) lists and the leaf range of element `i` of `a`.
struct LeafRange {
  int64_t begin = 0;
  int64_t end = 0;
};

LeafRange leaf_range(const ArrayData& a, int64_t i, const ArrayData** leaf) {
  const ArrayData* level = &a;
  int64_t lo = i, hi = i + 1;
  while (level->type->is_list_like()) {
    if (level->type->id == TypeId::kFixedSizeList) {
      const int64_t size = level->type->list_size;
      lo = (level->offset + lo) * size;
      hi = (level->offset + hi) * size;
    } else if (hi > lo) {
      const int64_t b = arrow::value_range(*level, lo).first;
      const int64_t e = arrow::value_range(*level, hi - 1).second;
      lo = b;
      hi = e;
    } else {
      hi = lo = 0;
    }
    level = level->children[0].get();
  }
  *leaf = level;
  return {lo, hi};
}

const ArrayData& leaf_array(const ArrayData& a) {
  const ArrayData* level = &a;
  while (level->type->is_list_like()) level = level->children[0].get();
  return *level;
}

// List (or scalar) column -> `width` elements per row, truncated or padded with `pad`; null
// items become `null_item`, null rows `null_row` everywhere.
template <class O>
void list_rows(const ArrayData& a, std::span<const RowRef> rows, Tensor& t, int64_t width, O pad,
               O null_item, O null_row, const Where& w) {
  O* base = t.data_as<O>();
  const ArrayData& leaf = leaf_array(a);
  const bool scalar = !a.type->is_list_like();
  // One fixed-size list level over a null-free numeric child (observations, q_star vectors):
  // each row is a contiguous run of the child's values.
  const bool fixed_flat = a.type->id == TypeId::kFixedSizeList && &leaf == a.children[0].get() &&
                          leaf.null_count == 0 && a.null_count == 0;
  auto run = [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (!std::is_same_v<T, void>) {
      if (fixed_flat) {
        const int64_t k = a.type->list_size;
        const int64_t n = std::min(k, width);
        for (const RowRef& r : rows) {
          O* out = base + r.out * width;
          const int64_t first = (a.offset + r.local) * k;
          for (int64_t j = 0; j < n; ++j) out[j] = convert<O, T>(leaf, first + j, w, r.local);
          std::fill(out + n, out + width, pad);
        }
        return;
      }
    }
    const bool leaf_nulls = leaf.null_count > 0;
    for (const RowRef& r : rows) {
      O* out = base + r.out * width;
      if (!a.is_valid(r.local)) {
        std::fill(out, out + width, null_row);
        continue;
      }
      const ArrayData* lf = &a;
      LeafRange range = scalar ? LeafRange{r.local, r.local + 1} : leaf_range(a, r.local, &lf);
      const int64_t n = std::min(range.end - range.begin, width);
      for (int64_t j = 0; j < n; ++j) {
        const int64_t k = range.begin + j;
        if constexpr (std::is_same_v<T, void>) {
          out[j] = null_item;
        } else {
          out[j] = (leaf_nulls && !leaf.is_valid(k)) ? null_item : convert<O, T>(leaf, k, w, r.local);
        }
      }
      std::fill(out + n, out + width, pad);
    }
  };
  if (leaf.type->id == TypeId::kNull) {
    run(Tag<void>{});
  } else {
    visit_number(leaf.type->id, run);
  }
}

}  // namespace

void check_whole_numbers(const ArrayData& column, Key key, std::string_view dataset,
                         int64_t first_row) {
  const ArrayData& leaf = leaf_array(column);
  if (!is_float_type(leaf.type->id)) return;
  const Where w{dataset, key, first_row};
  visit_number(leaf.type->id, [&](auto tag) {
    using T = typename decltype(tag)::type;
    for (int64_t i = 0; i < column.length; ++i) {
      if (!column.is_valid(i)) continue;
      const ArrayData* lf = &column;
      const LeafRange range =
          column.type->is_list_like() ? leaf_range(column, i, &lf) : LeafRange{i, i + 1};
      for (int64_t k = range.begin; k < range.end; ++k) {
        if (leaf.is_valid(k)) convert<int64_t, T>(leaf, k, w, i);
      }
    }
  });
}

namespace {

// Largest image file read through an Image's `path`.
constexpr int64_t kMaxImageFileBytes = int64_t{256} << 20;

std::string read_image_file(const std::string& path, const std::string& where) {
  if (path.find('\0') != std::string::npos) {
    throw IoError(fmt::format("{}: image has no bytes and its path \"{}\" contains a NUL", where,
                              detail::excerpt(path)));
  }
  try {
    return detail::read_small_file(path, kMaxImageFileBytes, "image");
  } catch (const IoError& e) {
    throw IoError(fmt::format("{}: image has no bytes and its path \"{}\" cannot be read ({})",
                              where, detail::excerpt(path), e.what()));
  }
}

// Image column (HF Image struct or binary) -> decoded pixels, flattened, padded with zeros.
template <class O>
void image_rows(const ArrayData& a, std::span<const RowRef> rows, Tensor& t, int64_t width,
                std::string_view dataset, int64_t first_row) {
  O* base = t.data_as<O>();
  const ArrayData* bytes = &a;
  const ArrayData* path = nullptr;
  int64_t shift = 0;  // struct members are indexed with the struct's offset applied
  if (a.type->id == TypeId::kStruct) {
    shift = a.offset;
    bytes = nullptr;
    for (size_t f = 0; f < a.type->children.size(); ++f) {
      const auto& field = a.type->children[f];
      if (field.name == "bytes") bytes = a.children[f].get();
      if (field.name == "path" && (field.type->id == TypeId::kUtf8 || field.type->id == TypeId::kLargeUtf8)) {
        path = a.children[f].get();
      }
    }
  }
  for (const RowRef& r : rows) {
    O* out = base + r.out * width;
    if (!a.is_valid(r.local)) {
      std::fill(out, out + width, O{0});
      continue;
    }
    const int64_t k = r.local + shift;
    const std::string where = fmt::format("{}: column \"observation_image\" row {}", dataset,
                                          first_row + r.local);
    DecodedImage img;
    if (bytes->is_valid(k)) {
      img = decode_image(arrow::binary_value(*bytes, k), where);
    } else if (path != nullptr && path->is_valid(k)) {
      img = decode_image(read_image_file(std::string(arrow::binary_value(*path, k)), where), where);
    } else {
      std::fill(out, out + width, O{0});
      continue;
    }
    const int64_t n = std::min(static_cast<int64_t>(img.pixels.size()), width);
    const uint8_t* px = img.pixels.data();
    for (int64_t j = 0; j < n; ++j) out[j] = static_cast<O>(px[j]);
    std::fill(out + n, out + width, O{0});
  }
}

}  // namespace

void OutputLayout::add(const SchemaPlan& plan) noexcept {
  for (int k = 0; k < kKeyCount; ++k) {
    if (plan.shape[k] != ColumnShape::kAbsent) present[k] = true;
  }
  if (plan.shape[static_cast<int>(Key::kObsDiscrete)] == ColumnShape::kList) discrete_list = true;
}

void OutputLayout::add(const OutputLayout& other) noexcept {
  for (int k = 0; k < kKeyCount; ++k) present[k] = present[k] || other.present[k];
  discrete_list = discrete_list || other.discrete_list;
}

BatchEncoder::BatchEncoder(const StoreConfig& config, const OutputLayout& layout, int64_t rows,
                           const Allocator& allocator)
    : config_(config), layout_(layout), rows_(rows) {
  for (const KeySpec& spec : key_specs()) {
    const int k = static_cast<int>(spec.key);
    if (spec.required) layout_.present[k] = true;
    if (!layout_.present[k]) continue;
    std::vector<int64_t> shape{rows};
    switch (spec.key) {
      case Key::kQStar: shape.push_back(config.max_action_dim); break;
      case Key::kObsContinuous: shape.push_back(config.max_obs_continuous_dim); break;
      case Key::kObsImage: shape.push_back(config.max_obs_image_pixels); break;
      case Key::kObsDiscrete:
        if (layout_.discrete_list) shape.push_back(config.max_obs_discrete_dim);
        break;
      default: break;
    }
    width_[k] = shape.size() > 1 ? shape[1] : 1;
    tensors_[k] = Tensor::empty(std::move(shape), key_dtype(spec.key, config), allocator);
  }
}

void BatchEncoder::fill(Key key, std::span<const RowRef> rows) {
  const int k = static_cast<int>(key);
  Tensor& t = tensors_[k];
  const int64_t w = width_[k];
  // Rows without the column are null rows of it (to_dataset stores them as nulls): time -1.
  if (key == Key::kTime) {
    for (const RowRef& r : rows) t.data_as<int64_t>()[r.out] = kNullTime;
    return;
  }
  switch (t.dtype()) {
    case DType::kFloat32: {
      const float v = key == Key::kQStar ? -std::numeric_limits<float>::infinity() : 0.0f;
      for (const RowRef& r : rows) std::ranges::fill(row_span<float>(t, w, r.out), v);
      break;
    }
    case DType::kFloat64:
      for (const RowRef& r : rows) std::ranges::fill(row_span<double>(t, w, r.out), 0.0);
      break;
    case DType::kInt64:
      for (const RowRef& r : rows) std::ranges::fill(row_span<int64_t>(t, w, r.out), 0);
      break;
    case DType::kUInt8:
      for (const RowRef& r : rows) std::ranges::fill(row_span<uint8_t>(t, w, r.out), 0);
      break;
    default: MOUSE_DCHECK(false);
  }
}

void BatchEncoder::encode(std::span<const arrow::ArrayPtr> columns, const SchemaPlan& plan,
                          std::span<const RowRef> rows, std::string_view dataset,
                          int64_t first_row) {
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  for (const KeySpec& spec : key_specs()) {
    const int k = static_cast<int>(spec.key);
    if (!layout_.present[k]) continue;
    const ColumnShape shape = plan.shape[k];
    if (shape == ColumnShape::kAbsent) {
      fill(spec.key, rows);
      continue;
    }
    const ArrayData& a = *columns[static_cast<size_t>(plan.field[k])];
    Tensor& t = tensors_[k];
    const int64_t w = width_[k];
    const Where where{dataset, spec.key, first_row};
    switch (spec.key) {
      case Key::kAction:
      case Key::kDone:
        scalar_rows<int64_t>(a, rows, t.data_as<int64_t>(), spec.required, where, 0);
        break;
      case Key::kTime:
        scalar_rows<int64_t>(a, rows, t.data_as<int64_t>(), false, where, kNullTime);
        break;
      case Key::kReward:
      case Key::kXformedReward:
        scalar_rows<float>(a, rows, t.data_as<float>(), spec.required, where, 0.0f);
        break;
      case Key::kQStar:
        list_rows<float>(a, rows, t, w, kNegInf, kNegInf, kNegInf, where);
        break;
      case Key::kObsContinuous:
        list_rows<double>(a, rows, t, w, 0.0, 0.0, 0.0, where);
        break;
      case Key::kObsDiscrete:
        if (layout_.discrete_list) {
          list_rows<int64_t>(a, rows, t, w, 0, 0, 0, where);
        } else {
          scalar_rows<int64_t>(a, rows, t.data_as<int64_t>(), false, where, 0);
        }
        break;
      case Key::kObsImage:
        if (t.dtype() == DType::kUInt8) {
          if (shape == ColumnShape::kImage) {
            image_rows<uint8_t>(a, rows, t, w, dataset, first_row);
          } else {
            list_rows<uint8_t>(a, rows, t, w, 0, 0, 0, where);
          }
        } else if (shape == ColumnShape::kImage) {
          image_rows<int64_t>(a, rows, t, w, dataset, first_row);
        } else {
          list_rows<int64_t>(a, rows, t, w, 0, 0, 0, where);
        }
        break;
    }
  }
}

TensorDict BatchEncoder::finish() {
  TensorDict out({rows_});
  for (const KeySpec& spec : key_specs()) {
    const int k = static_cast<int>(spec.key);
    if (layout_.present[k]) out.set(std::string(spec.name), tensors_[k]);
  }
  return out;
}

TensorDict encode_dataset(const Dataset& ds, const StoreConfig& config, std::string_view label,
                          const Allocator& allocator) {
  const SchemaPlan plan = plan_schema(*ds.schema(), config, label, true);
  OutputLayout layout;
  layout.add(plan);
  BatchEncoder encoder(config, layout, ds.num_rows(), allocator);
  std::vector<RowRef> rows;
  int64_t first = 0;
  for (const auto& batch : ds.batches()) {
    rows.resize(static_cast<size_t>(batch.num_rows));
    for (int64_t i = 0; i < batch.num_rows; ++i) rows[static_cast<size_t>(i)] = {first + i, i};
    encoder.encode(batch.columns, plan, rows, label, first);
    first += batch.num_rows;
  }
  return encoder.finish();
}

}  // namespace mouse::detail
