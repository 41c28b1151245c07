#include "hf/atomic_dir.hpp"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <mutex>
#include <set>
#include <string_view>
#include <cstring>
#include <fmt/format.h>

#include "mouse/error.hpp"

namespace mouse::detail {

namespace fs = std::filesystem;

namespace {

[[noreturn]] void throw_errno(const std::string& what, const fs::path& path, int err) {
  throw IoError(fmt::format("{} {}: {}", what, path.string(), std::strerror(err)));
}

void fsync_directory(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw_errno("cannot open directory", dir, errno);
  // Some file systems cannot fsync directories (EINVAL); the rename is still atomic there.
  if (::fsync(fd) != 0 && errno != EINVAL && errno != EROFS) {
    const int err = errno;
    ::close(fd);
    throw_errno("cannot sync directory", dir, err);
  }
  ::close(fd);
}

// Temporary names embed the writer's pid, `.<name>.<tag>-<pid>-XXXXXX`, so a later writer can
// tell the litter of a dead process from the work of a live one.
fs::path make_temp_dir(const fs::path& parent, const std::string& name, const char* tag) {
  std::string tmpl = (parent / fmt::format(".{}.{}-{}-XXXXXX", name, tag, ::getpid())).string();
  if (::mkdtemp(tmpl.data()) == nullptr) {
    throw_errno("cannot create a temporary directory in", parent, errno);
  }
  return tmpl;
}

void remove_quietly(const fs::path& p) noexcept {
  std::error_code ec;
  fs::remove_all(p, ec);
}

// Temporary directories of this process's saves in progress, for remove_unfinished_saves().
std::mutex& pending_mutex() {
  static std::mutex m;
  return m;
}
std::set<fs::path>& pending() {
  static std::set<fs::path> paths;
  return paths;
}

// Creates a temporary directory (as make_temp_dir) and registers it while the object lives.
// Creation and registration happen under one lock, so remove_unfinished_saves() never sees a
// directory that exists but is not yet registered.
class PendingTemp {
 public:
  PendingTemp(const fs::path& parent, const std::string& name, const char* tag) {
    std::lock_guard lock(pending_mutex());
    path_ = make_temp_dir(parent, name, tag);
    pending().insert(path_);
  }
  const fs::path& path() const noexcept { return path_; }
  ~PendingTemp() {
    std::lock_guard lock(pending_mutex());
    pending().erase(path_);
  }
  PendingTemp(const PendingTemp&) = delete;
  PendingTemp& operator=(const PendingTemp&) = delete;

 private:
  fs::path path_;
};

// Appended to a temporary directory's name by remove_unfinished_saves() before removing it.
constexpr std::string_view kGoneSuffix = ".gone";

// The pid in a temporary name's "<pid>-XXXXXX" tail (optionally followed by kGoneSuffix), or -1
// for the pid-less names of older versions ("XXXXXX"), or -2 when the tail is neither form.
long temp_owner(std::string_view tail) {
  if (tail.ends_with(kGoneSuffix)) tail.remove_suffix(kGoneSuffix.size());
  const size_t dash = tail.find('-');
  if (dash == std::string_view::npos) return tail.size() == 6 ? -1 : -2;
  if (dash == 0 || tail.size() - dash - 1 != 6) return -2;
  long pid = 0;
  for (size_t i = 0; i < dash; ++i) {
    if (tail[i] < '0' || tail[i] > '9' || pid > 100'000'000) return -2;
    pid = pid * 10 + (tail[i] - '0');
  }
  return pid;
}

bool process_is_gone(long pid) {
  return pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

// Cleans what killed saves of `name` left in `parent`: `.<name>.tmp-*` of dead processes are
// removed; a dead process's `.<name>.old-*` is the previous dataset moved aside, which goes back
// into place when the target is missing (killed between the two renames) and is removed
// otherwise. Names of live processes are left alone: they may be saving right now. Pid-less
// names from older versions are removed once an hour old. Errors are ignored.
void clean_stale_temps(const fs::path& parent, const std::string& name, const fs::path& target) {
  std::error_code ec;
  fs::directory_iterator it(parent, ec);
  if (ec) return;
  const std::string tmp_prefix = fmt::format(".{}.tmp-", name);
  const std::string old_prefix = fmt::format(".{}.old-", name);
  const auto hour_ago = fs::file_time_type::clock::now() - std::chrono::hours(1);
  for (const auto& entry : it) {
    const std::string fname = entry.path().filename().string();
    const bool is_tmp = fname.starts_with(tmp_prefix);
    const bool is_old = fname.starts_with(old_prefix);
    if (!is_tmp && !is_old) continue;
    std::error_code e;
    if (entry.is_symlink(e) || !entry.is_directory(e)) continue;
    const long owner = temp_owner(std::string_view(fname).substr(tmp_prefix.size()));
    bool stale = false;
    if (owner == -1) {
      const auto t = fs::last_write_time(entry.path(), e);
      stale = !e && t < hour_ago;
    } else if (owner > 0) {
      stale = process_is_gone(owner);
    }
    if (!stale) continue;
    if (is_old && !fs::exists(fs::symlink_status(target, e)) &&
        ::rename(entry.path().c_str(), target.c_str()) == 0) {
      continue;
    }
    remove_quietly(entry.path());
  }
}

}  // namespace

void replace_directory_atomically(const fs::path& target,
                                  const std::function<void(const fs::path&)>& fill) {
  std::error_code ec;
  fs::path abs = fs::absolute(target, ec);
  if (ec) throw IoError(fmt::format("cannot save to {}: {}", target.string(), ec.message()));
  abs = abs.lexically_normal();
  if (abs.filename().empty()) abs = abs.parent_path();  // "dir/" names "dir"
  if (abs.filename().empty() || abs.filename() == "." || abs.filename() == "..") {
    throw IoError(fmt::format("cannot save to {}: not a directory name", target.string()));
  }
  const fs::path parent = abs.parent_path();
  const std::string name = abs.filename().string();
  fs::create_directories(parent, ec);
  if (ec) throw IoError(fmt::format("cannot create directory {}: {}", parent.string(), ec.message()));
  clean_stale_temps(parent, name, abs);
  const auto status = fs::symlink_status(abs, ec);
  const bool exists = fs::exists(status);
  if (exists && !fs::is_directory(status)) {
    throw IoError(fmt::format("cannot save to {}: it exists and is not a directory", abs.string()));
  }

  const PendingTemp registered(parent, name, "tmp");
  const fs::path& tmp = registered.path();
  try {
    fill(tmp);
    fsync_directory(tmp);
    if (!exists) {
      if (::rename(tmp.c_str(), abs.c_str()) != 0) throw_errno("cannot rename into place", abs, errno);
    } else if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, abs.c_str(), RENAME_EXCHANGE) == 0) {
      // `tmp` now names the old directory.
      remove_quietly(tmp);
    } else if (errno == EINVAL || errno == ENOSYS || errno == ENOTSUP) {
      // No atomic exchange on this file system: move the old directory aside, then put the
      // new one in place, restoring the old one if that fails.
      const fs::path old = make_temp_dir(parent, name, "old");
      if (::rename(abs.c_str(), old.c_str()) != 0) {
        const int err = errno;
        remove_quietly(old);
        throw_errno("cannot move the existing directory aside:", abs, err);
      }
      if (::rename(tmp.c_str(), abs.c_str()) != 0) {
        const int err = errno;
        ::rename(old.c_str(), abs.c_str());
        throw_errno("cannot rename into place", abs, err);
      }
      remove_quietly(old);
    } else {
      throw_errno("cannot replace directory", abs, errno);
    }
  } catch (...) {
    remove_quietly(tmp);
    throw;
  }
  fsync_directory(parent);
}

FileWriter::FileWriter(fs::path path) : path_(std::move(path)) {
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd_ < 0) throw_errno("cannot create", path_, errno);
  buffer_.reserve(1 << 20);
}

FileWriter::~FileWriter() {
  if (fd_ >= 0) ::close(fd_);
}

void FileWriter::write_all(const uint8_t* data, size_t size) {
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::write(fd_, data + done, size - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("cannot write", path_, errno);
    }
    done += static_cast<size_t>(n);
  }
}

void FileWriter::flush() {
  write_all(buffer_.data(), buffer_.size());
  buffer_.clear();
}

void FileWriter::write(std::span<const uint8_t> bytes) {
  if (fd_ < 0) throw IoError(fmt::format("cannot write {}: already closed", path_.string()));
  if (buffer_.size() + bytes.size() > buffer_.capacity()) flush();
  if (bytes.size() >= buffer_.capacity()) {
    write_all(bytes.data(), bytes.size());
    return;
  }
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
}

void FileWriter::write(std::string_view text) {
  write(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

void FileWriter::close() {
  if (fd_ < 0) return;
  flush();
  if (::fsync(fd_) != 0 && errno != EINVAL && errno != EROFS) throw_errno("cannot sync", path_, errno);
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) throw_errno("cannot close", path_, errno);
}

namespace {
inline uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
inline uint64_t fmix(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdull;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ull;
  k ^= k >> 33;
  return k;
}
}  // namespace

void ContentHash::mix(uint64_t word) noexcept {
  state_ ^= rotl(word * 0x87c37b91114253d5ull, 31) * 0x4cf5ad432745937full;
  state_ = rotl(state_, 27) * 5 + 0x52dce729;
}

void ContentHash::update(std::span<const uint8_t> bytes) noexcept {
  total_ += bytes.size();
  size_t i = 0;
  if (npending_ > 0) {
    // Top up the pending word first; npending_ < 8 always holds between calls.
    const size_t take = std::min(bytes.size(), sizeof(pending_) - npending_);
    std::memcpy(pending_ + npending_, bytes.data(), take);
    npending_ += take;
    i = take;
    if (npending_ < sizeof(pending_)) return;
    uint64_t w;
    std::memcpy(&w, pending_, 8);
    mix(w);
    npending_ = 0;
  }
  for (; i + 8 <= bytes.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, bytes.data() + i, 8);
    mix(w);
  }
  npending_ = bytes.size() - i;
  std::memcpy(pending_, bytes.data() + i, npending_);
}

void ContentHash::update(std::string_view text) noexcept {
  update(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

std::string ContentHash::hex() const {
  uint64_t h = state_;
  uint64_t tail = 0;
  std::memcpy(&tail, pending_, npending_);
  h ^= fmix(tail ^ (static_cast<uint64_t>(npending_) << 56));
  h = fmix(h ^ total_);
  return fmt::format("{:016x}", h);
}

}  // namespace mouse::detail

namespace mouse {

void remove_unfinished_saves() noexcept {
  try {
    std::lock_guard lock(detail::pending_mutex());
    for (const auto& p : detail::pending()) {
      // The save goes on writing while this runs: renamed first, the directory can take no new
      // files by its old path (creating one fails), so removing it does not race with them.
      std::filesystem::path gone = p;
      gone += detail::kGoneSuffix;
      if (::rename(p.c_str(), gone.c_str()) == 0) detail::remove_quietly(gone);
      detail::remove_quietly(p);
    }
  } catch (...) {
    // Best effort: the next save to the same target cleans up what is left.
  }
}

}  // namespace mouse
