// StoreIngest (SPEC §9): the learner's side of many collectors. Collectors number the blocks of
// steps they cut (at episode ends and every block_steps rows); this sequencer applies each
// collector's blocks to a DatasetStore in number order and whole episodes at a time, drops blocks
// already applied, and forgets the unfinished episode of a collector that starts again. It knows
// nothing of how blocks travel (the Python layer moves them through Ray's object store).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "mouse/dataset_store.hpp"

namespace mouse {

/// What StoreIngest::submit did with a block.
enum class BlockOutcome {
  kApplied,    ///< it (and every block it completed) is in the store
  kHeld,       ///< kept until the blocks before it and the end of its episode arrive
  kDuplicate,  ///< its number was already applied (or it replaces a held block of that number)
  kRefused,    ///< holding it would pass max_buffer_steps; nothing changed
};

/// The result of StoreIngest::submit.
struct SubmitResult {
  BlockOutcome outcome = BlockOutcome::kHeld;
  int64_t applied = -1;        ///< the collector's last applied block number after the call
  int64_t blocks_applied = 0;  ///< blocks this call applied (this one and held ones it completed)
  int64_t steps_applied = 0;   ///< their steps
};

/// One collector's counters.
struct CollectorIngestStats {
  std::string id;
  int64_t applied = -1;         ///< last block number applied (-1: none)
  int64_t received = -1;        ///< highest block number received in the current run
  int64_t runs = 0;             ///< times a writer opened under this id (restarts + 1)
  int64_t blocks_applied = 0;
  int64_t steps_applied = 0;
  int64_t blocks_held = 0;      ///< blocks held now (an unfinished episode, or waiting for gaps)
  int64_t steps_held = 0;
  int64_t duplicates = 0;       ///< blocks dropped as already applied
  int64_t refused = 0;          ///< blocks refused by max_buffer_steps
};

/// Every collector's counters and their totals.
struct IngestStats {
  int64_t blocks_in = 0;  ///< blocks submitted
  int64_t steps_in = 0;
  int64_t blocks_applied = 0;
  int64_t steps_applied = 0;
  int64_t blocks_held = 0;
  int64_t steps_held = 0;
  int64_t duplicates = 0;
  int64_t refused = 0;
  std::vector<CollectorIngestStats> collectors;  ///< by id
};

/// Applies numbered blocks of many collectors to one store, exactly once and whole episodes at a
/// time (SPEC §9).
///
/// A block ends its episode when the last value of its `done` column is not 0, or when it is
/// submitted with `release` (a writer's flush or close gives up a trailing unfinished episode).
/// A collector's blocks are applied in number order; blocks after the last applied one wait
/// (held) until the blocks between arrive and one of them ends an episode; then every block up to
/// that end is applied in one DatasetStore::append_column_blocks call, so a sampler never sees
/// part of an episode of this path and the steps of one episode are contiguous in the store.
///
/// Memory: held blocks keep their arrays (shared, not copied). With max_buffer_steps > 0, a block
/// that would be held while the steps held by all collectors would pass it is refused (kRefused)
/// and nothing changes; blocks that apply at once are never refused.
///
/// Thread safety: every method may be called from any thread; calls are serialised by an
/// internal lock (submit holds it while it appends). The store's readers (samplers) run
/// concurrently with submit, as with any append.
class StoreIngest {
 public:
  /// `store` must outlive this object. Throws InvalidArgument for max_buffer_steps < 0.
  explicit StoreIngest(DatasetStore& store, int64_t max_buffer_steps = 0);

  /// A writer (re)starts under `collector` (non-empty, else InvalidArgument): blocks held from
  /// an earlier run are dropped (their numbers will come again from this run), and the last
  /// block number applied is returned (-1: none), so the writer ships only later blocks.
  int64_t open(std::string_view collector);

  /// Offers block `number` (>= 0) of `collector` with its columns (as append_columns takes
  /// them; at least one row and a `done` column). Throws InvalidArgument for a collector never
  /// opened, a negative number, an empty block or one without `done`; what
  /// append_column_blocks throws when an episode it completes does not fit the store (then
  /// nothing of that episode is applied, and its blocks are dropped from the hold so the
  /// collector's next episode is not stuck behind it: the writer must be told, see stats).
  SubmitResult submit(std::string_view collector, int64_t number, ColumnBlock columns,
                      bool release = false);

  /// The counters.
  IngestStats stats() const;
  /// Last applied block number per collector: what must be saved with the store's rows to
  /// resume (restore) after a restart of the learner.
  std::map<std::string, int64_t, std::less<>> applied() const;
  /// Sets the last applied block numbers (from a saved applied()), e.g. for a learner that
  /// reloaded its store from a save. Collectors not named keep theirs.
  void restore(const std::map<std::string, int64_t, std::less<>>& applied);

 private:
  struct Held {
    ColumnBlock columns;
    int64_t rows = 0;
    bool ends = false;
  };
  struct Collector {
    CollectorIngestStats stats;
    std::map<int64_t, Held> held;
  };
  Collector& find(std::string_view collector, const char* what);
  void apply_ready(Collector& c, SubmitResult& result);

  DatasetStore& store_;
  int64_t max_buffer_steps_;
  mutable std::mutex mutex_;
  std::map<std::string, Collector, std::less<>> collectors_;
  IngestStats totals_;
};

}  // namespace mouse
