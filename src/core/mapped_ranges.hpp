// Which file a byte range of this process's memory is mapped from, and giving back the pages a
// one-off pass over mapped data faulted in. A pass that reads a whole memory-mapped column (the
// source value checks of the store) must not leave the process holding every page it touched:
// the zero-copy promise is that loading a dataset does not grow resident memory with its rows.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mouse::detail {

/// One file mapping of this process (a line of /proc/self/maps, adjacent lines of the same file
/// merged).
struct FileMapping {
  uintptr_t begin = 0;
  uintptr_t end = 0;
  uint64_t file_offset = 0;  ///< offset in the file of `begin`
  uint64_t device = 0;       ///< major << 32 | minor, as /proc/self/maps prints it
  uint64_t inode = 0;
  std::string path;  ///< as the kernel prints it; " (deleted)" when the file is gone
  bool shared = false;
  bool writable = false;

  /// Whether the kernel can refill its pages from the file after MADV_DONTNEED without losing
  /// anything: shared, or private and never writable (so no page was copied on write).
  bool droppable() const noexcept { return shared || !writable; }
};

/// The file mappings of this process at one moment, sorted by address. Mappings that are not
/// of a file (heap, stacks, anonymous memory) are left out.
class ProcessMappings {
 public:
  /// Reads /proc/self/maps (empty when it cannot be read).
  static ProcessMappings read();
  /// Parses /proc/self/maps text (for tests).
  static ProcessMappings parse(std::string_view maps);

  /// The mapping holding all of [p, p + n), or nullptr.
  const FileMapping* find(const void* p, uint64_t n) const noexcept;
  const std::vector<FileMapping>& mappings() const noexcept { return mappings_; }

 private:
  std::vector<FileMapping> mappings_;
};

/// Gives back pages of file mappings that a pass faulted in: note() the ranges before reading
/// them, release() after. Pages this process had mapped when noted stay (someone was using
/// them); the others are dropped with MADV_DONTNEED (their contents come back from the file on
/// the next access). Residency is read from /proc/self/pagemap; where that cannot be read, a
/// range counts as not mapped only when none of its pages is in the page cache (mincore), and
/// is otherwise kept whole. Only pass ranges of droppable() mappings. Not thread-safe.
class PageReleaser {
 public:
  PageReleaser();
  ~PageReleaser();
  PageReleaser(const PageReleaser&) = delete;
  PageReleaser& operator=(const PageReleaser&) = delete;

  /// Records the pages of [p, p + n) (widened to whole pages) and which of them are mapped now.
  void note(const void* p, uint64_t n);
  /// Drops the noted pages that were not mapped when noted, and forgets every noted range.
  /// Returns the bytes dropped.
  uint64_t release() noexcept;

 private:
  struct Range {
    uintptr_t begin;
    uintptr_t end;
  };
  void note_range(uintptr_t begin, uintptr_t end);
  int pagemap_ = -1;
  uint64_t page_ = 4096;
  std::vector<Range> ranges_;
  std::vector<Range> drop_;  ///< runs of pages found unmapped, in the order noted
};

}  // namespace mouse::detail
