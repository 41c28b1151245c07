// Pieces shared by the subcommands: loading a path into a DatasetStore with the same split rules
// as DatasetStore::from_dataset, and the JSON form of a TensorDict that `encode` and `sample`
// print.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mouse/dataset_store.hpp"
#include "mouse/tensor_dict.hpp"

namespace mouse::cli {

/// The store arguments of encode / sample / bench: PATH, --split (repeatable, globs allowed) and
/// the encoder's width switches.
struct StoreArgs {
  std::string path;
  std::vector<std::string> splits;
  int64_t max_action_dim = 1000;
  int64_t max_obs_continuous_dim = 0;
  int64_t max_obs_discrete_dim = 0;
  int64_t max_obs_image_pixels = 0;

  /// Registers PATH, --split and the --max-* options on `cmd`.
  void add_to(CLI::App* cmd);
};

/// A store with `args.path` loaded. A DatasetDict loads every split in order, or with --split
/// the splits matching those names or globs (as from_dataset's split_pattern, so an unmatched
/// name is an error listing the splits). A single dataset ignores a --split that names its own
/// split and rejects any other.
std::unique_ptr<DatasetStore> open_store(const StoreArgs& args);

/// Appends `"batch_size": [...], "tensors": {"<key>": {"dtype": ..., "shape": [...], "values":
/// [...]}, ...}` (object members without the braces): values flat in row-major order, NaN and
/// infinities as "nan", "inf", "-inf".
void append_tensor_dict_members(std::string& out, const TensorDict& td);

/// The members above as one JSON object on a line.
std::string tensor_dict_json(const TensorDict& td);

/// Readable form: the batch size, then one line per tensor with its dtype, shape and values.
std::string tensor_dict_text(const TensorDict& td);

}  // namespace mouse::cli
