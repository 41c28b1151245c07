#include "store/validate.hpp"

#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <cmath>
#include <fstream>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <system_error>
#include <type_traits>
#include <vector>

#include "core/mapped_ranges.hpp"
#include "hf/atomic_dir.hpp"
#include "hf/cache_entry.hpp"
#include "mouse/error.hpp"
#include "store/numeric.hpp"

namespace mouse::detail {

namespace fs = std::filesystem;
using arrow::ArrayData;
using arrow::TypeId;

namespace {

// Bumped whenever the checks change meaning, so older markers stop matching.
constexpr int kMarkerVersion = 1;
// Bytes of file pages noted, read and given back at a time.
constexpr uint64_t kReleaseWindow = uint64_t{32} << 20;

std::atomic<int64_t> g_chunks_total{0};

// The kernels: one pass over a chunk's values, no early exit, so that the compiler vectorises
// them (the avx2 clone where the CPU has it; this file is built with -fno-trapping-math so that
// trunc and the float compares vectorise). True when every value passes; a false alarm (a null
// slot's value, a bound not exact in the float type) is cleared by the exact per-row pass.
// No clones under a sanitizer: their ifunc resolvers run while the dynamic loader relocates the
// program, before the sanitizer's runtime is up, and an instrumented resolver crashes there
// (ThreadSanitizer: a segfault before main).
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__) && \
    !defined(__SANITIZE_THREAD__) && !defined(__SANITIZE_ADDRESS__)
#define MOUSE_KERNEL __attribute__((target_clones("avx2", "default")))
#else
#define MOUSE_KERNEL
#endif

// (The accumulators are unsigned: GCC 12 does not vectorise an |= into a bool.)
template <class T>
MOUSE_KERNEL bool ints_within(const T* v, int64_t n, T lo, T hi) noexcept {
  unsigned bad = 0;
  for (int64_t i = 0; i < n; ++i) {
    const T x = v[i];
    bad |= unsigned(x < lo) | unsigned(x > hi);
  }
  return bad == 0;
}

template <class T>
MOUSE_KERNEL bool floats_whole_within(const T* v, int64_t n, T lo, T hi) noexcept {
  unsigned bad = 0;
  for (int64_t i = 0; i < n; ++i) {
    const T x = v[i];
    bad |= unsigned(x != std::trunc(x)) | unsigned(!(x >= lo)) | unsigned(!(x <= hi));
  }
  return bad == 0;
}

template <class T>
MOUSE_KERNEL bool floats_finite(const T* v, int64_t n) noexcept {
  constexpr T kMax = std::numeric_limits<T>::max();
  unsigned bad = 0;
  for (int64_t i = 0; i < n; ++i) bad |= unsigned(!(std::fabs(v[i]) <= kMax));
  return bad == 0;
}

// Set bits of bitmap `bits` in [first, first + count).
int64_t count_set(const uint8_t* bits, int64_t first, int64_t count) noexcept {
  int64_t n = 0;
  int64_t i = first;
  const int64_t end = first + count;
  for (; i < end && (i & 7) != 0; ++i) n += arrow::get_bit(bits, i);
  for (; i + 64 <= end; i += 64) {
    uint64_t w;
    std::memcpy(&w, bits + (i >> 3), 8);
    n += std::popcount(w);
  }
  for (; i < end; ++i) n += arrow::get_bit(bits, i);
  return n;
}

// What one contract column must satisfy.
struct Rule {
  Key key;
  int field = -1;
  bool required = false;  // no nulls
  bool finite = false;    // no NaN / inf
  bool whole = false;     // an integer key: float values whole, all values within [lo, hi]
  int64_t lo = std::numeric_limits<int64_t>::min();
  int64_t hi = std::numeric_limits<int64_t>::max();
  int64_t max_action_dim = 0;  // for the message of an action bound

  std::string_view column() const noexcept { return key_specs()[static_cast<int>(key)].column; }
};

std::vector<Rule> rules_for(const SchemaPlan& plan, const StoreConfig& config) {
  std::vector<Rule> rules;
  const auto add = [&](Key key) -> Rule* {
    const int k = static_cast<int>(key);
    if (plan.field[k] < 0 || plan.shape[k] == ColumnShape::kAbsent) return nullptr;
    Rule r;
    r.key = key;
    r.field = plan.field[k];
    r.required = key_specs()[k].required;
    r.whole = is_integer_key(key);
    rules.push_back(r);
    return &rules.back();
  };
  if (Rule* r = add(Key::kAction)) {
    r->lo = 0;
    if (plan.has(Key::kQStar)) {
      r->hi = config.max_action_dim - 1;
      r->max_action_dim = config.max_action_dim;
    }
  }
  if (Rule* r = add(Key::kReward)) r->finite = true;
  if (Rule* r = add(Key::kDone)) {
    r->lo = 0;
    r->hi = 2;
  }
  add(Key::kTime);
  add(Key::kObsDiscrete);
  return rules;
}

// The exact check of one value: the problem text (without column and row), or "".
template <class T>
std::string value_problem(const Rule& r, T v) {
  if constexpr (std::is_floating_point_v<T>) {
    if (r.finite && !std::isfinite(v)) return fmt::format("has the value {}", v);
    if (!r.whole) return {};
    if (!is_whole_int64(static_cast<double>(v))) return fmt::format("has the value {}", v);
    return value_problem<int64_t>(r, static_cast<int64_t>(v));
  } else {
    if (!r.whole) return {};
    if constexpr (std::is_same_v<T, uint64_t>) {
      if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return fmt::format("has the value {}", v);
      }
    }
    const auto x = static_cast<int64_t>(v);
    if (x < r.lo || x > r.hi) return fmt::format("has the value {}", x);
    return {};
  }
}

// Why a value that value_problem flagged is wrong, for the message.
template <class T>
std::string rule_text(const Rule& r, T v) {
  if constexpr (std::is_floating_point_v<T>) {
    if (r.finite) return "a reward must be finite (not NaN or infinite)";
    if (!is_whole_int64(static_cast<double>(v))) {
      return fmt::format("it is not a whole number within int64, and \"{}\" is int64",
                         key_specs()[static_cast<int>(r.key)].name);
    }
  } else if constexpr (std::is_same_v<T, uint64_t>) {
    if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return fmt::format("it is outside int64, and \"{}\" is int64",
                         key_specs()[static_cast<int>(r.key)].name);
    }
  }
  if (r.key == Key::kDone) return "done must be 0 (running), 1 (terminal) or 2 (truncated)";
  if (r.key == Key::kAction && static_cast<double>(v) < 0) return "an action must be >= 0";
  if (r.key == Key::kAction) {
    return fmt::format("with q_star encoded (metadata_q_star), an action must be < "
                       "max_action_dim ({})",
                       r.max_action_dim);
  }
  return "it is outside the column contract";
}

struct ChunkProblem {
  int64_t row = 0;   // within the chunk
  std::string what;  // "has the value 3"
  std::string why;   // the rule it breaks
};

// The exact pass over a chunk, row by row: the first null of a required column or value
// outside the rule, or nullopt.
std::optional<ChunkProblem> exact_pass(const ArrayData& a, const Rule& r) {
  const ArrayData* leaf = nullptr;
  {
    int64_t lo = 0, hi = 0;
    leaf = &leaf_span(a, lo, hi);
  }
  const bool leaf_nulls = leaf != &a && !leaf->buffers.empty() && leaf->buffers[0].size() > 0;
  std::optional<ChunkProblem> found;
  const auto scan = [&](auto tag) {
    using T = typename decltype(tag)::type;
    for (int64_t i = 0; i < a.length && !found; ++i) {
      if (!a.is_valid(i)) {
        if (r.required) {
          found = ChunkProblem{i, "is null", "a required column must have a value in every row"};
        }
        continue;
      }
      int64_t lo = i, hi = i + 1;
      leaf_span(a, lo, hi);
      for (int64_t k = lo; k < hi; ++k) {
        if (leaf_nulls && !leaf->is_valid(k)) continue;
        const auto v = load<T>(*leaf, k);
        std::string what = value_problem(r, v);
        if (!what.empty()) {
          found = ChunkProblem{i, std::move(what), rule_text(r, v)};
          break;
        }
      }
    }
  };
  visit_number(leaf->type->id, scan);
  return found;
}

// The fast pass: whether the chunk certainly passes (false: run the exact pass). Adds the bytes
// it read to `bytes`.
bool fast_pass(const ArrayData& a, const Rule& r, int64_t& bytes) {
  if (r.required && !a.buffers.empty() && a.buffers[0].size() > 0) {
    bytes += (a.length + 7) / 8;
    if (count_set(a.buffers[0].data(), a.offset, a.length) != a.length) return false;
  }
  int64_t lo = 0, hi = a.length;
  const ArrayData& leaf = leaf_span(a, lo, hi);
  const int64_t n = hi - lo;
  if (n <= 0) return true;
  bool ok = true;
  const auto scan = [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, BitTag> || std::is_same_v<T, HalfTag>) {
      // Rare storage: bools pass unless the bounds exclude 0 or 1; halves go the exact way.
      if constexpr (std::is_same_v<T, BitTag>) {
        ok = !r.whole || (r.lo <= 0 && r.hi >= 1);
      } else {
        ok = !(r.whole || r.finite);
      }
    } else if constexpr (std::is_floating_point_v<T>) {
      const T* v = arrow::values<T>(leaf) + lo;
      bytes += n * static_cast<int64_t>(sizeof(T));
      if (r.finite) ok = floats_finite(v, n);
      if (ok && r.whole) {
        // Bounds as T, rounded inwards (a value between is sent to the exact pass).
        T flo = static_cast<T>(r.lo);
        T fhi = static_cast<T>(r.hi);
        if (static_cast<long double>(flo) < static_cast<long double>(r.lo)) {
          flo = std::nextafter(flo, T(0));
        }
        if (static_cast<long double>(fhi) > static_cast<long double>(r.hi)) {
          fhi = std::nextafter(fhi, T(0));
        }
        ok = floats_whole_within(v, n, flo, fhi);
      }
    } else {
      if (!r.whole) return;  // integers are always finite
      constexpr auto tmin = std::numeric_limits<T>::min();
      constexpr auto tmax = std::numeric_limits<T>::max();
      const bool lo_free = std::is_unsigned_v<T> ? r.lo <= 0 : r.lo <= static_cast<int64_t>(tmin);
      const bool hi_free = r.hi >= 0 && static_cast<uint64_t>(r.hi) >= static_cast<uint64_t>(tmax);
      if (lo_free && hi_free) return;
      // Both bounds lie inside T here (hi >= 0: max_action_dim > 0).
      const T tlo = lo_free ? tmin : static_cast<T>(r.lo);
      const T thi = hi_free ? tmax : static_cast<T>(r.hi);
      bytes += n * static_cast<int64_t>(sizeof(T));
      ok = ints_within(arrow::values<T>(leaf) + lo, n, tlo, thi);
    }
  };
  visit_number(leaf.type->id, scan);
  return ok;
}

// Every non-empty buffer under `a`, with a callback.
template <class F>
void for_each_buffer(const ArrayData& a, F&& f) {
  for (const Buffer& b : a.buffers) {
    if (b.size() > 0) f(b);
  }
  for (const auto& c : a.children) for_each_buffer(*c, f);
}

// A file the chunks of one mapping lie in.
struct FileGroup {
  const FileMapping* mapping = nullptr;
  ContentHash chunks;     // where the chunks lie in the file
  int64_t pending = 0;    // chunks not yet checked
  int64_t rows = 0;
  bool skip = false;      // its marker matched
  bool failed = false;
  fs::path marker;
  std::string marker_text;
};

struct ChunkRef {
  size_t batch;
  size_t rule;
  int group;  // index into the groups, or -1 (in memory, or spread over mappings)
};

std::string checks_text(const std::vector<Rule>& rules, const arrow::Schema* schema) {
  std::string out;
  for (const Rule& r : rules) {
    out += fmt::format("{}:{}:{}{}{}:{}:{};", r.column(),
                       schema ? schema->fields[static_cast<size_t>(r.field)].type->to_string() : "",
                       int(r.required), int(r.finite), int(r.whole), r.lo, r.hi);
  }
  return out;
}

std::optional<std::string> read_small_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The marker of `g`'s file, once its chunks are known: false when the file cannot be
// remembered (gone, replaced since it was mapped).
bool name_marker(FileGroup& g, const fs::path& root, const std::string& checks) {
  const FileMapping& m = *g.mapping;
  if (m.path.ends_with(" (deleted)")) return false;
  struct stat st {};
  if (::stat(m.path.c_str(), &st) != 0 || static_cast<uint64_t>(st.st_ino) != m.inode) return false;
  FileStamp stamp;
  try {
    stamp = file_stamp(m.path);
  } catch (const Error&) {
    return false;
  }
  nlohmann::ordered_json j{{"version", kMarkerVersion},
                           {"file", {{"path", stamp.path}, {"size", stamp.size},
                                     {"mtime_ns", stamp.mtime_ns}}},
                           {"checks", checks},
                           {"chunks", g.chunks.hex()},
                           {"rows", g.rows}};
  g.marker_text = j.dump();
  ContentHash name;
  name.update(g.marker_text);
  g.marker = root / (name.hex() + ".ok");
  return true;
}

// Markers whose file is gone or changed can never match again.
void remove_stale_markers(const fs::path& root) {
  std::error_code ec;
  fs::directory_iterator it(root, ec);
  if (ec) return;
  const auto now = fs::file_time_type::clock::now();
  for (const auto& e : it) {
    const std::string name = e.path().filename().string();
    std::error_code e2;
    if (name.ends_with(".tmp")) {  // a write killed half-way, long ago
      const auto t = fs::last_write_time(e.path(), e2);
      if (!e2 && now - t > std::chrono::hours(24)) fs::remove(e.path(), e2);
      continue;
    }
    if (!name.ends_with(".ok")) continue;
    const auto text = read_small_file(e.path());
    if (!text) continue;
    const auto j = nlohmann::json::parse(*text, nullptr, false);
    if (j.is_discarded() || !j.contains("file") || !j["file"].contains("path") ||
        !j["file"]["path"].is_string()) {
      fs::remove(e.path(), e2);
      continue;
    }
    const std::string path = j["file"]["path"].get<std::string>();
    bool stale = file_is_gone(path);
    if (!stale) {
      try {
        const FileStamp s = file_stamp(path);
        stale = j["file"].value("size", int64_t{-1}) != s.size ||
                j["file"].value("mtime_ns", int64_t{-1}) != s.mtime_ns;
      } catch (const Error&) {
      }
    }
    if (stale) fs::remove(e.path(), e2);
  }
}

}  // namespace

std::optional<fs::path> validated_cache_root() { return default_cache_root("validated"); }

int64_t validated_chunks_total() noexcept { return g_chunks_total.load(); }

std::optional<SourceValueProblem> validate_batches(std::span<const arrow::RecordBatch> batches,
                                             const SchemaPlan& plan, const StoreConfig& config,
                                             int64_t first_row, const ValidateOptions& options,
                                             ValidateStats* stats) {
  ValidateStats local_stats;
  ValidateStats& st = stats ? *stats : local_stats;
  const std::vector<Rule> rules = rules_for(plan, config);
  if (rules.empty() || batches.empty()) return std::nullopt;

  // Which file each chunk lies in (a chunk all of whose buffers are in one file mapping).
  const bool want_files = options.marker_root.has_value() || options.release_pages;
  const ProcessMappings maps = want_files ? ProcessMappings::read() : ProcessMappings();
  std::vector<FileGroup> groups;
  std::vector<int> group_of(maps.mappings().size(), -1);
  std::vector<ChunkRef> chunks;
  chunks.reserve(batches.size() * rules.size());
  for (size_t b = 0; b < batches.size(); ++b) {
    for (size_t k = 0; k < rules.size(); ++k) {
      const auto& columns = batches[b].columns;
      const auto field = static_cast<size_t>(rules[k].field);
      if (field >= columns.size() || batches[b].num_rows == 0) continue;
      const ArrayData& a = *columns[field];
      int group = -1;
      if (!maps.mappings().empty()) {
        const FileMapping* m = nullptr;
        bool one = true;
        for_each_buffer(a, [&](const Buffer& buf) {
          const auto begin = reinterpret_cast<uintptr_t>(buf.data());
          const bool in_m = m != nullptr && begin >= m->begin &&
                            static_cast<uint64_t>(buf.size()) <= m->end - begin;
          const FileMapping* here =
              in_m ? m : maps.find(buf.data(), static_cast<uint64_t>(buf.size()));
          if (here == nullptr || (m != nullptr && here != m)) one = false;
          m = here;
        });
        if (one && m != nullptr) {
          const auto mi = static_cast<size_t>(m - maps.mappings().data());
          if (group_of[mi] < 0) {
            group_of[mi] = static_cast<int>(groups.size());
            groups.push_back(FileGroup{});
            groups.back().mapping = m;
          }
          group = group_of[mi];
          FileGroup& g = groups[static_cast<size_t>(group)];
          ++g.pending;
          g.rows += a.length;
          const auto word = [&](uint64_t w) {
            g.chunks.update(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(&w), 8));
          };
          word(k);
          word(static_cast<uint64_t>(a.offset));
          word(static_cast<uint64_t>(a.length));
          for_each_buffer(a, [&](const Buffer& buf) {
            word(reinterpret_cast<uintptr_t>(buf.data()) - m->begin + m->file_offset);
            word(static_cast<uint64_t>(buf.size()));
          });
        }
      }
      chunks.push_back({b, k, group});
    }
  }

  // Files checked before with the same checks: nothing to read.
  if (options.marker_root) {
    const std::string checks =
        checks_text(rules, batches.front().schema.get()) +
        (plan.has(Key::kQStar) ? fmt::format("max_action_dim={}", config.max_action_dim) : "");
    for (FileGroup& g : groups) {
      if (!name_marker(g, *options.marker_root, checks)) continue;
      const auto text = read_small_file(g.marker);
      if (text && *text == g.marker_text) {
        g.skip = true;
        ++st.files_skipped;
      }
    }
  }

  std::vector<int64_t> batch_start(batches.size() + 1, first_row);
  for (size_t b = 0; b < batches.size(); ++b) batch_start[b + 1] = batch_start[b] + batches[b].num_rows;

  std::optional<PageReleaser> releaser;
  if (options.release_pages && !groups.empty()) releaser.emplace();
  std::optional<SourceValueProblem> problem;
  size_t problem_batch = 0;
  size_t i = 0;
  while (i < chunks.size() && !problem) {
    // A window of chunks: note the file pages they span, check them, give the pages back.
    size_t j = i;
    uint64_t noted = 0;
    while (j < chunks.size() && (j == i || noted < kReleaseWindow)) {
      const ChunkRef& c = chunks[j++];
      if (c.group >= 0 && groups[static_cast<size_t>(c.group)].skip) continue;
      if (releaser && c.group >= 0 && groups[static_cast<size_t>(c.group)].mapping->droppable()) {
        const ArrayData& a = *batches[c.batch].columns[static_cast<size_t>(rules[c.rule].field)];
        for_each_buffer(a, [&](const Buffer& buf) {
          releaser->note(buf.data(), static_cast<uint64_t>(buf.size()));
          noted += static_cast<uint64_t>(buf.size());
        });
      }
    }
    // Problems of one batch are compared by row, so the first in row order is reported.
    for (; i < j; ++i) {
      const ChunkRef& c = chunks[i];
      FileGroup* g = c.group >= 0 ? &groups[static_cast<size_t>(c.group)] : nullptr;
      if (g && g->skip) continue;
      if (problem && c.batch != problem_batch) break;
      const Rule& r = rules[c.rule];
      const ArrayData& a = *batches[c.batch].columns[static_cast<size_t>(r.field)];
      ++st.chunks_checked;
      if (fast_pass(a, r, st.bytes_checked)) {
        if (g) --g->pending;
        continue;
      }
      const auto found = exact_pass(a, r);
      if (!found) {
        if (g) --g->pending;
        continue;
      }
      if (g) g->failed = true;
      const int64_t row = batch_start[c.batch] + found->row;
      if (problem && problem->row <= row) continue;
      SourceValueProblem p;
      p.column = std::string(r.column());
      p.row = row;
      if (g) p.file = g->mapping->path;
      p.message = fmt::format("column \"{}\" {} at row {}; {}", r.column(), found->what, row,
                              found->why);
      problem = std::move(p);
      problem_batch = c.batch;
    }
    if (releaser) st.bytes_released += releaser->release();
  }
  g_chunks_total.fetch_add(st.chunks_checked);

  // Files every chunk of which passed are remembered.
  if (options.marker_root) {
    bool wrote = false;
    for (FileGroup& g : groups) {
      if (g.skip || g.failed || g.pending != 0 || g.marker.empty()) continue;
      try {
        std::error_code ec;
        fs::create_directories(*options.marker_root, ec);
        write_file_atomically(g.marker, g.marker_text);
        ++st.markers_written;
        wrote = true;
      } catch (const Error&) {
        // A cache that cannot be written only means checking again next time.
      }
    }
    if (wrote) remove_stale_markers(*options.marker_root);
  }
  return problem;
}

ValidateStats validate_dataset(const Dataset& ds, const SchemaPlan& plan, const StoreConfig& config,
                               const std::string& label, const ValidateOptions& options) {
  ValidateStats stats;
  const auto problem = validate_batches(ds.batches(), plan, config, 0, options, &stats);
  if (problem) {
    throw InvalidArgument(fmt::format("{}{}: {} (validate=False, or --no-validate on the "
                                      "command line, loads it unchecked)",
                                      label,
                                      problem->file.empty() ? "" : ", file " + problem->file,
                                      problem->message));
  }
  return stats;
}

}  // namespace mouse::detail
