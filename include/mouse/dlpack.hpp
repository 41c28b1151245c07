// Zero-copy export of tensors through DLPack, for PyTorch, JAX, NumPy and CuPy.
#pragma once

#include <dlpack/dlpack.h>

#include "mouse/tensor.hpp"

namespace mouse {

/// The DLPack data type of `dtype`: kDLInt / kDLUInt / kDLFloat with 8..64 bits, one lane.
/// kBool is kDLBool (8 bits) when the DLPack header has it (>= 0.8), else kDLUInt with 8 bits
/// (the system header may be DLPack 0.6, which has no bool code).
DLDataType to_dlpack_dtype(DType dtype) noexcept;

/// Exports `tensor` without copying. The returned DLManagedTensor holds a reference to the
/// tensor's storage owner and its own shape and strides arrays (row-major strides, in elements,
/// always set); the consumer calls its `deleter` exactly once, on any thread, which frees them
/// and drops the reference, so the storage (a heap block, a memory map) lives until both the
/// consumer and every Tensor are done. The device is {kDLCPU, 0}, {kDLCUDAHost, 0} when the
/// tensor's storage is page-locked (Tensor::is_page_locked), or {kDLCUDA, n} for a tensor in
/// the memory of CUDA device n (Tensor::is_cuda). `byte_offset` is 0.
///
/// DLPack 0.6 has no read-only flag: a consumer must not write into the export of a read-only
/// tensor (Tensor::is_writable() false, e.g. a view of a memory-mapped file, which faults);
/// clone() such a tensor first if the consumer needs to write. Throws std::bad_alloc only.
DLManagedTensor* to_dlpack(const Tensor& tensor);

}  // namespace mouse
