// How much memory a size would take and whether this process can have it. Sizes that come from
// options, configs and files are checked with these before anything is allocated, so a typo
// such as `--max-action-dim 1000000000` is an error naming the option and the bytes, not a bare
// std::bad_alloc, an 8 GB allocation or a visit from the OOM killer.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace mouse {

/// Memory this process can still take, in bytes, read now: the smaller of the kernel's
/// estimate (`MemAvailable` plus `SwapFree` in /proc/meminfo) and the headroom under every
/// cgroup memory limit of this process, from its own cgroup up to the root (cgroup v2
/// `memory.max` − `memory.current`, v1 `memory.limit_in_bytes` − `memory.usage_in_bytes`; the
/// page cache a cgroup can drop, `inactive_file`, counts as headroom). Physical memory when
/// none of these can be read. Reads a few small files: for checks made once, not per batch.
int64_t available_memory_bytes();

/// Physical memory of the machine in bytes (sysconf), or INT64_MAX when unknown.
int64_t physical_memory_bytes() noexcept;

/// The product of non-negative factors, saturating at INT64_MAX instead of overflowing; 0 if
/// any factor is <= 0.
int64_t saturating_product(std::initializer_list<int64_t> factors) noexcept;

/// The sum of the non-negative terms (negative ones are skipped), saturating at INT64_MAX.
int64_t saturating_sum(std::initializer_list<int64_t> terms) noexcept;

/// "8.0 GB" style text for a byte count (decimal units, one decimal).
std::string format_bytes(int64_t bytes);

/// Throws InvalidArgument "`what` needs 8.0 GB (8000000000 bytes), more than the memory
/// available (3.1 GB of 24.7 GB)" when `bytes` exceeds available_memory_bytes().
void check_fits_in_memory(int64_t bytes, std::string_view what);

}  // namespace mouse
