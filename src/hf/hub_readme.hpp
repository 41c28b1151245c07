// The README.md that `push_to_hub` writes: YAML front matter with dataset_info and configs.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace mouse::detail {

/// One split as the README's dataset_info lists it.
struct HubSplitInfo {
  std::string name;
  int64_t num_bytes = 0;
  int64_t num_examples = 0;
};

/// The Hub's YAML form of a `features` JSON object, as `datasets` writes it
/// (Features._to_yaml_list): a list of {name, ...} where a Value is `dtype: D`, a
/// Sequence / List / LargeList is `sequence` / `list` / `large_list` holding the item (a bare
/// dtype for a Value item, the member list for a dict item) plus `length` when fixed, a dict is
/// `struct: [...]`, ClassLabel is `dtype: {class_label: {names: {'0': ...}}}`, Image is
/// `dtype: image` and other feature types `dtype: <snake_case type>`.
nlohmann::ordered_json features_to_yaml_list(const nlohmann::ordered_json& features);

/// The inverse of features_to_yaml_list, as datasets' Features._from_yaml_list: a YAML features
/// list (converted to JSON, scalars as strings or numbers) back to the features JSON object
/// (`_type` form). A `dtype` string that is an Arrow type name is a Value, any other (image,
/// audio, ...) the feature type of that name in CamelCase; `class_label` names keyed by
/// '0', '1', ... become the ordered list. FormatError naming `source` for anything malformed.
nlohmann::ordered_json features_from_yaml_list(const nlohmann::ordered_json& list,
                                               const std::string& source);

/// One config of a multi-config README.
struct HubReadmeConfig {
  /// config_name.
  std::string name;
  /// Directory of its shards, relative to the layout root ("data" or the config name).
  std::string dir;
  /// Features JSON object shared by its splits.
  nlohmann::ordered_json features;
  std::vector<HubSplitInfo> splits;
  int64_t download_size = 0;
};

/// The README.md text for several configs: dataset_info a list with one entry per config
/// (config_name first, as the Hub writes it), configs one entry each whose data_files map
/// every split to `<dir>/<split>-*`. With a single config whose dir is "data", exactly
/// hub_readme(...) of that config.
std::string hub_readme(const std::vector<HubReadmeConfig>& configs);

/// The whole README.md text: front matter with dataset_info (features, splits, download_size,
/// dataset_size) and configs (`config_name` with data_files `data/<split>-*`), then a short
/// body. `features` is the features JSON object shared by the splits.
std::string hub_readme(const nlohmann::ordered_json& features,
                       const std::vector<HubSplitInfo>& splits, int64_t download_size,
                       const std::string& config_name);

}  // namespace mouse::detail
