// PrefetchBatchifier (SPEC §5): batches of windows of consecutive steps sampled from a
// DatasetStore, assembled on background threads into a bounded, order-preserving queue.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mouse/tensor_dict.hpp"

namespace mouse {

class DatasetStore;

namespace detail {
class RowSource;
struct BatchifierImpl;
}  // namespace detail

/// Settings of a PrefetchBatchifier besides the store, S and B (SPEC §5 and issue 4).
struct BatchifierOptions {
  /// How windows are chosen: "random" (B starts uniform over the valid starts, with
  /// replacement), "last" (the last B windows), "sequential" (windows in order, B per batch, a
  /// short last batch per epoch, then wrap), "batch" (as sequential, each epoch in a fresh random
  /// permutation). Anything else: InvalidArgument.
  std::string sampling = "random";
  /// Batches that may be ready or in the making ahead of the consumer; must be >= 1.
  int64_t prefetch = 4;
  /// Background threads; 0 = none, next_batch() samples and gathers on the calling thread.
  /// Must be >= 0. With workers, a next_batch() whose batch is not ready yet, while fewer than
  /// `prefetch` batches are ready or in the making, assembles the next one itself instead of
  /// sleeping (the same batch a worker would have made), then takes its own when it is there.
  int64_t num_workers = 1;
  /// Allocate batches in CUDA page-locked memory when libcudart and a device are present;
  /// otherwise a one-time warning on stderr and ordinary memory.
  bool pin_memory = false;
  /// Where batches are delivered: "cpu" (host memory), "cuda:N" or "cuda" (the GPU named by
  /// the LOCAL_RANK environment variable that torch.distributed's launchers set, else GPU 0).
  /// On a GPU, batches are assembled in page-locked host memory, and whoever assembled one (a
  /// worker, or next_batch) issues its copy into a device slot on a side CUDA stream at once;
  /// next_batch(stream) makes the consumer's stream wait for that copy (an event, no host
  /// wait) and returns tensors in device memory (Tensor::is_cuda). A slot is reused only after
  /// the batch's last tensor died and the consumer's stream has finished the work queued
  /// until then. libcudart is loaded at run time; without it, without a device, or for a
  /// device index beyond the machine's: InvalidArgument at construction.
  std::string device = "cpu";
  /// Seed of every random draw; the same seed gives the same batches whatever num_workers is.
  /// Absent: a seed is drawn from std::random_device (state() records it).
  std::optional<uint64_t> seed;
  /// Where a window may lie: "none" (anywhere in [0, N)), "source" (inside one loaded dataset,
  /// or inside the appended buffer), "episode" (inside one episode: steps up to and including
  /// a row with done != 0, never across a source boundary; a shorter episode is right-padded
  /// with zeros, but q_star -inf and time -1 (what a missing value encodes to), and the batch
  /// gets a bool "mask" [B, S], true for real steps). Anything else:
  /// InvalidArgument.
  std::string boundaries = "none";
  /// Optional per-batch step run by whoever assembles the batch (a worker thread, or the caller
  /// inside next_batch) before it is queued, e.g. a TokenAugmenter:
  /// `[aug](TensorDict b, int64_t n, const Allocator& a) {
  ///   return aug->apply_fresh_in_place(std::move(b), n, a); }`
  /// (layout "packed": `aug->apply_fresh_packed_in_place(std::move(b), n, S, a)`): the batch
  /// is the transform's own, nobody else reads it.
  /// Gets the batch, its number (0, 1, ... in delivery order) and the batch allocator; returns
  /// the batch to deliver. It may run on several threads at once, so it must be thread-safe; an
  /// exception it throws is rethrown by next_batch for that batch.
  std::function<TensorDict(TensorDict batch, int64_t number, const Allocator& allocator)>
      transform;

  /// This process's place among `world_size` processes that train together (e.g. the ranks of
  /// torch.distributed). 0 <= rank < world_size, world_size >= 1; the default is one process.
  /// "sequential" / "batch": every epoch's windows (in order, or in the permutation all ranks
  /// share, which needs a seed) are dealt round-robin, position p to rank p mod world_size, so
  /// the ranks' windows are disjoint and together the whole epoch. "random": rank r draws from
  /// its own streams of (seed, r). "last": the last batch_size·world_size windows, dealt the
  /// same way. world_size 1 gives exactly the batches of a single process.
  int64_t rank = 0;
  /// Number of ranks (see `rank`).
  int64_t world_size = 1;
  /// "sequential" / "batch" with world_size > 1 and W mod world_size != 0: false (the default,
  /// as torch's DistributedSampler) deals the epoch's first windows again to the ranks that
  /// are one short, so every rank gets ceil(W / world_size); true drops the last
  /// W mod world_size windows, so every rank gets floor(W / world_size). Either way all ranks
  /// run the same number of batches per epoch.
  bool drop_last = false;

  /// Several stores: one weight (finite, >= 0, not all 0) per store; empty = all 1.
  /// Only "random" sampling uses them; "sequential" / "batch" visit every window of every
  /// store once per epoch (store 0's windows first, then store 1's, ...).
  std::vector<double> weights;
  /// How a "random" window picks its store: "per_store" (store i with probability
  /// weight_i / sum of weights) or "per_step" (weight_i · rows_i / sum, so steps are drawn
  /// uniformly when the weights are equal). A store with no valid window at planning time is
  /// left out of that draw. Windows never span two stores.
  std::string weight_mode = "per_store";

  /// How long windows are (SPEC §5.1): "fixed" (S rows; a window that meets an episode
  /// boundary is padded), "ragged" (a start anywhere; the window is cut, not padded, at the
  /// first boundary `boundaries` names and at the end of its store, so 1 <= length <= S) or
  /// "uniform" (a length drawn uniformly in [min_length, S], then cut as "ragged").
  /// "sequential" / "batch" / "last" with "ragged" or "uniform" tile each unit between
  /// boundaries with consecutive windows of S rows, the last one cut at the unit's end (the
  /// drawn lengths of "uniform" apply to "random" sampling). Anything else: InvalidArgument.
  /// Not available over a remote store (InvalidArgument).
  std::string lengths = "fixed";
  /// Shortest drawn length of lengths "uniform"; 1 <= min_length <= S (InvalidArgument).
  int64_t min_length = 1;
  /// "padded" (tensors [B, S, ...] as always; a bool "mask" [B, S] whenever the configuration can
  /// produce a window shorter than S) or "packed" (batch size [], every column flat [N, ...] in
  /// window order, with "sequence_id" int64 [N], "position" int64 [N], "cu_seqlens" int32
  /// [B+1] and "lengths" int64 [B]). Anything else: InvalidArgument.
  std::string layout = "padded";
  /// Token budget T of a packed batch (0: none): windows are drawn one after another and added
  /// while they fit; the one that would pass T is cut to fit ("random" with lengths other than
  /// "fixed") or ends the batch (every other case: it opens the next batch under
  /// "sequential" / "batch"). batch_size then bounds the windows per batch (0: no bound). The
  /// batch is padded to exactly T rows (sequence_id and position -1, the fill values of padding);
  /// with a batch_size B, cu_seqlens is [B+1] and lengths [B], unused windows of length 0.
  /// Needs layout "packed" and T >= S (InvalidArgument).
  int64_t max_tokens = 0;
};

/// Where a batchifier stands, as a small value: enough to resume with exactly the batches an
/// uninterrupted run would have got (same store contents). Produced by
/// PrefetchBatchifier::state(), consumed by restore().
struct BatchifierState {
  /// Sampling mode it belongs to; restore() rejects a state of another configuration.
  std::string sampling;
  /// Boundaries policy it belongs to.
  std::string boundaries;
  /// S it belongs to.
  int64_t sequence_length = 0;
  /// B it belongs to.
  int64_t batch_size = 0;
  /// The seed in use (also when it was drawn at random).
  uint64_t seed = 0;
  /// Batches delivered so far (the number of the next batch).
  int64_t batches = 0;
  /// Epoch of the next batch (sequential / batch modes).
  int64_t epoch = 0;
  /// Position of the next window within the epoch (sequential / batch modes).
  int64_t next_window = 0;
  /// Windows in the current epoch (all ranks, all stores), fixed when the epoch started; 0
  /// before it starts.
  int64_t epoch_windows = 0;
  /// With several stores: each store's share of epoch_windows; empty otherwise.
  std::vector<int64_t> epoch_store_windows;
  /// Rank it belongs to (0 in a single process).
  int64_t rank = 0;
  /// World size it belongs to (1 in a single process); restore() rejects another.
  int64_t world_size = 1;
  /// drop_last it belongs to.
  bool drop_last = false;
  /// Number of stores it belongs to.
  int64_t stores = 1;
  /// Store weights it belongs to (empty = all 1).
  std::vector<double> weights;
  /// Weight mode it belongs to.
  std::string weight_mode = "per_store";
  /// Window lengths it belongs to ("fixed" in states written before they existed).
  std::string lengths = "fixed";
  /// min_length it belongs to.
  int64_t min_length = 1;
  /// Layout it belongs to.
  std::string layout = "padded";
  /// Token budget it belongs to (0: none).
  int64_t max_tokens = 0;

  /// Compact JSON object with the fields above.
  std::string to_json() const;
  /// Parses to_json()'s output. Throws InvalidArgument naming the missing or malformed field.
  /// The fields after epoch_windows may be missing (states written before they existed); they
  /// then take the single-process, single-store defaults.
  static BatchifierState from_json(std::string_view json);

  /// Field-wise equality.
  bool operator==(const BatchifierState&) const = default;
};

/// One delivered batch with where it came from.
struct SampledBatch {
  /// Tensors [b, S, ...] (b = B, or fewer for the last batch of a sequential / batch epoch);
  /// with boundaries "episode" or lengths other than "fixed" also "mask" bool [b, S]. Layout
  /// "packed": batch size [], see BatchifierOptions::layout.
  TensorDict data;
  /// First row of each window (row of its store), length b.
  std::vector<int64_t> starts;
  /// Real rows of each window (S unless it was cut or padded), length b.
  std::vector<int64_t> lengths;
  /// Real rows over all rows of the batch: sum(lengths) / (b·S) padded, / N packed (1 without
  /// max_tokens).
  double efficiency = 1.0;
  /// Store of each window (index into the batchifier's stores; all 0 with one store), length b.
  std::vector<int64_t> stores;
  /// Number of this batch since construction (or as restored), from 0.
  int64_t number = 0;
  /// Epoch of this batch (sequential / batch modes; 0 otherwise).
  int64_t epoch = 0;
};

/// Samples windows of `sequence_length` consecutive steps from a store and delivers them as
/// batches of `batch_size` windows, prefetched by `num_workers` threads into a queue of at most
/// `prefetch` batches, in order (batch k is always the k-th delivered, whatever thread built it).
///
/// Windows (N rows, S = sequence_length, B = batch_size), boundaries "none": W = N / S windows,
/// window w = rows [w·S, w·S + S). With "source" each segment (loaded dataset or buffer) is tiled
/// on its own; with "episode" each episode is tiled and its last window padded. Each batch
/// samples from the rows present when it is planned, so rows appended to the store later are
/// included in later batches (sequential / batch: from the next epoch on, since an epoch's
/// window count is fixed when it starts).
///
/// Randomness is a pure function of (seed, batch number) or (seed, epoch): reproducible with
/// any num_workers.
///
/// Thread safety: next_batch, state and restore are for one consumer thread; close() may also be
/// called from another thread to stop a blocked next_batch (which then throws). The store must
/// outlive the batchifier; appending to it while batches are drawn is allowed (SPEC §4), but
/// clear() or reloading sources earlier in the row order while a batchifier runs is not.
class PrefetchBatchifier {
 public:
  /// Starts the workers. Throws InvalidArgument for: sequence_length <= 0, batch_size <= 0
  /// (0 is allowed with max_tokens: no bound on the windows per batch), prefetch < 1,
  /// num_workers < 0, an unknown sampling, boundaries, lengths or layout name, (lengths
  /// "fixed") a store with fewer than sequence_length rows, no valid window under the
  /// boundaries policy, (sampling "last") fewer than batch_size windows, min_length outside
  /// [1, S], max_tokens with layout "padded" or below S, a packed batch too large for int32
  /// cu_seqlens, or lengths other than "fixed" / max_tokens over a remote store. Each message
  /// names the argument and its value.
  PrefetchBatchifier(const DatasetStore& store, int64_t sequence_length, int64_t batch_size,
                     BatchifierOptions options = {});

  /// Deleted: the batchifier keeps a reference to the store, which must outlive it.
  PrefetchBatchifier(DatasetStore&& store, int64_t sequence_length, int64_t batch_size,
                     BatchifierOptions options = {}) = delete;

  /// Over several stores, mixed by options.weights / weight_mode (see BatchifierOptions). Every
  /// batch has the columns of all stores with rows (e.g. a Hub store with q-values beside an
  /// online store without): a store's windows get a missing value for a column it lacks (0,
  /// q_star -inf, time -1), as rows of a store's own segments do. A column two stores share must
  /// encode to the same dtype and shape (the same max dims; InvalidArgument naming the column
  /// and the stores otherwise). The required columns are in every store. The stores must
  /// outlive the batchifier. Throws as above,
  /// and when `stores` is empty or holds a null pointer, weights has another length than
  /// stores or a negative, non-finite or all-zero weight, weight_mode is unknown, or no store
  /// has a window.
  PrefetchBatchifier(const std::vector<const DatasetStore*>& stores, int64_t sequence_length,
                     int64_t batch_size, BatchifierOptions options = {});

  /// As above over any row source (the seam other layers and the tests use).
  PrefetchBatchifier(std::shared_ptr<const detail::RowSource> source, int64_t sequence_length,
                     int64_t batch_size, BatchifierOptions options = {});

  /// As above over several row sources.
  PrefetchBatchifier(std::vector<std::shared_ptr<const detail::RowSource>> sources,
                     int64_t sequence_length, int64_t batch_size, BatchifierOptions options = {});

  /// close().
  ~PrefetchBatchifier();
  /// Not copyable (it owns threads).
  PrefetchBatchifier(const PrefetchBatchifier&) = delete;
  PrefetchBatchifier& operator=(const PrefetchBatchifier&) = delete;

  /// The next batch's tensors (see SampledBatch::data), blocking until it is ready. Rethrows an
  /// exception raised while planning or assembling this batch (same type and message); the
  /// batch after it is attempted on the next call. Throws InvalidArgument after close().
  TensorDict next_batch();
  /// As next_batch(), with the window starts and the batch number.
  SampledBatch next();
  /// With device "cuda": as next_batch(), the copy ordered before the work that
  /// `cuda_stream` (a cudaStream_t; null: the legacy default stream) queues from now on, and
  /// the batch's device slot reused only after that stream's work queued before the last
  /// tensor died. On the host (device "cpu") the stream is ignored.
  TensorDict next_batch(void* cuda_stream);
  /// As next(), on `cuda_stream` (see next_batch(void*)).
  SampledBatch next(void* cuda_stream);

  /// Stops and joins the workers and drops prefetched batches. Idempotent; also run by the
  /// destructor. Safe to call while another thread blocks in next_batch(), which then throws.
  void close();
  /// Whether close() has run.
  bool closed() const noexcept;
  /// Stops and joins the workers, keeping the position: state() is unchanged, and the batches
  /// they had prefetched are made again after resume_workers(). For fork(): while paused, no
  /// thread of the batchifier holds a lock (of the store or the allocator) that a forked child
  /// would inherit locked. Nothing to do with num_workers = 0 or after close().
  void pause_workers();
  /// Restarts the workers pause_workers() stopped (unless close() or restore() ran since).
  void resume_workers();

  /// Batches of one epoch of this rank for the windows W of the stores as they are now (under
  /// the boundaries policy): ceil(W / B) in a single process; ceil(W_rank / B) with
  /// W_rank = ceil(W / world_size), or floor with drop_last.
  int64_t total_batches() const;

  /// The position after the last delivered batch.
  BatchifierState state() const;
  /// Continues from `state`: the next batch is the one that followed when the state was taken.
  /// Prefetched batches are dropped and the workers restarted. Adopts the state's seed. Throws
  /// InvalidArgument when the state's sampling, boundaries, S, B, rank, world size, drop_last,
  /// number of stores or weights differ from this batchifier's, its fields are out of range,
  /// or after close().
  void restore(const BatchifierState& state);

  /// True when batches are allocated in page-locked (CUDA pinned) memory.
  bool pinned() const noexcept;
  /// The CUDA device batches are delivered on, -1 for the host.
  int cuda_device() const noexcept;

  /// S.
  int64_t sequence_length() const noexcept;
  /// B (0: no bound on the windows of a max_tokens batch).
  int64_t batch_size() const noexcept;
  /// The options, with `seed` set to the seed in use.
  const BatchifierOptions& options() const noexcept;

 private:
  std::unique_ptr<detail::BatchifierImpl> impl_;
};

}  // namespace mouse
