// DatasetStore (SPEC §3-4): the step store a trainer samples windows from. Two segments: the
// *source* (loaded datasets, by reference, zero-copy) and the *buffer* (steps appended at run time,
// columnar, in memory). Indexing encodes rows into a TensorDict by the column contract of SPEC §3.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "mouse/dataset.hpp"
#include "mouse/hub.hpp"
#include "mouse/remote.hpp"
#include "mouse/tensor.hpp"
#include "mouse/tensor_dict.hpp"

namespace mouse {

/// Decoded image pixels for DatasetStore::append: height × width × channels, row-major,
/// channels 1 (grey), 2 (grey + alpha), 3 (RGB) or 4 (RGBA). Give either `pixels` (uint8) or
/// `float_pixels` (intensities in [0, 1]), H*W*C values, the other empty.
struct ImagePixels {
  int64_t height = 0;
  int64_t width = 0;
  int64_t channels = 0;
  /// uint8 pixels, stored as given.
  std::vector<uint8_t> pixels;
  /// Float pixels in [0, 1], stored as uint8 v * 255 clamped to [0, 255] and truncated (as
  /// mouse-core's to_dataset does: numpy clip, then astype(uint8)), NaN as 0.
  std::vector<double> float_pixels;
};

/// Encoded image bytes (PNG or JPEG) for DatasetStore::append.
struct EncodedImage {
  std::string bytes;
};

/// One value of an appended step: null, bool, int, float, string, list (of values, nested lists
/// allowed), image pixels or encoded image bytes.
struct StepValue {
  using List = std::vector<StepValue>;
  std::variant<std::monostate, bool, int64_t, double, std::string, List, ImagePixels, EncodedImage>
      value;

  StepValue() = default;
  StepValue(std::nullptr_t) {}                                   // NOLINT: null
  StepValue(bool v) : value(v) {}                                // NOLINT
  StepValue(int v) : value(static_cast<int64_t>(v)) {}           // NOLINT
  StepValue(int64_t v) : value(v) {}                             // NOLINT
  StepValue(double v) : value(v) {}                              // NOLINT
  StepValue(float v) : value(static_cast<double>(v)) {}          // NOLINT
  StepValue(std::string v) : value(std::move(v)) {}              // NOLINT
  StepValue(const char* v) : value(std::string(v)) {}            // NOLINT
  StepValue(List v) : value(std::move(v)) {}                     // NOLINT
  StepValue(ImagePixels v) : value(std::move(v)) {}              // NOLINT
  StepValue(EncodedImage v) : value(std::move(v)) {}             // NOLINT
  /// A list of numbers, e.g. an observation vector.
  static StepValue list(std::span<const double> values);
  static StepValue list(std::span<const int64_t> values);
};

/// Columns of a bulk append: one Arrow array per column, all of the same length.
using ColumnBlock = std::vector<std::pair<std::string, arrow::ArrayPtr>>;

/// One appended step: column name → value. Columns absent from a row are null for that row.
using StepRow = std::map<std::string, StepValue, std::less<>>;

/// Encoder settings (SPEC §4 constructor arguments).
struct StoreConfig {
  /// q_star width; must be > 0.
  int64_t max_action_dim = 1000;
  /// obs_continuous width; 0 = no obs_continuous key. Must be >= 0.
  int64_t max_obs_continuous_dim = 0;
  /// obs_discrete width for list columns; 0 = no obs_discrete key. Must be >= 0.
  int64_t max_obs_discrete_dim = 0;
  /// obs_image width (H*W*C values); 0 = no obs_image key. Must be >= 0. Images are decoded
  /// (PNG via libpng, JPEG via libjpeg-turbo) to 8-bit H x W x C as stored: grey stays 1 channel,
  /// palette PNGs expand to RGB(A), 16-bit samples keep their high byte, no gamma correction.
  int64_t max_obs_image_pixels = 0;
  /// dtype of obs_image: kInt64 (default, as the original) or kUInt8 (8x less memory).
  DType obs_image_dtype = DType::kInt64;
  /// Decoded-frame cache for the Image columns of source datasets: "" (default) decodes frames
  /// on every read; "auto" keeps them in $MOUSE_DATA_CACHE/frames (else
  /// $XDG_CACHE_HOME/mouse-data/frames, else ~/.cache/mouse-data/frames); any other value is
  /// the cache directory. from_dataset then decodes every frame once into a memory-mapped file of
  /// rows x max_obs_image_pixels bytes (announcing its size, refusing when the disk lacks the
  /// space, showing progress), shared by processes and later runs, rebuilt when a source file
  /// changes; image windows are then plain copies. Buffer rows are always decoded on read.
  /// "default" is "auto" when it can be had: when there is no cache directory, it cannot be
  /// written, or the frames would take more than a quarter of its free space, one line on
  /// stderr says so and the frames are decoded on every read (what the Python DatasetStore does
  /// unless told otherwise).
  std::string image_cache;
  /// Checks every value of a source's contract columns at from_dataset (SPEC §3-4): action,
  /// reward and done not null; done 0, 1 or 2; action >= 0, and < max_action_dim when q_star is
  /// encoded; reward finite; whole numbers in float-stored integer columns (action, done,
  /// episode_step, observation_discrete). The first bad value is an InvalidArgument naming the
  /// dataset, its file, the column and the row. One pass at memory bandwidth; a memory-mapped
  /// file that passed is remembered in $MOUSE_DATA_CACHE/validated (else
  /// $XDG_CACHE_HOME/mouse-data/validated, else ~/.cache/mouse-data/validated) by its path, size
  /// and mtime, so opening it again reads nothing; in-memory sources are checked on every
  /// from_dataset. The file pages the pass faults in are given back. false skips the check (a
  /// bad value is then an error only when its row is encoded, if at all: done 3 or a NaN reward
  /// is encoded as it is).
  bool validate = true;
  /// Maps every page of a source's encoded columns (and of its decoded-frame cache) into the
  /// process at from_dataset (madvise MADV_POPULATE_READ, or a read per page before Linux 5.14),
  /// after the value checks, so that sampling takes no page faults: the per-batch cost then stays
  /// flat as the data grows, as long as it fits in memory. Only when the source's bytes fit in
  /// 90% of the memory available (available_memory_bytes()); otherwise one line on stderr says
  /// so and its pages are faulted in on use (as with false, the default). Resident memory then
  /// holds the source's bytes (page cache shared with other processes mapping the same files).
  /// Remote sources (from_remote) are not populated.
  bool populate = false;
};

/// Options of DatasetStore::from_remote (SPEC §8).
struct RemoteStoreOptions {
  /// The Hub config to load (as load_hub_layout picks it when unset).
  std::optional<std::string> config;
  /// Splits to load, by exact name, in the order given; or `split_pattern` fnmatch globs;
  /// neither: every split (as from_dataset(DatasetDict) selects them).
  std::optional<std::vector<std::string>> splits;
  std::optional<std::vector<std::string>> split_pattern;
  /// Where shards are kept. Unset: $MOUSE_DATA_CACHE/remote (else $XDG_CACHE_HOME/mouse-data/remote,
  /// else ~/.cache/mouse-data/remote). Stores and processes may share one.
  std::optional<std::filesystem::path> cache_dir;
  /// Bytes this store may keep in cache_dir for its shards (downloaded and decoded, counted at
  /// their peak while a shard is being decoded). Unset: 80% of the free space there at open.
  /// Must hold the largest shard (else InvalidArgument at open naming both sizes).
  std::optional<int64_t> cache_limit;
  /// Shards fetched ahead of the batches that need them; >= 0.
  int64_t prefetch_shards = 2;
  /// Shards a "random" batch draws from at once (the schedule's window); >= 1.
  int64_t active_shards = 2;
  /// Endpoint and retry policy of the requests.
  remote::RemoteOptions remote;
  /// A line on stderr at open and for each shard a batch had to wait for.
  bool log = true;
};

/// What a remote store's shard cache has done (DatasetStore::cache_stats).
struct ShardCacheStats {
  int64_t shards = 0;          ///< shards of the store
  int64_t shards_fetched = 0;  ///< shards downloaded
  int64_t bytes_fetched = 0;   ///< bytes downloaded (shards and footers)
  int64_t cache_hits = 0;      ///< shards needed and found in the cache (mapped or on disk)
  int64_t evictions = 0;       ///< shards removed from the cache to make room
  int64_t stalls = 0;          ///< times a batch waited for a shard that was not there yet
  double stall_seconds = 0;    ///< time batches spent waiting for shards
  int64_t resident = 0;        ///< shards in the cache now
  int64_t cache_bytes = 0;     ///< bytes this store holds in the cache now
  int64_t cache_bytes_peak = 0;  ///< most bytes it held at once
  int64_t cache_limit = 0;     ///< its limit
  int64_t requests = 0;        ///< HTTP requests made
  int64_t retries = 0;         ///< of which retries
};

/// The shards of a remote store as a batchifier schedules them (SPEC §8). Thread-safe.
class StoreShards {
 public:
  virtual ~StoreShards() = default;
  /// Global row where each shard starts, then the total rows.
  virtual const std::vector<int64_t>& starts() const noexcept = 0;
  /// The store's prefetch_shards option.
  virtual int64_t prefetch_shards() const noexcept = 0;
  /// The store's active_shards option.
  virtual int64_t active_shards() const noexcept = 0;
  /// Batch `batch` (a number unique among the batches in flight) will read the shards `needed`;
  /// after it the schedule goes on with `ahead`, in order. The fetcher works through the shards
  /// of the batches in flight, oldest first, then the latest `ahead`, as the cache allows.
  virtual void plan(int64_t batch, std::vector<int64_t> needed, std::vector<int64_t> ahead) = 0;
  /// Batch `batch` is assembled or dropped: its shards may leave the cache.
  virtual void done(int64_t batch) = 0;
};

namespace detail {
struct StoreState;
}

/// One window for DatasetStore::gather_windows: the store's rows [start, start + length) go to
/// output rows [slot * S, slot * S + length), and the output rows [slot * S + length, slot * S + S)
/// are padding. With `row` >= 0 (a packed output) they go to output rows [row, row + length)
/// instead, `slot` is ignored and no padding is written.
struct WindowSlot {
  int64_t start = 0;
  int64_t length = 0;
  int64_t slot = 0;
  int64_t row = -1;
};

/// The step store. Global row order: every source dataset in load order, then the buffer.
///
/// Source datasets are kept by reference (their record batches, usually memory-mapped) and never
/// copied. The buffer is columnar: appended rows go into typed builders and are sealed into
/// immutable Arrow chunks of at most 1000 rows (the batch size `datasets` writes), which the
/// encoder reads with the same typed loops as the source.
///
/// Thread safety: one thread may call the mutating methods (from_dataset, append, append_columns,
/// clear) while any number of threads call the const methods (size, get, segment_starts,
/// to_dataset ...). A reader sees a consistent prefix of the rows: the rows present when its call
/// took its snapshot (an immutable view of both segments, taken under a short lock; encoding
/// runs outside it). size() is a lock-free read; a get() that follows it sees at least that many
/// rows unless clear() ran in between. clear() must not run concurrently with readers that hold
/// indices from before it (they get IndexError, never garbage).
class DatasetStore {
 public:
  /// Validates `config` (InvalidArgument naming the bad argument and its value).
  explicit DatasetStore(StoreConfig config = {});
  /// The SPEC §4 constructor: the first four StoreConfig fields (obs_image dtype int64).
  DatasetStore(int64_t max_action_dim, int64_t max_obs_continuous_dim = 0,
               int64_t max_obs_discrete_dim = 0, int64_t max_obs_image_pixels = 0);
  /// Releases the store's references to its datasets; tensors already returned stay valid.
  ~DatasetStore();
  /// Not copyable (the buffer is owned state); share a store by reference or pointer.
  DatasetStore(const DatasetStore&) = delete;
  DatasetStore& operator=(const DatasetStore&) = delete;

  /// The validated settings.
  const StoreConfig& config() const noexcept;

  /// Appends `ds` to the source (zero-copy); an empty dataset is skipped. Its required columns are
  /// checked now (SPEC §3: missing or unconvertible → InvalidArgument naming column and dataset;
  /// enabled optional columns of an unconvertible type too). Integer keys' columns (action, done,
  /// episode_step, observation_discrete) may be bool or float. With config().validate (the
  /// default) every value of the contract columns is checked now too (see
  /// StoreConfig::validate: InvalidArgument naming dataset, file, column and row); without it a
  /// float that is not a whole number is found when its row is encoded. Datasets with different
  /// columns may be loaded together: a key missing from one is filled as for mixed
  /// source/buffer rows.
  void from_dataset(const Dataset& ds);
  /// Appends splits of `dict` to the source (SPEC §4): `splits` exact names (in the order
  /// given), or `split_pattern` fnmatch globs (one or more; `*`, `?`, `[...]`, `[!...]`,
  /// case-sensitive, no escapes; matching splits in the dict's order), or neither = all splits in
  /// the dict's order. Both given, or an empty list = InvalidArgument; an unknown name or patterns
  /// matching nothing = KeyError listing the available splits. Every selected split is checked
  /// before any is added, so on error the store is unchanged.
  void from_dataset(const DatasetDict& dict, std::optional<std::vector<std::string>> splits = {},
                    std::optional<std::vector<std::string>> split_pattern = {});

  /// Loads a Hub layout kept remotely (SPEC §8): `s3://bucket/prefix`,
  /// `hf://datasets/org/name[@revision]` or `http(s)://host/path/` (a plain directory whose
  /// README's data_files name its shards). Its shards are listed and their footers read now, so
  /// size() and global row indices are known before any shard is fetched; shards are fetched
  /// whole into `options.cache_dir`, decoded once, and evicted when the cache limit would be
  /// passed. Each shard is a segment (windows never cross one). The store must be empty, and
  /// stays read-only: append, a second source and to_dataset are InvalidArgument. get(),
  /// gather_windows() and read_done() fetch the shards they need (waiting for them).
  /// Throws InvalidArgument (bad URL or options, a shard larger than cache_limit naming both
  /// sizes, a save_to_disk layout, a non-empty store), FormatError naming the URL (no shard, a
  /// corrupt footer), KeyError (unknown config or split), IoError (the service, after retries).
  void from_remote(std::string_view url, const RemoteStoreOptions& options = {});
  /// A remote store's cache counters (all zero for a local store).
  ShardCacheStats cache_stats() const;
  /// A remote store's shards, for the batchifier's schedule; null for a local store.
  StoreShards* shards() const noexcept;
  /// Appends one step to the buffer. Value types: bool, int (int64), float (float64), string,
  /// lists (nested allowed), ImagePixels (stored PNG-encoded; float pixels as v * 255) and
  /// EncodedImage (stored as given) as an HF Image column. The first non-null value of a column
  /// fixes its type (a null or empty list leaves it open until one arrives); later rows may omit
  /// columns (null) or add new ones (null for earlier rows). Types widen, never narrow (SPEC §4,
  /// bool -> int -> float, also for list items): a bool column that gets an int becomes int64
  /// (earlier values 0 / 1), a bool or int column that gets a float becomes float64 (as
  /// `datasets` infers [0, 0.5]); a bool in an int or float column is 0 / 1, an int in a float
  /// column a float; a list of a fixed_size_list column must have its length.
  /// Values outside the contract are refused here, naming the column and the row (its global
  /// row index, source rows included): done not 0, 1 or 2; a negative action; an action >=
  /// max_action_dim while q-values are encoded (a metadata_q_star column in the source, the buffer
  /// or this row); a NaN or infinite reward; a non-whole float (1.5, NaN, inf) for action / done /
  /// episode_step / observation_discrete. An image of more than max_obs_image_pixels values
  /// (H x W x C) is appended, and the first one warns once per store on stderr (column, H x W x C,
  /// max_obs_image_pixels): obs_image keeps only its first values.
  /// Errors, all leaving the store unchanged: empty row, no value for action / reward / done
  /// (every buffer row must be encodable), or a value outside the contract → InvalidArgument; a
  /// value that does not fit its column or a contract column (SPEC §3) of a type that cannot
  /// convert → TypeError naming the column.
  void append(const StepRow& row);
  /// Appends `rows` in order, all or none: every row is checked as append() checks it (against
  /// the column types the rows before it leave) before any is added, so on error (naming the
  /// row it would have been) the store is unchanged. For steps that are not columns of one
  /// Arrow type each (e.g. images as pixels); readers see all the rows at once.
  void append_rows(std::span<const StepRow> rows);
  /// Typed bulk append of `num_rows` steps given as Arrow columns (one array per column, all of
  /// length num_rows): the fast path for many steps. The arrays become one buffer chunk without a
  /// copy when their types are the columns' types (or the columns are new); otherwise the column
  /// and the array meet in the wider type (SPEC §4 widening, as append: a bool column that gets
  /// int arrays becomes int64, ...) and the array is converted to it (TypeError when the two
  /// cannot meet, e.g. numbers and strings). action / reward / done must be present without
  /// nulls (InvalidArgument); arrays are fully validated (InvalidArgument). The value contract of
  /// append is checked over whole arrays (one pass per contract column, no per-row work when it
  /// holds): InvalidArgument naming the column and the row within this call (counted from 0).
  /// Image columns (Image structs or binary) warn as append does. On error nothing changes.
  void append_columns(const std::vector<std::pair<std::string, arrow::ArrayPtr>>& columns);

  /// Appends several column blocks (each as append_columns takes it) in order, all or none and
  /// in one step: readers see either none of their rows or all of them. Each block is checked
  /// as append_columns checks it, against the column types the blocks before it leave, before
  /// any is added; messages count rows from 0 within the block. Each block becomes one buffer
  /// chunk (zero-copy as in append_columns). On error nothing changes.
  void append_column_blocks(std::span<const ColumnBlock> blocks);

  /// Total rows (source + buffer).
  int64_t size() const noexcept;
  /// Rows in the source segment.
  int64_t source_size() const noexcept;

  /// Row offsets where each source dataset starts, then where the buffer starts, then size():
  /// [0, n0, n0+n1, ..., source_size(), size()] ([0, size()] without a source). For window
  /// boundary policies. Taken from one snapshot, so consistent with a get() on the same rows.
  std::vector<int64_t> segment_starts() const;

  /// Encodes the rows at `indices` (negative = from the end; IndexError naming the index and the
  /// length when out of range) into a TensorDict [N] by SPEC §3, in the order given, with tensors
  /// allocated from `allocator`. Mixed source/buffer rows: a key present in one segment only is
  /// filled for the other's rows with its null-row value: 0, q_star -inf, time -1 (a null
  /// episode_step is time -1, SPEC §3; rows without the column are its null rows, which is also
  /// what to_dataset stores for them). The keys are the same for every call on an
  /// unchanged store (the union over its segments' schemas). Tensors are freshly allocated and
  /// writable; they share nothing with the store. Errors: IndexError as above, InvalidArgument
  /// for a null in a required column of a source dataset or a float that is not a whole number
  /// in an integer key's column (naming column, dataset and row), FormatError for undecodable
  /// images.
  TensorDict get(std::span<const int64_t> indices,
                 const Allocator& allocator = default_allocator()) const;
  /// Same as get(indices).
  TensorDict operator[](std::span<const int64_t> indices) const { return get(indices); }

  /// A TensorDict [rows] with the keys, dtypes and per-step shapes get() gives now, its contents
  /// uninitialised: the output gather_windows fills.
  TensorDict empty_rows(int64_t rows, const Allocator& allocator = default_allocator()) const;

  /// Encodes windows of consecutive rows into `out`, a TensorDict [slots * S]: each window
  /// becomes one or two runs of chunk rows; fixed-width columns of the stored type are copied
  /// with memcpy per run, other conversions run per run. Padding positions (past a window's
  /// length) are written with what a missing value encodes to (0, q_star -inf, time -1) and
  /// never read. When `out` has no members they are allocated from `allocator` with the keys of
  /// get(), from the same snapshot the rows are read from; otherwise `out` must hold every key
  /// of the store with the dtype and step shape get() gives (keys the store lacks are written as
  /// missing values), and output rows of slots no window names are left as they were.
  /// Errors: IndexError for a window outside [0, size()); InvalidArgument for sequence_length
  /// <= 0, a length outside [0, sequence_length], a slot outside `out`, `out` rows not a
  /// multiple of sequence_length (when a window uses a slot), a packed window (`row` >= 0)
  /// past the end of `out`, or a key of `out` of another dtype or shape; and what get()
  /// throws for the rows.
  void gather_windows(std::span<const WindowSlot> windows, int64_t sequence_length,
                      TensorDict& out, const Allocator& allocator = default_allocator()) const;

  /// Writes the done value (0 running, 1 terminal, 2 truncated) of rows [begin, end) into `out`
  /// (out.size() == end - begin), converted as get() converts it, reading only the done column
  /// (no image is decoded). IndexError when the range is out of bounds; InvalidArgument for a
  /// null done.
  void read_done(int64_t begin, int64_t end, std::span<int64_t> out) const;

  /// Encodes every row of `rows` (a batch of steps) by SPEC §3 into a TensorDict [rows.num_rows()],
  /// with the keys of its own schema. Errors as from_dataset, plus FormatError for image bytes
  /// that do not decode (naming the row).
  TensorDict encode_hf_rows(const Dataset& rows) const;

  /// Every step as a dataset: source only → the source itself (no copy; several source
  /// datasets are concatenated zero-copy); buffer only → a dataset of the buffer (columns in order
  /// of first appearance, pixel images as PNG `Image` features); both → their concatenation in
  /// the first source's columns and features (the buffer's missing columns null; a buffer column
  /// the source lacks is InvalidArgument). Types never narrow a value (SPEC §4): each column is
  /// written in the first source's type when every other part's values fit it exactly and are of
  /// no wider kind (bool < int < float) — e.g. appended bools or whole numbers into an int64 source
  /// column, float32-exact floats into a float32 one; otherwise in the wider type both meet in
  /// (source bool + appended ints → int64, source float32 + appended 0.1 → float64), and then only
  /// the parts whose type differs are converted: such a source column is materialized with its
  /// feature inferred from the new type, every other source column stays shared. Types that
  /// cannot meet (numbers and strings) → InvalidArgument naming the column and both parts.
  /// Empty store → an empty dataset.
  Dataset to_dataset() const;
  /// The buffer alone as a dataset, in its own column types (columns in order of first
  /// appearance, pixel images as PNG `Image` features): what append_columns of its columns into an
  /// empty buffer adds back exactly. No buffer rows → an empty dataset.
  Dataset buffer_to_dataset() const;
  /// One dataset of all stores' rows in order: their columns lined up by name (align_columns: a
  /// column one store lacks is null for its rows, types widen bool → int → float), then widened
  /// as to_dataset widens them. None → an empty dataset.
  static Dataset merge_stores_to_dataset(std::span<const DatasetStore* const> stores);

  /// Empties source and buffer.
  void clear();

 private:
  std::unique_ptr<detail::StoreState> state_;
};

/// The stores of one split: saved as their merge_stores_to_dataset.
struct StoreSplit {
  std::string name;
  std::vector<const DatasetStore*> stores;
};

/// The splits of one Hub config.
struct StoreConfigSplits {
  std::string config;
  std::vector<StoreSplit> splits;
};

/// Writes one config's stores as a Hub layout at `dir` (data/<split>-* Parquet shards and a
/// README naming `config.config`, atomically, as save_to_hub_layout): each split is the merge of
/// its stores (merge_stores_to_dataset), and the splits are lined up by column name
/// (align_columns: a column one split lacks is null in the other's rows). Empty splits are left
/// out; returns false (writing nothing) when every split is empty. Throws what
/// merge_stores_to_dataset, align_columns and save_to_hub_layout throw.
bool save_stores_to_hub_layout(const StoreConfigSplits& config, const std::filesystem::path& dir,
                               HubSaveOptions options = {});

/// As above for several configs in one layout (`<config>/<split>-*` shards, one README listing
/// them all; save_to_hub_layout's multi-config form). Empty splits and configs are left out;
/// false when all are empty.
bool save_stores_to_hub_layout(const std::vector<StoreConfigSplits>& configs,
                               const std::filesystem::path& dir,
                               const HubSaveOptions& options = {});

/// `datasets` lined up by column name, so that they concatenate (merging stores, splits of one
/// Hub config): every result has the union of their columns, in order of first appearance, with
/// one type each; a column a dataset lacks is null in its rows (which the encoder reads as SPEC
/// §3's fill: time -1, q_star -inf, 0 otherwise). A column whose types differ widens, never
/// narrows: bool → integer → float (int64 for two integer widths; float64 for a float32 beside
/// an int32 or int64), null-typed → the other type, and the kinds conform() converts (list
/// kinds, string kinds); the widened column's feature is what `datasets` infers for the type.
/// A dataset already in that shape is returned as it is (zero-copy); the others get new
/// record batches that share every column that needs no conversion. InvalidArgument naming the
/// column and both datasets when two types cannot be lined up (e.g. a string and a float).
std::vector<Dataset> align_columns(std::span<const Dataset> datasets);

}  // namespace mouse
