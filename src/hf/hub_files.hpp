// Which Parquet files make up which split of a Hub-layout directory: README front matter and
// its `configs`, glob patterns, and the file-name conventions used when there is no README.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mouse::detail {

/// Splits in order, each with its shard files in name order.
using HubSplitFiles = std::vector<std::pair<std::string, std::vector<std::filesystem::path>>>;

/// The YAML between the first two `---` lines of a README (the first line must be `---`), or
/// nullopt when there is no front matter. FormatError naming `source` if the closing line is
/// missing.
std::optional<std::string> readme_front_matter(std::string_view text, const std::string& source);

/// Files matching `pattern` (relative to `dir`, '/'-separated; components may use fnmatch
/// wildcards and `**` for any number of directories), sorted, regular files only, entries
/// whose name starts with '.' skipped unless the pattern component does.
std::vector<std::filesystem::path> glob_files(const std::filesystem::path& dir,
                                              std::string_view pattern);

/// The split a shard file name belongs to: the part before `-NNNNN-of-MMMMM`, else before the
/// first '-', else the stem.
std::string split_of_file_name(const std::string& file_name);

/// Resolves the splits of the Hub layout at `dir` (see load_hub_layout). Throws IoError,
/// FormatError, KeyError as documented there.
HubSplitFiles resolve_hub_files(const std::filesystem::path& dir,
                                const std::optional<std::string>& config_name);

}  // namespace mouse::detail
