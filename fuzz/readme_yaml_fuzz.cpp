// libFuzzer entry for the README front matter reader; the body is mouse::detail::fuzz_readme_yaml.
#include "hf/metadata_fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return mouse::detail::fuzz_readme_yaml(data, size);
}
