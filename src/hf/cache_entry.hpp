// Pieces of an on-disk cache entry shared by the Hub Parquet cache (hub_load.cpp) and the store's
// decoded-frame cache: an exclusive per-entry lock that serialises threads and processes, the
// stat fingerprint of a source file, and small files written under a temporary name and then
// renamed, so a reader sees the old or the new file, never part of one.
#pragma once

#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

namespace mouse::detail {

/// An exclusive advisory lock on a cache entry (flock on `<entry>/lock`), held while the object
/// lives. flock locks belong to the open file, so two threads of one process exclude each other
/// as two processes do.
class EntryLock {
 public:
  /// Waits for the lock, creating the entry directory and lock file as needed (an entry or lock
  /// replaced by a file, link or directory is made ours again). IoError naming the path when
  /// the directory cannot be created or the lock taken.
  static EntryLock acquire(const std::filesystem::path& entry);
  /// The lock if nobody holds it, else nullopt (also when it cannot be opened).
  static std::optional<EntryLock> try_acquire(const std::filesystem::path& entry);

  EntryLock(EntryLock&& other) noexcept;
  EntryLock& operator=(EntryLock&&) = delete;
  EntryLock(const EntryLock&) = delete;
  EntryLock& operator=(const EntryLock&) = delete;
  ~EntryLock();

 private:
  explicit EntryLock(int fd) : fd_(fd) {}
  int fd_;
};

/// What identifies a source file's contents without reading them: the absolute path and the
/// size and modification time of what it resolves to (symlinks followed).
struct FileStamp {
  std::string path;
  int64_t size = 0;
  int64_t mtime_ns = 0;
  bool operator==(const FileStamp&) const = default;
};

/// The stamp of `absolute`; IoError naming it when it cannot be stat'ed.
FileStamp file_stamp(const std::filesystem::path& absolute);

/// Writes `text` to `file` through `<file>.<pid>.tmp` and a rename (two processes filling the
/// same entry never collide); IoError naming the file on failure.
void write_file_atomically(const std::filesystem::path& file, std::string_view text);

/// The default directory of cache `sub` ("hub", "frames"): $MOUSE_DATA_CACHE/<sub>, else
/// $XDG_CACHE_HOME/mouse-data/<sub>, else $HOME/.cache/mouse-data/<sub> (empty variables count
/// as unset); nullopt when none is set.
std::optional<std::filesystem::path> default_cache_root(std::string_view sub);

/// Removes what killed fills of `entry` left behind: names starting with one of `prefixes` and
/// the `fingerprint.json.<pid>.tmp` of write_file_atomically. Only under the entry's lock, whose
/// holder is the only one filling it, so anything of that form is stale. Errors are ignored.
void remove_entry_litter(const std::filesystem::path& entry,
                         std::initializer_list<std::string_view> prefixes);

/// Whether `path` names no file any more (a stat failing for another reason, say a permission
/// error, does not count).
bool file_is_gone(const std::string& path);

}  // namespace mouse::detail
