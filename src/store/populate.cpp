#include "store/populate.hpp"

#include <fmt/format.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include "mouse/memory.hpp"

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22  // Linux 5.14; older kernels answer EINVAL
#endif

namespace mouse::detail {
namespace {

void add_buffers(const arrow::ArrayData& a, std::vector<ByteRange>& out) {
  for (const Buffer& b : a.buffers) {
    if (b.size() > 0) {
      const auto p = reinterpret_cast<uintptr_t>(b.data());
      out.push_back({p, p + static_cast<uintptr_t>(b.size())});
    }
  }
  for (const auto& c : a.children) add_buffers(*c, out);
}

// One read per page: maps it in where MADV_POPULATE_READ is missing.
void touch_pages(uintptr_t begin, uintptr_t end, uintptr_t page) {
  for (uintptr_t p = begin; p < end; p += page) (void)*reinterpret_cast<const volatile uint8_t*>(p);
}

}  // namespace

PopulateOutcome populate_ranges(std::vector<ByteRange> ranges, int64_t available,
                                const std::string& label) {
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  for (ByteRange& r : ranges) {
    r.begin &= ~(page - 1);
    r.end = (r.end + page - 1) & ~(page - 1);
  }
  std::sort(ranges.begin(), ranges.end(),
            [](const ByteRange& a, const ByteRange& b) { return a.begin < b.begin; });
  std::vector<ByteRange> merged;
  for (const ByteRange& r : ranges) {
    if (!merged.empty() && r.begin <= merged.back().end) {
      merged.back().end = std::max(merged.back().end, r.end);
    } else {
      merged.push_back(r);
    }
  }
  PopulateOutcome out;
  for (const ByteRange& r : merged) out.bytes += static_cast<int64_t>(r.end - r.begin);
  if (out.bytes > available / 10 * 9) {
    std::fprintf(stderr,
                 "mouse-data: populate: %s maps %s, more than 90%% of the %s of memory "
                 "available; its pages are faulted in on use instead\n",
                 label.c_str(), format_bytes(out.bytes).c_str(),
                 format_bytes(available).c_str());
    return out;
  }
  bool have_populate = true;
  for (const ByteRange& r : merged) {
    void* p = reinterpret_cast<void*>(r.begin);
    if (have_populate && ::madvise(p, r.end - r.begin, MADV_POPULATE_READ) == 0) continue;
    have_populate = have_populate && errno != EINVAL;
    touch_pages(r.begin, r.end, page);
  }
  out.populated = true;
  return out;
}

PopulateOutcome populate_source(const Dataset& ds, const SchemaPlan& plan,
                                const std::optional<CachedFrames>& frames,
                                const std::string& label) {
  std::vector<ByteRange> ranges;
  for (const auto& batch : ds.batches()) {
    for (const int field : plan.field) {
      if (field < 0 || static_cast<size_t>(field) >= batch.columns.size()) continue;
      add_buffers(*batch.columns[static_cast<size_t>(field)], ranges);
    }
  }
  if (frames && frames->file && frames->file->size() > 0) {
    const Buffer whole = frames->file->buffer();
    const auto p = reinterpret_cast<uintptr_t>(whole.data());
    ranges.push_back({p, p + static_cast<uintptr_t>(whole.size())});
  }
  return populate_ranges(std::move(ranges), available_memory_bytes(), label);
}

}  // namespace mouse::detail
