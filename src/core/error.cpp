#include "mouse/error.hpp"

#include <fmt/format.h>

namespace mouse {

namespace {
std::string format_message(const std::string& source, int64_t offset, const std::string& what) {
  if (source.empty()) return what;
  if (offset < 0) return fmt::format("{}: {}", source, what);
  return fmt::format("{}: at byte {}: {}", source, offset, what);
}
}  // namespace

FormatError::FormatError(std::string source, int64_t offset, const std::string& what)
    : Error(format_message(source, offset, what)), source_(std::move(source)), offset_(offset) {}

}  // namespace mouse
