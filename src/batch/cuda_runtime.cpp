#include "batch/cuda_runtime.hpp"

#include <dlfcn.h>
#include <fmt/format.h>

#include <charconv>
#include <cstdlib>
#include <mutex>

#include "mouse/error.hpp"

namespace mouse::detail {

namespace {

template <class F>
bool bind(void* lib, const char* name, F& out, std::string& missing) {
  out = reinterpret_cast<F>(::dlsym(lib, name));
  if (out == nullptr) {
    if (!missing.empty()) missing += ", ";
    missing += name;
  }
  return out != nullptr;
}

int parse_index(std::string_view text, std::string_view whole) {
  int value = -1;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end || value < 0) {
    throw InvalidArgument(fmt::format(
        "device must be \"cpu\", \"cuda\" or \"cuda:N\" with N >= 0, got \"{}\"", whole));
  }
  return value;
}

}  // namespace

void* open_cudart() noexcept {
  for (const char* name :
       {"libcudart.so", "libcudart.so.13", "libcudart.so.12", "libcudart.so.11.0"}) {
    if (void* lib = ::dlopen(name, RTLD_NOW | RTLD_LOCAL)) return lib;
  }
  return nullptr;
}

bool load_cuda_api(CudaApi& api, int& devices, std::string& why) {
  void* lib = open_cudart();
  if (lib == nullptr) {
    why = "libcudart could not be loaded";
    return false;
  }
  CudaApi a;
  std::string missing;
  bind(lib, "cudaGetDeviceCount", a.get_device_count, missing);
  bind(lib, "cudaSetDevice", a.set_device, missing);
  bind(lib, "cudaGetDevice", a.get_device, missing);
  bind(lib, "cudaMalloc", a.malloc, missing);
  bind(lib, "cudaFree", a.free, missing);
  bind(lib, "cudaHostAlloc", a.host_alloc, missing);
  bind(lib, "cudaFreeHost", a.free_host, missing);
  bind(lib, "cudaStreamCreateWithFlags", a.stream_create_with_flags, missing);
  bind(lib, "cudaStreamDestroy", a.stream_destroy, missing);
  bind(lib, "cudaMemcpyAsync", a.memcpy_async, missing);
  bind(lib, "cudaEventCreateWithFlags", a.event_create_with_flags, missing);
  bind(lib, "cudaEventDestroy", a.event_destroy, missing);
  bind(lib, "cudaEventRecord", a.event_record, missing);
  bind(lib, "cudaEventQuery", a.event_query, missing);
  bind(lib, "cudaEventSynchronize", a.event_synchronize, missing);
  bind(lib, "cudaStreamWaitEvent", a.stream_wait_event, missing);
  bind(lib, "cudaGetErrorString", a.get_error_string, missing);
  if (!missing.empty()) {
    why = fmt::format("libcudart lacks {}", missing);
    return false;
  }
  int count = 0;
  if (int err = a.get_device_count(&count); err != kCudaSuccess || count <= 0) {
    why = fmt::format("no CUDA device (cudaGetDeviceCount returned error {}, {} devices)", err,
                      count);
    return false;
  }
  api = a;
  devices = count;
  return true;
}

const CudaApi* cuda_api(int* devices, std::string* why) {
  struct Loaded {
    CudaApi api;
    int devices = 0;
    std::string why;
    bool ok = false;
  };
  static const Loaded loaded = [] {
    Loaded l;
    l.ok = load_cuda_api(l.api, l.devices, l.why);
    return l;
  }();
  if (devices != nullptr) *devices = loaded.devices;
  if (why != nullptr) *why = loaded.why;
  return loaded.ok ? &loaded.api : nullptr;
}

void check_cuda(const CudaApi& api, int error, std::string_view call) {
  if (error == kCudaSuccess) return;
  const char* text = api.get_error_string != nullptr ? api.get_error_string(error) : nullptr;
  throw Error(fmt::format("{} failed: CUDA error {} ({})", call, error,
                          text != nullptr ? text : "no description"));
}

CudaDeviceGuard::CudaDeviceGuard(const CudaApi& api, int device) : api_(api) {
  int current = -1;
  check_cuda(api, api.get_device(&current), "cudaGetDevice");
  if (current != device) {
    if (int err = api.set_device(device); err != kCudaSuccess) {
      check_cuda(api, err, fmt::format("cudaSetDevice({})", device));
    }
    previous_ = current;
  }
}

CudaDeviceGuard::~CudaDeviceGuard() {
  if (previous_ >= 0) api_.set_device(previous_);
}

int parse_device(std::string_view device) {
  if (device == "cpu") return -1;
  if (device == "cuda") {
    const char* local = std::getenv("LOCAL_RANK");
    if (local == nullptr || *local == '\0') return 0;
    std::string_view text(local);
    int value = -1;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || ptr != text.data() + text.size() || value < 0) {
      throw InvalidArgument(fmt::format(
          "device \"cuda\" takes the GPU from LOCAL_RANK, which is \"{}\", not an index >= 0",
          text));
    }
    return value;
  }
  if (device.substr(0, 5) == "cuda:") return parse_index(device.substr(5), device);
  return parse_index("", device);
}

}  // namespace mouse::detail
