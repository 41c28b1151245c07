// TokenAugmenter::apply: validates each field, draws its mask (the list of masked positions), and
// writes the augmented field from the input into fresh storage (the input is only read).
#include <fmt/format.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "augment/batch_shape.hpp"
#include "augment/kernels.hpp"
#include "augment/mask_sampler.hpp"
#include "augment/streams.hpp"
#include "mouse/augment.hpp"
#include "mouse/error.hpp"

namespace mouse {

namespace {

using detail::augment::MaskField;

// Everything one apply() call needs while walking the fields.
struct Context {
  const AugmentTokensConfig& config;
  const AugmentSnapshot& snapshot;
  uint64_t seed;
  uint64_t mask_call;
  int64_t batch;  // B
  int64_t seq;    // S
  const Allocator& allocator;
  // Holds the current field's mask; one allocation serves every field of the call.
  detail::augment::MaskScratch& mask_scratch;

  int64_t positions() const { return batch * seq; }
};

// The masked [b, s] positions (as b * S + s, increasing) of `field` for this call: empty when
// p == 0. Valid until the next draw_mask with the same context.
std::span<const int64_t> draw_mask(const Context& ctx, MaskField field, double p) {
  if (!(p > 0.0)) return {};
  detail::CounterRng rng = detail::augment::mask_rng(ctx.seed, ctx.mask_call, field);
  return detail::augment::mask_positions(rng, p, ctx.positions(), ctx.mask_scratch);
}

void expect_dtype(std::string_view name, const Tensor& t, DType expected) {
  if (t.dtype() != expected) {
    throw TypeError(fmt::format("TokenAugmenter: field \"{}\": expected dtype {}, found {} {}",
                                name, dtype_name(expected), dtype_name(t.dtype()),
                                format_shape(t.shape())));
  }
}

// Elements per [b, s] position (0 for an empty batch).
int64_t inner_size(const Context& ctx, const Tensor& t) {
  return ctx.positions() == 0 ? 0 : t.numel() / ctx.positions();
}

// Throws when a value of `t` lies outside [0, n), naming the field, value, position and range.
void check_range(const Context& ctx, std::string_view name, const Tensor& t, int64_t n,
                 std::string_view range_name) {
  const int64_t* v = t.data_as<int64_t>();
  const int64_t bad = detail::augment::first_out_of_range(v, t.numel(), n);
  if (bad < 0) return;
  const int64_t inner = inner_size(ctx, t);
  const int64_t row = bad / inner;
  std::string where = fmt::format("[{}, {}", row / ctx.seq, row % ctx.seq);
  if (t.ndim() > 2) where += fmt::format(", {}", bad % inner);
  throw InvalidArgument(fmt::format(
      "TokenAugmenter: field \"{}\": value {} at {}] is outside the permutation range [0, {}) "
      "({} = {})",
      name, v[bad], where, n, range_name, n));
}

Tensor output_like(const Context& ctx, const Tensor& in) {
  return Tensor::empty(in.shape(), in.dtype(), ctx.allocator);
}

// action / done / obs_discrete: mask to 0, then permute values with the row's permutation.
Tensor codes(const Context& ctx, std::string_view name, const Tensor& in, MaskField field,
             double p, const std::optional<Tensor>& perm, int64_t n, std::string_view range_name) {
  expect_dtype(name, in, DType::kInt64);
  if (perm.has_value()) check_range(ctx, name, in, n, range_name);
  const std::span<const int64_t> masked = draw_mask(ctx, field, p);
  Tensor out = output_like(ctx, in);
  const int64_t inner = inner_size(ctx, in);
  if (perm.has_value()) {
    detail::augment::permute_codes(in.data_as<int64_t>(), out.data_as<int64_t>(), ctx.batch,
                                   ctx.seq, inner, masked, 0, perm->data_as<int64_t>(), n);
  } else {
    detail::augment::copy_rows_masked(in.data_as<int64_t>(), out.data_as<int64_t>(),
                                      ctx.positions(), inner, masked, int64_t{0});
  }
  return out;
}

// q_star [B, S, A]: column a moves to perm[b][a].
Tensor q_star(const Context& ctx, const Tensor& in, int64_t n) {
  expect_dtype("q_star", in, DType::kFloat32);
  if (in.ndim() != 3 || in.shape()[2] != n) {
    throw InvalidArgument(fmt::format(
        "TokenAugmenter: field \"q_star\": permute_action {} needs shape [B, S, {}] "
        "(max_num_actions = {}), found {}",
        permute_action_name(ctx.config.permute_action), n, n, format_shape(in.shape())));
  }
  Tensor out = output_like(ctx, in);
  detail::augment::permute_columns(in.data_as<float>(), out.data_as<float>(), ctx.batch, ctx.seq,
                                   ctx.snapshot.action_perm->data_as<int64_t>(), n);
  return out;
}

// reward (float32) / obs_continuous (float64): mask to 0, then scale, then shift.
template <class T>
Tensor affine(const Context& ctx, std::string_view name, const Tensor& in, MaskField field,
              double p, const std::optional<double>& scale, const std::optional<double>& shift) {
  expect_dtype(name, in, dtype_of<T>());
  const std::span<const int64_t> masked = draw_mask(ctx, field, p);
  Tensor out = output_like(ctx, in);
  detail::augment::scale_shift_rows<T>(
      in.data_as<T>(), out.data_as<T>(), ctx.positions(), inner_size(ctx, in), masked,
      scale.has_value(), static_cast<T>(scale.value_or(1.0)), shift.has_value(),
      static_cast<T>(shift.value_or(0.0)));
  return out;
}

// obs_image (int64 or uint8): mask to 0, then scale and shift, each rounded and clamped.
Tensor image(const Context& ctx, const Tensor& in, double p) {
  if (in.dtype() != DType::kInt64 && in.dtype() != DType::kUInt8) {
    throw TypeError(fmt::format(
        "TokenAugmenter: field \"obs_image\": expected dtype int64 or uint8, found {} {}",
        dtype_name(in.dtype()), format_shape(in.shape())));
  }
  const std::span<const int64_t> masked = draw_mask(ctx, MaskField::kObsImage, p);
  Tensor out = output_like(ctx, in);
  const std::optional<double>& scale = ctx.snapshot.scale_obs_image;
  const std::optional<double>& shift = ctx.snapshot.shift_obs_image;
  const auto s = static_cast<float>(scale.value_or(1.0));
  const auto sh = static_cast<float>(shift.value_or(0.0));
  const int64_t inner = inner_size(ctx, in);
  if (in.dtype() == DType::kInt64) {
    detail::augment::image_rows(in.data_as<int64_t>(), out.data_as<int64_t>(), ctx.positions(),
                                inner, masked, scale.has_value(), s, shift.has_value(), sh);
  } else {
    detail::augment::image_rows(in.data_as<uint8_t>(), out.data_as<uint8_t>(), ctx.positions(),
                                inner, masked, scale.has_value(), s, shift.has_value(), sh);
  }
  return out;
}

// time: masked positions become -1.
Tensor time_field(const Context& ctx, const Tensor& in, double p) {
  expect_dtype("time", in, DType::kInt64);
  const std::span<const int64_t> masked = draw_mask(ctx, MaskField::kTime, p);
  Tensor out = output_like(ctx, in);
  detail::augment::copy_rows_masked(in.data_as<int64_t>(), out.data_as<int64_t>(),
                                    ctx.positions(), inner_size(ctx, in), masked, int64_t{-1});
  return out;
}

// The augmented copy of one member; members no augmentation touches are cloned.
Tensor augment_field(const Context& ctx, int64_t max_num_actions, int64_t max_num_obs_discrete,
                     std::string_view name, const Tensor& in) {
  const AugmentTokensConfig& c = ctx.config;
  const AugmentMaskProbConfig& m = c.mask_prob;
  const AugmentSnapshot& s = ctx.snapshot;
  const bool permute_input =
      c.permute_action == PermuteAction::kInput || c.permute_action == PermuteAction::kBoth;
  const bool permute_target =
      c.permute_action == PermuteAction::kTarget || c.permute_action == PermuteAction::kBoth;
  if (name == "action" && (m.action > 0.0 || permute_input)) {
    static const std::optional<Tensor> kNoPerm;
    return codes(ctx, name, in, MaskField::kAction, m.action,
                 permute_input ? s.action_perm : kNoPerm, max_num_actions, "max_num_actions");
  }
  if (name == "q_star" && permute_target) return q_star(ctx, in, max_num_actions);
  if (name == "done" && (m.done > 0.0 || c.permute_done)) {
    return codes(ctx, name, in, MaskField::kDone, m.done, s.done_perm, 3, "done codes");
  }
  if (name == "obs_discrete" && (m.obs_discrete > 0.0 || c.permute_obs_discrete)) {
    return codes(ctx, name, in, MaskField::kObsDiscrete, m.obs_discrete, s.obs_discrete_perm,
                 max_num_obs_discrete, "max_num_obs_discrete");
  }
  if (name == "reward" && (m.reward > 0.0 || s.scale_reward || s.shift_reward)) {
    return affine<float>(ctx, name, in, MaskField::kReward, m.reward, s.scale_reward,
                         s.shift_reward);
  }
  if (name == "obs_continuous" && (m.obs_continuous > 0.0 || s.scale_obs || s.shift_obs)) {
    return affine<double>(ctx, name, in, MaskField::kObsContinuous, m.obs_continuous,
                          s.scale_obs, s.shift_obs);
  }
  if (name == "obs_image" &&
      (m.obs_image > 0.0 || s.scale_obs_image || s.shift_obs_image)) {
    return image(ctx, in, m.obs_image);
  }
  if (name == "time" && m.time > 0.0) return time_field(ctx, in, m.time);
  return in.clone(ctx.allocator);
}

}  // namespace

TensorDict TokenAugmenter::apply(const TensorDict& batch, const AugmentSnapshot& snapshot,
                                 uint64_t mask_call, const Allocator& allocator) const {
  detail::augment::check_batch_shape(batch, "apply");
  if (!enabled_) return batch;
  const int64_t b = batch.batch_size()[0];
  const int64_t s = batch.batch_size()[1];
  if (snapshot.batch_size != b) {
    throw InvalidArgument(fmt::format(
        "TokenAugmenter: the snapshot was drawn for batch size B = {}, found a batch of batch "
        "size {}; call update_augmentations with this batch first",
        snapshot.batch_size, format_shape(batch.batch_size())));
  }
  check_snapshot(snapshot);
  detail::augment::MaskScratch mask_scratch;
  const Context ctx{config_, snapshot, seed_, mask_call, b, s, allocator, mask_scratch};
  TensorDict out(batch.batch_size());
  for (const auto& [name, tensor] : batch) {
    out.set(name, augment_field(ctx, max_num_actions_, max_num_obs_discrete_, name, tensor));
  }
  return out;
}

TensorDict TokenAugmenter::apply_fresh(const TensorDict& batch, uint64_t call,
                                       const Allocator& allocator) const {
  detail::augment::check_batch_shape(batch, "apply_fresh");
  if (!enabled_) return batch;
  return apply(batch, make_snapshot(batch.batch_size()[0], call), call, allocator);
}

}  // namespace mouse
