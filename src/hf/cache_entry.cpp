#include "hf/cache_entry.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <system_error>
#include <utility>
#include <vector>

#include "hf/atomic_dir.hpp"
#include "mouse/error.hpp"

namespace mouse::detail {

namespace fs = std::filesystem;

namespace {

int open_lock_file(const fs::path& entry) {
  return ::open((entry / "lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
}

}  // namespace

EntryLock EntryLock::acquire(const fs::path& entry) {
  std::error_code ec;
  // An entry replaced by a file (or a link) is not ours any more: make it a directory again.
  if (const auto st = fs::symlink_status(entry, ec); fs::exists(st) && !fs::is_directory(st)) {
    fs::remove(entry, ec);
  }
  fs::create_directories(entry, ec);
  if (ec) {
    throw IoError(
        fmt::format("{}: cannot create cache directory: {}", entry.string(), ec.message()));
  }
  EntryLock lock(open_lock_file(entry));
  if (lock.fd_ < 0 && errno == EISDIR) {
    fs::remove_all(entry / "lock", ec);
    lock.fd_ = open_lock_file(entry);
  }
  if (lock.fd_ < 0) {
    throw IoError(
        fmt::format("{}: cannot open: {}", (entry / "lock").string(), std::strerror(errno)));
  }
  while (::flock(lock.fd_, LOCK_EX) != 0) {
    if (errno != EINTR) {
      throw IoError(
          fmt::format("{}: cannot lock: {}", (entry / "lock").string(), std::strerror(errno)));
    }
  }
  return lock;
}

std::optional<EntryLock> EntryLock::try_acquire(const fs::path& entry) {
  EntryLock lock(open_lock_file(entry));
  if (lock.fd_ < 0 || ::flock(lock.fd_, LOCK_EX | LOCK_NB) != 0) return std::nullopt;
  return lock;
}

EntryLock::EntryLock(EntryLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

EntryLock::~EntryLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the lock
}

FileStamp file_stamp(const fs::path& absolute) {
  struct stat st {};
  // stat follows symlinks: a Hub cache snapshot links into blobs/, whose size and mtime count.
  if (::stat(absolute.c_str(), &st) != 0) {
    throw IoError(fmt::format("{}: cannot stat: {}", absolute.string(), std::strerror(errno)));
  }
  FileStamp f;
  f.path = absolute.string();
  f.size = static_cast<int64_t>(st.st_size);
  f.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  return f;
}

void write_file_atomically(const fs::path& file, std::string_view text) {
  const fs::path tmp =
      file.parent_path() / fmt::format("{}.{}.tmp", file.filename().string(), ::getpid());
  std::error_code ec;
  fs::remove(tmp, ec);
  {
    FileWriter w(tmp);
    w.write(text);
    w.close();
  }
  fs::rename(tmp, file, ec);
  if (ec) {
    throw IoError(fmt::format("{}: cannot rename into place: {}", file.string(), ec.message()));
  }
}

std::optional<fs::path> default_cache_root(std::string_view sub) {
  const auto env = [](const char* name) -> std::optional<fs::path> {
    const char* v = std::getenv(name);
    if (v == nullptr || *v == '\0') return std::nullopt;
    return fs::path(v);
  };
  if (auto p = env("MOUSE_DATA_CACHE")) return *p / sub;
  if (auto p = env("XDG_CACHE_HOME")) return *p / "mouse-data" / sub;
  if (auto p = env("HOME")) return *p / ".cache" / "mouse-data" / sub;
  return std::nullopt;
}

void remove_entry_litter(const fs::path& entry, std::initializer_list<std::string_view> prefixes) {
  std::error_code ec;
  fs::directory_iterator it(entry, ec);
  if (ec) return;
  std::vector<fs::path> litter;
  for (const auto& e : it) {
    const std::string name = e.path().filename().string();
    bool stale = name.starts_with("fingerprint.json.") && name.ends_with(".tmp");
    for (const std::string_view prefix : prefixes) stale = stale || name.starts_with(prefix);
    if (stale) litter.push_back(e.path());
  }
  for (const auto& p : litter) fs::remove_all(p, ec);
}

bool file_is_gone(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) != 0 && (errno == ENOENT || errno == ENOTDIR);
}

}  // namespace mouse::detail
