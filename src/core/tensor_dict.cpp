#include "mouse/tensor_dict.hpp"

#include <algorithm>
#include <fmt/format.h>

#include "mouse/error.hpp"

namespace mouse {

TensorDict::TensorDict(std::vector<int64_t> batch_size) : batch_size_(std::move(batch_size)) {
  // Element type is irrelevant here; checked_numel only validates the dims.
  detail::checked_numel(batch_size_, DType::kUInt8, "TensorDict");
}

void TensorDict::set(std::string name, Tensor tensor) {
  const std::vector<int64_t>& shape = tensor.shape();
  bool fits = shape.size() >= batch_size_.size() &&
              std::equal(batch_size_.begin(), batch_size_.end(), shape.begin());
  if (!fits) {
    throw InvalidArgument(fmt::format("TensorDict::set: key \"{}\" has shape {}, whose leading "
                                      "dimensions do not match the batch size {}",
                                      name, format_shape(shape), format_shape(batch_size_)));
  }
  for (auto& entry : entries_) {
    if (entry.first == name) {
      entry.second = std::move(tensor);
      return;
    }
  }
  entries_.emplace_back(std::move(name), std::move(tensor));
}

const Tensor* TensorDict::find(std::string_view name) const noexcept {
  for (const auto& entry : entries_) {
    if (entry.first == name) return &entry.second;
  }
  return nullptr;
}

int64_t TensorDict::nbytes() const noexcept {
  int64_t n = 0;
  for (const auto& [name, t] : entries_) n += t.nbytes();
  return n;
}

bool TensorDict::contains(std::string_view name) const noexcept { return find(name) != nullptr; }

const Tensor& TensorDict::at(std::string_view name) const {
  const Tensor* t = find(name);
  if (t == nullptr) throw_missing(name, "at");
  return *t;
}

void TensorDict::erase(std::string_view name) {
  auto it = std::find_if(entries_.begin(), entries_.end(),
                         [&](const value_type& e) { return e.first == name; });
  if (it == entries_.end()) throw_missing(name, "erase");
  entries_.erase(it);
}

std::vector<std::string> TensorDict::keys() const {
  std::vector<std::string> out;
  out.reserve(entries_.size());
  for (const auto& entry : entries_) out.push_back(entry.first);
  return out;
}

TensorDict TensorDict::clone(const Allocator& allocator) const {
  TensorDict out(batch_size_);
  out.entries_.reserve(entries_.size());
  for (const auto& [name, tensor] : entries_) out.entries_.emplace_back(name, tensor.clone(allocator));
  return out;
}

TensorDict TensorDict::reshape(std::vector<int64_t> new_batch_size) const {
  int64_t batch_numel = detail::checked_numel(batch_size_, DType::kUInt8, "TensorDict::reshape");
  TensorDict out(
      detail::resolve_reshape(batch_size_, batch_numel, std::move(new_batch_size), "batch size"));
  out.entries_.reserve(entries_.size());
  for (const auto& [name, tensor] : entries_) {
    // Members were checked against batch_size_ on set(), so only the batch part changes.
    std::vector<int64_t> shape = out.batch_size_;
    shape.insert(shape.end(), tensor.shape().begin() + static_cast<std::ptrdiff_t>(batch_size_.size()),
                 tensor.shape().end());
    out.entries_.emplace_back(name, tensor.reshape(std::move(shape)));
  }
  return out;
}

bool TensorDict::equals(const TensorDict& other) const noexcept {
  if (batch_size_ != other.batch_size_ || entries_.size() != other.entries_.size()) return false;
  for (const auto& [name, tensor] : entries_) {
    const Tensor* theirs = other.find(name);
    if (theirs == nullptr || !tensor.equals(*theirs)) return false;
  }
  return true;
}

void TensorDict::throw_missing(std::string_view name, const char* method) const {
  std::string available;
  for (const auto& entry : entries_) {
    if (!available.empty()) available += ", ";
    available += fmt::format("\"{}\"", entry.first);
  }
  throw KeyError(fmt::format("TensorDict::{}: no key \"{}\"; available keys: [{}]", method, name,
                             available));
}

}  // namespace mouse
