#include "batch/assemble.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "mouse/error.hpp"

namespace mouse::detail {

namespace {

std::string describe(const Tensor& t) {
  std::vector<int64_t> step(t.shape().begin() + 1, t.shape().end());
  return fmt::format("{} [{}]", dtype_name(t.dtype()), fmt::join(step, ", "));
}

// Throws unless every column `part` (from source `src`) shares with `want` (whose columns came
// from `owners`) has the same dtype and step shape there.
void check_shared_columns(const TensorDict& part, size_t src, const TensorDict& want,
                          const std::vector<size_t>& owners) {
  const std::vector<std::string> names = want.keys();
  for (size_t k = 0; k < names.size(); ++k) {
    const std::string& name = names[k];
    if (!part.contains(name)) continue;
    const Tensor& have = part.at(name);
    const Tensor& w = want.at(name);
    if (have.dtype() != w.dtype() || have.ndim() != w.ndim() ||
        !std::equal(have.shape().begin() + 1, have.shape().end(), w.shape().begin() + 1)) {
      throw InvalidArgument(fmt::format(
          "PrefetchBatchifier: column \"{}\" is {} in store {} but {} in store {}; stores mixed "
          "in one batchifier must encode a shared column to the same dtype and shape (the same "
          "max dims)",
          name, describe(have), src, describe(w), owners[k]));
    }
  }
}

}  // namespace

TensorDict union_layout(std::span<const std::shared_ptr<const RowSource>> sources, int64_t rows,
                        const Allocator& allocator) {
  TensorDict layout({0});
  std::vector<size_t> owners;  // the source each column of `layout` was first seen in
  for (size_t src = 0; src < sources.size(); ++src) {
    if (sources[src]->size() == 0) continue;
    const TensorDict part = sources[src]->allocate(0, default_allocator());
    check_shared_columns(part, src, layout, owners);
    for (const auto& [name, t] : part) {
      if (layout.contains(name)) continue;
      layout.set(name, t);
      owners.push_back(src);
    }
  }
  return empty_rows_like(layout, rows, allocator);
}

namespace {

// The packed layout: every window's rows at their running offset, then the padding to the
// token budget, then the sequence columns.
TensorDict assemble_packed(std::span<const std::shared_ptr<const RowSource>> sources,
                           const Plan& plan, const BatchShape& shape, int64_t real_rows,
                           const Allocator& allocator) {
  const auto b = static_cast<int64_t>(plan.windows.size());
  const int64_t n = shape.max_tokens > 0 ? shape.max_tokens : real_rows;
  const int64_t seqs = shape.max_tokens > 0 && shape.batch_size > 0 ? shape.batch_size : b;
  MOUSE_DCHECK(real_rows <= n && b <= seqs);
  std::vector<std::vector<WindowSlot>> slots(std::max<size_t>(sources.size(), 1));
  int64_t row = 0;
  for (int64_t i = 0; i < b; ++i) {
    const Window& w = plan.windows[static_cast<size_t>(i)];
    slots[static_cast<size_t>(w.source)].push_back({w.start, w.length, i, row});
    row += w.length;
  }
  const auto first = static_cast<size_t>(b == 0 ? 0 : plan.windows[0].source);
  TensorDict flat({n});
  if (sources.size() > 1) flat = union_layout(sources, n, allocator);
  sources[first]->gather_windows(slots[first], shape.sequence_length, flat, allocator);
  for (size_t src = 0; src < sources.size(); ++src) {
    if (src == first || slots[src].empty()) continue;
    sources[src]->gather_windows(slots[src], shape.sequence_length, flat, allocator);
  }
  fill_missing_rows(flat, real_rows, n);

  Tensor sequence_id = Tensor::empty({n}, DType::kInt64, allocator);
  Tensor position = Tensor::empty({n}, DType::kInt64, allocator);
  Tensor cu_seqlens = Tensor::empty({seqs + 1}, DType::kInt32, allocator);
  Tensor lengths = Tensor::empty({seqs}, DType::kInt64, allocator);
  auto* sid = sequence_id.data_as<int64_t>();
  auto* pos = position.data_as<int64_t>();
  auto* cu = cu_seqlens.data_as<int32_t>();
  auto* len = lengths.data_as<int64_t>();
  row = 0;
  cu[0] = 0;
  for (int64_t i = 0; i < seqs; ++i) {
    const int64_t l = i < b ? plan.windows[static_cast<size_t>(i)].length : 0;
    std::fill_n(sid + row, l, i);
    for (int64_t j = 0; j < l; ++j) pos[row + j] = j;
    row += l;
    len[i] = l;
    cu[i + 1] = static_cast<int32_t>(row);
  }
  std::fill(sid + row, sid + n, int64_t{-1});
  std::fill(pos + row, pos + n, int64_t{-1});

  TensorDict out;  // batch size []: members keep their own leading dims
  for (const auto& [name, t] : flat) out.set(name, t);
  out.set("sequence_id", std::move(sequence_id));
  out.set("position", std::move(position));
  out.set("cu_seqlens", std::move(cu_seqlens));
  out.set("lengths", std::move(lengths));
  return out;
}

}  // namespace

SampledBatch assemble_batch(std::span<const std::shared_ptr<const RowSource>> sources,
                            const Plan& plan, const BatchShape& shape,
                            const Allocator& allocator) {
  const int64_t s = shape.sequence_length;
  const auto b = static_cast<int64_t>(plan.windows.size());
  SampledBatch out;
  out.number = plan.number;
  out.epoch = plan.epoch;
  out.starts.reserve(plan.windows.size());
  out.stores.reserve(plan.windows.size());
  out.lengths.reserve(plan.windows.size());
  int64_t real_rows = 0;
  for (const Window& w : plan.windows) {
    out.starts.push_back(w.start);
    out.stores.push_back(w.source);
    out.lengths.push_back(w.length);
    real_rows += w.length;
  }
  if (shape.packed) {
    out.data = assemble_packed(sources, plan, shape, real_rows, allocator);
    const int64_t n = shape.max_tokens > 0 ? shape.max_tokens : real_rows;
    out.efficiency = n == 0 ? 1.0 : static_cast<double>(real_rows) / static_cast<double>(n);
    return out;
  }
  out.efficiency = b == 0 ? 1.0 : static_cast<double>(real_rows) / static_cast<double>(b * s);
  // Each source's windows, with their slots in the batch.
  std::vector<std::vector<WindowSlot>> slots(std::max<size_t>(sources.size(), 1));
  for (int64_t i = 0; i < b; ++i) {
    const Window& w = plan.windows[static_cast<size_t>(i)];
    slots[static_cast<size_t>(w.source)].push_back({w.start, w.length, i});
  }
  // One source: it allocates the batch from the snapshot it reads. Several: the batch has the
  // columns of all of them (a column a source lacks is written as missing values for its
  // windows, as for a store's own segments), so every batch has the same keys.
  const auto first = static_cast<size_t>(b == 0 ? 0 : plan.windows[0].source);
  TensorDict flat({b * s});
  if (sources.size() > 1) flat = union_layout(sources, b * s, allocator);
  sources[first]->gather_windows(slots[first], s, flat, allocator);
  for (size_t src = 0; src < sources.size(); ++src) {
    if (src == first || slots[src].empty()) continue;
    sources[src]->gather_windows(slots[src], s, flat, allocator);
  }
  TensorDict data = flat.reshape({b, s});
  if (shape.with_mask) {
    Tensor mask = Tensor::empty({b, s}, DType::kBool, allocator);
    bool* m = mask.data_as<bool>();
    static_assert(sizeof(bool) == 1);
    for (int64_t i = 0; i < b; ++i) {
      const auto length = static_cast<size_t>(plan.windows[static_cast<size_t>(i)].length);
      std::memset(m + i * s, 1, length);  // true
      std::memset(m + i * s + static_cast<int64_t>(length), 0, static_cast<size_t>(s) - length);
    }
    data.set("mask", std::move(mask));
  }
  out.data = std::move(data);
  return out;
}

}  // namespace mouse::detail
