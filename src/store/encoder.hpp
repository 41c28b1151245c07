// The SPEC §3 encoder: reads Arrow columns (memory-mapped source chunks or sealed buffer
// chunks, through the same code) straight into the output tensors. Work is grouped by chunk and
// key, and each (chunk, key) pair runs one loop typed by the column's Arrow type: no per-row
// dynamic values, no intermediate copies except decoded images.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "mouse/arrow.hpp"
#include "mouse/dataset_store.hpp"
#include "mouse/tensor_dict.hpp"
#include "store/contract.hpp"

namespace mouse::detail {

/// Requested rows: elements [local, local + n) of a chunk go to output rows [out, out + n).
struct RowRun {
  int64_t out = 0;
  int64_t local = 0;
  int64_t n = 1;
};

/// Which keys a batch holds (the union over the store's segments, SPEC §3 "present iff in the
/// schema") and whether obs_discrete is a list (per-step shape [max_obs_discrete_dim]).
struct OutputLayout {
  std::array<bool, kKeyCount> present{};
  bool discrete_list = false;

  /// Adds the keys of `plan`.
  void add(const SchemaPlan& plan) noexcept;
  /// Adds the keys of `other`.
  void add(const OutputLayout& other) noexcept;
};

/// Hash of an (array, element) pair.
struct FrameKeyHash {
  size_t operator()(const std::pair<const arrow::ArrayData*, int64_t>& k) const noexcept {
    return std::hash<const void*>()(k.first) ^ (std::hash<int64_t>()(k.second) * 0x9E3779B97F4A7C15ull);
  }
};
/// Image elements already decoded in a batch: (image column, element) -> output row.
using DecodedFrames =
    std::unordered_map<std::pair<const arrow::ArrayData*, int64_t>, int64_t, FrameKeyHash>;

/// Says once, on stderr, that an image holds more values (H x W x C) than max_obs_image_pixels,
/// so that obs_image keeps only its first values (SPEC §3 truncation; typically a forgotten x C
/// for the channels). One per store; thread-safe.
class ImageWidthWarning {
 public:
  /// Warns, the first time only, when an image of `height` x `width` x `channels` values in
  /// column `column`, met at `where` ("append, row 12"), holds more than `max_pixels` values.
  /// Cheap (one comparison) when it does not.
  void check(std::string_view column, std::string_view where, int64_t height, int64_t width,
             int64_t channels, int64_t max_pixels) noexcept;
  /// Whether the warning was given.
  bool warned() const noexcept { return warned_.load(std::memory_order_relaxed); }

 private:
  std::atomic<bool> warned_{false};
};

/// The height, width and channels the decoder would give for PNG or JPEG `bytes`, read from
/// their headers (PNG IHDR and tRNS, JPEG start-of-frame) without decoding; nullopt when the
/// headers do not say (the decoder then tells).
std::optional<std::array<int64_t, 3>> peek_image_shape(std::string_view bytes) noexcept;

/// Fills the tensors of one batch. Not thread-safe; one encoder per batch.
class BatchEncoder {
 public:
  /// Allocates the tensors of `rows` rows from `allocator`. Required keys are always present.
  BatchEncoder(const StoreConfig& config, const OutputLayout& layout, int64_t rows,
               const Allocator& allocator);
  /// Writes into the tensors of `out` (rows = out.batch_size()[0]), which must hold every key of
  /// `layout` with the dtype and step width this config gives it (InvalidArgument naming the
  /// key otherwise); keys of `out` the layout lacks are filled as absent keys. `out` keeps the
  /// tensors: finish() is not needed.
  BatchEncoder(const StoreConfig& config, const OutputLayout& layout, TensorDict& out);

  /// Encodes `rows` of one chunk whose columns are laid out as `plan` says. Keys the plan lacks
  /// are filled with their null-row value (0, q_star -inf, time -1). `dataset` and `first_row` (global row of element 0) name the
  /// place in errors: a null in a required column is InvalidArgument, undecodable image bytes
  /// a FormatError.
  void encode(std::span<const arrow::ArrayPtr> columns, const SchemaPlan& plan,
              std::span<const RowRun> rows, std::string_view dataset, int64_t first_row);

  /// Writes every key's null-row value (0, q_star -inf, time -1) to `rows`: padding.
  void pad(std::span<const RowRun> rows);

  /// The batch, keys in SPEC §3 order.
  TensorDict finish();

  /// Images decoded from here on that are wider than max_obs_image_pixels are reported to
  /// `warning` (the store's; may be null).
  void warn_wide_images(ImageWidthWarning* warning) noexcept { image_warning_ = warning; }

 private:
  void fill(Key key, std::span<const RowRun> rows);

  StoreConfig config_;
  OutputLayout layout_;
  int64_t rows_;
  std::array<Tensor, kKeyCount> tensors_;
  std::array<int64_t, kKeyCount> width_{};  // elements per row (1 for scalars)
  DecodedFrames frames_;                     // each distinct frame of the batch decoded once
  ImageWidthWarning* image_warning_ = nullptr;
};

/// Checks that every value of `column` (a scalar or list column feeding integer key `key`) is a
/// whole number within int64 when the column's leaf type is float; InvalidArgument naming
/// `dataset`, the column, the value and its row (`first_row` + index) otherwise.
void check_whole_numbers(const arrow::ArrayData& column, Key key, std::string_view dataset,
                         int64_t first_row);

/// Encodes every row of a dataset with its own layout (DatasetStore::encode_hf_rows).
TensorDict encode_dataset(const Dataset& ds, const StoreConfig& config, std::string_view label,
                          const Allocator& allocator, ImageWidthWarning* warning = nullptr);

/// Writes the done values of elements [first, first + n) of a chunk to `out`, converted as the
/// encoder converts them (0 when the chunk has no done column): only that column is read.
/// InvalidArgument naming `label` and the row (`first_row` + element) for a null or a float
/// that is not a whole number.
void read_done_column(std::span<const arrow::ArrayPtr> columns, const SchemaPlan& plan,
                      int64_t first, int64_t n, int64_t* out, std::string_view label,
                      int64_t first_row);

/// Prefetches the values of elements [local, local + n) of the fixed-width columns (and
/// fixed-size lists of them) that `plan` encodes, so that the misses of many short runs overlap
/// (random windows are short runs in cold memory). Reads nothing.
void prefetch_rows(std::span<const arrow::ArrayPtr> columns, const SchemaPlan& plan,
                   int64_t local, int64_t n);

/// Decodes elements [first, first + n) of an Image column (HF Image struct or binary) into `out`,
/// `width` uint8 values per row, exactly as the encoder writes obs_image rows (pixels, then
/// zeros; null frames zeros), path-only frames read under `image_root` (SchemaPlan). FormatError
/// / IoError naming `label` and the row (`first_row` + element) for a frame that does not decode
/// or cannot be read, or whose path leaves `image_root`.
/// Images wider than `width` are reported to `warning` when it is given.
void decode_image_rows(const arrow::ArrayData& column, int64_t first, int64_t n, uint8_t* out,
                       int64_t width, std::string_view label, int64_t first_row,
                       const std::optional<std::filesystem::path>& image_root,
                       ImageWidthWarning* warning = nullptr);

}  // namespace mouse::detail
