// libFuzzer entry for the Parquet reader; the body is mouse::detail::fuzz_parquet.
#include "format/parquet/parquet_fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return mouse::detail::fuzz_parquet(data, size);
}
