// Rollouts of the built-in environments into step datasets (SPEC §3 columns).
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <iterator>
#include <optional>
#include <set>

#include "envs/keyed_random.hpp"
#include "envs/png_encode.hpp"
#include "format/arrow/builders.hpp"
#include "mouse/envs.hpp"
#include "mouse/error.hpp"

namespace mouse::envs {

namespace {

using detail::KeyedRandom;

// Rows per in-memory record batch: what save_to_disk writes anyway, and what load_from_disk
// gives back, so a generated dataset and its reloaded copy have the same chunking.
constexpr int64_t kBatchRows = 1000;

constexpr std::string_view kEnvNames[] = {"frozenlake-4x4", "frozenlake-8x8", "cartpole"};

bool is_frozen_lake(Env env) noexcept { return env != Env::kCartPole; }

void validate(const GenerateOptions& o) {
  if (o.steps < 0) throw InvalidArgument(fmt::format("generate: steps must be >= 0, got {}", o.steps));
  if (!(o.epsilon >= 0.0 && o.epsilon <= 1.0)) {
    throw InvalidArgument(fmt::format("generate: epsilon must be in [0, 1], got {}", o.epsilon));
  }
  if (!(o.gamma >= 0.0 && o.gamma <= 1.0)) {
    throw InvalidArgument(fmt::format("generate: gamma must be in [0, 1], got {}", o.gamma));
  }
  if (o.cell_pixels < 4 || o.cell_pixels > 64) {
    throw InvalidArgument(
        fmt::format("generate: cell_pixels must be in [4, 64], got {}", o.cell_pixels));
  }
  if (!std::isfinite(o.step_penalty)) {
    throw InvalidArgument(fmt::format("generate: step_penalty must be finite, got {}", o.step_penalty));
  }
  if (static_cast<size_t>(o.env) >= std::size(kEnvNames)) {
    throw InvalidArgument(fmt::format("generate: unknown environment id {}", static_cast<int>(o.env)));
  }
}

// Columns of the batch being filled.
struct BatchBuilder {
  const GenerateOptions& options;
  std::vector<int64_t> action, done, episode_step, obs_discrete;
  std::vector<float> reward, xformed_reward, observation, q_star;
  std::vector<std::optional<std::string>> image_bytes;

  int64_t rows() const noexcept { return static_cast<int64_t>(action.size()); }

  void add(int64_t a, float r, int64_t d, int64_t t) {
    action.push_back(a);
    reward.push_back(r);
    done.push_back(d);
    // The first row of an episode is not produced by a step, so it carries no penalty.
    xformed_reward.push_back(t == 0 ? 0.0f : r - options.step_penalty);
    episode_step.push_back(t);
  }

  arrow::RecordBatch finish() {
    using namespace arrow;
    const int64_t n = rows();
    std::vector<std::string> names{"action", "reward", "done", "xformed_reward", "episode_step"};
    std::vector<ArrayPtr> columns{
        make_primitive<int64_t>(action), make_primitive<float>(reward),
        make_primitive<int64_t>(done), make_primitive<float>(xformed_reward),
        make_primitive<int64_t>(episode_step)};
    if (is_frozen_lake(options.env)) {
      names.emplace_back("observation_discrete");
      columns.push_back(make_primitive<int64_t>(obs_discrete));
      std::vector<int64_t> offsets(static_cast<size_t>(n + 1));
      for (int64_t i = 0; i <= n; ++i) offsets[static_cast<size_t>(i)] = i * FrozenLake::kNumActions;
      names.emplace_back("metadata_q_star");
      columns.push_back(make_list(offsets, make_primitive<float>(q_star)));
    } else {
      names.emplace_back("observation");
      columns.push_back(make_fixed_size_list(make_primitive<float>(observation), 4));
    }
    if (options.images) {
      names.emplace_back("observation_image");
      std::vector<std::optional<std::string>> paths(static_cast<size_t>(n));
      columns.push_back(make_struct({"bytes", "path"}, {make_binary(image_bytes), make_utf8(paths)}));
    }
    RecordBatch batch = make_batch(names, std::move(columns));
    action.clear();
    done.clear();
    episode_step.clear();
    obs_discrete.clear();
    reward.clear();
    xformed_reward.clear();
    observation.clear();
    q_star.clear();
    image_bytes.clear();
    return batch;
  }
};

// Index of the largest of `values`, ties broken uniformly by `rng` (an untrained or symmetric
// state must not always pick action 0).
int argmax_random_ties(const double* values, int n, KeyedRandom& rng) {
  double best = values[0];
  for (int i = 1; i < n; ++i) best = std::max(best, values[i]);
  int ties[8];
  int count = 0;
  for (int i = 0; i < n && count < 8; ++i) {
    if (values[i] >= best - 1e-12) ties[count++] = i;
  }
  return count == 1 ? ties[0] : ties[rng.below(count)];
}

// Receives each finished batch of a rollout; the rollout keeps no reference to it.
using BatchSink = std::function<void(arrow::RecordBatch)>;

// Both rollouts hand over batches of kBatchRows rows (the last one shorter), or one empty batch
// for zero steps, which still carries the schema.
void roll_out_frozen_lake(const GenerateOptions& o, uint64_t stream, const BatchSink& emit) {
  const FrozenLake lake = FrozenLake::standard(o.env, o.slippery);
  const std::vector<double> q = lake.q_star(o.gamma);
  // Only num_states() distinct frames exist: encode each once.
  std::vector<std::string> frames;
  if (o.images) {
    for (int s = 0; s < lake.num_states(); ++s) {
      frames.push_back(detail::encode_png_rgb(lake.render(s, o.cell_pixels),
                                              lake.cols() * o.cell_pixels,
                                              lake.rows() * o.cell_pixels));
    }
  }
  KeyedRandom rng(o.seed, stream);
  BatchBuilder b{o};
  int state = lake.start_state();
  int64_t t = 0;
  bool episode_over = true;
  for (int64_t row = 0; row < o.steps; ++row) {
    if (episode_over) {
      state = lake.start_state();
      t = 0;
      episode_over = false;
      b.add(0, 0.0f, 0, 0);
    } else {
      const double* q_s = &q[static_cast<size_t>(state * FrozenLake::kNumActions)];
      int action;
      if (o.policy == Policy::kRandom || rng.uniform() < o.epsilon) {
        action = rng.below(FrozenLake::kNumActions);
      } else {
        action = argmax_random_ties(q_s, FrozenLake::kNumActions, rng);
      }
      const Outcome out = lake.sample(state, action, rng.uniform());
      state = out.next_state;
      ++t;
      const int64_t done = out.terminal ? 1 : t >= lake.max_episode_steps() ? 2 : 0;
      episode_over = done != 0;
      b.add(action, out.reward, done, t);
    }
    b.obs_discrete.push_back(state);
    for (int a = 0; a < FrozenLake::kNumActions; ++a) {
      b.q_star.push_back(static_cast<float>(q[static_cast<size_t>(state * FrozenLake::kNumActions + a)]));
    }
    if (o.images) b.image_bytes.emplace_back(frames[static_cast<size_t>(state)]);
    if (b.rows() == kBatchRows) {
      emit(b.finish());
      if (o.progress) o.progress(row + 1, o.steps);
    }
  }
  if (b.rows() > 0 || o.steps == 0) emit(b.finish());
  if (o.progress) o.progress(o.steps, o.steps);
}

void roll_out_cart_pole(const GenerateOptions& o, uint64_t stream, const BatchSink& emit) {
  KeyedRandom rng(o.seed, stream);
  BatchBuilder b{o};
  CartPoleState s;
  int64_t t = 0;
  bool episode_over = true;
  for (int64_t row = 0; row < o.steps; ++row) {
    if (episode_over) {
      s.x = rng.uniform() * 0.1 - 0.05;
      s.x_dot = rng.uniform() * 0.1 - 0.05;
      s.theta = rng.uniform() * 0.1 - 0.05;
      s.theta_dot = rng.uniform() * 0.1 - 0.05;
      t = 0;
      episode_over = false;
      b.add(0, 0.0f, 0, 0);
    } else {
      int action;
      if (o.policy == Policy::kRandom || rng.uniform() < o.epsilon) {
        action = rng.below(CartPole::kNumActions);
      } else {
        action = CartPole::heuristic_action(s);
      }
      s = CartPole::step(s, action);
      ++t;
      const int64_t done = CartPole::terminated(s) ? 1 : t >= CartPole::kMaxEpisodeSteps ? 2 : 0;
      episode_over = done != 0;
      b.add(action, 1.0f, done, t);
    }
    for (double v : {s.x, s.x_dot, s.theta, s.theta_dot}) b.observation.push_back(static_cast<float>(v));
    if (o.images) {
      b.image_bytes.emplace_back(detail::encode_png_rgb(CartPole::render(s), CartPole::kFrameWidth,
                                                        CartPole::kFrameHeight));
    }
    if (b.rows() == kBatchRows) {
      emit(b.finish());
      if (o.progress) o.progress(row + 1, o.steps);
    }
  }
  if (b.rows() > 0 || o.steps == 0) emit(b.finish());
  if (o.progress) o.progress(o.steps, o.steps);
}

void roll_out(const GenerateOptions& o, uint64_t stream, const BatchSink& emit) {
  if (is_frozen_lake(o.env)) {
    roll_out_frozen_lake(o, stream, emit);
  } else {
    roll_out_cart_pole(o, stream, emit);
  }
}

// Episodes (rows with episode_step 0) in `batch`, whose fifth column is episode_step.
int64_t count_episodes(const arrow::RecordBatch& batch) {
  const int64_t* t = arrow::values<int64_t>(*batch.columns[4]);
  int64_t n = 0;
  for (int64_t i = 0; i < batch.num_rows; ++i) n += t[i] == 0 ? 1 : 0;
  return n;
}

// The rollout of `o` (validated) on `stream` as a BatchStream; `summary` gets the rows and
// episodes of the last pass over it.
BatchStream rollout_stream(const GenerateOptions& o, uint64_t stream, GenerateSummary& summary) {
  BatchStream out;
  BatchBuilder empty{o};
  arrow::RecordBatch schema_batch = empty.finish();
  out.layout = Dataset::from_batches(schema_batch.schema, {}, generated_features(o));
  out.num_rows = o.steps;
  out.produce = [o, stream, &summary](const BatchStream::Emit& emit) {
    summary.num_rows = 0;
    summary.episodes = 0;
    roll_out(o, stream, [&](arrow::RecordBatch batch) {
      summary.num_rows += batch.num_rows;
      summary.episodes += count_episodes(batch);
      emit(batch);
    });
  };
  return out;
}

bool valid_split_name(std::string_view name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string_view::npos;
}

}  // namespace

Env parse_env(std::string_view name) {
  for (size_t i = 0; i < std::size(kEnvNames); ++i) {
    if (name == kEnvNames[i]) return static_cast<Env>(i);
  }
  throw InvalidArgument(fmt::format(
      "unknown environment '{}': expected one of frozenlake-4x4, frozenlake-8x8, cartpole", name));
}

std::string_view env_name(Env env) noexcept {
  const auto i = static_cast<size_t>(env);
  return i < std::size(kEnvNames) ? kEnvNames[i] : std::string_view("unknown");
}

Policy parse_policy(std::string_view name) {
  if (name == "random") return Policy::kRandom;
  if (name == "epsilon-greedy") return Policy::kEpsilonGreedy;
  throw InvalidArgument(
      fmt::format("unknown policy '{}': expected random or epsilon-greedy", name));
}

std::string_view policy_name(Policy policy) noexcept {
  return policy == Policy::kRandom ? "random" : "epsilon-greedy";
}

Features generated_features(const GenerateOptions& options) {
  auto value = [](std::string_view dtype) {
    return fmt::format(R"({{"dtype": "{}", "_type": "Value"}})", dtype);
  };
  std::string json = fmt::format(
      R"({{"action": {}, "reward": {}, "done": {}, "xformed_reward": {}, "episode_step": {})",
      value("int64"), value("float32"), value("int64"), value("float32"), value("int64"));
  if (is_frozen_lake(options.env)) {
    json += fmt::format(R"(, "observation_discrete": {}, "metadata_q_star": {{"feature": {}, "_type": "Sequence"}})",
                        value("int64"), value("float32"));
  } else {
    json += fmt::format(R"(, "observation": {{"feature": {}, "length": 4, "_type": "Sequence"}})",
                        value("float32"));
  }
  if (options.images) json += R"(, "observation_image": {"_type": "Image"})";
  json += '}';
  return Features::from_json(json, "generated features");
}

Dataset generate(const GenerateOptions& options, uint64_t stream) {
  validate(options);
  std::vector<arrow::RecordBatch> batches;
  roll_out(options, stream, [&](arrow::RecordBatch batch) { batches.push_back(std::move(batch)); });
  // The rollout always leaves at least one (possibly empty) batch, which fixes the schema.
  auto schema = batches.front().schema;
  for (auto& batch : batches) batch.schema = schema;
  if (batches.front().num_rows == 0) batches.clear();
  return Dataset::from_batches(schema, std::move(batches), generated_features(options));
}

std::vector<SplitSteps> parse_splits(std::string_view text) {
  std::vector<SplitSteps> out;
  std::set<std::string, std::less<>> seen;
  size_t pos = 0;
  while (true) {
    const size_t comma = text.find(',', pos);
    const std::string_view part = text.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    const size_t eq = part.find('=');
    if (eq == std::string_view::npos) {
      throw InvalidArgument(fmt::format(
          "--splits: '{}' is not NAME=STEPS (expected e.g. train=1000,test=200)", part));
    }
    const std::string_view name = part.substr(0, eq);
    const std::string_view count = part.substr(eq + 1);
    if (!valid_split_name(name)) {
      throw InvalidArgument(fmt::format(
          "--splits: bad split name '{}' in '{}' (non-empty, no '/', not '.' or '..')", name, part));
    }
    int64_t steps = 0;
    const auto [end, ec] = std::from_chars(count.data(), count.data() + count.size(), steps);
    if (count.empty() || ec != std::errc() || end != count.data() + count.size() || steps < 0) {
      throw InvalidArgument(fmt::format(
          "--splits: step count of '{}' must be an integer >= 0, got '{}'", name, count));
    }
    if (!seen.emplace(name).second) {
      throw InvalidArgument(fmt::format("--splits: split '{}' is given twice", name));
    }
    out.push_back({std::string(name), steps});
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return out;
}

DatasetDict generate_splits(const GenerateOptions& options, std::span<const SplitSteps> splits) {
  if (splits.empty()) throw InvalidArgument("generate_splits: no splits given");
  DatasetDict dict;
  GenerateOptions o = options;
  int64_t total = 0;
  for (const auto& split : splits) total += split.steps;
  int64_t before = 0;
  for (size_t i = 0; i < splits.size(); ++i) {
    o.steps = splits[i].steps;
    if (options.progress) {
      o.progress = [&options, before, total](int64_t done, int64_t) { options.progress(before + done, total); };
    }
    dict.insert(splits[i].name, generate(o, i));
    before += splits[i].steps;
  }
  return dict;
}

GenerateSummary generate_to_disk(const GenerateOptions& options, const std::filesystem::path& path,
                                 const SaveOptions& save_options) {
  validate(options);
  GenerateSummary summary{"train", 0, 0};
  save_stream_to_disk(rollout_stream(options, 0, summary), path, save_options);
  return summary;
}

namespace {

// The streams of `splits` (each validated), progress counted over all of them; the summaries
// fill in as the streams run.
std::vector<std::pair<std::string, BatchStream>> split_streams(
    const GenerateOptions& options, std::span<const SplitSteps> splits,
    std::vector<GenerateSummary>& summaries) {
  summaries.assign(splits.size(), {});
  std::vector<std::pair<std::string, BatchStream>> streams;
  int64_t total = 0;
  for (const auto& split : splits) total += split.steps;
  int64_t before = 0;
  for (size_t i = 0; i < splits.size(); ++i) {
    GenerateOptions o = options;
    o.steps = splits[i].steps;
    validate(o);
    if (options.progress) {
      o.progress = [&options, before, total](int64_t done, int64_t) { options.progress(before + done, total); };
    }
    summaries[i].name = splits[i].name;
    streams.emplace_back(splits[i].name, rollout_stream(o, i, summaries[i]));
    before += splits[i].steps;
  }
  return streams;
}

}  // namespace

std::vector<GenerateSummary> generate_splits_to_disk(const GenerateOptions& options,
                                                     std::span<const SplitSteps> splits,
                                                     const std::filesystem::path& path,
                                                     const SaveOptions& save_options) {
  if (splits.empty()) throw InvalidArgument("generate_splits_to_disk: no splits given");
  std::vector<GenerateSummary> summaries;
  const auto streams = split_streams(options, splits, summaries);
  save_streams_to_disk(streams, path, save_options);
  return summaries;
}

std::vector<GenerateSummary> generate_splits_to_hub_layout(const GenerateOptions& options,
                                                           std::span<const SplitSteps> splits,
                                                           const std::filesystem::path& path,
                                                           const HubSaveOptions& hub_options) {
  if (splits.empty()) throw InvalidArgument("generate_splits_to_hub_layout: no splits given");
  std::vector<GenerateSummary> summaries;
  const auto streams = split_streams(options, splits, summaries);
  save_streams_to_hub_layout(streams, path, hub_options);
  return summaries;
}

}  // namespace mouse::envs
