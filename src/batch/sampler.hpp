// The batchifier's planner: decides, one batch at a time and in batch order, which windows each
// batch holds. Planning is cheap and sequential; assembling the planned windows into tensors is
// what the workers do in parallel. Every random draw is a pure function of (seed, batch number)
// or (seed, epoch), so plans do not depend on threads.
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

/// One planned batch.
struct Plan {
  int64_t number = 0;
  int64_t epoch = 0;
  std::vector<Window> windows;
  /// The sampler's state once this batch is taken.
  BatchifierState after;
};

/// Plans batches over a RowSource. Not thread-safe: the batchifier calls it under one lock.
class Sampler {
 public:
  /// `state` carries the configuration (sampling, boundaries, S, B, seed) and the position.
  Sampler(std::shared_ptr<const RowSource> source, BatchifierState state);

  /// Brings the index up to date and checks that a first batch can be planned (InvalidArgument
  /// naming what is missing: rows, valid starts, windows).
  void check_plannable();

  /// Plans the next batch and advances the position. Throws InvalidArgument when no batch can
  /// be planned (no valid window; "last" with fewer than B windows; an epoch of a restored state
  /// needing more windows than the store has); the position is then unchanged.
  Plan plan();

  /// Position after the last planned batch.
  const BatchifierState& state() const noexcept { return state_; }
  /// Replaces the position (already validated against the configuration).
  void set_state(const BatchifierState& state) {
    state_ = state;
    perm_epoch_ = -1;  // the seed may differ
  }

  /// ceil(W / B) for the current rows.
  int64_t total_batches();

  /// Whether batches carry a mask (boundaries "episode").
  bool padded() const noexcept { return boundaries_ == Boundaries::kEpisode; }

  const WindowIndex& index() const noexcept { return index_; }

 private:
  const std::vector<int64_t>& permutation(int64_t epoch, int64_t windows);

  std::shared_ptr<const RowSource> source_;
  Sampling sampling_;
  Boundaries boundaries_;
  BatchifierState state_;
  WindowIndex index_;
  std::vector<int64_t> perm_;
  int64_t perm_epoch_ = -1;
  int64_t perm_windows_ = -1;
};

}  // namespace mouse::detail
