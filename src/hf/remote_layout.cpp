// Remote Hub layouts: listing, split resolution, footers, and the per-shard cache entry.
//
// Splits are resolved exactly as for a local layout: the listing is laid out as a skeleton
// directory (the README and an empty file per Parquet object) that resolve_hub_layout reads, so
// configs, data_files patterns and file-name conventions mean the same thing remotely.
//
// Cache entry of a shard: <cache_dir>/<hash of URL>-<hash of version>/ with
//   shard.parquet   the download (removed once decoded)
//   data/           the decoded save_to_disk directory, memory-mapped
//   manifest.json   {"url", "version", "size", "rows", "disk_bytes"}, written last via rename
//   lock            flock()ed by whoever fills, maps or evicts the entry
#include "hf/remote_layout.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <exception>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <system_error>
#include <thread>

#include "hf/atomic_dir.hpp"
#include "hf/cache_entry.hpp"
#include "hf/hub_files.hpp"
#include "hf/py_json.hpp"
#include "mouse/buffer.hpp"
#include "mouse/error.hpp"
#include "mouse/parquet.hpp"

namespace mouse::detail {

namespace fs = std::filesystem;
using nlohmann::ordered_json;

namespace {

// Bytes read from the end of each shard at open: the footer of a Hub shard with a few columns
// fits in it (a longer one takes a second, exact request), and little more is fetched twice.
constexpr int64_t kTailBytes = 4 * 1024;
// Footer requests in flight at open.
constexpr size_t kFooterThreads = 8;

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool is_parquet_path(std::string_view p) { return ends_with(p, ".parquet"); }

bool has_glob(std::string_view p) { return p.find_first_of("*?[") != std::string_view::npos; }

// A relative, '/'-separated path that stays inside the root.
bool safe_relative(std::string_view p) {
  if (p.empty() || p.front() == '/') return false;
  size_t begin = 0;
  while (begin <= p.size()) {
    const size_t end = std::min(p.find('/', begin), p.size());
    const std::string_view part = p.substr(begin, end - begin);
    if (part.empty() || part == "." || part == "..") return false;
    begin = end + 1;
  }
  return true;
}

// A directory removed when the object dies.
class ScratchDir {
 public:
  explicit ScratchDir(const fs::path& parent) {
    static std::atomic<uint64_t> counter{0};
    path_ = parent / fmt::format(".listing-{}-{}", ::getpid(), counter++);
    std::error_code ec;
    fs::remove_all(path_, ec);
    fs::create_directories(path_, ec);
    if (ec) {
      throw IoError(fmt::format("cannot create {}: {}", path_.string(), ec.message()));
    }
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const fs::path& path() const noexcept { return path_; }

 private:
  fs::path path_;
};

void write_text(const fs::path& file, std::string_view text) {
  std::error_code ec;
  fs::create_directories(file.parent_path(), ec);
  std::ofstream out(file, std::ios::binary);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  if (!out) throw IoError(fmt::format("cannot write {}", file.string()));
}

[[noreturn]] void throw_save_to_disk(const std::string& url) {
  throw InvalidArgument(fmt::format(
      "{} is a save_to_disk dataset; a remote source must be a Hub layout (Parquet shards): "
      "convert it with `mouse-data convert --to hub` and upload the result",
      url));
}

// The objects of the root: its listing, or the files a plain directory's README names.
std::vector<remote::ObjectInfo> list_objects(const remote::RemoteRoot& root,
                                             std::optional<std::string>& readme) {
  const std::string& url = root.display_url();
  if (root.listable()) {
    std::vector<remote::ObjectInfo> objects = root.list();
    const bool has_readme = std::any_of(objects.begin(), objects.end(),
                                        [](const auto& o) { return o.path == "README.md"; });
    const bool has_parquet = std::any_of(objects.begin(), objects.end(),
                                         [](const auto& o) { return is_parquet_path(o.path); });
    const bool saved = std::any_of(objects.begin(), objects.end(), [](const auto& o) {
      return o.path == "dataset_dict.json" || o.path == "state.json";
    });
    if (saved && !has_parquet) throw_save_to_disk(url);
    if (objects.empty()) {
      throw FormatError(url, -1, "nothing found there (an empty prefix or repository)");
    }
    if (has_readme) readme = root.read_if_exists("README.md");
    return objects;
  }
  readme = root.read_if_exists("README.md");
  if (!readme) {
    if (root.read_if_exists("dataset_dict.json") || root.read_if_exists("state.json")) {
      throw_save_to_disk(url);
    }
    throw FormatError(url, -1,
                      "a plain HTTP(S) directory cannot be listed: it needs a README.md whose "
                      "configs' data_files name its Parquet files");
  }
  const std::string source = root.object_url("README.md");
  std::vector<remote::ObjectInfo> objects;
  for (const std::string& p : readme_data_file_patterns(*readme, source)) {
    if (has_glob(p)) {
      throw FormatError(source, -1,
                        fmt::format("data_files pattern \"{}\": a plain HTTP(S) directory cannot "
                                    "be listed, so data_files must name files, not globs",
                                    p));
    }
    remote::ObjectInfo o;
    o.path = p;
    objects.push_back(std::move(o));
  }
  if (objects.empty()) {
    throw FormatError(source, -1,
                      "no data_files: a plain HTTP(S) directory needs a README.md whose configs' "
                      "data_files name its Parquet files");
  }
  return objects;
}

// Reads the footer of `shard` (filling its size and version when the listing lacked them).
void read_footer(const remote::RemoteRoot& root, RemoteShard& shard,
                 std::vector<std::string>& columns) {
  const remote::Tail tail = root.read_tail(shard.object.path, kTailBytes);
  if (shard.object.size >= 0 && tail.size != shard.object.size) {
    throw IoError(fmt::format("{}: {} bytes listed, {} served: the object changed since it was "
                              "listed; open the store again",
                              shard.url, shard.object.size, tail.size));
  }
  shard.object.size = tail.size;
  if (shard.object.version.empty()) shard.object.version = tail.etag;
  const std::string& t = tail.bytes;
  const auto n = static_cast<int64_t>(t.size());
  if (tail.size < 12 || n < 12) {
    throw FormatError(shard.url, 0,
                      fmt::format("a Parquet file of at least 12 bytes, found {}", tail.size));
  }
  if (std::memcmp(t.data() + n - 4, "PAR1", 4) != 0) {
    throw FormatError(shard.url, tail.size - 4,
                      "trailing magic \"PAR1\" (not a Parquet file, or truncated)");
  }
  uint32_t footer_len = 0;
  std::memcpy(&footer_len, t.data() + n - 8, 4);
  if (static_cast<int64_t>(footer_len) + 12 > tail.size) {
    throw FormatError(shard.url, tail.size - 8,
                      fmt::format("footer of at most {} bytes, found length {}", tail.size - 12,
                                  footer_len));
  }
  std::string footer;
  const int64_t want = static_cast<int64_t>(footer_len) + 8;
  if (want <= n) {
    footer = t.substr(static_cast<size_t>(n - want));
  } else {
    footer = root.read_range(shard.object, tail.size - want, want);
  }
  // A file of its own: leading magic, the footer, its length and the trailing magic.
  std::string bytes = "PAR1";
  bytes += footer;
  const parquet::FileInfo info = parquet::inspect_parquet(
      Buffer::copy_of({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}), shard.url);
  shard.rows = info.footer_num_rows;
  shard.decoded_estimate = info.uncompressed_bytes;
  columns.clear();
  for (const auto& c : info.columns) {
    columns.push_back(c.unsupported.empty() ? fmt::format("{}: {}", c.name, c.type->to_string())
                                            : fmt::format("{}: ({})", c.name, c.unsupported));
  }
}

ordered_json read_manifest(const fs::path& file) {
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) return nullptr;
  try {
    return read_json_file(file);
  } catch (const std::exception&) {
    return nullptr;
  }
}

int64_t tree_bytes(const fs::path& dir) {
  int64_t total = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code e;
    if (it->is_regular_file(e)) total += static_cast<int64_t>(it->file_size(e));
  }
  return total;
}

std::string url_key(const std::string& url) {
  ContentHash h;
  h.update(url);
  return h.hex();
}

}  // namespace

RemoteLayout open_remote_layout(
    const std::string& url, const std::optional<std::string>& config,
    const remote::RemoteOptions& options,
    const std::function<std::vector<std::string>(const std::vector<std::string>&)>& keep,
    const fs::path& scratch) {
  RemoteLayout layout;
  layout.root = remote::RemoteRoot::open(url, options);
  const remote::RemoteRoot& root = *layout.root;
  const std::string& shown = root.display_url();

  std::optional<std::string> readme;
  const std::vector<remote::ObjectInfo> objects = list_objects(root, readme);

  // The skeleton: resolve_hub_layout chooses config, splits and files as for a local copy.
  ScratchDir skeleton(scratch);
  std::vector<const remote::ObjectInfo*> by_index;
  for (const auto& o : objects) {
    if (!is_parquet_path(o.path)) continue;
    if (!safe_relative(o.path)) {
      throw FormatError(shown, -1, fmt::format("object path \"{}\" leaves the root", o.path));
    }
    write_text(skeleton.path() / o.path, "");
    by_index.push_back(&o);
  }
  if (readme) write_text(skeleton.path() / "README.md", *readme);
  HubLayout resolved;
  try {
    resolved = resolve_hub_layout(skeleton.path(), config);
  } catch (const FormatError& e) {
    // Name the remote README or root, not the skeleton.
    std::string what = e.what();
    const std::string local = skeleton.path().string();
    for (size_t at; (at = what.find(local)) != std::string::npos;) {
      what.replace(at, local.size(), shown);
    }
    throw FormatError(shown, -1, what);
  }
  if (resolved.readme_features) {
    layout.readme_metadata = ordered_json{{"info", {{"features", *resolved.readme_features}}}}.dump(
        -1, ' ', false, nlohmann::json::error_handler_t::replace);
    ContentHash h;
    h.update(layout.readme_metadata);
    layout.readme_hash = h.hex();
  }

  std::vector<std::string> names;
  for (const auto& [name, files] : resolved.splits) names.push_back(name);
  const std::vector<std::string> chosen = keep ? keep(names) : names;
  for (const std::string& name : chosen) {
    const auto it = std::find_if(resolved.splits.begin(), resolved.splits.end(),
                                 [&](const auto& s) { return s.first == name; });
    if (it == resolved.splits.end()) continue;
    for (const fs::path& f : it->second) {
      const std::string rel = f.lexically_relative(skeleton.path()).generic_string();
      const auto obj = std::find_if(by_index.begin(), by_index.end(),
                                    [&](const remote::ObjectInfo* o) { return o->path == rel; });
      if (obj == by_index.end()) {
        throw FormatError(shown, -1, fmt::format("split \"{}\": {} is not listed", name, rel));
      }
      RemoteShard shard;
      shard.split = name;
      shard.object = **obj;
      shard.url = root.object_url(rel);
      layout.shards.push_back(std::move(shard));
    }
    layout.splits.emplace_back(name, static_cast<int64_t>(it->second.size()));
  }
  if (layout.shards.empty()) {
    throw FormatError(shown, -1, "no Parquet shard in the chosen splits");
  }

  // Footers, a few at a time.
  std::vector<std::vector<std::string>> columns(layout.shards.size());
  std::atomic<size_t> next{0};
  std::mutex error_mutex;
  std::exception_ptr error;
  size_t error_at = layout.shards.size();
  auto work = [&] {
    for (size_t i; (i = next++) < layout.shards.size();) {
      try {
        read_footer(root, layout.shards[i], columns[i]);
      } catch (...) {
        std::lock_guard lock(error_mutex);
        if (i < error_at) {
          error_at = i;
          error = std::current_exception();
        }
        return;
      }
    }
  };
  const size_t threads = std::min(kFooterThreads, layout.shards.size());
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);

  for (size_t i = 1; i < layout.shards.size(); ++i) {
    if (columns[i] != columns[0]) {
      throw FormatError(
          layout.shards[i].url, -1,
          fmt::format("its columns [{}] differ from those of {} [{}]: the shards of a remote "
                      "store must have the same columns",
                      fmt::join(columns[i], ", "), layout.shards[0].url,
                      fmt::join(columns[0], ", ")));
    }
  }
  return layout;
}

fs::path shard_entry(const fs::path& cache_dir, const RemoteShard& shard) {
  ContentHash v;
  v.update(shard.object.version);
  v.update(std::to_string(shard.object.size));
  return cache_dir / fmt::format("{}-{}", url_key(shard.url), v.hex());
}

namespace {

bool manifest_matches(const ordered_json& m, const RemoteShard& shard, const std::string& hash) {
  return m.is_object() && m.value("url", "") == shard.url &&
         m.value("version", "") == shard.object.version &&
         m.value("size", int64_t{-1}) == shard.object.size &&
         m.value("rows", int64_t{-1}) == shard.rows && m.value("readme", "") == hash;
}

}  // namespace

std::optional<int64_t> cached_shard_bytes(const fs::path& cache_dir, const RemoteShard& shard) {
  const ordered_json m = read_manifest(shard_entry(cache_dir, shard) / "manifest.json");
  if (!m.is_object() || m.value("url", "") != shard.url ||
      m.value("version", "") != shard.object.version) {
    return std::nullopt;
  }
  return m.value("disk_bytes", int64_t{0});
}

FetchedShard fetch_remote_shard(const RemoteLayout& layout, size_t index,
                                const fs::path& cache_dir) {
  const RemoteShard& shard = layout.shards.at(index);
  const fs::path entry = shard_entry(cache_dir, shard);
  const fs::path data_dir = entry / "data";
  const fs::path manifest = entry / "manifest.json";
  const fs::path parquet_file = entry / "shard.parquet";
  const EntryLock lock = EntryLock::acquire(entry);
  FetchedShard out;
  std::error_code ec;

  if (manifest_matches(read_manifest(manifest), shard, layout.readme_hash)) {
    remove_entry_litter(entry, {".data.tmp-", ".data.old-", "shard.parquet"});
    try {
      out.dataset = Dataset::load_from_disk(data_dir);
      out.disk_bytes = tree_bytes(data_dir);
      out.cached = true;
      return out;
    } catch (const Error&) {
      // A damaged entry is fetched again below.
    }
  }

  // Entries of other versions of this URL go: a changed object is never mixed with old bytes.
  const std::string prefix = url_key(shard.url) + "-";
  for (fs::directory_iterator it(cache_dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.rfind(prefix, 0) != 0 || it->path() == entry) continue;
    if (auto other = EntryLock::try_acquire(it->path())) {
      std::error_code e;
      fs::remove_all(it->path(), e);
    }
  }

  remove_entry_litter(entry, {".data.tmp-", ".data.old-", "shard.parquet"});
  fs::remove(manifest, ec);
  fs::remove_all(data_dir, ec);
  fs::remove(parquet_file, ec);

  layout.root->download(shard.object, parquet_file);
  out.fetched_bytes = shard.object.size;

  parquet::Table table;
  try {
    table = parquet::read_parquet(parquet_file);
  } catch (const FormatError& e) {
    fs::remove(parquet_file, ec);
    throw FormatError(shard.url, e.offset(), e.what());
  }
  if (table.num_rows() != shard.rows) {
    fs::remove(parquet_file, ec);
    throw FormatError(shard.url, -1,
                      fmt::format("{} rows decoded, the footer read at open said {}",
                                  table.num_rows(), shard.rows));
  }
  std::shared_ptr<const arrow::Schema> schema = table.schema;
  const bool own_features = schema->metadata_value("huggingface").has_value();
  if (!own_features && !layout.readme_metadata.empty()) {
    auto with = std::make_shared<arrow::Schema>(*schema);
    with->metadata.emplace_back("huggingface", layout.readme_metadata);
    schema = std::move(with);
  }
  try {
    Dataset decoded = Dataset::from_batches(schema, std::move(table.batches));
    decoded.save_to_disk(data_dir);
  } catch (const FormatError& e) {
    fs::remove(parquet_file, ec);
    fs::remove_all(data_dir, ec);
    throw FormatError(shard.url, -1, e.what());
  }
  fs::remove(parquet_file, ec);
  out.dataset = Dataset::load_from_disk(data_dir);
  out.disk_bytes = tree_bytes(data_dir);
  write_file_atomically(manifest, py_dumps(ordered_json{{"url", shard.url},
                                                        {"version", shard.object.version},
                                                        {"size", shard.object.size},
                                                        {"rows", shard.rows},
                                                        {"readme", layout.readme_hash},
                                                        {"disk_bytes", out.disk_bytes}}));
  return out;
}

bool evict_remote_shard(const fs::path& cache_dir, const RemoteShard& shard) {
  const fs::path entry = shard_entry(cache_dir, shard);
  std::error_code ec;
  if (!fs::exists(entry, ec)) return true;
  auto lock = EntryLock::try_acquire(entry);
  if (!lock) return false;
  fs::remove(entry / "manifest.json", ec);
  fs::remove_all(entry / "data", ec);
  fs::remove_all(entry, ec);
  return true;
}

}  // namespace mouse::detail
