// The RowSource defaults: windows gathered row by row through gather(), for sources (test fakes)
// that have nothing faster.
#include "batch/row_source.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "mouse/error.hpp"

namespace mouse::detail {

TensorDict empty_rows_like(const TensorDict& layout, int64_t rows, const Allocator& allocator) {
  TensorDict out({rows});
  for (const auto& [name, t] : layout) {
    std::vector<int64_t> shape = t.shape();
    shape[0] = rows;
    out.set(name, Tensor::empty(std::move(shape), t.dtype(), allocator));
  }
  return out;
}

void fill_missing_bytes(std::string_view name, DType dtype, void* first, int64_t bytes) {
  // Padded steps hold what a missing value encodes to (SPEC §7): q_star -inf, time -1,
  // everything else 0.
  if (name == "q_star" && dtype == DType::kFloat32) {
    std::fill_n(static_cast<float*>(first), bytes / 4, -std::numeric_limits<float>::infinity());
  } else if (name == "time" && dtype == DType::kInt64) {
    std::fill_n(static_cast<int64_t*>(first), bytes / 8, int64_t{-1});
  } else if (bytes > 0) {
    std::memset(first, 0, static_cast<size_t>(bytes));
  }
}

void fill_missing_rows(TensorDict& out, int64_t begin, int64_t end) {
  for (const auto& [name, t] : out) {
    const int64_t rows = t.shape()[0];
    if (rows == 0 || begin >= end) continue;
    const int64_t step_bytes = t.nbytes() / rows;
    Tensor target = t;
    auto* dst = static_cast<uint8_t*>(target.mutable_data());
    fill_missing_bytes(name, t.dtype(), dst + begin * step_bytes, (end - begin) * step_bytes);
  }
}

TensorDict RowSource::allocate(int64_t rows, const Allocator& allocator) const {
  const int64_t row = 0;
  return empty_rows_like(gather(std::span<const int64_t>(&row, 1), allocator), rows, allocator);
}

void RowSource::gather_windows(std::span<const WindowSlot> windows, int64_t sequence_length,
                               TensorDict& out, const Allocator& allocator) const {
  const int64_t s = sequence_length;
  std::vector<int64_t> rows;
  for (const WindowSlot& w : windows) {
    for (int64_t j = 0; j < w.length; ++j) rows.push_back(w.start + j);
  }
  const TensorDict part = gather(rows, default_allocator());
  if (out.size() == 0) {
    // The columns of the gathered rows (one gather per call, as sources count them).
    const int64_t out_rows = out.batch_size().empty() ? 0 : out.batch_size()[0];
    if (rows.empty()) {
      out = allocate(out_rows, allocator);
    } else {
      out = empty_rows_like(part, out_rows, allocator);
    }
  }
  for (const auto& [name, want] : out) {
    const int64_t out_rows = want.shape()[0];
    const int64_t step_bytes = out_rows == 0 ? 0 : want.nbytes() / out_rows;
    // A column this source lacks gets what a missing value encodes to, as padding does.
    const bool missing = !part.contains(name);
    if (!missing) {
      const Tensor& have = part.at(name);
      if (have.dtype() != want.dtype() ||
          (!rows.empty() && have.nbytes() / have.shape()[0] != step_bytes)) {
        throw InvalidArgument(fmt::format(
            "gather_windows: column \"{}\" of the source does not match the output", name));
      }
    }
    Tensor target = want;
    auto* dst = static_cast<uint8_t*>(target.mutable_data());
    const auto* from = missing ? nullptr : static_cast<const uint8_t*>(part.at(name).data());
    auto fill_missing = [&](uint8_t* first, int64_t bytes) {
      fill_missing_bytes(name, want.dtype(), first, bytes);
    };
    int64_t k = 0;  // rows of `part` used so far
    for (const WindowSlot& w : windows) {
      // A packed window (row >= 0) is its rows alone; a slot is S rows, padded after the window.
      const bool packed = w.row >= 0;
      uint8_t* slot = dst + (packed ? w.row : w.slot * s) * step_bytes;
      const int64_t span = packed ? w.length : s;
      if (missing) {
        fill_missing(slot, span * step_bytes);
        continue;
      }
      std::memcpy(slot, from + k * step_bytes, static_cast<size_t>(w.length * step_bytes));
      k += w.length;
      fill_missing(slot + w.length * step_bytes, (span - w.length) * step_bytes);
    }
  }
}

}  // namespace mouse::detail
