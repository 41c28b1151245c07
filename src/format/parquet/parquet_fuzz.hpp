// Fuzz body for the Parquet reader (driven by fuzz/parquet_fuzz.cpp and by the corpus
// regression test).
#pragma once

#include <cstddef>
#include <cstdint>

namespace mouse::detail {

/// Reads `data` as a Parquet file (every column it can represent, checksums on and off), then
/// touches every value of the result. Swallows mouse::Error (bad input is expected); anything
/// else propagates. Returns 0.
int fuzz_parquet(const uint8_t* data, size_t size);

}  // namespace mouse::detail
