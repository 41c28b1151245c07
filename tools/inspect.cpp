#include <fmt/format.h>

#include <iostream>
#include <nlohmann/json.hpp>
#include <variant>

#include "commands.hpp"
#include "common.hpp"
#include "mouse/dataset.hpp"

namespace mouse::cli {

namespace {

struct Options {
  SourceArgs source;
  bool json = false;
};

nlohmann::ordered_json describe(const std::string& name, const Dataset& ds) {
  auto columns = nlohmann::ordered_json::array();
  for (const auto& col : ds.column_names()) {
    columns.push_back({{"name", col},
                       {"feature", ds.features().type_of(col)},
                       {"arrow_type", ds.features().arrow_type(col)->to_string()}});
  }
  auto files = nlohmann::ordered_json::array();
  for (const auto& f : ds.data_files()) {
    files.push_back({{"filename", f.path.filename().string()}, {"bytes", f.size_bytes}});
  }
  nlohmann::ordered_json split;
  split["name"] = name;
  split["num_rows"] = ds.num_rows();
  split["columns"] = std::move(columns);
  split["data_files"] = std::move(files);
  return split;
}

void print_text(const nlohmann::ordered_json& doc) {
  std::cout << fmt::format("{}: {}", doc["path"].get<std::string>(), doc["layout"].get<std::string>());
  if (doc["layout"] == "DatasetDict") std::cout << fmt::format(" with {} splits", doc["splits"].size());
  if (doc["format"] == "hub") std::cout << " (Hub layout: Parquet shards, read through the Arrow cache)";
  std::cout << "\n";
  for (const auto& split : doc["splits"]) {
    std::cout << fmt::format("\nsplit {}: {} rows, {} columns\n", split["name"].get<std::string>(),
                             split["num_rows"].get<int64_t>(), split["columns"].size());
    size_t width = 4;
    for (const auto& c : split["columns"]) width = std::max(width, c["name"].get<std::string>().size());
    for (const auto& c : split["columns"]) {
      std::cout << fmt::format("  {:<{}}  {}  [{}]\n", c["name"].get<std::string>(), width,
                               c["feature"].get<std::string>(), c["arrow_type"].get<std::string>());
    }
    for (const auto& f : split["data_files"]) {
      std::cout << fmt::format("  file {} ({} bytes)\n", f["filename"].get<std::string>(),
                               f["bytes"].get<int64_t>());
    }
  }
}

void run(const Options& opt) {
  // Build the pieces first: a reference into an ordered_json dangles once a later key is added.
  auto [loaded, format] = load_source(opt.source);
  auto splits = nlohmann::ordered_json::array();
  std::string layout;
  if (auto* ds = std::get_if<Dataset>(&loaded)) {
    layout = "Dataset";
    splits.push_back(describe(ds->split().value_or("train"), *ds));
  } else {
    const auto& dict = std::get<DatasetDict>(loaded);
    layout = "DatasetDict";
    for (const auto& name : dict.split_names()) splits.push_back(describe(name, dict.at(name)));
  }
  nlohmann::ordered_json doc;
  doc["path"] = opt.source.path;
  doc["format"] = format;
  doc["layout"] = layout;
  doc["splits"] = std::move(splits);
  if (opt.json) {
    std::cout << doc.dump() << "\n";
  } else {
    print_text(doc);
  }
}

}  // namespace

void add_inspect(CLI::App& app) {
  auto opt = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("inspect", "Show a dataset's layout, splits, rows, features and files");
  opt->source.add_to(cmd);
  cmd->add_flag("--json", opt->json, "Print one JSON object");
  cmd->callback([opt] { run(*opt); });
}

}  // namespace mouse::cli
