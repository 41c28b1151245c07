// Typed conversion loops of the SPEC §3 encoder. Each loop is chosen once per (chunk, key) by
// the column's Arrow type; the per-row work is a load, a conversion and a store.
#include "store/encoder.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
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

// Copies n values: a plain loop for the one- and few-row runs of scattered rows, memcpy above.
template <class T>
inline void copy_values(T* dst, const T* src, int64_t n) {
  if (n <= 4) {
    for (int64_t i = 0; i < n; ++i) dst[i] = src[i];
  } else {
    std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(T));
  }
}

// Scalar column -> one element per row; null rows get `null_value`. A run of a null-free column
// of the output's own type is one memcpy; other conversions are a plain loop over the run.
template <class O>
void scalar_rows(const ArrayData& a, std::span<const RowRun> runs, O* out, bool required,
                 const Where& w, O null_value) {
  const bool nulls = a.null_count > 0;
  if (nulls && required) {
    for (const RowRun& r : runs) {
      for (int64_t i = r.local; i < r.local + r.n; ++i) {
        if (!a.is_valid(i)) throw_null(w.dataset, w.key, w.first_row + i);
      }
    }
  }
  visit_number(a.type->id, [&](auto tag) {
    using T = typename decltype(tag)::type;
    constexpr bool kPlainCast = std::is_arithmetic_v<T> &&
                                !(std::is_integral_v<O> && std::is_floating_point_v<T>);
    if constexpr (kPlainCast) {
      if (!nulls) {
        const T* src = arrow::values<T>(a);
        for (const RowRun& r : runs) {
          O* dst = out + r.out;
          if (r.n == 1) {  // scattered rows: one load and store each
            *dst = static_cast<O>(src[r.local]);
          } else if constexpr (std::is_same_v<T, O>) {
            copy_values(dst, src + r.local, r.n);
          } else {
            for (int64_t i = 0; i < r.n; ++i) dst[i] = static_cast<O>(src[r.local + i]);
          }
        }
        return;
      }
    }
    for (const RowRun& r : runs) {
      O* dst = out + r.out;
      if (nulls) {
        for (int64_t i = 0; i < r.n; ++i) {
          const int64_t k = r.local + i;
          dst[i] = a.is_valid(k) ? convert<O, T>(a, k, w, k) : null_value;
        }
      } else {
        for (int64_t i = 0; i < r.n; ++i) dst[i] = convert<O, T>(a, r.local + i, w, r.local + i);
      }
    }
  });
}

// The leaf array under (nested) lists and the leaf range of element `i` of `a`.
struct LeafRange {
  int64_t begin = 0;
  int64_t end = 0;
};

LeafRange leaf_range(const ArrayData& a, int64_t i, const ArrayData** leaf) {
  int64_t lo = i, hi = i + 1;
  *leaf = &leaf_span(a, lo, hi);
  return {lo, hi};
}

const ArrayData& leaf_array(const ArrayData& a) {
  const ArrayData* level = &a;
  while (level->type->is_list_like()) level = level->children[0].get();
  return *level;
}

// Rows [first, first + n) of a null-free fixed-size list of k values per row, copied to `width`
// values per output row: memcpy for the output's own type, a loop per row otherwise; `pad` past
// k.
template <class O, class T>
void fixed_list_run(const ArrayData& leaf, int64_t first, int64_t n, int64_t k, O* out,
                    int64_t width, O pad, const Where& w, int64_t local) {
  const int64_t m = std::min(k, width);
  if constexpr (std::is_same_v<T, O>) {
    const T* src = arrow::values<T>(leaf) + first * k;
    if (k == width) {
      copy_values(out, src, n * k);
      return;
    }
    for (int64_t i = 0; i < n; ++i) {
      copy_values(out + i * width, src + i * k, m);
      std::fill(out + i * width + m, out + (i + 1) * width, pad);
    }
  } else if constexpr (std::is_arithmetic_v<T> &&
                       !(std::is_integral_v<O> && std::is_floating_point_v<T>)) {
    const T* src = arrow::values<T>(leaf) + first * k;
    if (k == width) {  // one flat conversion loop over the run's values (vectorised)
      const int64_t total = n * k;
      for (int64_t j = 0; j < total; ++j) out[j] = static_cast<O>(src[j]);
      return;
    }
    for (int64_t i = 0; i < n; ++i) {
      O* row = out + i * width;
      const T* from = src + i * k;
      for (int64_t j = 0; j < m; ++j) row[j] = static_cast<O>(from[j]);
      std::fill(row + m, row + width, pad);
    }
  } else {
    for (int64_t i = 0; i < n; ++i) {
      O* row = out + i * width;
      for (int64_t j = 0; j < m; ++j) {
        row[j] = convert<O, T>(leaf, (first + i) * k + j, w, local + i);
      }
      std::fill(row + m, row + width, pad);
    }
  }
}

// List (or scalar) column -> `width` elements per row, truncated or padded with `pad`; null
// items become `null_item`, null rows `null_row` everywhere.
template <class O>
void list_rows(const ArrayData& a, std::span<const RowRun> runs, Tensor& t, int64_t width, O pad,
               O null_item, O null_row, const Where& w) {
  O* base = t.data_as<O>();
  const ArrayData& leaf = leaf_array(a);
  const bool scalar = !a.type->is_list_like();
  // One fixed-size list level over a null-free numeric child (observations, q_star vectors):
  // each run of rows is a contiguous run of the child's values.
  const bool fixed_flat = a.type->id == TypeId::kFixedSizeList && &leaf == a.children[0].get() &&
                          leaf.null_count == 0 && a.null_count == 0;
  auto run = [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (!std::is_same_v<T, void>) {
      if (fixed_flat) {
        const int64_t k = a.type->list_size;
        for (const RowRun& r : runs) {
          fixed_list_run<O, T>(leaf, a.offset + r.local, r.n, k, base + r.out * width, width, pad,
                               w, r.local);
        }
        return;
      }
    }
    const bool leaf_nulls = leaf.null_count > 0;
    for (const RowRun& r : runs) {
      for (int64_t i = 0; i < r.n; ++i) {
        const int64_t local = r.local + i;
        O* out = base + (r.out + i) * width;
        if (!a.is_valid(local)) {
          std::fill(out, out + width, null_row);
          continue;
        }
        const ArrayData* lf = &a;
        LeafRange range = scalar ? LeafRange{local, local + 1} : leaf_range(a, local, &lf);
        const int64_t n = std::min(range.end - range.begin, width);
        for (int64_t j = 0; j < n; ++j) {
          const int64_t k = range.begin + j;
          if constexpr (std::is_same_v<T, void>) {
            out[j] = null_item;
          } else {
            out[j] = (leaf_nulls && !leaf.is_valid(k)) ? null_item : convert<O, T>(leaf, k, w, local);
          }
        }
        std::fill(out + n, out + width, pad);
      }
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

// The bytes of the image file an Image's `path` names. With a `root` (a Hub layout's), the
// path is relative to it and may not leave it, through `..` or a symbolic link: a downloaded
// dataset never makes the loader read files outside its own directory.
std::string read_image_file(const std::string& path, const std::string& where,
                            const std::optional<std::filesystem::path>& root) {
  if (path.find('\0') != std::string::npos) {
    throw IoError(fmt::format("{}: image has no bytes and its path \"{}\" contains a NUL", where,
                              detail::excerpt(path)));
  }
  std::filesystem::path file = path;
  if (root) {
    if (file.is_absolute()) {
      throw IoError(fmt::format(
          "{}: image has no bytes and its path \"{}\" is absolute; image paths of a Hub dataset "
          "are relative to its directory {}",
          where, detail::excerpt(path), detail::excerpt(root->string())));
    }
    file = (*root / file).lexically_normal();
    if (!detail::resolves_inside(file, *root)) {
      throw IoError(fmt::format(
          "{}: image has no bytes and its path \"{}\" leads outside the dataset directory {}",
          where, detail::excerpt(path), detail::excerpt(root->string())));
    }
  }
  try {
    return detail::read_small_file(file, kMaxImageFileBytes, "image");
  } catch (const IoError& e) {
    throw IoError(fmt::format("{}: image has no bytes and its path \"{}\" cannot be read ({})",
                              where, detail::excerpt(path), e.what()));
  }
}

// Image column (HF Image struct or binary) -> decoded pixels, flattened, padded with zeros,
// decoded straight into the output row. A frame already decoded into another row of this batch
// (`seen`: element of `a` -> output row) is copied from there instead: windows overlap.
template <class O>
void image_rows(const ArrayData& a, std::span<const RowRun> runs, O* base, int64_t width,
                std::string_view dataset, int64_t first_row, DecodedFrames& seen,
                const std::optional<std::filesystem::path>& root, ImageWidthWarning* warning) {
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
  for (const RowRun& run : runs) {
    for (int64_t i = 0; i < run.n; ++i) {
      const int64_t row = run.out + i;
      const int64_t local = run.local + i;
      O* out = base + row * width;
      if (!a.is_valid(local)) {
        std::fill(out, out + width, O{0});
        continue;
      }
      const auto [it, fresh] = seen.try_emplace(DecodedFrames::key_type{&a, local}, row);
      if (!fresh) {
        std::memcpy(out, base + it->second * width, static_cast<size_t>(width) * sizeof(O));
        continue;
      }
      const int64_t k = local + shift;
      const std::string where = fmt::format("{}: column \"observation_image\" row {}", dataset,
                                            first_row + local);
      const std::span<O> dst(out, static_cast<size_t>(width));
      ImageInfo info;
      if (bytes->is_valid(k)) {
        info = decode_image_into(arrow::binary_value(*bytes, k), where, dst);
      } else if (path != nullptr && path->is_valid(k)) {
        info = decode_image_into(read_image_file(std::string(arrow::binary_value(*path, k)), where, root),
                                 where, dst);
      } else {
        std::fill(out, out + width, O{0});
      }
      if (warning != nullptr && info.size() > width) {
        warning->check("observation_image", fmt::format("{}, row {}", dataset, first_row + local),
                       info.height, info.width, info.channels, width);
      }
    }
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

namespace {

// Values per row of `key`'s tensor (1 for scalars).
int64_t step_width(Key key, const StoreConfig& config, const OutputLayout& layout) {
  switch (key) {
    case Key::kQStar: return config.max_action_dim;
    case Key::kObsContinuous: return config.max_obs_continuous_dim;
    case Key::kObsImage: return config.max_obs_image_pixels;
    case Key::kObsDiscrete: return layout.discrete_list ? config.max_obs_discrete_dim : 1;
    default: return 1;
  }
}

// Whether `key`'s tensor has a step dimension.
bool has_step_dim(Key key, const OutputLayout& layout) {
  return key == Key::kQStar || key == Key::kObsContinuous || key == Key::kObsImage ||
         (key == Key::kObsDiscrete && layout.discrete_list);
}

}  // namespace

BatchEncoder::BatchEncoder(const StoreConfig& config, const OutputLayout& layout, int64_t rows,
                           const Allocator& allocator)
    : config_(config), layout_(layout), rows_(rows) {
  for (const KeySpec& spec : key_specs()) {
    const int k = static_cast<int>(spec.key);
    if (spec.required) layout_.present[k] = true;
    if (!layout_.present[k]) continue;
    std::vector<int64_t> shape{rows};
    width_[k] = step_width(spec.key, config, layout_);
    if (has_step_dim(spec.key, layout_)) shape.push_back(width_[k]);
    tensors_[k] = Tensor::empty(std::move(shape), key_dtype(spec.key, config), allocator);
  }
}

BatchEncoder::BatchEncoder(const StoreConfig& config, const OutputLayout& layout, TensorDict& out)
    : config_(config), layout_(layout), rows_(out.batch_size().empty() ? 0 : out.batch_size()[0]) {
  if (out.batch_size().size() != 1) {
    throw InvalidArgument(fmt::format("gather_windows: the output must have one batch dimension, "
                                      "it has {}",
                                      out.batch_size().size()));
  }
  for (const KeySpec& spec : key_specs()) {
    const int k = static_cast<int>(spec.key);
    if (spec.required) layout_.present[k] = true;
    const std::string name(spec.name);
    if (!out.contains(name)) {
      if (layout_.present[k]) {
        throw InvalidArgument(fmt::format(
            "gather_windows: the output has no \"{}\", which this store's rows have", name));
      }
      continue;
    }
    // A key of the output this store lacks: written as a missing value.
    layout_.present[k] = true;
    if (spec.key == Key::kObsDiscrete && out.at(name).ndim() == 2) layout_.discrete_list = true;
  }
  for (const KeySpec& spec : key_specs()) {
    const int k = static_cast<int>(spec.key);
    if (!layout_.present[k]) continue;
    const std::string name(spec.name);
    const Tensor& t = out.at(name);
    width_[k] = step_width(spec.key, config, layout_);
    const bool step = has_step_dim(spec.key, layout_);
    const DType dtype = key_dtype(spec.key, config);
    if (t.dtype() != dtype || t.ndim() != (step ? 2 : 1) || (step && t.shape()[1] != width_[k]) ||
        !t.is_writable()) {
      throw InvalidArgument(fmt::format(
          "gather_windows: output \"{}\" is {} of shape [{}]{}; this store writes it as {} {}",
          name, dtype_name(t.dtype()), fmt::join(t.shape(), ", "),
          t.is_writable() ? "" : " (read-only)", dtype_name(dtype),
          step ? fmt::format("[rows, {}]", width_[k]) : std::string("[rows]")));
    }
    tensors_[k] = t;
  }
}

void BatchEncoder::fill(Key key, std::span<const RowRun> runs) {
  const int k = static_cast<int>(key);
  Tensor& t = tensors_[k];
  const int64_t w = width_[k];
  // Rows without the column are null rows of it (to_dataset stores them as nulls): time -1.
  auto fill_runs = [&](auto value) {
    using V = decltype(value);
    for (const RowRun& r : runs) std::fill_n(t.data_as<V>() + r.out * w, r.n * w, value);
  };
  if (key == Key::kTime) {
    fill_runs(int64_t{kNullTime});
    return;
  }
  switch (t.dtype()) {
    case DType::kFloat32:
      fill_runs(key == Key::kQStar ? -std::numeric_limits<float>::infinity() : 0.0f);
      break;
    case DType::kFloat64: fill_runs(0.0); break;
    case DType::kInt64: fill_runs(int64_t{0}); break;
    case DType::kUInt8: fill_runs(uint8_t{0}); break;
    default: MOUSE_DCHECK(false);
  }
}

void BatchEncoder::pad(std::span<const RowRun> runs) {
  for (const KeySpec& spec : key_specs()) {
    if (layout_.present[static_cast<int>(spec.key)]) fill(spec.key, runs);
  }
}

void BatchEncoder::encode(std::span<const arrow::ArrayPtr> columns, const SchemaPlan& plan,
                          std::span<const RowRun> rows, std::string_view dataset,
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
            image_rows<uint8_t>(a, rows, t.data_as<uint8_t>(), w, dataset, first_row, frames_,
                                plan.image_root, image_warning_);
          } else {
            list_rows<uint8_t>(a, rows, t, w, 0, 0, 0, where);
          }
        } else if (shape == ColumnShape::kImage) {
          image_rows<int64_t>(a, rows, t.data_as<int64_t>(), w, dataset, first_row, frames_,
                              plan.image_root, image_warning_);
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
                          const Allocator& allocator, ImageWidthWarning* warning) {
  SchemaPlan plan = plan_schema(*ds.schema(), config, label, true);
  plan.image_root = ds.image_root();
  OutputLayout layout;
  layout.add(plan);
  BatchEncoder encoder(config, layout, ds.num_rows(), allocator);
  encoder.warn_wide_images(warning);
  int64_t first = 0;
  for (const auto& batch : ds.batches()) {
    const RowRun run{first, 0, batch.num_rows};
    encoder.encode(batch.columns, plan, std::span<const RowRun>(&run, 1), label, first);
    first += batch.num_rows;
  }
  return encoder.finish();
}

void read_done_column(std::span<const arrow::ArrayPtr> columns, const SchemaPlan& plan,
                      int64_t first, int64_t n, int64_t* out, std::string_view label,
                      int64_t first_row) {
  const int k = static_cast<int>(Key::kDone);
  if (!plan.has(Key::kDone)) {  // the encoder zero-fills a key a chunk lacks
    std::fill_n(out, n, int64_t{0});
    return;
  }
  const ArrayData& a = *columns[static_cast<size_t>(plan.field[k])];
  const RowRun run{0, first, n};
  scalar_rows<int64_t>(a, std::span<const RowRun>(&run, 1), out, true,
                       Where{label, Key::kDone, first_row}, 0);
}

namespace {

// Runs longer than this are left to the hardware prefetcher.
constexpr int64_t kMaxPrefetchBytes = int64_t{32} << 10;

// Asks for the cache lines of bytes [p, p + n) ahead of their use.
void prefetch_bytes(const uint8_t* p, int64_t n) {
  for (int64_t k = 0; k < n; k += 64) __builtin_prefetch(p + k, 0, 2);
  if (n > 0) __builtin_prefetch(p + n - 1, 0, 2);
}

}  // namespace

void prefetch_rows(std::span<const arrow::ArrayPtr> columns, const SchemaPlan& plan,
                   int64_t local, int64_t n) {
  for (const int field : plan.field) {
    if (field < 0) continue;
    const ArrayData* a = columns[static_cast<size_t>(field)].get();
    int64_t first = a->offset + local;
    int64_t count = n;
    if (a->type->id == TypeId::kFixedSizeList && a->children.size() == 1) {
      const int64_t k = a->type->list_size;
      first *= k;
      count *= k;
      a = a->children[0].get();
      first += a->offset;
    }
    const int width = a->type->byte_width();
    if (width == 0 || a->buffers.size() < 2 || a->buffers[1].data() == nullptr) continue;
    // Long runs (image rows) stream well by themselves; asking for megabytes ahead would only
    // evict what is about to be copied.
    if (count * width > kMaxPrefetchBytes) continue;
    prefetch_bytes(a->buffers[1].data() + first * width, count * width);
  }
}

void decode_image_rows(const arrow::ArrayData& column, int64_t first, int64_t n, uint8_t* out,
                       int64_t width, std::string_view label, int64_t first_row,
                       const std::optional<std::filesystem::path>& image_root,
                       ImageWidthWarning* warning) {
  DecodedFrames seen;
  const RowRun run{0, first, n};
  image_rows<uint8_t>(column, std::span<const RowRun>(&run, 1), out, width, label, first_row, seen,
                      image_root, warning);
}

void ImageWidthWarning::check(std::string_view column, std::string_view where, int64_t height,
                              int64_t width, int64_t channels, int64_t max_pixels) noexcept {
  const int64_t values = height * width * channels;
  if (values <= max_pixels || warned_.load(std::memory_order_relaxed)) return;
  if (warned_.exchange(true)) return;
  try {
    const std::string text = fmt::format(
        "mouse-data: warning: column \"{}\" ({}) holds an image of {} x {} x {} (H x W x C) = {} "
        "values, more than max_obs_image_pixels = {}: obs_image keeps only its first {} values "
        "(for whole images max_obs_image_pixels must be at least {}; a forgotten x {} for the "
        "channels?). Said once per store.\n",
        column, where, height, width, channels, values, max_pixels, max_pixels, values, channels);
    std::fputs(text.c_str(), stderr);
  } catch (...) {
    // A warning that cannot be formatted is not worth failing the read for.
  }
}

namespace {

uint32_t be32(const unsigned char* p) noexcept {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

uint32_t be16(const unsigned char* p) noexcept { return (uint32_t{p[0]} << 8) | p[1]; }

}  // namespace

std::optional<std::array<int64_t, 3>> peek_image_shape(std::string_view bytes) noexcept {
  const auto* b = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  switch (sniff_image(bytes)) {
    case ImageFormat::kPng: {
      // Signature, then the IHDR chunk: length, "IHDR", width, height, depth, colour type.
      if (n < 33 || std::memcmp(b + 12, "IHDR", 4) != 0) return std::nullopt;
      int64_t channels = 0;
      switch (b[25]) {
        case 0: channels = 1; break;  // grey
        case 2: channels = 3; break;  // RGB
        case 3: channels = 3; break;  // palette, expanded to RGB
        case 4: channels = 2; break;  // grey + alpha
        case 6: channels = 4; break;  // RGBA
        default: return std::nullopt;
      }
      // A tRNS chunk (before the image data) becomes an alpha channel.
      if (channels == 1 || channels == 3) {
        for (size_t pos = 33; pos + 8 <= n;) {
          const uint32_t len = be32(b + pos);
          if (std::memcmp(b + pos + 4, "tRNS", 4) == 0) {
            ++channels;
            break;
          }
          if (std::memcmp(b + pos + 4, "IDAT", 4) == 0 || len > n - pos - 8) break;
          pos += 12 + len;
        }
      }
      return std::array<int64_t, 3>{be32(b + 20), be32(b + 16), channels};
    }
    case ImageFormat::kJpeg: {
      // Markers after SOI: FF xx, then a 16-bit length, until a start-of-frame.
      for (size_t pos = 2; pos + 4 <= n;) {
        if (b[pos] != 0xFF) return std::nullopt;
        const unsigned char marker = b[pos + 1];
        if (marker == 0xFF) {  // fill byte
          ++pos;
          continue;
        }
        const bool sof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 &&
                         marker != 0xCC;
        if (sof) {
          if (pos + 10 > n) return std::nullopt;
          const int64_t components = b[pos + 9];
          return std::array<int64_t, 3>{be16(b + pos + 5), be16(b + pos + 7),
                                        components == 1 ? 1 : 3};
        }
        pos += 2 + be16(b + pos + 2);
      }
      return std::nullopt;
    }
    case ImageFormat::kUnknown: break;
  }
  return std::nullopt;
}

}  // namespace mouse::detail
