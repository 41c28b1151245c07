#include "mouse/buffer.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <fmt/format.h>

#include "core/checked_file.hpp"
#include "core/memory_limit.hpp"
#include "mouse/error.hpp"

namespace mouse {

namespace {
// Creates `<path>.tmp-<pid>-<6 random letters>` exclusively (mode 0644 less the umask), like
// mkstemp without its fixed 0600 mode; the name is stored in `tmp`.
int create_unique_temp(const std::filesystem::path& path, std::string& tmp) {
  static constexpr char kLetters[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::random_device entropy;
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::string suffix(6, 'a');
    for (char& c : suffix) c = kLetters[entropy() % (sizeof(kLetters) - 1)];
    tmp = path.string() + fmt::format(".tmp-{}-{}", ::getpid(), suffix);
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0 || errno != EEXIST) return fd;
  }
  errno = EEXIST;
  return -1;
}

[[noreturn]] void throw_errno(const char* what, const std::filesystem::path& path, int err) {
  throw IoError(fmt::format("{} {}: {}", what, path.string(), std::strerror(err)));
}

// 64-byte alignment so typed views of any width (and SIMD loads) are aligned.
struct AlignedFree {
  void operator()(void* p) const noexcept { std::free(p); }
};
}  // namespace

Buffer Buffer::allocate(int64_t size) {
  if (size < 0) throw InvalidArgument(fmt::format("Buffer::allocate: negative size {}", size));
  // A size past physical memory is a bad size upstream, not a reason to try.
  detail::check_below_physical_memory(size, "Buffer::allocate");
  size_t rounded = (static_cast<size_t>(size) + 63) / 64 * 64;
  if (rounded == 0) rounded = 64;
  void* p = std::aligned_alloc(64, rounded);
  if (p == nullptr) throw std::bad_alloc();
  std::memset(p, 0, rounded);
  std::shared_ptr<void> owner(p, AlignedFree{});
  return Buffer(static_cast<const uint8_t*>(p), size, std::move(owner));
}

Buffer Buffer::copy_of(std::span<const uint8_t> bytes) {
  Buffer b = allocate(static_cast<int64_t>(bytes.size()));
  if (!bytes.empty()) std::memcpy(b.mutable_data(), bytes.data(), bytes.size());
  return b;
}

Buffer Buffer::slice(int64_t offset, int64_t length) const {
  MOUSE_DCHECK(offset >= 0 && length >= 0 && offset + length <= size_);
  return Buffer(data_ + offset, length, owner_);
}

std::shared_ptr<MappedFile> MappedFile::open(const std::filesystem::path& path) {
  detail::ByteBudget& huge_budget = detail::huge_page_budget();  // first: it may read /proc
  struct stat st {};
  const int fd = detail::open_regular_file(path, &st);
  const uint8_t* data = nullptr;
  bool huge = false;
  if (st.st_size > 0) {
    void* p = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
      int err = errno;
      ::close(fd);
      throw_errno("cannot mmap", path, err);
    }
    // Windows are sampled at random: no readahead (advice only). Huge pages where the kernel
    // and filesystem map file pages that way (e.g. ext4 and xfs with large folios): a random
    // window then costs no page walk, which matters once the mapped data outgrows the TLB's
    // reach by far (100M rows: 5 GB). Only while what is mapped so fits in memory (see
    // huge_page_budget): data larger than memory keeps 4 KB pages and 4 KB reads.
    (void)::madvise(p, static_cast<size_t>(st.st_size), MADV_RANDOM);
    if (huge_budget.take(st.st_size)) {
      huge = ::madvise(p, static_cast<size_t>(st.st_size), MADV_HUGEPAGE) == 0;
      if (!huge) huge_budget.give_back(st.st_size);
    }
    data = static_cast<const uint8_t*>(p);
  }
  ::close(fd);
  return std::shared_ptr<MappedFile>(new MappedFile(path, data, st.st_size, huge));
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), static_cast<size_t>(size_));
  if (huge_pages_) detail::huge_page_budget().give_back(size_);
}

void MappedFile::release_resident() const noexcept {
  // MADV_DONTNEED on a read-only shared file mapping only unmaps pages; their contents come
  // back from the file on the next access.
  if (data_ != nullptr) {
    (void)::madvise(const_cast<uint8_t*>(data_), static_cast<size_t>(size_), MADV_DONTNEED);
  }
}

Buffer MappedFile::buffer() const {
  return Buffer(data_, size_, shared_from_this());
}

void write_file_atomically(const std::filesystem::path& path, std::span<const uint8_t> bytes) {
  // A unique temporary name: writers in different pid namespaces may share a pid, and two
  // writers of one path must not write into each other's file.
  std::string tmp;
  const int fd = create_unique_temp(path, tmp);
  if (fd < 0) throw_errno("cannot create a temporary file for", path, errno);
  const auto fail = [&](const char* what, const std::filesystem::path& named, int err) {
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    throw_errno(what, named, err);
  };
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("cannot write", tmp, errno);
    }
    done += static_cast<size_t>(n);
  }
  // Durable before it takes the name, so a crash never leaves an empty file at `path`.
  if (::fsync(fd) != 0 && errno != EINVAL && errno != EROFS) fail("cannot sync", tmp, errno);
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw_errno("cannot close", tmp, err);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw_errno("cannot rename into place", path, err);
  }
}

}  // namespace mouse
