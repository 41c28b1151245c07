// Built-in environments and rollout generation: FrozenLake (4x4 and 8x8, slippery or not, with
// Q* from value iteration of the true MDP) and CartPole (its standard Euler dynamics), driven by
// a random or an epsilon-greedy policy, written as step datasets with the columns of SPEC §3.
//
// Everything here is deterministic for a seed: randomness comes from a keyed counter-based
// generator (SplitMix64 finalizer over (seed, stream, counter)), never from global state.
//
// Row layout of a generated dataset (transition alignment, SPEC §3): the row at step t of an
// episode holds the observation at t and the action, reward and done that produced it. The
// first row of an episode (episode_step 0) holds the initial observation with action 0,
// reward 0, xformed_reward 0 and done 0. A terminal row (done 1 = terminated, 2 = truncated by
// the time limit) holds the final observation; the next row starts a new episode. The last
// episode of a dataset is cut wherever the requested number of steps ends.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mouse/dataset.hpp"
#include "mouse/hub.hpp"

namespace mouse::envs {

/// The built-in environments.
enum class Env : uint8_t {
  kFrozenLake4x4,  ///< "frozenlake-4x4": gym's 4x4 map, time limit 100 steps
  kFrozenLake8x8,  ///< "frozenlake-8x8": gym's 8x8 map, time limit 200 steps
  kCartPole,       ///< "cartpole": CartPole-v1 dynamics, time limit 500 steps
};

/// The environment named `name` ("frozenlake-4x4", "frozenlake-8x8", "cartpole").
/// InvalidArgument naming it and listing the known names otherwise.
Env parse_env(std::string_view name);
/// The command-line name of `env`.
std::string_view env_name(Env env) noexcept;

/// How actions are chosen.
enum class Policy : uint8_t {
  kRandom,         ///< "random": uniform over the actions
  kEpsilonGreedy,  ///< "epsilon-greedy": uniform with probability epsilon, else greedy
};

/// The policy named `name` ("random", "epsilon-greedy"); InvalidArgument otherwise.
Policy parse_policy(std::string_view name);
/// The command-line name of `policy`.
std::string_view policy_name(Policy policy) noexcept;

/// FrozenLake actions, numbered as in gym.
inline constexpr int kLeft = 0;
inline constexpr int kDown = 1;
inline constexpr int kRight = 2;
inline constexpr int kUp = 3;

/// One possible result of a FrozenLake move (gym's P[s][a] entries).
struct Outcome {
  double probability = 0;
  int next_state = 0;
  float reward = 0;
  bool terminal = false;
};

/// FrozenLake: a grid of S (start), F (frozen), H (hole) and G (goal) cells; states are
/// row * cols + col. A move goes in the intended direction, or, when slippery, in the intended
/// direction or one of the two perpendicular ones with probability 1/3 each; moving off the
/// grid stays in place. Reaching G gives reward 1; entering H or G ends the episode. Hole and
/// goal states are absorbing with value 0. Immutable; const methods are thread-safe.
class FrozenLake {
 public:
  /// Number of actions (left, down, right, up).
  static constexpr int kNumActions = 4;

  /// A lake from map rows (all the same length, only 'S', 'F', 'H', 'G', exactly one 'S').
  /// InvalidArgument describing the problem otherwise, or if max_episode_steps < 1.
  FrozenLake(std::vector<std::string> map, bool slippery, int64_t max_episode_steps);
  /// gym's standard 4x4 map (time limit 100) or 8x8 map (time limit 200).
  /// InvalidArgument for kCartPole.
  static FrozenLake standard(Env env, bool slippery);

  /// The map rows.
  const std::vector<std::string>& map() const noexcept { return map_; }
  int rows() const noexcept { return rows_; }
  int cols() const noexcept { return cols_; }
  int num_states() const noexcept { return rows_ * cols_; }
  bool slippery() const noexcept { return slippery_; }
  /// Steps after which an episode is truncated (done = 2).
  int64_t max_episode_steps() const noexcept { return max_episode_steps_; }
  /// The cell letter of `state` (precondition: 0 <= state < num_states()).
  char cell(int state) const noexcept;
  /// The start state.
  int start_state() const noexcept { return start_; }
  /// True for hole and goal states.
  bool is_terminal(int state) const noexcept;

  /// The outcomes of `action` in `state` as gym lists them: one entry (not slippery), three
  /// (slippery: directions action-1, action, action+1 mod 4, which may lead to the same state),
  /// or one self-loop with probability 1 in a terminal state. InvalidArgument for a state or
  /// action out of range.
  std::vector<Outcome> outcomes(int state, int action) const;
  /// The outcome of `action` in `state` for a uniform draw `u` in [0, 1) (the outcome whose
  /// cumulative probability interval holds u). InvalidArgument as outcomes().
  Outcome sample(int state, int action, double u) const;

  /// Q* of the true MDP by value iteration: Q(s, a) = sum p (r + gamma * V(s') [s' not
  /// terminal]), V(s) = max_a Q(s, a), iterated from 0 until no value changes by more than
  /// `tolerance` (or `max_iterations`). Row-major [num_states() * 4]; terminal states are 0.
  /// InvalidArgument unless 0 <= gamma <= 1 and tolerance > 0.
  std::vector<double> q_star(double gamma, double tolerance = 1e-12,
                             int max_iterations = 100'000) const;

  /// An RGB frame (rows()*cell_pixels high, cols()*cell_pixels wide, row-major H x W x 3) of
  /// the lake with the agent at `agent_state`: each cell filled with its colour (kColorFrozen,
  /// kColorHole, kColorGoal, kColorStart), the agent a kColorAgent square over the middle half
  /// of its cell. InvalidArgument unless cell_pixels is in [4, 64] and the state is in range.
  std::vector<uint8_t> render(int agent_state, int cell_pixels = 8) const;

  /// Frame colours (RGB).
  static constexpr std::array<uint8_t, 3> kColorFrozen{200, 230, 250};
  static constexpr std::array<uint8_t, 3> kColorHole{20, 40, 110};
  static constexpr std::array<uint8_t, 3> kColorGoal{250, 200, 30};
  static constexpr std::array<uint8_t, 3> kColorStart{140, 210, 140};
  static constexpr std::array<uint8_t, 3> kColorAgent{220, 40, 40};

 private:
  std::vector<std::string> map_;
  int rows_ = 0;
  int cols_ = 0;
  int start_ = 0;
  bool slippery_ = true;
  int64_t max_episode_steps_ = 0;
};

/// CartPole state: cart position and velocity, pole angle (radians, 0 = upright) and angular
/// velocity.
struct CartPoleState {
  double x = 0;
  double x_dot = 0;
  double theta = 0;
  double theta_dot = 0;
};

/// CartPole-v1 (Barto, Sutton & Anderson): action 0 pushes the cart left, 1 right, with force
/// 10 N; Euler integration with tau 0.02 s; gravity 9.8, cart mass 1.0, pole mass 0.1, pole
/// half-length 0.5. An episode terminates when |x| > 2.4 or |theta| > 12 degrees and is
/// truncated after 500 steps; reward 1 every step; the initial state is uniform in
/// [-0.05, 0.05) per component. Stateless; all functions are thread-safe.
struct CartPole {
  static constexpr int kNumActions = 2;
  static constexpr double kGravity = 9.8;
  static constexpr double kMassCart = 1.0;
  static constexpr double kMassPole = 0.1;
  static constexpr double kLength = 0.5;  ///< half the pole's length
  static constexpr double kForce = 10.0;
  static constexpr double kTau = 0.02;
  static constexpr double kXThreshold = 2.4;
  /// 12 degrees in radians.
  static constexpr double kThetaThreshold = 12.0 * 2.0 * 3.14159265358979323846 / 360.0;
  static constexpr int64_t kMaxEpisodeSteps = 500;
  /// Size of rendered frames.
  static constexpr int kFrameWidth = 64;
  static constexpr int kFrameHeight = 40;

  /// The state after applying `action` (0 or 1; anything else counts as 1) for one tau.
  static CartPoleState step(const CartPoleState& state, int action) noexcept;
  /// True when the state is outside the thresholds (the episode terminates).
  static bool terminated(const CartPoleState& state) noexcept;
  /// The balancing heuristic used as the "greedy" action of epsilon-greedy (CartPole has no
  /// Q* here): push towards the side the pole is falling to, 1 if theta + 0.5 * theta_dot +
  /// 0.01 * x + 0.1 * x_dot > 0, else 0.
  static int heuristic_action(const CartPoleState& state) noexcept;
  /// An RGB frame kFrameHeight x kFrameWidth x 3 (row-major): white background, grey track,
  /// blue cart at x, brown pole at theta.
  static std::vector<uint8_t> render(const CartPoleState& state);
};

/// Options of generate().
struct GenerateOptions {
  Env env = Env::kFrozenLake4x4;
  /// Rows to write (>= 0).
  int64_t steps = 1000;
  uint64_t seed = 0;
  Policy policy = Policy::kRandom;
  /// Probability of a uniform action under kEpsilonGreedy, in [0, 1].
  double epsilon = 0.1;
  /// Discount of the value iteration giving metadata_q_star, in [0, 1].
  double gamma = 0.99;
  /// FrozenLake only.
  bool slippery = true;
  /// Adds `observation_image` (an Image feature, PNG bytes) with a rendered frame per row.
  bool images = false;
  /// Pixels per FrozenLake cell in the frames, in [4, 64].
  int cell_pixels = 8;
  /// xformed_reward = reward - step_penalty on every row produced by a step (0 on the first
  /// row of an episode).
  float step_penalty = 0.01f;
  /// If set, called on the calling thread after every 1000 rows and once at the end with
  /// (rows generated so far, rows in total); generate_splits counts over all splits. When
  /// generate_to_disk needs a second pass (see there), the count starts again from 0.
  std::function<void(int64_t done, int64_t total)> progress;
};

/// The features of what generate() writes for `options`, in column order: action (int64),
/// reward (float32), done (int64), xformed_reward (float32), episode_step (int64), then for
/// FrozenLake observation_discrete (int64) and metadata_q_star (Sequence(float32): Q* of the
/// row's state for the 4 actions), for CartPole observation (Sequence(float32, length=4):
/// x, x_dot, theta, theta_dot), and with images observation_image (Image).
Features generated_features(const GenerateOptions& options);

/// Rolls out `options.steps` steps of the policy in the environment and returns them as an
/// in-memory Dataset (see the row layout at the top of this header). `stream` selects an
/// independent random stream for the same seed (generate_splits uses the split's index).
/// InvalidArgument for bad options (naming the option and the value).
Dataset generate(const GenerateOptions& options, uint64_t stream = 0);

/// A split and its number of steps.
struct SplitSteps {
  std::string name;
  int64_t steps = 0;
};

/// Parses "train=N,test=M,...": non-empty names (no '/', not "." or ".."), each once, and
/// integer step counts >= 0. InvalidArgument naming the bad part otherwise.
std::vector<SplitSteps> parse_splits(std::string_view text);

/// One generated dataset per split, in order; split i uses stream i of options.seed (so split
/// 0 equals generate(options with its steps)). options.steps is ignored. InvalidArgument if
/// `splits` is empty, or as generate().
DatasetDict generate_splits(const GenerateOptions& options, std::span<const SplitSteps> splits);

/// What generate_to_disk / generate_splits_to_disk wrote for one split.
struct GenerateSummary {
  std::string name;
  int64_t num_rows = 0;
  /// Rows with episode_step 0 (episodes started).
  int64_t episodes = 0;
};

/// Writes what generate(options) returns to `path` as a save_to_disk Dataset, byte for byte as
/// generate(options).save_to_disk(path, save_options) would, but streaming: rows are rolled out
/// in record batches of 1000 and each is written before the next is made, so memory stays flat
/// whatever options.steps is (see save_stream_to_disk). When the rows need more than one shard
/// (over save_options.max_shard_bytes of column data, 500 MB by default) the rollout runs twice:
/// once to measure, once to write the shards. Atomic: a temporary directory renamed into place,
/// nothing left at `path` on failure. Returns the summary of the split (named "train").
/// InvalidArgument for bad options (before anything is written), IoError.
GenerateSummary generate_to_disk(const GenerateOptions& options, const std::filesystem::path& path,
                                 const SaveOptions& save_options = {});

/// As generate_splits(options, splits).save_to_disk(path, save_options), streaming each split
/// as generate_to_disk does, in one atomic DatasetDict directory. Returns one summary per split,
/// in order. InvalidArgument if `splits` is empty, for a bad split name or as generate().
std::vector<GenerateSummary> generate_splits_to_disk(const GenerateOptions& options,
                                                     std::span<const SplitSteps> splits,
                                                     const std::filesystem::path& path,
                                                     const SaveOptions& save_options = {});

/// As save_to_hub_layout(generate_splits(options, splits), path, hub_options), streaming each
/// split as generate_to_disk does (see save_streams_to_hub_layout), so memory stays flat
/// whatever the step counts. Returns one summary per split, in order. InvalidArgument if
/// `splits` is empty, for a bad split name or as generate(); IoError.
std::vector<GenerateSummary> generate_splits_to_hub_layout(const GenerateOptions& options,
                                                           std::span<const SplitSteps> splits,
                                                           const std::filesystem::path& path,
                                                           const HubSaveOptions& hub_options = {});

}  // namespace mouse::envs
