// What the CPU running us can do, for kernels with a faster path on newer x86 cores (compiled
// with a target attribute, chosen at run time, so the build itself stays portable).
#pragma once

namespace mouse::detail {

/// Whether this CPU runs AVX2 (false on every non-x86 build). Asked once; thread-safe.
bool cpu_has_avx2() noexcept;

}  // namespace mouse::detail
