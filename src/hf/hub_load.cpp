// load_hub_layout: find the shards (hub_files.cpp), turn each into a memory-mapped Arrow
// dataset through a per-shard cache, concatenate per split.
//
// Cache entry of a shard: <cache_dir>/<stem>-<hash of absolute path>/ with
//   data/              a save_to_disk directory (written atomically by save_to_disk)
//   fingerprint.json   {"path", "size", "mtime_ns"} of the source, written last via rename
// The fingerprint is removed before the data is rewritten, so a crash in between leaves an
// entry that simply does not match.
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <system_error>

#include "hf/atomic_dir.hpp"
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

  ordered_json to_json() const {
    return ordered_json{{"path", path}, {"size", size}, {"mtime_ns", mtime_ns}};
  }
  bool operator==(const Fingerprint&) const = default;
};

Fingerprint fingerprint_of(const fs::path& absolute) {
  struct stat st {};
  // stat follows symlinks: a Hub cache snapshot links into blobs/, whose size and mtime count.
  if (::stat(absolute.c_str(), &st) != 0) {
    throw IoError(fmt::format("{}: cannot stat: {}", absolute.string(), std::strerror(errno)));
  }
  Fingerprint f;
  f.path = absolute.string();
  f.size = static_cast<int64_t>(st.st_size);
  f.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
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
    return f;
  } catch (const std::exception&) {
    return std::nullopt;  // unreadable fingerprint: treat as stale and rebuild
  }
}

void write_fingerprint(const fs::path& file, const Fingerprint& f) {
  // A per-process temporary name: two processes filling the same cache must not collide.
  const fs::path tmp =
      file.parent_path() / fmt::format("{}.{}.tmp", file.filename().string(), ::getpid());
  std::error_code ec;
  fs::remove(tmp, ec);
  {
    detail::FileWriter w(tmp);
    w.write(detail::py_dumps(f.to_json()));
    w.close();
  }
  fs::rename(tmp, file, ec);
  if (ec)
    throw IoError(fmt::format("{}: cannot rename into place: {}", file.string(), ec.message()));
}

// One shard as a memory-mapped dataset, decoding it only when its cache is missing or stale.
Dataset load_shard(const fs::path& shard, const fs::path& cache_root, HubLoadStats& stats) {
  std::error_code ec;
  fs::path absolute = fs::absolute(shard, ec);
  if (ec) absolute = shard;
  absolute = absolute.lexically_normal();
  const Fingerprint current = fingerprint_of(absolute);

  detail::ContentHash hash;
  hash.update(current.path);
  const fs::path entry = cache_root / fmt::format("{}-{}", shard.stem().string(), hash.hex());
  const fs::path data_dir = entry / "data";
  const fs::path fp_file = entry / "fingerprint.json";

  if (auto cached = read_fingerprint(fp_file); cached && *cached == current) {
    try {
      Dataset ds = Dataset::load_from_disk(data_dir);
      ++stats.shards_cached;
      return ds;
    } catch (const Error&) {
      // A damaged cache entry is rebuilt from the source below.
    }
  }

  fs::create_directories(entry, ec);
  if (ec)
    throw IoError(
        fmt::format("{}: cannot create cache directory: {}", entry.string(), ec.message()));
  fs::remove(fp_file, ec);

  parquet::Table table = parquet::read_parquet(shard);
  ++stats.shards_decoded;
  Dataset decoded;
  try {
    decoded = Dataset::from_batches(table.schema, std::move(table.batches));
  } catch (const FormatError& e) {
    // The features come from the shard's metadata: name the shard, not "schema metadata".
    throw FormatError(shard.string(), -1, fmt::format("\"huggingface\" metadata: {}", e.what()));
  }
  decoded.save_to_disk(data_dir);
  Dataset mapped = Dataset::load_from_disk(data_dir);
  write_fingerprint(fp_file, current);
  return mapped;
}

}  // namespace

DatasetDict load_hub_layout(const fs::path& dir, const HubLoadOptions& options,
                            HubLoadStats* stats) {
  const detail::HubSplitFiles splits = detail::resolve_hub_files(dir, options.config_name);
  const fs::path cache_root = options.cache_dir ? *options.cache_dir : dir / ".mouse-cache";

  HubLoadStats local;
  for (const auto& [name, files] : splits) local.shards += static_cast<int64_t>(files.size());
  if (local.shards == 0) {
    throw FormatError(dir.string(), -1, "no Parquet files found for any split");
  }

  DatasetDict dict;
  int64_t done = 0;
  for (const auto& [name, files] : splits) {
    std::vector<Dataset> parts;
    parts.reserve(files.size());
    for (const auto& f : files) {
      parts.push_back(load_shard(f, cache_root, local));
      ++done;
      if (options.progress) options.progress(done, local.shards);
    }
    try {
      dict.insert(name, parts.size() == 1 ? parts.front() : Dataset::concatenate(parts));
    } catch (const InvalidArgument& e) {
      throw InvalidArgument(
          fmt::format("{}: split \"{}\": shards disagree: {}", dir.string(), name, e.what()));
    }
  }
  if (stats) *stats = local;
  return dict;
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
