// Batches of a remote store, planned shard by shard (SPEC §8). Each epoch has a permutation of
// the shards (identity for "sequential"), keyed by (seed, epoch) and shared by all ranks, which
// deal it round-robin: position p to rank p mod world_size. Which shards a batch may draw from
// is a function of (seed, epoch, rank, batch number) only; the store's fetcher is told the
// shards of each planned batch and the ones the schedule reaches next, so it fetches ahead.
//
//  - "sequential" / "batch": the rank's epoch is its shards' windows (each shard tiled on its
//    own, S rows per window) in schedule order ("batch": each shard's windows in a permutation
//    of (seed, epoch, shard)); every rank runs the same number T of windows per epoch: the
//    largest rank's count, the short ranks wrapping to their first windows again (or, with
//    drop_last, the smallest count, the others cut).
//  - "random": the rank's shards form a stream, epoch after epoch; shard q of it is the oldest
//    of the `active_shards` a batch draws from for ceil(windows_q / B) batches (so each step is
//    drawn about once per epoch), B starts uniform over the active shards' valid starts.
//  - "last": the last B·world_size windows of the shards tiled in order, dealt round-robin.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "batch/sampler.hpp"
#include "mouse/dataset_store.hpp"

namespace mouse::detail {

class ShardSchedule {
 public:
  /// `config` holds S, B, seed, rank, world size and drop_last.
  ShardSchedule(StoreShards& shards, Sampling sampling, const BatchifierState& config);

  /// InvalidArgument when no batch can be planned: fewer shards than ranks, no window of S
  /// steps in the rank's shards.
  void check() const;
  /// Plans batch `plan.number` from position `next` and advances `next`.
  void plan(Plan& plan, BatchifierState& next);
  /// Batches of the epoch `state` is in, for this rank.
  int64_t total_batches(const BatchifierState& state);

 private:
  /// The rank's shards of `epoch`, in schedule order.
  std::vector<int64_t> rank_shards(int64_t epoch, int64_t rank) const;
  int64_t rank_window_count(int64_t epoch, int64_t rank) const;
  /// Windows every rank runs in `epoch`.
  int64_t epoch_windows(int64_t epoch) const;
  int64_t windows_of(int64_t shard) const noexcept { return rows_[static_cast<size_t>(shard)] / s_; }
  int64_t starts_of(int64_t shard) const noexcept {
    return std::max<int64_t>(0, rows_[static_cast<size_t>(shard)] - s_ + 1);
  }
  int64_t first_row(int64_t shard) const noexcept { return begin_[static_cast<size_t>(shard)]; }
  /// Window `w` of `shard` in `epoch` ("batch": through the shard's permutation).
  Window shard_window(int64_t epoch, int64_t shard, int64_t w) const;
  /// A place in the rank's stream of shards: epoch, position in its list, shard.
  struct Place {
    int64_t epoch, pos, shard;
  };
  /// The `count` places after position `pos` of epoch `epoch`'s rank list (into later epochs),
  /// skipping shards without a window.
  std::vector<Place> places_after(int64_t epoch, int64_t pos, int64_t count) const;
  /// Their shards.
  std::vector<int64_t> shards_after(int64_t epoch, int64_t pos, int64_t count) const;

  void plan_ordered(Plan& plan, BatchifierState& next, std::vector<int64_t>& needed,
                    std::vector<int64_t>& ahead);
  void plan_random(Plan& plan, BatchifierState& next, std::vector<int64_t>& needed,
                   std::vector<int64_t>& ahead);
  void plan_last(Plan& plan, std::vector<int64_t>& needed);

  /// Stream position of batch `batch` in "random": its epoch and the position in that epoch's
  /// rank list of its oldest active shard.
  std::pair<int64_t, int64_t> locate(int64_t batch);

  StoreShards& shards_;
  Sampling sampling_;
  int64_t s_, b_, rank_, world_;
  uint64_t seed_;
  bool drop_last_;
  int64_t active_, prefetch_;
  std::vector<int64_t> rows_;
  std::vector<int64_t> begin_;
  // Recent rank lists and window permutations, keyed (epoch, rank) and (epoch, shard): plans ask
  // for the same few again and again.
  struct Cached {
    int64_t epoch = -1, key = -1;
    std::vector<int64_t> values;
  };
  mutable std::vector<Cached> lists_;
  mutable std::vector<Cached> perms_;
  // "random": first batch of each epoch computed so far (epoch_begin_[e]).
  std::vector<int64_t> epoch_begin_{0};
};

}  // namespace mouse::detail
