// The valid-start and window index of the batchifier. Rows are cut into *units* windows must
// stay inside (the whole table, each segment, or each episode); per unit it counts the valid
// random starts and the tiled windows, and maps a uniform item number back to a row in O(1)
// through a guide table. Built once, then extended incrementally as rows are appended, so the
// cost of a draw does not grow with rows or episodes.
#pragma once

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "batch/row_source.hpp"

namespace mouse::detail {

/// Window placement policy (BatchifierOptions::boundaries).
enum class Boundaries : uint8_t { kNone, kSource, kEpisode };

/// Parses "none" / "source" / "episode"; InvalidArgument naming the value and the accepted ones.
Boundaries parse_boundaries(std::string_view name);

/// A window: its first row and how many of its S steps are real (< S only for a padded episode
/// window).
struct Window {
  int64_t start = 0;
  int64_t length = 0;
  /// Which of the batchifier's sources (stores) the rows belong to.
  int64_t source = 0;
  bool operator==(const Window&) const = default;
};

/// Prefix counts over a growing list of units with an O(1) item → unit lookup. Units are only
/// added or grown at the end.
class PrefixLocator {
 public:
  /// Items per guide bucket.
  static constexpr int64_t kBucket = 32;

  PrefixLocator() { clear(); }
  void clear();
  /// Adds a unit holding `count` >= 0 items.
  void push(int64_t count);
  /// Sets the last unit's count; it may only grow.
  void grow_last(int64_t count);
  /// Back to `units` units and `total` items, a state it had before (rolls back pushes and
  /// growth since then).
  void truncate(size_t units, int64_t total) noexcept;
  /// Total items.
  int64_t total() const noexcept { return first_.back(); }
  /// Number of units.
  size_t units() const noexcept { return first_.size() - 1; }
  /// (unit, offset within the unit) of item `item` in [0, total()).
  std::pair<size_t, int64_t> locate(int64_t item) const noexcept;

 private:
  void extend_guide();

  std::vector<int64_t> first_;  // first item of each unit, then total
  std::vector<size_t> guide_;   // unit holding item j * kBucket
};

/// Valid starts and windows of length `sequence_length` under a boundaries policy.
///
/// `ragged` (lengths "ragged" / "uniform", SPEC §5.1): every row of a unit is a valid start and
/// a unit of n rows is tiled with ceil(n / S) windows; a window is cut at its unit's end.
///
/// Not thread-safe (the sampler owns it under its lock).
class WindowIndex {
 public:
  WindowIndex(Boundaries boundaries, int64_t sequence_length, bool ragged = false);

  /// Catches up with `source`: rows appended since the last call extend the index (their done
  /// flags are read once); any other change of the segment layout (sources loaded before the
  /// buffer, a clear) rebuilds it. Throws what the source throws; an extension that throws
  /// leaves the index as it was (a failed rebuild leaves it empty until the next call). Cost:
  /// O(appended rows + segments), never O(rows) unless rebuilding; done flags are read 1024 rows at
  /// a time, so no temporary grows with the rows.
  void update(const RowSource& source);

  /// Rows covered.
  int64_t rows() const noexcept { return rows_; }
  /// Number of units (episodes for kEpisode).
  size_t units() const noexcept { return begin_.size(); }
  /// Valid random starts.
  int64_t num_starts() const noexcept { return starts_.total(); }
  /// Tiled windows (SPEC §5's W under boundaries kNone).
  int64_t num_windows() const noexcept { return windows_.total(); }
  /// The `i`-th valid start, i in [0, num_starts()).
  Window start_at(int64_t i) const noexcept;
  /// The `w`-th window, w in [0, num_windows()).
  Window window_at(int64_t w) const noexcept;

 private:
  /// Done flags read per RowSource::read_done call.
  static constexpr int64_t kChunk = 1024;

  /// What extend() changes before it commits, to roll back a failed extension.
  struct Mark {
    size_t units = 0;
    int64_t last_end = 0;
    int64_t starts = 0;
    int64_t windows = 0;
    bool last_open = false;
  };
  Mark mark() const noexcept;
  void roll_back(const Mark& m) noexcept;

  void reset();
  void extend(const std::vector<int64_t>& segments, const RowSource& source);
  void add_episodes(int64_t row, int64_t cut, const RowSource& source, std::vector<int64_t>& done);
  bool appended_only(const std::vector<int64_t>& segments) const;
  void add_rows(int64_t begin, int64_t end);
  void grow_open_unit(int64_t end);
  int64_t start_count(int64_t length) const noexcept;
  int64_t window_count(int64_t length) const noexcept;

  Boundaries boundaries_;
  int64_t s_;
  bool ragged_;
  int64_t rows_ = 0;
  bool last_open_ = false;  // the last unit may still grow
  std::vector<int64_t> segments_;
  std::vector<int64_t> begin_;
  std::vector<int64_t> end_;
  PrefixLocator starts_;
  PrefixLocator windows_;
};

}  // namespace mouse::detail
