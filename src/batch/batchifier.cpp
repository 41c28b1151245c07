// PrefetchBatchifier's threads, in the manner of PyTorch's C++ DataLoader: batches carry
// sequence numbers, a worker plans its batch under the sampler lock (so plans come out in batch
// order) and assembles it outside any lock, results land in a ring of `prefetch` slots indexed
// by sequence number, and the consumer takes slot `delivered` only; while that slot is empty
// and the ring has room, the consumer plans and assembles the next batch itself, exactly as a
// worker would, rather than sleeping. A worker never lets an exception escape; it ships an
// exception_ptr in its slot for the consumer to rethrow.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "batch/assemble.hpp"
#include "batch/cuda_runtime.hpp"
#include "batch/device_stager.hpp"
#include "batch/pinned_allocator.hpp"
#include "batch/row_source.hpp"
#include "batch/sampler.hpp"
#include "core/caching_allocator.hpp"
#include "core/cancel.hpp"
#include "mouse/memory.hpp"
#include "mouse/batch.hpp"
#include "mouse/error.hpp"

namespace mouse::detail {

struct BatchifierImpl {
  struct Result {
    std::optional<SampledBatch> batch;
    std::optional<BatchifierState> after;  // set once the batch is planned
    std::exception_ptr error;
    std::shared_ptr<StagedTicket> ticket;  // device batches: the copy's event
  };

  BatchifierImpl(std::vector<std::shared_ptr<const RowSource>> sources, int64_t s, int64_t b,
                 BatchifierOptions opts);
  ~BatchifierImpl() { close(); }

  SampledBatch next(void* cuda_stream);
  void close();
  void restore(const BatchifierState& state);
  void pause();
  void resume();
  BatchifierState state() const {
    std::lock_guard lock(mutex_);
    return delivered_state_;
  }
  int64_t total_batches() {
    std::lock_guard lock(plan_mutex_);
    return sampler_.total_batches();
  }

  void start_workers();
  void stop_workers();
  void worker_loop();
  Result produce(int64_t* seq);
  // Under mutex_: puts batch `seq` in its ring slot; true if a sleeping next() should wake.
  bool fill(int64_t seq, Result r);
  // Called by next() (holding `lock` on mutex_, which it releases while assembling) when its
  // batch is not ready and the ring has room: plans and assembles the next batch on the
  // calling thread, as a worker would, instead of sleeping.
  void help(std::unique_lock<std::mutex>& lock);

  std::vector<std::shared_ptr<const RowSource>> sources_;
  BatchifierOptions options_;
  int64_t s_;
  int64_t b_;
  // device "cuda": page-locked host blocks and the copies to the device.
  std::unique_ptr<PageLockedAllocator> device_host_;
  std::unique_ptr<DeviceStager> stager_;
  int cuda_device_ = -1;
  std::unique_ptr<CachingAllocator> caching_;  // over the default or the pinned allocator
  const Allocator* allocator_ = &default_allocator();

  // Serialises close() and restore(), which stop (and restart) the workers; taken before any
  // other mutex, never by the workers.
  std::mutex lifecycle_mutex_;

  // Guards the sampler; taken alone (never while holding mutex_).
  mutable std::mutex plan_mutex_;
  Sampler sampler_;
  int64_t planned_ = 0;  // sequence numbers handed out since the workers (re)started

  // Guards everything below.
  mutable std::mutex mutex_;
  std::condition_variable ready_cv_;  // a slot was filled, or closing
  std::condition_variable space_cv_;  // a batch was taken, or stopping
  std::vector<std::optional<Result>> ring_;
  int64_t outstanding_ = 0;  // claimed by workers or ready, not yet delivered
  int64_t delivered_ = 0;
  int64_t waiters_ = 0;       // next() calls asleep on ready_cv_
  // next() calls in progress (taking, assembling, spinning or asleep): a hint for the workers.
  std::atomic<int64_t> inside_next_{0};
  int64_t waiting_for_ = -1;  // the sequence number the last of them sleeps on
  // Per slot, the sequence number of the batch it holds (-1: none), published after the slot
  // is filled, so next() can see its batch arrive without the lock while it spins.
  std::unique_ptr<std::atomic<int64_t>[]> filled_;
  // Whether next() spins a little before it sleeps: only when a core is left over for it.
  bool spin_ = false;
  bool stop_ = false;
  // Set by stop_workers() before it joins: a worker waiting deep in a store (a remote shard
  // being fetched) gives up instead of holding close() for the length of the retry policy.
  std::atomic<bool> cancel_{false};
  int64_t generation_ = 0;  // start_workers() calls: a batch planned before a restart is dropped
  bool closed_ = false;
  bool paused_ = false;  // under lifecycle_mutex_: pause_workers() stopped the workers
  BatchifierState delivered_state_;

  // Started and joined by the owning thread (constructor, restore, close) only.
  std::vector<std::thread> workers_;
};

namespace {

BatchifierState initial_state(int64_t s, int64_t b, const BatchifierOptions& opts,
                              size_t sources) {
  if (s <= 0) {
    throw InvalidArgument(
        fmt::format("PrefetchBatchifier: sequence_length must be > 0, got {}", s));
  }
  if (b < 0 || (b == 0 && opts.max_tokens <= 0)) {
    throw InvalidArgument(fmt::format(
        "PrefetchBatchifier: batch_size must be > 0, got {} (0, no bound, only with max_tokens)",
        b));
  }
  if (opts.prefetch < 1) {
    throw InvalidArgument(
        fmt::format("PrefetchBatchifier: prefetch must be >= 1, got {}", opts.prefetch));
  }
  if (opts.num_workers < 0) {
    throw InvalidArgument(
        fmt::format("PrefetchBatchifier: num_workers must be >= 0, got {}", opts.num_workers));
  }
  // Every batch holds at least 8 bytes per step (its int64 actions and row ids): refuse sizes
  // no machine of this size can hold before anything is reserved.
  if (opts.max_tokens > 0) {
    check_fits_in_memory(saturating_product({opts.prefetch, opts.max_tokens, 8}),
                         fmt::format("PrefetchBatchifier: prefetch {} batches of max_tokens {}",
                                     opts.prefetch, opts.max_tokens));
  } else {
    check_fits_in_memory(
        saturating_product({b, s, 8}),
        fmt::format("PrefetchBatchifier: batch_size {} x sequence_length {}", b, s));
    check_fits_in_memory(
        saturating_product({opts.prefetch, b, s, 8}),
        fmt::format("PrefetchBatchifier: prefetch {} batches of batch_size {} x sequence_length {}",
                    opts.prefetch, b, s));
  }
  const Sampling sampling = parse_sampling(opts.sampling);
  parse_boundaries(opts.boundaries);
  BatchifierState st;
  st.sampling = opts.sampling;
  st.boundaries = opts.boundaries;
  st.sequence_length = s;
  st.batch_size = b;
  st.rank = opts.rank;
  st.world_size = opts.world_size;
  st.drop_last = opts.drop_last;
  st.stores = static_cast<int64_t>(sources);
  st.weights = opts.weights;
  st.weight_mode = opts.weight_mode;
  st.lengths = opts.lengths;
  st.min_length = opts.min_length;
  st.layout = opts.layout;
  st.max_tokens = opts.max_tokens;
  check_lengths(st);
  // cu_seqlens is int32 (FlashAttention's convention): a packed batch must index in it.
  constexpr int64_t kInt32Max = 2147483647;
  if (opts.layout == "packed" &&
      (opts.max_tokens > 0 ? opts.max_tokens : saturating_product({b, s})) > kInt32Max) {
    throw InvalidArgument(fmt::format(
        "PrefetchBatchifier: a packed batch of {} rows does not fit cu_seqlens (int32); use "
        "max_tokens <= {}",
        opts.max_tokens > 0 ? opts.max_tokens : saturating_product({b, s}), kInt32Max));
  }
  check_distribution(st, sources);
  if (opts.seed) {
    st.seed = *opts.seed;
  } else if (sampling == Sampling::kBatch && opts.world_size > 1) {
    throw InvalidArgument(fmt::format(
        "PrefetchBatchifier: sampling \"batch\" with world_size {} needs a seed: every rank must "
        "draw the same permutation of the epoch",
        opts.world_size));
  } else {
    std::random_device rd;
    st.seed = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }
  return st;
}

}  // namespace

namespace {

std::vector<std::shared_ptr<const RowSource>> checked(
    std::vector<std::shared_ptr<const RowSource>> sources) {
  if (sources.empty()) throw InvalidArgument("PrefetchBatchifier: no stores");
  for (size_t i = 0; i < sources.size(); ++i) {
    if (!sources[i]) {
      throw InvalidArgument(fmt::format("PrefetchBatchifier: store {} is null", i));
    }
  }
  return sources;
}

}  // namespace

BatchifierImpl::BatchifierImpl(std::vector<std::shared_ptr<const RowSource>> sources, int64_t s,
                               int64_t b, BatchifierOptions opts)
    : sources_(checked(std::move(sources))),
      options_(std::move(opts)),
      s_(s),
      b_(b),
      sampler_(sources_, initial_state(s, b, options_, sources_.size())) {
  sampler_.check_plannable();
  if (sources_.size() > 1) union_layout(sources_, 0, default_allocator());  // shared columns agree
  options_.seed = sampler_.state().seed;
  delivered_state_ = sampler_.state();
  const Allocator* base = &default_allocator();
  cuda_device_ = parse_device(options_.device);
  if (cuda_device_ >= 0) {
    int devices = 0;
    std::string why;
    const CudaApi* api = cuda_api(&devices, &why);
    if (api == nullptr) {
      throw InvalidArgument(fmt::format(
          "PrefetchBatchifier: device \"{}\" was asked for, but {}", options_.device, why));
    }
    if (cuda_device_ >= devices) {
      throw InvalidArgument(fmt::format(
          "PrefetchBatchifier: device \"{}\" is cuda:{}, but this machine has {} CUDA "
          "device{}",
          options_.device, cuda_device_, devices, devices == 1 ? "" : "s"));
    }
    // Batches are assembled in page-locked memory (an asynchronous copy needs it) and copied
    // to the device by whoever assembled them; a device slot per batch in flight is kept.
    device_host_ = std::make_unique<PageLockedAllocator>(CudaHostApi{api->host_alloc,
                                                                     api->free_host});
    base = device_host_.get();
    stager_ = std::make_unique<DeviceStager>(
        *api, cuda_device_, std::max<int64_t>(options_.prefetch, 1) + options_.num_workers + 2);
  } else if (options_.pin_memory) {
    if (const Allocator* pinned = pinned_allocator_or_warn()) base = pinned;
  }
  // Batch tensors are the same sizes batch after batch: their blocks are reused once the
  // trainer drops a batch, as many as can be in flight (queued, being assembled, held).
  caching_ = std::make_unique<CachingAllocator>(
      *base, std::max<int64_t>(options_.prefetch, 1) + options_.num_workers + 2);
  allocator_ = caching_.get();
  start_workers();
}

// Plans the next batch (taking sequence number `*seq` with it, under the same lock, so batch
// k is planned k-th whichever worker gets it) and assembles it outside the lock.
BatchifierImpl::Result BatchifierImpl::produce(int64_t* seq) {
  Result r;
  try {
    Plan plan;
    {
      std::lock_guard lock(plan_mutex_);
      if (seq != nullptr) *seq = planned_++;
      plan = sampler_.plan();
    }
    r.after = plan.after;
    BatchShape shape;
    shape.sequence_length = s_;
    shape.with_mask = sampler_.padded();
    shape.packed = options_.layout == "packed";
    shape.max_tokens = options_.max_tokens;
    shape.batch_size = b_;
    r.batch = assemble_batch(sources_, plan, shape, *allocator_);
    if (options_.transform) {
      r.batch->data = options_.transform(std::move(r.batch->data), plan.number, *allocator_);
    }
    if (stager_) {
      StagedBatch staged = stager_->stage(std::move(r.batch->data));
      r.batch->data = std::move(staged.data);
      r.ticket = std::move(staged.ticket);
    }
  } catch (...) {
    r.batch.reset();
    r.error = std::current_exception();
  }
  return r;
}

// How long next() spins for its batch before it sleeps, when a core is free for it.
constexpr int64_t kSpinMicros = 50;
// How many times a worker facing a full ring yields its core before it sleeps (each yield is
// a system call of about a microsecond).
constexpr int kYields = 64;

void BatchifierImpl::worker_loop() {
  const detail::CancelScope cancel_scope(&cancel_);
  const auto slots = static_cast<int64_t>(ring_.size());
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      // A full ring while the consumer is inside next() is mostly the batch it waits for still
      // being made by a thread that lost its core (more threads than cores): give the core
      // away for a moment instead of sleeping, so that thread runs at once and nobody needs
      // waking (two workers on two cores: 21.0 -> 17.9 us a batch). A full ring while the
      // consumer is elsewhere (training) is a slow consumer: sleep.
      for (int i = 0; i < kYields && !stop_ && outstanding_ >= slots && inside_next_ > 0; ++i) {
        lock.unlock();
        std::this_thread::yield();
        lock.lock();
      }
      space_cv_.wait(lock, [&] { return stop_ || outstanding_ < slots; });
      if (stop_) return;
      ++outstanding_;
    }
    int64_t seq = 0;
    Result r = produce(&seq);
    bool wake = false;
    {
      std::lock_guard lock(mutex_);
      if (stop_) return;
      wake = fill(seq, std::move(r));
    }
    if (wake) ready_cv_.notify_all();
  }
}

bool BatchifierImpl::fill(int64_t seq, Result r) {
  const auto index = static_cast<size_t>(seq % static_cast<int64_t>(ring_.size()));
  ring_[index] = std::move(r);
  filled_[index].store(seq, std::memory_order_release);
  // Only the batch a lone next() waits for wakes it (it finds the others when it gets to
  // them); with several next() waiting, any batch may be one's.
  return waiters_ > 1 || (waiters_ == 1 && waiting_for_ == seq);
}

void BatchifierImpl::help(std::unique_lock<std::mutex>& lock) {
  ++outstanding_;
  const int64_t generation = generation_;
  lock.unlock();
  int64_t seq = 0;
  Result r = produce(&seq);
  lock.lock();
  // Stopped (closed, or restarted by restore) meanwhile: the ring it was planned for is gone.
  if (stop_ || generation != generation_) return;
  if (fill(seq, std::move(r))) {
    lock.unlock();
    ready_cv_.notify_all();
    lock.lock();
  }
}

void BatchifierImpl::start_workers() {
  ring_.assign(static_cast<size_t>(options_.prefetch), std::nullopt);
  // Allocated once (the ring's size never changes), so a spinning next() never reads freed
  // memory while restore() restarts the workers.
  if (!filled_) {
    filled_ = std::make_unique<std::atomic<int64_t>[]>(static_cast<size_t>(options_.prefetch));
  }
  for (int64_t i = 0; i < options_.prefetch; ++i) filled_[i].store(-1, std::memory_order_relaxed);
  spin_ = options_.num_workers > 0 &&
          options_.num_workers < static_cast<int64_t>(std::thread::hardware_concurrency());
  waiting_for_ = -1;
  ++generation_;
  outstanding_ = 0;
  delivered_ = 0;
  planned_ = 0;
  stop_ = false;
  cancel_.store(false, std::memory_order_relaxed);
  workers_.reserve(static_cast<size_t>(options_.num_workers));
  try {
    for (int64_t i = 0; i < options_.num_workers; ++i) {
      workers_.emplace_back([this] { worker_loop(); });
    }
  } catch (...) {
    stop_workers();  // a thread that could not start: join the ones that did
    throw;
  }
}

void BatchifierImpl::stop_workers() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  cancel_.store(true, std::memory_order_relaxed);
  space_cv_.notify_all();
  ready_cv_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
  std::lock_guard lock(mutex_);
  for (auto& slot : ring_) slot.reset();
}

SampledBatch BatchifierImpl::next(void* cuda_stream) {
  Result r;
  if (options_.num_workers == 0) {
    {
      std::lock_guard lock(mutex_);
      if (closed_) throw InvalidArgument("PrefetchBatchifier: next_batch after close");
    }
    r = produce(nullptr);
  } else {
    struct Inside {  // counts this call in inside_next_ on every way out
      std::atomic<int64_t>& n;
      explicit Inside(std::atomic<int64_t>& count) : n(count) { n.fetch_add(1); }
      ~Inside() { n.fetch_sub(1); }
      Inside(const Inside&) = delete;
      Inside& operator=(const Inside&) = delete;
    } inside(inside_next_);
    std::unique_lock lock(mutex_);
    if (closed_) throw InvalidArgument("PrefetchBatchifier: next_batch after close");
    const auto slots = static_cast<int64_t>(ring_.size());
    // Until the batch to take (the next undelivered one) is there: while the ring has room,
    // assemble the next planned batch here, as a worker would, instead of sleeping (its place
    // in the order is its sequence number, so the batches are the same whoever assembles
    // them); then spin a little when a core is free for it; then sleep.
    bool spun = false;
    while (!ring_[static_cast<size_t>(delivered_ % slots)].has_value()) {
      if (!stop_ && outstanding_ < slots) {
        help(lock);
        if (closed_) {
          throw InvalidArgument("PrefetchBatchifier: closed while next_batch waited");
        }
        continue;
      }
      if (spin_ && !spun) {
        spun = true;
        const int64_t want = delivered_;
        const auto index = static_cast<size_t>(want % slots);
        lock.unlock();
        // A worker on another core is about to deliver: waiting a few tens of microseconds
        // for it costs less than sleeping and being woken (a context switch each way).
        const auto until =
            std::chrono::steady_clock::now() + std::chrono::microseconds(kSpinMicros);
        while (filled_[index].load(std::memory_order_acquire) != want &&
               std::chrono::steady_clock::now() < until) {
#if defined(__x86_64__) || defined(__i386__)
          __builtin_ia32_pause();
#endif
        }
        lock.lock();
        if (closed_) throw InvalidArgument("PrefetchBatchifier: closed while next_batch waited");
        continue;
      }
      ++waiters_;
      waiting_for_ = delivered_;
      ready_cv_.wait(lock);
      --waiters_;
      if (closed_) throw InvalidArgument("PrefetchBatchifier: closed while next_batch waited");
    }
    const auto index = static_cast<size_t>(delivered_ % slots);
    r = std::move(*ring_[index]);
    ring_[index].reset();
    filled_[index].store(-1, std::memory_order_relaxed);
    ++delivered_;
    --outstanding_;
    const bool others_wait = waiters_ > 0;  // their batch is now the next one
    lock.unlock();
    space_cv_.notify_one();
    if (others_wait) ready_cv_.notify_all();
  }
  // A batch that was planned but failed to assemble still counts as taken, so state() agrees
  // with where sampling goes on.
  if (r.after) {
    std::lock_guard lock(mutex_);
    delivered_state_ = *r.after;
  }
  if (r.error) std::rethrow_exception(r.error);
  if (r.ticket) stager_->hand_over(*r.ticket, cuda_stream);
  return std::move(*r.batch);
}

void BatchifierImpl::close() {
  // Held through the join: a second close() (e.g. the destructor after a watchdog thread's
  // close woke a blocked next_batch) waits until the workers are really gone.
  std::lock_guard lifecycle(lifecycle_mutex_);
  {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    closed_ = true;
  }
  stop_workers();
}

void BatchifierImpl::restore(const BatchifierState& state) {
  // Held while the workers are stopped and restarted, so a concurrent close() cannot join
  // them at the same time or finish before they are restarted.
  std::lock_guard lifecycle(lifecycle_mutex_);
  {
    std::lock_guard lock(mutex_);
    if (closed_) throw InvalidArgument("PrefetchBatchifier: restore after close");
  }
  const BatchifierState& mine = delivered_state_;
  if (state.sampling != mine.sampling || state.boundaries != mine.boundaries ||
      state.sequence_length != mine.sequence_length || state.batch_size != mine.batch_size) {
    throw InvalidArgument(fmt::format(
        "PrefetchBatchifier::restore: the state is for sampling \"{}\", boundaries \"{}\", "
        "sequence_length {}, batch_size {}; this batchifier has \"{}\", \"{}\", {}, {}",
        state.sampling, state.boundaries, state.sequence_length, state.batch_size, mine.sampling,
        mine.boundaries, mine.sequence_length, mine.batch_size));
  }
  if (state.lengths != mine.lengths || state.min_length != mine.min_length ||
      state.layout != mine.layout || state.max_tokens != mine.max_tokens) {
    throw InvalidArgument(fmt::format(
        "PrefetchBatchifier::restore: the state is for lengths \"{}\", min_length {}, layout "
        "\"{}\", max_tokens {}; this batchifier has \"{}\", {}, \"{}\", {}",
        state.lengths, state.min_length, state.layout, state.max_tokens, mine.lengths,
        mine.min_length, mine.layout, mine.max_tokens));
  }
  if (state.world_size != mine.world_size || state.rank != mine.rank) {
    throw InvalidArgument(fmt::format(
        "PrefetchBatchifier::restore: the state was taken on rank {} of world_size {}; this "
        "batchifier is rank {} of world_size {} (restore each rank's own state, with the same "
        "world size)",
        state.rank, state.world_size, mine.rank, mine.world_size));
  }
  if (state.drop_last != mine.drop_last || state.stores != mine.stores ||
      state.weights != mine.weights || state.weight_mode != mine.weight_mode) {
    throw InvalidArgument(fmt::format(
        "PrefetchBatchifier::restore: the state is for drop_last {}, {} store(s), weights [{}], "
        "weight_mode \"{}\"; this batchifier has {}, {}, [{}], \"{}\"",
        state.drop_last, state.stores, fmt::join(state.weights, ", "), state.weight_mode,
        mine.drop_last, mine.stores, fmt::join(mine.weights, ", "), mine.weight_mode));
  }
  int64_t store_sum = 0;
  bool store_counts_ok = state.epoch_store_windows.empty() ||
                         static_cast<int64_t>(state.epoch_store_windows.size()) == state.stores;
  for (int64_t c : state.epoch_store_windows) {
    store_counts_ok = store_counts_ok && c >= 0;
    store_sum += c;
  }
  if (!state.epoch_store_windows.empty()) {
    store_counts_ok = store_counts_ok && store_sum == state.epoch_windows;
  } else if (state.stores > 1 && state.epoch_windows != 0) {
    store_counts_ok = false;
  }
  const int64_t per_rank = rank_share(state.epoch_windows, state.world_size, state.drop_last);
  if (state.batches < 0 || state.epoch < 0 || state.next_window < 0 || state.epoch_windows < 0 ||
      !store_counts_ok ||
      (state.epoch_windows == 0 ? state.next_window != 0 : state.next_window >= per_rank)) {
    throw InvalidArgument(fmt::format(
        "PrefetchBatchifier::restore: inconsistent position (batches {}, epoch {}, next_window "
        "{}, epoch_windows {})",
        state.batches, state.epoch, state.next_window, state.epoch_windows));
  }
  stop_workers();
  {
    std::lock_guard lock(plan_mutex_);
    sampler_.set_state(state);
  }
  {
    std::lock_guard lock(mutex_);
    delivered_state_ = state;
  }
  options_.seed = state.seed;
  start_workers();
  paused_ = false;
}

void BatchifierImpl::pause() {
  std::lock_guard lifecycle(lifecycle_mutex_);
  {
    std::lock_guard lock(mutex_);
    if (closed_ || paused_ || options_.num_workers == 0) return;
  }
  stop_workers();
  paused_ = true;
}

void BatchifierImpl::resume() {
  std::lock_guard lifecycle(lifecycle_mutex_);
  if (!paused_) return;
  paused_ = false;
  BatchifierState state;
  {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    state = delivered_state_;
  }
  // The prefetched batches were dropped: plan again from the first one not delivered.
  {
    std::lock_guard lock(plan_mutex_);
    sampler_.set_state(state);
  }
  start_workers();
}

}  // namespace mouse::detail

namespace mouse {

PrefetchBatchifier::PrefetchBatchifier(std::shared_ptr<const detail::RowSource> source,
                                       int64_t sequence_length, int64_t batch_size,
                                       BatchifierOptions options)
    : PrefetchBatchifier(std::vector<std::shared_ptr<const detail::RowSource>>{std::move(source)},
                         sequence_length, batch_size, std::move(options)) {}

PrefetchBatchifier::PrefetchBatchifier(
    std::vector<std::shared_ptr<const detail::RowSource>> sources, int64_t sequence_length,
    int64_t batch_size, BatchifierOptions options)
    : impl_(std::make_unique<detail::BatchifierImpl>(std::move(sources), sequence_length,
                                                     batch_size, std::move(options))) {}

PrefetchBatchifier::~PrefetchBatchifier() = default;

TensorDict PrefetchBatchifier::next_batch() { return impl_->next(nullptr).data; }
SampledBatch PrefetchBatchifier::next() { return impl_->next(nullptr); }
TensorDict PrefetchBatchifier::next_batch(void* cuda_stream) {
  return impl_->next(cuda_stream).data;
}
SampledBatch PrefetchBatchifier::next(void* cuda_stream) { return impl_->next(cuda_stream); }
int PrefetchBatchifier::cuda_device() const noexcept { return impl_->cuda_device_; }
void PrefetchBatchifier::close() { impl_->close(); }
void PrefetchBatchifier::pause_workers() { impl_->pause(); }
void PrefetchBatchifier::resume_workers() { impl_->resume(); }

bool PrefetchBatchifier::closed() const noexcept {
  std::lock_guard lock(impl_->mutex_);
  return impl_->closed_;
}

int64_t PrefetchBatchifier::total_batches() const { return impl_->total_batches(); }
BatchifierState PrefetchBatchifier::state() const { return impl_->state(); }
void PrefetchBatchifier::restore(const BatchifierState& state) { impl_->restore(state); }
bool PrefetchBatchifier::pinned() const noexcept { return impl_->allocator_->page_locked(); }
int64_t PrefetchBatchifier::sequence_length() const noexcept { return impl_->s_; }
int64_t PrefetchBatchifier::batch_size() const noexcept { return impl_->b_; }
const BatchifierOptions& PrefetchBatchifier::options() const noexcept { return impl_->options_; }

}  // namespace mouse
