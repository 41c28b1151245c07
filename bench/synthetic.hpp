// Synthetic CartPole-like step data for benchmarks and the bundled demo dataset:
// observation fixed_size_list<float>[4], action int64, reward float, done int64,
// episode_step int64, metadata_q_star fixed_size_list<float>[2]. Deterministic for a seed.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "mouse/arrow.hpp"

namespace mouse::bench {

inline std::shared_ptr<const arrow::Schema> cartpole_schema() {
  auto s = std::make_shared<arrow::Schema>();
  auto item = [](arrow::TypePtr t) { return arrow::Field{"item", std::move(t), true, {}}; };
  s->fields = {
      {"observation", arrow::fixed_size_list(item(arrow::float32()), 4), true, {}},
      {"action", arrow::int64(), true, {}},
      {"reward", arrow::float32(), true, {}},
      {"done", arrow::int64(), true, {}},
      {"episode_step", arrow::int64(), true, {}},
      {"metadata_q_star", arrow::fixed_size_list(item(arrow::float32()), 2), true, {}},
  };
  return s;
}

namespace detail {
template <class T>
arrow::ArrayPtr primitive(arrow::TypePtr type, const std::vector<T>& v) {
  auto a = std::make_shared<arrow::ArrayData>();
  a->type = std::move(type);
  a->length = static_cast<int64_t>(v.size());
  Buffer values = Buffer::allocate(static_cast<int64_t>(v.size() * sizeof(T)));
  if (!v.empty()) std::memcpy(values.mutable_data(), v.data(), v.size() * sizeof(T));
  a->buffers = {Buffer(), values};
  return a;
}
inline arrow::ArrayPtr fixed_list(arrow::TypePtr type, arrow::ArrayPtr child, int64_t length) {
  auto a = std::make_shared<arrow::ArrayData>();
  a->type = std::move(type);
  a->length = length;
  a->buffers = {Buffer()};
  a->children = {std::move(child)};
  return a;
}
}  // namespace detail

/// `rows` CartPole-like steps in record batches of at most `batch_rows` rows. Episodes end with
/// done = 1 (terminal) or 2 (truncated at 200 steps).
inline std::vector<arrow::RecordBatch> cartpole_batches(int64_t rows, int64_t batch_rows = 1000,
                                                        uint64_t seed = 0) {
  auto schema = cartpole_schema();
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> noise(0.0f, 0.05f);
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  std::vector<arrow::RecordBatch> out;
  int64_t step = 0;
  float state[4] = {0, 0, 0, 0};
  for (int64_t start = 0; start < rows; start += batch_rows) {
    int64_t n = std::min(batch_rows, rows - start);
    std::vector<float> obs, reward, q;
    std::vector<int64_t> action, done, time;
    for (int64_t r = 0; r < n; ++r) {
      for (float s : state) obs.push_back(s);
      int64_t a = unit(rng) < 0.5f ? 0 : 1;
      action.push_back(a);
      reward.push_back(1.0f);
      time.push_back(step);
      float q0 = 100.0f - static_cast<float>(step) * 0.5f + noise(rng);
      q.push_back(q0);
      q.push_back(q0 + (a ? 0.5f : -0.5f));
      // Crude pole dynamics: enough to make episodes end at varying lengths.
      state[1] += (a ? 0.1f : -0.1f) + noise(rng);
      state[0] += 0.02f * state[1];
      state[3] += (a ? -0.15f : 0.15f) + noise(rng) + 0.05f * state[2];
      state[2] += 0.02f * state[3];
      ++step;
      int64_t d = 0;
      if (state[2] > 0.21f || state[2] < -0.21f || state[0] > 2.4f || state[0] < -2.4f) d = 1;
      else if (step >= 200) d = 2;
      done.push_back(d);
      if (d) {
        step = 0;
        for (float& s : state) s = noise(rng);
      }
    }
    arrow::RecordBatch batch;
    batch.schema = schema;
    batch.num_rows = n;
    batch.columns = {
        detail::fixed_list(schema->fields[0].type, detail::primitive(arrow::float32(), obs), n),
        detail::primitive(arrow::int64(), action),
        detail::primitive(arrow::float32(), reward),
        detail::primitive(arrow::int64(), done),
        detail::primitive(arrow::int64(), time),
        detail::fixed_list(schema->fields[5].type, detail::primitive(arrow::float32(), q), n),
    };
    out.push_back(std::move(batch));
  }
  return out;
}

}  // namespace mouse::bench
