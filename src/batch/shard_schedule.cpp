#include "batch/shard_schedule.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>
#include <span>

#include "core/rng.hpp"
#include "mouse/error.hpp"

namespace mouse::detail {

namespace {
// Stream kinds of the schedule (apart from the sampler's own).
constexpr uint64_t kShardPermutation = 11;
constexpr uint64_t kShardWindowPermutation = 12;
constexpr uint64_t kShardRandomStarts = 13;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Entries kept per cache.
constexpr size_t kCached = 8;
}  // namespace

ShardSchedule::ShardSchedule(StoreShards& shards, Sampling sampling, const BatchifierState& c)
    : shards_(shards),
      sampling_(sampling),
      s_(c.sequence_length),
      b_(c.batch_size),
      rank_(c.rank),
      world_(c.world_size),
      seed_(c.seed),
      drop_last_(c.drop_last),
      active_(shards.active_shards()),
      prefetch_(shards.prefetch_shards()) {
  const std::vector<int64_t>& starts = shards.starts();
  for (size_t i = 0; i + 1 < starts.size(); ++i) {
    begin_.push_back(starts[i]);
    rows_.push_back(starts[i + 1] - starts[i]);
  }
}

std::vector<int64_t> ShardSchedule::rank_shards(int64_t epoch, int64_t rank) const {
  for (const Cached& c : lists_) {
    if (c.epoch == epoch && c.key == rank) return c.values;
  }
  const auto n = static_cast<int64_t>(rows_.size());
  std::vector<int64_t> order(static_cast<size_t>(n));
  if (sampling_ == Sampling::kSequential || sampling_ == Sampling::kLast) {
    std::iota(order.begin(), order.end(), int64_t{0});
  } else {
    CounterRng rng(seed_, stream_id({kShardPermutation, static_cast<uint64_t>(epoch)}));
    rng.permutation(std::span<int64_t>(order));
  }
  std::vector<int64_t> mine;
  for (int64_t p = rank; p < n; p += world_) mine.push_back(order[static_cast<size_t>(p)]);
  if (lists_.size() == kCached) lists_.erase(lists_.begin());
  lists_.push_back({epoch, rank, mine});
  return mine;
}

int64_t ShardSchedule::rank_window_count(int64_t epoch, int64_t rank) const {
  int64_t n = 0;
  for (int64_t k : rank_shards(epoch, rank)) n += windows_of(k);
  return n;
}

int64_t ShardSchedule::epoch_windows(int64_t epoch) const {
  int64_t t = drop_last_ ? INT64_MAX : 0;
  for (int64_t r = 0; r < world_; ++r) {
    const int64_t w = rank_window_count(epoch, r);
    t = drop_last_ ? std::min(t, w) : std::max(t, w);
  }
  return t;
}

void ShardSchedule::check() const {
  const auto n = static_cast<int64_t>(rows_.size());
  if (n < world_) {
    throw InvalidArgument(fmt::format(
        "PrefetchBatchifier: the remote store has {} shards, fewer than world_size {}: each "
        "rank reads whole shards",
        n, world_));
  }
  int64_t most = 0;
  for (int64_t k = 0; k < n; ++k) most = std::max(most, rows_[static_cast<size_t>(k)]);
  if (most < s_) {
    throw InvalidArgument(fmt::format(
        "PrefetchBatchifier: no window of {} steps fits in a shard of the remote store (its "
        "largest has {} rows; windows never cross shards)",
        s_, most));
  }
  if (sampling_ == Sampling::kSequential || sampling_ == Sampling::kBatch) {
    for (int64_t r = 0; r < world_; ++r) {
      if (rank_window_count(0, r) == 0) {
        throw InvalidArgument(fmt::format(
            "PrefetchBatchifier: rank {} of {} gets no window of {} steps from its shards in "
            "epoch 0",
            r, world_, s_));
      }
    }
  }
  if (sampling_ == Sampling::kLast) {
    int64_t windows = 0;
    for (int64_t k = 0; k < n; ++k) windows += windows_of(k);
    if (windows < b_ * world_) {
      throw InvalidArgument(fmt::format(
          "PrefetchBatchifier: sampling \"last\" needs {} windows, the remote store's shards "
          "have {}",
          b_ * world_, windows));
    }
  }
  if (sampling_ == Sampling::kRandom) {
    const std::vector<int64_t> mine = rank_shards(0, rank_);
    if (std::none_of(mine.begin(), mine.end(), [&](int64_t k) { return starts_of(k) > 0; })) {
      throw InvalidArgument(fmt::format(
          "PrefetchBatchifier: rank {}'s shards of epoch 0 hold no window of {} steps", rank_,
          s_));
    }
  }
}

Window ShardSchedule::shard_window(int64_t epoch, int64_t shard, int64_t w) const {
  if (sampling_ == Sampling::kBatch) {
    const Cached* hit = nullptr;
    for (const Cached& c : perms_) {
      if (c.epoch == epoch && c.key == shard) hit = &c;
    }
    if (hit == nullptr) {
      std::vector<int64_t> perm(static_cast<size_t>(windows_of(shard)));
      CounterRng rng(seed_, stream_id({kShardWindowPermutation, static_cast<uint64_t>(epoch),
                                       static_cast<uint64_t>(shard)}));
      rng.permutation(std::span<int64_t>(perm));
      if (perms_.size() == kCached) perms_.erase(perms_.begin());
      perms_.push_back({epoch, shard, std::move(perm)});
      hit = &perms_.back();
    }
    w = hit->values[static_cast<size_t>(w)];
  }
  return Window{first_row(shard) + w * s_, s_, 0};
}

std::vector<ShardSchedule::Place> ShardSchedule::places_after(int64_t epoch, int64_t pos,
                                                             int64_t count) const {
  std::vector<Place> out;
  // At most two epochs further: the schedule only needs the next few shards.
  for (int64_t e = epoch; e <= epoch + 2 && static_cast<int64_t>(out.size()) < count; ++e) {
    const std::vector<int64_t> list = rank_shards(e, rank_);
    for (auto p = static_cast<size_t>(e == epoch ? pos + 1 : 0);
         p < list.size() && static_cast<int64_t>(out.size()) < count; ++p) {
      if (sampling_ == Sampling::kRandom && starts_of(list[p]) == 0) continue;
      if (sampling_ != Sampling::kRandom && windows_of(list[p]) == 0) continue;
      out.push_back({e, static_cast<int64_t>(p), list[p]});
    }
  }
  return out;
}

std::vector<int64_t> ShardSchedule::shards_after(int64_t epoch, int64_t pos, int64_t count) const {
  std::vector<int64_t> out;
  for (const Place& p : places_after(epoch, pos, count)) out.push_back(p.shard);
  return out;
}

void ShardSchedule::plan_ordered(Plan& plan, BatchifierState& next, std::vector<int64_t>& needed,
                                 std::vector<int64_t>& ahead) {
  // epoch_windows counts all ranks' windows (world_size · T), as for a local store.
  if (next.epoch_windows == 0) next.epoch_windows = epoch_windows(next.epoch) * world_;
  const int64_t total = next.epoch_windows / world_;
  if (total == 0) {
    throw InvalidArgument(fmt::format(
        "PrefetchBatchifier: epoch {} deals no window of {} steps to some rank (drop_last)",
        next.epoch, s_));
  }
  const std::vector<int64_t> list = rank_shards(next.epoch, rank_);
  std::vector<int64_t> prefix{0};
  for (int64_t k : list) prefix.push_back(prefix.back() + windows_of(k));
  const int64_t mine = prefix.back();
  if (mine == 0) {
    throw InvalidArgument(fmt::format(
        "PrefetchBatchifier: rank {} gets no window of {} steps from its shards in epoch {}",
        rank_, s_, next.epoch));
  }
  const int64_t n = std::min(b_, total - next.next_window);
  int64_t last_pos = 0;
  for (int64_t j = next.next_window; j < next.next_window + n; ++j) {
    const int64_t idx = j < mine ? j : (j - mine) % mine;  // short ranks wrap to their start
    const auto pos = static_cast<int64_t>(
        std::upper_bound(prefix.begin(), prefix.end(), idx) - prefix.begin() - 1);
    const int64_t shard = list[static_cast<size_t>(pos)];
    plan.windows.push_back(shard_window(next.epoch, shard, idx - prefix[static_cast<size_t>(pos)]));
    if (needed.empty() || needed.back() != shard) needed.push_back(shard);
    last_pos = pos;
  }
  // The next batch goes on in the last window's shard, then the schedule brings the next ones.
  ahead = {list[static_cast<size_t>(last_pos)]};
  for (int64_t k : shards_after(next.epoch, last_pos, prefetch_)) {
    if (k != ahead.front()) ahead.push_back(k);
  }
  next.next_window += n;
  if (next.next_window == total) {
    ++next.epoch;
    next.next_window = 0;
    next.epoch_windows = 0;
  }
}

std::pair<int64_t, int64_t> ShardSchedule::locate(int64_t batch) {
  // Epoch boundaries, extended as far as needed (the lifetimes of a rank's shards differ from
  // epoch to epoch, as its shards do).
  while (epoch_begin_.back() <= batch) {
    const auto e = static_cast<int64_t>(epoch_begin_.size()) - 1;
    int64_t life = 0;
    for (int64_t k : rank_shards(e, rank_)) {
      if (starts_of(k) > 0) life += std::max<int64_t>(1, ceil_div(windows_of(k), b_));
    }
    if (life == 0) {
      throw InvalidArgument(fmt::format(
          "PrefetchBatchifier: rank {}'s shards of epoch {} hold no window of {} steps", rank_, e,
          s_));
    }
    epoch_begin_.push_back(epoch_begin_.back() + life);
  }
  const auto e = static_cast<int64_t>(
      std::upper_bound(epoch_begin_.begin(), epoch_begin_.end(), batch) - epoch_begin_.begin() -
      1);
  int64_t at = epoch_begin_[static_cast<size_t>(e)];
  const std::vector<int64_t> list = rank_shards(e, rank_);
  for (size_t p = 0; p < list.size(); ++p) {
    if (starts_of(list[p]) == 0) continue;
    at += std::max<int64_t>(1, ceil_div(windows_of(list[p]), b_));
    if (batch < at) return {e, static_cast<int64_t>(p)};
  }
  return {e, static_cast<int64_t>(list.size()) - 1};  // not reached
}

void ShardSchedule::plan_random(Plan& plan, BatchifierState& next, std::vector<int64_t>& needed,
                                std::vector<int64_t>& ahead) {
  const auto [epoch, pos] = locate(plan.number);
  const std::vector<int64_t> list = rank_shards(epoch, rank_);
  std::vector<Place> places{{epoch, pos, list[static_cast<size_t>(pos)]}};
  for (const Place& p : places_after(epoch, pos, active_ - 1)) places.push_back(p);
  std::vector<int64_t> active;
  for (const Place& p : places) {
    if (std::find(active.begin(), active.end(), p.shard) == active.end()) active.push_back(p.shard);
  }
  std::vector<int64_t> cumulative;
  int64_t total = 0;
  for (int64_t k : active) cumulative.push_back(total += starts_of(k));
  CounterRng rng(seed_, stream_id({kShardRandomStarts, static_cast<uint64_t>(rank_),
                                   static_cast<uint64_t>(plan.number)}));
  for (int64_t i = 0; i < b_; ++i) {
    const auto u = static_cast<int64_t>(rng.uniform_int(static_cast<uint64_t>(total)));
    const auto a = static_cast<size_t>(
        std::upper_bound(cumulative.begin(), cumulative.end(), u) - cumulative.begin());
    const int64_t shard = active[a];
    const int64_t offset = u - (a == 0 ? 0 : cumulative[a - 1]);
    plan.windows.push_back(Window{first_row(shard) + offset, s_, 0});
  }
  for (int64_t k : active) {
    const bool used = std::any_of(plan.windows.begin(), plan.windows.end(), [&](const Window& w) {
      return w.start >= first_row(k) && w.start < first_row(k) + rows_[static_cast<size_t>(k)];
    });
    if (used) needed.push_back(k);
  }
  // The active shards stay; the next ones come.
  ahead = active;
  for (const Place& p : places_after(places.back().epoch, places.back().pos, prefetch_)) {
    if (std::find(ahead.begin(), ahead.end(), p.shard) == ahead.end()) ahead.push_back(p.shard);
  }
  plan.epoch = epoch;
  next.epoch = epoch;
}

void ShardSchedule::plan_last(Plan& plan, std::vector<int64_t>& needed) {
  std::vector<int64_t> prefix{0};
  for (size_t k = 0; k < rows_.size(); ++k) {
    prefix.push_back(prefix.back() + windows_of(static_cast<int64_t>(k)));
  }
  const int64_t first = prefix.back() - b_ * world_ + rank_;
  for (int64_t j = 0; j < b_; ++j) {
    const int64_t w = first + j * world_;
    const auto k = static_cast<int64_t>(
        std::upper_bound(prefix.begin(), prefix.end(), w) - prefix.begin() - 1);
    plan.windows.push_back(Window{first_row(k) + (w - prefix[static_cast<size_t>(k)]) * s_, s_, 0});
    if (needed.empty() || needed.back() != k) needed.push_back(k);
  }
}

void ShardSchedule::plan(Plan& plan, BatchifierState& next) {
  std::vector<int64_t> needed;
  std::vector<int64_t> ahead;
  plan.windows.reserve(static_cast<size_t>(b_));
  switch (sampling_) {
    case Sampling::kRandom:
      plan_random(plan, next, needed, ahead);
      break;
    case Sampling::kLast:
      plan_last(plan, needed);
      break;
    case Sampling::kSequential:
    case Sampling::kBatch:
      plan_ordered(plan, next, needed, ahead);
      break;
  }
  const int64_t number = plan.number;
  StoreShards* shards = &shards_;
  shards->plan(number, std::move(needed), std::move(ahead));
  // The batch's shards may leave the cache once the plan is gone (assembled or dropped).
  plan.ticket = std::shared_ptr<void>(nullptr, [shards, number](void*) { shards->done(number); });
}

int64_t ShardSchedule::total_batches(const BatchifierState& state) {
  if (sampling_ == Sampling::kRandom) {
    const auto [epoch, pos] = locate(state.batches);
    (void)pos;
    return epoch_begin_[static_cast<size_t>(epoch) + 1] - epoch_begin_[static_cast<size_t>(epoch)];
  }
  if (sampling_ == Sampling::kLast) return 1;
  const int64_t total =
      state.epoch_windows != 0 ? state.epoch_windows / world_ : epoch_windows(state.epoch);
  return ceil_div(total, b_);
}

}  // namespace mouse::detail
