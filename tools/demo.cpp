// `mouse-data demo`: the tour a new user runs first. Generates a small FrozenLake dataset with
// rendered frames into a temporary directory, loads it back from disk, samples augmented batches
// of windows on background workers and prints what came out and how fast.
#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <system_error>

#include "commands.hpp"
#include "common.hpp"
#include "mouse/augment.hpp"
#include "mouse/batch.hpp"
#include "mouse/dataset_store.hpp"
#include "mouse/envs.hpp"
#include "mouse/error.hpp"

namespace mouse::cli {

namespace {

struct DemoOptions {
  int64_t steps = 20'000;
  uint64_t seed = 0;
  double seconds = 2.0;
  std::string keep;  // write the dataset here and keep it
};

// Removes the temporary dataset directory however the demo ends.
struct TempDir {
  std::filesystem::path path;
  ~TempDir() {
    std::error_code ec;
    if (!path.empty()) std::filesystem::remove_all(path, ec);
  }
};

constexpr int kCell = 8;

// One character per cell of a frame, from the colour at the cell's centre and corner.
std::string ascii_frame(const Tensor& image, int64_t row_offset, int rows, int cols) {
  const int width = cols * kCell;
  auto pixel = [&](int y, int x) {
    const int64_t i = row_offset + (static_cast<int64_t>(y) * width + x) * 3;
    std::array<int64_t, 3> rgb{};
    for (int c = 0; c < 3; ++c) {
      rgb[c] = image.dtype() == DType::kUInt8 ? image.data_as<uint8_t>()[i + c]
                                              : image.data_as<int64_t>()[i + c];
    }
    return rgb;
  };
  auto same = [](const std::array<int64_t, 3>& a, const std::array<uint8_t, 3>& b) {
    return a[0] == b[0] && a[1] == b[1] && a[2] == b[2];
  };
  std::string out;
  for (int r = 0; r < rows; ++r) {
    out += "    ";
    for (int c = 0; c < cols; ++c) {
      const auto centre = pixel(r * kCell + kCell / 2, c * kCell + kCell / 2);
      const auto corner = pixel(r * kCell, c * kCell);
      char ch = '?';
      if (same(centre, envs::FrozenLake::kColorAgent)) ch = '@';
      else if (same(corner, envs::FrozenLake::kColorHole)) ch = 'H';
      else if (same(corner, envs::FrozenLake::kColorGoal)) ch = 'G';
      else if (same(corner, envs::FrozenLake::kColorStart)) ch = 'S';
      else if (same(corner, envs::FrozenLake::kColorFrozen)) ch = '.';
      out += ch;
      out += ' ';
    }
    out += '\n';
  }
  return out;
}

void run(const DemoOptions& opt) {
  using clock = std::chrono::steady_clock;
  const auto t_start = clock::now();
  TempDir tmp;
  std::filesystem::path dir;
  if (opt.keep.empty()) {
    tmp.path = std::filesystem::temp_directory_path() /
               fmt::format("mouse-demo-{}", std::chrono::system_clock::now().time_since_epoch().count());
    dir = tmp.path;
  } else {
    dir = opt.keep;
    // Like `generate`: an existing dataset is replaced, any other non-empty directory is kept.
    check_output_dir("demo --keep", dir, /*overwrite=*/true);
  }

  // 1. Generate: FrozenLake 4x4, slippery, epsilon-greedy on Q*, frames as PNG Image features.
  envs::GenerateOptions gen;
  gen.env = envs::Env::kFrozenLake4x4;
  gen.seed = opt.seed;
  gen.policy = envs::Policy::kEpsilonGreedy;
  gen.epsilon = 0.2;
  gen.images = true;
  gen.cell_pixels = kCell;
  const std::vector<envs::SplitSteps> splits{{"train", opt.steps}, {"test", opt.steps / 4}};
  envs::generate_splits_to_disk(gen, splits, dir);
  const auto t_generated = clock::now();

  // 2. Load it back (memory-mapped) into a store.
  const auto lake = envs::FrozenLake::standard(gen.env, gen.slippery);
  StoreConfig config;
  config.max_action_dim = envs::FrozenLake::kNumActions;
  config.max_obs_discrete_dim = 1;
  config.max_obs_image_pixels = int64_t{lake.rows()} * lake.cols() * kCell * kCell * 3;
  config.obs_image_dtype = DType::kUInt8;
  DatasetStore store(config);
  DatasetDict dict = DatasetDict::load_from_disk(dir);
  store.from_dataset(dict, std::nullopt, std::vector<std::string>{"train*"});
  const Dataset& train = dict.at("train");
  std::cout << fmt::format("mouse-data demo\n\nDataset: FrozenLake 4x4 (slippery), {} in {:.2f} s\n",
                           dir.string(), std::chrono::duration<double>(t_generated - t_start).count());
  for (const auto& name : dict.split_names()) {
    std::cout << fmt::format("  split {:<6} {:>7} rows\n", name, dict.at(name).num_rows());
  }
  std::cout << "  columns:";
  for (const auto& c : train.column_names()) std::cout << ' ' << c << " (" << train.features().type_of(c) << ")";
  std::cout << fmt::format("\nStore: {} rows from split 'train' (pattern \"train*\")\n\n", store.size());

  // 3. One window, unaugmented, as a table.
  constexpr int64_t kS = 12;
  BatchifierOptions plain;
  plain.sampling = "sequential";
  plain.num_workers = 0;
  plain.seed = opt.seed;
  plain.boundaries = "episode";
  PrefetchBatchifier window_source(store, kS, 1, plain);
  SampledBatch first = window_source.next();
  const TensorDict& w = first.data;
  std::cout << fmt::format("One window (rows {}..{}, boundaries=episode):\n", first.starts[0],
                           first.starts[0] + kS - 1);
  std::cout << "     t  state  action  reward  done  q*(left down right up)            mask\n";
  const auto& q = w.at("q_star");
  for (int64_t s = 0; s < kS; ++s) {
    std::cout << fmt::format("  {:>4}  {:>5}  {:>6}  {:>6.2f}  {:>4}  {:>7.3f} {:>7.3f} {:>7.3f} {:>7.3f}  {}\n",
                             w.at("time").at<int64_t>({0, s}), w.at("obs_discrete").at<int64_t>({0, s}),
                             w.at("action").at<int64_t>({0, s}), w.at("reward").at<float>({0, s}),
                             w.at("done").at<int64_t>({0, s}), q.at<float>({0, s, 0}),
                             q.at<float>({0, s, 1}), q.at<float>({0, s, 2}), q.at<float>({0, s, 3}),
                             w.at("mask").at<bool>({0, s}) ? "step" : "pad");
  }
  const Tensor& image = w.at("obs_image");
  std::cout << fmt::format("\nFrame of step t={} (obs_image, {} uint8 values, @ = agent):\n",
                           w.at("time").at<int64_t>({0, 0}), image.shape()[2]);
  std::cout << ascii_frame(image, 0, lake.rows(), lake.cols());

  // 4. Augmented random batches on two background workers.
  AugmentTokensConfig aug_config;
  aug_config.permute_action = PermuteAction::kBoth;
  aug_config.scale_reward = AugmentScalarSpec::uniform(0.5, 2.0);
  aug_config.mask_prob.action = 0.1;
  auto aug = std::make_shared<const TokenAugmenter>(aug_config, envs::FrozenLake::kNumActions, 0, opt.seed);
  BatchifierOptions sampled;
  sampled.num_workers = 2;
  sampled.seed = opt.seed;
  sampled.transform = augment_transform(std::move(aug));
  constexpr int64_t kB = 32, kSeq = 64;
  PrefetchBatchifier batchifier(store, kSeq, kB, sampled);
  (void)batchifier.next_batch();
  int64_t batches = 0, bytes = 0;
  const auto t0 = clock::now();
  const auto deadline = t0 + std::chrono::duration<double>(opt.seconds);
  TensorDict last;
  while (clock::now() < deadline) {
    last = batchifier.next_batch();
    bytes += last.nbytes();
    ++batches;
  }
  const double secs = std::chrono::duration<double>(clock::now() - t0).count();
  batchifier.close();
  std::cout << fmt::format(
      "\nSampling: random windows, S={} B={}, 2 workers, augmented in the workers\n"
      "  (actions permuted with their q* columns, reward scaled by U[0.5, 2), 10% of actions masked)\n"
      "  keys:",
      kSeq, kB);
  for (const auto& [name, t] : last) {
    std::cout << fmt::format(" {} {} {}", name, dtype_name(t.dtype()), format_shape(t.shape()));
  }
  std::cout << fmt::format("\n  {} batches in {:.2f} s: {:.0f} batches/s, {:.0f} steps/s, {:.0f} MB/s\n", batches,
                           secs, batches / secs, batches * kB * kSeq / secs, bytes / secs / 1e6);
  std::cout << fmt::format("\nDone in {:.1f} s.{}\n",
                           std::chrono::duration<double>(clock::now() - t_start).count(),
                           opt.keep.empty() ? "" : fmt::format(" Dataset kept at {}", dir.string()));
}

}  // namespace

void add_demo(CLI::App& app) {
  auto opt = std::make_shared<DemoOptions>();
  auto* cmd = app.add_subcommand(
      "demo", "Generate a small FrozenLake dataset, load it, sample augmented batches, report");
  cmd->add_option("--steps", opt->steps, "Rows of the train split")->capture_default_str();
  cmd->add_option("--seed", opt->seed, "Seed of generation, sampling and augmentation")
      ->capture_default_str();
  cmd->add_option("--seconds", opt->seconds, "How long to measure sampling")->capture_default_str();
  cmd->add_option("--keep", opt->keep, "Write the dataset to this directory and keep it");
  cmd->callback([opt] { run(*opt); });
}

}  // namespace mouse::cli
