// The buffer segment of a DatasetStore (SPEC §4): appended steps kept columnar. Rows go into typed
// builders for an open block of at most kBlockRows rows (or kBlockBytes); closing the block turns
// it into an immutable chunk of Arrow arrays (what readers and the encoder see). Bulk Arrow
// columns become chunks directly. Column types are fixed by the first non-null value (or array)
// and refined only where they were null.
//
// The open block's builders are append-only: bytes once written are never rewritten, and growth
// moves to a new allocation while readers keep the old one. A reader's view of the open block is
// therefore a set of slices of the builders' buffers (only validity and bool bitmaps, at most
// kBlockRows / 8 bytes each, are copied), so publishing an appended row costs O(columns), not
// O(block bytes).
//
// A row is appended in two steps: prepare_row checks it against a snapshot of the column types
// and encodes its images (the expensive part, run without the store's lock), then apply_row adds
// it (cheap, cannot fail but for allocation).
//
// Not thread-safe: the store serialises every call but prepare_row under its writer mutex;
// chunks and views handed out are immutable and shared with readers.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "mouse/arrow.hpp"
#include "mouse/dataset_store.hpp"
#include "store/chunks.hpp"
#include "store/contract.hpp"
#include "store/encoder.hpp"

namespace mouse::detail {

/// Rows per sealed row block at most (the batch size `datasets` writes).
inline constexpr int64_t kBlockRows = 1000;
/// A block is also closed once its builders hold this many bytes, so that record batches of
/// large rows (images) stay about this size and 32-bit offsets far from overflowing.
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

using BufferColumns = std::shared_ptr<const std::vector<BufferColumn>>;

/// The closed chunks of a buffer: immutable once published, replaced (not changed) when a
/// chunk is added, so a snapshot shares it by pointer.
struct SealedChunks {
  std::vector<ChunkPtr> chunks;  ///< owns what `list` views
  ChunkList list;                ///< views of `chunks`, rows counted within the buffer
  OutputLayout layout;           ///< keys of every chunk
};

/// The label buffer chunks carry in error messages.
const std::string& buffer_label();

/// A view of `chunk`, whose element 0 is row `first_row` of the buffer.
Chunk buffer_chunk_view(const BufferChunk& chunk, int64_t first_row);

/// What a reader sees of the buffer: the closed chunks and a view of the open block's rows.
struct BufferView {
  std::shared_ptr<const SealedChunks> sealed;
  ChunkPtr open;  ///< null when the open block has no rows
  BufferColumns columns;
};

/// What the checks at entry need to know of the store beyond the buffer's columns.
struct EntryContext {
  /// Global row number of the (first) appended row: append's messages name it.
  int64_t first_row = 0;
  /// Whether the source has a metadata_q_star column. With one (or one in the buffer, or in
  /// what is appended) q-values are encoded and an action must index them (< max_action_dim).
  bool source_q_star = false;
};

/// An image wider than max_obs_image_pixels met while preparing (reported once the append
/// succeeded): its H, W, C and where it is.
struct WideImage {
  std::array<int64_t, 3> shape{};
  std::string where;
};

/// A row checked against the column types it was prepared with, and the PNG bytes of its
/// ImagePixels values (depth-first through lists, in column order).
struct PreparedRow {
  BufferColumns columns;
  std::vector<arrow::TypePtr> merged;  ///< the column type after this row, per row entry
  std::vector<std::string> png;
  std::optional<WideImage> wide_image;
};

/// Bulk columns checked against the column types they were prepared with, and converted to
/// the types they are stored with.
struct PreparedColumns {
  BufferColumns columns;
  std::vector<arrow::TypePtr> merged;   ///< the column type after the append, per column
  std::vector<arrow::ArrayPtr> arrays;  ///< the columns, conformed to `merged`
  int64_t length = 0;
  std::optional<WideImage> wide_image;
};

struct BlockBuilder;

/// Whether two column lists hold the same names and types in the same order.
bool same_columns(const BufferColumns& a, const BufferColumns& b);

/// The writer side of the buffer.
class AppendBuffer {
 public:
  explicit AppendBuffer(const StoreConfig& config);
  ~AppendBuffer();
  AppendBuffer(const AppendBuffer&) = delete;
  AppendBuffer& operator=(const AppendBuffer&) = delete;

  /// Checks `row` against `columns` (SPEC §4 type rules and the value contract: done 0, 1 or
  /// 2, action >= 0 (and < max_action_dim with q-values), finite reward, whole numbers for
  /// integer keys) and PNG-encodes its pixel images. Touches no buffer state, so it runs
  /// without the store's lock and on any thread. Throws what append_row throws; `context`
  /// .first_row (the row it becomes) names it in messages. With `png`, images are not encoded
  /// again but taken from it (the bytes of an earlier prepare of the same row).
  static PreparedRow prepare_row(const StepRow& row, BufferColumns columns,
                                 const StoreConfig& config, const EntryContext& context,
                                 std::vector<std::string>* png = nullptr);
  /// Appends a row prepared against the current column types (precondition:
  /// `prepared.columns == column_types()`). Does not throw but for allocation.
  void apply_row(const StepRow& row, PreparedRow prepared);
  /// The column types after `row`, prepared as `prepared`, is applied: what column_types()
  /// then returns, so that the next row of a batch can be prepared against it.
  static BufferColumns columns_after(const StepRow& row, const PreparedRow& prepared);
  /// The checks and conversions of DatasetStore::append_columns against `columns_now`
  /// (types meet by the SPEC §4 widening; the value contract is checked over whole arrays),
  /// touching no buffer state (runs without the store's lock). Messages count rows from 0
  /// within the call.
  static PreparedColumns prepare_columns(
      const std::vector<std::pair<std::string, arrow::ArrayPtr>>& columns,
      BufferColumns columns_now, const StoreConfig& config, const EntryContext& context);
  /// The column types after `columns`, prepared as `prepared`, are applied: what
  /// column_types() then holds (an equal list), so that the next block of a batch can be
  /// prepared against it.
  static BufferColumns columns_after(
      const std::vector<std::pair<std::string, arrow::ArrayPtr>>& columns,
      const PreparedColumns& prepared);
  /// Appends columns prepared against the current column types (precondition:
  /// `prepared.columns == column_types()`).
  void apply_columns(const std::vector<std::pair<std::string, arrow::ArrayPtr>>& columns,
                     PreparedColumns prepared);

  /// Every row appended so far, for readers: O(columns) when rows were added since the last
  /// call, else O(1).
  BufferView view();
  /// Rows appended so far.
  int64_t num_rows() const noexcept { return rows_; }
  /// Columns in order of first appearance, with their fixed types; a new list is made (never
  /// the old one changed) when a column is added or its type refined.
  const BufferColumns& column_types() const noexcept { return columns_; }

 private:
  void set_column_types(const std::vector<std::pair<const std::string*, arrow::TypePtr>>& types);
  static BufferColumns with_types(
      const BufferColumns& columns,
      const std::vector<std::pair<const std::string*, arrow::TypePtr>>& types);
  ChunkPtr open_chunk(bool compact);
  void close_open_block();
  void add_chunk(ChunkPtr chunk);

  StoreConfig config_;
  BufferColumns columns_;
  std::shared_ptr<const SealedChunks> sealed_;
  std::unique_ptr<BlockBuilder> block_;
  ChunkPtr open_;       // view of the open block as of its last view(), or null
  bool dirty_ = false;  // rows added to the open block since open_ was made
  int64_t rows_ = 0;
};

}  // namespace mouse::detail
