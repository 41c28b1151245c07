// Internal state of a DatasetStore: the writer side (guarded by a mutex) and the immutable
// snapshots readers encode from.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "mouse/dataset.hpp"
#include "mouse/dataset_store.hpp"
#include "store/append_buffer.hpp"
#include "store/chunks.hpp"
#include "store/contract.hpp"
#include "store/encoder.hpp"
#include "store/frame_cache.hpp"
#include "store/remote_shards.hpp"

namespace mouse::detail {

/// One loaded source dataset.
struct SourceSegment {
  Dataset dataset;
  std::string label;  ///< names it in errors
  SchemaPlan plan;
  /// With a frame cache: the batches' columns with decoded frames in place of the Image
  /// column, read instead of `dataset`'s (to_dataset still returns `dataset`).
  std::optional<CachedFrames> frames;
};

/// The source segments flattened into chunks; rebuilt only when sources change.
struct SourceIndex {
  std::vector<SourceSegment> segments;
  ChunkList chunks;                        ///< views into `segments`' record batches
  std::vector<int64_t> segment_starts{0};  ///< global row of each segment, plus the total
  OutputLayout layout;

  int64_t rows() const noexcept { return chunks.rows(); }
};

/// What a reader sees: a consistent prefix of the store's rows, as one sequence of chunks
/// (source record batches, then sealed buffer blocks, then the open block). Taking one after an
/// append costs O(columns): the source and sealed lists are shared, the open block is viewed,
/// not copied.
struct Snapshot {
  ChunkSequence rows;
  std::shared_ptr<const SourceIndex> source;   ///< the segments (to_dataset)
  std::shared_ptr<const SealedChunks> sealed;  ///< the closed buffer blocks (to_dataset)
  ChunkPtr open;                               ///< the open block, or null (to_dataset)
  BufferColumns buffer_columns;
  OutputLayout layout;
  uint64_t version = 0;

  int64_t source_rows() const noexcept { return rows.part_starts[1]; }
  int64_t buffer_rows() const noexcept { return rows.rows() - source_rows(); }
  int64_t size() const noexcept { return rows.rows(); }
};

struct StoreState {
  explicit StoreState(const StoreConfig& c)
      : config(c), source(std::make_shared<SourceIndex>()), buffer(std::make_unique<AppendBuffer>(c)) {}

  const StoreConfig config;
  mutable std::mutex mutex;
  // Guarded by `mutex`:
  std::shared_ptr<const SourceIndex> source;
  std::unique_ptr<AppendBuffer> buffer;
  /// A remote store's shards (from_remote); then source and buffer stay empty.
  std::shared_ptr<RemoteShards> remote;
  /// Whether `remote` is set (read without the lock, so local reads pay no lock for it).
  std::atomic<bool> has_remote{false};
  uint64_t version = 1;  // bumped by every mutation
  mutable std::shared_ptr<const Snapshot> snapshot;
  // Readable without the lock:
  /// Warns once per store of images wider than max_obs_image_pixels (append and decoding).
  mutable ImageWidthWarning image_warning;
  std::atomic<int64_t> size{0};
  std::atomic<int64_t> source_size{0};

  /// The current snapshot (a new one, viewing the open block, when rows were added since).
  std::shared_ptr<const Snapshot> snap() const;
};

/// The checks of one gather_windows window against an output of `out_rows` rows, windows of
/// `sequence_length` rows and a store of `rows` rows: InvalidArgument for a bad length, slot or
/// packed row range (and `out_rows` not a multiple of S when the window uses a slot), IndexError
/// for rows outside the store.
void check_window_slot(const WindowSlot& w, int64_t sequence_length, int64_t out_rows,
                       int64_t rows);

}  // namespace mouse::detail
