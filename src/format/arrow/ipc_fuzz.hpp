// Fuzz body for the Arrow IPC reader (driven by fuzz/arrow_ipc_fuzz.cpp and by the corpus
// regression tests).
#pragma once

#include <cstddef>
#include <cstdint>

namespace mouse::detail {

/// Reads `data` as Arrow IPC with full validation, touching every value of the result.
/// Swallows mouse::Error (bad input is expected); anything else propagates. Returns 0.
int fuzz_ipc(const uint8_t* data, size_t size);

}  // namespace mouse::detail
