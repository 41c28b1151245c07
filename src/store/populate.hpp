// Pre-faulting the mapped data a store reads (StoreConfig::populate): every page of a source's
// encoded columns (and of its decoded-frame cache) is mapped into the process at from_dataset,
// so that sampling never takes a page fault. Done only when the bytes fit in the memory
// available; otherwise one line on stderr says so and pages are faulted in on use, as without
// the option.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mouse/dataset.hpp"
#include "store/contract.hpp"
#include "store/frame_cache.hpp"

namespace mouse::detail {

/// A byte range of this process's memory.
struct ByteRange {
  uintptr_t begin = 0;
  uintptr_t end = 0;
};

/// What populate_ranges did.
struct PopulateOutcome {
  int64_t bytes = 0;     ///< bytes of the page-aligned, merged ranges
  bool populated = false;  ///< false: they did not fit in `available`, nothing was touched
};

/// Page-aligns, sorts and merges `ranges`; when their total is at most 90% of `available`,
/// maps every page of them in (madvise MADV_POPULATE_READ, or a read per page where the kernel
/// lacks it, before Linux 5.14). `label` names the data in the stderr line printed when they do
/// not fit.
PopulateOutcome populate_ranges(std::vector<ByteRange> ranges, int64_t available,
                                const std::string& label);

/// populate_ranges over the buffers of the columns `plan` encodes from `ds`, and the frames
/// file when there is one, against available_memory_bytes().
PopulateOutcome populate_source(const Dataset& ds, const SchemaPlan& plan,
                                const std::optional<CachedFrames>& frames,
                                const std::string& label);

}  // namespace mouse::detail
