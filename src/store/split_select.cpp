#include "store/split_select.hpp"

#include <fmt/format.h>
#include <fnmatch.h>

#include <algorithm>

#include "mouse/error.hpp"

namespace mouse::detail {

namespace {

std::string quoted_list(const std::vector<std::string>& names) {
  std::string out = "[";
  for (size_t i = 0; i < names.size(); ++i) {
    if (i) out += ", ";
    out += fmt::format("\"{}\"", names[i]);
  }
  return out + "]";
}

}  // namespace

bool fnmatch_case(std::string_view name, std::string_view pattern) noexcept {
  // POSIX fnmatch without FNM_PATHNAME / FNM_PERIOD and with FNM_NOESCAPE matches what Python's
  // fnmatch translates patterns to: '*' crosses '/', a leading '.' is ordinary, '\' is literal.
  const std::string n(name), p(pattern);
  return ::fnmatch(p.c_str(), n.c_str(), FNM_NOESCAPE) == 0;
}

std::vector<std::string> select_splits(const std::vector<std::string>& available,
                                       const std::optional<std::vector<std::string>>& splits,
                                       const std::optional<std::vector<std::string>>& split_pattern) {
  if (splits && split_pattern) {
    throw InvalidArgument(
        "from_dataset: give either splits (exact names) or split_pattern (globs), not both");
  }
  if (splits) {
    if (splits->empty()) {
      throw InvalidArgument(fmt::format(
          "from_dataset: splits is an empty list; expected names from {}", quoted_list(available)));
    }
    for (const auto& s : *splits) {
      if (std::find(available.begin(), available.end(), s) == available.end()) {
        throw KeyError(fmt::format("from_dataset: split \"{}\" not found; available splits: {}", s,
                                   quoted_list(available)));
      }
    }
    return *splits;
  }
  if (split_pattern) {
    if (split_pattern->empty()) {
      throw InvalidArgument(fmt::format(
          "from_dataset: split_pattern is an empty list; expected globs over {}",
          quoted_list(available)));
    }
    std::vector<std::string> out;
    for (const auto& name : available) {
      for (const auto& p : *split_pattern) {
        if (fnmatch_case(name, p)) {
          out.push_back(name);
          break;
        }
      }
    }
    if (out.empty()) {
      throw KeyError(fmt::format("from_dataset: split_pattern {} matches no split; available "
                                 "splits: {}",
                                 quoted_list(*split_pattern), quoted_list(available)));
    }
    return out;
  }
  return available;
}

}  // namespace mouse::detail
