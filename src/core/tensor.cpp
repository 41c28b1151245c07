#include "mouse/tensor.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <fmt/format.h>

#include "mouse/error.hpp"

namespace mouse {

namespace {

constexpr int64_t kAlignment = 64;

class AlignedHeapAllocator final : public Allocator {
 public:
  std::shared_ptr<void> allocate(int64_t nbytes) const override {
    if (nbytes < 0) {
      throw InvalidArgument(fmt::format("aligned-heap allocator: negative size {}", nbytes));
    }
    auto n = static_cast<uint64_t>(nbytes);
    if (n > std::numeric_limits<size_t>::max() - kAlignment) throw std::bad_alloc();
    // aligned_alloc wants a multiple of the alignment; zero bytes still get a real block so
    // data() is never null for an allocated tensor (some DLPack consumers insist on that).
    size_t rounded = std::max<size_t>(kAlignment, (n + kAlignment - 1) / kAlignment * kAlignment);
    void* p = std::aligned_alloc(kAlignment, rounded);
    if (p == nullptr) throw std::bad_alloc();
    return std::shared_ptr<void>(p, [](void* q) noexcept { std::free(q); });
  }

  std::string_view name() const noexcept override { return "aligned-heap"; }
};

template <class T>
void fill_as(uint8_t* data, int64_t n, T value) {
  std::fill_n(reinterpret_cast<T*>(data), n, value);
}

// Integer dtypes take integral values in [lo, hi); the bounds are exact powers of two as doubles.
void check_integral(double value, double lo, double hi, DType dtype) {
  if (!std::isfinite(value) || value != std::trunc(value) || value < lo || value >= hi) {
    throw InvalidArgument(fmt::format("Tensor::full: value {} is not representable as {}", value,
                                      dtype_name(dtype)));
  }
}

}  // namespace

std::string_view dtype_name(DType dtype) noexcept {
  switch (dtype) {
    case DType::kBool: return "bool";
    case DType::kUInt8: return "uint8";
    case DType::kInt32: return "int32";
    case DType::kInt64: return "int64";
    case DType::kFloat32: return "float32";
    case DType::kFloat64: return "float64";
  }
  return "invalid";
}

DType dtype_from_name(std::string_view name) {
  for (DType d : {DType::kBool, DType::kUInt8, DType::kInt32, DType::kInt64, DType::kFloat32,
                  DType::kFloat64}) {
    if (dtype_name(d) == name) return d;
  }
  throw InvalidArgument(fmt::format(
      "unknown dtype \"{}\"; expected one of bool, uint8, int32, int64, float32, float64", name));
}

int64_t dtype_size(DType dtype) noexcept {
  switch (dtype) {
    case DType::kBool:
    case DType::kUInt8: return 1;
    case DType::kInt32:
    case DType::kFloat32: return 4;
    case DType::kInt64:
    case DType::kFloat64: return 8;
  }
  return 0;
}

std::string format_shape(std::span<const int64_t> shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) out += ", ";
    out += std::to_string(shape[i]);
  }
  out += "]";
  return out;
}

const Allocator& default_allocator() noexcept {
  static const AlignedHeapAllocator allocator;
  return allocator;
}

namespace detail {

int64_t checked_numel(std::span<const int64_t> shape, DType dtype, std::string_view what) {
  int64_t numel = 1;
  bool overflow = false;
  bool has_zero = false;
  for (int64_t d : shape) {
    if (d < 0) {
      throw InvalidArgument(
          fmt::format("{}: negative dimension {} in shape {}", what, d, format_shape(shape)));
    }
    has_zero = has_zero || d == 0;
    overflow = overflow || __builtin_mul_overflow(numel, d, &numel);
  }
  // A zero dim makes the product 0 whatever overflowed before it (a wrapped product can be 0
  // too, so the zero dim itself is what counts).
  if (has_zero) return 0;
  int64_t nbytes = 0;
  if (overflow || __builtin_mul_overflow(numel, dtype_size(dtype), &nbytes)) {
    throw InvalidArgument(fmt::format("{}: shape {} of {} is too large (over 2^63 bytes)", what,
                                      format_shape(shape), dtype_name(dtype)));
  }
  return numel;
}

std::vector<int64_t> resolve_reshape(std::span<const int64_t> from_shape, int64_t numel,
                                     std::vector<int64_t> requested, std::string_view what) {
  auto fail = [&](std::string_view why) -> InvalidArgument {
    return InvalidArgument(fmt::format("reshape: cannot reshape {} of shape {} ({} elements) into "
                                       "{}: {}",
                                       what, format_shape(from_shape), numel,
                                       format_shape(requested), why));
  };
  int64_t inferred = -1;
  int64_t known = 1;
  bool overflow = false;
  for (size_t i = 0; i < requested.size(); ++i) {
    int64_t d = requested[i];
    if (d == -1) {
      if (inferred >= 0) throw fail("only one dimension may be -1");
      inferred = static_cast<int64_t>(i);
    } else if (d < 0) {
      throw fail(fmt::format("dimension {} is negative", d));
    } else {
      overflow = overflow || __builtin_mul_overflow(known, d, &known);
    }
  }
  if (known == 0) overflow = false;
  if (overflow) throw fail("element count mismatch");
  if (inferred >= 0) {
    if (known == 0) throw fail("the -1 dimension is ambiguous because the other dimensions are 0");
    if (numel % known != 0) throw fail("element count mismatch");
    requested[static_cast<size_t>(inferred)] = numel / known;
  } else if (known != numel) {
    throw fail("element count mismatch");
  }
  return requested;
}

}  // namespace detail

Tensor::Tensor() : Tensor({0}, 0, DType::kFloat32, nullptr, nullptr, true, false) {}

Tensor::Tensor(std::vector<int64_t> shape, int64_t numel, DType dtype, uint8_t* data,
               std::shared_ptr<const void> owner, bool writable, bool page_locked)
    : shape_(std::move(shape)),
      numel_(numel),
      dtype_(dtype),
      writable_(writable),
      page_locked_(page_locked),
      data_(data),
      owner_(std::move(owner)) {}

Tensor Tensor::empty(std::vector<int64_t> shape, DType dtype, const Allocator& allocator) {
  int64_t numel = detail::checked_numel(shape, dtype, "Tensor::empty");
  int64_t nbytes = numel * dtype_size(dtype);
  std::shared_ptr<void> memory = allocator.allocate(nbytes);
  if (memory == nullptr) {
    throw InvalidArgument(fmt::format("allocator \"{}\" returned null for {} bytes",
                                      allocator.name(), nbytes));
  }
  if (reinterpret_cast<uintptr_t>(memory.get()) % kAlignment != 0) {
    throw InvalidArgument(fmt::format("allocator \"{}\" returned memory not aligned to {} bytes",
                                      allocator.name(), kAlignment));
  }
  auto* data = static_cast<uint8_t*>(memory.get());
  return Tensor(std::move(shape), numel, dtype, data, std::move(memory), true,
                allocator.page_locked());
}

Tensor Tensor::zeros(std::vector<int64_t> shape, DType dtype, const Allocator& allocator) {
  Tensor t = empty(std::move(shape), dtype, allocator);
  if (t.nbytes() > 0) std::memset(t.data_, 0, static_cast<size_t>(t.nbytes()));
  return t;
}

Tensor Tensor::full(std::vector<int64_t> shape, DType dtype, double value,
                    const Allocator& allocator) {
  // Validate before allocating: a bad value must not cost a (possibly pinned) allocation.
  switch (dtype) {
    case DType::kBool:
      if (value != 0.0 && value != 1.0) {
        throw InvalidArgument(
            fmt::format("Tensor::full: value {} is not representable as bool (0 or 1)", value));
      }
      break;
    case DType::kUInt8: check_integral(value, 0.0, 256.0, dtype); break;
    case DType::kInt32: check_integral(value, -2147483648.0, 2147483648.0, dtype); break;
    case DType::kInt64:
      check_integral(value, -9223372036854775808.0, 9223372036854775808.0, dtype);
      break;
    case DType::kFloat32:
      if (std::isfinite(value) && std::fabs(value) > std::numeric_limits<float>::max()) {
        throw InvalidArgument(
            fmt::format("Tensor::full: value {} is out of range for float32", value));
      }
      break;
    case DType::kFloat64: break;
  }
  Tensor t = empty(std::move(shape), dtype, allocator);
  switch (dtype) {
    case DType::kBool: fill_as<bool>(t.data_, t.numel_, value != 0.0); break;
    case DType::kUInt8: fill_as<uint8_t>(t.data_, t.numel_, static_cast<uint8_t>(value)); break;
    case DType::kInt32: fill_as<int32_t>(t.data_, t.numel_, static_cast<int32_t>(value)); break;
    case DType::kInt64: fill_as<int64_t>(t.data_, t.numel_, static_cast<int64_t>(value)); break;
    case DType::kFloat32: fill_as<float>(t.data_, t.numel_, static_cast<float>(value)); break;
    case DType::kFloat64: fill_as<double>(t.data_, t.numel_, value); break;
  }
  return t;
}

Tensor Tensor::from_buffer(const Buffer& buffer, std::vector<int64_t> shape, DType dtype) {
  int64_t numel = detail::checked_numel(shape, dtype, "Tensor::from_buffer");
  int64_t nbytes = numel * dtype_size(dtype);
  if (buffer.size() != nbytes) {
    throw InvalidArgument(fmt::format("Tensor::from_buffer: shape {} of {} needs {} bytes, the "
                                      "buffer has {}",
                                      format_shape(shape), dtype_name(dtype), nbytes,
                                      buffer.size()));
  }
  if (dtype == DType::kBool) {
    // Any byte other than 0 or 1 read as bool is undefined behaviour, so reject it up front.
    const uint8_t* bytes = buffer.data();
    for (int64_t i = 0; i < nbytes; ++i) {
      if (bytes[i] > 1) {
        throw InvalidArgument(fmt::format(
            "Tensor::from_buffer: bool element {} holds byte {}, expected 0 or 1", i, bytes[i]));
      }
    }
  }
  auto address = reinterpret_cast<uintptr_t>(buffer.data());
  if (address % static_cast<uintptr_t>(dtype_size(dtype)) == 0) {
    return Tensor(std::move(shape), numel, dtype, const_cast<uint8_t*>(buffer.data()),
                  buffer.owner(), false, false);
  }
  // Misaligned typed loads are undefined behaviour (and slow): copy instead of viewing.
  Tensor copy = empty(std::move(shape), dtype);
  if (nbytes > 0) std::memcpy(copy.data_, buffer.data(), static_cast<size_t>(nbytes));
  copy.writable_ = false;
  return copy;
}

void* Tensor::mutable_data() & {
  check_writable("mutable_data");
  return data_;
}

Tensor Tensor::on_cuda_device(std::vector<int64_t> shape, DType dtype, void* data,
                              std::shared_ptr<const void> owner, int device) {
  if (device < 0) {
    throw InvalidArgument(
        fmt::format("Tensor::on_cuda_device: device must be >= 0, got {}", device));
  }
  int64_t numel = detail::checked_numel(shape, dtype, "Tensor::on_cuda_device");
  Tensor t(std::move(shape), numel, dtype, static_cast<uint8_t*>(data), std::move(owner), true,
           false);
  t.cuda_device_ = device;
  return t;
}

Tensor Tensor::clone(const Allocator& allocator) const {
  if (cuda_device_ >= 0) throw_on_device("clone");
  Tensor copy = empty(shape_, dtype_, allocator);
  if (numel_ > 0) std::memcpy(copy.data_, data_, static_cast<size_t>(nbytes()));
  return copy;
}

Tensor Tensor::reshape(std::vector<int64_t> new_shape) const {
  std::vector<int64_t> resolved =
      detail::resolve_reshape(shape_, numel_, std::move(new_shape), "tensor");
  Tensor view(std::move(resolved), numel_, dtype_, data_, owner_, writable_, page_locked_);
  view.cuda_device_ = cuda_device_;
  return view;
}

Buffer Tensor::buffer() const noexcept { return Buffer(data_, nbytes(), owner_); }

bool Tensor::equals(const Tensor& other) const noexcept {
  if (dtype_ != other.dtype_ || shape_ != other.shape_) return false;
  if (cuda_device_ >= 0 || other.cuda_device_ >= 0) {
    return cuda_device_ == other.cuda_device_ && (numel_ == 0 || data_ == other.data_);
  }
  if (numel_ == 0 || data_ == other.data_) return true;
  return std::memcmp(data_, other.data_, static_cast<size_t>(nbytes())) == 0;
}

void Tensor::throw_dtype_mismatch(DType requested, const char* accessor) const {
  throw TypeError(fmt::format("Tensor::{}: requested {} elements but the tensor holds {}",
                              accessor, dtype_name(requested), dtype_name(dtype_)));
}

void Tensor::throw_read_only(const char* accessor) const {
  throw InvalidArgument(fmt::format("Tensor::{}: the tensor is a read-only view (from_buffer); "
                                    "read it through a const Tensor or clone() it to write",
                                    accessor));
}

void Tensor::throw_on_device(const char* accessor) const {
  throw InvalidArgument(fmt::format("Tensor::{}: the tensor is in the memory of CUDA device {}, "
                                    "which the host cannot read; copy it to the host (e.g. "
                                    "through DLPack and torch) first",
                                    accessor, cuda_device_));
}

int64_t Tensor::element_offset(std::initializer_list<int64_t> idx) const {
  if (idx.size() != shape_.size()) {
    throw IndexError(fmt::format("Tensor::at: got {} indices for a tensor of {} dimensions "
                                 "(shape {})",
                                 idx.size(), shape_.size(), format_shape(shape_)));
  }
  int64_t offset = 0;
  size_t dim = 0;
  for (int64_t i : idx) {
    int64_t size = shape_[dim];
    if (i < 0 || i >= size) {
      throw IndexError(fmt::format("Tensor::at: index {} is out of range for dimension {} of size "
                                   "{} (shape {})",
                                   i, dim, size, format_shape(shape_)));
    }
    offset = offset * size + i;
    ++dim;
  }
  return offset;
}

}  // namespace mouse
