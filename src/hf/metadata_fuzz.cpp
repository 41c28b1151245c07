// The metadata fuzz bodies: every parse must end in a value or a mouse::Error, never a crash,
// a hang or a foreign exception (nlohmann's and yaml-cpp's are converted by our readers).
#include "hf/metadata_fuzz.hpp"

#include <string>
#include <string_view>

#include "hf/dataset_state.hpp"
#include "hf/features.hpp"
#include "hf/hub_files.hpp"
#include "hf/py_json.hpp"
#include "mouse/dataset.hpp"
#include "mouse/error.hpp"

namespace mouse::detail {

namespace {

// Touches what the loaders would: names and descriptions of every column.
size_t describe_all(const Features& f) {
  size_t n = 0;
  for (const auto& name : f.names()) {
    n += f.type_of(name).size();
    n += f.is_supported(name) ? 1 : 0;
  }
  return n + f.to_json().size();
}

}  // namespace

int fuzz_features_json(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const auto j = parse_json(text, "fuzz");
    (void)py_dumps(j);
    (void)describe_all(Features(parse_features(j, "fuzz")));
  } catch (const Error&) {
  }
  try {
    if (auto f = features_from_hf_metadata(std::string(text), "fuzz")) {
      (void)describe_all(Features(f));
    }
  } catch (const Error&) {
  }
  return 0;
}

int fuzz_readme_yaml(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    if (auto features = readme_features_from_text(text, "fuzz/README.md")) {
      (void)describe_all(Features(parse_features(*features, "fuzz/README.md")));
    }
  } catch (const Error&) {
  }
  return 0;
}

}  // namespace mouse::detail
