// Which Parquet files make up which split of a Hub-layout directory: README front matter and
// its `configs`, glob patterns, and the file-name conventions used when there is no README.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
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

/// What a Hub-layout directory holds for one config.
struct HubLayout {
  HubSplitFiles splits;
  /// The config's features from the README's `dataset_info` (features JSON, `_type` form), if
  /// it lists them: `dataset_info` a mapping (one config), or a list whose entry has the
  /// chosen `config_name` (else "default" when no config was chosen).
  std::optional<nlohmann::ordered_json> readme_features;
  /// The README.md the features come from.
  std::filesystem::path readme;
};

/// Resolves the splits of the Hub layout at `dir` and the README features (see
/// load_hub_layout). Throws IoError, FormatError, KeyError as documented there.
HubLayout resolve_hub_layout(const std::filesystem::path& dir,
                             const std::optional<std::string>& config_name);

/// The features a README's text gives its default config, parsed as resolve_hub_layout parses
/// them (front matter, YAML, `configs` choice and path checks, `dataset_info`), without touching
/// the file system. For the fuzz body; throws what resolve_hub_layout throws.
std::optional<nlohmann::ordered_json> readme_features_from_text(std::string_view text,
                                                                const std::string& source);

/// resolve_hub_layout(dir, config_name).splits.
HubSplitFiles resolve_hub_files(const std::filesystem::path& dir,
                                const std::optional<std::string>& config_name);

/// Every data_files path pattern of every config in a README's front matter, in order of first
/// appearance, duplicates dropped (a layout served without a listing names its files this
/// way). Empty without front matter or configs. FormatError naming `source` as resolve_hub_layout.
std::vector<std::string> readme_data_file_patterns(std::string_view text, const std::string& source);
/// The configs of the Hub layout at `dir` (see mouse::hub_config_names).
std::vector<std::string> layout_config_names(const std::filesystem::path& dir);

}  // namespace mouse::detail
