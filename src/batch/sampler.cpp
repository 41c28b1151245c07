#include "batch/sampler.hpp"

#include <fmt/format.h>

#include <span>
#include <utility>

#include "core/rng.hpp"
#include "mouse/error.hpp"

namespace mouse::detail {

namespace {
// Stream kinds, so random-mode draws and epoch permutations never share a stream.
constexpr uint64_t kRandomStarts = 1;
constexpr uint64_t kEpochPermutation = 2;
}  // namespace

Sampling parse_sampling(std::string_view name) {
  if (name == "random") return Sampling::kRandom;
  if (name == "last") return Sampling::kLast;
  if (name == "sequential") return Sampling::kSequential;
  if (name == "batch") return Sampling::kBatch;
  throw InvalidArgument(fmt::format(
      "PrefetchBatchifier: sampling must be \"random\", \"last\", \"sequential\" or \"batch\", "
      "got \"{}\"",
      name));
}

Sampler::Sampler(std::shared_ptr<const RowSource> source, BatchifierState state)
    : source_(std::move(source)),
      sampling_(parse_sampling(state.sampling)),
      boundaries_(parse_boundaries(state.boundaries)),
      state_(std::move(state)),
      index_(boundaries_, state_.sequence_length) {}

void Sampler::check_plannable() {
  const int64_t rows = source_->size();
  if (rows < state_.sequence_length) {
    throw InvalidArgument(fmt::format(
        "PrefetchBatchifier: the store has {} rows, fewer than sequence_length {}", rows,
        state_.sequence_length));
  }
  index_.update(*source_);
  if (sampling_ == Sampling::kRandom && index_.num_starts() == 0) {
    throw InvalidArgument(fmt::format(
        "PrefetchBatchifier: no window of {} steps fits in the {} rows under boundaries "
        "\"{}\"",
        state_.sequence_length, index_.rows(), state_.boundaries));
  }
  if (sampling_ != Sampling::kRandom && index_.num_windows() == 0) {
    throw InvalidArgument(fmt::format(
        "PrefetchBatchifier: no window of {} steps in the {} rows (boundaries \"{}\")",
        state_.sequence_length, index_.rows(), state_.boundaries));
  }
  if (sampling_ == Sampling::kLast && index_.num_windows() < state_.batch_size) {
    throw InvalidArgument(fmt::format(
        "PrefetchBatchifier: sampling \"last\" needs batch_size {} windows, the store has {} "
        "({} rows, sequence_length {})",
        state_.batch_size, index_.num_windows(), index_.rows(), state_.sequence_length));
  }
}

const std::vector<int64_t>& Sampler::permutation(int64_t epoch, int64_t windows) {
  if (perm_epoch_ != epoch || perm_windows_ != windows) {
    perm_.resize(static_cast<size_t>(windows));
    CounterRng rng(state_.seed, stream_id({kEpochPermutation, static_cast<uint64_t>(epoch)}));
    rng.permutation(std::span<int64_t>(perm_));
    perm_epoch_ = epoch;
    perm_windows_ = windows;
  }
  return perm_;
}

int64_t Sampler::total_batches() {
  index_.update(*source_);
  const int64_t b = state_.batch_size;
  return (index_.num_windows() + b - 1) / b;
}

Plan Sampler::plan() {
  index_.update(*source_);
  const int64_t b = state_.batch_size;
  Plan plan;
  plan.number = state_.batches;
  plan.epoch = state_.epoch;
  BatchifierState next = state_;
  ++next.batches;
  switch (sampling_) {
    case Sampling::kRandom: {
      const int64_t starts = index_.num_starts();
      if (starts == 0) {
        throw InvalidArgument(fmt::format(
            "PrefetchBatchifier: no valid window start in the {} rows (sequence_length {}, "
            "boundaries \"{}\")",
            index_.rows(), state_.sequence_length, state_.boundaries));
      }
      CounterRng rng(state_.seed, stream_id({kRandomStarts, static_cast<uint64_t>(plan.number)}));
      plan.windows.reserve(static_cast<size_t>(b));
      for (int64_t i = 0; i < b; ++i) {
        const auto item = static_cast<int64_t>(rng.uniform_int(static_cast<uint64_t>(starts)));
        plan.windows.push_back(index_.start_at(item));
      }
      break;
    }
    case Sampling::kLast: {
      const int64_t windows = index_.num_windows();
      if (windows < b) {
        throw InvalidArgument(fmt::format(
            "PrefetchBatchifier: sampling \"last\" needs batch_size {} windows, the store has {}",
            b, windows));
      }
      for (int64_t w = windows - b; w < windows; ++w) plan.windows.push_back(index_.window_at(w));
      break;
    }
    case Sampling::kSequential:
    case Sampling::kBatch: {
      if (next.epoch_windows == 0) next.epoch_windows = index_.num_windows();
      const int64_t windows = next.epoch_windows;
      if (windows == 0) {
        throw InvalidArgument(fmt::format(
            "PrefetchBatchifier: no window of {} steps in the {} rows", state_.sequence_length,
            index_.rows()));
      }
      if (windows > index_.num_windows()) {
        throw InvalidArgument(fmt::format(
            "PrefetchBatchifier: epoch {} was started with {} windows, the store now has {}",
            next.epoch, windows, index_.num_windows()));
      }
      const int64_t n = std::min(b, windows - next.next_window);
      const std::vector<int64_t>* perm =
          sampling_ == Sampling::kBatch ? &permutation(next.epoch, windows) : nullptr;
      plan.windows.reserve(static_cast<size_t>(n));
      for (int64_t i = next.next_window; i < next.next_window + n; ++i) {
        const int64_t w = perm != nullptr ? (*perm)[static_cast<size_t>(i)] : i;
        plan.windows.push_back(index_.window_at(w));
      }
      next.next_window += n;
      if (next.next_window == windows) {
        ++next.epoch;
        next.next_window = 0;
        next.epoch_windows = 0;
      }
      break;
    }
  }
  state_ = next;
  plan.after = std::move(next);
  return plan;
}

}  // namespace mouse::detail
