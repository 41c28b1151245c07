// The column contract of SPEC §3: which dataset column feeds which tensor key, with which dtype
// and per-step shape, and which Arrow types can convert. Pure functions over types; the encoder
// (encoder.hpp) does the conversion.
#pragma once

#include <array>
#include <filesystem>
#include <optional>
#include <cstdint>
#include <string>
#include <string_view>

#include "mouse/arrow.hpp"
#include "mouse/dataset_store.hpp"
#include "mouse/tensor.hpp"

namespace mouse::detail {

/// The tensor keys, in the order a TensorDict lists them.
enum class Key : int {
  kAction,
  kReward,
  kDone,
  kXformedReward,
  kTime,
  kQStar,
  kObsContinuous,
  kObsDiscrete,
  kObsImage,
};
inline constexpr int kKeyCount = 9;

/// The time of a step whose episode_step is null ("not available", SPEC §3).
inline constexpr int64_t kNullTime = -1;

/// Whether `key` takes integers (action, done, time, obs_discrete): a float column feeding it
/// must hold whole numbers.
constexpr bool is_integer_key(Key key) noexcept {
  return key == Key::kAction || key == Key::kDone || key == Key::kTime || key == Key::kObsDiscrete;
}

/// One row of the SPEC §3 table.
struct KeySpec {
  Key key;
  std::string_view column;  ///< dataset column
  std::string_view name;    ///< tensor key
  bool required;
};

/// The table, indexed by static_cast<int>(Key).
const std::array<KeySpec, kKeyCount>& key_specs() noexcept;

/// How a column's Arrow type feeds its key.
enum class ColumnShape : uint8_t {
  kAbsent,  ///< not in the schema, or typed null
  kScalar,  ///< one number (or bool) per row
  kList,    ///< list / large_list / fixed_size_list (any nesting) of numbers, flattened
  kImage,   ///< HF Image struct<bytes, path> or binary: encoded PNG / JPEG
};

/// Whether `key` is switched on by `config` (obs keys need their max dim > 0).
bool key_enabled(Key key, const StoreConfig& config) noexcept;

/// The output dtype of `key`.
DType key_dtype(Key key, const StoreConfig& config) noexcept;

/// How a column's type converts for a key, or why it cannot.
struct ColumnCheck {
  ColumnShape shape = ColumnShape::kAbsent;
  std::string problem;  ///< empty when the type converts; else names `dataset`, column and type
};

/// Classifies `type` for `key` without throwing: kAbsent for a null type; a problem naming
/// `dataset`, the column, its type and what the key accepts when the type cannot convert. The
/// caller throws it as the error its API promises (InvalidArgument for datasets, TypeError for
/// append).
ColumnCheck check_column(Key key, const arrow::DataType& type, std::string_view dataset);

/// check_column, throwing its problem as InvalidArgument.
ColumnShape classify_column(Key key, const arrow::DataType& type, std::string_view dataset);

/// The plan for encoding one schema: for each key, the field index (-1 when absent or disabled)
/// and how it converts.
struct SchemaPlan {
  std::array<int, kKeyCount> field{};
  std::array<ColumnShape, kKeyCount> shape{};
  /// Where Image `path` values resolve and must stay (Dataset::image_root); nullopt: as given.
  std::optional<std::filesystem::path> image_root;

  bool has(Key key) const noexcept { return shape[static_cast<int>(key)] != ColumnShape::kAbsent; }
};

/// Plans `schema`. With `require`, a missing required column is InvalidArgument naming the
/// column, `dataset` and the available columns; without it, required columns may be absent
/// (the caller decides). Unconvertible types throw as classify_column.
SchemaPlan plan_schema(const arrow::Schema& schema, const StoreConfig& config,
                       std::string_view dataset, bool require);

/// Leaf type of a (nested) list type, or the type itself.
const arrow::DataType& leaf_type(const arrow::DataType& type) noexcept;

/// The item struct of an HF Image: struct with a binary-like "bytes" member.
bool is_image_struct(const arrow::DataType& type) noexcept;

}  // namespace mouse::detail
