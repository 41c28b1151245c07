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

// Throws unless `part` (from source `src`) has the columns `names` with the dtypes and step
// shapes of `want` (from source `first_source`).
void check_columns(const TensorDict& part, size_t src, const std::vector<std::string>& names,
                   const std::vector<Tensor>& want, size_t first_source) {
  if (part.size() != names.size()) {
    throw InvalidArgument(fmt::format(
        "PrefetchBatchifier: store {} encodes to the columns [{}], store {} to [{}]; stores "
        "mixed in one batchifier need the same columns",
        first_source, fmt::join(names, ", "), src, fmt::join(part.keys(), ", ")));
  }
  for (size_t j = 0; j < names.size(); ++j) {
    const std::string& name = names[j];
    if (!part.contains(name)) {
      throw InvalidArgument(fmt::format(
          "PrefetchBatchifier: store {} has no column \"{}\" (store {} has); stores mixed in "
          "one batchifier need the same columns",
          src, name, first_source));
    }
    const Tensor& have = part.at(name);
    const Tensor& w = want[j];
    if (have.dtype() != w.dtype() || have.ndim() != w.ndim() ||
        !std::equal(have.shape().begin() + 1, have.shape().end(), w.shape().begin() + 1)) {
      throw InvalidArgument(fmt::format(
          "PrefetchBatchifier: column \"{}\" is {} in store {} but {} in store {}; stores mixed "
          "in one batchifier must encode to the same dtypes and shapes (the same max dims)",
          name, describe(have), src, describe(w), first_source));
    }
  }
}

// A batch whose windows come from several sources: one gather per source, then each window's
// S steps copied to its place. Every source must give the same columns.
TensorDict gather_mixed(std::span<const std::shared_ptr<const RowSource>> sources,
                        const Plan& plan, std::span<const int64_t> rows, int64_t s,
                        const Allocator& allocator) {
  const auto b = static_cast<int64_t>(plan.windows.size());
  std::vector<std::vector<int64_t>> windows_of(sources.size());
  for (int64_t i = 0; i < b; ++i) {
    windows_of[static_cast<size_t>(plan.windows[static_cast<size_t>(i)].source)].push_back(i);
  }
  std::vector<Tensor> outs;
  bool first = true;
  size_t first_source = 0;
  std::vector<std::string> names;
  for (size_t src = 0; src < sources.size(); ++src) {
    const std::vector<int64_t>& mine = windows_of[src];
    if (mine.empty()) continue;
    std::vector<int64_t> own_rows;
    own_rows.reserve(mine.size() * static_cast<size_t>(s));
    for (int64_t i : mine) own_rows.insert(own_rows.end(), rows.begin() + i * s, rows.begin() + (i + 1) * s);
    TensorDict part = sources[src]->gather(own_rows, allocator);
    if (first) {
      for (const auto& [name, t] : part) {
        std::vector<int64_t> shape = t.shape();
        shape[0] = b * s;
        outs.push_back(Tensor::empty(std::move(shape), t.dtype(), allocator));
        names.push_back(name);
      }
      first = false;
      first_source = src;
    }
    check_columns(part, src, names, outs, first_source);
    for (size_t j = 0; j < names.size(); ++j) {
      const Tensor* have = &part.at(names[j]);
      Tensor& want = outs[j];
      const int64_t window_bytes = want.nbytes() / b;
      auto* dst = static_cast<uint8_t*>(want.mutable_data());
      const auto* from = static_cast<const uint8_t*>(have->data());
      for (size_t k = 0; k < mine.size(); ++k) {
        std::memcpy(dst + mine[k] * window_bytes, from + static_cast<int64_t>(k) * window_bytes,
                    static_cast<size_t>(window_bytes));
      }
    }
  }
  TensorDict out({b * s});
  for (size_t j = 0; j < names.size(); ++j) out.set(names[j], std::move(outs[j]));
  return out;
}

}  // namespace

void check_same_columns(std::span<const std::shared_ptr<const RowSource>> sources) {
  std::vector<std::string> names;
  std::vector<Tensor> first;
  size_t first_source = 0;
  bool have_first = false;
  for (size_t src = 0; src < sources.size(); ++src) {
    if (sources[src]->size() == 0) continue;
    const int64_t row = 0;
    TensorDict part = sources[src]->gather(std::span<const int64_t>(&row, 1), default_allocator());
    if (!have_first) {
      for (const auto& [name, t] : part) {
        names.push_back(name);
        first.push_back(t);
      }
      first_source = src;
      have_first = true;
      continue;
    }
    check_columns(part, src, names, first, first_source);
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
  std::vector<int64_t> rows(static_cast<size_t>(b * s));
  bool padded = false;
  for (int64_t i = 0; i < b; ++i) {
    const Window& w = plan.windows[static_cast<size_t>(i)];
    out.starts.push_back(w.start);
    out.stores.push_back(w.source);
    int64_t* row = rows.data() + i * s;
    // Padded positions gather the window's first row (any valid row would do) and are zeroed
    // below.
    for (int64_t j = 0; j < s; ++j) row[j] = w.start + (j < w.length ? j : 0);
    padded = padded || w.length < s;
  }
  bool mixed = false;
  for (const Window& w : plan.windows) mixed = mixed || w.source != plan.windows[0].source;
  TensorDict flat =
      mixed ? gather_mixed(sources, plan, rows, s, allocator)
            : sources[static_cast<size_t>(plan.windows.empty() ? 0 : plan.windows[0].source)]
                  ->gather(rows, allocator);
  TensorDict data = flat.reshape({b, s});
  if (with_mask) {
    Tensor mask = Tensor::empty({b, s}, DType::kBool, allocator);
    bool* m = mask.data_as<bool>();
    for (int64_t i = 0; i < b; ++i) {
      const int64_t length = plan.windows[static_cast<size_t>(i)].length;
      for (int64_t j = 0; j < s; ++j) m[i * s + j] = j < length;
    }
    if (padded) {
      std::vector<std::pair<std::string, Tensor>> replaced;
      for (const auto& [name, member] : data) {
        Tensor t = member.is_writable() ? member : member.clone(allocator);
        const int64_t step_bytes = b * s == 0 ? 0 : t.nbytes() / (b * s);
        auto* bytes = static_cast<uint8_t*>(t.mutable_data());
        // Padded steps hold what a missing value encodes to (SPEC §7): q_star -inf, time -1,
        // everything else 0.
        const bool q_star = name == "q_star" && t.dtype() == DType::kFloat32;
        const bool time = name == "time" && t.dtype() == DType::kInt64;
        for (int64_t i = 0; i < b; ++i) {
          const int64_t length = plan.windows[static_cast<size_t>(i)].length;
          if (length >= s) continue;
          uint8_t* first = bytes + (i * s + length) * step_bytes;
          const int64_t pad_bytes = (s - length) * step_bytes;
          if (q_star) {
            std::fill_n(reinterpret_cast<float*>(first), pad_bytes / 4,
                        -std::numeric_limits<float>::infinity());
          } else if (time) {
            std::fill_n(reinterpret_cast<int64_t*>(first), pad_bytes / 8, int64_t{-1});
          } else {
            std::memset(first, 0, static_cast<size_t>(pad_bytes));
          }
        }
        if (!member.is_writable()) replaced.emplace_back(name, std::move(t));
      }
      for (auto& [name, t] : replaced) data.set(name, std::move(t));
    }
    data.set("mask", std::move(mask));
  }
  out.data = std::move(data);
  return out;
}

}  // namespace mouse::detail
