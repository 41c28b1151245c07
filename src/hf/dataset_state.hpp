// Internal state shared by Dataset copies, and the helpers the hf/*.cpp files use to build it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hf/features.hpp"
#include "mouse/dataset.hpp"

namespace mouse::detail {

struct DatasetState {
  std::shared_ptr<const arrow::Schema> schema;
  Features features;
  std::vector<arrow::RecordBatch> batches;
  /// Row number of each batch's first row, plus the total at the end.
  std::vector<int64_t> starts{0};
  std::vector<DataFile> data_files;
  std::optional<std::string> split;
  std::string fingerprint;
  /// dataset_info.json as read (its "features" are replaced when saving); null if none.
  nlohmann::ordered_json info;
  /// See Dataset::image_root (resolved, absolute).
  std::optional<std::filesystem::path> image_root;

  int64_t num_rows() const noexcept { return starts.back(); }
};

struct DatasetAccess {
  static Dataset make(std::shared_ptr<const DatasetState> state) { return Dataset(std::move(state)); }
  static const DatasetState& state(const Dataset& ds) noexcept { return *ds.state_; }
};

/// Recomputes `starts` from the batches.
void index_batches(DatasetState& state);

/// Features from the JSON of a `huggingface` schema metadata value ({"info": {"features": ...}});
/// nullptr when it holds no features. FormatError naming `source` if it is malformed.
std::shared_ptr<FeaturesImpl> features_from_hf_metadata(const std::string& text,
                                                        const std::string& source);

/// Bytes of column data of `state` as pyarrow's nbytes counts them (what max_shard_bytes bounds
/// and the README's num_bytes reports).
int64_t dataset_nbytes(const DatasetState& state);

/// InvalidArgument for options out of range.
void check_save_options(const SaveOptions& options);

/// Writes the shards, dataset_info.json and state.json of `state` into the existing, empty
/// directory `dir` (save.cpp). IoError on failure; the caller removes `dir`.
void write_dataset(const DatasetState& state, const std::filesystem::path& dir,
                   const SaveOptions& options);

/// InvalidArgument (prefixed "from_batches: " or `context`) unless `batch` has the columns of
/// `schema` with the same types and lengths, and valid buffers; `index` numbers it in the message.
void check_batch(const arrow::Schema& schema, const arrow::RecordBatch& batch, size_t index,
                 std::string_view context = "from_batches");

/// Whether `name` can name a split's directory: non-empty, not "." or "..", no '/' or NUL.
bool valid_split_name(std::string_view name) noexcept;

/// Writes dataset_dict.json listing `names` into the existing, empty directory `dir`, and calls
/// `write_split(i, dir / names[i])` for each split after creating its directory. IoError on
/// failure; the caller removes `dir`.
void write_dataset_dict(const std::filesystem::path& dir, const std::vector<std::string>& names,
                        const std::function<void(size_t, const std::filesystem::path&)>& write_split);

/// The error message for a column that is not there, listing the available ones.
std::string missing_column_message(std::string_view name, const std::vector<std::string>& names);

}  // namespace mouse::detail
