// Sizes that come from options, configs and files are checked against what the machine can
// hold before anything is allocated, so a typo such as `--max-action-dim 1000000000` is an
// error naming the option and the bytes, not a bare std::bad_alloc or an 8 GB allocation.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace mouse::detail {

/// Physical memory of the machine in bytes (sysconf), or INT64_MAX when unknown.
int64_t physical_memory_bytes() noexcept;

/// The product of non-negative factors, saturating at INT64_MAX instead of overflowing.
int64_t saturating_product(std::initializer_list<int64_t> factors) noexcept;

/// "8.0 GB" style text for a byte count (decimal units, one decimal).
std::string format_bytes(int64_t bytes);

/// Throws InvalidArgument "`what` needs <bytes>, more than this machine's memory (<bytes>)"
/// when `bytes` exceeds physical memory.
void check_fits_in_memory(int64_t bytes, std::string_view what);

}  // namespace mouse::detail
