// Hugging Face `datasets` on-disk layouts (SPEC §2.1, §2.2, §2.4): a `save_to_disk` dataset
// directory (dataset_info.json, state.json, data-NNNNN-of-MMMMM.arrow shards in the Arrow IPC
// stream framing) and a DatasetDict directory (dataset_dict.json + one dataset directory per
// split). Loading memory-maps the shards and copies no column data; saving writes files that
// Python `datasets` loads, through a temporary directory renamed into place.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "mouse/arrow.hpp"

namespace mouse {

namespace detail {
struct FeaturesImpl;
struct DatasetState;
struct DatasetAccess;
}  // namespace detail

/// The `features` of a dataset: for each column, its Hugging Face feature type (Value,
/// ClassLabel, Sequence / List / LargeList, Image, dicts, [F] lists) and the Arrow type that
/// stores it. Feature types this library does not know (e.g. LeRobot's "VideoFrame") are kept
/// as *unsupported* features: they load, keep their JSON and take their Arrow type from the
/// data; `require_supported` is the error for code that needs to interpret them.
///
/// Immutable and cheap to copy (shared state); const methods are thread-safe.
class Features {
 public:
  /// No columns.
  Features();

  /// Parses a `features` JSON object (dataset_info.json["features"]). Throws FormatError
  /// (naming `source` and the column) on malformed JSON or an unsupported Value dtype.
  static Features from_json(std::string_view json, std::string_view source = "features");
  /// The features `datasets` infers for an Arrow schema (Value for primitives, Sequence for
  /// lists, dicts for structs ...).
  static Features from_schema(const arrow::Schema& schema);

  /// The features JSON object, compact, as Python's json.dumps writes it. Features read from
  /// JSON are written back exactly (key order and unknown fields kept).
  std::string to_json() const;
  /// Column names in order.
  std::vector<std::string> names() const;
  /// Number of columns.
  size_t size() const noexcept;
  bool contains(std::string_view name) const noexcept;
  /// Readable feature type of a column: "Value(int64)", "Sequence(Value(float32), length=4)",
  /// "List(Value(int64))", "LargeList(...)", "[{...}]", "ClassLabel(num_classes=2)",
  /// "Image()", "{a: Value(int64)}", "VideoFrame(unsupported)". KeyError if absent.
  std::string type_of(std::string_view name) const;
  /// Arrow storage type of a column. KeyError if absent; InvalidArgument if the column holds an
  /// unsupported feature whose type is not known because these features were not read together
  /// with data.
  arrow::TypePtr arrow_type(std::string_view name) const;
  /// Whether the column's feature (and everything nested in it) is a known feature type.
  bool is_supported(std::string_view name) const;
  /// Throws InvalidArgument naming the column and the unsupported feature type if
  /// `is_supported(name)` is false (KeyError if absent).
  void require_supported(std::string_view name) const;
  /// The class names of a ClassLabel column; InvalidArgument for other features.
  std::vector<std::string> class_names(std::string_view name) const;

  /// Same columns in the same order with the same feature types (JSON spelling ignored; a
  /// Sequence equals the datasets >= 4 List it becomes).
  bool operator==(const Features& other) const noexcept;

  /// Internal tree (src/hf/features.hpp), for other layers of the library.
  const detail::FeaturesImpl& impl() const noexcept { return *impl_; }
  explicit Features(std::shared_ptr<const detail::FeaturesImpl> impl);

 private:
  std::shared_ptr<const detail::FeaturesImpl> impl_;
};

/// Where a chunked row lives: element `index` of `chunks[chunk]`.
struct ChunkLocation {
  size_t chunk = 0;
  int64_t index = 0;
};

/// One column of a dataset as zero-copy Arrow chunks (one per record batch). The chunks share
/// ownership of their buffers (e.g. the memory map), so a ChunkedColumn may outlive its Dataset.
struct ChunkedColumn {
  arrow::Field field;
  std::vector<arrow::ArrayPtr> chunks;
  /// Row number of the first row of each chunk, plus the total row count at the end
  /// (chunk_starts.size() == chunks.size() + 1).
  std::vector<int64_t> chunk_starts;

  /// Total rows.
  int64_t length() const noexcept { return chunk_starts.empty() ? 0 : chunk_starts.back(); }
  /// The chunk and index within it of `row` (binary search). IndexError if out of range.
  ChunkLocation locate(int64_t row) const;
};

/// A shard file a dataset was loaded from.
struct DataFile {
  std::filesystem::path path;
  int64_t size_bytes = 0;
};

/// Options of save_to_disk (defaults as Python `datasets`).
struct SaveOptions {
  /// Shards are sized so that each holds at most about this many bytes of column data
  /// (datasets' max_shard_size, "500MB" = 500'000'000). Must be > 0.
  int64_t max_shard_bytes = 500'000'000;
  /// Rows per record batch at most (datasets' DEFAULT_MAX_BATCH_SIZE). Must be > 0.
  int64_t max_batch_rows = 1000;
  /// Exact number of shards instead of max_shard_bytes (datasets' num_shards). Must be >= 1.
  std::optional<int64_t> num_shards;
};

/// A table of rows with HF features: the shards of a `save_to_disk` directory (memory-mapped)
/// or record batches built in memory. Copies are cheap and share the immutable state; const
/// methods are thread-safe. Every derived dataset (slice, select, concatenate) keeps the
/// buffers it views alive.
class Dataset {
 public:
  /// An empty dataset: no columns, no rows.
  Dataset();

  /// Loads a `save_to_disk` directory: reads dataset_info.json and state.json, memory-maps
  /// every `_data_files` shard (IPC stream), checks that all shards have the same schema and
  /// that the features match it. Copies no column data. Throws IoError (missing directory or
  /// file, naming it) or FormatError (invalid JSON, corrupt shard, features that disagree with
  /// the shards; naming the file and the column).
  static Dataset load_from_disk(const std::filesystem::path& path);

  /// A dataset over in-memory record batches (not copied). Every batch must have the columns
  /// of `schema` with the same types (InvalidArgument otherwise). Features: `features` if given
  /// (InvalidArgument if they do not match the schema), else the schema's `huggingface`
  /// metadata (FormatError if it is corrupt or does not match), else inferred from the types.
  static Dataset from_batches(std::shared_ptr<const arrow::Schema> schema,
                              std::vector<arrow::RecordBatch> batches,
                              std::optional<Features> features = {});

  int64_t num_rows() const noexcept;
  int64_t num_columns() const noexcept;
  std::vector<std::string> column_names() const;
  const Features& features() const noexcept;
  /// The Arrow schema (of the shards when loaded from disk, with their metadata).
  const std::shared_ptr<const arrow::Schema>& schema() const noexcept;
  /// The record batches holding the rows, in order (zero-copy views).
  const std::vector<arrow::RecordBatch>& batches() const noexcept;
  /// The shard files the rows are mapped from (after load_from_disk; kept by slice and
  /// concatenate; empty for datasets built or materialized in memory).
  const std::vector<DataFile>& data_files() const noexcept;
  /// The `_split` of state.json, if any.
  const std::optional<std::string>& split() const noexcept;
  /// The `_fingerprint` of state.json when loaded from disk; "" for datasets built or derived
  /// in memory. (save_to_disk writes a hash of the saved content.)
  const std::string& fingerprint() const noexcept;
  /// The directory Image `path` values are read under, when they must stay inside one: the
  /// root of a Hub layout (load_dataset / load_hub_layout), which a downloaded dataset's paths
  /// may not leave (absolute paths and `..` escapes are refused, relative ones resolve against
  /// the root). nullopt for save_to_disk and in-memory datasets, whose paths are read as given,
  /// as `datasets` reads them. Kept by slice, select and concatenate.
  const std::optional<std::filesystem::path>& image_root() const noexcept;

  /// One column, zero-copy. KeyError naming the column and listing the available ones.
  ChunkedColumn column(std::string_view name) const;

  /// Rows [start, start + length), zero-copy. IndexError on a range outside [0, num_rows()].
  Dataset slice(int64_t start, int64_t length) const;
  /// The rows at `indices` (in that order, repeats allowed) copied into a new in-memory
  /// dataset, as Python `datasets.Dataset.select`. Indices must be in [0, num_rows())
  /// (IndexError naming the index and the row count).
  Dataset select(std::span<const int64_t> indices) const;
  /// The rows of all `datasets` in order, zero-copy, in the columns of the first. They must
  /// have the same columns (the same set, in any order: matched by name, as
  /// `datasets.concatenate_datasets` does) with the same features (InvalidArgument naming the
  /// first differing column); at least one dataset is required.
  static Dataset concatenate(std::span<const Dataset> datasets);

  /// Writes a `save_to_disk` directory at `path` that Python `datasets.load_from_disk` reads:
  /// data-NNNNN-of-MMMMM.arrow shards (IPC stream, `huggingface` schema metadata, batches of at
  /// most options.max_batch_rows rows), dataset_info.json and state.json. Everything is written
  /// to a temporary directory next to `path` and renamed into place; an existing directory at
  /// `path` is replaced only once the new one is complete (this works when `path` is the
  /// directory this dataset is mapped from). On failure nothing is left behind. Throws IoError,
  /// InvalidArgument (bad options).
  void save_to_disk(const std::filesystem::path& path, const SaveOptions& options = {}) const;

 private:
  friend struct detail::DatasetAccess;
  explicit Dataset(std::shared_ptr<const detail::DatasetState> state);
  std::shared_ptr<const detail::DatasetState> state_;
};

/// Named splits (in order), each a Dataset. Not thread-safe for mutation; const methods are.
class DatasetDict {
 public:
  DatasetDict() = default;

  /// Loads a DatasetDict directory: dataset_dict.json ({"splits": [...]}) and one
  /// `save_to_disk` directory per split, named after it. Errors as Dataset::load_from_disk;
  /// FormatError if dataset_dict.json is malformed.
  static DatasetDict load_from_disk(const std::filesystem::path& path);

  /// Split names in order.
  std::vector<std::string> split_names() const;
  size_t size() const noexcept { return splits_.size(); }
  bool contains(std::string_view name) const noexcept;
  /// The split `name`; KeyError naming it and listing the available splits.
  const Dataset& at(std::string_view name) const;
  /// Adds a split at the end, or replaces the split of that name in place. InvalidArgument if
  /// the name is empty, ".", ".." or contains '/'.
  void insert(std::string name, Dataset dataset);
  /// Writes dataset_dict.json and one save_to_disk directory per split, atomically (as
  /// Dataset::save_to_disk).
  void save_to_disk(const std::filesystem::path& path, const SaveOptions& options = {}) const;

 private:
  std::vector<std::pair<std::string, Dataset>> splits_;
};

/// Rows to be saved by save_stream_to_disk without holding them all in memory: their schema
/// and features, their count, and a function that produces their record batches on demand.
struct BatchStream {
  /// Receives one record batch; it is written out (or measured) before emit returns, and not
  /// kept, so the caller may free or reuse its buffers afterwards.
  using Emit = std::function<void(const arrow::RecordBatch&)>;

  /// Schema, features (and split name) of the rows: typically a dataset without rows,
  /// Dataset::from_batches(schema, {}, features). Its own rows, if any, are not written.
  Dataset layout;
  /// Rows `produce` emits in total (>= 0).
  int64_t num_rows = 0;
  /// Emits every record batch of the rows, in row order, through `emit`, on the calling thread.
  /// Called once, or a second time when the shard count depends on the byte size of the rows
  /// and they turn out to need more than one shard (see save_stream_to_disk); both calls must
  /// emit the same batches. Exceptions propagate out of save_stream_to_disk.
  std::function<void(const Emit& emit)> produce;
};

/// Writes the rows of `stream` at `path` byte for byte as Dataset::save_to_disk writes the
/// dataset made of the same record batches (same shards, record batches, dataset_info.json and
/// state.json, fingerprint included), holding one batch at a time, so memory stays flat however
/// many rows there are. The shard count int(nbytes / max_shard_bytes) + 1 depends on the byte
/// size of all rows: the rows are written straight into a single shard while their size stays
/// under max_shard_bytes (the common case: one pass); once it exceeds that, the single shard is
/// deleted, the rest are measured only, and `produce` runs again to write the final shards.
/// With options.num_shards there is one pass. Atomic as Dataset::save_to_disk: a temporary
/// directory next to `path`, renamed into place only when complete and removed on failure.
/// Throws InvalidArgument (bad options, no `produce`, num_rows < 0, a batch whose columns do
/// not match the layout's schema, batches holding other than num_rows rows or differing
/// between the two calls), IoError, or what `produce` throws.
void save_stream_to_disk(const BatchStream& stream, const std::filesystem::path& path,
                         const SaveOptions& options = {});

/// As DatasetDict::save_to_disk for splits given as streams (name, rows), in order: each split
/// is written as save_stream_to_disk writes it, all in one atomic directory. InvalidArgument
/// for no splits, a bad or repeated split name, or as save_stream_to_disk.
void save_streams_to_disk(const std::vector<std::pair<std::string, BatchStream>>& splits,
                          const std::filesystem::path& path, const SaveOptions& options = {});

/// Loads `path` as a DatasetDict if it holds dataset_dict.json, else as a Dataset if it holds
/// state.json or dataset_info.json. IoError if `path` does not exist; FormatError naming the
/// path and the expected files if it is neither layout.
std::variant<Dataset, DatasetDict> load_from_disk(const std::filesystem::path& path);

/// Whether `dir` holds a save_to_disk layout (dataset_dict.json, state.json or
/// dataset_info.json), i.e. what load_from_disk reads. Never throws (false when missing).
bool is_disk_layout(const std::filesystem::path& dir);

/// Removes the temporary directories of the saves this process has in progress (save_to_disk,
/// save_to_hub_layout, Hub cache fills), for a thread that handles SIGINT / SIGTERM just before
/// the process ends; the saves themselves then fail. Thread-safe; never throws. Temporary
/// directories of processes that died without this are removed by the next save to the same
/// target.
void remove_unfinished_saves() noexcept;

}  // namespace mouse
