// Turns a planned batch into tensors: one gather of all B·S rows straight into the batch's
// tensors, reshaped to [B, S]; padded positions of short episode windows filled and masked.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "batch/row_source.hpp"
#include "batch/sampler.hpp"
#include "mouse/batch.hpp"

namespace mouse::detail {

/// Gathers row 0 of every non-empty source and throws InvalidArgument (as assemble_batch would
/// for a batch mixing them) when two of them encode to different columns, dtypes or shapes.
void check_same_columns(std::span<const std::shared_ptr<const RowSource>> sources);

/// Gathers `plan`'s windows of `sequence_length` rows, each from its source
/// (`sources[window.source]`), into tensors from `allocator`. With `with_mask` the result has a
/// bool "mask" [b, S] (true = real step) and every tensor is zero at padded positions but q_star
/// (-inf) and time (-1). Throws what the sources throw, and InvalidArgument when a batch mixes
/// sources whose columns differ in name, dtype or shape.
SampledBatch assemble_batch(std::span<const std::shared_ptr<const RowSource>> sources,
                            const Plan& plan, int64_t sequence_length, bool with_mask,
                            const Allocator& allocator);

}  // namespace mouse::detail
