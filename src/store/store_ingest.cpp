#include "mouse/store_ingest.hpp"

#include <fmt/format.h>

#include <utility>

#include "mouse/arrow.hpp"
#include "mouse/error.hpp"

namespace mouse {
namespace {

using arrow::TypeId;

// Whether the last row of a `done` column is not 0 (a null counts as 0: append refuses it anyway).
bool last_done(const arrow::ArrayData& a) {
  const int64_t i = a.length - 1;
  if (i < 0 || !a.is_valid(i)) return false;
  switch (a.type->id) {
    case TypeId::kBool: return arrow::bool_value(a, i);
    case TypeId::kInt8: return arrow::values<int8_t>(a)[i] != 0;
    case TypeId::kInt16: return arrow::values<int16_t>(a)[i] != 0;
    case TypeId::kInt32: return arrow::values<int32_t>(a)[i] != 0;
    case TypeId::kInt64: return arrow::values<int64_t>(a)[i] != 0;
    case TypeId::kUInt8: return arrow::values<uint8_t>(a)[i] != 0;
    case TypeId::kUInt16: return arrow::values<uint16_t>(a)[i] != 0;
    case TypeId::kUInt32: return arrow::values<uint32_t>(a)[i] != 0;
    case TypeId::kUInt64: return arrow::values<uint64_t>(a)[i] != 0;
    case TypeId::kFloat32: return arrow::values<float>(a)[i] != 0;
    case TypeId::kFloat64: return arrow::values<double>(a)[i] != 0;
    default:
      throw TypeError(fmt::format(
          "StoreIngest.submit: column \"done\" has type {}; expected bool, integers or floats",
          a.type->to_string()));
  }
}

// Where an episode that the store refused came from, for the message.
std::string context(const std::string& id, int64_t first, int64_t last) {
  return fmt::format("StoreIngest: collector \"{}\", blocks {}..{} (dropped): ", id, first, last);
}

}  // namespace

StoreIngest::StoreIngest(DatasetStore& store, int64_t max_buffer_steps)
    : store_(store), max_buffer_steps_(max_buffer_steps) {
  if (max_buffer_steps < 0) {
    throw InvalidArgument(fmt::format(
        "StoreIngest: max_buffer_steps must be >= 0 (0: no bound), got {}", max_buffer_steps));
  }
}

StoreIngest::Collector& StoreIngest::find(std::string_view collector, const char* what) {
  auto it = collectors_.find(collector);
  if (it == collectors_.end()) {
    throw InvalidArgument(fmt::format(
        "StoreIngest.{}: collector \"{}\" has no writer; open one first (ingest.writer(id))", what,
        collector));
  }
  return it->second;
}

int64_t StoreIngest::open(std::string_view collector) {
  if (collector.empty()) {
    throw InvalidArgument("StoreIngest.open: the collector id is empty; expected a non-empty id");
  }
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = collectors_.find(collector);
  if (it == collectors_.end()) {
    it = collectors_.emplace(std::string(collector), Collector{}).first;
    it->second.stats.id = std::string(collector);
  }
  Collector& c = it->second;
  // The earlier run's unfinished episode never reaches the store: the new run sends its blocks
  // (same numbers, same rows when it replays the same steps) again.
  totals_.blocks_held -= c.stats.blocks_held;
  totals_.steps_held -= c.stats.steps_held;
  c.held.clear();
  c.stats.blocks_held = 0;
  c.stats.steps_held = 0;
  c.stats.received = c.stats.applied;
  ++c.stats.runs;
  return c.stats.applied;
}

SubmitResult StoreIngest::submit(std::string_view collector, int64_t number, ColumnBlock columns,
                                 bool release) {
  if (number < 0) {
    throw InvalidArgument(
        fmt::format("StoreIngest.submit: block number must be >= 0, got {}", number));
  }
  const arrow::ArrayData* done = nullptr;
  for (const auto& [name, array] : columns) {
    if (name == "done" && array) done = array.get();
  }
  if (done == nullptr) {
    throw InvalidArgument(fmt::format(
        "StoreIngest.submit: block {} of collector \"{}\" has no \"done\" column", number,
        collector));
  }
  const int64_t rows = done->length;
  if (rows == 0) {
    throw InvalidArgument(fmt::format(
        "StoreIngest.submit: block {} of collector \"{}\" has no rows", number, collector));
  }
  const bool ends = release || last_done(*done);

  std::lock_guard<std::mutex> lock(mutex_);
  Collector& c = find(collector, "submit");
  SubmitResult result;
  ++totals_.blocks_in;
  totals_.steps_in += rows;
  c.stats.received = std::max(c.stats.received, number);
  auto held = c.held.find(number);
  if (number <= c.stats.applied || held != c.held.end()) {
    ++c.stats.duplicates;
    ++totals_.duplicates;
    result.outcome = BlockOutcome::kDuplicate;
    result.applied = c.stats.applied;
    return result;
  }
  // Would it be held after this call? Only blocks that apply at once bypass the bound.
  // It applies now when the blocks between the last applied one and it are all held, and it or
  // a held block after it (consecutively) ends the episode.
  bool applies_now = false;
  int64_t want = c.stats.applied + 1;
  for (auto it = c.held.begin(); it != c.held.end() && it->first == want && want < number;
       ++it) {
    ++want;
  }
  if (want == number) {
    applies_now = ends;
    ++want;
    for (auto it = c.held.find(want); !applies_now && it != c.held.end() && it->first == want;
         ++it, ++want) {
      applies_now = it->second.ends;
    }
  }
  if (!applies_now && max_buffer_steps_ > 0 && totals_.steps_held + rows > max_buffer_steps_) {
    ++c.stats.refused;
    ++totals_.refused;
    result.outcome = BlockOutcome::kRefused;
    result.applied = c.stats.applied;
    return result;
  }
  c.held.emplace(number, Held{std::move(columns), rows, ends});
  ++c.stats.blocks_held;
  c.stats.steps_held += rows;
  ++totals_.blocks_held;
  totals_.steps_held += rows;
  result.outcome = BlockOutcome::kHeld;
  apply_ready(c, result);
  if (number <= c.stats.applied) result.outcome = BlockOutcome::kApplied;
  result.applied = c.stats.applied;
  return result;
}

void StoreIngest::apply_ready(Collector& c, SubmitResult& result) {
  for (;;) {
    // The run of consecutive blocks after the last applied one, up to the first that ends an
    // episode.
    int64_t next = c.stats.applied + 1;
    auto it = c.held.begin();
    int64_t last_end = -1;
    for (; it != c.held.end() && it->first == next; ++it, ++next) {
      if (it->second.ends) {
        last_end = it->first;
        break;
      }
    }
    if (last_end < 0) return;
    std::vector<ColumnBlock> blocks;
    int64_t steps = 0;
    auto end = std::next(c.held.find(last_end));
    for (auto b = c.held.begin(); b != end; ++b) {
      blocks.push_back(std::move(b->second.columns));
      steps += b->second.rows;
    }
    const auto count = static_cast<int64_t>(blocks.size());
    c.held.erase(c.held.begin(), end);
    c.stats.blocks_held -= count;
    c.stats.steps_held -= steps;
    totals_.blocks_held -= count;
    totals_.steps_held -= steps;
    // The episode's blocks left the hold either way: applied, or refused by the store (then the
    // error names them and the collector goes on with its next episode).
    c.stats.applied = last_end;
    try {
      store_.append_column_blocks(blocks);
    } catch (const TypeError& e) {
      throw TypeError(context(c.stats.id, last_end - count + 1, last_end) + e.what());
    } catch (const InvalidArgument& e) {
      throw InvalidArgument(context(c.stats.id, last_end - count + 1, last_end) + e.what());
    }
    c.stats.blocks_applied += count;
    c.stats.steps_applied += steps;
    totals_.blocks_applied += count;
    totals_.steps_applied += steps;
    result.blocks_applied += count;
    result.steps_applied += steps;
  }
}

IngestStats StoreIngest::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  IngestStats out = totals_;
  for (const auto& [id, c] : collectors_) out.collectors.push_back(c.stats);
  return out;
}

std::map<std::string, int64_t, std::less<>> StoreIngest::applied() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::map<std::string, int64_t, std::less<>> out;
  for (const auto& [id, c] : collectors_) out.emplace(id, c.stats.applied);
  return out;
}

void StoreIngest::restore(const std::map<std::string, int64_t, std::less<>>& applied) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& [id, number] : applied) {
    if (id.empty() || number < -1) {
      throw InvalidArgument(fmt::format(
          "StoreIngest.restore: collector \"{}\" with last applied block {}; expected a "
          "non-empty id and a number >= -1",
          id, number));
    }
    auto it = collectors_.find(id);
    if (it == collectors_.end()) {
      it = collectors_.emplace(id, Collector{}).first;
      it->second.stats.id = id;
    }
    it->second.held.clear();
    totals_.blocks_held -= it->second.stats.blocks_held;
    totals_.steps_held -= it->second.stats.steps_held;
    it->second.stats.blocks_held = 0;
    it->second.stats.steps_held = 0;
    it->second.stats.applied = number;
    it->second.stats.received = std::max(it->second.stats.received, number);
  }
}

}  // namespace mouse
