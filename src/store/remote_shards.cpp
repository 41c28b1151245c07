#include "store/remote_shards.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <limits>
#include <utility>

#include "core/cancel.hpp"
#include "mouse/error.hpp"

namespace mouse::detail {

namespace fs = std::filesystem;

namespace {

// A shard whose background fetch failed is tried again by the fetcher after this long (a batch
// that needs it fetches it at once itself).
constexpr auto kRetryFailedAfter = std::chrono::seconds(2);
constexpr size_t kNever = std::numeric_limits<size_t>::max();

std::string mb(int64_t bytes) { return fmt::format("{:.1f} MB", static_cast<double>(bytes) / 1e6); }

}  // namespace

RemoteShards::RemoteShards(RemoteLayout layout, fs::path cache_dir, int64_t cache_limit,
                           const StoreConfig& config, const RemoteStoreOptions& options)
    : layout_(std::move(layout)),
      cache_dir_(std::move(cache_dir)),
      limit_(cache_limit),
      config_(config),
      prefetch_(options.prefetch_shards),
      active_(options.active_shards),
      log_(options.log),
      slots_(layout_.shards.size()) {
  starts_.reserve(layout_.shards.size() + 1);
  starts_.push_back(0);
  for (const RemoteShard& s : layout_.shards) starts_.push_back(starts_.back() + s.rows);
  for (size_t i = 0; i < layout_.shards.size(); ++i) {
    const int64_t need = reservation(i);
    if (need > limit_) {
      throw InvalidArgument(fmt::format(
          "{}: shard {} needs {} bytes in the cache ({} bytes downloaded, about {} decoded), more "
          "than cache_limit {} bytes",
          layout_.root->display_url(), layout_.shards[i].url, need, layout_.shards[i].object.size,
          layout_.shards[i].decoded_estimate, limit_));
    }
  }
  counters_.shards = static_cast<int64_t>(layout_.shards.size());
  counters_.cache_limit = limit_;
  fetcher_ = std::thread([this] { run_fetcher(); });
}

RemoteShards::~RemoteShards() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  // A fetch in flight (or waiting out retries against a server that is gone) ends now rather
  // than after the retry policy's max_total_s. The root belongs to this store alone.
  layout_.root->cancel();
  if (fetcher_.joinable()) fetcher_.join();
}

RemoteShards::Lease::~Lease() {
  if (owner_ == nullptr) return;
  {
    std::lock_guard lock(owner_->mutex_);
    --owner_->slots_[shard_].pins;
  }
  owner_->changed_.notify_all();
}

int64_t RemoteShards::reservation(size_t shard) const noexcept {
  const RemoteShard& s = layout_.shards[shard];
  // Decoded Arrow is about the footer's uncompressed size; offsets, validity bitmaps and the
  // dataset's own small files come on top.
  return s.object.size + s.decoded_estimate + s.decoded_estimate / 8 + (16 << 10);
}

size_t RemoteShards::shard_of(int64_t row) const noexcept {
  const auto it = std::upper_bound(starts_.begin(), starts_.end(), row);
  return static_cast<size_t>(it - starts_.begin()) - 1;
}

std::vector<size_t> RemoteShards::wanted() const {
  std::vector<size_t> out;
  std::vector<bool> seen(slots_.size(), false);
  auto add = [&](int64_t s) {
    if (s < 0 || static_cast<size_t>(s) >= slots_.size() || seen[static_cast<size_t>(s)]) return;
    seen[static_cast<size_t>(s)] = true;
    out.push_back(static_cast<size_t>(s));
  };
  for (const auto& [batch, needed] : in_flight_) {
    for (int64_t s : needed) add(s);
  }
  for (int64_t s : ahead_) add(s);
  return out;
}

void RemoteShards::plan(int64_t batch, std::vector<int64_t> needed, std::vector<int64_t> ahead) {
  {
    std::lock_guard lock(mutex_);
    in_flight_[batch] = std::move(needed);
    ahead_ = std::move(ahead);
  }
  changed_.notify_all();
}

void RemoteShards::done(int64_t batch) {
  {
    std::lock_guard lock(mutex_);
    in_flight_.erase(batch);
  }
  changed_.notify_all();
}

bool RemoteShards::make_room(int64_t need, size_t protect, const std::vector<size_t>& want) const {
  if (used_ + need <= limit_) return true;
  // Victims: resident, unpinned, not among the first `protect` wanted, farthest first.
  std::vector<std::pair<size_t, size_t>> victims;  // (rank in want, shard)
  for (size_t s = 0; s < slots_.size(); ++s) {
    const Slot& slot = slots_[s];
    if (slot.state != State::kResident || slot.pins > 0) continue;
    const auto it = std::find(want.begin(), want.end(), s);
    const size_t r = it == want.end() ? kNever : static_cast<size_t>(it - want.begin());
    if (r != kNever && r < protect) continue;
    victims.emplace_back(r, s);
  }
  std::sort(victims.begin(), victims.end(), std::greater<>());
  int64_t freed = 0;
  size_t take = 0;
  while (take < victims.size() && used_ - freed + need > limit_) {
    freed += slots_[victims[take].second].bytes;
    ++take;
  }
  if (used_ - freed + need > limit_) return false;
  for (size_t i = 0; i < take; ++i) {
    const size_t s = victims[i].second;
    Slot& slot = slots_[s];
    // Readers holding the store keep its mapping; the files go now.
    evict_remote_shard(cache_dir_, layout_.shards[s]);
    used_ -= slot.bytes;
    slot.bytes = 0;
    slot.store.reset();
    slot.state = State::kAbsent;
    slot.announced = false;
    ++counters_.evictions;
  }
  return true;
}

void RemoteShards::note_bytes() const {
  peak_ = std::max(peak_, used_);
}

void RemoteShards::log(const std::string& line) const {
  if (log_) std::fprintf(stderr, "mouse-data: %s\n", line.c_str());
}

void RemoteShards::fill(Lock& lock, size_t shard, int64_t reserved) const {
  lock.unlock();
  FetchedShard fetched;
  std::shared_ptr<DatasetStore> store;
  std::exception_ptr error;
  try {
    fetched = fetch_remote_shard(layout_, shard, cache_dir_);
    store = std::make_shared<DatasetStore>(config_);
    try {
      store->from_dataset(fetched.dataset);
    } catch (const InvalidArgument& e) {
      throw InvalidArgument(fmt::format("{}: {}", layout_.shards[shard].url, e.what()));
    }
  } catch (...) {
    error = std::current_exception();
  }
  lock.lock();
  Slot& slot = slots_[shard];
  if (error) {
    used_ -= reserved;
    slot.state = State::kAbsent;
    slot.failed_at = std::chrono::steady_clock::now();
    changed_.notify_all();
    std::rethrow_exception(error);
  }
  used_ += fetched.disk_bytes - reserved;
  note_bytes();
  slot.bytes = fetched.disk_bytes;
  slot.store = std::move(store);
  slot.state = State::kResident;
  if (fetched.cached) {
    ++counters_.cache_hits;
  } else {
    ++counters_.shards_fetched;
  }
  changed_.notify_all();
}

void RemoteShards::run_fetcher() {
  Lock lock(mutex_);
  while (!stop_) {
    const std::vector<size_t> want = wanted();
    const auto now = std::chrono::steady_clock::now();
    size_t pick = kNever;
    size_t rank = 0;
    bool waiting_on_retry = false;
    for (size_t r = 0; r < want.size(); ++r) {
      const Slot& slot = slots_[want[r]];
      if (slot.state != State::kAbsent) continue;
      if (slot.failed_at != std::chrono::steady_clock::time_point{} &&
          now - slot.failed_at < kRetryFailedAfter) {
        waiting_on_retry = true;
        continue;
      }
      pick = want[r];
      rank = r;
      break;
    }
    if (pick == kNever) {
      if (waiting_on_retry) {
        changed_.wait_for(lock, kRetryFailedAfter);
      } else {
        changed_.wait(lock);
      }
      continue;
    }
    const int64_t need = reservation(pick);
    if (!make_room(need, rank + 1, want)) {
      // Everything resident is pinned or needed sooner: wait for a batch to finish.
      changed_.wait_for(lock, std::chrono::milliseconds(200));
      continue;
    }
    slots_[pick].state = State::kFetching;
    used_ += need;
    note_bytes();
    try {
      fill(lock, pick, need);
    } catch (const std::exception& e) {
      if (stop_) break;  // cancelled by the destructor
      log(fmt::format("prefetching {} failed ({}); a batch that needs it fetches it again",
                      layout_.shards[pick].url, e.what()));
    }
  }
}

RemoteShards::Lease RemoteShards::acquire(size_t shard) const {
  Lock lock(mutex_);
  Slot& slot = slots_[shard];
  if (slot.state == State::kResident) {
    ++slot.pins;
    return Lease(this, shard, slot.store);
  }
  const auto start = std::chrono::steady_clock::now();
  bool stalled = false;
  bool& announced = slot.announced;
  auto count_stall = [&] {
    if (stalled) return;
    stalled = true;
    ++counters_.stalls;
  };
  // Waits in slices so a batchifier closing meanwhile (core/cancel.hpp) ends this one.
  auto check_cancel = [&] {
    if (detail::cancel_requested()) {
      throw IoError(fmt::format("{}: the wait for shard {} was cancelled (its reader is closing)",
                                layout_.root->display_url(), layout_.shards[shard].url));
    }
  };
  for (;;) {
    if (slot.state == State::kResident) break;
    check_cancel();
    if (slot.state == State::kFetching) {
      count_stall();
      if (!announced) {
        announced = true;
        log(fmt::format("waiting for shard {} ({})", layout_.shards[shard].url,
                        mb(layout_.shards[shard].object.size)));
      }
      changed_.wait_for(lock, std::chrono::milliseconds(100));
      continue;
    }
    // Absent: fetch it here, making room first (anything unpinned may go).
    const int64_t need = reservation(shard);
    const std::vector<size_t> want = wanted();
    if (!make_room(need, 0, want)) {
      count_stall();
      changed_.wait_for(lock, std::chrono::milliseconds(200));
      continue;
    }
    const bool cached = cached_shard_bytes(cache_dir_, layout_.shards[shard]).has_value();
    if (!cached) {
      count_stall();
      if (!announced) {
        announced = true;
        log(fmt::format("fetching shard {} ({})", layout_.shards[shard].url,
                        mb(layout_.shards[shard].object.size)));
      }
    }
    slot.state = State::kFetching;
    used_ += need;
    note_bytes();
    fill(lock, shard, need);
  }
  if (stalled) {
    counters_.stall_seconds +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  ++slot.pins;
  return Lease(this, shard, slot.store);
}

ShardCacheStats RemoteShards::stats() const {
  std::lock_guard lock(mutex_);
  ShardCacheStats s = counters_;
  const remote::TransferStats t = layout_.root->stats();
  s.bytes_fetched = t.bytes;
  s.requests = t.requests;
  s.retries = t.retries;
  s.cache_bytes = used_;
  s.cache_bytes_peak = peak_;
  s.resident = 0;
  for (const Slot& slot : slots_) s.resident += slot.state == State::kResident ? 1 : 0;
  return s;
}

}  // namespace mouse::detail
