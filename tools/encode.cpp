// `mouse-data encode`: loads a dataset into a DatasetStore and prints the rows at --indices
// encoded by the SPEC §3 column contract. The --json form is what scripts and cross-checks read:
// {"batch_size": [N], "tensors": {"<key>": {"dtype": "...", "shape": [...], "values": [...]}}}
// with values flat in row-major order and NaN / infinities as "nan" / "inf" / "-inf".
#include <fmt/format.h>

#include <charconv>
#include <iostream>

#include "commands.hpp"
#include "common.hpp"
#include "mouse/dataset.hpp"
#include "mouse/dataset_store.hpp"
#include "mouse/error.hpp"

namespace mouse::cli {

namespace {

struct Options {
  StoreArgs store;
  std::string indices;
  bool json = false;
};

std::vector<int64_t> parse_indices(const std::string& text) {
  std::vector<int64_t> out;
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t comma = std::min(text.find(',', pos), text.size());
    std::string_view token(text.data() + pos, comma - pos);
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
    int64_t value = 0;
    auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), value);
    if (token.empty() || ec != std::errc() || end != token.data() + token.size()) {
      throw InvalidArgument(fmt::format(
          "--indices: expected comma-separated integers like 0,5,-1, found \"{}\" in \"{}\"",
          token, text));
    }
    out.push_back(value);
    pos = comma + 1;
  }
  return out;
}

void run(const Options& opt) {
  const std::vector<int64_t> indices = parse_indices(opt.indices);
  // The rows, and their text (up to ~24 characters a value), are built whole before printing.
  const auto n = static_cast<int64_t>(indices.size());
  const auto store = open_store(opt.store);
  check_fits_in_memory(saturating_product({n, encoded_row_values(*store), 24}),
                       fmt::format("encode of {} rows with {}", n, opt.store.width_options()));
  const TensorDict td = store->get(indices);
  std::cout << (opt.json ? tensor_dict_json(td) : tensor_dict_text(td));
}

}  // namespace

void add_encode(CLI::App& app) {
  auto opt = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(
      "encode", "Encode rows by the DatasetStore column contract (action, reward, done, ...)");
  opt->store.add_to(cmd);
  cmd->add_option("--indices", opt->indices, "Comma-separated row indices; negative from the end")
      ->required();
  cmd->add_flag("--json", opt->json, "One JSON object: batch_size and tensors (dtype, shape, values)");
  cmd->callback([opt] { run(*opt); });
}

}  // namespace mouse::cli
