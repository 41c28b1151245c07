// DatasetStore over a remote Hub layout (SPEC §8): opening it, and the reads that go shard by
// shard through the cache (store/remote_shards).
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <system_error>
#include <utility>

#include "hf/cache_entry.hpp"
#include "hf/remote_layout.hpp"
#include "mouse/dataset_store.hpp"
#include "mouse/error.hpp"
#include "store/remote_shards.hpp"
#include "store/split_select.hpp"
#include "store/store_state.hpp"

namespace mouse {

namespace fs = std::filesystem;

void DatasetStore::from_remote(std::string_view url, const RemoteStoreOptions& options) {
  const std::string shown(url);
  if (options.prefetch_shards < 0) {
    throw InvalidArgument(fmt::format("from_remote: prefetch_shards must be >= 0, got {}",
                                      options.prefetch_shards));
  }
  if (options.active_shards < 1) {
    throw InvalidArgument(
        fmt::format("from_remote: active_shards must be >= 1, got {}", options.active_shards));
  }
  if (options.cache_limit && *options.cache_limit <= 0) {
    throw InvalidArgument(
        fmt::format("from_remote: cache_limit must be > 0 bytes, got {}", *options.cache_limit));
  }
  if (size() > 0 || state_->remote) {
    throw InvalidArgument(fmt::format(
        "from_remote({}): the store already holds rows; a remote source must be a store's only "
        "source (mix stores in one PrefetchBatchifier instead)",
        shown));
  }
  fs::path cache_dir;
  if (options.cache_dir) {
    cache_dir = *options.cache_dir;
  } else if (auto root = detail::default_cache_root("remote")) {
    cache_dir = *root;
  } else {
    throw InvalidArgument(
        "from_remote: no cache directory: set MOUSE_DATA_CACHE, XDG_CACHE_HOME or HOME, or pass "
        "cache_dir");
  }
  std::error_code ec;
  fs::create_directories(cache_dir, ec);
  if (ec) {
    throw IoError(fmt::format("from_remote: cannot create cache_dir {}: {}", cache_dir.string(),
                              ec.message()));
  }
  auto keep = [&](const std::vector<std::string>& names) {
    return detail::select_splits(names, options.splits, options.split_pattern);
  };
  detail::RemoteLayout layout =
      detail::open_remote_layout(shown, options.config, options.remote, keep, cache_dir);
  int64_t limit = 0;
  if (options.cache_limit) {
    limit = *options.cache_limit;
  } else {
    const fs::space_info space = fs::space(cache_dir, ec);
    if (ec) {
      throw IoError(fmt::format("from_remote: cannot read the free space of {}: {}",
                                cache_dir.string(), ec.message()));
    }
    limit = static_cast<int64_t>(static_cast<double>(space.available) * 0.8);
  }
  int64_t bytes = 0;
  for (const auto& s : layout.shards) bytes += s.object.size;
  const std::string root = layout.root->display_url();
  const size_t nshards = layout.shards.size();
  auto shards = std::make_shared<detail::RemoteShards>(std::move(layout), cache_dir, limit,
                                                       state_->config, options);
  const int64_t rows = shards->rows();
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->remote = shards;
    state_->has_remote.store(true, std::memory_order_release);
    ++state_->version;
    state_->source_size.store(rows);
    state_->size.store(rows);
  }
  if (options.log) {
    std::fprintf(stderr, "mouse-data: %s: %zu shards, %lld rows, %.1f MB; cache %s (limit %.1f MB)\n",
                 root.c_str(), nshards, static_cast<long long>(rows),
                 static_cast<double>(bytes) / 1e6, cache_dir.string().c_str(),
                 static_cast<double>(limit) / 1e6);
  }
}

ShardCacheStats DatasetStore::cache_stats() const {
  std::shared_ptr<detail::RemoteShards> remote;
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    remote = state_->remote;
  }
  return remote ? remote->stats() : ShardCacheStats{};
}

StoreShards* DatasetStore::shards() const noexcept {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->remote.get();
}

}  // namespace mouse

namespace mouse::detail {

TensorDict remote_empty_rows(const RemoteShards& shards, int64_t rows, const Allocator& allocator) {
  if (rows < 0) throw InvalidArgument(fmt::format("empty_rows: rows must be >= 0, got {}", rows));
  const RemoteShards::Lease lease = shards.acquire(0);
  return lease.store().empty_rows(rows, allocator);
}

void remote_gather_windows(const RemoteShards& shards, std::span<const WindowSlot> windows,
                           int64_t sequence_length, TensorDict& out, const Allocator& allocator) {
  const int64_t s = sequence_length;
  if (s <= 0) {
    throw InvalidArgument(fmt::format("gather_windows: sequence_length must be > 0, got {}", s));
  }
  const int64_t n = shards.rows();
  const int64_t out_rows = out.batch_size().empty() ? 0 : out.batch_size()[0];
  // Windows by shard, each in its shard's rows.
  std::vector<std::pair<size_t, WindowSlot>> local;
  local.reserve(windows.size());
  const std::vector<int64_t>& starts = shards.starts();
  for (const WindowSlot& w : windows) {
    check_window_slot(w, s, out_rows, n);
    const size_t k = w.length == 0 ? 0 : shards.shard_of(w.start);
    const int64_t first = w.length == 0 ? 0 : w.start - starts[k];
    if (w.length > 0 && w.start + w.length > starts[k + 1]) {
      throw InvalidArgument(fmt::format(
          "gather_windows: rows [{}, {}) cross the end of shard {} at row {}; a remote store's "
          "windows stay inside one shard",
          w.start, w.start + w.length, k, starts[k + 1]));
    }
    local.emplace_back(k, WindowSlot{first, w.length, w.slot, w.row});
  }
  std::stable_sort(local.begin(), local.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<WindowSlot> part;
  for (size_t i = 0; i < local.size();) {
    const size_t k = local[i].first;
    part.clear();
    for (; i < local.size() && local[i].first == k; ++i) part.push_back(local[i].second);
    const RemoteShards::Lease lease = shards.acquire(k);
    if (out.size() == 0) out = lease.store().empty_rows(out_rows, allocator);
    lease.store().gather_windows(part, s, out, allocator);
  }
}

TensorDict remote_get(const RemoteShards& shards, std::span<const int64_t> indices,
                      const Allocator& allocator) {
  const int64_t n = shards.rows();
  std::vector<WindowSlot> windows;
  windows.reserve(indices.size());
  for (size_t i = 0; i < indices.size(); ++i) {
    int64_t g = indices[i];
    if (g < -n || g >= n) {
      throw IndexError(fmt::format("index {} is out of range for a store of {} rows", g, n));
    }
    if (g < 0) g += n;
    windows.push_back({g, 1, static_cast<int64_t>(i)});
  }
  TensorDict out;
  if (windows.empty()) return remote_empty_rows(shards, 0, allocator);
  out = TensorDict({static_cast<int64_t>(windows.size())});
  remote_gather_windows(shards, windows, 1, out, allocator);
  return out;
}

void remote_read_done(const RemoteShards& shards, int64_t begin, int64_t end,
                      std::span<int64_t> out) {
  const int64_t n = shards.rows();
  if (begin < 0 || begin > end || end > n) {
    throw IndexError(
        fmt::format("rows [{}, {}) are out of range for a store of {} rows", begin, end, n));
  }
  if (static_cast<int64_t>(out.size()) != end - begin) {
    throw InvalidArgument(fmt::format("read_done: out holds {} values for {} rows", out.size(),
                                      end - begin));
  }
  const std::vector<int64_t>& starts = shards.starts();
  for (int64_t row = begin; row < end;) {
    const size_t k = shards.shard_of(row);
    const int64_t stop = std::min(end, starts[k + 1]);
    const RemoteShards::Lease lease = shards.acquire(k);
    lease.store().read_done(row - starts[k], stop - starts[k],
                            out.subspan(static_cast<size_t>(row - begin),
                                        static_cast<size_t>(stop - row)));
    row = stop;
  }
}

}  // namespace mouse::detail
