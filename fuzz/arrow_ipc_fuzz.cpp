// libFuzzer entry for the Arrow IPC reader; the body is mouse::detail::fuzz_ipc.
#include "format/arrow/ipc_fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return mouse::detail::fuzz_ipc(data, size);
}
