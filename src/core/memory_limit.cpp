#include "core/memory_limit.hpp"

#include <unistd.h>

#include <charconv>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <limits>
#include <sstream>

#include "mouse/error.hpp"

namespace mouse {

namespace fs = std::filesystem;

namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

// The whole of a small kernel file (proc and sysfs files report size 0), or "" if unreadable.
std::string read_kernel_file(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return {};
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<int64_t> parse_count(std::string_view s) {
  s = trim(s);
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || v < 0) return std::nullopt;
  return v;
}

// The value of the line "`key` <number>..." in `text` (meminfo "Key:  123 kB" or memory.stat
// "key 123"), nullopt if absent.
std::optional<int64_t> keyed_value(std::string_view text, std::string_view key) {
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t eol = std::min(text.find('\n', pos), text.size());
    std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    if (!line.starts_with(key)) continue;
    line.remove_prefix(key.size());
    if (line.empty() || (line.front() != ' ' && line.front() != '\t')) continue;
    line = trim(line);
    const size_t unit = line.find(' ');
    return parse_count(line.substr(0, unit));
  }
  return std::nullopt;
}

}  // namespace

int64_t physical_memory_bytes() noexcept {
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page = ::sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return kMax;
  return saturating_product({pages, page});
}

int64_t saturating_product(std::initializer_list<int64_t> factors) noexcept {
  int64_t out = 1;
  for (int64_t f : factors) {
    if (f <= 0) return 0;
    if (out > kMax / f) return kMax;
    out *= f;
  }
  return out;
}

int64_t saturating_sum(std::initializer_list<int64_t> terms) noexcept {
  int64_t out = 0;
  for (int64_t t : terms) {
    if (t < 0) continue;
    if (out > kMax - t) return kMax;
    out += t;
  }
  return out;
}

std::string format_bytes(int64_t bytes) {
  if (bytes == kMax) return "more than 9.2 EB";
  const double b = static_cast<double>(bytes);
  if (b >= 1e12) return fmt::format("{:.1f} TB", b / 1e12);
  if (b >= 1e9) return fmt::format("{:.1f} GB", b / 1e9);
  if (b >= 1e6) return fmt::format("{:.1f} MB", b / 1e6);
  if (b >= 1e3) return fmt::format("{:.1f} kB", b / 1e3);
  return fmt::format("{} bytes", bytes);
}

int64_t available_memory_bytes() {
  int64_t out = physical_memory_bytes();
  if (auto avail = detail::meminfo_available(read_kernel_file("/proc/meminfo"))) {
    out = std::min(out, *avail);
  }
  for (const detail::CgroupPath& cg : detail::memory_cgroups(read_kernel_file("/proc/self/cgroup"))) {
    const fs::path mount = cg.v2 ? fs::path("/sys/fs/cgroup") : fs::path("/sys/fs/cgroup/memory");
    const char* limit_file = cg.v2 ? "memory.max" : "memory.limit_in_bytes";
    const char* usage_file = cg.v2 ? "memory.current" : "memory.usage_in_bytes";
    // From the process's own cgroup up to the root: any level's limit binds. A cgroup
    // namespace shows the process's cgroup as the mount's root, so levels that do not exist
    // under the mount are skipped.
    fs::path level = fs::path(cg.path).relative_path();
    for (;;) {
      const fs::path dir = mount / level;
      const std::string limit = read_kernel_file(dir / limit_file);
      if (!limit.empty()) {
        if (auto room = detail::cgroup_headroom(limit, read_kernel_file(dir / usage_file),
                                                read_kernel_file(dir / "memory.stat"))) {
          out = std::min(out, *room);
        }
      }
      if (level.empty()) break;
      level = level.parent_path();
    }
  }
  return out;
}

void check_fits_in_memory(int64_t bytes, std::string_view what) {
  // Cheap first: most sizes are far below anything a machine lacks.
  if (bytes <= (int64_t{64} << 20)) return;
  const int64_t available = available_memory_bytes();
  if (bytes > available) {
    throw InvalidArgument(fmt::format(
        "{} needs {} ({} bytes), more than the memory available ({} of {})", what,
        format_bytes(bytes), bytes, format_bytes(available), format_bytes(physical_memory_bytes())));
  }
}

namespace detail {

std::optional<int64_t> meminfo_available(std::string_view meminfo) {
  const auto avail = keyed_value(meminfo, "MemAvailable:");
  if (!avail) return std::nullopt;
  const int64_t swap = keyed_value(meminfo, "SwapFree:").value_or(0);
  return saturating_product({saturating_sum({*avail, swap}), 1024});  // the values are in kB
}

std::vector<CgroupPath> memory_cgroups(std::string_view text) {
  std::vector<CgroupPath> out;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t eol = std::min(text.find('\n', pos), text.size());
    const std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    // "hierarchy-id:controllers:path"; the path may itself hold ':'.
    const size_t a = line.find(':');
    const size_t b = a == std::string_view::npos ? a : line.find(':', a + 1);
    if (b == std::string_view::npos) continue;
    const std::string_view id = line.substr(0, a);
    const std::string_view controllers = line.substr(a + 1, b - a - 1);
    const std::string_view path = line.substr(b + 1);
    if (path.empty() || path.front() != '/') continue;
    if (id == "0" && controllers.empty()) {
      out.push_back({true, std::string(path)});
      continue;
    }
    size_t c = 0;
    while (c <= controllers.size()) {
      const size_t comma = std::min(controllers.find(',', c), controllers.size());
      if (controllers.substr(c, comma - c) == "memory") {
        out.push_back({false, std::string(path)});
        break;
      }
      c = comma + 1;
    }
  }
  return out;
}

std::optional<int64_t> cgroup_headroom(std::string_view limit, std::string_view usage,
                                       std::string_view stat) {
  const auto max = parse_count(limit);
  // "max" (v2) or v1's page-rounded INT64_MAX: no limit at this level.
  if (!max || *max >= (int64_t{1} << 62)) return std::nullopt;
  const auto used = parse_count(usage);
  if (!used) return std::nullopt;
  const int64_t droppable = keyed_value(stat, "inactive_file").value_or(0);
  const int64_t held = std::max<int64_t>(*used - droppable, 0);
  return std::max<int64_t>(*max - held, 0);
}

void check_below_physical_memory(int64_t bytes, std::string_view what) {
  const int64_t limit = physical_memory_bytes();
  if (bytes > limit) {
    throw InvalidArgument(fmt::format("{} needs {} ({} bytes), more than this machine's memory ({})",
                                      what, format_bytes(bytes), bytes, format_bytes(limit)));
  }
}

bool ByteBudget::take(int64_t bytes) noexcept {
  int64_t used = used_.load();
  while (bytes <= limit_ - used) {
    if (used_.compare_exchange_weak(used, used + bytes)) return true;
  }
  return false;
}

ByteBudget& huge_page_budget() {
  static ByteBudget budget(available_memory_bytes() / 2);
  return budget;
}

}  // namespace detail
}  // namespace mouse
