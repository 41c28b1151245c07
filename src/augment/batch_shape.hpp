// Shared argument check of TokenAugmenter's entry points.
#pragma once

#include <fmt/format.h>

#include "mouse/error.hpp"
#include "mouse/tensor_dict.hpp"

namespace mouse::detail::augment {

/// Throws InvalidArgument naming `method` unless `batch` has batch size [B, S].
inline void check_batch_shape(const TensorDict& batch, const char* method) {
  if (batch.batch_size().size() != 2) {
    throw InvalidArgument(fmt::format(
        "TokenAugmenter::{}: expected a batch of batch size [B, S], found batch size {}", method,
        format_shape(batch.batch_size())));
  }
}

}  // namespace mouse::detail::augment
