// Typed, contiguous, row-major tensors whose storage is shared (like torch.Tensor): the element
// type set, pluggable allocation, and Tensor itself.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "mouse/buffer.hpp"

namespace mouse {

/// Element type of a Tensor. Every type is stored in its natural C++ representation, little-endian;
/// kBool is one byte per element holding 0 or 1.
enum class DType : uint8_t { kBool, kUInt8, kInt32, kInt64, kFloat32, kFloat64 };

/// The dtype's name as torch / numpy / Hugging Face spell it: "bool", "uint8", "int32", "int64",
/// "float32", "float64".
std::string_view dtype_name(DType dtype) noexcept;

/// The inverse of dtype_name. Throws InvalidArgument naming `name` and the accepted names.
DType dtype_from_name(std::string_view name);

/// Bytes per element (1, 1, 4, 8, 4, 8).
int64_t dtype_size(DType dtype) noexcept;

/// The DType stored as C++ type T (bool, uint8_t, int32_t, int64_t, float, double); any other T
/// is a compile error.
template <class T>
constexpr DType dtype_of() {
  using U = std::remove_cv_t<T>;
  if constexpr (std::is_same_v<U, bool>) {
    return DType::kBool;
  } else if constexpr (std::is_same_v<U, uint8_t>) {
    return DType::kUInt8;
  } else if constexpr (std::is_same_v<U, int32_t>) {
    return DType::kInt32;
  } else if constexpr (std::is_same_v<U, int64_t>) {
    return DType::kInt64;
  } else if constexpr (std::is_same_v<U, float>) {
    return DType::kFloat32;
  } else if constexpr (std::is_same_v<U, double>) {
    return DType::kFloat64;
  } else {
    static_assert(!sizeof(U), "mouse::dtype_of: T is not a tensor element type");
  }
}

/// Formats a shape the way error messages print it: "[2, 3]", "[]" for a scalar.
std::string format_shape(std::span<const int64_t> shape);

/// Source of tensor storage. Implementations must be thread-safe: `allocate` may run on several
/// threads at once (the batchifier's workers). The default is a 64-byte-aligned heap allocator;
/// a page-locked (CUDA pinned) allocator plugs in the same way.
class Allocator {
 public:
  virtual ~Allocator() = default;

  /// Returns writable memory of at least `nbytes` bytes (`nbytes` >= 0), aligned to at least
  /// 64 bytes, never null (not even for 0 bytes). The shared_ptr's deleter frees it, on whichever
  /// thread drops the last reference. Throws std::bad_alloc or a mouse::Error on failure.
  virtual std::shared_ptr<void> allocate(int64_t nbytes) const = 0;

  /// A short name for messages, e.g. "aligned-heap".
  virtual std::string_view name() const noexcept = 0;

  /// True when the memory is page-locked host memory registered with CUDA; tensors from this
  /// allocator are then exported through DLPack as kDLCUDAHost instead of kDLCPU.
  virtual bool page_locked() const noexcept { return false; }
};

/// The process-wide default allocator: 64-byte-aligned heap memory (not zeroed), named
/// "aligned-heap". Thread-safe; lives for the whole program.
const Allocator& default_allocator() noexcept;

/// A contiguous row-major tensor of one DType.
///
/// Storage is a (pointer, shared owner) pair. **Copies of a Tensor share its memory**, as in
/// torch: writing through one copy is visible through all of them, and the memory is freed (or a
/// memory map released) when the last Tensor, Buffer or DLPack export holding the owner dies.
/// Use clone() for an independent copy. The owner's reference count is atomic, so tensors may be
/// copied and dropped on any thread; concurrent reads are safe, concurrent writes to the same
/// elements are the caller's business.
///
/// A tensor is read-only (is_writable() false) when it views memory it does not own for writing:
/// every tensor made by from_buffer (memory maps are mapped read-only). The writing accessors
/// (mutable_data, non-const data_as and at) throw InvalidArgument on such a tensor; read through
/// a const Tensor (std::as_const) or clone() it to get a writable copy.
///
/// Accessors that return pointers into the storage are deleted on temporaries, so a pointer cannot
/// outlive the only Tensor keeping its bytes alive; at() on a temporary returns a copy.
class Tensor {
 public:
  /// An empty float32 tensor of shape [0] with no storage.
  Tensor();

  /// Uninitialised storage for `shape` (every dim >= 0; [] is a scalar) from `allocator`.
  /// Throws InvalidArgument for a negative dim or a byte size that overflows int64.
  static Tensor empty(std::vector<int64_t> shape, DType dtype,
                      const Allocator& allocator = default_allocator());

  /// Like empty(), with every byte zeroed (0, false, +0.0).
  static Tensor zeros(std::vector<int64_t> shape, DType dtype,
                      const Allocator& allocator = default_allocator());

  /// Like empty(), with every element set to `value`. For integer dtypes `value` must be integral
  /// and in range, for kBool 0 or 1; floats take inf and NaN too (float32 rounds), but a finite
  /// value beyond float32's range is rejected. Throws InvalidArgument naming the value and dtype.
  static Tensor full(std::vector<int64_t> shape, DType dtype, double value,
                     const Allocator& allocator = default_allocator());

  /// Views the bytes of `buffer` as a tensor of `shape` and `dtype`, without copying, keeping the
  /// buffer's owner (e.g. a MappedFile) alive for as long as the tensor or any copy of it lives.
  /// `buffer.size()` must equal numel * dtype_size, else InvalidArgument (expected vs found). If
  /// the data is not aligned to the element size it is copied instead of viewed (storage_owner()
  /// is then a fresh allocation). For kBool every byte must be 0 or 1 (checked; InvalidArgument
  /// names the first bad byte). The result is read-only whether it views or copies.
  static Tensor from_buffer(const Buffer& buffer, std::vector<int64_t> shape, DType dtype);

  /// A tensor of `shape` and `dtype` over CUDA device memory of device `device` (>= 0) at
  /// `data`, kept alive by `owner` (e.g. a device slot that goes back to its pool when the last
  /// tensor over it dies). No CUDA call is made here. The host cannot read device memory: the
  /// element accessors (data_as, at), clone() and buffer() throw InvalidArgument on it, and
  /// equals() compares storage addresses only. data() is the device address (as torch's
  /// data_ptr()); DLPack exports it as {kDLCUDA, device}.
  static Tensor on_cuda_device(std::vector<int64_t> shape, DType dtype, void* data,
                               std::shared_ptr<const void> owner, int device);

  /// Dimensions, outermost first.
  const std::vector<int64_t>& shape() const noexcept { return shape_; }
  /// Number of dimensions (0 for a scalar).
  int64_t ndim() const noexcept { return static_cast<int64_t>(shape_.size()); }
  /// Element type.
  DType dtype() const noexcept { return dtype_; }
  /// Number of elements (product of shape; 1 for a scalar, 0 if any dim is 0).
  int64_t numel() const noexcept { return numel_; }
  /// numel() * dtype_size(dtype()).
  int64_t nbytes() const noexcept { return numel_ * dtype_size(dtype_); }
  /// False for read-only views (from_buffer); see the class comment.
  bool is_writable() const noexcept { return writable_; }
  /// True when the storage came from a page-locked Allocator (exported as kDLCUDAHost).
  bool is_page_locked() const noexcept { return page_locked_; }
  /// True when the storage is CUDA device memory (on_cuda_device).
  bool is_cuda() const noexcept { return cuda_device_ >= 0; }
  /// The CUDA device of the storage, -1 for host memory.
  int cuda_device() const noexcept { return cuda_device_; }

  /// The first byte of the elements (may be null when numel() is 0).
  const void* data() const& noexcept { return data_; }
  /// Deleted: the pointer would outlive a temporary tensor's storage.
  const void* data() const&& = delete;
  /// Writable pointer to the first byte. Throws InvalidArgument on a read-only tensor.
  void* mutable_data() &;
  /// Deleted: the pointer would outlive a temporary tensor's storage.
  void* mutable_data() && = delete;

  /// The elements as T. Throws TypeError when dtype_of<T>() is not dtype().
  template <class T>
  const T* data_as() const& {
    check_dtype(dtype_of<T>(), "data_as");
    return static_cast<const T*>(static_cast<const void*>(data_));
  }
  /// Writable elements as T. Throws TypeError on a dtype mismatch, InvalidArgument when read-only.
  template <class T>
  T* data_as() & {
    check_dtype(dtype_of<T>(), "data_as");
    check_writable("data_as");
    return static_cast<T*>(static_cast<void*>(data_));
  }
  /// Deleted: the pointer would outlive a temporary tensor's storage.
  template <class T>
  const T* data_as() const&& = delete;
  /// Deleted: the pointer would outlive a temporary tensor's storage.
  template <class T>
  T* data_as() && = delete;

  /// The element at `idx` (one index per dim, each in [0, dim)). Throws TypeError on a dtype
  /// mismatch and IndexError naming the index, the dim and the shape when out of range or when
  /// the number of indices is not ndim().
  template <class T>
  const T& at(std::initializer_list<int64_t> idx) const& {
    check_dtype(dtype_of<T>(), "at");
    return data_as<T>()[element_offset(idx)];
  }
  /// Writable element access; as the const overload, plus InvalidArgument when read-only.
  template <class T>
  T& at(std::initializer_list<int64_t> idx) & {
    check_dtype(dtype_of<T>(), "at");
    int64_t offset = element_offset(idx);
    return data_as<T>()[offset];
  }
  /// On a temporary tensor the element is returned by value (a reference would dangle).
  template <class T>
  T at(std::initializer_list<int64_t> idx) const&& {
    const Tensor& self = *this;
    return self.at<T>(idx);
  }

  /// A deep copy in new, writable storage from `allocator`. InvalidArgument on a CUDA tensor.
  Tensor clone(const Allocator& allocator = default_allocator()) const;

  /// The same storage seen with another shape (no copy; writes show through both). One dim may be
  /// -1 and is inferred. Throws InvalidArgument when the element counts differ, when more than one
  /// dim is -1, for any other negative dim, or when -1 is ambiguous (other dims multiply to 0).
  Tensor reshape(std::vector<int64_t> new_shape) const;

  /// The shared owner of the storage (null for a default-constructed tensor). Holding it keeps
  /// the bytes alive.
  std::shared_ptr<const void> storage_owner() const noexcept { return owner_; }

  /// The elements' bytes as a Buffer sharing the storage owner (for writers and checksums).
  /// Host tensors only: on a CUDA tensor the Buffer would point into device memory.
  Buffer buffer() const noexcept;

  /// True when dtype, shape and every byte are equal (bitwise: NaN payloads compare equal to
  /// themselves, -0.0 differs from +0.0). With a CUDA tensor on either side: true only for
  /// the same dtype, shape, device and storage address (the host cannot read device memory).
  bool equals(const Tensor& other) const noexcept;

 private:
  Tensor(std::vector<int64_t> shape, int64_t numel, DType dtype, uint8_t* data,
         std::shared_ptr<const void> owner, bool writable, bool page_locked);

  void check_dtype(DType requested, const char* accessor) const {
    if (requested != dtype_) throw_dtype_mismatch(requested, accessor);
    if (cuda_device_ >= 0) throw_on_device(accessor);
  }
  void check_writable(const char* accessor) const {
    if (!writable_) throw_read_only(accessor);
  }
  [[noreturn]] void throw_dtype_mismatch(DType requested, const char* accessor) const;
  [[noreturn]] void throw_read_only(const char* accessor) const;
  [[noreturn]] void throw_on_device(const char* accessor) const;
  // Row-major offset of `idx`, bounds-checked (IndexError).
  int64_t element_offset(std::initializer_list<int64_t> idx) const;

  std::vector<int64_t> shape_;
  int64_t numel_;
  DType dtype_;
  bool writable_;
  bool page_locked_;
  int cuda_device_ = -1;
  uint8_t* data_;
  std::shared_ptr<const void> owner_;
};

namespace detail {
/// Validates `shape` (dims >= 0) and returns its element count; throws InvalidArgument naming
/// `what` on a negative dim or when the byte size of `dtype` elements overflows int64.
int64_t checked_numel(std::span<const int64_t> shape, DType dtype, std::string_view what);

/// Resolves `requested` (at most one -1) against `numel` elements taken from `from_shape`.
/// `what` names the thing reshaped in the InvalidArgument message ("tensor", "batch size").
std::vector<int64_t> resolve_reshape(std::span<const int64_t> from_shape, int64_t numel,
                                     std::vector<int64_t> requested, std::string_view what);
}  // namespace detail

}  // namespace mouse
