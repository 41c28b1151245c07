// Writing a directory so that readers see either the old one or the complete new one: files go
// to a temporary directory next to the target, which is then swapped into place.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string_view>
#include <vector>

namespace mouse::detail {

/// Creates a temporary directory next to `target` (creating missing parents), runs
/// `fill(temp_dir)`, syncs it and renames it to `target`. An existing directory at `target` is
/// swapped out atomically (renameat2 RENAME_EXCHANGE, or two renames where unsupported) and
/// removed afterwards, so a dataset may be saved over the directory it is mapped from. If
/// `fill` throws, or anything fails, the temporary directory is removed, `target` is left as
/// it was and the exception propagates. Throws IoError naming the path.
void replace_directory_atomically(const std::filesystem::path& target,
                                  const std::function<void(const std::filesystem::path&)>& fill);

/// A new file written through a buffer; close() flushes and fsyncs. IoError naming the path.
class FileWriter {
 public:
  /// Creates `path` (it must not exist).
  explicit FileWriter(std::filesystem::path path);
  ~FileWriter();
  FileWriter(const FileWriter&) = delete;
  FileWriter& operator=(const FileWriter&) = delete;

  void write(std::span<const uint8_t> bytes);
  void write(std::string_view text);
  /// Flushes, fsyncs and closes; further writes are errors.
  void close();

 private:
  void flush();
  void write_all(const uint8_t* data, size_t size);
  std::filesystem::path path_;
  int fd_ = -1;
  std::vector<uint8_t> buffer_;
};

/// A streaming 64-bit content hash (not cryptographic), printed as 16 hex digits like the
/// `_fingerprint` values datasets writes.
class ContentHash {
 public:
  void update(std::span<const uint8_t> bytes) noexcept;
  void update(std::string_view text) noexcept;
  std::string hex() const;

 private:
  void mix(uint64_t word) noexcept;
  uint64_t state_ = 0x9E3779B97F4A7C15ull;
  uint64_t total_ = 0;
  uint8_t pending_[8] = {};
  size_t npending_ = 0;
};

}  // namespace mouse::detail
