// TensorDict: named tensors that share leading (batch) dimensions, as a batch is delivered.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mouse/tensor.hpp"

namespace mouse {

/// An ordered map from name to Tensor whose members all start with the dict's batch_size()
/// dimensions (e.g. [B, S] for a batch of windows). Insertion order is kept and is the iteration
/// order. Members are Tensors, so they share storage with the tensors passed in and with copies
/// of the dict; clone() makes an independent deep copy.
///
/// Lookups are linear in the number of keys (batches hold a handful). Not thread-safe for writes;
/// const methods may run concurrently.
class TensorDict {
 public:
  /// One (name, tensor) member.
  using value_type = std::pair<std::string, Tensor>;
  /// Iterates over members in insertion order.
  using const_iterator = std::vector<value_type>::const_iterator;

  /// An empty dict with batch size [] (any tensor fits).
  TensorDict() = default;
  /// An empty dict whose members must start with `batch_size` (every dim >= 0, else
  /// InvalidArgument).
  explicit TensorDict(std::vector<int64_t> batch_size);

  /// The leading dimensions every member shares.
  const std::vector<int64_t>& batch_size() const noexcept { return batch_size_; }

  /// Adds `tensor` under `name`, or replaces the tensor already there keeping its position.
  /// Throws InvalidArgument naming the key, the tensor's shape and the batch size when the
  /// tensor's leading dimensions are not batch_size().
  void set(std::string name, Tensor tensor);

  /// Whether `name` is a member.
  bool contains(std::string_view name) const noexcept;

  /// The tensor named `name`. Throws KeyError naming the key and listing the available keys.
  /// (There is no mutable overload: replacing a member goes through set(), which checks it; the
  /// elements can still be written through a copy of the returned Tensor, which shares them.)
  const Tensor& at(std::string_view name) const;

  /// Removes `name`, keeping the order of the others. Throws KeyError (as at()) when absent.
  void erase(std::string_view name);

  /// Member names in insertion order.
  std::vector<std::string> keys() const;
  /// Number of members.
  size_t size() const noexcept { return entries_.size(); }
  /// Whether there are no members.
  bool empty() const noexcept { return entries_.empty(); }
  /// Bytes held by the member tensors (the sum of their nbytes()).
  int64_t nbytes() const noexcept;

  /// First (name, tensor) member in insertion order.
  const_iterator begin() const noexcept { return entries_.begin(); }
  /// Past the last member.
  const_iterator end() const noexcept { return entries_.end(); }

  /// A deep copy: every member cloned into new storage from `allocator`.
  TensorDict clone(const Allocator& allocator = default_allocator()) const;

  /// A dict sharing every member's storage with the batch dims reshaped to `new_batch_size`
  /// (one dim may be -1) and each member's trailing dims kept: [B, S, 3] with batch [B, S]
  /// reshaped to {-1} becomes [B*S, 3] with batch [B*S]. Throws InvalidArgument (as
  /// Tensor::reshape) when the batch element counts differ.
  TensorDict reshape(std::vector<int64_t> new_batch_size) const;

  /// True when batch sizes are equal, both hold the same keys (order ignored) and each pair of
  /// members is Tensor::equals (same dtype, shape and bytes).
  bool equals(const TensorDict& other) const noexcept;

 private:
  const Tensor* find(std::string_view name) const noexcept;
  [[noreturn]] void throw_missing(std::string_view name, const char* method) const;

  std::vector<int64_t> batch_size_;
  std::vector<value_type> entries_;
};

}  // namespace mouse
