#include "store/frame_cache.hpp"

#include <fmt/format.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <nlohmann/json.hpp>
#include <system_error>
#include <utility>

#include "core/checked_file.hpp"
#include "hf/atomic_dir.hpp"
#include "hf/cache_entry.hpp"
#include "hf/py_json.hpp"
#include "mouse/error.hpp"
#include "store/encoder.hpp"

namespace mouse::detail {

namespace fs = std::filesystem;
using nlohmann::ordered_json;

namespace {

constexpr int kFormatVersion = 1;
// Free space kept beyond the cache file when checking the disk.
constexpr int64_t kSpareBytes = int64_t{64} << 20;
// Rows decoded per write.
constexpr int64_t kBlockRows = 256;

std::string gigabytes(int64_t bytes) {
  if (bytes < 1'000'000'000) return fmt::format("{:.1f} MB", static_cast<double>(bytes) / 1e6);
  return fmt::format("{:.2f} GB", static_cast<double>(bytes) / 1e9);
}

// The Image column the store decodes for obs_image, or nullptr.
const arrow::Field* image_field(const Dataset& ds, const SchemaPlan& plan, int* index) {
  const int k = static_cast<int>(Key::kObsImage);
  if (plan.shape[k] != ColumnShape::kImage || plan.field[k] < 0) return nullptr;
  *index = plan.field[k];
  return &ds.schema()->fields[static_cast<size_t>(*index)];
}

// What the rows are decoded from: the data files' stamps, or (no files) a hash of the bytes of
// every frame, with the column and row width.
ordered_json source_fingerprint(const Dataset& ds, int field, const std::string& column,
                                int64_t width) {
  ordered_json j{{"version", kFormatVersion}, {"column", column}, {"width", width},
                 {"rows", ds.num_rows()}};
  if (!ds.data_files().empty()) {
    ordered_json files = ordered_json::array();
    for (const auto& f : ds.data_files()) {
      std::error_code ec;
      fs::path absolute = fs::absolute(f.path, ec);
      if (ec) absolute = f.path;
      const FileStamp stamp = file_stamp(absolute.lexically_normal());
      files.push_back({{"path", stamp.path}, {"size", stamp.size}, {"mtime_ns", stamp.mtime_ns}});
    }
    j["files"] = std::move(files);
    return j;
  }
  ContentHash hash;
  for (const auto& batch : ds.batches()) {
    const arrow::ArrayData& a = *batch.columns[static_cast<size_t>(field)];
    // The struct's children (bytes and path) and validity, element by element: what decodes.
    for (int64_t i = 0; i < a.length; ++i) {
      if (!a.is_valid(i)) {
        hash.update(std::string_view("\0n", 2));
        continue;
      }
      const arrow::ArrayData* bytes = &a;
      int64_t k = i;
      if (a.type->id == arrow::TypeId::kStruct) {
        k = i + a.offset;
        for (size_t c = 0; c < a.type->children.size(); ++c) {
          const arrow::ArrayData& child = *a.children[c];
          hash.update(a.type->children[c].name);
          if (child.is_valid(k)) {
            hash.update(arrow::binary_value(child, k));
          } else {
            hash.update(std::string_view("\0n", 2));
          }
        }
        continue;
      }
      hash.update(arrow::binary_value(*bytes, k));
    }
  }
  j["content"] = hash.hex();
  return j;
}

// The directory name of the entry for `fingerprint`: the sources (not their stamps, which
// change when a file is rewritten: the same entry is then rebuilt), column and width.
std::string entry_name(const ordered_json& fingerprint) {
  ContentHash hash;
  if (fingerprint.contains("files")) {
    for (const auto& f : fingerprint["files"]) hash.update(f["path"].get<std::string>());
  } else {
    hash.update(fingerprint["content"].get<std::string>());
  }
  hash.update(fingerprint["column"].get<std::string>());
  hash.update(std::to_string(fingerprint["width"].get<int64_t>()));
  return "frames-" + hash.hex();
}

std::optional<ordered_json> read_fingerprint(const fs::path& file) {
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) return std::nullopt;
  try {
    return read_json_file(file);
  } catch (const std::exception&) {
    return std::nullopt;  // unreadable: stale, rebuilt
  }
}

// Temporaries of killed builds; only called under the entry's lock.
void remove_litter(const fs::path& entry) { remove_entry_litter(entry, {"frames.u8.tmp-"}); }

// Entries of `root` whose source files are all gone, removed when nobody holds their lock.
void remove_stale_entries(const fs::path& root) {
  std::error_code ec;
  fs::directory_iterator it(root, ec);
  if (ec) return;
  for (const auto& entry : it) {
    std::error_code e;
    if (!entry.is_directory(e) || entry.is_symlink(e)) continue;
    if (!entry.path().filename().string().starts_with("frames-")) continue;
    const auto fp = read_fingerprint(entry.path() / "fingerprint.json");
    if (!fp || !fp->contains("files")) continue;
    bool gone = false;
    for (const auto& f : (*fp)["files"]) {
      if (f.contains("path") && f["path"].is_string() && file_is_gone(f["path"].get<std::string>())) {
        gone = true;
      }
    }
    if (!gone) continue;
    if (const auto lock = EntryLock::try_acquire(entry.path())) fs::remove_all(entry.path(), e);
  }
}

// Progress on stderr while building: a bar redrawn in place on a terminal, a line per 10%
// otherwise.
class Progress {
 public:
  Progress(int64_t total, std::string what)
      : total_(total), what_(std::move(what)), tty_(::isatty(2) != 0),
        last_(std::chrono::steady_clock::now()) {}

  void update(int64_t done) {
    const auto now = std::chrono::steady_clock::now();
    const int percent = total_ == 0 ? 100 : static_cast<int>(done * 100 / total_);
    if (tty_) {
      if (done < total_ && now - last_ < std::chrono::milliseconds(200)) return;
      const int filled = percent / 4;
      std::fprintf(stderr, "\r  %s [%-25s] %3d%% %lld/%lld frames", what_.c_str(),
                   std::string(static_cast<size_t>(filled), '#').c_str(), percent,
                   static_cast<long long>(done), static_cast<long long>(total_));
      if (done >= total_) std::fputc('\n', stderr);
    } else {
      if (percent < next_percent_ && done < total_) return;
      std::fprintf(stderr, "  %s: %lld/%lld frames (%d%%)\n", what_.c_str(),
                   static_cast<long long>(done), static_cast<long long>(total_), percent);
      next_percent_ = percent / 10 * 10 + 10;
    }
    std::fflush(stderr);
    last_ = now;
  }

 private:
  int64_t total_;
  std::string what_;
  bool tty_;
  int next_percent_ = 10;
  std::chrono::steady_clock::time_point last_;
};

// Decodes every frame of `ds`'s column `field` into `file` (rows of `width` bytes).
// `by_default`: the cache was not asked for (image_cache "default"), so it may take at most a
// quarter of the free space.
void build_frames(const Dataset& ds, int field, int64_t width, ImageWidthWarning* warning,
                  const fs::path& entry, const fs::path& file, const std::string& label,
                  bool by_default) {
  const int64_t rows = ds.num_rows();
  const int64_t bytes = rows * width;
  struct statvfs vfs {};
  if (::statvfs(entry.c_str(), &vfs) == 0) {
    const auto free_bytes = static_cast<int64_t>(vfs.f_bavail) * static_cast<int64_t>(vfs.f_frsize);
    if (by_default && free_bytes < 4 * bytes + kSpareBytes) {
      throw IoError(fmt::format(
          "{}: the frame cache of {} would take {} of the {} free there, more than a quarter",
          entry.string(), label, gigabytes(bytes), gigabytes(free_bytes)));
    }
    if (free_bytes < bytes + kSpareBytes) {
      throw IoError(fmt::format(
          "{}: the frame cache of {} needs {} bytes ({}) but only {} bytes ({}) are free; free "
          "space or set image_cache to another directory (or \"\" to decode on every read)",
          entry.string(), label, bytes, gigabytes(bytes), free_bytes, gigabytes(free_bytes)));
    }
  }
  std::fprintf(stderr, "mouse-data: decoding %lld frames of %s once into the frame cache %s (%s)\n",
               static_cast<long long>(rows), label.c_str(), file.string().c_str(),
               gigabytes(bytes).c_str());
  const fs::path tmp = entry / fmt::format("frames.u8.tmp-{}", ::getpid());
  std::error_code ec;
  fs::remove(tmp, ec);
  Progress progress(rows, "frame cache");
  // A failed build leaves nothing behind: the temporary goes, the error propagates.
  struct RemoveOnError {
    const fs::path& path;
    bool armed = true;
    ~RemoveOnError() {
      std::error_code e;
      if (armed) fs::remove(path, e);
    }
  } cleanup{tmp};
  {
    FileWriter w(tmp);
    std::vector<uint8_t> block(static_cast<size_t>(std::min(rows, kBlockRows) * width));
    int64_t first_row = 0;
    for (const auto& batch : ds.batches()) {
      const arrow::ArrayData& column = *batch.columns[static_cast<size_t>(field)];
      for (int64_t r = 0; r < batch.num_rows; r += kBlockRows) {
        const int64_t n = std::min(kBlockRows, batch.num_rows - r);
        decode_image_rows(column, r, n, block.data(), width, label, first_row, ds.image_root(),
                          warning);
        w.write(std::span<const uint8_t>(block.data(), static_cast<size_t>(n * width)));
        progress.update(first_row + r + n);
      }
      first_row += batch.num_rows;
    }
    w.close();
  }
  if (rows == 0) progress.update(0);
  fs::rename(tmp, file, ec);
  cleanup.armed = ec.value() != 0;
  if (ec) {
    throw IoError(fmt::format("{}: cannot rename into place: {}", file.string(), ec.message()));
  }
}

// Views of `file`'s rows as fixed_size_list<uint8>[width] arrays, one per record batch of `ds`,
// in place of column `field`.
std::vector<std::vector<arrow::ArrayPtr>> frame_views(const Dataset& ds, int field,
                                                      int64_t width, const MappedFile& file) {
  const Buffer all = file.buffer();
  const arrow::TypePtr type =
      arrow::fixed_size_list(arrow::Field{"item", arrow::uint8(), true, {}},
                             static_cast<int32_t>(width));
  std::vector<std::vector<arrow::ArrayPtr>> out;
  int64_t row = 0;
  for (const auto& batch : ds.batches()) {
    auto values = std::make_shared<arrow::ArrayData>();
    values->type = arrow::uint8();
    values->length = batch.num_rows * width;
    values->buffers = {Buffer(), all.slice(row * width, batch.num_rows * width)};
    auto list = std::make_shared<arrow::ArrayData>();
    list->type = type;
    list->length = batch.num_rows;
    list->buffers = {Buffer()};
    list->children = {std::move(values)};
    std::vector<arrow::ArrayPtr> columns = batch.columns;
    columns[static_cast<size_t>(field)] = std::move(list);
    out.push_back(std::move(columns));
    row += batch.num_rows;
  }
  return out;
}

}  // namespace

fs::path frame_cache_root(const std::string& setting) {
  if (setting != "auto" && setting != "default") return fs::path(setting);
  if (auto root = default_cache_root("frames")) return *root;
  throw InvalidArgument(
      "image_cache=\"auto\" found no cache directory: set MOUSE_DATA_CACHE, XDG_CACHE_HOME or "
      "HOME, or give image_cache a directory");
}

namespace {

std::optional<CachedFrames> cached_frames_at(const Dataset& ds, const SchemaPlan& plan,
                                             const StoreConfig& config, const std::string& label,
                                             ImageWidthWarning* warning, bool by_default) {
  int field = -1;
  const arrow::Field* column = image_field(ds, plan, &field);
  if (column == nullptr) return std::nullopt;
  const int64_t width = config.max_obs_image_pixels;
  if (width > std::numeric_limits<int32_t>::max()) {
    throw InvalidArgument(fmt::format(
        "image_cache: max_obs_image_pixels {} is above the largest cached row ({} values)", width,
        std::numeric_limits<int32_t>::max()));
  }
  const fs::path root = frame_cache_root(config.image_cache);
  const ordered_json fingerprint = source_fingerprint(ds, field, column->name, width);
  const fs::path entry = root / entry_name(fingerprint);
  const fs::path file = entry / "frames.u8";
  const fs::path fp_file = entry / "fingerprint.json";
  const int64_t bytes = ds.num_rows() * width;

  CachedFrames out;
  out.path = file;
  {
    const EntryLock lock = EntryLock::acquire(entry);
    remove_litter(entry);
    std::error_code ec;
    if (auto cached = read_fingerprint(fp_file); cached && *cached == fingerprint &&
                                                  fs::is_regular_file(file, ec) &&
                                                  static_cast<int64_t>(fs::file_size(file, ec)) == bytes) {
      out.file = MappedFile::open(file);
    }
    if (!out.file) {
      // Missing, stale or damaged: whatever sits at the file and fingerprint paths goes.
      fs::remove_all(fp_file, ec);
      fs::remove_all(file, ec);
      build_frames(ds, field, width, warning, entry, file, label, by_default);
      out.file = MappedFile::open(file);
      write_file_atomically(fp_file, fingerprint.dump());
      out.built = true;
    }
  }
  if (out.file->size() != bytes) {
    throw FormatError(file.string(), -1,
                      fmt::format("frame cache holds {} bytes, expected {} ({} rows of {})",
                                  out.file->size(), bytes, ds.num_rows(), width));
  }
  out.batch_columns = frame_views(ds, field, width, *out.file);
  auto schema = std::make_shared<arrow::Schema>(*ds.schema());
  schema->fields[static_cast<size_t>(field)].type =
      out.batch_columns.empty() ? arrow::fixed_size_list(arrow::Field{"item", arrow::uint8(), true, {}},
                                                         static_cast<int32_t>(width))
                                : out.batch_columns.front()[static_cast<size_t>(field)]->type;
  out.plan = plan_schema(*schema, config, label, true);
  out.plan.image_root = ds.image_root();
  remove_stale_entries(root);
  return out;
}

}  // namespace

std::optional<CachedFrames> cached_frames(const Dataset& ds, const SchemaPlan& plan,
                                          const StoreConfig& config, const std::string& label,
                                          ImageWidthWarning* warning) {
  if (config.image_cache.empty() || config.max_obs_image_pixels <= 0) return std::nullopt;
  if (config.image_cache != "default") {
    return cached_frames_at(ds, plan, config, label, warning, false);
  }
  // Not asked for: a cache that cannot be had (no cache directory, one that cannot be written,
  // not room enough) is one line on stderr, and frames are decoded on every read. An image the
  // build cannot decode stays an error (FormatError), as it would be on read.
  auto decode_instead = [&label](const char* why) -> std::optional<CachedFrames> {
    std::fprintf(stderr,
                 "mouse-data: no frame cache for %s (%s); its frames are decoded on every read\n",
                 label.c_str(), why);
    return std::nullopt;
  };
  try {
    return cached_frames_at(ds, plan, config, label, warning, true);
  } catch (const FormatError&) {
    throw;
  } catch (const Error& e) {
    return decode_instead(e.what());
  } catch (const std::filesystem::filesystem_error& e) {
    return decode_instead(e.what());
  }
}

}  // namespace mouse::detail
