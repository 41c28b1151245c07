// Helpers for the augment tests: small tensors from literal values, batches, exception checks.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "mouse/augment.hpp"
#include "mouse/error.hpp"
#include "mouse/tensor.hpp"
#include "mouse/tensor_dict.hpp"

namespace mouse::test {

// Asserts both the exception type and a substring of its message.
#define MOUSE_EXPECT_THROW_WITH(statement, type, needle)                                   \
  EXPECT_THROW(                                                                           \
      {                                                                                   \
        try {                                                                             \
          statement;                                                                      \
        } catch (const type& e_) {                                                        \
          EXPECT_NE(std::string(e_.what()).find(needle), std::string::npos) << e_.what(); \
          throw;                                                                          \
        }                                                                                 \
      },                                                                                  \
      type)

using Shape = std::vector<int64_t>;

/// A tensor of `shape` holding `values` (row-major) as T.
template <class T>
Tensor make(Shape shape, const std::vector<T>& values) {
  Tensor t = Tensor::empty(std::move(shape), dtype_of<T>());
  EXPECT_EQ(static_cast<size_t>(t.numel()), values.size());
  if (!values.empty()) std::memcpy(t.mutable_data(), values.data(), values.size() * sizeof(T));
  return t;
}

inline Tensor i64(Shape shape, const std::vector<int64_t>& v) { return make(std::move(shape), v); }
inline Tensor f32(Shape shape, const std::vector<float>& v) { return make(std::move(shape), v); }
inline Tensor f64(Shape shape, const std::vector<double>& v) { return make(std::move(shape), v); }
inline Tensor u8(Shape shape, const std::vector<uint8_t>& v) { return make(std::move(shape), v); }

/// The elements of `t` as T (TypeError on a dtype mismatch).
template <class T>
std::vector<T> values(const Tensor& t) {
  const T* p = t.data_as<T>();
  return std::vector<T>(p, p + t.numel());
}

/// A [B, S] batch with every field of SPEC §3: action in [1, num_actions), reward, done in
/// {0, 1, 2}, xformed_reward, time, q_star [B, S, num_actions], obs_continuous [B, S, 3],
/// obs_discrete [B, S, 2] in [0, num_obs_discrete), obs_image [B, S, 4] (int64 or uint8), all
/// non-zero where a mask would make them zero.
inline TensorDict full_batch(int64_t b, int64_t s, int64_t num_actions, int64_t num_obs_discrete,
                             DType image_dtype = DType::kInt64) {
  TensorDict d({b, s});
  const int64_t n = b * s;
  Tensor action = Tensor::empty({b, s}, DType::kInt64);
  Tensor reward = Tensor::empty({b, s}, DType::kFloat32);
  Tensor done = Tensor::empty({b, s}, DType::kInt64);
  Tensor xformed = Tensor::empty({b, s}, DType::kFloat32);
  Tensor time = Tensor::empty({b, s}, DType::kInt64);
  Tensor q = Tensor::empty({b, s, num_actions}, DType::kFloat32);
  Tensor obs = Tensor::empty({b, s, 3}, DType::kFloat64);
  Tensor disc = Tensor::empty({b, s, 2}, DType::kInt64);
  Tensor img = Tensor::empty({b, s, 4}, image_dtype);
  for (int64_t i = 0; i < n; ++i) {
    action.data_as<int64_t>()[i] = 1 + (i * 7) % (num_actions - 1);
    reward.data_as<float>()[i] = 0.5f + static_cast<float>(i % 5);
    done.data_as<int64_t>()[i] = 1 + i % 2;
    xformed.data_as<float>()[i] = -1.0f - static_cast<float>(i);
    time.data_as<int64_t>()[i] = i % s;
    for (int64_t a = 0; a < num_actions; ++a) {
      q.data_as<float>()[i * num_actions + a] = static_cast<float>(100 * i + a + 1);
    }
    for (int64_t k = 0; k < 3; ++k) obs.data_as<double>()[i * 3 + k] = 1.0 + 0.25 * (i + k);
    for (int64_t k = 0; k < 2; ++k) {
      disc.data_as<int64_t>()[i * 2 + k] = 1 + (i + k) % (num_obs_discrete - 1);
    }
    for (int64_t k = 0; k < 4; ++k) {
      const int64_t px = 1 + (i * 4 + k) * 37 % 250;
      if (image_dtype == DType::kUInt8) {
        img.data_as<uint8_t>()[i * 4 + k] = static_cast<uint8_t>(px);
      } else {
        img.data_as<int64_t>()[i * 4 + k] = px;
      }
    }
  }
  d.set("action", action);
  d.set("reward", reward);
  d.set("done", done);
  d.set("xformed_reward", xformed);
  d.set("time", time);
  d.set("q_star", q);
  d.set("obs_continuous", obs);
  d.set("obs_discrete", disc);
  d.set("obs_image", img);
  return d;
}

/// A config with every augmentation on.
inline AugmentTokensConfig everything_on() {
  AugmentTokensConfig c;
  c.scale_reward = AugmentScalarSpec::uniform(0.5, 2.0);
  c.shift_reward = AugmentScalarSpec::gaussian(0.0, 0.1);
  c.scale_obs = AugmentScalarSpec::uniform(0.8, 1.2);
  c.shift_obs = AugmentScalarSpec::gaussian(0.0, 0.5);
  c.scale_obs_image = AugmentScalarSpec::uniform(0.9, 1.1);
  c.shift_obs_image = AugmentScalarSpec::uniform(-10, 10);
  c.permute_obs_discrete = true;
  c.permute_action = PermuteAction::kBoth;
  c.permute_done = true;
  c.mask_prob = {0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1};
  return c;
}

}  // namespace mouse::test
