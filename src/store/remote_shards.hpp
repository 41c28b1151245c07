// The shards of a remote store (SPEC §8): which are in the cache, which are being fetched, the
// background fetcher that works through the batchifier's schedule, and eviction when the cache
// limit would be passed. Each resident shard is a DatasetStore of its own over the mapped entry,
// so encoding a remote row is encoding a local one.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <map>
#include <span>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "hf/remote_layout.hpp"
#include "mouse/dataset_store.hpp"

namespace mouse::detail {

class RemoteShards final : public StoreShards {
 public:
  /// Checks the options and the shard sizes against the limit (InvalidArgument naming both
  /// sizes), then starts the fetcher thread. `config` is what each shard's store is built with.
  RemoteShards(RemoteLayout layout, std::filesystem::path cache_dir, int64_t cache_limit,
               const StoreConfig& config, const RemoteStoreOptions& options);
  /// Stops and joins the fetcher (an ongoing download finishes first).
  ~RemoteShards() override;
  RemoteShards(const RemoteShards&) = delete;
  RemoteShards& operator=(const RemoteShards&) = delete;

  /// A shard's store, kept in the cache (not evicted) while the lease lives.
  class Lease {
   public:
    Lease(const RemoteShards* owner, size_t shard, std::shared_ptr<const DatasetStore> store)
        : owner_(owner), shard_(shard), store_(std::move(store)) {}
    Lease(Lease&& o) noexcept : owner_(o.owner_), shard_(o.shard_), store_(std::move(o.store_)) {
      o.owner_ = nullptr;
    }
    Lease& operator=(Lease&&) = delete;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease();
    const DatasetStore& store() const noexcept { return *store_; }

   private:
    const RemoteShards* owner_;
    size_t shard_;
    std::shared_ptr<const DatasetStore> store_;
  };

  /// The store of `shard`, fetching it (or waiting for the fetcher) when it is not in the cache;
  /// a wait is counted as a stall. Rethrows the fetch's error.
  Lease acquire(size_t shard) const;
  /// The shard holding global row `row` (0 <= row < rows()).
  size_t shard_of(int64_t row) const noexcept;
  int64_t rows() const noexcept { return starts_.back(); }
  size_t num_shards() const noexcept { return layout_.shards.size(); }
  const RemoteLayout& layout() const noexcept { return layout_; }
  ShardCacheStats stats() const;

  // StoreShards
  const std::vector<int64_t>& starts() const noexcept override { return starts_; }
  int64_t prefetch_shards() const noexcept override { return prefetch_; }
  int64_t active_shards() const noexcept override { return active_; }
  void plan(int64_t batch, std::vector<int64_t> needed, std::vector<int64_t> ahead) override;
  void done(int64_t batch) override;

 private:
  enum class State { kAbsent, kFetching, kResident };
  struct Slot {
    State state = State::kAbsent;
    std::shared_ptr<const DatasetStore> store;
    int64_t bytes = 0;  // disk bytes when resident, the reservation while fetching
    int pins = 0;
    bool announced = false;  // a wait for it was logged
    std::chrono::steady_clock::time_point failed_at{};
  };
  using Lock = std::unique_lock<std::mutex>;

  void run_fetcher();
  /// The shards wanted, most urgent first (caller holds the lock).
  std::vector<size_t> wanted() const;
  /// Bytes to reserve while fetching `shard`: download plus decoded estimate.
  int64_t reservation(size_t shard) const noexcept;
  /// Evicts unpinned resident shards that are not among the first `protect` of `want`
  /// (those wanted last or never go first) until `need` more bytes fit; false (evicting
  /// nothing) when they cannot.
  bool make_room(int64_t need, size_t protect, const std::vector<size_t>& want) const;
  /// Fetches `shard` on this thread (the lock is released meanwhile and held again after);
  /// the slot must be kFetching with `reserved` bytes counted.
  void fill(Lock& lock, size_t shard, int64_t reserved) const;
  void note_bytes() const;
  void log(const std::string& line) const;

  RemoteLayout layout_;
  std::filesystem::path cache_dir_;
  int64_t limit_;
  StoreConfig config_;
  int64_t prefetch_;
  int64_t active_;
  bool log_;
  std::vector<int64_t> starts_;

  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  mutable std::vector<Slot> slots_;
  mutable int64_t used_ = 0;
  mutable int64_t peak_ = 0;
  mutable ShardCacheStats counters_;
  std::map<int64_t, std::vector<int64_t>> in_flight_;
  std::vector<int64_t> ahead_;
  bool stop_ = false;
  std::thread fetcher_;
};

}  // namespace mouse::detail

namespace mouse::detail {

/// DatasetStore::get over a remote store: the rows at `indices` (negative from the end),
/// fetching the shards they lie in.
TensorDict remote_get(const RemoteShards& shards, std::span<const int64_t> indices,
                      const Allocator& allocator);
/// DatasetStore::gather_windows over a remote store (argument checks as the local one; a window
/// crossing a shard boundary is InvalidArgument).
void remote_gather_windows(const RemoteShards& shards, std::span<const WindowSlot> windows,
                           int64_t sequence_length, TensorDict& out, const Allocator& allocator);
/// DatasetStore::read_done over a remote store.
void remote_read_done(const RemoteShards& shards, int64_t begin, int64_t end,
                      std::span<int64_t> out);
/// DatasetStore::empty_rows over a remote store (the layout of a resident shard, else shard 0's).
TensorDict remote_empty_rows(const RemoteShards& shards, int64_t rows, const Allocator& allocator);

}  // namespace mouse::detail
