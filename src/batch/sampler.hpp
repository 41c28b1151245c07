// The batchifier's planner: decides, one batch at a time and in batch order, which windows each
// batch holds. Planning is cheap and sequential; assembling the planned windows into tensors is
// what the workers do in parallel. Every random draw is a pure function of (seed, batch number)
// or (seed, epoch) — and of the rank when there are several — so plans do not depend on threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "batch/row_source.hpp"
#include "batch/window_index.hpp"
#include "mouse/batch.hpp"

namespace mouse::detail {

/// Sampling mode (BatchifierOptions::sampling).
enum class Sampling : uint8_t { kRandom, kLast, kSequential, kBatch };

/// Parses "random" / "last" / "sequential" / "batch"; InvalidArgument naming the value and the
/// accepted ones.
Sampling parse_sampling(std::string_view name);

/// Window lengths (BatchifierOptions::lengths).
enum class Lengths : uint8_t { kFixed, kRagged, kUniform };

/// Parses "fixed" / "ragged" / "uniform"; InvalidArgument naming the value and the accepted
/// ones.
Lengths parse_lengths(std::string_view name);

/// Checks the lengths / layout / max_tokens settings of `state` (SPEC §5.1): InvalidArgument
/// naming the option and its value.
void check_lengths(const BatchifierState& state);

/// Checks the multi-process and multi-store settings of `state` (rank, world size, weights,
/// weight mode) against `sources` stores; InvalidArgument naming the field and its value.
void check_distribution(const BatchifierState& state, size_t sources);

/// Windows each rank gets from an epoch of `windows` windows: ceil(windows / world_size), or
/// floor with drop_last.
inline int64_t rank_share(int64_t windows, int64_t world_size, bool drop_last) noexcept {
  return drop_last ? windows / world_size : (windows + world_size - 1) / world_size;
}

/// One planned batch.
struct Plan {
  int64_t number = 0;
  int64_t epoch = 0;
  std::vector<Window> windows;
  /// The sampler's state once this batch is taken.
  BatchifierState after;
  /// Held while the batch is planned but not assembled (a remote store keeps its shards).
  std::shared_ptr<void> ticket;
};

class ShardSchedule;

/// Plans batches over one or more RowSources. Not thread-safe: the batchifier calls it under
/// one lock.
class Sampler {
 public:
  /// `state` carries the configuration (sampling, boundaries, S, B, seed, rank, world size,
  /// weights) and the position; check_distribution(state, sources.size()) must have passed.
  Sampler(std::vector<std::shared_ptr<const RowSource>> sources, BatchifierState state);
  ~Sampler();
  Sampler(Sampler&&) noexcept;

  /// Brings the indexes up to date and checks that a first batch can be planned
  /// (InvalidArgument naming what is missing: rows, valid starts, windows).
  void check_plannable();

  /// Plans the next batch and advances the position. Throws InvalidArgument when no batch can
  /// be planned (no valid window; "last" with fewer than B windows per rank; an epoch of a
  /// restored state needing more windows than the stores have); the position is then unchanged.
  Plan plan();

  /// Position after the last planned batch.
  const BatchifierState& state() const noexcept { return state_; }
  /// Replaces the position (already validated against the configuration).
  void set_state(const BatchifierState& state);

  /// Batches in one epoch of this rank for the current rows.
  int64_t total_batches();

  /// Windows of one epoch of `windows` windows dealt to each rank.
  int64_t rank_windows(int64_t windows) const noexcept {
    return rank_share(windows, state_.world_size, state_.drop_last);
  }

  /// Whether padded batches carry a mask: the configuration can produce a window shorter than
  /// S (boundaries "episode", or lengths other than "fixed").
  bool padded() const noexcept {
    return (boundaries_ == Boundaries::kEpisode || lengths_ != Lengths::kFixed) && !schedule_;
  }

  const WindowIndex& index(size_t source = 0) const noexcept { return indexes_[source]; }

 private:
  const std::vector<int64_t>& permutation(int64_t epoch, int64_t windows);
  void update();
  int64_t total_windows() const noexcept;
  int64_t total_starts() const noexcept;
  /// Window `w` of the concatenation of the sources' windows, with `counts` windows per source.
  Window concat_window(int64_t w, const std::vector<int64_t>& counts) const noexcept;
  std::vector<int64_t> window_counts() const;
  void plan_random(Plan& plan);
  /// Adds windows from `next_window` (called with k = 0, 1, ...; returns the k-th candidate, or
  /// nothing past the end) under batch_size and max_tokens; returns how many were taken.
  template <class Next>
  int64_t take_windows(Plan& plan, int64_t limit, Next&& next_window) const;
  /// Window at position `position` of the epoch order of `windows` windows.
  Window epoch_window(int64_t position, int64_t windows, const std::vector<int64_t>& counts,
                      const std::vector<int64_t>* perm) const noexcept;

  std::vector<std::shared_ptr<const RowSource>> sources_;
  Sampling sampling_;
  Boundaries boundaries_;
  Lengths lengths_;
  BatchifierState state_;
  std::vector<WindowIndex> indexes_;
  bool per_step_ = false;
  std::vector<int64_t> perm_;
  /// Over a remote store: the shard schedule that plans instead of the window indexes.
  std::unique_ptr<ShardSchedule> schedule_;
  int64_t perm_epoch_ = -1;
  int64_t perm_windows_ = -1;
};

}  // namespace mouse::detail
