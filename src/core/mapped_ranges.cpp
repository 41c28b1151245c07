#include "core/mapped_ranges.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>

namespace mouse::detail {

namespace {

// Parses a hex or decimal unsigned number at the start of `s`, advancing it; false if none.
bool take_number(std::string_view& s, int base, uint64_t& out) {
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out, base);
  if (ec != std::errc() || ptr == s.data()) return false;
  s.remove_prefix(static_cast<size_t>(ptr - s.data()));
  return true;
}

bool take_char(std::string_view& s, char c) {
  if (s.empty() || s.front() != c) return false;
  s.remove_prefix(1);
  return true;
}

void skip_spaces(std::string_view& s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
}

// One line of /proc/self/maps: "begin-end perms offset major:minor inode   path".
bool parse_line(std::string_view s, FileMapping& m) {
  uint64_t begin = 0, end = 0, offset = 0, major = 0, minor = 0, inode = 0;
  if (!take_number(s, 16, begin) || !take_char(s, '-') || !take_number(s, 16, end)) return false;
  skip_spaces(s);
  if (s.size() < 4) return false;
  const std::string_view perms = s.substr(0, 4);
  s.remove_prefix(4);
  skip_spaces(s);
  if (!take_number(s, 16, offset)) return false;
  skip_spaces(s);
  if (!take_number(s, 16, major) || !take_char(s, ':') || !take_number(s, 16, minor)) return false;
  skip_spaces(s);
  if (!take_number(s, 10, inode)) return false;
  skip_spaces(s);
  if (inode == 0 || s.empty() || s.front() != '/') return false;  // not a file
  m.begin = static_cast<uintptr_t>(begin);
  m.end = static_cast<uintptr_t>(end);
  m.file_offset = offset;
  m.device = major << 32 | minor;
  m.inode = inode;
  m.path = std::string(s);
  m.shared = perms[3] == 's';
  m.writable = perms[1] == 'w';
  return m.begin < m.end;
}

}  // namespace

ProcessMappings ProcessMappings::parse(std::string_view maps) {
  ProcessMappings out;
  while (!maps.empty()) {
    const size_t eol = maps.find('\n');
    const std::string_view line = maps.substr(0, eol);
    maps.remove_prefix(eol == std::string_view::npos ? maps.size() : eol + 1);
    FileMapping m;
    if (!parse_line(line, m)) continue;
    if (!out.mappings_.empty()) {
      // The kernel splits one mmap into several lines where advice or protection differs in
      // part of it; a range read later may span the split.
      FileMapping& last = out.mappings_.back();
      if (last.end == m.begin && last.inode == m.inode && last.device == m.device &&
          last.shared == m.shared && last.file_offset + (last.end - last.begin) == m.file_offset) {
        last.end = m.end;
        last.writable = last.writable || m.writable;
        continue;
      }
    }
    out.mappings_.push_back(std::move(m));
  }
  std::sort(out.mappings_.begin(), out.mappings_.end(),
            [](const FileMapping& a, const FileMapping& b) { return a.begin < b.begin; });
  return out;
}

ProcessMappings ProcessMappings::read() {
  std::ifstream in("/proc/self/maps");
  if (!in) return {};
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str());
}

const FileMapping* ProcessMappings::find(const void* p, uint64_t n) const noexcept {
  const auto a = reinterpret_cast<uintptr_t>(p);
  auto it = std::upper_bound(mappings_.begin(), mappings_.end(), a,
                             [](uintptr_t x, const FileMapping& m) { return x < m.begin; });
  if (it == mappings_.begin()) return nullptr;
  --it;
  if (a >= it->end || n > it->end - a) return nullptr;
  return &*it;
}

PageReleaser::PageReleaser() {
  const long page = ::sysconf(_SC_PAGESIZE);
  if (page > 0) page_ = static_cast<uint64_t>(page);
  pagemap_ = ::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
}

PageReleaser::~PageReleaser() {
  if (pagemap_ >= 0) ::close(pagemap_);
}

void PageReleaser::note(const void* p, uint64_t n) {
  if (n == 0) return;
  const auto a = reinterpret_cast<uintptr_t>(p);
  uintptr_t begin = a / page_ * page_;
  const uintptr_t end = (a + n + page_ - 1) / page_ * page_;
  // Ranges mostly arrive in address order (the buffers of a file's record batches): only the
  // part past the last range is new.
  if (!ranges_.empty() && begin >= ranges_.back().begin && begin < ranges_.back().end) {
    begin = ranges_.back().end;
    if (begin >= end) return;
    ranges_.back().end = end;
  } else {
    ranges_.push_back({begin, end});
  }
  note_range(begin, end);
}

void PageReleaser::note_range(uintptr_t begin, uintptr_t end) {
  const auto add_run = [&](uintptr_t b, uintptr_t e) {
    if (!drop_.empty() && drop_.back().end == b) {
      drop_.back().end = e;
    } else {
      drop_.push_back({b, e});
    }
  };
  const uint64_t pages = (end - begin) / page_;
  if (pagemap_ >= 0) {
    // One 64-bit entry per page; bit 63: present in this process's page table.
    constexpr uint64_t kChunk = 4096;
    uint64_t entries[kChunk];
    for (uint64_t done = 0; done < pages;) {
      const uint64_t want = std::min(kChunk, pages - done);
      const auto at = static_cast<off_t>((begin / page_ + done) * sizeof(uint64_t));
      const ssize_t got = ::pread(pagemap_, entries, want * sizeof(uint64_t), at);
      if (got <= 0) {  // unreadable after all: keep the rest
        ::close(pagemap_);
        pagemap_ = -1;
        return;
      }
      const uint64_t count = static_cast<uint64_t>(got) / sizeof(uint64_t);
      for (uint64_t i = 0; i < count; ++i) {
        if ((entries[i] >> 63) == 0) {
          const uintptr_t b = begin + (done + i) * page_;
          add_run(b, b + page_);
        }
      }
      done += count;
    }
    return;
  }
  // No pagemap: drop the range only when none of it is even in the page cache.
  std::vector<unsigned char> resident(static_cast<size_t>(pages));
  if (::mincore(reinterpret_cast<void*>(begin), end - begin, resident.data()) != 0) return;
  if (std::all_of(resident.begin(), resident.end(), [](unsigned char c) { return (c & 1) == 0; })) {
    add_run(begin, end);
  }
}

uint64_t PageReleaser::release() noexcept {
  uint64_t dropped = 0;
  for (const Range& r : drop_) {
    if (::madvise(reinterpret_cast<void*>(r.begin), r.end - r.begin, MADV_DONTNEED) == 0) {
      dropped += r.end - r.begin;
    }
  }
  drop_.clear();
  ranges_.clear();
  return dropped;
}

}  // namespace mouse::detail
