#include "core/checked_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <fmt/format.h>
#include <vector>

#include "mouse/error.hpp"

namespace mouse::detail {

namespace {

const char* kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

}  // namespace

int open_regular_file(const std::filesystem::path& path, struct stat* st) {
  // O_NONBLOCK: opening a FIFO without a writer would otherwise wait forever. O_NOCTTY: a
  // terminal device must not become our controlling terminal before fstat refuses it.
  int fd = -1;
  do {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    const int err = errno;
    if (err == ELOOP) {
      throw IoError(fmt::format("cannot open {}: too many levels of symbolic links", path.string()));
    }
    throw IoError(fmt::format("cannot open {}: {}", path.string(), std::strerror(err)));
  }
  if (::fstat(fd, st) != 0) {
    const int err = errno;
    ::close(fd);
    throw IoError(fmt::format("cannot stat {}: {}", path.string(), std::strerror(err)));
  }
  if (!S_ISREG(st->st_mode)) {
    ::close(fd);
    const char* kind = kind_of(st->st_mode);
    throw IoError(fmt::format("cannot read {}: {}{}", path.string(),
                              kind[0] == 'a' ? "is " : "", kind));
  }
  // Reads of a regular file never block anyway; clear the flag so nothing relies on it.
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) (void)::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  return fd;
}

std::string read_small_file(const std::filesystem::path& path, int64_t max_bytes,
                            std::string_view what) {
  struct stat st {};
  const int fd = open_regular_file(path, &st);
  if (st.st_size > max_bytes) {
    ::close(fd);
    throw IoError(fmt::format("cannot read {} {}: {} bytes, more than the limit of {} bytes", what,
                              path.string(), static_cast<int64_t>(st.st_size), max_bytes));
  }
  std::string text;
  text.reserve(static_cast<size_t>(st.st_size));
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      throw IoError(fmt::format("cannot read {}: {}", path.string(), std::strerror(err)));
    }
    if (n == 0) break;
    // The file may grow while we read it: the cap holds for what we keep, too.
    if (static_cast<int64_t>(text.size()) + n > max_bytes) {
      ::close(fd);
      throw IoError(fmt::format("cannot read {} {}: more than the limit of {} bytes", what,
                                path.string(), max_bytes));
    }
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return text;
}

bool resolves_inside(const std::filesystem::path& path, const std::filesystem::path& root) {
  std::error_code ec;
  const std::filesystem::path r = std::filesystem::canonical(root, ec);
  if (ec) return false;
  const std::filesystem::path p = std::filesystem::weakly_canonical(path, ec);
  if (ec) return false;
  auto pi = p.begin();
  for (auto ri = r.begin(); ri != r.end(); ++ri, ++pi) {
    if (ri->empty()) continue;  // the trailing "" of a path ending in a separator
    if (pi == p.end() || *pi != *ri) return false;
  }
  return true;
}

std::string excerpt(std::string_view text, size_t max) {
  std::string out;
  const size_t n = std::min(text.size(), max);
  out.reserve(n + 32);
  for (size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  if (text.size() > max) out += fmt::format("... ({} characters)", text.size());
  return out;
}

int64_t json_too_deep_at(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"': in_string = true; break;
      case '[':
      case '{':
        if (++depth > max_depth) return static_cast<int64_t>(i);
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;
        break;
      default: break;
    }
  }
  return -1;
}

namespace {

// Whether the line (from `b`, comment stripped by the caller) ends in a block scalar header
// (`|`, `>`, with optional indentation/chomping indicators).
bool ends_block_scalar_header(std::string_view line) {
  while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) {
    line.remove_suffix(1);
  }
  while (!line.empty() && (line.back() == '+' || line.back() == '-' ||
                           (line.back() >= '0' && line.back() <= '9'))) {
    line.remove_suffix(1);
  }
  if (line.empty() || (line.back() != '|' && line.back() != '>')) return false;
  line.remove_suffix(1);
  return line.empty() || line.back() == ' ' || line.back() == ':' || line.back() == '-';
}

}  // namespace

int64_t yaml_too_deep_at(std::string_view text, int max_depth) {
  std::vector<size_t> indents;  // open block levels
  int flow = 0;                 // open flow brackets, carried across lines
  int64_t line_no = 0;
  constexpr size_t kNone = static_cast<size_t>(-1);
  size_t block_scalar_parent = kNone;  // inside a block scalar: skip lines indented deeper
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    size_t indent = 0;
    while (indent < line.size() && line[indent] == ' ') ++indent;
    const bool blank = indent == line.size() || line[indent] == '#' || line[indent] == '\r';
    if (block_scalar_parent != kNone) {
      if (blank || indent > block_scalar_parent) continue;
      block_scalar_parent = kNone;
    }
    if (blank) continue;
    int depth = flow;
    if (flow == 0) {
      while (!indents.empty() && indents.back() > indent) indents.pop_back();
      if (indents.empty() || indents.back() < indent) indents.push_back(indent);
      depth += static_cast<int>(indents.size());
    }
    // Walk the line: leading "- " / "? " entries nest; flow brackets open where a value starts.
    size_t i = indent;
    bool value_start = true;
    char prev = ' ';
    size_t comment_at = line.size();
    for (; i < line.size(); ++i) {
      const char c = line[i];
      if (c == '\'' || c == '"') {
        // Quoted scalar: skip to its end on this line ('' and \" escapes).
        const char q = c;
        for (++i; i < line.size(); ++i) {
          if (q == '"' && line[i] == '\\') {
            ++i;
          } else if (line[i] == q) {
            if (q == '\'' && i + 1 < line.size() && line[i + 1] == '\'') {
              ++i;
            } else {
              break;
            }
          }
        }
        value_start = false;
        prev = q;
        continue;
      }
      if (c == '#' && (prev == ' ' || prev == '\t')) {
        comment_at = i;
        break;
      }
      if ((c == '-' || c == '?') && value_start && flow == 0 &&
          (i + 1 == line.size() || line[i + 1] == ' ')) {
        ++depth;
      } else if ((c == '[' || c == '{') && (value_start || flow > 0)) {
        ++flow;
        ++depth;
      } else if ((c == ']' || c == '}') && flow > 0) {
        --flow;
      } else if (c == ':' && (i + 1 == line.size() || line[i + 1] == ' ')) {
        value_start = true;
        prev = c;
        continue;
      } else if (c == ',' && flow > 0) {
        value_start = true;
        prev = c;
        continue;
      } else if (c != ' ' && c != '\t') {
        value_start = false;
      }
      if (depth > max_depth) return line_no;
      prev = c;
    }
    if (depth > max_depth) return line_no;
    if (flow == 0 && ends_block_scalar_header(line.substr(0, comment_at))) {
      block_scalar_parent = indent;
    }
  }
  return -1;
}

}  // namespace mouse::detail
