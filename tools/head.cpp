#include <fmt/format.h>

#include <iostream>
#include <variant>

#include "commands.hpp"
#include "common.hpp"
#include "mouse/arrow_json.hpp"
#include "mouse/dataset.hpp"
#include "mouse/error.hpp"

namespace mouse::cli {

namespace {

struct Options {
  SourceArgs source;
  std::string split;
  int64_t n = 5;
  int64_t offset = 0;
  bool json = false;
};

// Formats row `row` into `line`.
void print_row(const std::vector<ChunkedColumn>& columns, const std::string& split, int64_t row,
               bool json, std::string& line) {
  line.clear();
  if (json) {
    line += '{';
    for (size_t c = 0; c < columns.size(); ++c) {
      if (c) line += ',';
      arrow::append_json_string(line, columns[c].field.name);
      line += ':';
      auto [chunk, index] = columns[c].locate(row);
      arrow::append_json_value(line, *columns[c].chunks[chunk], index);
    }
    line += "}\n";
  } else {
    line += fmt::format("row {} ({})\n", row, split);
    for (const auto& col : columns) {
      auto [chunk, index] = col.locate(row);
      line += fmt::format("  {} = ", col.field.name);
      arrow::append_json_value(line, *col.chunks[chunk], index);
      line += '\n';
    }
  }
}

// Prints rows [begin, end) of `ds` as JSON lines (or an indented text form).
void print_rows(const Dataset& ds, const std::string& split, int64_t begin, int64_t end, bool json) {
  std::vector<ChunkedColumn> columns;
  for (const auto& name : ds.column_names()) columns.push_back(ds.column(name));
  std::string line;
  for (int64_t row = begin; row < end; ++row) {
    try {
      print_row(columns, split, row, json, line);
    } catch (const FormatError& e) {
      if (!e.source().empty()) throw;
      // Value readers know the array, not the file: name the dataset, split and row.
      const std::string where = ds.data_files().empty()
                                    ? std::string("dataset")
                                    : ds.data_files().front().path.parent_path().string();
      throw FormatError(where, -1, fmt::format("split \"{}\", row {}: {}", split, row, e.what()));
    }
    std::cout << line;
  }
}

void run(const Options& opt) {
  if (opt.n < 0) throw InvalidArgument(fmt::format("-n must be >= 0, got {}", opt.n));
  if (opt.offset < 0) throw InvalidArgument(fmt::format("--offset must be >= 0, got {}", opt.offset));
  auto loaded = load_source(opt.source).data;
  std::vector<std::pair<std::string, Dataset>> parts;
  if (auto* ds = std::get_if<Dataset>(&loaded)) {
    if (!opt.split.empty() && ds->split() && *ds->split() != opt.split) {
      throw KeyError(fmt::format("{} is a single dataset of split '{}', not '{}'", opt.source.path,
                                 *ds->split(), opt.split));
    }
    parts.emplace_back(ds->split().value_or("train"), *ds);
  } else {
    const auto& dict = std::get<DatasetDict>(loaded);
    if (!opt.split.empty()) {
      parts.emplace_back(opt.split, dict.at(opt.split));
    } else {
      // Without --split, the rows of every split in the dict's order, as one sequence.
      for (const auto& name : dict.split_names()) parts.emplace_back(name, dict.at(name));
    }
  }
  int64_t skip = opt.offset;
  int64_t left = opt.n;
  for (const auto& [name, ds] : parts) {
    if (left == 0) break;
    if (skip >= ds.num_rows()) {
      skip -= ds.num_rows();
      continue;
    }
    int64_t end = std::min(ds.num_rows(), skip + left);
    print_rows(ds, name, skip, end, opt.json);
    left -= end - skip;
    skip = 0;
  }
}

}  // namespace

void add_head(CLI::App& app) {
  auto opt = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(
      "head",
      "Print the first rows of a dataset. Text by default: a 'row N (split)' line, then one "
      "'  column = value' line per column (values as JSON); --json prints one JSON object per "
      "row instead");
  opt->source.add_to(cmd);
  cmd->add_option("--split", opt->split, "Split of a DatasetDict (default: every split in order)");
  cmd->add_option("-n", opt->n, "Number of rows")->capture_default_str();
  cmd->add_option("--offset", opt->offset, "First row")->capture_default_str();
  cmd->add_flag("--json", opt->json, "JSON lines: column name -> value as stored");
  cmd->callback([opt] { run(*opt); });
}

}  // namespace mouse::cli
