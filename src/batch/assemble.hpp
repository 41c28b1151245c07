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

/// How a planned batch becomes tensors.
struct BatchShape {
  /// S.
  int64_t sequence_length = 0;
  /// Padded layout: add a bool "mask" [b, S].
  bool with_mask = false;
  /// Layout "packed" (SPEC §5.1) instead of [b, S].
  bool packed = false;
  /// Packed: rows of every batch (0: the windows' rows, no padding).
  int64_t max_tokens = 0;
  /// Packed with max_tokens: windows cu_seqlens / lengths are padded to (0: as planned).
  int64_t batch_size = 0;
};

/// Gathers `plan`'s windows, each from its source (`sources[window.source]`), into tensors from
/// `allocator`, as `shape` says. Padded: [b, S] tensors; with `with_mask` a bool "mask" [b, S]
/// (true = real step) and every tensor is zero at padded positions but q_star (-inf) and time
/// (-1). Packed: batch size [], each column [N, ...] with the windows' rows one after another
/// (one memcpy-able run per window and column), "sequence_id" / "position" int64 [N] (-1 on the
/// padding rows after the last window, which hold the fill values above), "cu_seqlens" int32
/// [b'+1] and "lengths" int64 [b'] (b' = shape.batch_size when max_tokens is set, else b).
/// With several sources the batch has the columns of all of them (union_layout); a source's
/// windows get missing values (0, q_star -inf, time -1) for the columns it lacks. Throws what
/// the sources and union_layout throw.
SampledBatch assemble_batch(std::span<const std::shared_ptr<const RowSource>> sources,
                            const Plan& plan, const BatchShape& shape, const Allocator& allocator);

}  // namespace mouse::detail
