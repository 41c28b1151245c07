// The readings behind mouse/memory.hpp, split out so tests can feed them text, and the cheap
// physical-memory bound of every allocation.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mouse/memory.hpp"

namespace mouse::detail {

/// `MemAvailable` plus `SwapFree` of /proc/meminfo text, in bytes; nullopt without MemAvailable.
std::optional<int64_t> meminfo_available(std::string_view meminfo);

/// A process's cgroup of one hierarchy, from /proc/self/cgroup text.
struct CgroupPath {
  bool v2 = false;   ///< the unified hierarchy ("0::/path"), else the v1 memory controller
  std::string path;  ///< "/a/b", "/" for the root
};

/// The cgroups of /proc/self/cgroup text that can limit memory: the v2 entry and the v1
/// "memory" controller's, when present.
std::vector<CgroupPath> memory_cgroups(std::string_view proc_self_cgroup);

/// The headroom under one cgroup's limit from its files' text: `limit` − (`usage` −
/// `inactive_file` of `stat`), clamped at 0; nullopt when there is no limit ("max", or v1's
/// unlimited value above 2^62) or the text does not parse.
std::optional<int64_t> cgroup_headroom(std::string_view limit, std::string_view usage,
                                       std::string_view stat);

/// A process-wide allowance of bytes, taken and given back by many threads.
class ByteBudget {
 public:
  explicit ByteBudget(int64_t limit) noexcept : limit_(limit) {}
  /// Takes `bytes` if they fit in what is left (true), else takes nothing (false).
  bool take(int64_t bytes) noexcept;
  /// Gives back `bytes` taken before.
  void give_back(int64_t bytes) noexcept { used_.fetch_sub(bytes); }
  int64_t used() const noexcept { return used_.load(); }

 private:
  int64_t limit_;
  std::atomic<int64_t> used_{0};
};

/// The budget of mapped file bytes that get huge pages (MappedFile): half the memory available
/// when the first file is mapped. Past it a mapping keeps 4 KB pages, because the kernel reads a
/// whole 2 MB page per fault of a huge-page file mapping: random windows over data larger than
/// memory would read 512 times the bytes they use.
ByteBudget& huge_page_budget();

/// Throws InvalidArgument naming `what` when `bytes` exceeds physical memory. Cheap (cached
/// sysconf): the sanity bound of every allocation, where available_memory_bytes() is too slow.
void check_below_physical_memory(int64_t bytes, std::string_view what);

}  // namespace mouse::detail
