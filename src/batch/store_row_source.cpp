// DatasetStore as a RowSource. Kept in its own file so that code using the batchifier over
// other sources does not pull in the store.
#include <fmt/format.h>

#include <algorithm>
#include <span>
#include <string_view>

#include "batch/row_source.hpp"
#include "mouse/batch.hpp"
#include "mouse/dataset_store.hpp"
#include "mouse/error.hpp"
#include "store/contract.hpp"
#include "store/numeric.hpp"
#include "store/store_state.hpp"

namespace mouse::detail {

namespace {

// Writes the done values of elements [first, first + n) of one chunk (a source record batch or
// a buffer chunk) to `out`, converted as the encoder converts them. Only the done column is
// read: no other column is touched and no image decoded.
void chunk_done(std::span<const arrow::ArrayPtr> columns, const SchemaPlan& plan, int64_t first,
                int64_t n, int64_t* out, std::string_view label, int64_t first_row) {
  if (!plan.has(Key::kDone)) {  // the encoder zero-fills a key a chunk lacks
    std::fill_n(out, n, int64_t{0});
    return;
  }
  const arrow::ArrayData& a =
      *columns[static_cast<size_t>(plan.field[static_cast<int>(Key::kDone)])];
  if (a.null_count > 0) {
    for (int64_t i = first; i < first + n; ++i) {
      if (!a.is_valid(i)) {
        throw InvalidArgument(fmt::format(
            "{}: required column \"done\" is null at row {}; required columns must have a value "
            "in every row",
            label, first_row + i));
      }
    }
  }
  visit_number(a.type->id, [&](auto tag) {
    using T = typename decltype(tag)::type;
    for (int64_t i = 0; i < n; ++i) out[i] = static_cast<int64_t>(load<T>(a, first + i));
  });
}

class StoreRowSource final : public RowSource {
 public:
  explicit StoreRowSource(const DatasetStore& store) : store_(store) {}

  int64_t size() const override { return store_.size(); }
  std::vector<int64_t> segment_starts() const override { return store_.segment_starts(); }

  // Reads the done column of the chunks holding [begin, end) in one snapshot, source and buffer
  // alike: encoding whole rows through get() would decode every image of the range just to find
  // the episode ends.
  void read_done(int64_t begin, int64_t end, std::span<int64_t> out) const override {
    MOUSE_DCHECK(static_cast<int64_t>(out.size()) == end - begin);
    const auto snap = StoreAccess::snapshot(store_);
    const int64_t n = snap->size();
    if (begin < 0 || begin > end || end > n) {
      throw IndexError(
          fmt::format("rows [{}, {}) are out of range for a store of {} rows", begin, end, n));
    }
    const SourceIndex& src = *snap->source;
    const int64_t source_rows = src.rows();
    int64_t row = begin;
    if (row < std::min(end, source_rows)) {
      auto c = static_cast<size_t>(std::upper_bound(src.starts.begin(), src.starts.end(), row) -
                                   src.starts.begin() - 1);
      for (; row < std::min(end, source_rows); ++c) {
        const ChunkView& view = src.chunks[c];
        const int64_t k = std::min(end, src.starts[c + 1]) - row;
        chunk_done(*view.columns, *view.plan, row - src.starts[c], k, out.data() + (row - begin),
                   *view.label, view.first_row);
        row += k;
      }
    }
    if (row < end) {
      static const std::string kBufferLabel = "append buffer";
      const std::vector<int64_t>& starts = snap->buffer_starts;  // rows within the buffer
      const int64_t b_end = end - source_rows;
      int64_t b = row - source_rows;
      auto c = static_cast<size_t>(std::upper_bound(starts.begin(), starts.end(), b) -
                                   starts.begin() - 1);
      for (; b < b_end; ++c) {
        const BufferChunk& chunk = *snap->buffer[c];
        const int64_t k = std::min(b_end, starts[c + 1]) - b;
        chunk_done(chunk.columns, chunk.plan, b - starts[c], k,
                   out.data() + (b + source_rows - begin), kBufferLabel, starts[c]);
        b += k;
      }
    }
  }

  TensorDict gather(std::span<const int64_t> rows, const Allocator& allocator) const override {
    return store_.get(rows, allocator);
  }

 private:
  const DatasetStore& store_;
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

namespace {

std::vector<std::shared_ptr<const detail::RowSource>> store_sources(
    const std::vector<const DatasetStore*>& stores) {
  std::vector<std::shared_ptr<const detail::RowSource>> out;
  out.reserve(stores.size());
  for (size_t i = 0; i < stores.size(); ++i) {
    if (stores[i] == nullptr) {
      throw InvalidArgument(fmt::format("PrefetchBatchifier: store {} is null", i));
    }
    out.push_back(detail::store_row_source(*stores[i]));
  }
  return out;
}

}  // namespace

PrefetchBatchifier::PrefetchBatchifier(const std::vector<const DatasetStore*>& stores,
                                       int64_t sequence_length, int64_t batch_size,
                                       BatchifierOptions options)
    : PrefetchBatchifier(store_sources(stores), sequence_length, batch_size, std::move(options)) {}

}  // namespace mouse
