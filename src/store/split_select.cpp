#include "store/split_select.hpp"

#include <fmt/format.h>

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

namespace {

// One bracket expression `[...]` of a Python fnmatch pattern, read as fnmatch.translate does:
// a leading '!' negates ('^' is an ordinary character), a ']' right after '[' or '[!' is a member,
// `a-z` is a range (one whose ends are reversed matches nothing), a '-' first or last is itself,
// '\\' is an ordinary character. `i` indexes the '['. Returns the index after the closing ']'
// and sets `matched` to whether `c` is in the class, or returns npos when the '[' is not closed
// (Python then matches the '[' literally).
size_t match_class(std::string_view p, size_t i, unsigned char c, bool& matched) noexcept {
  size_t j = i + 1;
  if (j < p.size() && p[j] == '!') ++j;
  if (j < p.size() && p[j] == ']') ++j;
  while (j < p.size() && p[j] != ']') ++j;
  if (j >= p.size()) return std::string_view::npos;
  size_t k = i + 1;
  const bool negated = p[k] == '!';
  if (negated) ++k;
  bool in = false;
  while (k < j) {
    const auto lo = static_cast<unsigned char>(p[k]);
    if (k + 2 < j && p[k + 1] == '-') {
      in = in || (lo <= c && c <= static_cast<unsigned char>(p[k + 2]));
      k += 3;
    } else {
      in = in || lo == c;
      ++k;
    }
  }
  matched = in != negated;
  return j + 1;
}

}  // namespace

bool fnmatch_case(std::string_view name, std::string_view pattern) noexcept {
  // Python's fnmatch.fnmatchcase: '*' any run (crossing '/'), '?' one character, classes as
  // above, everything else literal; the whole name must match. Greedy with one backtrack point
  // (the last '*'), which is exact for these patterns.
  size_t n = 0, p = 0;
  size_t star_p = std::string_view::npos, star_n = 0;
  while (n < name.size()) {
    bool step = false;
    if (p < pattern.size()) {
      const char c = pattern[p];
      if (c == '*') {
        star_p = p++;
        star_n = n;
        continue;
      }
      if (c == '?') {
        step = true;
        ++p;
      } else if (c == '[') {
        bool in = false;
        const size_t end = match_class(pattern, p, static_cast<unsigned char>(name[n]), in);
        if (end == std::string_view::npos) {
          step = name[n] == '[';
          if (step) ++p;
        } else if (in) {
          step = true;
          p = end;
        }
      } else if (c == name[n]) {
        step = true;
        ++p;
      }
    }
    if (step) {
      ++n;
    } else if (star_p != std::string_view::npos) {
      p = star_p + 1;
      n = ++star_n;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
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
