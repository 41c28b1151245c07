// Helpers for the store tests: step datasets built in memory, tensor access, error matching.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "format/arrow/builders.hpp"
#include "mouse/dataset.hpp"
#include "mouse/dataset_store.hpp"
#include "mouse/error.hpp"
#include "test_support.hpp"

namespace mouse::test {

inline constexpr float kNegInf = -std::numeric_limits<float>::infinity();

inline arrow::Field item_field(arrow::TypePtr t) { return {"item", std::move(t), true, {}}; }

/// Columns -> an in-memory dataset (one record batch per `batch_rows` rows).
inline Dataset make_dataset(const std::vector<std::string>& names,
                            const std::vector<arrow::ArrayPtr>& columns, int64_t batch_rows = 0) {
  arrow::RecordBatch all = arrow::make_batch(names, columns);
  if (batch_rows <= 0 || batch_rows >= all.num_rows) {
    return Dataset::from_batches(all.schema, {all});
  }
  std::vector<arrow::RecordBatch> batches;
  for (int64_t r = 0; r < all.num_rows; r += batch_rows) {
    arrow::RecordBatch b;
    b.schema = all.schema;
    b.num_rows = std::min(batch_rows, all.num_rows - r);
    for (const auto& c : all.columns) b.columns.push_back(c->slice(r, b.num_rows));
    batches.push_back(std::move(b));
  }
  return Dataset::from_batches(all.schema, std::move(batches));
}

/// A step dataset of `n` rows: action = base + i, reward = (base + i) / 2, done = i % 3,
/// episode_step = i, observation = fixed_size_list<float>[obs_dim] {base+i, base+i+0.25, ...},
/// metadata_q_star = list<float> of length (i % 4) {i, i+1, ...}.
inline Dataset step_dataset(int64_t n, int64_t base = 0, int32_t obs_dim = 3,
                            int64_t batch_rows = 0) {
  std::vector<int64_t> action, done, time, q_offsets{0};
  std::vector<float> reward, obs, q;
  for (int64_t i = 0; i < n; ++i) {
    action.push_back(base + i);
    reward.push_back(static_cast<float>(base + i) / 2.0f);
    done.push_back(i % 3);
    time.push_back(i);
    for (int32_t k = 0; k < obs_dim; ++k) obs.push_back(static_cast<float>(base + i) + 0.25f * k);
    for (int64_t k = 0; k < i % 4; ++k) q.push_back(static_cast<float>(i + k));
    q_offsets.push_back(static_cast<int64_t>(q.size()));
  }
  return make_dataset(
      {"action", "reward", "done", "episode_step", "observation", "metadata_q_star"},
      {arrow::make_primitive<int64_t>(action), arrow::make_primitive<float>(reward),
       arrow::make_primitive<int64_t>(done), arrow::make_primitive<int64_t>(time),
       arrow::make_fixed_size_list(arrow::make_primitive<float>(obs), obs_dim),
       arrow::make_list(q_offsets, arrow::make_primitive<float>(q))},
      batch_rows);
}

/// The settings of a store for tests of other behaviour whose data break the value contract on
/// purpose (step_dataset's actions count rows, past max_action_dim while q_star is present):
/// the SPEC §4 widths with the source value checks off (validate_test.cpp tests those).
inline StoreConfig unchecked(int64_t max_action_dim, int64_t max_obs_continuous_dim = 0,
                             int64_t max_obs_discrete_dim = 0, int64_t max_obs_image_pixels = 0) {
  StoreConfig c;
  c.max_action_dim = max_action_dim;
  c.max_obs_continuous_dim = max_obs_continuous_dim;
  c.max_obs_discrete_dim = max_obs_discrete_dim;
  c.max_obs_image_pixels = max_obs_image_pixels;
  c.validate = false;
  return c;
}

/// The minimal step row.
inline StepRow step_row(int64_t action, double reward, int64_t done) {
  return StepRow{{"action", action}, {"reward", reward}, {"done", done}};
}

/// Tensor values as a vector (any dtype read as T).
template <class T>
std::vector<T> values_of(const Tensor& t) {
  std::vector<T> out(static_cast<size_t>(t.numel()));
  const Tensor& c = t;
  switch (t.dtype()) {
    case DType::kInt64:
      for (int64_t i = 0; i < t.numel(); ++i) out[static_cast<size_t>(i)] = static_cast<T>(c.data_as<int64_t>()[i]);
      break;
    case DType::kFloat32:
      for (int64_t i = 0; i < t.numel(); ++i) out[static_cast<size_t>(i)] = static_cast<T>(c.data_as<float>()[i]);
      break;
    case DType::kFloat64:
      for (int64_t i = 0; i < t.numel(); ++i) out[static_cast<size_t>(i)] = static_cast<T>(c.data_as<double>()[i]);
      break;
    case DType::kUInt8:
      for (int64_t i = 0; i < t.numel(); ++i) out[static_cast<size_t>(i)] = static_cast<T>(c.data_as<uint8_t>()[i]);
      break;
    default:
      ADD_FAILURE() << "values_of: unexpected dtype";
  }
  return out;
}

/// The whole file as a string ("" if it cannot be read).
inline std::string read_text_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// All indices [0, n).
inline std::vector<int64_t> iota(int64_t n, int64_t from = 0) {
  std::vector<int64_t> v;
  for (int64_t i = from; i < n; ++i) v.push_back(i);
  return v;
}

}  // namespace mouse::test

/// Expects `stmt` to throw `type` whose message contains `substr`.
#define EXPECT_THROW_MSG(stmt, type, substr)                                             \
  do {                                                                                   \
    try {                                                                                \
      stmt;                                                                              \
      ADD_FAILURE() << "expected " #type " from: " #stmt;                                \
    } catch (const type& e__) {                                                          \
      EXPECT_NE(std::string(e__.what()).find(substr), std::string::npos)                 \
          << "message: " << e__.what() << "\nexpected to contain: " << (substr);         \
    } catch (const std::exception& e__) {                                                \
      ADD_FAILURE() << "expected " #type ", got another exception: " << e__.what();      \
    }                                                                                    \
  } while (0)
