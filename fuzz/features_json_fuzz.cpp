// libFuzzer entry for the features / state JSON readers; the body is mouse::detail::fuzz_features_json.
#include "hf/metadata_fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return mouse::detail::fuzz_features_json(data, size);
}
