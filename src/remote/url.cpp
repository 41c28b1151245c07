#include "remote/url.hpp"

#include <cstdlib>

#include <fmt/format.h>

#include "mouse/error.hpp"

namespace mouse::remote::detail {

std::string percent_encode(std::string_view text, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved || (keep_slash && c == '/')) {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

void check_object_path(std::string_view path, const std::string& root_url) {
  auto fail = [&](std::string_view why) {
    throw InvalidArgument(
        fmt::format("{}: object path \"{}\" {}", root_url, path, why));
  };
  if (path.empty()) fail("is empty");
  if (path.front() == '/') fail("must be relative (no leading '/')");
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view segment = path.substr(start, end - start);
    if (segment.empty()) fail("has an empty segment");
    if (segment == "." || segment == "..") fail("has a '.' or '..' segment");
    start = end + 1;
  }
}

std::string_view trim_slashes(std::string_view path) noexcept {
  while (!path.empty() && path.front() == '/') path.remove_prefix(1);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  return path;
}

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value ? std::string(value) : std::string();
}

}  // namespace mouse::remote::detail
