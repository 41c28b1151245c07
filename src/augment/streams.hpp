// The random streams TokenAugmenter draws from. Each (purpose, call number, component) has its
// own counter-based stream, so turning one augmentation on or off never changes the draws of
// another, and no draw depends on the thread that makes it.
#pragma once

#include <cstdint>

#include "core/rng.hpp"

namespace mouse::detail::augment {

/// Snapshot components (one stream each per update call).
enum class SnapshotPart : uint64_t {
  kActionPerm = 1,
  kDonePerm,
  kObsDiscretePerm,
  kScaleReward,
  kShiftReward,
  kScaleObs,
  kShiftObs,
  kScaleObsImage,
  kShiftObsImage,
};

/// Mask fields (one stream each per augment call).
enum class MaskField : uint64_t {
  kAction = 1,
  kReward,
  kDone,
  kObsContinuous,
  kObsDiscrete,
  kObsImage,
  kTime,
};

inline constexpr uint64_t kSnapshotTag = 0x736E6170;  // "snap"
inline constexpr uint64_t kMaskTag = 0x6D61736B;      // "mask"

/// The stream for snapshot part `part` of update call `call`.
inline CounterRng snapshot_rng(uint64_t seed, uint64_t call, SnapshotPart part) noexcept {
  return CounterRng(seed, stream_id({kSnapshotTag, call, static_cast<uint64_t>(part)}));
}

/// The stream for the mask of `field` in augment call `call`.
inline CounterRng mask_rng(uint64_t seed, uint64_t call, MaskField field) noexcept {
  return CounterRng(seed, stream_id({kMaskTag, call, static_cast<uint64_t>(field)}));
}

}  // namespace mouse::detail::augment
