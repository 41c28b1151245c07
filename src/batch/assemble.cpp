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

// Throws unless `part` (from source `src`) has the columns of `want` (from source
// `first_source`) with their dtypes and step shapes.
void check_columns(const TensorDict& part, size_t src, const TensorDict& want,
                   size_t first_source) {
  const std::vector<std::string> names = want.keys();
  if (part.size() != names.size()) {
    throw InvalidArgument(fmt::format(
        "PrefetchBatchifier: store {} encodes to the columns [{}], store {} to [{}]; stores "
        "mixed in one batchifier need the same columns",
        first_source, fmt::join(names, ", "), src, fmt::join(part.keys(), ", ")));
  }
  for (const std::string& name : names) {
    if (!part.contains(name)) {
      throw InvalidArgument(fmt::format(
          "PrefetchBatchifier: store {} has no column \"{}\" (store {} has); stores mixed in "
          "one batchifier need the same columns",
          src, name, first_source));
    }
    const Tensor& have = part.at(name);
    const Tensor& w = want.at(name);
    if (have.dtype() != w.dtype() || have.ndim() != w.ndim() ||
        !std::equal(have.shape().begin() + 1, have.shape().end(), w.shape().begin() + 1)) {
      throw InvalidArgument(fmt::format(
          "PrefetchBatchifier: column \"{}\" is {} in store {} but {} in store {}; stores mixed "
          "in one batchifier must encode to the same dtypes and shapes (the same max dims)",
          name, describe(have), src, describe(w), first_source));
    }
  }
}

}  // namespace

void check_same_columns(std::span<const std::shared_ptr<const RowSource>> sources) {
  TensorDict first({0});
  size_t first_source = 0;
  bool have_first = false;
  for (size_t src = 0; src < sources.size(); ++src) {
    if (sources[src]->size() == 0) continue;
    TensorDict part = sources[src]->allocate(0, default_allocator());
    if (!have_first) {
      first = std::move(part);
      first_source = src;
      have_first = true;
      continue;
    }
    check_columns(part, src, first, first_source);
  }
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
  // The first window's source allocates the batch (from the snapshot it reads); the others
  // write into it, after a check that they encode to the same columns.
  const auto first = static_cast<size_t>(b == 0 ? 0 : plan.windows[0].source);
  TensorDict flat({b * s});
  sources[first]->gather_windows(slots[first], s, flat, allocator);
  for (size_t src = 0; src < sources.size(); ++src) {
    if (src == first || slots[src].empty()) continue;
    check_columns(sources[src]->allocate(0, allocator), src, flat, first);
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
