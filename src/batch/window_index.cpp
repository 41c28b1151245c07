#include "batch/window_index.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <span>

#include "mouse/error.hpp"

namespace mouse::detail {

Boundaries parse_boundaries(std::string_view name) {
  if (name == "none") return Boundaries::kNone;
  if (name == "source") return Boundaries::kSource;
  if (name == "episode") return Boundaries::kEpisode;
  throw InvalidArgument(fmt::format(
      "PrefetchBatchifier: boundaries must be \"none\", \"source\" or \"episode\", got \"{}\"",
      name));
}

void PrefixLocator::clear() {
  first_.assign(1, 0);
  guide_.clear();
}

void PrefixLocator::push(int64_t count) {
  first_.push_back(first_.back() + count);
  extend_guide();
}

void PrefixLocator::grow_last(int64_t count) {
  MOUSE_DCHECK(units() > 0);
  const int64_t total = first_[first_.size() - 2] + count;
  MOUSE_DCHECK(total >= first_.back());
  first_.back() = total;
  extend_guide();
}

// Guide entries below `total` still name the units holding their items: units only ever grow
// at the end, so the entries were right when they were added and stay right.
void PrefixLocator::truncate(size_t units, int64_t total) noexcept {
  MOUSE_DCHECK(units <= this->units() && total <= this->total());
  first_.resize(units + 1);
  first_.back() = total;
  guide_.resize(static_cast<size_t>((total + kBucket - 1) / kBucket));
}

// Items beyond the guided ones were all added to the last unit.
void PrefixLocator::extend_guide() {
  while (static_cast<int64_t>(guide_.size()) * kBucket < total()) guide_.push_back(units() - 1);
}

std::pair<size_t, int64_t> PrefixLocator::locate(int64_t item) const noexcept {
  MOUSE_DCHECK(item >= 0 && item < total());
  const size_t bucket = static_cast<size_t>(item / kBucket);
  const size_t lo = guide_[bucket];
  const size_t hi = bucket + 1 < guide_.size() ? guide_[bucket + 1] : units() - 1;
  // The unit is the last u in [lo, hi] with first_[u] <= item; usually lo itself.
  auto it = std::upper_bound(first_.begin() + static_cast<std::ptrdiff_t>(lo) + 1,
                             first_.begin() + static_cast<std::ptrdiff_t>(hi) + 1, item);
  const size_t unit = static_cast<size_t>(it - first_.begin()) - 1;
  return {unit, item - first_[unit]};
}

WindowIndex::WindowIndex(Boundaries boundaries, int64_t sequence_length, bool ragged)
    : boundaries_(boundaries), s_(sequence_length), ragged_(ragged) {
  MOUSE_DCHECK(sequence_length > 0);
}

void WindowIndex::reset() {
  rows_ = 0;
  last_open_ = false;
  segments_.clear();
  begin_.clear();
  end_.clear();
  starts_.clear();
  windows_.clear();
}

int64_t WindowIndex::start_count(int64_t length) const noexcept {
  if (ragged_) return length;
  if (boundaries_ == Boundaries::kEpisode && length > 0 && length < s_) return 1;  // padded
  return std::max<int64_t>(0, length - s_ + 1);
}

int64_t WindowIndex::window_count(int64_t length) const noexcept {
  if (ragged_) return (length + s_ - 1) / s_;
  if (boundaries_ == Boundaries::kEpisode) return (length + s_ - 1) / s_;
  return length / s_;
}

Window WindowIndex::start_at(int64_t i) const noexcept {
  auto [unit, offset] = starts_.locate(i);
  const int64_t start = begin_[unit] + offset;
  return {start, std::min(s_, end_[unit] - start)};
}

Window WindowIndex::window_at(int64_t w) const noexcept {
  auto [unit, offset] = windows_.locate(w);
  const int64_t start = begin_[unit] + offset * s_;
  return {start, std::min(s_, end_[unit] - start)};
}

// Rows [0, rows_) keep their meaning when every segment boundary below rows_ is unchanged and
// the appendable segment still starts where it did (or was empty, so new sources could follow).
bool WindowIndex::appended_only(const std::vector<int64_t>& segments) const {
  if (segments_.empty() || segments.empty() || segments.back() < rows_) return false;
  auto below = [this](const std::vector<int64_t>& s) {
    std::vector<int64_t> out;
    for (int64_t b : s) {
      if (b < rows_ && (out.empty() || out.back() != b)) out.push_back(b);
    }
    return out;
  };
  if (below(segments) != below(segments_)) return false;
  const int64_t old_buffer = segments_.size() >= 2 ? segments_[segments_.size() - 2] : 0;
  const int64_t new_buffer = segments.size() >= 2 ? segments[segments.size() - 2] : 0;
  return new_buffer == old_buffer || old_buffer == rows_;
}

void WindowIndex::update(const RowSource& source) {
  std::vector<int64_t> segments = source.segment_starts();
  if (!segments.empty() && segments.back() == rows_ && segments == segments_) return;
  if (!appended_only(segments)) reset();
  extend(segments, source);
}

void WindowIndex::grow_open_unit(int64_t end) {
  end_.back() = end;
  const int64_t length = end - begin_.back();
  starts_.grow_last(start_count(length));
  windows_.grow_last(window_count(length));
}

// Rows [begin, end) of one segment, continuing its open unit if there is one.
void WindowIndex::add_rows(int64_t begin, int64_t end) {
  if (begin >= end) return;
  if (last_open_) {
    grow_open_unit(end);
  } else {
    begin_.push_back(begin);
    end_.push_back(begin);
    starts_.push(0);
    windows_.push(0);
    last_open_ = true;
    grow_open_unit(end);
  }
}

WindowIndex::Mark WindowIndex::mark() const noexcept {
  return {units(), units() > 0 ? end_.back() : 0, starts_.total(), windows_.total(), last_open_};
}

void WindowIndex::roll_back(const Mark& m) noexcept {
  begin_.resize(m.units);
  end_.resize(m.units);
  if (m.units > 0) end_.back() = m.last_end;
  starts_.truncate(m.units, m.starts);
  windows_.truncate(m.units, m.windows);
  last_open_ = m.last_open;
}

// Rows [row, cut) of one segment under kEpisode, split after every done row. The done flags are
// read kChunk at a time into a fixed buffer, so a first build over millions of rows needs no
// temporary proportional to them.
void WindowIndex::add_episodes(int64_t row, int64_t cut, const RowSource& source,
                               std::vector<int64_t>& done) {
  int64_t run = row;  // first row of the episode not yet added
  for (int64_t a = row; a < cut; a += kChunk) {
    const int64_t b = std::min(cut, a + kChunk);
    source.read_done(a, b, std::span<int64_t>(done).first(static_cast<size_t>(b - a)));
    for (int64_t r = a; r < b; ++r) {
      if (done[static_cast<size_t>(r - a)] != 0) {
        add_rows(run, r + 1);
        last_open_ = false;  // the episode ended at r
        run = r + 1;
      }
    }
  }
  add_rows(run, cut);
}

// Applies the new rows segment by segment, reading done flags as it goes; if a read throws, the
// units added so far are rolled back, so the index is as it was (empty after a reset).
void WindowIndex::extend(const std::vector<int64_t>& segments, const RowSource& source) {
  const int64_t total = segments.empty() ? 0 : segments.back();
  // Cut points: where a new segment starts at or after rows_ (none for kNone).
  std::vector<int64_t> cuts;
  if (boundaries_ != Boundaries::kNone) {
    for (size_t i = 0; i + 1 < segments.size(); ++i) {
      if (segments[i] >= rows_ && segments[i] < total) cuts.push_back(segments[i]);
    }
  }
  cuts.push_back(total);
  std::vector<int64_t> done;
  if (boundaries_ == Boundaries::kEpisode && total > rows_) {
    done.resize(static_cast<size_t>(std::min(kChunk, total - rows_)));
  }
  const Mark before = mark();
  try {
    int64_t row = rows_;
    for (int64_t cut : cuts) {
      if (cut < row) continue;
      if (boundaries_ == Boundaries::kEpisode) {
        add_episodes(row, cut, source, done);
      } else {
        add_rows(row, cut);
      }
      row = cut;
      if (cut < total) last_open_ = false;  // a segment starts at `cut`
    }
  } catch (...) {
    roll_back(before);
    throw;
  }
  rows_ = total;
  segments_ = segments;
}

}  // namespace mouse::detail
