// Byte buffers with shared ownership, and memory-mapped files that own the bytes sliced from them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>

namespace mouse {

/// A read-only view of bytes plus a shared owner that keeps them alive (a mapped file, a heap
/// block, a decompressed body...). Copies and slices share the owner; the reference count is
/// atomic, so a Buffer may be copied and released on any thread. An empty Buffer has no owner.
class Buffer {
 public:
  Buffer() = default;
  /// Views `size` bytes at `data`, kept alive by `owner` (which may be null for static data).
  Buffer(const uint8_t* data, int64_t size, std::shared_ptr<const void> owner)
      : data_(data), size_(size), owner_(std::move(owner)) {}

  /// Allocates `size` zeroed bytes owned by the returned buffer; `mutable_data()` may write them
  /// until the buffer is shared.
  static Buffer allocate(int64_t size);
  /// Copies `bytes` into a new owned buffer.
  static Buffer copy_of(std::span<const uint8_t> bytes);

  const uint8_t* data() const noexcept { return data_; }
  /// Writable pointer; only for buffers created by `allocate` and not yet shared.
  uint8_t* mutable_data() const noexcept { return const_cast<uint8_t*>(data_); }
  int64_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  const std::shared_ptr<const void>& owner() const noexcept { return owner_; }
  std::span<const uint8_t> bytes() const noexcept {
    return {data_, static_cast<size_t>(size_)};
  }

  /// A view of `[offset, offset + length)` sharing this buffer's owner. The caller checks bounds
  /// (MOUSE_DCHECK in debug builds).
  Buffer slice(int64_t offset, int64_t length) const;

  /// The bytes as `count` values of T starting at element `first`. Caller checks bounds and
  /// alignment (the IPC reader copies misaligned buffers, so its buffers are always aligned).
  template <class T>
  const T* as() const noexcept {
    return reinterpret_cast<const T*>(data_);
  }

 private:
  const uint8_t* data_ = nullptr;
  int64_t size_ = 0;
  std::shared_ptr<const void> owner_;
};

/// A read-only memory map of a whole file. Not copyable; unmapped when the last shared_ptr to
/// it (including every Buffer sliced from it) is released.
class MappedFile : public std::enable_shared_from_this<MappedFile> {
 public:
  /// Maps `path` read-only. Throws IoError naming the path when it cannot be opened or mapped.
  /// An empty file maps to an empty buffer.
  static std::shared_ptr<MappedFile> open(const std::filesystem::path& path);

  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const std::filesystem::path& path() const noexcept { return path_; }
  int64_t size() const noexcept { return size_; }
  /// The whole file as a Buffer owned by this map.
  Buffer buffer() const;
  /// Drops this process's page mappings of the file (the bytes stay valid and are faulted back
  /// in from the page cache on the next access), so pages touched while reading scattered
  /// metadata do not stay resident. Thread-safe; a no-op for an empty file.
  void release_resident() const noexcept;
  /// Whether the map asked the kernel for huge pages: it does while the bytes mapped that way
  /// by this process fit in half the memory available when it first mapped a file; past that
  /// (data larger than memory) it keeps 4 KB pages, as a huge page is read whole on a fault.
  bool huge_pages() const noexcept { return huge_pages_; }

 private:
  MappedFile(std::filesystem::path path, const uint8_t* data, int64_t size, bool huge_pages)
      : path_(std::move(path)), data_(data), size_(size), huge_pages_(huge_pages) {}
  std::filesystem::path path_;
  const uint8_t* data_;
  int64_t size_;
  bool huge_pages_;
};

/// Writes `bytes` to `path` through a temporary file in the same directory that is renamed
/// into place, so readers never see a half-written file. Throws IoError.
void write_file_atomically(const std::filesystem::path& path, std::span<const uint8_t> bytes);

}  // namespace mouse
