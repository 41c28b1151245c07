// TokenAugmenter: construction, drawing and checking snapshots, and the stateful
// update / clear / snapshot API.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <span>
#include <utility>
#include <vector>

#include "augment/batch_shape.hpp"
#include "augment/streams.hpp"
#include "mouse/augment.hpp"
#include "mouse/error.hpp"

namespace mouse {

using detail::augment::check_batch_shape;
using detail::augment::SnapshotPart;

namespace {

// The words of a CounterRng in their order, produced in bulk by fill_u32 (philox_blocks, several
// times faster per word than one block at a time), with the draws permutations need. Gives
// exactly what the same calls on the CounterRng itself give; words read ahead and never used
// are dropped, so the generator must not be used for anything else afterwards.
class BulkWords {
 public:
  // `expected_words` sizes the reads: a multiple of 128 words (whole philox_blocks passes; words
  // outside them come one block at a time), at most kMaxWords.
  BulkWords(detail::CounterRng& rng, int64_t expected_words)
      : rng_(rng),
        size_(static_cast<size_t>(
            std::clamp<int64_t>((expected_words + 127) / 128 * 128, 128, kMaxWords))) {}

  uint32_t uniform_u32() noexcept {
    if (pos_ == size_) {
      rng_.fill_u32(std::span<uint32_t>(words_, size_));
      pos_ = 0;
    }
    return words_[pos_++];
  }

  // As CounterRng::uniform_u64: first word in the high half.
  uint64_t uniform_u64() noexcept {
    const uint64_t hi = uniform_u32();
    return (hi << 32) | uniform_u32();
  }

  // As CounterRng::uniform_int (Lemire's multiply-and-reject), word for word.
  uint64_t uniform_int(uint64_t n) noexcept {
    if (n == 0) return 0;
    __extension__ using U128 = unsigned __int128;
    U128 m = static_cast<U128>(uniform_u64()) * n;
    uint64_t low = static_cast<uint64_t>(m);
    if (low < n) {
      const uint64_t threshold = (0 - n) % n;  // 2^64 mod n
      while (low < threshold) {
        m = static_cast<U128>(uniform_u64()) * n;
        low = static_cast<uint64_t>(m);
      }
    }
    return static_cast<uint64_t>(m >> 64);
  }

  // As CounterRng::permutation: identity, then Fisher-Yates from the back. The swaps read their
  // two words straight from the buffer while both are there and Lemire's first test passes
  // (low >= i: no rejection possible); a refill or a possible rejection takes uniform_int,
  // which reads the same words.
  void permutation(std::span<int64_t> out) noexcept {
    __extension__ using U128 = unsigned __int128;
    int64_t* v = out.data();
    for (size_t i = 0; i < out.size(); ++i) v[i] = static_cast<int64_t>(i);
    size_t i = out.size();
    while (i > 1) {
      size_t pos = pos_;
      while (i > 1 && size_ - pos >= 2) {
        const uint64_t x = (uint64_t{words_[pos]} << 32) | words_[pos + 1];
        const U128 m = static_cast<U128>(x) * i;
        if (static_cast<uint64_t>(m) < i) break;
        pos += 2;
        std::swap(v[i - 1], v[static_cast<size_t>(m >> 64)]);
        --i;
      }
      pos_ = pos;
      if (i > 1) {
        std::swap(v[i - 1], v[static_cast<size_t>(uniform_int(i))]);
        --i;
      }
    }
  }

 private:
  static constexpr int64_t kMaxWords = 512;
  detail::CounterRng& rng_;
  size_t size_;
  size_t pos_ = size_;
  uint32_t words_[kMaxWords];
};

// [rows, n] int64, one uniform permutation of 0..n-1 per row, drawn in row order from one stream.
Tensor draw_permutations(uint64_t seed, uint64_t call, SnapshotPart part, int64_t rows,
                         int64_t n) {
  Tensor t = Tensor::empty({rows, n}, DType::kInt64);
  detail::CounterRng rng = detail::augment::snapshot_rng(seed, call, part);
  // Two words per swap, n - 1 swaps per row (rejections are rare).
  BulkWords words(rng, rows * 2 * std::max<int64_t>(n - 1, 0));
  int64_t* data = t.data_as<int64_t>();
  for (int64_t r = 0; r < rows; ++r) {
    words.permutation(std::span<int64_t>(data + r * n, static_cast<size_t>(n)));
  }
  return t;
}

std::optional<double> draw_scalar(const AugmentScalarSpec& spec, double identity, uint64_t seed,
                                  uint64_t call, SnapshotPart part) {
  if (!spec.is_active(identity)) return std::nullopt;
  detail::CounterRng rng = detail::augment::snapshot_rng(seed, call, part);
  if (spec.is_uniform()) {
    return rng.uniform_double(std::min(*spec.low, *spec.high), std::max(*spec.low, *spec.high));
  }
  return spec.mean + spec.std * rng.normal();
}

// A snapshot permutation must be present exactly when `on`, int64 [B, n], each row a permutation.
void check_perm(const std::optional<Tensor>& perm, bool on, const char* name, int64_t batch_size,
                int64_t n) {
  if (perm.has_value() != on) {
    throw InvalidArgument(fmt::format(
        "TokenAugmenter: snapshot does not match the config: {} is {} but the config has it {}",
        name, perm.has_value() ? "present" : "missing", on ? "on" : "off"));
  }
  if (!on) return;
  const std::vector<int64_t> expected = {batch_size, n};
  if (perm->dtype() != DType::kInt64 || perm->shape() != expected) {
    throw InvalidArgument(fmt::format(
        "TokenAugmenter: snapshot {}: expected int64 {}, found {} {}", name,
        format_shape(expected), dtype_name(perm->dtype()), format_shape(perm->shape())));
  }
  const int64_t* p = perm->data_as<int64_t>();
  auto bad_row = [&](int64_t b, int64_t i) {
    return InvalidArgument(fmt::format(
        "TokenAugmenter: snapshot {}: row {} is not a permutation of [0, {}): value {} at {}",
        name, b, n, p[b * n + i], i));
  };
  if (n <= 64) {
    // A bit per value: every row of a snapshot is checked on every apply.
    for (int64_t b = 0; b < batch_size; ++b) {
      uint64_t seen = 0;
      for (int64_t i = 0; i < n; ++i) {
        const int64_t v = p[b * n + i];
        if (v < 0 || v >= n || ((seen >> v) & 1) != 0) throw bad_row(b, i);
        seen |= uint64_t{1} << v;
      }
    }
    return;
  }
  std::vector<uint8_t> seen(static_cast<size_t>(n));
  for (int64_t b = 0; b < batch_size; ++b) {
    std::fill(seen.begin(), seen.end(), uint8_t{0});
    for (int64_t i = 0; i < n; ++i) {
      const int64_t v = p[b * n + i];
      if (v < 0 || v >= n || seen[static_cast<size_t>(v)] != 0) throw bad_row(b, i);
      seen[static_cast<size_t>(v)] = 1;
    }
  }
}

void check_scalar(const std::optional<double>& value, const AugmentScalarSpec& spec,
                  double identity, const char* name) {
  const bool active = spec.is_active(identity);
  if (value.has_value() != active) {
    throw InvalidArgument(fmt::format(
        "TokenAugmenter: snapshot does not match the config: {} is {} but the config has it {}",
        name, value.has_value() ? "present" : "missing", active ? "active" : "inactive"));
  }
  if (active && !std::isfinite(*value)) {
    throw InvalidArgument(
        fmt::format("TokenAugmenter: snapshot {}: expected a finite value, found {}", name, *value));
  }
}

}  // namespace

TokenAugmenter::TokenAugmenter(AugmentTokensConfig config, int64_t max_num_actions,
                               int64_t max_num_obs_discrete, uint64_t seed)
    : config_(std::move(config)),
      max_num_actions_(max_num_actions),
      max_num_obs_discrete_(max_num_obs_discrete),
      seed_(seed),
      enabled_(false) {
  config_.validate();
  enabled_ = config_.any_enabled();
  if (max_num_actions < 0 || max_num_obs_discrete < 0) {
    throw InvalidArgument(fmt::format(
        "TokenAugmenter: expected max_num_actions >= 0 and max_num_obs_discrete >= 0, found {} "
        "and {}",
        max_num_actions, max_num_obs_discrete));
  }
  if (enabled_ && config_.permute_action != PermuteAction::kOff && max_num_actions < 1) {
    throw InvalidArgument(fmt::format(
        "TokenAugmenter: permute_action {} needs max_num_actions >= 1, found {}",
        permute_action_name(config_.permute_action), max_num_actions));
  }
  if (enabled_ && config_.permute_obs_discrete && max_num_obs_discrete < 1) {
    throw InvalidArgument(fmt::format(
        "TokenAugmenter: permute_obs_discrete needs max_num_obs_discrete >= 1, found {}",
        max_num_obs_discrete));
  }
}

AugmentSnapshot TokenAugmenter::make_snapshot(int64_t batch_size, uint64_t call) const {
  if (batch_size < 0) {
    throw InvalidArgument(fmt::format(
        "TokenAugmenter::make_snapshot: expected a batch size >= 0, found {}", batch_size));
  }
  AugmentSnapshot s;
  s.batch_size = batch_size;
  if (!enabled_) return s;
  const AugmentTokensConfig& c = config_;
  if (c.permute_action != PermuteAction::kOff) {
    s.action_perm = draw_permutations(seed_, call, SnapshotPart::kActionPerm, batch_size,
                                      max_num_actions_);
  }
  if (c.permute_done) {
    s.done_perm = draw_permutations(seed_, call, SnapshotPart::kDonePerm, batch_size, 3);
  }
  if (c.permute_obs_discrete) {
    s.obs_discrete_perm = draw_permutations(seed_, call, SnapshotPart::kObsDiscretePerm,
                                            batch_size, max_num_obs_discrete_);
  }
  s.scale_reward = draw_scalar(c.scale_reward, 1.0, seed_, call, SnapshotPart::kScaleReward);
  s.shift_reward = draw_scalar(c.shift_reward, 0.0, seed_, call, SnapshotPart::kShiftReward);
  s.scale_obs = draw_scalar(c.scale_obs, 1.0, seed_, call, SnapshotPart::kScaleObs);
  s.shift_obs = draw_scalar(c.shift_obs, 0.0, seed_, call, SnapshotPart::kShiftObs);
  s.scale_obs_image =
      draw_scalar(c.scale_obs_image, 1.0, seed_, call, SnapshotPart::kScaleObsImage);
  s.shift_obs_image =
      draw_scalar(c.shift_obs_image, 0.0, seed_, call, SnapshotPart::kShiftObsImage);
  return s;
}

void TokenAugmenter::check_snapshot(const AugmentSnapshot& s) const {
  if (s.batch_size < 0) {
    throw InvalidArgument(fmt::format(
        "TokenAugmenter: snapshot batch size: expected >= 0, found {}", s.batch_size));
  }
  const AugmentTokensConfig& c = config_;
  const bool on = enabled_;
  check_perm(s.action_perm, on && c.permute_action != PermuteAction::kOff, "action_perm",
             s.batch_size, max_num_actions_);
  check_perm(s.done_perm, on && c.permute_done, "done_perm", s.batch_size, 3);
  check_perm(s.obs_discrete_perm, on && c.permute_obs_discrete, "obs_discrete_perm",
             s.batch_size, max_num_obs_discrete_);
  const AugmentScalarSpec off1 = AugmentScalarSpec::fixed(1.0);
  const AugmentScalarSpec off0 = AugmentScalarSpec::fixed(0.0);
  check_scalar(s.scale_reward, on ? c.scale_reward : off1, 1.0, "scale_reward");
  check_scalar(s.shift_reward, on ? c.shift_reward : off0, 0.0, "shift_reward");
  check_scalar(s.scale_obs, on ? c.scale_obs : off1, 1.0, "scale_obs");
  check_scalar(s.shift_obs, on ? c.shift_obs : off0, 0.0, "shift_obs");
  check_scalar(s.scale_obs_image, on ? c.scale_obs_image : off1, 1.0, "scale_obs_image");
  check_scalar(s.shift_obs_image, on ? c.shift_obs_image : off0, 0.0, "shift_obs_image");
}

void TokenAugmenter::update_augmentations(const TensorDict& batch) {
  check_batch_shape(batch, "update_augmentations");
  if (!enabled_) return;
  snapshot_ = make_snapshot(batch.batch_size()[0], update_calls_);
  ++update_calls_;
}

TensorDict TokenAugmenter::augment(const TensorDict& batch, const Allocator& allocator) {
  if (!enabled_) return batch;
  if (!snapshot_.has_value()) {
    throw InvalidArgument(
        "TokenAugmenter::augment: no snapshot: call update_augmentations(batch) first");
  }
  TensorDict out = apply(batch, *snapshot_, augment_calls_, allocator);
  ++augment_calls_;
  return out;
}

void TokenAugmenter::set_snapshot(AugmentSnapshot snapshot) {
  check_snapshot(snapshot);
  snapshot_ = std::move(snapshot);
}

void TokenAugmenter::clear_augmentations() noexcept { snapshot_.reset(); }

const AugmentSnapshot& TokenAugmenter::snapshot() const {
  if (!snapshot_.has_value()) {
    throw InvalidArgument(
        "TokenAugmenter::snapshot: no snapshot: call update_augmentations(batch) first");
  }
  return *snapshot_;
}

}  // namespace mouse
