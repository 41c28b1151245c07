#include "core/memory_limit.hpp"

#include <unistd.h>

#include <fmt/format.h>
#include <limits>

#include "mouse/error.hpp"

namespace mouse::detail {

int64_t physical_memory_bytes() noexcept {
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page = ::sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return std::numeric_limits<int64_t>::max();
  return saturating_product({pages, page});
}

int64_t saturating_product(std::initializer_list<int64_t> factors) noexcept {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  int64_t out = 1;
  for (int64_t f : factors) {
    if (f <= 0) return 0;
    if (out > kMax / f) return kMax;
    out *= f;
  }
  return out;
}

std::string format_bytes(int64_t bytes) {
  if (bytes == std::numeric_limits<int64_t>::max()) return "more than 9.2 EB";
  const double b = static_cast<double>(bytes);
  if (b >= 1e12) return fmt::format("{:.1f} TB", b / 1e12);
  if (b >= 1e9) return fmt::format("{:.1f} GB", b / 1e9);
  if (b >= 1e6) return fmt::format("{:.1f} MB", b / 1e6);
  if (b >= 1e3) return fmt::format("{:.1f} kB", b / 1e3);
  return fmt::format("{} bytes", bytes);
}

void check_fits_in_memory(int64_t bytes, std::string_view what) {
  const int64_t limit = physical_memory_bytes();
  if (bytes > limit) {
    throw InvalidArgument(fmt::format("{} needs {} ({} bytes), more than this machine's memory ({})",
                                      what, format_bytes(bytes), bytes, format_bytes(limit)));
  }
}

}  // namespace mouse::detail
