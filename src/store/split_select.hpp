// Split selection for DatasetStore::from_dataset on a DatasetDict (SPEC §4).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mouse::detail {

/// Python fnmatch.fnmatchcase semantics: `*` any run (including '/'), `?` one character,
/// `[seq]` / `[!seq]` a set with ranges (`[^x]` is the set {'^', 'x'}; reversed ranges match
/// nothing; an unclosed '[' is literal), no escapes, case-sensitive.
bool fnmatch_case(std::string_view name, std::string_view pattern) noexcept;

/// The splits of `available` (in its order) that `splits` / `split_pattern` select:
/// exact names (in the order given; an unknown name is KeyError listing the available splits),
/// or every split matching any pattern (none matching is KeyError listing them), or, with
/// neither, all of them. Both given, or an empty list, is InvalidArgument.
std::vector<std::string> select_splits(const std::vector<std::string>& available,
                                       const std::optional<std::vector<std::string>>& splits,
                                       const std::optional<std::vector<std::string>>& split_pattern);

}  // namespace mouse::detail
