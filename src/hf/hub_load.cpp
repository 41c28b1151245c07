// load_hub_layout: find the shards (hub_files.cpp), turn each into a memory-mapped Arrow
// dataset through a per-shard cache, concatenate per split.
//
// Cache entry of a shard: <cache_dir>/<stem>-<hash of absolute path>/ with
//   data/              a save_to_disk directory (written atomically by save_to_disk)
//   fingerprint.json   {"path", "size", "mtime_ns"} of the source, written last via rename
//   lock               flock()ed by whoever reads or fills the entry
// The fingerprint is removed before the data is rewritten, so a crash in between leaves an
// entry that simply does not match. Processes and threads sharing a cache serialise on the
// entry's lock: the first decodes, the others then map its result. After a load, entries whose
// source is gone are removed, each under its lock and only if nobody holds it; an entry without
// a fingerprint is removed only once it is a day old.
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <system_error>
#include <utility>
#include <variant>
#include <vector>

#include "hf/atomic_dir.hpp"
#include "hf/cache_entry.hpp"
#include "hf/dataset_state.hpp"
#include "hf/hub_files.hpp"
#include "hf/py_json.hpp"
#include "mouse/error.hpp"
#include "mouse/hub.hpp"
#include "mouse/parquet.hpp"

namespace mouse {

namespace fs = std::filesystem;

namespace {

using nlohmann::ordered_json;

struct Fingerprint {
  std::string path;
  int64_t size = 0;
  int64_t mtime_ns = 0;
  // Hash of the README features applied to the shard ("" when none were).
  std::string readme_features;

  ordered_json to_json() const {
    return ordered_json{{"path", path},
                        {"size", size},
                        {"mtime_ns", mtime_ns},
                        {"readme_features", readme_features}};
  }
  bool operator==(const Fingerprint&) const = default;
};

Fingerprint fingerprint_of(const fs::path& absolute) {
  const detail::FileStamp stamp = detail::file_stamp(absolute);
  Fingerprint f;
  f.path = stamp.path;
  f.size = stamp.size;
  f.mtime_ns = stamp.mtime_ns;
  return f;
}

std::optional<Fingerprint> read_fingerprint(const fs::path& file) {
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) return std::nullopt;
  try {
    const ordered_json j = detail::read_json_file(file);
    Fingerprint f;
    f.path = j.at("path").get<std::string>();
    f.size = j.at("size").get<int64_t>();
    f.mtime_ns = j.at("mtime_ns").get<int64_t>();
    f.readme_features = j.value("readme_features", "");
    return f;
  } catch (const std::exception&) {
    return std::nullopt;  // unreadable fingerprint: treat as stale and rebuild
  }
}

void write_fingerprint(const fs::path& file, const Fingerprint& f) {
  detail::write_file_atomically(file, detail::py_dumps(f.to_json()));
}

using detail::EntryLock;

// The temporaries of killed fills of a Hub cache entry: save_to_disk's `.data.tmp-*` /
// `.data.old-*` directories (and the fingerprint's, see remove_entry_litter).
void remove_entry_litter(const fs::path& entry) {
  detail::remove_entry_litter(entry, {".data.tmp-", ".data.old-"});
}

// Features the README gives for shards without `huggingface` metadata of their own.
struct ReadmeFeatures {
  std::string metadata;  // {"info": {"features": ...}}, the value of the `huggingface` key
  std::string hash;
  fs::path readme;
};

// One shard as a memory-mapped dataset, decoding it only when its cache is missing or stale.
Dataset load_shard(const fs::path& shard, const fs::path& cache_root,
                   const std::optional<ReadmeFeatures>& readme, HubLoadStats& stats) {
  std::error_code ec;
  fs::path absolute = fs::absolute(shard, ec);
  if (ec) absolute = shard;
  absolute = absolute.lexically_normal();
  Fingerprint current = fingerprint_of(absolute);
  // The README's features are part of what the cache was built from (whether they applied to
  // this shard or not), so editing them rebuilds the entry.
  if (readme) current.readme_features = readme->hash;

  detail::ContentHash hash;
  hash.update(current.path);
  const fs::path entry = cache_root / fmt::format("{}-{}", shard.stem().string(), hash.hex());
  const fs::path data_dir = entry / "data";
  const fs::path fp_file = entry / "fingerprint.json";
  const EntryLock lock = EntryLock::acquire(entry);

  if (auto cached = read_fingerprint(fp_file); cached && *cached == current) {
    remove_entry_litter(entry);
    try {
      Dataset ds = Dataset::load_from_disk(data_dir);
      ++stats.shards_cached;
      return ds;
    } catch (const Error&) {
      // A damaged cache entry is rebuilt from the source below.
    }
  }

  // Rebuild from scratch: whatever sits at the data and fingerprint paths (a damaged entry,
  // a file or directory put there by hand, a half-written temporary of a killed fill) goes.
  remove_entry_litter(entry);
  fs::remove_all(fp_file, ec);
  if (const auto st = fs::symlink_status(data_dir, ec); fs::exists(st) && !fs::is_directory(st)) {
    fs::remove(data_dir, ec);
  }

  parquet::Table table = parquet::read_parquet(shard);
  ++stats.shards_decoded;
  const bool own_features = table.schema->metadata_value("huggingface").has_value();
  std::shared_ptr<const arrow::Schema> schema = table.schema;
  if (!own_features && readme) {
    auto with_features = std::make_shared<arrow::Schema>(*schema);
    with_features->metadata.emplace_back("huggingface", readme->metadata);
    schema = std::move(with_features);
  }
  Dataset decoded;
  try {
    decoded = Dataset::from_batches(schema, std::move(table.batches));
  } catch (const FormatError& e) {
    // Name where the features came from, not "schema metadata".
    if (own_features || !readme) {
      throw FormatError(shard.string(), -1, fmt::format("\"huggingface\" metadata: {}", e.what()));
    }
    throw FormatError(readme->readme.string(), -1,
                      fmt::format("dataset_info features do not fit {}: {}", shard.string(),
                                  e.what()));
  }
  decoded.save_to_disk(data_dir);
  Dataset mapped = Dataset::load_from_disk(data_dir);
  write_fingerprint(fp_file, current);
  return mapped;
}

// `ds` named as split `name`, as load_dataset names the splits it returns, its Image paths
// confined to the layout's `root`.
Dataset as_hub_split(const Dataset& ds, const std::string& name, const fs::path& root) {
  auto state = std::make_shared<detail::DatasetState>(detail::DatasetAccess::state(ds));
  state->split = name;
  state->image_root = root;
  return detail::DatasetAccess::make(std::move(state));
}

// Whether `name` has the form of a cache entry, `<stem>-<16 hex digits>`.
bool is_entry_name(const std::string& name) {
  constexpr size_t kHex = 16;
  if (name.size() < kHex + 2 || name[name.size() - kHex - 1] != '-') return false;
  return name.find_first_not_of("0123456789abcdef", name.size() - kHex) == std::string::npos;
}

// Removes the stale entries of `cache_root` (see the file comment); returns how many. Errors
// while cleaning are ignored: the cache is an optimisation and the load itself succeeded.
int64_t remove_stale_entries(const fs::path& cache_root) {
  std::error_code ec;
  fs::directory_iterator it(cache_root, ec);
  if (ec) return 0;
  const auto day_ago = fs::file_time_type::clock::now() - std::chrono::hours(24);
  int64_t removed = 0;
  for (const auto& entry : it) {
    std::error_code e;
    if (!entry.is_directory(e) || entry.is_symlink(e)) continue;
    const fs::path fp_file = entry.path() / "fingerprint.json";
    bool stale = false;
    if (auto fp = read_fingerprint(fp_file)) {
      stale = detail::file_is_gone(fp->path);
    } else if (is_entry_name(entry.path().filename().string())) {
      // Only directories named like our entries; anything else in the directory is left be.
      const auto t = fs::last_write_time(entry.path(), e);
      stale = !e && t < day_ago;
    }
    if (!stale) continue;
    // Someone holding the lock is using the entry right now: leave it for a later load.
    const auto lock = EntryLock::try_acquire(entry.path());
    if (lock && fs::remove_all(entry.path(), e) != static_cast<std::uintmax_t>(-1) && !e) {
      ++removed;
    }
  }
  return removed;
}

}  // namespace

fs::path default_hub_cache_dir() {
  if (auto root = detail::default_cache_root("hub")) return *root;
  throw InvalidArgument(
      "no cache directory for Hub layouts: set MOUSE_DATA_CACHE, XDG_CACHE_HOME or HOME, or "
      "pass a cache directory");
}

DatasetDict load_hub_layout(const fs::path& dir, const HubLoadOptions& options,
                            HubLoadStats* stats) {
  const detail::HubLayout layout = detail::resolve_hub_layout(dir, options.config_name);
  const detail::HubSplitFiles& splits = layout.splits;
  std::optional<ReadmeFeatures> readme;
  if (layout.readme_features) {
    ReadmeFeatures r;
    // Feature names from YAML may hold invalid UTF-8: replaced, as py_dumps would.
    r.metadata = ordered_json{{"info", {{"features", *layout.readme_features}}}}.dump(
        -1, ' ', false, nlohmann::json::error_handler_t::replace);
    detail::ContentHash hash;
    hash.update(r.metadata);
    r.hash = hash.hex();
    r.readme = layout.readme;
    readme = std::move(r);
  }
  const fs::path cache_root = options.cache_dir ? *options.cache_dir : default_hub_cache_dir();

  HubLoadStats local;
  for (const auto& [name, files] : splits) local.shards += static_cast<int64_t>(files.size());
  if (local.shards == 0) {
    throw FormatError(dir.string(), -1, "no Parquet files found for any split");
  }

  std::error_code ec;
  fs::path root = fs::canonical(dir, ec);
  if (ec) throw IoError(fmt::format("cannot resolve {}: {}", dir.string(), ec.message()));
  DatasetDict dict;
  int64_t done = 0;
  for (const auto& [name, files] : splits) {
    std::vector<Dataset> parts;
    parts.reserve(files.size());
    for (const auto& f : files) {
      parts.push_back(load_shard(f, cache_root, readme, local));
      ++done;
      if (options.progress) options.progress(done, local.shards);
    }
    try {
      dict.insert(name,
                  as_hub_split(parts.size() == 1 ? parts.front() : Dataset::concatenate(parts),
                               name, root));
    } catch (const InvalidArgument& e) {
      throw InvalidArgument(
          fmt::format("{}: split \"{}\": shards disagree: {}", dir.string(), name, e.what()));
    }
  }
  if (options.remove_stale_cache) local.stale_entries_removed = remove_stale_entries(cache_root);
  if (stats) *stats = local;
  return dict;
}

DatasetDict load_dataset(const fs::path& dir, const HubLoadOptions& options,
                         HubLoadStats* stats) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    throw IoError(fmt::format("cannot load {}: no such file or directory", dir.string()));
  }
  if (is_disk_layout(dir)) {
    if (stats) *stats = {};
    auto loaded = load_from_disk(dir);
    if (auto* dict = std::get_if<DatasetDict>(&loaded)) return std::move(*dict);
    Dataset& ds = std::get<Dataset>(loaded);
    DatasetDict dict;
    dict.insert(ds.split().value_or("train"), ds);
    return dict;
  }
  if (is_hub_layout(dir)) return load_hub_layout(dir, options, stats);
  throw FormatError(dir.string(), -1,
                    "not a dataset: expected dataset_dict.json, state.json (save_to_disk) or "
                    "README.md / data/*.parquet (Hub layout)");
}

bool is_hub_layout(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return false;
  if (fs::is_regular_file(dir / "dataset_dict.json", ec) ||
      fs::is_regular_file(dir / "state.json", ec)) {
    return false;
  }
  try {
    const auto splits = detail::resolve_hub_files(dir, std::nullopt);
    return !splits.empty();
  } catch (const Error&) {
    return fs::is_regular_file(dir / "README.md", ec) && fs::is_directory(dir / "data", ec);
  }
}

}  // namespace mouse
