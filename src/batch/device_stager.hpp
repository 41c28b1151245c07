// Moves assembled batches onto a CUDA device (BatchifierOptions::device): each batch's members
// are copied from page-locked host memory into one device slot on a side stream, and the
// consumer's stream waits on an event instead of the host waiting for the copy.
#pragma once

#include <cstdint>
#include <memory>

#include "batch/cuda_runtime.hpp"
#include "mouse/tensor_dict.hpp"

namespace mouse::detail {

/// The event after a staged batch's copies and the stream its slot's release waits for.
struct StagedTicket;

/// A staged batch: the device tensors and the event recorded after their copies.
struct StagedBatch {
  TensorDict data;
  /// Owns the copy event and the slot's consumer stream; hand_over() uses it. Null for a
  /// batch with nothing to copy.
  std::shared_ptr<StagedTicket> ticket;
};

/// Counters for tests and the GPU check.
struct StagerStats {
  int64_t slots_allocated = 0;  // cudaMalloc calls
  int64_t slots_freed = 0;      // cudaFree calls
  int64_t slots_reused = 0;     // batches placed in a slot freed earlier
  int64_t slots_cached = 0;     // free now, kept for reuse
  int64_t slots_pending = 0;    // released by their tensors, waiting for the consumer's stream
};

/// One per batchifier. Thread-safe: stage() runs on the workers (or the caller), hand_over()
/// on the consumer, and the slots go back from whichever thread drops a batch's last tensor.
///
/// Device memory: a batch takes one slot (cudaMalloc) holding all its members, each at a
/// 256-byte boundary. A slot returns to the pool when the last tensor over it dies: an event
/// is then recorded on the consumer's stream (the one given to hand_over), and the slot is
/// reused only once that event has completed, so work the consumer queued on the batch is
/// never overwritten. Up to `keep_slots` free slots are kept; more are freed. A slot holds a
/// batch of at least half its size.
///
/// Host memory: the host batch is kept alive until its copy has completed (event query), so
/// its page-locked blocks go back to the batchifier's allocator only then.
class DeviceStager {
 public:
  /// Creates the side stream on `device`. Throws mouse::Error when the runtime refuses.
  DeviceStager(const CudaApi& api, int device, int64_t keep_slots);
  ~DeviceStager();
  DeviceStager(const DeviceStager&) = delete;
  DeviceStager& operator=(const DeviceStager&) = delete;

  /// Issues the copies of `host` (every member) into a device slot on the side stream and
  /// records the ready event after them; returns at once. Throws mouse::Error naming the CUDA
  /// call that failed (out of device memory included).
  StagedBatch stage(TensorDict host);

  /// Makes `stream` (null: the legacy default stream) wait for the copies of the batch that
  /// holds `ticket` (cudaStreamWaitEvent, no host wait) and remembers it as the stream whose
  /// work the slot's release waits for. Call once per delivered batch, before its tensors are used.
  void hand_over(const StagedTicket& ticket, void* stream);

  /// The device index.
  int device() const noexcept;
  /// Counters so far.
  StagerStats stats() const;

  struct Pool;

 private:
  std::shared_ptr<Pool> pool_;
};

}  // namespace mouse::detail
