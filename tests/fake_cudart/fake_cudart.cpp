// A stand-in for libcudart on machines without a GPU: the entry points the library loads, with
// "device memory" in host memory and streams that complete their work at once unless a test
// holds them. It records what a real runtime would be asked to do (copies, event records,
// waits), so tests can check the order of operations. Built as libcudart.so.
//
// Two devices unless FAKE_CUDA_DEVICES says otherwise (read on every call).
// Streams: a stream counts the operations queued on it; an event recorded on it is complete
// when the stream has completed that many. A held stream completes nothing until released.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace {

struct Stream {
  int64_t queued = 0;
  int64_t completed = 0;
  bool held = false;
};

struct Event {
  Stream* stream = nullptr;
  int64_t at = 0;  // the stream's queued count when recorded (0: never recorded)
};

struct State {
  std::mutex mutex;
  Stream legacy;  // the null stream
  std::set<Stream*> streams;
  std::set<Event*> events;
  std::map<void*, size_t> device_blocks;
  std::map<void*, size_t> host_blocks;
  int64_t mallocs = 0, frees = 0, host_allocs = 0, host_frees = 0, copies = 0, waits = 0;
  int64_t fail_mallocs = 0;  // the next n cudaMalloc calls fail
  int64_t op = 0;            // global operation counter, for ordering checks
  int64_t last_copy_op = 0, last_wait_event_at_op = 0;
  void* last_wait_stream = nullptr;
  int64_t last_record_op = 0;
};

State& st() {
  static State* s = new State;  // never destroyed: blocks may be freed during exit
  return *s;
}

thread_local int current_device = 0;

Stream* resolve(void* s) { return s == nullptr ? &st().legacy : static_cast<Stream*>(s); }

void complete(Stream* s) {
  if (!s->held) s->completed = s->queued;
}

int device_count() {
  const char* n = std::getenv("FAKE_CUDA_DEVICES");
  return n != nullptr ? std::atoi(n) : 2;
}

}  // namespace

extern "C" {

int cudaGetDeviceCount(int* n) {
  *n = device_count();
  return 0;
}
int cudaSetDevice(int d) {
  if (d < 0 || d >= device_count()) return 101;  // cudaErrorInvalidDevice
  current_device = d;
  return 0;
}
int cudaGetDevice(int* d) {
  *d = current_device;
  return 0;
}
int cudaMalloc(void** p, size_t n) {
  State& s = st();
  std::lock_guard lock(s.mutex);
  if (s.fail_mallocs > 0) {
    --s.fail_mallocs;
    *p = nullptr;
    return 2;  // cudaErrorMemoryAllocation
  }
  *p = std::aligned_alloc(256, (n + 255) / 256 * 256);
  s.device_blocks[*p] = n;
  ++s.mallocs;
  return 0;
}
int cudaFree(void* p) {
  State& s = st();
  std::lock_guard lock(s.mutex);
  if (s.device_blocks.erase(p) == 0) return 1;
  std::free(p);
  ++s.frees;
  return 0;
}
int cudaHostAlloc(void** p, size_t n, unsigned) {
  State& s = st();
  *p = std::aligned_alloc(4096, ((n ? n : 1) + 4095) / 4096 * 4096);
  std::lock_guard lock(s.mutex);
  s.host_blocks[*p] = n;
  ++s.host_allocs;
  return 0;
}
int cudaFreeHost(void* p) {
  State& s = st();
  std::lock_guard lock(s.mutex);
  if (s.host_blocks.erase(p) == 0) return 1;
  std::free(p);
  ++s.host_frees;
  return 0;
}
int cudaStreamCreateWithFlags(void** stream, unsigned) {
  State& s = st();
  std::lock_guard lock(s.mutex);
  auto* x = new Stream;
  s.streams.insert(x);
  *stream = x;
  return 0;
}
int cudaStreamDestroy(void* stream) {
  State& s = st();
  std::lock_guard lock(s.mutex);
  if (s.streams.erase(static_cast<Stream*>(stream)) == 0) return 400;  // invalid handle
  delete static_cast<Stream*>(stream);
  return 0;
}
int cudaMemcpyAsync(void* dst, const void* src, size_t n, int kind, void* stream) {
  State& s = st();
  std::lock_guard lock(s.mutex);
  if (kind != 1) return 21;  // cudaErrorInvalidMemcpyDirection: only host to device is used
  // The destination must lie inside a device block.
  auto it = s.device_blocks.upper_bound(dst);
  if (it == s.device_blocks.begin()) return 1;
  --it;
  auto* base = static_cast<char*>(it->first);
  if (static_cast<char*>(dst) + n > base + it->second) return 1;
  std::memcpy(dst, src, n);
  Stream* x = resolve(stream);
  ++x->queued;
  complete(x);
  ++s.copies;
  s.last_copy_op = ++s.op;
  return 0;
}
int cudaEventCreateWithFlags(void** e, unsigned) {
  State& s = st();
  std::lock_guard lock(s.mutex);
  auto* x = new Event;
  s.events.insert(x);
  *e = x;
  return 0;
}
int cudaEventDestroy(void* e) {
  State& s = st();
  std::lock_guard lock(s.mutex);
  if (s.events.erase(static_cast<Event*>(e)) == 0) return 400;
  delete static_cast<Event*>(e);
  return 0;
}
int cudaEventRecord(void* e, void* stream) {
  State& s = st();
  std::lock_guard lock(s.mutex);
  auto* ev = static_cast<Event*>(e);
  if (s.events.count(ev) == 0) return 400;
  ev->stream = resolve(stream);
  ev->at = ev->stream->queued;
  s.last_record_op = ++s.op;
  return 0;
}
int cudaEventQuery(void* e) {
  State& s = st();
  std::lock_guard lock(s.mutex);
  auto* ev = static_cast<Event*>(e);
  if (s.events.count(ev) == 0) return 400;
  if (ev->stream == nullptr || ev->stream->completed >= ev->at) return 0;
  return 600;  // cudaErrorNotReady
}
int cudaEventSynchronize(void* e) {
  // A held stream never completes here; the tests release it before anything waits.
  State& s = st();
  std::lock_guard lock(s.mutex);
  auto* ev = static_cast<Event*>(e);
  if (s.events.count(ev) == 0) return 400;
  if (ev->stream != nullptr && ev->stream->completed < ev->at) ev->stream->completed = ev->at;
  return 0;
}
int cudaStreamWaitEvent(void* stream, void* e, unsigned) {
  State& s = st();
  std::lock_guard lock(s.mutex);
  auto* ev = static_cast<Event*>(e);
  if (s.events.count(ev) == 0) return 400;
  ++s.waits;
  s.last_wait_stream = stream;
  s.last_wait_event_at_op = ++s.op;
  // The stream's later work waits for the event: one more queued operation on it.
  Stream* x = resolve(stream);
  ++x->queued;
  complete(x);
  return 0;
}
const char* cudaGetErrorString(int e) {
  switch (e) {
    case 2: return "out of memory";
    case 101: return "invalid device ordinal";
    case 400: return "invalid resource handle";
    default: return "fake error";
  }
}

// --- for tests ----------------------------------------------------------------------------
struct FakeCudaCounters {
  int64_t mallocs, frees, live_device_blocks, host_allocs, host_frees, live_host_blocks, copies,
      waits, live_events, live_streams;
};
FakeCudaCounters fake_cuda_counters() {
  State& s = st();
  std::lock_guard lock(s.mutex);
  return {s.mallocs,
          s.frees,
          static_cast<int64_t>(s.device_blocks.size()),
          s.host_allocs,
          s.host_frees,
          static_cast<int64_t>(s.host_blocks.size()),
          s.copies,
          s.waits,
          static_cast<int64_t>(s.events.size()),
          static_cast<int64_t>(s.streams.size())};
}
// Holds (1) or releases (0) a stream's completion; released, it completes what it queued.
void fake_cuda_hold(void* stream, int held) {
  State& s = st();
  std::lock_guard lock(s.mutex);
  Stream* x = resolve(stream);
  x->held = held != 0;
  complete(x);
}
void fake_cuda_fail_next_mallocs(int64_t n) {
  State& s = st();
  std::lock_guard lock(s.mutex);
  s.fail_mallocs = n;
}
// The stream of the last cudaStreamWaitEvent, and whether it came after the last copy.
void* fake_cuda_last_wait_stream(int* after_last_copy) {
  State& s = st();
  std::lock_guard lock(s.mutex);
  *after_last_copy = s.last_wait_event_at_op > s.last_copy_op ? 1 : 0;
  return s.last_wait_stream;
}
// Whether `p` lies in a live device block.
int fake_cuda_is_device_pointer(const void* p) {
  State& s = st();
  std::lock_guard lock(s.mutex);
  auto it = s.device_blocks.upper_bound(const_cast<void*>(p));
  if (it == s.device_blocks.begin()) return 0;
  --it;
  return static_cast<const char*>(p) < static_cast<char*>(it->first) + it->second ? 1 : 0;
}
int fake_cuda_is_host_pointer(const void* p) {
  State& s = st();
  std::lock_guard lock(s.mutex);
  auto it = s.host_blocks.upper_bound(const_cast<void*>(p));
  if (it == s.host_blocks.begin()) return 0;
  --it;
  return static_cast<const char*>(p) < static_cast<char*>(it->first) + it->second ? 1 : 0;
}

}  // extern "C"
