// DatasetStore as a RowSource. Kept in its own file so that code using the batchifier over
// other sources does not pull in the store.
#include <fmt/format.h>

#include <span>

#include "batch/row_source.hpp"
#include "mouse/batch.hpp"
#include "mouse/dataset_store.hpp"
#include "mouse/error.hpp"

namespace mouse::detail {

namespace {

// Every call goes through the store's public, thread-safe methods: each reads one snapshot.
class StoreRowSource final : public RowSource {
 public:
  explicit StoreRowSource(const DatasetStore& store) : store_(store) {}

  int64_t size() const override { return store_.size(); }
  std::vector<int64_t> segment_starts() const override { return store_.segment_starts(); }

  // Only the done column is read: encoding whole rows would decode every image of the range
  // just to find the episode ends.
  void read_done(int64_t begin, int64_t end, std::span<int64_t> out) const override {
    store_.read_done(begin, end, out);
  }

  TensorDict gather(std::span<const int64_t> rows, const Allocator& allocator) const override {
    return store_.get(rows, allocator);
  }

  TensorDict allocate(int64_t rows, const Allocator& allocator) const override {
    return store_.empty_rows(rows, allocator);
  }

  void gather_windows(std::span<const WindowSlot> windows, int64_t sequence_length,
                      TensorDict& out, const Allocator& allocator) const override {
    store_.gather_windows(windows, sequence_length, out, allocator);
  }

  StoreShards* shards() const override { return store_.shards(); }

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
