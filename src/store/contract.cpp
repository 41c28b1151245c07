#include "store/contract.hpp"

#include <fmt/format.h>

#include "mouse/error.hpp"
#include "store/numeric.hpp"

namespace mouse::detail {

namespace {

using arrow::TypeId;

// What each key accepts, for messages.
std::string_view accepted(Key key) noexcept {
  switch (key) {
    case Key::kAction:
    case Key::kDone:
    case Key::kTime:
      return "an integer, bool or float (whole numbers) column";
    case Key::kReward:
    case Key::kXformedReward:
      return "a numeric or bool column";
    case Key::kQStar:
    case Key::kObsContinuous:
      return "a list (or fixed-size list) of numbers, or a number";
    case Key::kObsDiscrete:
      return "an integer, bool or float (whole numbers) column, or a list of them";
    case Key::kObsImage:
      return "an Image (struct<bytes, path>), binary PNG/JPEG bytes, or a (nested) list of integer "
             "pixels";
  }
  return "";
}

}  // namespace

const std::array<KeySpec, kKeyCount>& key_specs() noexcept {
  static const std::array<KeySpec, kKeyCount> specs = {{
      {Key::kAction, "action", "action", true},
      {Key::kReward, "reward", "reward", true},
      {Key::kDone, "done", "done", true},
      {Key::kXformedReward, "xformed_reward", "xformed_reward", false},
      {Key::kTime, "episode_step", "time", false},
      {Key::kQStar, "metadata_q_star", "q_star", false},
      {Key::kObsContinuous, "observation", "obs_continuous", false},
      {Key::kObsDiscrete, "observation_discrete", "obs_discrete", false},
      {Key::kObsImage, "observation_image", "obs_image", false},
  }};
  return specs;
}

bool key_enabled(Key key, const StoreConfig& config) noexcept {
  switch (key) {
    case Key::kObsContinuous:
      return config.max_obs_continuous_dim > 0;
    case Key::kObsDiscrete:
      return config.max_obs_discrete_dim > 0;
    case Key::kObsImage:
      return config.max_obs_image_pixels > 0;
    default:
      return true;
  }
}

DType key_dtype(Key key, const StoreConfig& config) noexcept {
  switch (key) {
    case Key::kReward:
    case Key::kXformedReward:
    case Key::kQStar:
      return DType::kFloat32;
    case Key::kObsContinuous:
      return DType::kFloat64;
    case Key::kObsImage:
      return config.obs_image_dtype;
    default:
      return DType::kInt64;
  }
}

std::string describe_value_problem(ValueProblem problem, std::string_view value,
                                   int64_t max_action_dim) {
  switch (problem) {
    case ValueProblem::kNone: break;
    case ValueProblem::kDone:
      return fmt::format("the value {} is not 0 (running), 1 (terminal) or 2 (truncated)", value);
    case ValueProblem::kNegativeAction:
      return fmt::format("the value {} is negative; actions are indices from 0", value);
    case ValueProblem::kActionPastQStar:
      return fmt::format(
          "the value {} is not below max_action_dim {}; the store encodes q-values "
          "(metadata_q_star), which hold max_action_dim entries per row",
          value, max_action_dim);
    case ValueProblem::kNonFiniteReward:
      return fmt::format("the value {} is not finite; rewards must be finite numbers", value);
  }
  return {};
}

const arrow::DataType& leaf_type(const arrow::DataType& type) noexcept {
  const arrow::DataType* t = &type;
  while (t->is_list_like()) t = t->value_type().get();
  return *t;
}

bool is_image_struct(const arrow::DataType& type) noexcept {
  if (type.id != TypeId::kStruct) return false;
  for (const auto& f : type.children) {
    if (f.name == "bytes" && (f.type->id == TypeId::kBinary || f.type->id == TypeId::kLargeBinary)) {
      return true;
    }
  }
  return false;
}

ColumnCheck check_column(Key key, const arrow::DataType& type, std::string_view dataset) {
  if (type.id == TypeId::kNull) return {ColumnShape::kAbsent, {}};
  const TypeId leaf = leaf_type(type).id;
  bool ok = false;
  ColumnShape shape = ColumnShape::kScalar;
  switch (key) {
    case Key::kAction:
    case Key::kDone:
    case Key::kTime:
      // Floats are accepted when whole (other tools write them); the encoder checks each value.
      ok = is_numeric_or_bool_type(type.id);
      break;
    case Key::kReward:
    case Key::kXformedReward:
      ok = is_numeric_or_bool_type(type.id);
      break;
    case Key::kQStar:
    case Key::kObsContinuous:
      ok = is_numeric_or_bool_type(leaf) || (type.is_list_like() && leaf == TypeId::kNull);
      shape = type.is_list_like() ? ColumnShape::kList : ColumnShape::kScalar;
      break;
    case Key::kObsDiscrete:
      ok = is_numeric_or_bool_type(leaf) || (type.is_list_like() && leaf == TypeId::kNull);
      shape = type.is_list_like() ? ColumnShape::kList : ColumnShape::kScalar;
      break;
    case Key::kObsImage:
      if (is_image_struct(type) || type.id == TypeId::kBinary || type.id == TypeId::kLargeBinary) {
        ok = true;
        shape = ColumnShape::kImage;
      } else if (type.is_list_like()) {
        ok = is_integer_or_bool_type(leaf) || leaf == TypeId::kNull;
        shape = ColumnShape::kList;
      }
      break;
  }
  if (!ok) {
    const KeySpec& spec = key_specs()[static_cast<int>(key)];
    return {shape, fmt::format(
        "{}: column \"{}\" has type {}, which cannot convert to \"{}\" ({}); expected {}", dataset,
        spec.column, type.to_string(), spec.name,
        dtype_name(key == Key::kObsImage ? DType::kInt64 : key_dtype(key, StoreConfig{})),
        accepted(key))};
  }
  return {shape, {}};
}

ColumnShape classify_column(Key key, const arrow::DataType& type, std::string_view dataset) {
  ColumnCheck c = check_column(key, type, dataset);
  if (!c.problem.empty()) throw InvalidArgument(std::move(c.problem));
  return c.shape;
}

SchemaPlan plan_schema(const arrow::Schema& schema, const StoreConfig& config,
                       std::string_view dataset, bool require) {
  SchemaPlan plan;
  for (const KeySpec& spec : key_specs()) {
    const int k = static_cast<int>(spec.key);
    plan.field[k] = -1;
    plan.shape[k] = ColumnShape::kAbsent;
    if (!key_enabled(spec.key, config)) continue;
    const int index = schema.field_index(spec.column);
    if (index >= 0) {
      plan.shape[k] = classify_column(spec.key, *schema.fields[static_cast<size_t>(index)].type,
                                      dataset);
      if (plan.shape[k] != ColumnShape::kAbsent) plan.field[k] = index;
    }
    if (require && spec.required && plan.shape[k] == ColumnShape::kAbsent) {
      std::string names;
      for (const auto& f : schema.fields) {
        if (!names.empty()) names += ", ";
        names += fmt::format("\"{}\"", f.name);
      }
      throw InvalidArgument(fmt::format(
          "{}: required column \"{}\" is {}; available columns: [{}]", dataset, spec.column,
          index >= 0 ? "typed null (no values)" : "missing", names));
    }
  }
  return plan;
}

}  // namespace mouse::detail
