// Training-time augmentation of step batches: the configs (loadable from YAML) and TokenAugmenter,
// which permutes actions / done codes / discrete observations, scales and shifts rewards and
// observations, and masks positions, reproducibly from a seed.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "mouse/tensor.hpp"
#include "mouse/tensor_dict.hpp"

namespace mouse {

/// A random scalar drawn once per batch: uniform on [low, high) when both `low` and `high` are
/// set (they are swapped when low > high; low == high fixes the value), otherwise
/// `mean + std * N(0, 1)` (std == 0 fixes it at `mean`). A plain value type.
struct AugmentScalarSpec {
  /// Mean of the Gaussian form (ignored in the uniform form).
  double mean = 0.0;
  /// Standard deviation of the Gaussian form, >= 0 (ignored in the uniform form).
  double std = 0.0;
  /// Lower bound of the uniform form; set together with `high`.
  std::optional<double> low;
  /// Upper bound of the uniform form; set together with `low`.
  std::optional<double> high;

  /// Fixed at `value` (Gaussian with std 0).
  static AugmentScalarSpec fixed(double value) { return {value, 0.0, std::nullopt, std::nullopt}; }
  /// Uniform on [low, high).
  static AugmentScalarSpec uniform(double low, double high) { return {0.0, 0.0, low, high}; }
  /// mean + std * N(0, 1).
  static AugmentScalarSpec gaussian(double mean, double std) {
    return {mean, std, std::nullopt, std::nullopt};
  }

  /// True in the uniform form (low and high both set).
  bool is_uniform() const noexcept { return low.has_value() && high.has_value(); }

  /// False when every draw is exactly `identity` (1 for scales, 0 for shifts): uniform with
  /// low == high == identity, or Gaussian with std == 0 and mean == identity.
  bool is_active(double identity) const noexcept;

  /// Throws InvalidArgument naming `name` (e.g. "scale_reward") when only one of low/high is
  /// set, a value is not finite, or std < 0.
  void validate(std::string_view name) const;

  /// Equal when every member is equal.
  friend bool operator==(const AugmentScalarSpec&, const AugmentScalarSpec&) = default;
};

/// Per-field probability that a [b, s] position is masked (set to 0; `time` to -1; vector
/// fields get the whole vector zeroed). Each is in [0, 1]; 0 disables that mask.
struct AugmentMaskProbConfig {
  double action = 0.0;          ///< Mask probability of `action`.
  double reward = 0.0;          ///< Mask probability of `reward`.
  double done = 0.0;            ///< Mask probability of `done`.
  double obs_continuous = 0.0;  ///< Mask probability of `obs_continuous` (whole vector).
  double obs_discrete = 0.0;    ///< Mask probability of `obs_discrete` (whole vector if any).
  double obs_image = 0.0;       ///< Mask probability of `obs_image` (whole image).
  double time = 0.0;            ///< Mask probability of `time` (masked value -1).

  /// True when any probability is > 0.
  bool any_enabled() const noexcept;
  /// Throws InvalidArgument naming the field and value when a probability is outside [0, 1]
  /// or not a number.
  void validate() const;

  /// Equal when every member is equal.
  friend bool operator==(const AugmentMaskProbConfig&, const AugmentMaskProbConfig&) = default;
};

/// Which side of the action token the per-row action permutation applies to.
enum class PermuteAction : uint8_t {
  kOff,     ///< No action permutation (YAML `false`).
  kInput,   ///< Permute the `action` values.
  kTarget,  ///< Permute the `q_star` columns (each column follows its action).
  kBoth,    ///< Both of the above, with the same permutation.
};

/// "off", "input", "target" or "both".
std::string_view permute_action_name(PermuteAction mode) noexcept;

/// The inverse of permute_action_name ("false" is accepted for kOff too). Throws
/// InvalidArgument naming `name` and the accepted values.
PermuteAction permute_action_from_name(std::string_view name);

/// Which augmentations TokenAugmenter applies, with the seed API's defaults (everything off but
/// the master switch). A plain value type; loadable from YAML.
struct AugmentTokensConfig {
  /// Master switch: false disables everything below.
  bool enabled = true;
  /// Accepted for compatibility and ignored: a step stream has no token order to permute.
  bool permute_tokens = false;
  AugmentScalarSpec scale_reward = AugmentScalarSpec::fixed(1.0);     ///< Reward factor.
  AugmentScalarSpec shift_reward = AugmentScalarSpec::fixed(0.0);     ///< Reward offset.
  AugmentScalarSpec scale_obs = AugmentScalarSpec::fixed(1.0);        ///< obs_continuous factor.
  AugmentScalarSpec shift_obs = AugmentScalarSpec::fixed(0.0);        ///< obs_continuous offset.
  AugmentScalarSpec scale_obs_image = AugmentScalarSpec::fixed(1.0);  ///< obs_image factor.
  AugmentScalarSpec shift_obs_image = AugmentScalarSpec::fixed(0.0);  ///< obs_image offset.
  /// Permute discrete observation values per batch row.
  bool permute_obs_discrete = false;
  /// Permute actions per batch row (values, q_star columns, or both).
  PermuteAction permute_action = PermuteAction::kOff;
  /// Permute the done codes {0, 1, 2} per batch row.
  bool permute_done = false;
  /// Per-field mask probabilities.
  AugmentMaskProbConfig mask_prob;

  /// True when `enabled` and at least one augmentation would change a batch (an active scalar,
  /// a permutation, or a mask probability > 0).
  bool any_enabled() const noexcept;

  /// Throws InvalidArgument (naming the field) when a scalar spec or a probability is invalid.
  void validate() const;

  /// Parses a YAML mapping with the keys above, in the shapes Python users write:
  /// `scale_reward: {low: 0.5, high: 2.0}`, `shift_obs: {mean: 0.0, std: 0.1}` (mean defaults to
  /// the identity, 1 for scales and 0 for shifts), `scale_obs: 1.5` (fixed),
  /// `permute_action: both` / `false`, `mask_prob: {action: 0.1}`. An empty document gives the
  /// defaults. Throws InvalidArgument with `source:line:column` for malformed YAML, an unknown
  /// key (named), a value of the wrong type, or an invalid value; the result is validated.
  static AugmentTokensConfig from_yaml_string(std::string_view yaml,
                                              std::string_view source = "<string>");

  /// Reads and parses the YAML file at `path` as from_yaml_string (messages name the file).
  /// Throws IoError when the file cannot be read, InvalidArgument as from_yaml_string.
  static AugmentTokensConfig from_yaml_file(const std::filesystem::path& path);

  /// Equal when every member is equal.
  friend bool operator==(const AugmentTokensConfig&, const AugmentTokensConfig&) = default;
};

/// The scalar specs of AugmentTokensConfig by field name (the YAML keys and the Python field
/// names), in declaration order: the one table that the YAML reader and the Python binding
/// spell them from.
struct AugmentScalarField {
  std::string_view name;
  AugmentScalarSpec AugmentTokensConfig::*member;
  double identity;  ///< the mean a spec has when the field is absent: 1 scales, 0 shifts
};
inline constexpr std::array<AugmentScalarField, 6> kAugmentScalarFields = {{
    {"scale_reward", &AugmentTokensConfig::scale_reward, 1.0},
    {"shift_reward", &AugmentTokensConfig::shift_reward, 0.0},
    {"scale_obs", &AugmentTokensConfig::scale_obs, 1.0},
    {"shift_obs", &AugmentTokensConfig::shift_obs, 0.0},
    {"scale_obs_image", &AugmentTokensConfig::scale_obs_image, 1.0},
    {"shift_obs_image", &AugmentTokensConfig::shift_obs_image, 0.0},
}};

/// The probabilities of AugmentMaskProbConfig by field name (= the batch key they mask), in
/// declaration order.
struct AugmentMaskField {
  std::string_view name;
  double AugmentMaskProbConfig::*member;
};
inline constexpr std::array<AugmentMaskField, 7> kAugmentMaskFields = {{
    {"action", &AugmentMaskProbConfig::action},
    {"reward", &AugmentMaskProbConfig::reward},
    {"done", &AugmentMaskProbConfig::done},
    {"obs_continuous", &AugmentMaskProbConfig::obs_continuous},
    {"obs_discrete", &AugmentMaskProbConfig::obs_discrete},
    {"obs_image", &AugmentMaskProbConfig::obs_image},
    {"time", &AugmentMaskProbConfig::time},
}};

/// The per-batch random draws TokenAugmenter applies: permutations per batch row and scalars per
/// batch. A member is empty (null tensor / nullopt) when its augmentation is off. Permutation
/// tensors are int64 and map an old value v of row b to `perm[b, v]`.
struct AugmentSnapshot {
  /// Number of batch rows B the snapshot was drawn for.
  int64_t batch_size = 0;
  /// [B, max_num_actions] when action permutation is on, else std::nullopt.
  std::optional<Tensor> action_perm;
  /// [B, 3] (a permutation of the done codes 0, 1, 2) when permute_done, else std::nullopt.
  std::optional<Tensor> done_perm;
  /// [B, max_num_obs_discrete] when permute_obs_discrete, else std::nullopt.
  std::optional<Tensor> obs_discrete_perm;
  std::optional<double> scale_reward;     ///< Drawn when the spec is active.
  std::optional<double> shift_reward;     ///< Drawn when the spec is active.
  std::optional<double> scale_obs;        ///< Drawn when the spec is active.
  std::optional<double> shift_obs;        ///< Drawn when the spec is active.
  std::optional<double> scale_obs_image;  ///< Drawn when the spec is active.
  std::optional<double> shift_obs_image;  ///< Drawn when the spec is active.
};

/// Applies an AugmentTokensConfig to step batches (TensorDicts with batch size [B, S]; SPEC §6).
///
/// Two ways to use it:
/// - the stateful one of the Python original: update_augmentations(batch) draws and keeps a
///   snapshot, augment(batch) applies it with masks drawn afresh on every call;
/// - the pure one for worker threads: make_snapshot(B, k) and apply(batch, snapshot, k) are
///   const and depend only on (seed, k), so any thread may run them concurrently and get the
///   same result. update_augmentations's n-th call (from 0) is make_snapshot(B, n), and
///   augment's n-th call is apply(batch, snapshot(), n): a run of either kind can be replayed.
///
/// Recognised fields (others are shared unchanged): action int64, reward float32, done int64,
/// time int64, q_star float32 [B, S, A], obs_continuous float64, obs_discrete int64, obs_image
/// int64 or uint8; a missing field is skipped. Reward is computed in float32 and obs_continuous
/// in float64; obs_image in float32, each step rounded half to even (as torch.round) and clamped
/// to [0, 255]. Thread-safety: const methods may run
/// concurrently; update_augmentations, augment, set_snapshot and clear_augmentations may not run
/// concurrently with anything else on the same object.
class TokenAugmenter {
 public:
  /// `max_num_actions` / `max_num_obs_discrete` are the sizes of the action and discrete
  /// observation permutations (values must lie in [0, size)); each must be >= 1 when its
  /// permutation is on, and >= 0 always. The same `seed` gives the same snapshots and masks.
  /// Throws InvalidArgument for a bad size or an invalid config.
  TokenAugmenter(AugmentTokensConfig config, int64_t max_num_actions,
                 int64_t max_num_obs_discrete, uint64_t seed = 0);

  /// The configuration in use.
  const AugmentTokensConfig& config() const noexcept { return config_; }
  /// Size of the action permutation.
  int64_t max_num_actions() const noexcept { return max_num_actions_; }
  /// Size of the discrete observation permutation.
  int64_t max_num_obs_discrete() const noexcept { return max_num_obs_discrete_; }
  /// The seed all draws derive from.
  uint64_t seed() const noexcept { return seed_; }
  /// config().any_enabled(): false means augment/apply return their input unchanged.
  bool enabled() const noexcept { return enabled_; }

  /// Draws the snapshot for call number `call` and batch size `batch_size` (>= 0, else
  /// InvalidArgument): one permutation per row for each permutation that is on, one scalar per
  /// active scale/shift. Pure: depends only on (seed, call, batch_size, config). Thread-safe.
  AugmentSnapshot make_snapshot(int64_t batch_size, uint64_t call) const;

  /// Augments `batch` with `snapshot` and the masks of call number `mask_call` (SPEC §6 order:
  /// masks, action permutation, done permutation, obs_discrete permutation, scale then shift).
  /// Returns `batch` itself (sharing storage) when nothing is enabled; otherwise a new dict with
  /// the same keys and order in which each member a transform changes is freshly allocated from
  /// `allocator` and every other member is `batch`'s own tensor, shared (a reward-only scale
  /// copies no observation); `batch` is never modified. Throws InvalidArgument when the batch size is not [B, S] or B differs
  /// from the snapshot's, when the snapshot does not match this augmenter, or when a value is
  /// outside its permutation's range (naming field, value and range); TypeError when a field
  /// has the wrong dtype. Thread-safe.
  TensorDict apply(const TensorDict& batch, const AugmentSnapshot& snapshot, uint64_t mask_call,
                   const Allocator& allocator = default_allocator()) const;

  /// apply(batch, make_snapshot(B, call), call, allocator): what a batchifier worker does for
  /// batch number `call`; equal to the call-th update_augmentations + augment pair of the
  /// stateful API. Thread-safe.
  TensorDict apply_fresh(const TensorDict& batch, uint64_t call,
                         const Allocator& allocator = default_allocator()) const;

  /// apply_fresh() for a batch the caller owns and nobody else reads (a batchifier worker's):
  /// the same result, with each changed member written over that member's own storage (the
  /// q_star column permutation excepted: a fresh tensor), so nothing is allocated or copied
  /// for it. Use it as the batchifier transform. Errors as apply_fresh; on an error the batch
  /// may be part-augmented. Thread-safe for distinct batches.
  TensorDict apply_fresh_in_place(TensorDict batch, uint64_t call,
                                  const Allocator& allocator = default_allocator()) const;

  /// apply() for a packed batch (SPEC §5.1: batch size [], columns [N, ...], "cu_seqlens"
  /// int32 [B+1], "sequence_id" int64 [N]) of windows of at most `sequence_length` rows: the
  /// result equals augmenting the same windows in the padded [B, S] layout, row for row.
  /// Per-window permutations follow sequence_id, per-batch scalars apply to every real row,
  /// masks are the [b, s] positions of the padded layout that fall inside a window, and the
  /// padding rows after cu_seqlens[B] are copied unchanged (sequence_id, position, cu_seqlens
  /// and lengths are shared). Throws InvalidArgument for a batch that is not packed, windows
  /// longer than `sequence_length`, a member whose leading dim is not N, a snapshot not drawn
  /// for B windows, plus apply's errors. Thread-safe.
  TensorDict apply_packed(const TensorDict& batch, const AugmentSnapshot& snapshot,
                          uint64_t mask_call, int64_t sequence_length,
                          const Allocator& allocator = default_allocator()) const;

  /// apply_packed(batch, make_snapshot(B, call), call, sequence_length, allocator): what a
  /// batchifier worker does for packed batch number `call`. Thread-safe.
  TensorDict apply_fresh_packed(const TensorDict& batch, uint64_t call, int64_t sequence_length,
                                const Allocator& allocator = default_allocator()) const;

  /// apply_fresh_packed() in place, as apply_fresh_in_place.
  TensorDict apply_fresh_packed_in_place(TensorDict batch, uint64_t call,
                                         int64_t sequence_length,
                                         const Allocator& allocator = default_allocator()) const;

  /// Draws a snapshot for `batch` (make_snapshot(B, number of previous calls)) and keeps it.
  /// Draws nothing when nothing is enabled. Throws InvalidArgument unless the batch size is
  /// [B, S].
  void update_augmentations(const TensorDict& batch);

  /// The Python `__call__`: apply(batch, snapshot(), number of previous augment calls). Returns
  /// `batch` itself when nothing is enabled (no snapshot needed then). Throws InvalidArgument
  /// when there is no snapshot, plus apply's errors.
  TensorDict augment(const TensorDict& batch,
                     const Allocator& allocator = default_allocator());

  /// Replaces the kept snapshot with `snapshot` (e.g. one saved from another run). Throws
  /// InvalidArgument when it does not match this augmenter's config and sizes.
  void set_snapshot(AugmentSnapshot snapshot);

  /// Drops the kept snapshot (call counters keep counting).
  void clear_augmentations() noexcept;

  /// Whether a snapshot is kept.
  bool has_snapshot() const noexcept { return snapshot_.has_value(); }

  /// The kept snapshot. Throws InvalidArgument when there is none.
  const AugmentSnapshot& snapshot() const;

 private:
  void check_snapshot(const AugmentSnapshot& snapshot) const;
  // `fresh`: the snapshot was just drawn by make_snapshot and never left this object, so it is
  // not checked again.
  TensorDict apply_impl(const TensorDict& batch, const AugmentSnapshot& snapshot,
                        uint64_t mask_call, const Allocator& allocator, bool in_place,
                        bool fresh) const;
  TensorDict apply_packed_impl(const TensorDict& batch, const AugmentSnapshot& snapshot,
                               uint64_t mask_call, int64_t sequence_length,
                               const Allocator& allocator, bool in_place, bool fresh) const;

  AugmentTokensConfig config_;
  int64_t max_num_actions_;
  int64_t max_num_obs_discrete_;
  uint64_t seed_;
  bool enabled_;
  std::optional<AugmentSnapshot> snapshot_;
  uint64_t update_calls_ = 0;
  uint64_t augment_calls_ = 0;
};

}  // namespace mouse
