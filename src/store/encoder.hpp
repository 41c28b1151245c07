// The SPEC §3 encoder: reads Arrow columns (memory-mapped source chunks or sealed buffer
// chunks, through the same code) straight into the output tensors. Work is grouped by chunk and
// key, and each (chunk, key) pair runs one loop typed by the column's Arrow type: no per-row
// dynamic values, no intermediate copies except decoded images.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "mouse/arrow.hpp"
#include "mouse/dataset_store.hpp"
#include "mouse/tensor_dict.hpp"
#include "store/contract.hpp"

namespace mouse::detail {

/// One requested row: element `local` of a chunk goes to output row `out`.
struct RowRef {
  int64_t out = 0;
  int64_t local = 0;
};

/// Which keys a batch holds (the union over the store's segments, SPEC §3 "present iff in the
/// schema") and whether obs_discrete is a list (per-step shape [max_obs_discrete_dim]).
struct OutputLayout {
  std::array<bool, kKeyCount> present{};
  bool discrete_list = false;

  /// Adds the keys of `plan`.
  void add(const SchemaPlan& plan) noexcept;
  /// Adds the keys of `other`.
  void add(const OutputLayout& other) noexcept;
};

/// Fills the tensors of one batch. Not thread-safe; one encoder per batch.
class BatchEncoder {
 public:
  /// Allocates the tensors of `rows` rows from `allocator`. Required keys are always present.
  BatchEncoder(const StoreConfig& config, const OutputLayout& layout, int64_t rows,
               const Allocator& allocator);

  /// Encodes `rows` of one chunk whose columns are laid out as `plan` says. Keys the plan lacks
  /// are filled with their null-row value (0, q_star -inf, time -1). `dataset` and `first_row` (global row of element 0) name the
  /// place in errors: a null in a required column is InvalidArgument, undecodable image bytes
  /// a FormatError.
  void encode(std::span<const arrow::ArrayPtr> columns, const SchemaPlan& plan,
              std::span<const RowRef> rows, std::string_view dataset, int64_t first_row);

  /// The batch, keys in SPEC §3 order.
  TensorDict finish();

 private:
  void fill(Key key, std::span<const RowRef> rows);

  StoreConfig config_;
  OutputLayout layout_;
  int64_t rows_;
  std::array<Tensor, kKeyCount> tensors_;
  std::array<int64_t, kKeyCount> width_{};  // elements per row (1 for scalars)
};

/// Checks that every value of `column` (a scalar or list column feeding integer key `key`) is a
/// whole number within int64 when the column's leaf type is float; InvalidArgument naming
/// `dataset`, the column, the value and its row (`first_row` + index) otherwise.
void check_whole_numbers(const arrow::ArrayData& column, Key key, std::string_view dataset,
                         int64_t first_row);

/// Encodes every row of a dataset with its own layout (DatasetStore::encode_hf_rows).
TensorDict encode_dataset(const Dataset& ds, const StoreConfig& config, std::string_view label,
                          const Allocator& allocator);

}  // namespace mouse::detail
