// The CUDA runtime entry points that put batches on a GPU (BatchifierOptions::device), loaded
// from libcudart with dlopen at run time: the build needs no CUDA, and a machine without it
// gets a clear error when it asks for a device.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mouse::detail {

/// cudaError_t values the stager tells apart.
inline constexpr int kCudaSuccess = 0;
inline constexpr int kCudaErrorNotReady = 600;
/// cudaMemcpyHostToDevice.
inline constexpr int kCudaMemcpyHostToDevice = 1;
/// cudaStreamNonBlocking: no implicit ordering with the legacy default stream.
inline constexpr unsigned kCudaStreamNonBlocking = 1;
/// cudaEventDisableTiming: the cheapest kind of event.
inline constexpr unsigned kCudaEventDisableTiming = 2;

/// Function pointers into libcudart (streams and events are opaque handles, as in the
/// runtime's headers). Every call returns a cudaError_t; 0 is success.
struct CudaApi {
  int (*get_device_count)(int* count) = nullptr;
  int (*set_device)(int device) = nullptr;
  int (*get_device)(int* device) = nullptr;
  int (*malloc)(void** ptr, size_t size) = nullptr;
  int (*free)(void* ptr) = nullptr;
  int (*host_alloc)(void** ptr, size_t size, unsigned flags) = nullptr;
  int (*free_host)(void* ptr) = nullptr;
  int (*stream_create_with_flags)(void** stream, unsigned flags) = nullptr;
  int (*stream_destroy)(void* stream) = nullptr;
  int (*memcpy_async)(void* dst, const void* src, size_t count, int kind, void* stream) = nullptr;
  int (*event_create_with_flags)(void** event, unsigned flags) = nullptr;
  int (*event_destroy)(void* event) = nullptr;
  int (*event_record)(void* event, void* stream) = nullptr;
  int (*event_query)(void* event) = nullptr;
  int (*event_synchronize)(void* event) = nullptr;
  int (*stream_wait_event)(void* stream, void* event, unsigned flags) = nullptr;
  const char* (*get_error_string)(int error) = nullptr;
};

/// dlopen of libcudart (libcudart.so, .so.13, .so.12, .so.11.0, the first found), kept loaded
/// for the life of the process (freed memory calls back into it); null when none loads.
void* open_cudart() noexcept;

/// Loads libcudart (libcudart.so, .so.13, .so.12, .so.11.0) with every entry point above and
/// counts the devices. Returns false with the reason in `why` when any step fails. The library
/// stays loaded for the life of the process. Thread-safe.
bool load_cuda_api(CudaApi& api, int& devices, std::string& why);

/// The process-wide runtime (loaded once), or null with the reason in `why`.
const CudaApi* cuda_api(int* devices, std::string* why);

/// Throws mouse::Error naming `call`, the error code and the runtime's description of it when
/// `error` is not cudaSuccess.
void check_cuda(const CudaApi& api, int error, std::string_view call);

/// Makes `device` current on this thread for its lifetime and restores the thread's device
/// after (the caller's thread may be a trainer's, whose current device is its own business).
class CudaDeviceGuard {
 public:
  CudaDeviceGuard(const CudaApi& api, int device);
  ~CudaDeviceGuard();
  CudaDeviceGuard(const CudaDeviceGuard&) = delete;
  CudaDeviceGuard& operator=(const CudaDeviceGuard&) = delete;

 private:
  const CudaApi& api_;
  int previous_ = -1;
};

/// Parses a device name: "cpu" -> -1; "cuda" -> the LOCAL_RANK environment variable when it
/// is set (torchrun and torch.distributed launchers set it: each rank its own GPU), else 0;
/// "cuda:N" -> N. Throws InvalidArgument for anything else (naming the value).
int parse_device(std::string_view device);

}  // namespace mouse::detail
