// Pieces shared by the subcommands: loading a path (save_to_disk or Hub layout), loading it into
// a DatasetStore with the same split rules as DatasetStore::from_dataset, the JSON form of a
// TensorDict that `encode` and `sample` print, the augmenter as a batch transform, and a
// progress bar.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "mouse/augment.hpp"
#include "mouse/batch.hpp"
#include "mouse/dataset.hpp"
#include "mouse/dataset_store.hpp"
#include "mouse/memory.hpp"
#include "mouse/tensor_dict.hpp"

namespace mouse::cli {

/// Where a dataset is read from: PATH, a save_to_disk Dataset / DatasetDict directory or a Hub
/// layout (Parquet shards with an optional README.md), and for a Hub layout --config and
/// --cache-dir.
struct SourceArgs {
  std::string path;
  std::string config;
  std::string cache_dir;

  /// Registers the positional `name` (required) and --config / --cache-dir on `cmd`.
  void add_to(CLI::App* cmd, const std::string& name = "path");
};

/// A loaded source and the layout it was found in: "disk" or "hub".
struct LoadedSource {
  std::variant<Dataset, DatasetDict> data;
  std::string layout;
};

/// Loads `args.path`: a save_to_disk layout with load_from_disk, else a Hub layout with
/// load_hub_layout (a progress bar on stderr when it is a terminal). Throws IoError for a
/// missing path, FormatError when it is neither layout, InvalidArgument for --config or
/// --cache-dir given with a save_to_disk layout (they would be ignored).
LoadedSource load_source(const SourceArgs& args);

/// The store arguments of encode / sample / bench: the source, --split (repeatable, globs
/// allowed) and the encoder's width switches.
struct StoreArgs : SourceArgs {
  std::vector<std::string> splits;
  int64_t max_action_dim = 1000;
  int64_t max_obs_continuous_dim = 0;
  int64_t max_obs_discrete_dim = 0;
  int64_t max_obs_image_pixels = 0;
  std::string obs_image_dtype = "int64";
  std::string image_cache;  ///< StoreConfig::image_cache ("" = none)
  bool no_validate = false;  ///< --no-validate: StoreConfig::validate off
  bool populate = false;     ///< --populate: StoreConfig::populate on

  /// Registers PATH, --split, the --max-* options, --image-cache and --no-validate on `cmd`.
  void add_to(CLI::App* cmd);
  /// Values in one encoded row (the widths plus the scalar keys), saturating.
  int64_t row_values() const;
  /// Bytes of one encoded row, saturating.
  int64_t row_bytes() const;
  /// "--max-action-dim 1000 ..." naming the width options that were given, for messages.
  std::string width_options() const;
};

/// Bytes of one row of `store` as get() and batches encode it now: the columns its data have,
/// at the configured widths, saturating.
int64_t encoded_row_bytes(const DatasetStore& store);
/// Values (tensor elements) of one encoded row of `store`, saturating.
int64_t encoded_row_values(const DatasetStore& store);

/// A store with `args.path` loaded (either layout, see load_source). A DatasetDict loads every split in order, or with --split
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

/// The batchifier transform that gives the n-th batch `augmenter->apply_fresh(batch, n)`: the
/// same as the n-th update_augmentations + augment pair, whichever worker builds the batch.
decltype(BatchifierOptions::transform) augment_transform(
    std::shared_ptr<const TokenAugmenter> augmenter);

/// Checks that `out` can be written by `command`: absent, or an empty directory, or (with
/// `overwrite`) a directory holding a dataset (a save_to_disk or Hub layout), never another
/// non-empty directory nor a symbolic link. InvalidArgument naming the command and the path
/// otherwise.
void check_output_dir(const std::string& command, const std::filesystem::path& out,
                      bool overwrite);

/// Refuses (InvalidArgument) an `out` that is `in`, an ancestor of `in` or inside `in`, compared
/// after resolving symbolic links, so that writing `out` cannot replace or alter the input.
void check_not_nested(const std::string& command, const std::filesystem::path& in,
                      const std::filesystem::path& out);

/// A one-line progress bar on stderr ("<label> [####....]  42% (done/total <unit>)"), redrawn
/// when the percentage changes and ended with a newline at 100%. Silent unless stderr is a
/// terminal. Call it on one thread.
class ProgressBar {
 public:
  ProgressBar(std::string label, std::string unit);
  /// Shows `done` of `total`.
  void operator()(int64_t done, int64_t total);

 private:
  std::string label_;
  std::string unit_;
  bool enabled_;
  int last_percent_ = -1;
};

}  // namespace mouse::cli
