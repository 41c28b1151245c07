// Fuzz bodies for the metadata readers: features / state JSON and README YAML front matter
// (driven by fuzz/features_json_fuzz.cpp, fuzz/readme_yaml_fuzz.cpp and the regression tests).
#pragma once

#include <cstddef>
#include <cstdint>

namespace mouse::detail {

/// Parses `data` as JSON the way dataset_info.json, state.json, dataset_dict.json and the
/// `huggingface` schema metadata are parsed, then as features (both the plain features object
/// and the {"info": {"features": ...}} form), describing every column. Swallows mouse::Error;
/// anything else propagates. Returns 0.
int fuzz_features_json(const uint8_t* data, size_t size);

/// Reads `data` as a README.md: front matter, YAML, configs and data_files path checks,
/// dataset_info features, then parses those features. Swallows mouse::Error. Returns 0.
int fuzz_readme_yaml(const uint8_t* data, size_t size);

}  // namespace mouse::detail
