#include "batch/sampler.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
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

Lengths parse_lengths(std::string_view name) {
  if (name == "fixed") return Lengths::kFixed;
  if (name == "ragged") return Lengths::kRagged;
  if (name == "uniform") return Lengths::kUniform;
  throw InvalidArgument(fmt::format(
      "PrefetchBatchifier: lengths must be \"fixed\", \"ragged\" or \"uniform\", got \"{}\"",
      name));
}

void check_lengths(const BatchifierState& st) {
  parse_lengths(st.lengths);
  if (st.layout != "padded" && st.layout != "packed") {
    throw InvalidArgument(fmt::format(
        "PrefetchBatchifier: layout must be \"padded\" or \"packed\", got \"{}\"", st.layout));
  }
  if (st.min_length < 1 || st.min_length > st.sequence_length) {
    throw InvalidArgument(fmt::format(
        "PrefetchBatchifier: min_length must be in [1, sequence_length {}], got {}",
        st.sequence_length, st.min_length));
  }
  if (st.max_tokens < 0) {
    throw InvalidArgument(fmt::format(
        "PrefetchBatchifier: max_tokens must be > 0 (or 0 for none), got {}", st.max_tokens));
  }
  if (st.max_tokens > 0 && st.layout != "packed") {
    throw InvalidArgument(fmt::format(
        "PrefetchBatchifier: max_tokens {} needs layout \"packed\", got layout \"{}\"",
        st.max_tokens, st.layout));
  }
  if (st.max_tokens > 0 && st.max_tokens < st.sequence_length) {
    throw InvalidArgument(fmt::format(
        "PrefetchBatchifier: max_tokens must be >= sequence_length {} (a whole window must fit), "
        "got {}",
        st.sequence_length, st.max_tokens));
  }
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
      lengths_(parse_lengths(state.lengths)),
      state_(std::move(state)),
      per_step_(state_.weight_mode == "per_step") {
  indexes_.reserve(sources_.size());
  for (size_t i = 0; i < sources_.size(); ++i) {
    indexes_.emplace_back(boundaries_, state_.sequence_length, lengths_ != Lengths::kFixed);
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
    if (lengths_ != Lengths::kFixed || state_.max_tokens > 0) {
      throw InvalidArgument(fmt::format(
          "PrefetchBatchifier: {} is not available over a remote store (its shard schedule "
          "plans batches of batch_size windows of sequence_length rows); use lengths \"fixed\" "
          "without max_tokens (layout \"packed\" is available)",
          lengths_ != Lengths::kFixed ? fmt::format("lengths \"{}\"", state_.lengths)
                                      : fmt::format("max_tokens {}", state_.max_tokens)));
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
  if (one && lengths_ == Lengths::kFixed) {
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
  const int64_t need = std::max<int64_t>(state_.max_tokens > 0 ? 1 : state_.batch_size, 1) *
                       state_.world_size;
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
  if (state_.max_tokens == 0) return (rank_windows(total_windows()) + b - 1) / b;
  // With a token budget the windows per batch vary: count the batches an epoch takes.
  const int64_t windows = total_windows();
  const std::vector<int64_t> counts = window_counts();
  const int64_t per_rank = rank_windows(windows);
  const std::vector<int64_t>* perm =
      sampling_ == Sampling::kBatch ? &permutation(state_.epoch, windows) : nullptr;
  int64_t batches = 0;
  Plan scratch;
  for (int64_t k = 0; k < per_rank; ++batches) {
    scratch.windows.clear();
    k += take_windows(scratch, per_rank - k, [&](int64_t j) {
      return epoch_window(k + j, windows, counts, perm);
    });
  }
  return batches;
}

template <class Next>
int64_t Sampler::take_windows(Plan& plan, int64_t limit, Next&& next_window) const {
  const int64_t b = state_.batch_size;
  const int64_t budget = state_.max_tokens;
  int64_t used = 0;
  int64_t n = 0;
  while (n < limit && (b == 0 || n < b)) {
    const Window w = next_window(n);
    if (budget > 0 && used + w.length > budget) break;  // it opens the next batch
    plan.windows.push_back(w);
    used += w.length;
    ++n;
  }
  return n;
}

Window Sampler::epoch_window(int64_t position, int64_t windows, const std::vector<int64_t>& counts,
                             const std::vector<int64_t>* perm) const noexcept {
  const int64_t p = (state_.rank + position * state_.world_size) % windows;  // past the end: wrap
  return concat_window(perm != nullptr ? (*perm)[static_cast<size_t>(p)] : p, counts);
}

// One store: B uniform draws over its valid starts (the stream of a single process is the one
// it always was). Several: each window first draws its store, then a start in it. Lengths
// "uniform" draws each window's length after its start; with max_tokens the draws go on until
// the budget is full, all from this batch's stream, so no batch depends on another.
void Sampler::plan_random(Plan& plan) {
  const int64_t b = state_.batch_size;
  const auto number = static_cast<uint64_t>(plan.number);
  CounterRng rng(state_.seed,
                 state_.world_size == 1
                     ? stream_id({kRandomStarts, number})
                     : stream_id({kRankRandomStarts, static_cast<uint64_t>(state_.rank), number}));
  plan.windows.reserve(static_cast<size_t>(b));
  const bool one = sources_.size() == 1;
  if (one && indexes_[0].num_starts() == 0) {
    throw InvalidArgument(fmt::format(
        "PrefetchBatchifier: no valid window start in the {} rows (sequence_length {}, "
        "boundaries \"{}\")",
        indexes_[0].rows(), state_.sequence_length, state_.boundaries));
  }
  // Cumulative weights of the stores that have a valid start now.
  std::vector<double> cumulative(sources_.size());
  double total = 0;
  for (size_t s = 0; s < sources_.size() && !one; ++s) {
    const WindowIndex& ix = indexes_[s];
    double w = 0;
    if (ix.num_starts() > 0) {
      w = state_.weights.empty() ? 1.0 : state_.weights[s];
      if (per_step_) w *= static_cast<double>(ix.rows());
    }
    total += w;
    cumulative[s] = total;
  }
  if (!one && !(total > 0)) {
    throw InvalidArgument(fmt::format(
        "PrefetchBatchifier: no store with a positive weight has a window of {} steps "
        "(boundaries \"{}\")",
        state_.sequence_length, state_.boundaries));
  }
  const int64_t s_len = state_.sequence_length;
  const int64_t min_length = state_.min_length;
  auto draw = [&]() {
    size_t s = 0;
    if (!one) {
      const double u = rng.uniform_double() * total;
      while (s + 1 < cumulative.size() && (u >= cumulative[s] || indexes_[s].num_starts() == 0)) {
        ++s;
      }
      while (indexes_[s].num_starts() == 0) --s;  // u rounded up to total: the last usable store
    }
    const WindowIndex& ix = indexes_[s];
    const auto item =
        static_cast<int64_t>(rng.uniform_int(static_cast<uint64_t>(ix.num_starts())));
    Window w = ix.start_at(item);
    w.source = static_cast<int64_t>(s);
    if (lengths_ == Lengths::kUniform) {
      const auto drawn = min_length + static_cast<int64_t>(rng.uniform_int(
                                          static_cast<uint64_t>(s_len - min_length + 1)));
      w.length = std::min(w.length, drawn);
    }
    return w;
  };
  if (state_.max_tokens == 0) {
    for (int64_t i = 0; i < b; ++i) plan.windows.push_back(draw());
    return;
  }
  const int64_t budget = state_.max_tokens;
  int64_t used = 0;
  while (used < budget && (b == 0 || static_cast<int64_t>(plan.windows.size()) < b)) {
    Window w = draw();
    if (used + w.length > budget) {
      if (lengths_ == Lengths::kFixed) break;
      w.length = budget - used;  // cut to fit
    }
    plan.windows.push_back(w);
    used += w.length;
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
      const int64_t need = state_.max_tokens > 0 ? world : b * world;
      if (windows < need) {
        throw InvalidArgument(fmt::format(
            "PrefetchBatchifier: sampling \"last\" needs {} windows, the stores have {}", need,
            windows));
      }
      // This rank's windows from the last one backwards (as many as B and the budget allow),
      // then in row order.
      const int64_t last = windows - world + rank;
      take_windows(plan, last / world + 1,
                   [&](int64_t j) { return concat_window(last - j * world, counts); });
      std::reverse(plan.windows.begin(), plan.windows.end());
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
      const std::vector<int64_t>* perm =
          sampling_ == Sampling::kBatch ? &permutation(next.epoch, windows) : nullptr;
      const int64_t first = next.next_window;
      const int64_t n = take_windows(plan, per_rank - first, [&](int64_t j) {
        return epoch_window(first + j, windows, counts, perm);
      });
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
