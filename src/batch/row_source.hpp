// What the batchifier needs from a store: its row layout, the done flags of row ranges, and a
// gather of windows into tensors. DatasetStore is adapted to it (store_row_source.cpp) through
// its public window methods; tests plug in fakes that implement only the row gather.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "mouse/dataset_store.hpp"
#include "mouse/tensor.hpp"
#include "mouse/tensor_dict.hpp"

namespace mouse::detail {

/// A table of rows the batchifier samples from. Implementations must allow every method to run
/// concurrently with each other and with appends to the underlying data; each call sees a
/// consistent prefix of the rows.
class RowSource {
 public:
  virtual ~RowSource() = default;

  /// Total rows.
  virtual int64_t size() const = 0;

  /// Boundaries of the segments windows may not straddle under the "source" policy, with the
  /// total row count last: [0, n0, n0+n1, ..., buffer start, size]. Non-decreasing; empty
  /// segments are allowed. The second-to-last entry is where the appendable segment starts.
  virtual std::vector<int64_t> segment_starts() const = 0;

  /// Writes the done value (0 running, 1 terminal, 2 truncated) of rows [begin, end) into `out`
  /// (out.size() == end - begin). Throws IndexError when the range is out of bounds.
  virtual void read_done(int64_t begin, int64_t end, std::span<int64_t> out) const = 0;

  /// The rows at `rows`, in that order, as a TensorDict [rows.size()] allocated from
  /// `allocator` (writable tensors).
  virtual TensorDict gather(std::span<const int64_t> rows, const Allocator& allocator) const = 0;

  /// A TensorDict [rows] with the columns, dtypes and step shapes gather() gives (contents
  /// unspecified). The default gathers row 0 for the layout, so it needs size() > 0.
  virtual TensorDict allocate(int64_t rows, const Allocator& allocator) const;

  /// Writes each window's rows into its slot of `out` ([slots * sequence_length]): rows
  /// [start, start + length) to out rows [slot * S, slot * S + length), and the rest of the
  /// slot padding (0, q_star -inf, time -1); a window with `row` >= 0 to out rows
  /// [row, row + length), no padding (WindowSlot). An `out` without members is first given this
  /// source's columns from `allocator` (the store does it from the snapshot it reads). The
  /// default gathers the windows' rows and copies them into place; the store writes straight
  /// into `out`.
  virtual void gather_windows(std::span<const WindowSlot> windows, int64_t sequence_length,
                              TensorDict& out, const Allocator& allocator) const;

  /// A remote store's shards, which the sampler schedules (SPEC §8); null for other sources.
  virtual StoreShards* shards() const { return nullptr; }
};

/// A TensorDict [rows] (contents uninitialised, from `allocator`) with the keys, dtypes and step
/// shapes of `layout`.
TensorDict empty_rows_like(const TensorDict& layout, int64_t rows, const Allocator& allocator);

/// Writes what a missing value of column `name` encodes to (q_star float32 -inf, time int64 -1,
/// else 0) into `bytes` bytes at `first`.
void fill_missing_bytes(std::string_view name, DType dtype, void* first, int64_t bytes);

/// Writes missing values (fill_missing_bytes) into rows [begin, end) of every member of `out`.
void fill_missing_rows(TensorDict& out, int64_t begin, int64_t end);

/// A RowSource over `store`, which must outlive it.
std::shared_ptr<const RowSource> store_row_source(const DatasetStore& store);

}  // namespace mouse::detail
