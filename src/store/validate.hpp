// The value side of the column contract (SPEC §3-4) for source data: every value of the contract
// columns is checked once when a dataset is loaded, so that a bad value is an error at
// from_dataset, not hours into training when its row is first sampled.
//
// Checks, on the columns the store encodes (a key switched off by the config is not checked):
//   action, reward, done     no nulls
//   done                     0 (running), 1 (terminal) or 2 (truncated)
//   action                   >= 0; < max_action_dim when q_star is encoded (metadata_q_star)
//   reward                   finite (no NaN, no ±inf)
//   action, done, episode_step, observation_discrete (and its list items) stored as float:
//                            whole numbers within int64 (nulls of optional columns skipped)
// The pass is one typed loop per column chunk (a range reduction over the values, the row of a
// failing chunk located only then), so it runs at memory bandwidth.
//
// Files: a chunk whose buffers all lie in one memory-mapped file is remembered. When every chunk
// of a file passed, a marker <cache root>/validated/<16 hex>.ok is written (atomically) keyed by
// the file's stamp (path, size, mtime), the checks (columns, types, bounds, max_action_dim) and
// where in the file the chunks lie; opening the same files again reads no values. In-memory
// chunks are checked every time. Pages of a file that the pass faulted in, and that this process
// did not have mapped before, are given back afterwards (resident memory does not grow).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>

#include "mouse/arrow.hpp"
#include "mouse/dataset.hpp"
#include "mouse/dataset_store.hpp"
#include "store/contract.hpp"

namespace mouse::detail {

/// A value outside the contract: where it is and what is wrong with it.
struct SourceValueProblem {
  std::string column;   ///< dataset column
  int64_t row = 0;      ///< row within the batches checked (plus their first_row)
  std::string file;     ///< the file holding the value, when it is memory-mapped from one
  std::string message;  ///< "has the value 3 at row 12; done must be ..." (no dataset, no file)
};

/// What a check did, for tests and benchmarks.
struct ValidateStats {
  int64_t chunks_checked = 0;   ///< column chunks whose values were read
  int64_t bytes_checked = 0;    ///< bytes of values (and validity) read
  int64_t files_skipped = 0;    ///< files whose marker matched: nothing read
  int64_t markers_written = 0;  ///< files that passed and are remembered now
  uint64_t bytes_released = 0;  ///< faulted-in file pages given back
};

/// How validate_batches works.
struct ValidateOptions {
  /// Where markers live (from_dataset: validated_cache_root()); nullopt: none are read or
  /// written, every chunk is checked.
  std::optional<std::filesystem::path> marker_root;
  /// Give back file pages the pass faulted in (see PageReleaser).
  bool release_pages = true;
};

/// The directory of the markers: default_cache_root("validated") ($MOUSE_DATA_CACHE/validated,
/// else $XDG_CACHE_HOME/mouse-data/validated, else ~/.cache/mouse-data/validated), or nullopt.
std::optional<std::filesystem::path> validated_cache_root();

/// Checks the contract columns of `batches` (of a schema planned as `plan` under `config`):
/// the first value outside the contract in row order (rows numbered from `first_row`), or
/// nullopt. Does not throw for bad values; IoError-free (a marker that cannot be written is
/// skipped). A remote shard arriving as record batches is checked with this before use.
std::optional<SourceValueProblem> validate_batches(std::span<const arrow::RecordBatch> batches,
                                             const SchemaPlan& plan, const StoreConfig& config,
                                             int64_t first_row = 0,
                                             const ValidateOptions& options = {},
                                             ValidateStats* stats = nullptr);

/// validate_batches over the batches of `ds`, throwing the problem as InvalidArgument naming
/// `label` (the dataset: split and directory), the file, the column and the row.
ValidateStats validate_dataset(const Dataset& ds, const SchemaPlan& plan, const StoreConfig& config,
                               const std::string& label, const ValidateOptions& options = {});

/// Chunks checked by every call in this process so far (a test hook).
int64_t validated_chunks_total() noexcept;

}  // namespace mouse::detail
