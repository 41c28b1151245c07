// The Hugging Face Hub layout (SPEC §2.3): Parquet shards `data/<split>-NNNNN-of-MMMMM.parquet`
// (or `<config>/<split>-…`) with an optional README.md whose YAML front matter lists the
// configs, their data files and the dataset info. Loading decodes every shard once into a
// memory-mapped Arrow cache (a `save_to_disk` directory per shard, next to a fingerprint of the
// source) that later loads reuse; saving writes shards and a README the Hub accepts as is.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "mouse/dataset.hpp"
#include "mouse/parquet.hpp"

namespace mouse {

/// Options of load_hub_layout.
struct HubLoadOptions {
  /// The README config to load. Unset: the config named "default", else the one marked
  /// `default: true`, else the first. Without README configs it names a `<config>/`
  /// subdirectory (unset: `data/`, else the first subdirectory in name order).
  std::optional<std::string> config_name;
  /// Where the Arrow caches are kept. Unset: default_hub_cache_dir().
  std::optional<std::filesystem::path> cache_dir;
  /// After loading, remove the cache entries in the cache directory whose source Parquet file
  /// no longer exists (a re-saved dataset with other shard names, a deleted snapshot), and
  /// entries left without a fingerprint by a load that was interrupted more than a day ago.
  bool remove_stale_cache = true;
  /// Called after each shard is loaded (decoded or taken from the cache) with the number of
  /// shards done and the total, on the calling thread.
  std::function<void(int64_t done, int64_t total)> progress;
};

/// What one load_hub_layout call did.
struct HubLoadStats {
  /// Parquet shards found.
  int64_t shards = 0;
  /// Shards decoded from Parquet (their cache was missing or stale) and written to the cache.
  int64_t shards_decoded = 0;
  /// Shards memory-mapped from a cache whose fingerprint matched, without decoding.
  int64_t shards_cached = 0;
  /// Stale cache entries removed (see HubLoadOptions::remove_stale_cache).
  int64_t stale_entries_removed = 0;
};

/// The cache directory load_hub_layout uses by default: `$MOUSE_DATA_CACHE/hub`, else
/// `$XDG_CACHE_HOME/mouse-data/hub`, else `$HOME/.cache/mouse-data/hub` (empty variables count
/// as unset). Throws InvalidArgument when none of them is set. Entries are keyed by the
/// absolute path of their source, so one cache serves every dataset.
std::filesystem::path default_hub_cache_dir();

/// Loads a Hub-layout directory (a local copy or a Hub cache snapshot
/// `datasets--<org>--<name>/snapshots/<revision>`) as a DatasetDict.
///
/// Files: with a README.md whose front matter has `configs:`, the chosen config's
/// `data_files` (a pattern, a list of patterns -> split "train", or a list of
/// `{split, path}` with `path` a pattern or a list of them; patterns are globs relative to
/// `dir` with `*`, `?`, `[...]` and `**`; hidden entries are skipped). Otherwise every
/// `*.parquet` under `data/` (or under the `<config>/` directory), the split being the file
/// name before `-NNNNN-of-MMMMM.parquet`, else before the first '-', else the whole stem.
/// Split order: the README's; without one train, validation, test, then the others by name.
/// Each split is its shards in file-name order, concatenated (zero-copy).
///
/// Caching: each shard is decoded once into `<cache_dir>/<name>-<hash of its absolute path>/`
/// (an Arrow `save_to_disk` directory plus fingerprint.json holding the absolute path, size
/// and mtime in nanoseconds). A later load whose fingerprint matches memory-maps the cache
/// without reading the Parquet file; a changed shard re-decodes only its own cache. The input
/// directory is never written to, so read-only copies and Hub cache snapshots load as they
/// are. Features come from the shard's `huggingface` metadata, else from the README's
/// `dataset_info` features of the config (as `push_to_hub` writes them; FormatError naming the
/// README when they do not fit the shard), else they are inferred from its types. Editing the
/// README's features rebuilds the cache entries.
///
/// Throws IoError (missing directory, unwritable cache), FormatError naming the file (malformed
/// README front matter or `configs`, corrupt Parquet, a pattern matching no Parquet file, no
/// Parquet file at all), KeyError (unknown config, naming the available ones), InvalidArgument
/// (shards of one split with different features). Threads and processes may load through the
/// same cache at once: they serialise per shard on a lock file in its entry, so each shard is
/// decoded once.
DatasetDict load_hub_layout(const std::filesystem::path& dir, const HubLoadOptions& options = {},
                            HubLoadStats* stats = nullptr);

/// Loads a local dataset directory whatever its layout, as `datasets.load_dataset` does for a
/// path: a Hub layout through load_hub_layout(dir, options, stats); a save_to_disk DatasetDict
/// as it is; a save_to_disk Dataset as a one-split dict named after its split ("train" when it
/// has none). `store.from_dataset(load_dataset(dir))` loads every split,
/// `load_dataset(dir).at("train")` one. Throws IoError for a missing path, FormatError naming
/// it when it is neither layout, and what the chosen loader throws.
DatasetDict load_dataset(const std::filesystem::path& dir, const HubLoadOptions& options = {},
                         HubLoadStats* stats = nullptr);

/// Options of save_to_hub_layout.
struct HubSaveOptions {
  /// Each split is cut into int(nbytes / max_shard_bytes) + 1 shards of near-equal row counts
  /// (nbytes counted as pyarrow does, in memory); datasets' default "500MB". Must be > 0.
  int64_t max_shard_bytes = 500'000'000;
  /// The config name written to the README.
  std::string config_name = "default";
  /// How the shards are encoded.
  parquet::WriteOptions parquet;
};

/// Writes `dict` in the Hub layout at `dir`: `data/<split>-NNNNN-of-MMMMM.parquet` shards (with
/// the `huggingface` features and `ARROW:schema` metadata) and a README.md whose YAML front
/// matter holds `dataset_info` (features in the Hub's YAML form: `dtype`, `list`/`sequence`/
/// `large_list` with optional `length`, `struct`, `class_label`, `image`; splits with
/// num_bytes and num_examples; download_size; dataset_size) and `configs` with one config whose
/// `data_files` map each split to `data/<split>-*`. Everything is written to a temporary
/// directory renamed into place; an existing `dir` is replaced as a whole only once the new one
/// is complete. Throws InvalidArgument (no splits, max_shard_bytes <= 0, unwritable column
/// types), IoError.
void save_to_hub_layout(const DatasetDict& dict, const std::filesystem::path& dir,
                        const HubSaveOptions& options = {});

/// Writes splits given as streams (name, rows), in order, as save_to_hub_layout writes the
/// DatasetDict of the same record batches (the same shards, byte for byte, and README), holding
/// one Parquet row group at a time, so memory stays flat however many rows there are. The
/// shard count int(nbytes / max_shard_bytes) + 1 depends on the byte size of all of a split's
/// rows: they are written into a single shard while it will do (one pass); once they exceed
/// max_shard_bytes, that shard is deleted, the rest are measured and `produce` runs again to
/// write the final shards. Atomic as save_to_hub_layout. Throws InvalidArgument (no splits, a
/// split given twice or unusable in a data/<split>-* pattern, splits with other features, as
/// save_stream_to_disk for the streams), IoError, or what `produce` throws.
void save_streams_to_hub_layout(const std::vector<std::pair<std::string, BatchStream>>& splits,
                                const std::filesystem::path& dir,
                                const HubSaveOptions& options = {});

/// Writes several configs in one Hub layout at `dir`, as the Hub lays out a dataset pushed with
/// several `config_name`s: config c's splits as `<c>/<split>-NNNNN-of-MMMMM.parquet` shards, and
/// one README.md whose `dataset_info` is a list with an entry per config (`config_name`,
/// features, splits, sizes) and whose `configs` give each config its `data_files`
/// (`<c>/<split>-*`). load_hub_layout(dir, {.config_name = c}) and
/// `datasets.load_dataset(dir, name=c)` read config c back. Written to a temporary directory
/// renamed into place, as the single-config form. Throws InvalidArgument (no configs, a config
/// name given twice or unusable as a directory name, a config without splits, splits of one
/// config with different features, max_shard_bytes <= 0), IoError.
void save_to_hub_layout(const std::vector<std::pair<std::string, DatasetDict>>& configs,
                        const std::filesystem::path& dir, const HubSaveOptions& options = {});

/// The configs of the Hub layout at `dir`, in order: the README's `configs` when it has them,
/// else "default" when `data/` holds Parquet shards (or only the top level does), then every
/// first-level subdirectory holding Parquet shards, by name. Throws IoError (not a directory),
/// FormatError naming the README (malformed front matter or configs).
std::vector<std::string> hub_config_names(const std::filesystem::path& dir);

/// Whether `dir` looks like a Hub layout: a README.md with front matter, or Parquet files in
/// `data/` or in a first-level subdirectory. Never throws for a missing directory (false).
bool is_hub_layout(const std::filesystem::path& dir);

}  // namespace mouse
