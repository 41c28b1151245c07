// An in-memory RowSource for the batchifier tests: row r has "row" = r (int64), "done" as given,
// and "obs" float32 [2] = {r, -r}. Segments and appends behave like DatasetStore's; appends are
// thread-safe against reads, and failures can be injected.
#pragma once

#include <atomic>
#include <chrono>
#include <thread>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "batch/row_source.hpp"
#include "mouse/error.hpp"

namespace mouse::test {

class FakeSource final : public detail::RowSource {
 public:
  /// One source segment per entry of `source_lengths` (done all 0).
  explicit FakeSource(std::vector<int64_t> source_lengths = {}) {
    for (int64_t n : source_lengths) add_source(std::vector<int64_t>(static_cast<size_t>(n), 0));
  }

  /// Adds a source segment with these done values (rows move: sources precede the buffer).
  void add_source(const std::vector<int64_t>& done) {
    std::lock_guard lock(mutex_);
    std::vector<int64_t> all(done_.begin(), done_.begin() + source_rows_);
    all.insert(all.end(), done.begin(), done.end());
    all.insert(all.end(), done_.begin() + source_rows_, done_.end());
    done_ = std::move(all);
    source_rows_ += static_cast<int64_t>(done.size());
    source_starts_.push_back(source_rows_);
  }

  /// Appends buffer rows with these done values.
  void append(const std::vector<int64_t>& done) {
    std::lock_guard lock(mutex_);
    done_.insert(done_.end(), done.begin(), done.end());
  }
  void append_rows(int64_t n, int64_t done = 0) {
    append(std::vector<int64_t>(static_cast<size_t>(n), done));
  }

  /// gather() throws IoError(message) once, after `after` more gathers have succeeded.
  void fail_gather_after(int64_t after, std::string message) {
    std::lock_guard lock(mutex_);
    fail_after_ = after;
    fail_message_ = std::move(message);
  }

  int64_t gathers() const { return gathers_.load(); }

  /// gather() sleeps (first row % 7) * `unit_us` microseconds, so that batches assembled in
  /// parallel finish out of order.
  void set_gather_delay(int64_t unit_us) { delay_us_ = unit_us; }

  int64_t size() const override {
    std::lock_guard lock(mutex_);
    return static_cast<int64_t>(done_.size());
  }

  std::vector<int64_t> segment_starts() const override {
    std::lock_guard lock(mutex_);
    std::vector<int64_t> s = source_starts_;
    s.push_back(static_cast<int64_t>(done_.size()));
    return s;
  }

  void read_done(int64_t begin, int64_t end, std::span<int64_t> out) const override {
    std::lock_guard lock(mutex_);
    if (begin < 0 || end > static_cast<int64_t>(done_.size())) throw IndexError("read_done");
    for (int64_t r = begin; r < end; ++r) out[static_cast<size_t>(r - begin)] = done_[r];
  }

  TensorDict gather(std::span<const int64_t> rows, const Allocator& allocator) const override {
    std::vector<int64_t> done;
    {
      std::lock_guard lock(mutex_);
      if (fail_after_ == 0) {
        fail_after_ = -1;
        throw IoError(fail_message_);
      }
      if (fail_after_ > 0) --fail_after_;
      for (int64_t r : rows) {
        if (r < 0 || r >= static_cast<int64_t>(done_.size())) {
          throw IndexError("row " + std::to_string(r) + " out of range");
        }
        done.push_back(done_[static_cast<size_t>(r)]);
      }
    }
    ++gathers_;
    if (delay_us_ > 0 && !rows.empty()) {
      std::this_thread::sleep_for(std::chrono::microseconds((rows[0] % 7) * delay_us_));
    }
    const auto n = static_cast<int64_t>(rows.size());
    Tensor row = Tensor::empty({n}, DType::kInt64, allocator);
    Tensor d = Tensor::empty({n}, DType::kInt64, allocator);
    Tensor obs = Tensor::empty({n, 2}, DType::kFloat32, allocator);
    for (int64_t i = 0; i < n; ++i) {
      row.data_as<int64_t>()[i] = rows[static_cast<size_t>(i)];
      d.data_as<int64_t>()[i] = done[static_cast<size_t>(i)];
      obs.data_as<float>()[2 * i] = static_cast<float>(rows[static_cast<size_t>(i)]);
      obs.data_as<float>()[2 * i + 1] = -static_cast<float>(rows[static_cast<size_t>(i)]);
    }
    TensorDict out({n});
    out.set("row", row);
    out.set("done", d);
    out.set("obs", obs);
    return out;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<int64_t> done_;
  std::vector<int64_t> source_starts_{0};
  int64_t source_rows_ = 0;
  mutable int64_t fail_after_ = -1;
  std::string fail_message_;
  mutable std::atomic<int64_t> gathers_{0};
  std::atomic<int64_t> delay_us_{0};
};

/// The window starts of a batch as read back from its "row" tensor ([b, S]).
inline std::vector<int64_t> row_starts(const TensorDict& batch) {
  const Tensor& row = batch.at("row");
  std::vector<int64_t> out;
  for (int64_t i = 0; i < row.shape()[0]; ++i) out.push_back(row.at<int64_t>({i, 0}));
  return out;
}

}  // namespace mouse::test
