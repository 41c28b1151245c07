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
#include <type_traits>

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

/// A value outside the contract of its key (SPEC §4 "values outside the contract").
enum class ValueProblem : uint8_t {
  kNone,
  kDone,              ///< done not 0, 1 or 2
  kNegativeAction,    ///< action < 0
  kActionPastQStar,   ///< action >= max_action_dim while q-values are encoded
  kNonFiniteReward,   ///< reward NaN or +-inf
};

/// Checks one value `v` of `key`'s column (bool as 0 / 1): done must be 0, 1 or 2; action >= 0,
/// and < `max_action_dim` when `q_star` (the store encodes metadata_q_star, whose rows an action
/// indexes); reward finite. kNone for every other key. Whole-number checks of integer keys are
/// separate (is_whole_int64).
template <class T>
constexpr ValueProblem check_value_contract(Key key, T v, bool q_star,
                                            int64_t max_action_dim) noexcept {
  if constexpr (std::is_floating_point_v<T>) {
    if (key == Key::kReward) {
      return v - v == T(0) ? ValueProblem::kNone : ValueProblem::kNonFiniteReward;
    }
  }
  if (key == Key::kDone) {
    return v == T(0) || v == T(1) || v == T(2) ? ValueProblem::kNone : ValueProblem::kDone;
  }
  if (key == Key::kAction) {
    if constexpr (std::is_signed_v<T> || std::is_floating_point_v<T>) {
      if (v < T(0)) return ValueProblem::kNegativeAction;
    }
    if (q_star && !(static_cast<double>(v) < static_cast<double>(max_action_dim))) {
      return ValueProblem::kActionPastQStar;
    }
  }
  return ValueProblem::kNone;
}

/// What is wrong with a value (shown as `value`) that has `problem`, for messages: "the value 3
/// is not 0 (running), 1 (terminal) or 2 (truncated)".
std::string describe_value_problem(ValueProblem problem, std::string_view value,
                                   int64_t max_action_dim);

/// Leaf type of a (nested) list type, or the type itself.
const arrow::DataType& leaf_type(const arrow::DataType& type) noexcept;

/// The item struct of an HF Image: struct with a binary-like "bytes" member.
bool is_image_struct(const arrow::DataType& type) noexcept;

}  // namespace mouse::detail
