// TokenAugmenter::apply: validates each field, draws its mask (the list of masked positions), and
// writes the augmented field from the input into fresh storage (the input is only read; members
// no transform changes are shared), or, in place, over the input's own storage.
#include <fmt/format.h>

#include <cstdint>
#include <cstring>
#include <vector>
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
  // A packed batch (SPEC §5.1; null for [B, S]): window b holds rows [cu[b], cu[b+1]) and
  // sid[r] is the window of row r. Rows [0, real) are the windows' rows; the padding rows
  // [real, total) after them are copied unchanged.
  const int32_t* cu = nullptr;
  const int64_t* sid = nullptr;
  int64_t real = 0;
  int64_t total = 0;
  // The current field's mask as packed rows.
  std::vector<int64_t>* packed_mask = nullptr;
  // The caller owns the batch and nobody else reads it: element-wise transforms write each
  // changed member into its own storage instead of a fresh tensor.
  bool in_place = false;

  // Rows the kernels transform.
  int64_t positions() const { return cu != nullptr ? real : batch * seq; }
  // Leading rows of every field.
  int64_t field_rows() const { return cu != nullptr ? total : batch * seq; }
};

// The masked [b, s] positions (as b * S + s, increasing) of `field` for this call: empty when
// p == 0. Valid until the next draw_mask with the same context. A packed batch draws the same
// positions as its padded counterpart and keeps those inside a window, as packed rows
// cu[b] + s (still increasing, since the windows follow each other).
std::span<const int64_t> draw_mask(const Context& ctx, MaskField field, double p) {
  if (!(p > 0.0)) return {};
  detail::CounterRng rng = detail::augment::mask_rng(ctx.seed, ctx.mask_call, field);
  const std::span<const int64_t> drawn =
      detail::augment::mask_positions(rng, p, ctx.batch * ctx.seq, ctx.mask_scratch);
  if (ctx.cu == nullptr) return drawn;
  std::vector<int64_t>& rows = *ctx.packed_mask;
  rows.clear();
  for (int64_t pos : drawn) {
    const int64_t b = pos / ctx.seq;
    const int64_t step = pos % ctx.seq;
    if (step < ctx.cu[b + 1] - ctx.cu[b]) rows.push_back(ctx.cu[b] + step);
  }
  return rows;
}

// A packed batch's padding rows never change: copies them from `in` into `out`.
void copy_padding(const Context& ctx, const Tensor& in, Tensor& out) {
  if (ctx.cu == nullptr || ctx.total == ctx.real || ctx.total == 0) return;
  if (out.data() == in.data()) return;  // in place
  const int64_t row_bytes = in.nbytes() / ctx.total;
  std::memcpy(static_cast<uint8_t*>(out.mutable_data()) + ctx.real * row_bytes,
              static_cast<const uint8_t*>(in.data()) + ctx.real * row_bytes,
              static_cast<size_t>((ctx.total - ctx.real) * row_bytes));
}

void expect_dtype(std::string_view name, const Tensor& t, DType expected) {
  if (t.dtype() != expected) {
    throw TypeError(fmt::format("TokenAugmenter: field \"{}\": expected dtype {}, found {} {}",
                                name, dtype_name(expected), dtype_name(t.dtype()),
                                format_shape(t.shape())));
  }
}

// Elements per [b, s] position or packed row (0 for an empty batch).
int64_t inner_size(const Context& ctx, const Tensor& t) {
  return ctx.field_rows() == 0 ? 0 : t.numel() / ctx.field_rows();
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
  if (ctx.cu != nullptr) {
    const int64_t b = ctx.sid[row];
    where = b < 0 ? fmt::format("[padding row {}", row)
                  : fmt::format("[{}, {}", b, row - ctx.cu[b]);
  }
  if (t.ndim() > (ctx.cu != nullptr ? 1 : 2)) where += fmt::format(", {}", bad % inner);
  throw InvalidArgument(fmt::format(
      "TokenAugmenter: field \"{}\": value {} at {}] is outside the permutation range [0, {}) "
      "({} = {})",
      name, v[bad], where, n, range_name, n));
}

// Where an element-wise transform of `in` goes (each output element depends only on the input
// element at the same place, so the kernels may write over their input): `in` itself in place,
// else a fresh tensor.
Tensor output_like(const Context& ctx, const Tensor& in) {
  if (ctx.in_place) return in;
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
  if (perm.has_value() && ctx.cu != nullptr) {
    detail::augment::permute_codes_packed(in.data_as<int64_t>(), out.data_as<int64_t>(),
                                          ctx.batch, ctx.cu, ctx.sid, inner, masked, 0,
                                          perm->data_as<int64_t>(), n);
  } else if (perm.has_value()) {
    detail::augment::permute_codes(in.data_as<int64_t>(), out.data_as<int64_t>(), ctx.batch,
                                   ctx.seq, inner, masked, 0, perm->data_as<int64_t>(), n);
  } else {
    detail::augment::copy_rows_masked(in.data_as<int64_t>(), out.data_as<int64_t>(),
                                      ctx.positions(), inner, masked, int64_t{0});
  }
  copy_padding(ctx, in, out);
  return out;
}

// q_star [B, S, A]: column a moves to perm[b][a].
Tensor q_star(const Context& ctx, const Tensor& in, int64_t n) {
  expect_dtype("q_star", in, DType::kFloat32);
  const bool packed = ctx.cu != nullptr;
  if (in.ndim() != (packed ? 2 : 3) || in.shape().back() != n) {
    throw InvalidArgument(fmt::format(
        "TokenAugmenter: field \"q_star\": permute_action {} needs shape [{}, {}] "
        "(max_num_actions = {}), found {}",
        permute_action_name(ctx.config.permute_action), packed ? "N" : "B, S", n, n,
        format_shape(in.shape())));
  }
  // Columns move within a row: never in place.
  Tensor out = Tensor::empty(in.shape(), in.dtype(), ctx.allocator);
  if (packed) {
    detail::augment::permute_columns_packed(in.data_as<float>(), out.data_as<float>(), ctx.batch,
                                            ctx.cu, ctx.snapshot.action_perm->data_as<int64_t>(),
                                            n);
    copy_padding(ctx, in, out);
  } else {
    detail::augment::permute_columns(in.data_as<float>(), out.data_as<float>(), ctx.batch,
                                     ctx.seq, ctx.snapshot.action_perm->data_as<int64_t>(), n);
  }
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
  copy_padding(ctx, in, out);
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
  copy_padding(ctx, in, out);
  return out;
}

// time: masked positions become -1.
Tensor time_field(const Context& ctx, const Tensor& in, double p) {
  expect_dtype("time", in, DType::kInt64);
  const std::span<const int64_t> masked = draw_mask(ctx, MaskField::kTime, p);
  Tensor out = output_like(ctx, in);
  detail::augment::copy_rows_masked(in.data_as<int64_t>(), out.data_as<int64_t>(),
                                    ctx.positions(), inner_size(ctx, in), masked, int64_t{-1});
  copy_padding(ctx, in, out);
  return out;
}

// The augmented copy of one member; a member no augmentation touches is shared, not copied
// (the input never changes: nothing writes to it, SPEC §6).
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
  return in;
}

// The window layout of a packed batch, checked: cu_seqlens int32 [B+1] non-decreasing from 0
// with windows of at most S rows, sequence_id int64 [N] with N >= cu_seqlens[B].
struct PackedWindows {
  int64_t batch = 0;
  int64_t real = 0;
  int64_t total = 0;
  const int32_t* cu = nullptr;
  const int64_t* sid = nullptr;
};

PackedWindows packed_windows(const TensorDict& batch, int64_t s, const char* method) {
  if (!batch.batch_size().empty() || !batch.contains("cu_seqlens") ||
      !batch.contains("sequence_id")) {
    throw InvalidArgument(fmt::format(
        "TokenAugmenter::{}: expected a packed batch (batch size [] with cu_seqlens and "
        "sequence_id), found batch size {}",
        method, format_shape(batch.batch_size())));
  }
  if (s <= 0) {
    throw InvalidArgument(
        fmt::format("TokenAugmenter::{}: sequence_length must be > 0, got {}", method, s));
  }
  const Tensor& cu = batch.at("cu_seqlens");
  const Tensor& sid = batch.at("sequence_id");
  if (cu.dtype() != DType::kInt32 || cu.ndim() != 1 || cu.shape()[0] < 1 ||
      sid.dtype() != DType::kInt64 || sid.ndim() != 1) {
    throw InvalidArgument(fmt::format(
        "TokenAugmenter::{}: expected cu_seqlens int32 [B+1] and sequence_id int64 [N], found "
        "{} {} and {} {}",
        method, dtype_name(cu.dtype()), format_shape(cu.shape()), dtype_name(sid.dtype()),
        format_shape(sid.shape())));
  }
  PackedWindows w;
  w.batch = cu.shape()[0] - 1;
  w.cu = cu.data_as<int32_t>();
  w.sid = sid.data_as<int64_t>();
  w.total = sid.shape()[0];
  w.real = w.cu[w.batch];
  bool ok = w.cu[0] == 0 && w.real <= w.total;
  for (int64_t b = 0; ok && b < w.batch; ++b) {
    const int64_t len = w.cu[b + 1] - w.cu[b];
    ok = len >= 0 && len <= s;
  }
  for (int64_t r = 0; ok && r < w.real; ++r) ok = w.sid[r] >= 0 && w.sid[r] < w.batch;
  if (!ok) {
    throw InvalidArgument(fmt::format(
        "TokenAugmenter::{}: cu_seqlens / sequence_id do not describe windows of at most "
        "sequence_length {} rows one after another ({} windows, {} rows)",
        method, s, w.batch, w.total));
  }
  return w;
}

}  // namespace

TensorDict TokenAugmenter::apply(const TensorDict& batch, const AugmentSnapshot& snapshot,
                                 uint64_t mask_call, const Allocator& allocator) const {
  return apply_impl(batch, snapshot, mask_call, allocator, false, false);
}

TensorDict TokenAugmenter::apply_impl(const TensorDict& batch, const AugmentSnapshot& snapshot,
                                      uint64_t mask_call, const Allocator& allocator,
                                      bool in_place, bool fresh) const {
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
  if (!fresh) check_snapshot(snapshot);
  detail::augment::MaskScratch mask_scratch;
  Context ctx{config_, snapshot, seed_, mask_call, b, s, allocator, mask_scratch};
  ctx.in_place = in_place;
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
  return apply_impl(batch, make_snapshot(batch.batch_size()[0], call), call, allocator, false,
                    true);
}

TensorDict TokenAugmenter::apply_fresh_in_place(TensorDict batch, uint64_t call,
                                                const Allocator& allocator) const {
  detail::augment::check_batch_shape(batch, "apply_fresh_in_place");
  if (!enabled_) return batch;
  return apply_impl(batch, make_snapshot(batch.batch_size()[0], call), call, allocator, true,
                    true);
}

TensorDict TokenAugmenter::apply_packed(const TensorDict& batch, const AugmentSnapshot& snapshot,
                                        uint64_t mask_call, int64_t sequence_length,
                                        const Allocator& allocator) const {
  return apply_packed_impl(batch, snapshot, mask_call, sequence_length, allocator, false,
                           false);
}

TensorDict TokenAugmenter::apply_packed_impl(const TensorDict& batch,
                                             const AugmentSnapshot& snapshot, uint64_t mask_call,
                                             int64_t sequence_length, const Allocator& allocator,
                                             bool in_place, bool fresh) const {
  const PackedWindows w = packed_windows(batch, sequence_length, "apply_packed");
  if (!enabled_) return batch;
  if (snapshot.batch_size != w.batch) {
    throw InvalidArgument(fmt::format(
        "TokenAugmenter: the snapshot was drawn for B = {} windows, found a packed batch of {} "
        "windows (cu_seqlens {})",
        snapshot.batch_size, w.batch, format_shape(batch.at("cu_seqlens").shape())));
  }
  if (!fresh) check_snapshot(snapshot);
  detail::augment::MaskScratch mask_scratch;
  std::vector<int64_t> packed_mask;
  Context ctx{config_, snapshot, seed_, mask_call, w.batch, sequence_length, allocator,
              mask_scratch};
  ctx.cu = w.cu;
  ctx.sid = w.sid;
  ctx.real = w.real;
  ctx.total = w.total;
  ctx.packed_mask = &packed_mask;
  ctx.in_place = in_place;
  TensorDict out;
  for (const auto& [name, tensor] : batch) {
    if (name == "sequence_id" || name == "position" || name == "cu_seqlens" ||
        name == "lengths") {
      out.set(name, tensor);  // the layout is never augmented: shared
      continue;
    }
    if (tensor.ndim() == 0 || tensor.shape()[0] != w.total) {
      throw InvalidArgument(fmt::format(
          "TokenAugmenter::apply_packed: field \"{}\" has shape {}, expected [N = {}, ...] as "
          "sequence_id",
          name, format_shape(tensor.shape()), w.total));
    }
    out.set(name, augment_field(ctx, max_num_actions_, max_num_obs_discrete_, name, tensor));
  }
  return out;
}

TensorDict TokenAugmenter::apply_fresh_packed(const TensorDict& batch, uint64_t call,
                                              int64_t sequence_length,
                                              const Allocator& allocator) const {
  const PackedWindows w = packed_windows(batch, sequence_length, "apply_fresh_packed");
  if (!enabled_) return batch;
  return apply_packed_impl(batch, make_snapshot(w.batch, call), call, sequence_length, allocator,
                           false, true);
}

TensorDict TokenAugmenter::apply_fresh_packed_in_place(TensorDict batch, uint64_t call,
                                                       int64_t sequence_length,
                                                       const Allocator& allocator) const {
  const PackedWindows w = packed_windows(batch, sequence_length, "apply_fresh_packed_in_place");
  if (!enabled_) return batch;
  return apply_packed_impl(batch, make_snapshot(w.batch, call), call, sequence_length, allocator,
                           true, true);
}

}  // namespace mouse
