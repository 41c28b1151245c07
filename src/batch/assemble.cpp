#include "batch/assemble.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace mouse::detail {

SampledBatch assemble_batch(const RowSource& source, const Plan& plan, int64_t sequence_length,
                            bool with_mask, const Allocator& allocator) {
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
    int64_t* row = rows.data() + i * s;
    // Padded positions gather the window's first row (any valid row would do) and are zeroed
    // below.
    for (int64_t j = 0; j < s; ++j) row[j] = w.start + (j < w.length ? j : 0);
    padded = padded || w.length < s;
  }
  TensorDict flat = source.gather(rows, allocator);
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
