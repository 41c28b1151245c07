// The buffer segment of a DatasetStore (SPEC §4): appended steps kept columnar. Rows go into typed
// builders for an open block of at most kBlockRows rows (or kBlockBytes); sealing turns the block into an
// immutable chunk of Arrow arrays (what readers and the encoder see). Bulk Arrow columns become
// chunks directly. Column types are fixed by the first non-null value (or array) and refined
// only where they were null.
//
// Not thread-safe: the store serialises every call under its writer mutex; sealed chunks are
// immutable and shared with readers.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "mouse/arrow.hpp"
#include "mouse/dataset_store.hpp"
#include "store/contract.hpp"

namespace mouse::detail {

/// Rows per sealed row block at most (the batch size `datasets` writes).
inline constexpr int64_t kBlockRows = 1000;
/// A block is also closed once its builders hold this many bytes, so that re-sealing the open
/// block for a reader (a copy of it) stays cheap when rows are large (images).
inline constexpr int64_t kBlockBytes = int64_t{1} << 20;

/// An immutable run of buffer rows. Columns missing from a chunk are null for its rows.
struct BufferChunk {
  std::shared_ptr<const arrow::Schema> schema;
  std::vector<arrow::ArrayPtr> columns;
  int64_t num_rows = 0;
  SchemaPlan plan;
};
using ChunkPtr = std::shared_ptr<const BufferChunk>;

/// A buffer column: name and the type fixed by its first values.
struct BufferColumn {
  std::string name;
  arrow::TypePtr type;
};

struct BlockBuilder;

/// The writer side of the buffer.
class AppendBuffer {
 public:
  explicit AppendBuffer(const StoreConfig& config);
  ~AppendBuffer();
  AppendBuffer(const AppendBuffer&) = delete;
  AppendBuffer& operator=(const AppendBuffer&) = delete;

  /// Appends one row (SPEC §4 type rules); on any error the buffer is unchanged.
  void append_row(const StepRow& row);
  /// Appends equal-length Arrow columns as one chunk (converted to the columns' fixed types
  /// when they differ); on any error the buffer is unchanged.
  void append_columns(const std::vector<std::pair<std::string, arrow::ArrayPtr>>& columns);

  /// Seals the open block if rows were added since the last seal, then returns every chunk.
  const std::vector<ChunkPtr>& sealed();
  /// Rows appended so far.
  int64_t num_rows() const noexcept { return rows_; }
  /// Columns in order of first appearance, with their fixed types.
  const std::vector<BufferColumn>& columns() const noexcept { return columns_; }

 private:
  int column_index(std::string_view name) const noexcept;
  void set_column_type(const std::string& name, const arrow::TypePtr& type);
  void seal_open_block();
  void close_open_block();
  void check_contract(const std::string& name, const arrow::DataType& type) const;

  StoreConfig config_;
  std::vector<BufferColumn> columns_;
  std::vector<ChunkPtr> chunks_;
  std::unique_ptr<BlockBuilder> block_;
  bool last_is_partial_ = false;  // chunks_.back() is an earlier seal of the open block
  bool dirty_ = false;            // rows added to the open block since its last seal
  int64_t rows_ = 0;
};

}  // namespace mouse::detail
