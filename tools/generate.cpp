// `mouse-data generate ENV OUT`: rollouts of a built-in environment as a step dataset.
#include <fmt/format.h>


#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "common.hpp"
#include "mouse/dataset.hpp"
#include "mouse/envs.hpp"
#include "mouse/error.hpp"
#include "mouse/hub.hpp"

namespace mouse::cli {

namespace {

namespace fs = std::filesystem;

struct Options {
  std::string env;
  std::string out;
  int64_t steps = 1000;
  uint64_t seed = 0;
  std::string policy = "random";
  double epsilon = 0.1;
  double gamma = 0.99;
  std::string splits;
  std::string format = "disk";
  bool images = false;
  bool slippery = true;
  bool overwrite = false;
  bool json = false;
  CLI::Option* steps_option = nullptr;
  CLI::Option* splits_option = nullptr;
};

// Rows and episodes (rows with episode_step 0) of one generated split.
nlohmann::ordered_json summary(const envs::GenerateSummary& s) {
  return {{"name", s.name}, {"num_rows", s.num_rows}, {"episodes", s.episodes}};
}

void run(const Options& opt) {
  envs::GenerateOptions g;
  g.env = envs::parse_env(opt.env);
  g.policy = envs::parse_policy(opt.policy);
  if (opt.format != "disk" && opt.format != "hub") {
    throw InvalidArgument(fmt::format("generate: unknown --format '{}': expected disk or hub", opt.format));
  }
  if (opt.steps_option->count() > 0 && opt.splits_option->count() > 0) {
    throw InvalidArgument("generate: give either --steps or --splits, not both");
  }
  g.steps = opt.steps;
  g.seed = opt.seed;
  g.epsilon = opt.epsilon;
  g.gamma = opt.gamma;
  g.images = opt.images;
  g.slippery = opt.slippery;
  auto bar = std::make_shared<ProgressBar>("generating", "rows");
  g.progress = [bar](int64_t done, int64_t total) { (*bar)(done, total); };
  std::vector<envs::SplitSteps> splits;
  if (opt.splits_option->count() > 0) splits = envs::parse_splits(opt.splits);

  const fs::path out = opt.out;
  check_output_dir("generate", out, opt.overwrite);

  nlohmann::ordered_json doc = {{"path", out.string()},
                                {"env", envs::env_name(g.env)},
                                {"policy", envs::policy_name(g.policy)},
                                {"seed", g.seed}};
  nlohmann::ordered_json parts = nlohmann::ordered_json::array();
  if (opt.format == "hub") {
    // The Hub layout always holds named splits: a plain run becomes the "train" split.
    // Streamed as the disk layout is: one Parquet row group of rows in memory at a time, of
    // 100 000 rows, 10 000 with frames (a few MB either way; `datasets` writes smaller groups
    // still, 100 rows for images).
    if (splits.empty()) splits.push_back({"train", g.steps});
    HubSaveOptions hub;
    hub.parquet.row_group_rows = g.images ? 10'000 : 100'000;
    for (const auto& s : envs::generate_splits_to_hub_layout(g, splits, out, hub)) {
      parts.push_back(summary(s));
    }
    doc["layout"] = "Hub";
  } else if (splits.empty()) {
    // Streamed: one record batch of rows in memory at a time, whatever --steps is.
    parts.push_back(summary(envs::generate_to_disk(g, out)));
    doc["layout"] = "Dataset";
  } else {
    for (const auto& s : envs::generate_splits_to_disk(g, splits, out)) parts.push_back(summary(s));
    doc["layout"] = "DatasetDict";
  }
  doc["splits"] = parts;
  if (opt.json) {
    std::cout << doc.dump() << '\n';
    return;
  }
  std::cout << fmt::format("wrote {} ({}, {} policy, seed {}) to {}\n", doc["layout"].get<std::string>(),
                           envs::env_name(g.env), envs::policy_name(g.policy), g.seed, out.string());
  for (const auto& p : parts) {
    std::cout << fmt::format("  {}: {} rows, {} episodes\n", p["name"].get<std::string>(),
                             p["num_rows"].get<int64_t>(), p["episodes"].get<int64_t>());
  }
}

}  // namespace

void add_generate(CLI::App& app) {
  auto opt = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("generate", "Write rollouts of a built-in environment as a step dataset");
  cmd->add_option("env", opt->env, "frozenlake-4x4, frozenlake-8x8 or cartpole")->required();
  cmd->add_option("out", opt->out, "Output directory (layout: see --format)")->required();
  opt->steps_option = cmd->add_option("--steps", opt->steps, "Number of rows (steps)")->capture_default_str();
  cmd->add_option("--seed", opt->seed, "Random seed")->capture_default_str();
  cmd->add_option("--policy", opt->policy, "random or epsilon-greedy")->capture_default_str();
  cmd->add_option("--epsilon", opt->epsilon,
                  "Uniform-action probability of epsilon-greedy (greedy on Q* for FrozenLake, a "
                  "balancing heuristic for CartPole)")
      ->capture_default_str();
  cmd->add_option("--gamma", opt->gamma, "Discount of the value iteration giving metadata_q_star")
      ->capture_default_str();
  opt->splits_option =
      cmd->add_option("--splits", opt->splits, "Write a DatasetDict: train=N,test=M,... (steps per split)");
  cmd->add_flag("--images", opt->images, "Add observation_image: a rendered RGB frame per row (PNG)");
  cmd->add_flag("--slippery,!--no-slippery", opt->slippery,
                "FrozenLake moves slip to a perpendicular direction with probability 2/3 (default on)");
  cmd->add_option("--format", opt->format, "disk (save_to_disk) or hub (Parquet shards + README.md)")
      ->capture_default_str();
  cmd->add_flag("--overwrite", opt->overwrite, "Replace OUT if it exists and is not empty");
  cmd->add_flag("--json", opt->json, "Print a JSON summary of what was written");
  cmd->callback([opt] { run(*opt); });
}

}  // namespace mouse::cli
