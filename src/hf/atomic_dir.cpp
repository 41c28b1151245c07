#include "hf/atomic_dir.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <memory>
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

// flock() that retries when a signal interrupts it; false when the lock is not taken.
bool flock_retrying(int fd, int op) noexcept {
  for (;;) {
    if (::flock(fd, op) == 0) return true;
    if (errno != EINTR) return false;
  }
}

// A lock on a directory that is not taken when the directory cannot be opened (the caller's
// next step then fails with a clear error of its own).
class DirectoryLock {
 public:
  DirectoryLock(const fs::path& dir, int op) {
    fd_ = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd_ >= 0) flock_retrying(fd_, op);
  }
  ~DirectoryLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  DirectoryLock(const DirectoryLock&) = delete;
  DirectoryLock& operator=(const DirectoryLock&) = delete;

 private:
  int fd_ = -1;
};

// How a writer shows that a temporary directory is in use: it holds an exclusive flock() on the
// directory from creating it until it is renamed into place or removed. The kernel drops the
// lock when the process dies, however it dies, and the lock means the same in every pid
// namespace sharing the file system, where a pid in the name would not. Names of locked
// temporaries are `.<name>.<tag>-L<pid>-XXXXXX`: the L marks the lock, the pid is for people.
// Between mkdtemp and flock a new temporary exists unlocked; writers hold a shared lock on the
// parent directory over that step and the cleaner an exclusive one while it scans, so it never
// sees a live temporary unlocked.
class LockedTemp {
 public:
  LockedTemp(const fs::path& parent, const std::string& name, const char* tag) {
    const DirectoryLock creating(parent, LOCK_SH);
    std::string tmpl = (parent / fmt::format(".{}.{}-L{}-XXXXXX", name, tag, ::getpid())).string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      throw_errno("cannot create a temporary directory in", parent, errno);
    }
    path_ = tmpl;
    fd_ = ::open(path_.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd_ < 0 || !flock_retrying(fd_, LOCK_EX)) {
      const int err = errno;
      if (fd_ >= 0) ::close(fd_);
      ::rmdir(path_.c_str());
      throw_errno("cannot lock the temporary directory", path_, err);
    }
  }
  ~LockedTemp() { ::close(fd_); }
  LockedTemp(const LockedTemp&) = delete;
  LockedTemp& operator=(const LockedTemp&) = delete;
  const fs::path& path() const noexcept { return path_; }

 private:
  fs::path path_;
  int fd_ = -1;
};

// A locked temporary directory (as LockedTemp) registered for remove_unfinished_saves() while
// the object lives. Creation and registration happen under one lock, so
// remove_unfinished_saves() never sees a directory that exists but is not yet registered.
class PendingTemp {
 public:
  PendingTemp(const fs::path& parent, const std::string& name, const char* tag)
      : temp_(create(parent, name, tag)) {}
  const fs::path& path() const noexcept { return temp_->path(); }
  ~PendingTemp() {
    std::lock_guard lock(pending_mutex());
    pending().erase(temp_->path());
  }
  PendingTemp(const PendingTemp&) = delete;
  PendingTemp& operator=(const PendingTemp&) = delete;

 private:
  static std::unique_ptr<LockedTemp> create(const fs::path& parent, const std::string& name,
                                            const char* tag) {
    std::lock_guard lock(pending_mutex());
    auto temp = std::make_unique<LockedTemp>(parent, name, tag);
    pending().insert(temp->path());
    return temp;
  }
  std::unique_ptr<LockedTemp> temp_;
};

// Appended to a temporary directory's name by remove_unfinished_saves() before removing it.
constexpr std::string_view kGoneSuffix = ".gone";

// Who owns a temporary directory, from its name's tail after `.<name>.<tag>-`.
struct TempOwner {
  enum Kind {
    kLocked,   ///< "L<pid>-XXXXXX": live while someone holds its lock
    kPid,      ///< "<pid>-XXXXXX" of older versions: live while the pid exists
    kPidless,  ///< "XXXXXX" of older versions: stale once an hour old
    kUnknown,  ///< not a name we write: left alone
  } kind = kUnknown;
  long pid = 0;
};

TempOwner temp_owner(std::string_view tail) {
  if (tail.ends_with(kGoneSuffix)) tail.remove_suffix(kGoneSuffix.size());
  const bool locked = tail.starts_with('L');
  if (locked) tail.remove_prefix(1);
  const size_t dash = tail.find('-');
  if (dash == std::string_view::npos) {
    return {!locked && tail.size() == 6 ? TempOwner::kPidless : TempOwner::kUnknown, 0};
  }
  if (dash == 0 || tail.size() - dash - 1 != 6) return {};
  long pid = 0;
  for (size_t i = 0; i < dash; ++i) {
    if (tail[i] < '0' || tail[i] > '9' || pid > 100'000'000) return {};
    pid = pid * 10 + (tail[i] - '0');
  }
  return {locked ? TempOwner::kLocked : TempOwner::kPid, pid};
}

bool process_is_gone(long pid) {
  return pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

// Whether `dir` is stale by `owner`. For a locked name the lock is taken (and kept in `held`
// while the caller removes or restores it), after checking that the path still names the
// directory that was locked.
bool is_stale(const fs::path& dir, const TempOwner& owner, int& held) {
  switch (owner.kind) {
    case TempOwner::kLocked: {
      const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0) return false;
      struct stat locked {}, now {};
      if (!flock_retrying(fd, LOCK_EX | LOCK_NB) || ::fstat(fd, &locked) != 0 ||
          ::lstat(dir.c_str(), &now) != 0 || locked.st_dev != now.st_dev ||
          locked.st_ino != now.st_ino) {
        ::close(fd);
        return false;
      }
      held = fd;
      return true;
    }
    case TempOwner::kPid:
      return process_is_gone(owner.pid);
    case TempOwner::kPidless: {
      std::error_code e;
      const auto t = fs::last_write_time(dir, e);
      return !e && t < fs::file_time_type::clock::now() - std::chrono::hours(1);
    }
    case TempOwner::kUnknown:
      break;
  }
  return false;
}

// Cleans what killed saves of `name` left in `parent`: stale `.<name>.tmp-*` (see is_stale) are
// removed; a stale `.<name>.old-*` is the previous dataset moved aside, which goes back into
// place when the target is missing (killed between the two renames) and is removed otherwise.
// Temporaries in use are left alone. Errors are ignored.
void clean_stale_temps(const fs::path& parent, const std::string& name, const fs::path& target) {
  const DirectoryLock scanning(parent, LOCK_EX);
  std::error_code ec;
  fs::directory_iterator it(parent, ec);
  if (ec) return;
  const std::string tmp_prefix = fmt::format(".{}.tmp-", name);
  const std::string old_prefix = fmt::format(".{}.old-", name);
  std::vector<fs::path> found;
  for (const auto& entry : it) {
    const std::string fname = entry.path().filename().string();
    if (!fname.starts_with(tmp_prefix) && !fname.starts_with(old_prefix)) continue;
    std::error_code e;
    if (entry.is_symlink(e) || !entry.is_directory(e)) continue;
    found.push_back(entry.path());
  }
  for (const fs::path& dir : found) {
    const std::string fname = dir.filename().string();
    const bool is_old = fname.starts_with(old_prefix);
    int held = -1;
    if (!is_stale(dir, temp_owner(std::string_view(fname).substr(tmp_prefix.size())), held)) {
      continue;
    }
    std::error_code e;
    if (!(is_old && !fs::exists(fs::symlink_status(target, e)) &&
          ::rename(dir.c_str(), target.c_str()) == 0)) {
      remove_quietly(dir);
    }
    if (held >= 0) ::close(held);
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
      // The name is reserved locked, but the rename replaces that empty directory with the
      // existing one: lock that before it moves, so the lock travels with it.
      const LockedTemp aside(parent, name, "old");
      const fs::path& old = aside.path();
      const DirectoryLock moving(abs, LOCK_EX);
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
