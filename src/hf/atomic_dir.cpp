#include "hf/atomic_dir.hpp"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
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

fs::path make_temp_dir(const fs::path& parent, const std::string& name, const char* tag) {
  std::string tmpl = (parent / fmt::format(".{}.{}-XXXXXX", name, tag)).string();
  if (::mkdtemp(tmpl.data()) == nullptr) {
    throw_errno("cannot create a temporary directory in", parent, errno);
  }
  return tmpl;
}

void remove_quietly(const fs::path& p) noexcept {
  std::error_code ec;
  fs::remove_all(p, ec);
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
  const auto status = fs::symlink_status(abs, ec);
  const bool exists = fs::exists(status);
  if (exists && !fs::is_directory(status)) {
    throw IoError(fmt::format("cannot save to {}: it exists and is not a directory", abs.string()));
  }

  const fs::path tmp = make_temp_dir(parent, name, "tmp");
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
