// RemoteRoot::download: the object goes to a temporary beside `dest`, resumed across attempts
// with ranged GETs, and is renamed into place only once it is whole; any failure removes the
// temporary, so nothing partial is ever found at `dest`.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "mouse/error.hpp"
#include "remote/object_root.hpp"
#include "remote/url.hpp"

namespace mouse::remote::detail {
namespace {

std::string errno_text(int err) { return std::strerror(err); }

// The temporary file: created exclusively, removed on destruction unless committed.
class TempFile {
 public:
  explicit TempFile(const std::filesystem::path& dest) {
    static std::atomic<uint64_t> counter{0};
    path_ = dest;
    path_ += fmt::format(".part-{}-{}", ::getpid(), counter.fetch_add(1));
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd_ < 0) {
      throw IoError(fmt::format("{}: cannot create: {}", path_.string(), errno_text(errno)));
    }
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(path_.c_str());
  }

  int fd() const noexcept { return fd_; }
  const std::filesystem::path& path() const noexcept { return path_; }

  // Flushes, closes and renames the file to `dest`.
  void commit(const std::filesystem::path& dest) {
    if (::fdatasync(fd_) != 0 || ::close(fd_) != 0) {
      const int err = errno;
      fd_ = -1;
      throw IoError(fmt::format("{}: cannot flush: {}", path_.string(), errno_text(err)));
    }
    fd_ = -1;
    if (::rename(path_.c_str(), dest.c_str()) != 0) {
      throw IoError(fmt::format("{}: cannot rename to {}: {}", path_.string(), dest.string(),
                                errno_text(errno)));
    }
    committed_ = true;
  }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  bool committed_ = false;
};

}  // namespace

void ObjectRoot::download(const ObjectInfo& object, const std::filesystem::path& dest,
                          const std::function<void(int64_t)>& progress) const {
  check_object_path(object.path, display_url());
  ObjectInfo target = object;
  if (target.size < 0) {  // a plain HTTP file nobody stat()ed yet
    const ObjectInfo info = stat(object.path);
    target.size = info.size;
    if (target.version.empty()) target.version = info.version;
  }
  const std::string url = object_url(target.path);
  const std::string what =
      target.size > 0 ? fmt::format("GET {} bytes=0-{}", url, target.size - 1)
                      : fmt::format("GET {}", url);

  TempFile temp(dest);
  int64_t written = 0;
  bool first_chunk = true;
  bool too_long = false;
  int write_errno = 0;

  HttpRequest request;
  request.url = url;
  if (use_if_match(target)) request.headers.push_back("If-Match: " + target.version);
  request.sink = [&](int status, const char* data, size_t size) {
    if (first_chunk) {
      first_chunk = false;
      // A 200 to a resumed request is the whole object again: start over.
      if (status == 200 && written > 0) {
        if (::ftruncate(temp.fd(), 0) != 0 || ::lseek(temp.fd(), 0, SEEK_SET) != 0) {
          write_errno = errno;
          return false;
        }
        written = 0;
      }
    }
    if (written + static_cast<int64_t>(size) > target.size) {
      too_long = true;
      return false;
    }
    while (size > 0) {
      const ssize_t n = ::write(temp.fd(), data, size);
      if (n < 0) {
        if (errno == EINTR) continue;
        write_errno = errno;
        return false;
      }
      data += n;
      size -= static_cast<size_t>(n);
      written += n;
    }
    if (progress) progress(written);
    return true;
  };
  auto prepare = [&](HttpRequest& attempt) {
    first_chunk = true;
    if (target.size > 0) {
      attempt.headers.push_back(fmt::format("Range: bytes={}-{}", written, target.size - 1));
    }
  };

  HttpResponse response;
  try {
    response = send(request, what, {}, prepare);
  } catch (const IoError&) {
    if (write_errno != 0) {
      throw IoError(fmt::format("{}: cannot write {}: {}", what, temp.path().string(),
                                errno_text(write_errno)));
    }
    if (too_long) {
      throw FormatError(url, target.size,
                        fmt::format("{}: the body is longer than the expected {} bytes", what,
                                    target.size));
    }
    throw;
  }
  ContentRange range;
  if (response.status == 206 && parse_content_range(response.header("content-range"), range) &&
      range.total >= 0 && range.total != target.size) {
    throw FormatError(url, range.total,
                      fmt::format("{}: the object has {} bytes, expected {}", what, range.total,
                                  target.size));
  }
  if (written != target.size) {
    throw FormatError(url, written,
                      fmt::format("{}: the body ended after {} bytes, expected {}", what, written,
                                  target.size));
  }
  temp.commit(dest);
}

}  // namespace mouse::remote::detail
