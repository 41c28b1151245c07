#include "batch/device_stager.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <deque>
#include <mutex>
#include <vector>

#include "mouse/error.hpp"

namespace mouse::detail {

namespace {
// Members start at 256-byte boundaries, as cudaMalloc's own blocks do (coalesced loads).
constexpr int64_t kMemberAlignment = 256;
// Host batches whose copies may be outstanding before stage() waits for the oldest one.
constexpr size_t kMaxHostInFlight = 64;
}  // namespace

struct DeviceStager::Pool {
  CudaApi api;
  int device = 0;
  void* stream = nullptr;  // the side stream the copies run on
  int64_t keep_slots = 0;

  struct Slot {
    void* ptr = nullptr;
    size_t capacity = 0;
  };
  struct Pending {  // released by its tensors; reusable once `event` completed
    Slot slot;
    void* event = nullptr;
  };
  struct HostInFlight {  // a host batch whose copy may still read it
    TensorDict host;
    void* event = nullptr;
  };

  mutable std::mutex mutex;
  std::vector<Slot> free_slots;
  std::deque<Pending> pending;
  std::deque<HostInFlight> host_in_flight;
  std::vector<void*> free_events;
  StagerStats stats;

  ~Pool() {
    // The last reference: no tensor uses a slot any more. Wait for the work queued on them
    // (a destructor cannot report failure; the process is past caring about these errors).
    int previous = -1;
    api.get_device(&previous);
    api.set_device(device);
    for (auto& p : pending) {
      api.event_synchronize(p.event);
      api.free(p.slot.ptr);
      api.event_destroy(p.event);
    }
    for (auto& h : host_in_flight) {
      api.event_synchronize(h.event);
      api.event_destroy(h.event);
    }
    host_in_flight.clear();
    for (auto& s : free_slots) api.free(s.ptr);
    for (void* e : free_events) api.event_destroy(e);
    if (stream != nullptr) api.stream_destroy(stream);
    if (previous >= 0 && previous != device) api.set_device(previous);
  }

  // Under `mutex`.
  void* take_event_locked() {
    if (!free_events.empty()) {
      void* e = free_events.back();
      free_events.pop_back();
      return e;
    }
    void* e = nullptr;
    check_cuda(api, api.event_create_with_flags(&e, kCudaEventDisableTiming),
               "cudaEventCreateWithFlags");
    return e;
  }

  // Under `mutex`: slots whose consumer work is done become free; host batches whose copies
  // are done are dropped (their pinned blocks go back to the allocator).
  void reap_locked(std::vector<TensorDict>& drop) {
    for (auto it = pending.begin(); it != pending.end();) {
      const int q = api.event_query(it->event);
      if (q == kCudaErrorNotReady) {
        ++it;
        continue;
      }
      free_events.push_back(it->event);
      if (q == kCudaSuccess) {
        free_slots.push_back(it->slot);
      } else {
        api.free(it->slot.ptr);  // the stream failed: do not hand its memory out again
        ++stats.slots_freed;
      }
      it = pending.erase(it);
    }
    while (!host_in_flight.empty() && api.event_query(host_in_flight.front().event) !=
                                          kCudaErrorNotReady) {
      free_events.push_back(host_in_flight.front().event);
      drop.push_back(std::move(host_in_flight.front().host));
      host_in_flight.pop_front();
    }
  }

  // A slot of at least `bytes` (and at most twice that when reused).
  Slot acquire(size_t bytes) {
    std::vector<TensorDict> drop;  // destroyed after the lock is released
    {
      std::lock_guard lock(mutex);
      reap_locked(drop);
      auto best = free_slots.end();
      for (auto it = free_slots.begin(); it != free_slots.end(); ++it) {
        if (it->capacity >= bytes && it->capacity / 2 <= bytes &&
            (best == free_slots.end() || it->capacity < best->capacity)) {
          best = it;
        }
      }
      if (best != free_slots.end()) {
        Slot s = *best;
        free_slots.erase(best);
        ++stats.slots_reused;
        return s;
      }
      // Nothing fits: give back the free slots beyond what is kept, then allocate.
      while (static_cast<int64_t>(free_slots.size()) >= keep_slots && !free_slots.empty()) {
        api.free(free_slots.front().ptr);
        free_slots.erase(free_slots.begin());
        ++stats.slots_freed;
      }
    }
    Slot s;
    s.capacity = std::max<size_t>(bytes, 1);
    const int err = api.malloc(&s.ptr, s.capacity);
    if (err != kCudaSuccess) {
      check_cuda(api, err,
                 fmt::format("cudaMalloc of {} bytes for a batch on cuda:{}", s.capacity, device));
    }
    std::lock_guard lock(mutex);
    ++stats.slots_allocated;
    return s;
  }

  // The last tensor over `slot` died: reuse it once `stream` has done what was queued so far.
  void release(Slot slot, void* stream) noexcept {
    try {
      const CudaDeviceGuard guard(api, device);
      std::lock_guard lock(mutex);
      void* e = take_event_locked();
      check_cuda(api, api.event_record(e, stream), "cudaEventRecord");
      pending.push_back({slot, e});
    } catch (const std::exception& e) {
      // No stream order to wait for: the slot is lost rather than risk overwriting a batch
      // in use (one line; the batchifier still works).
      std::fputs(fmt::format("mouse-data: warning: a device batch slot is not reused: {}\n",
                             e.what())
                     .c_str(),
                 stderr);
    }
  }
};

/// The event after a batch's copies, and the consumer stream its slot's release waits for.
struct StagedTicket {
  std::shared_ptr<DeviceStager::Pool> pool;
  void* ready = nullptr;
  // Shared with the slot's lease: the stream whose work the slot's release waits for (the
  // side stream until the batch is handed over, so an undelivered batch waits for its copy).
  std::shared_ptr<std::atomic<void*>> consumer;

  ~StagedTicket() {
    if (ready != nullptr) {
      std::lock_guard lock(pool->mutex);
      pool->free_events.push_back(ready);
    }
  }
};

namespace {
// Keeps a slot alive while tensors view it; gives it back on the last one's death.
struct Lease {
  std::shared_ptr<DeviceStager::Pool> pool;
  DeviceStager::Pool::Slot slot;
  std::shared_ptr<std::atomic<void*>> consumer;
  Lease() = default;
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  ~Lease() {
    if (slot.ptr != nullptr) pool->release(slot, consumer->load(std::memory_order_acquire));
  }
};
}  // namespace

DeviceStager::DeviceStager(const CudaApi& api, int device, int64_t keep_slots)
    : pool_(std::make_shared<Pool>()) {
  pool_->api = api;
  pool_->device = device;
  pool_->keep_slots = std::max<int64_t>(keep_slots, 1);
  const CudaDeviceGuard guard(api, device);
  check_cuda(api, api.stream_create_with_flags(&pool_->stream, kCudaStreamNonBlocking),
             "cudaStreamCreateWithFlags");
}

DeviceStager::~DeviceStager() = default;

int DeviceStager::device() const noexcept { return pool_->device; }

StagerStats DeviceStager::stats() const {
  std::lock_guard lock(pool_->mutex);
  StagerStats s = pool_->stats;
  s.slots_cached = static_cast<int64_t>(pool_->free_slots.size());
  s.slots_pending = static_cast<int64_t>(pool_->pending.size());
  return s;
}

StagedBatch DeviceStager::stage(TensorDict host) {
  Pool& pool = *pool_;
  const CudaApi& api = pool.api;
  const CudaDeviceGuard guard(api, pool.device);
  std::vector<int64_t> offsets;
  offsets.reserve(host.size());
  int64_t total = 0;
  for (const auto& [name, t] : host) {
    if (t.is_cuda()) {
      throw InvalidArgument(fmt::format(
          "device staging: member \"{}\" is already on cuda:{}", name, t.cuda_device()));
    }
    total = (total + kMemberAlignment - 1) / kMemberAlignment * kMemberAlignment;
    offsets.push_back(total);
    total += t.nbytes();
  }

  auto lease = std::make_shared<Lease>();
  lease->pool = pool_;
  lease->consumer = std::make_shared<std::atomic<void*>>(pool.stream);
  lease->slot = pool.acquire(static_cast<size_t>(total));
  auto* base = static_cast<uint8_t*>(lease->slot.ptr);

  StagedBatch out;
  out.data = TensorDict(host.batch_size());
  size_t i = 0;
  for (const auto& [name, t] : host) {
    uint8_t* dst = base + offsets[i++];
    if (t.nbytes() > 0) {
      const int err = api.memcpy_async(dst, t.data(), static_cast<size_t>(t.nbytes()),
                                       kCudaMemcpyHostToDevice, pool.stream);
      if (err != kCudaSuccess) {  // the message is formatted only when it is needed
        check_cuda(api, err,
                   fmt::format("cudaMemcpyAsync of \"{}\" ({} bytes) to cuda:{}", name,
                               t.nbytes(), pool.device));
      }
    }
    // Every tensor shares the lease (aliasing: the owner's count, the tensor's address).
    out.data.set(name, Tensor::on_cuda_device(t.shape(), t.dtype(), dst,
                                              std::shared_ptr<const void>(lease, dst),
                                              pool.device));
  }

  auto ticket = std::make_shared<StagedTicket>();
  ticket->pool = pool_;
  ticket->consumer = lease->consumer;
  void* host_done = nullptr;
  std::vector<TensorDict> drop;
  {
    std::lock_guard lock(pool.mutex);
    ticket->ready = pool.take_event_locked();
    host_done = pool.take_event_locked();
  }
  check_cuda(api, api.event_record(ticket->ready, pool.stream), "cudaEventRecord");
  check_cuda(api, api.event_record(host_done, pool.stream), "cudaEventRecord");
  void* wait_for = nullptr;
  {
    std::lock_guard lock(pool.mutex);
    pool.host_in_flight.push_back({std::move(host), host_done});
    if (pool.host_in_flight.size() > kMaxHostInFlight) wait_for = pool.host_in_flight.front().event;
  }
  if (wait_for != nullptr) {
    // A consumer that never lets the copies finish (a stalled stream): bound the host memory.
    check_cuda(api, api.event_synchronize(wait_for), "cudaEventSynchronize");
  }
  {
    std::lock_guard lock(pool.mutex);
    pool.reap_locked(drop);
  }
  out.ticket = std::move(ticket);
  return out;
}

void DeviceStager::hand_over(const StagedTicket& ticket, void* stream) {
  const CudaApi& api = pool_->api;
  // An event may be waited on from a stream of any device: the caller's device stays as it is.
  check_cuda(api, api.stream_wait_event(stream, ticket.ready, 0), "cudaStreamWaitEvent");
  ticket.consumer->store(stream, std::memory_order_release);
}

}  // namespace mouse::detail
