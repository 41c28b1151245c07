// `mouse-data convert IN OUT --to disk|hub`: between the save_to_disk layouts and the Hub
// layout (Parquet shards + README.md).
#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <variant>

#include "commands.hpp"
#include "common.hpp"
#include "mouse/dataset.hpp"
#include "mouse/error.hpp"
#include "mouse/hub.hpp"

namespace mouse::cli {

namespace {

namespace fs = std::filesystem;

struct Options {
  SourceArgs in;
  std::string out;
  std::string to;
  int64_t max_shard_bytes = 500'000'000;
  bool overwrite = false;
  bool json = false;
};

void run(const Options& opt) {
  if (opt.to != "disk" && opt.to != "hub") {
    throw InvalidArgument(fmt::format("convert: unknown --to '{}': expected disk or hub", opt.to));
  }
  if (opt.max_shard_bytes <= 0) {
    throw InvalidArgument(
        fmt::format("convert: --max-shard-bytes must be > 0, got {}", opt.max_shard_bytes));
  }
  const fs::path in = opt.in.path;
  const fs::path out = opt.out;
  std::error_code ec;
  if (!fs::is_directory(in, ec))
    throw IoError(fmt::format("convert: {}: not a directory", in.string()));
  if (fs::exists(out, ec) && fs::equivalent(in, out, ec)) {
    throw InvalidArgument(
        fmt::format("convert: IN and OUT are the same directory ({})", out.string()));
  }
  check_not_nested("convert", in, out);
  check_output_dir("convert", out, opt.overwrite);

  auto [loaded, from] = load_source(opt.in);

  nlohmann::ordered_json splits = nlohmann::ordered_json::array();
  if (opt.to == "hub") {
    DatasetDict dict;
    if (auto* ds = std::get_if<Dataset>(&loaded)) {
      dict.insert(ds->split().value_or("train"), *ds);
    } else {
      dict = std::get<DatasetDict>(loaded);
    }
    HubSaveOptions save;
    save.max_shard_bytes = opt.max_shard_bytes;
    save_to_hub_layout(dict, out, save);
    for (const auto& name : dict.split_names()) {
      splits.push_back({{"name", name}, {"num_rows", dict.at(name).num_rows()}});
    }
  } else {
    SaveOptions save;
    save.max_shard_bytes = opt.max_shard_bytes;
    if (auto* ds = std::get_if<Dataset>(&loaded)) {
      ds->save_to_disk(out, save);
      splits.push_back({{"name", ds->split().value_or("train")}, {"num_rows", ds->num_rows()}});
    } else {
      const auto& dict = std::get<DatasetDict>(loaded);
      dict.save_to_disk(out, save);
      for (const auto& name : dict.split_names()) {
        splits.push_back({{"name", name}, {"num_rows", dict.at(name).num_rows()}});
      }
    }
  }

  nlohmann::ordered_json doc = {{"in", in.string()},
                                {"out", out.string()},
                                {"from", from},
                                {"to", opt.to},
                                {"splits", splits}};
  if (opt.json) {
    std::cout << doc.dump() << '\n';
    return;
  }
  std::cout << fmt::format("converted {} ({}) to {} ({})\n", in.string(), from, out.string(),
                           opt.to);
  for (const auto& s : splits) {
    std::cout << fmt::format("  {}: {} rows\n", s["name"].get<std::string>(),
                             s["num_rows"].get<int64_t>());
  }
}

}  // namespace

void add_convert(CLI::App& app) {
  auto opt = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(
      "convert", "Convert a dataset between the save_to_disk and Hub (Parquet) layouts");
  opt->in.add_to(cmd, "in");
  cmd->add_option("out", opt->out, "Output directory")->required();
  cmd->add_option("--to", opt->to, "disk (save_to_disk) or hub (Parquet shards + README.md)")
      ->required();
  cmd->add_option("--max-shard-bytes", opt->max_shard_bytes,
                  "Upper bound of one output shard's column data")
      ->capture_default_str();
  cmd->add_flag("--overwrite", opt->overwrite, "Replace OUT if it exists and is not empty");
  cmd->add_flag("--json", opt->json, "Print a JSON summary of what was written");
  cmd->callback([opt] { run(*opt); });
}

}  // namespace mouse::cli
