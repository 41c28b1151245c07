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

/// A TensorDict [rows] (contents uninitialised, from `allocator`) with the columns of every
/// non-empty source: the union of their columns, in order of first appearance. Throws
/// InvalidArgument naming the column and both sources when a column two sources share has
/// different dtypes or step shapes there.
TensorDict union_layout(std::span<const std::shared_ptr<const RowSource>> sources, int64_t rows,
                        const Allocator& allocator);

/// Gathers `plan`'s windows of `sequence_length` rows, each from its source
/// (`sources[window.source]`), into tensors from `allocator`. With `with_mask` the result has a
/// bool "mask" [b, S] (true = real step) and every tensor is zero at padded positions but q_star
/// (-inf) and time (-1). With several sources the batch has the columns of all of
/// them (union_layout); a source's windows get missing values (0, q_star -inf, time -1) for the
/// columns it lacks. Throws what the sources and union_layout throw.
SampledBatch assemble_batch(std::span<const std::shared_ptr<const RowSource>> sources,
                            const Plan& plan, int64_t sequence_length, bool with_mask,
                            const Allocator& allocator);

}  // namespace mouse::detail
