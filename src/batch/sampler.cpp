#include "batch/sampler.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <numeric>
#include <span>
#include <utility>

#include "batch/shard_schedule.hpp"
#include "core/rng.hpp"
#include "mouse/error.hpp"

namespace mouse::detail {

namespace {
// Stream kinds, so random-mode draws and epoch permutations never share a stream.
constexpr uint64_t kRandomStarts = 1;
constexpr uint64_t kEpochPermutation = 2;
// Random starts of one rank among several: streams of (seed, rank, batch).
constexpr uint64_t kRankRandomStarts = 3;
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

void check_distribution(const BatchifierState& st, size_t sources) {
  if (st.world_size < 1) {
    throw InvalidArgument(
        fmt::format("PrefetchBatchifier: world_size must be >= 1, got {}", st.world_size));
  }
  if (st.rank < 0 || st.rank >= st.world_size) {
    throw InvalidArgument(fmt::format(
        "PrefetchBatchifier: rank must be in [0, world_size {}), got {}", st.world_size, st.rank));
  }
  if (sources == 0) throw InvalidArgument("PrefetchBatchifier: no stores");
  if (st.weight_mode != "per_store" && st.weight_mode != "per_step") {
    throw InvalidArgument(fmt::format(
        "PrefetchBatchifier: weight_mode must be \"per_store\" or \"per_step\", got \"{}\"",
        st.weight_mode));
  }
  if (!st.weights.empty()) {
    if (st.weights.size() != sources) {
      throw InvalidArgument(fmt::format(
          "PrefetchBatchifier: weights has {} entries for {} stores", st.weights.size(), sources));
    }
    double sum = 0;
    for (size_t i = 0; i < st.weights.size(); ++i) {
      const double w = st.weights[i];
      if (!std::isfinite(w) || w < 0) {
        throw InvalidArgument(fmt::format(
            "PrefetchBatchifier: weights[{}] must be finite and >= 0, got {}", i, w));
      }
      sum += w;
    }
    if (!(sum > 0)) throw InvalidArgument("PrefetchBatchifier: the weights are all 0");
  }
}

Sampler::Sampler(std::vector<std::shared_ptr<const RowSource>> sources, BatchifierState state)
    : sources_(std::move(sources)),
      sampling_(parse_sampling(state.sampling)),
      boundaries_(parse_boundaries(state.boundaries)),
      state_(std::move(state)),
      per_step_(state_.weight_mode == "per_step") {
  indexes_.reserve(sources_.size());
  for (size_t i = 0; i < sources_.size(); ++i) {
    indexes_.emplace_back(boundaries_, state_.sequence_length);
  }
  for (size_t i = 0; i < sources_.size(); ++i) {
    StoreShards* shards = sources_[i]->shards();
    if (shards == nullptr) continue;
    if (sources_.size() > 1) {
      throw InvalidArgument(
          "PrefetchBatchifier: a remote store must be the batchifier's only store (its shard "
          "schedule decides every batch)");
    }
    if (boundaries_ == Boundaries::kEpisode) {
      throw InvalidArgument(
          "PrefetchBatchifier: boundaries \"episode\" is not available over a remote store "
          "(its episodes are only known once a shard is fetched); windows of a remote store "
          "never cross a shard, as with \"source\"");
    }
    schedule_ = std::make_unique<ShardSchedule>(*shards, sampling_, state_);
  }
}

Sampler::~Sampler() = default;

void Sampler::set_state(const BatchifierState& state) {
  state_ = state;
  perm_epoch_ = -1;  // the seed may differ
  if (schedule_) {
    StoreShards* shards = sources_[0]->shards();
    schedule_ = std::make_unique<ShardSchedule>(*shards, sampling_, state_);
  }
}
Sampler::Sampler(Sampler&&) noexcept = default;

void Sampler::update() {
  for (size_t i = 0; i < sources_.size(); ++i) indexes_[i].update(*sources_[i]);
}

int64_t Sampler::total_windows() const noexcept {
  int64_t n = 0;
  for (const WindowIndex& ix : indexes_) n += ix.num_windows();
  return n;
}

int64_t Sampler::total_starts() const noexcept {
  int64_t n = 0;
  for (const WindowIndex& ix : indexes_) n += ix.num_starts();
  return n;
}

std::vector<int64_t> Sampler::window_counts() const {
  std::vector<int64_t> counts;
  counts.reserve(indexes_.size());
  for (const WindowIndex& ix : indexes_) counts.push_back(ix.num_windows());
  return counts;
}

Window Sampler::concat_window(int64_t w, const std::vector<int64_t>& counts) const noexcept {
  size_t s = 0;
  while (s + 1 < counts.size() && w >= counts[s]) w -= counts[s++];
  Window win = indexes_[s].window_at(w);
  win.source = static_cast<int64_t>(s);
  return win;
}

void Sampler::check_plannable() {
  if (schedule_) {
    schedule_->check();
    return;
  }
  const bool one = sources_.size() == 1;
  if (one) {
    const int64_t rows = sources_[0]->size();
    if (rows < state_.sequence_length) {
      throw InvalidArgument(fmt::format(
          "PrefetchBatchifier: the store has {} rows, fewer than sequence_length {}", rows,
          state_.sequence_length));
    }
  }
  update();
  const std::string where =
      one ? fmt::format("the {} rows", indexes_[0].rows())
          : fmt::format("any of the {} stores", sources_.size());
  if (sampling_ == Sampling::kRandom && total_starts() == 0) {
    throw InvalidArgument(fmt::format(
        "PrefetchBatchifier: no window of {} steps fits in {} under boundaries \"{}\"",
        state_.sequence_length, where, state_.boundaries));
  }
  if (sampling_ != Sampling::kRandom && total_windows() == 0) {
    throw InvalidArgument(fmt::format(
        "PrefetchBatchifier: no window of {} steps in {} (boundaries \"{}\")",
        state_.sequence_length, where, state_.boundaries));
  }
  const int64_t need = state_.batch_size * state_.world_size;
  if (sampling_ == Sampling::kLast && total_windows() < need) {
    throw InvalidArgument(fmt::format(
        "PrefetchBatchifier: sampling \"last\" needs batch_size {}{} windows, the store{} {} "
        "({} rows, sequence_length {})",
        state_.batch_size,
        state_.world_size > 1 ? fmt::format(" x world_size {}", state_.world_size) : "",
        one ? " has" : "s have", total_windows(), indexes_[0].rows(), state_.sequence_length));
  }
  if ((sampling_ == Sampling::kSequential || sampling_ == Sampling::kBatch) &&
      rank_windows(total_windows()) == 0) {
    throw InvalidArgument(fmt::format(
        "PrefetchBatchifier: {} windows cannot be split over world_size {} with drop_last",
        total_windows(), state_.world_size));
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
  if (schedule_) return schedule_->total_batches(state_);
  update();
  const int64_t b = state_.batch_size;
  return (rank_windows(total_windows()) + b - 1) / b;
}

// One store: B uniform draws over its valid starts (the stream of a single process is the one
// it always was). Several: each window first draws its store, then a start in it.
void Sampler::plan_random(Plan& plan) {
  const int64_t b = state_.batch_size;
  const auto number = static_cast<uint64_t>(plan.number);
  CounterRng rng(state_.seed,
                 state_.world_size == 1
                     ? stream_id({kRandomStarts, number})
                     : stream_id({kRankRandomStarts, static_cast<uint64_t>(state_.rank), number}));
  plan.windows.reserve(static_cast<size_t>(b));
  if (sources_.size() == 1) {
    const int64_t starts = indexes_[0].num_starts();
    if (starts == 0) {
      throw InvalidArgument(fmt::format(
          "PrefetchBatchifier: no valid window start in the {} rows (sequence_length {}, "
          "boundaries \"{}\")",
          indexes_[0].rows(), state_.sequence_length, state_.boundaries));
    }
    for (int64_t i = 0; i < b; ++i) {
      const auto item = static_cast<int64_t>(rng.uniform_int(static_cast<uint64_t>(starts)));
      plan.windows.push_back(indexes_[0].start_at(item));
    }
    return;
  }
  // Cumulative weights of the stores that have a valid start now.
  std::vector<double> cumulative(sources_.size());
  double total = 0;
  for (size_t s = 0; s < sources_.size(); ++s) {
    const WindowIndex& ix = indexes_[s];
    double w = 0;
    if (ix.num_starts() > 0) {
      w = state_.weights.empty() ? 1.0 : state_.weights[s];
      if (per_step_) w *= static_cast<double>(ix.rows());
    }
    total += w;
    cumulative[s] = total;
  }
  if (!(total > 0)) {
    throw InvalidArgument(fmt::format(
        "PrefetchBatchifier: no store with a positive weight has a window of {} steps "
        "(boundaries \"{}\")",
        state_.sequence_length, state_.boundaries));
  }
  for (int64_t i = 0; i < b; ++i) {
    const double u = rng.uniform_double() * total;
    size_t s = 0;
    while (s + 1 < cumulative.size() && (u >= cumulative[s] || indexes_[s].num_starts() == 0)) {
      ++s;
    }
    while (indexes_[s].num_starts() == 0) --s;  // u rounded up to total: the last usable store
    const WindowIndex& ix = indexes_[s];
    const auto item =
        static_cast<int64_t>(rng.uniform_int(static_cast<uint64_t>(ix.num_starts())));
    Window w = ix.start_at(item);
    w.source = static_cast<int64_t>(s);
    plan.windows.push_back(w);
  }
}

Plan Sampler::plan() {
  if (schedule_) {
    Plan plan;
    plan.number = state_.batches;
    plan.epoch = state_.epoch;
    BatchifierState next = state_;
    ++next.batches;
    schedule_->plan(plan, next);
    state_ = next;
    plan.after = std::move(next);
    return plan;
  }
  update();
  const int64_t b = state_.batch_size;
  const int64_t rank = state_.rank;
  const int64_t world = state_.world_size;
  Plan plan;
  plan.number = state_.batches;
  plan.epoch = state_.epoch;
  BatchifierState next = state_;
  ++next.batches;
  switch (sampling_) {
    case Sampling::kRandom:
      plan_random(plan);
      break;
    case Sampling::kLast: {
      const std::vector<int64_t> counts = window_counts();
      const int64_t windows = total_windows();
      if (windows < b * world) {
        throw InvalidArgument(fmt::format(
            "PrefetchBatchifier: sampling \"last\" needs {} windows, the stores have {}",
            b * world, windows));
      }
      const int64_t first = windows - b * world + rank;
      for (int64_t k = 0; k < b; ++k) plan.windows.push_back(concat_window(first + k * world, counts));
      break;
    }
    case Sampling::kSequential:
    case Sampling::kBatch: {
      if (next.epoch_windows == 0) {
        next.epoch_windows = total_windows();
        if (sources_.size() > 1) next.epoch_store_windows = window_counts();
      }
      const int64_t windows = next.epoch_windows;
      if (windows == 0) {
        throw InvalidArgument(fmt::format(
            "PrefetchBatchifier: no window of {} steps in the {} rows", state_.sequence_length,
            indexes_[0].rows()));
      }
      std::vector<int64_t> counts =
          sources_.size() > 1 ? next.epoch_store_windows : std::vector<int64_t>{windows};
      for (size_t s = 0; s < counts.size(); ++s) {
        if (counts[s] > indexes_[s].num_windows()) {
          throw InvalidArgument(fmt::format(
              "PrefetchBatchifier: epoch {} was started with {} windows{}, the store now has {}",
              next.epoch, counts[s], sources_.size() > 1 ? fmt::format(" in store {}", s) : "",
              indexes_[s].num_windows()));
        }
      }
      const int64_t per_rank = rank_windows(windows);
      if (per_rank == 0) {
        throw InvalidArgument(fmt::format(
            "PrefetchBatchifier: {} windows cannot be split over world_size {} with drop_last",
            windows, world));
      }
      const int64_t n = std::min(b, per_rank - next.next_window);
      const std::vector<int64_t>* perm =
          sampling_ == Sampling::kBatch ? &permutation(next.epoch, windows) : nullptr;
      plan.windows.reserve(static_cast<size_t>(n));
      for (int64_t k = next.next_window; k < next.next_window + n; ++k) {
        const int64_t position = (rank + k * world) % windows;  // past the end: pad from the start
        const int64_t w = perm != nullptr ? (*perm)[static_cast<size_t>(position)] : position;
        plan.windows.push_back(concat_window(w, counts));
      }
      next.next_window += n;
      if (next.next_window == per_rank) {
        ++next.epoch;
        next.next_window = 0;
        next.epoch_windows = 0;
        next.epoch_store_windows.clear();
      }
      break;
    }
  }
  state_ = next;
  plan.after = std::move(next);
  return plan;
}

}  // namespace mouse::detail
