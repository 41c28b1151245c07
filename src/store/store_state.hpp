// Internal state of a DatasetStore: the writer side (guarded by a mutex) and the immutable
// snapshots readers encode from.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "mouse/dataset.hpp"
#include "mouse/dataset_store.hpp"
#include "store/append_buffer.hpp"
#include "store/contract.hpp"
#include "store/encoder.hpp"

namespace mouse::detail {

/// One loaded source dataset.
struct SourceSegment {
  Dataset dataset;
  std::string label;  ///< names it in errors
  SchemaPlan plan;
};

/// A run of rows readers can encode: one record batch of a source dataset or one buffer chunk.
struct ChunkView {
  const std::vector<arrow::ArrayPtr>* columns = nullptr;
  const SchemaPlan* plan = nullptr;
  const std::string* label = nullptr;
  int64_t first_row = 0;  ///< row of element 0 within its dataset (for messages)
};

/// The source segment flattened into chunks; rebuilt only when sources change.
struct SourceIndex {
  std::vector<SourceSegment> segments;
  std::vector<ChunkView> chunks;
  std::vector<int64_t> starts{0};          ///< global row of each chunk, plus the total
  std::vector<int64_t> segment_starts{0};  ///< global row of each segment, plus the total
  OutputLayout layout;

  int64_t rows() const noexcept { return starts.back(); }
};

/// What a reader sees: a consistent prefix of the store's rows. Taking one after an append costs
/// O(columns) plus a copy of two pointer-sized entries per buffer chunk (closed chunks are
/// shared, the open block is viewed, not copied).
struct Snapshot {
  std::shared_ptr<const SourceIndex> source;
  std::vector<const BufferChunk*> buffer;  ///< kept alive by `sealed` and `open`
  std::vector<int64_t> buffer_starts{0};   ///< row within the buffer of each chunk, plus the total
  std::shared_ptr<const SealedChunks> sealed;
  ChunkPtr open;
  BufferColumns buffer_columns;
  OutputLayout layout;
  uint64_t version = 0;

  int64_t source_rows() const noexcept { return source->rows(); }
  int64_t size() const noexcept { return source->rows() + buffer_starts.back(); }
};

struct StoreState {
  explicit StoreState(const StoreConfig& c)
      : config(c), source(std::make_shared<SourceIndex>()), buffer(std::make_unique<AppendBuffer>(c)) {}

  const StoreConfig config;
  mutable std::mutex mutex;
  // Guarded by `mutex`:
  std::shared_ptr<const SourceIndex> source;
  std::unique_ptr<AppendBuffer> buffer;
  uint64_t version = 1;  // bumped by every mutation
  mutable std::shared_ptr<const Snapshot> snapshot;
  // Readable without the lock:
  std::atomic<int64_t> size{0};
  std::atomic<int64_t> source_size{0};

  /// The current snapshot (a new one, viewing the open block, when rows were added since).
  std::shared_ptr<const Snapshot> snap() const;
};

/// The snapshot of a store for library code outside src/store (the batchifier reads the done
/// column of new rows straight from its chunks). Same thread safety as DatasetStore's const
/// methods.
struct StoreAccess {
  static std::shared_ptr<const Snapshot> snapshot(const DatasetStore& store) {
    return store.state_->snap();
  }
};

}  // namespace mouse::detail
