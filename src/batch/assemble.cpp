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

SampledBatch assemble_batch(std::span<const std::shared_ptr<const RowSource>> sources,
                            const Plan& plan, int64_t sequence_length, bool with_mask,
                            const Allocator& allocator) {
  const int64_t s = sequence_length;
  const auto b = static_cast<int64_t>(plan.windows.size());
  SampledBatch out;
  out.number = plan.number;
  out.epoch = plan.epoch;
  out.starts.reserve(plan.windows.size());
  out.stores.reserve(plan.windows.size());
  // Each source's windows, with their slots in the batch.
  std::vector<std::vector<WindowSlot>> slots(std::max<size_t>(sources.size(), 1));
  for (int64_t i = 0; i < b; ++i) {
    const Window& w = plan.windows[static_cast<size_t>(i)];
    out.starts.push_back(w.start);
    out.stores.push_back(w.source);
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
  if (with_mask) {
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
