// DatasetStore as a RowSource. Kept in its own file so that code using the batchifier over
// other sources does not pull in the store.
#include <fmt/format.h>

#include <algorithm>
#include <mutex>
#include <numeric>
#include <optional>

#include "batch/row_source.hpp"
#include "mouse/arrow.hpp"
#include "mouse/batch.hpp"
#include "mouse/dataset.hpp"
#include "mouse/dataset_store.hpp"
#include "mouse/error.hpp"

namespace mouse::detail {

namespace {

// Copies `n` done values of an integer Arrow array starting at element `first`; false for any
// other type or when the range holds nulls (the store's encoder then decides).
bool copy_integer_done(const arrow::ArrayData& a, int64_t first, int64_t n, int64_t* out) {
  if (a.null_count != 0) {
    for (int64_t i = 0; i < n; ++i) {
      if (!a.is_valid(first + i)) return false;
    }
  }
  auto copy = [&](auto tag) {
    using T = decltype(tag);
    const T* v = arrow::values<T>(a) + first;
    for (int64_t i = 0; i < n; ++i) out[i] = static_cast<int64_t>(v[i]);
    return true;
  };
  switch (a.type->id) {
    case arrow::TypeId::kInt8: return copy(int8_t{});
    case arrow::TypeId::kInt16: return copy(int16_t{});
    case arrow::TypeId::kInt32: return copy(int32_t{});
    case arrow::TypeId::kInt64: return copy(int64_t{});
    case arrow::TypeId::kUInt8: return copy(uint8_t{});
    case arrow::TypeId::kUInt16: return copy(uint16_t{});
    case arrow::TypeId::kUInt32: return copy(uint32_t{});
    default: return false;
  }
}

class StoreRowSource final : public RowSource {
 public:
  explicit StoreRowSource(const DatasetStore& store) : store_(store) {}

  int64_t size() const override { return store_.size(); }
  std::vector<int64_t> segment_starts() const override { return store_.segment_starts(); }

  // Source rows are read straight from the mapped "done" column when it is a plain integer
  // column: encoding whole rows through get() would decode every image of an image dataset
  // just to find the episode ends. Buffer rows (few at a time, as appended) go through get().
  void read_done(int64_t begin, int64_t end, std::span<int64_t> out) const override {
    MOUSE_DCHECK(static_cast<int64_t>(out.size()) == end - begin);
    if (begin >= end || read_source_done(begin, end, out)) return;
    std::vector<int64_t> rows(static_cast<size_t>(end - begin));
    std::iota(rows.begin(), rows.end(), begin);
    TensorDict encoded = store_.get(rows);
    const int64_t* d = encoded.at("done").data_as<int64_t>();
    std::copy(d, d + (end - begin), out.begin());
  }

  TensorDict gather(std::span<const int64_t> rows, const Allocator& allocator) const override {
    return store_.get(rows, allocator);
  }

 private:
  // Fills out[0, end - begin) from the source's done column; false (and `out` unspecified) when
  // the range is not all source rows or the column is not a plain integer column.
  bool read_source_done(int64_t begin, int64_t end, std::span<int64_t> out) const {
    std::optional<ChunkedColumn> done;
    {
      std::lock_guard lock(mutex_);
      const int64_t source_rows = store_.source_size();
      if (end > source_rows) return false;
      if (source_rows_ != source_rows) {
        source_rows_ = source_rows;
        done_.reset();
        try {
          // Rows [0, source_size) of to_dataset() are the source, in order, zero-copy.
          Dataset all = store_.to_dataset();
          if (all.num_rows() >= source_rows) done_ = all.column("done");
        } catch (const Error&) {
          // Sources that do not concatenate, no done column ...: use get().
        }
      }
      if (!done_) return false;
      done = done_;
    }
    if (done->length() < end) return false;
    for (int64_t row = begin; row < end;) {
      const ChunkLocation at = done->locate(row);
      const arrow::ArrayData& chunk = *done->chunks[at.chunk];
      const int64_t n = std::min(end - row, chunk.length - at.index);
      if (!copy_integer_done(chunk, at.index, n, out.data() + (row - begin))) return false;
      row += n;
    }
    return true;
  }

  const DatasetStore& store_;
  mutable std::mutex mutex_;
  mutable int64_t source_rows_ = -1;
  mutable std::optional<ChunkedColumn> done_;
};

}  // namespace

std::shared_ptr<const RowSource> store_row_source(const DatasetStore& store) {
  return std::make_shared<StoreRowSource>(store);
}

}  // namespace mouse::detail

namespace mouse {

PrefetchBatchifier::PrefetchBatchifier(const DatasetStore& store, int64_t sequence_length,
                                       int64_t batch_size, BatchifierOptions options)
    : PrefetchBatchifier(detail::store_row_source(store), sequence_length, batch_size,
                         std::move(options)) {}

}  // namespace mouse
