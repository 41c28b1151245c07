// The rows a reader sees, as runs over chunks. A chunk is one record batch of a source dataset or
// one block of the append buffer, viewed through the same struct; a ChunkList is an immutable
// list of chunks with their starting rows, owned together with what the views point into.
// for_each_run() turns a row range into (chunk, first element, count) runs.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "mouse/arrow.hpp"
#include "store/contract.hpp"

namespace mouse::detail {

/// A run of rows readers can encode: a view of the columns of one record batch or buffer block.
/// Valid as long as the ChunkList holding it.
struct Chunk {
  std::span<const arrow::ArrayPtr> columns;
  const SchemaPlan* plan = nullptr;
  const std::string* label = nullptr;  ///< names the chunk's dataset in errors
  int64_t first_row = 0;               ///< row of element 0 within its dataset (for messages)
};

/// Immutable chunks in row order. `starts[i]` is the first row of chunk i, `starts.back()` the
/// total. Whoever shares the list shares what its views point into: the list is always handed
/// out as a shared_ptr that owns the data too (an aliasing shared_ptr or a struct holding both).
struct ChunkList {
  std::vector<Chunk> chunks;
  std::vector<int64_t> starts{0};
  /// Rows of every chunk but the last when they all hold the same number (record batches of
  /// `datasets`' writer_batch_size), else 0: find() then divides instead of searching.
  int64_t uniform = 0;

  int64_t rows() const noexcept { return starts.back(); }
  /// Appends `chunk` of `n` rows.
  void add(const Chunk& chunk, int64_t n) {
    if (chunks.empty()) {
      uniform = n;
    } else if (uniform > 0 && starts.back() - starts[starts.size() - 2] != uniform) {
      uniform = 0;  // the chunk before this one is no longer the last, and not of the size
    }
    chunks.push_back(chunk);
    starts.push_back(starts.back() + n);
  }
  /// The chunk holding row `row` (0 <= row < rows()).
  size_t find(int64_t row) const noexcept {
    if (uniform > 0) return std::min(static_cast<size_t>(row / uniform), chunks.size() - 1);
    return static_cast<size_t>(std::upper_bound(starts.begin(), starts.end(), row) -
                               starts.begin() - 1);
  }
};

/// One contiguous piece of a row range inside one chunk: elements [local, local + n) of `chunk`,
/// which are rows [offset, offset + n) of the range (offset counted from the range's start).
struct ChunkRun {
  const Chunk* chunk = nullptr;
  int64_t local = 0;
  int64_t n = 0;
  int64_t offset = 0;
  size_t index = 0;  ///< the chunk's number in the whole sequence
};

/// Several chunk lists read as one: the source's record batches, the sealed buffer blocks and
/// the open block, each list owned by its shared_ptr.
struct ChunkSequence {
  static constexpr size_t kParts = 3;
  std::shared_ptr<const ChunkList> parts[kParts];
  int64_t part_starts[kParts + 1] = {0, 0, 0, 0};  ///< first row of each part, plus the total
  size_t chunk_starts[kParts + 1] = {0, 0, 0, 0};  ///< chunks before each part, plus the total

  /// Sets part_starts and chunk_starts from the parts (all non-null).
  void count() noexcept {
    for (size_t p = 0; p < kParts; ++p) {
      part_starts[p + 1] = part_starts[p] + parts[p]->rows();
      chunk_starts[p + 1] = chunk_starts[p] + parts[p]->chunks.size();
    }
  }
  size_t num_chunks() const noexcept { return chunk_starts[kParts]; }

  int64_t rows() const noexcept { return part_starts[kParts]; }

  /// Calls fn(const ChunkRun&) for the runs covering rows [begin, end) in order (precondition:
  /// 0 <= begin <= end <= rows()). One or two runs for a window inside a chunk or across one
  /// chunk boundary.
  template <class Fn>
  void for_each_run(int64_t begin, int64_t end, Fn&& fn) const {
    int64_t row = begin;
    for (size_t p = 0; p < kParts && row < end; ++p) {
      if (row >= part_starts[p + 1]) continue;
      const ChunkList& list = *parts[p];
      const int64_t base = part_starts[p];
      const int64_t stop = std::min(end, part_starts[p + 1]);
      for (size_t c = list.find(row - base); row < stop; ++c) {
        const int64_t local = row - base - list.starts[c];
        const int64_t n = std::min(stop - base, list.starts[c + 1]) - (row - base);
        fn(ChunkRun{&list.chunks[c], local, n, row - begin, chunk_starts[p] + c});
        row += n;
      }
    }
  }

  /// The chunk and element of row `row` (0 <= row < rows()).
  ChunkRun locate(int64_t row) const noexcept {
    size_t p = 0;
    while (row >= part_starts[p + 1]) ++p;
    const ChunkList& list = *parts[p];
    const int64_t r = row - part_starts[p];
    const size_t c = list.find(r);
    return {&list.chunks[c], r - list.starts[c], list.starts[c + 1] - r, 0, chunk_starts[p] + c};
  }
};

}  // namespace mouse::detail
