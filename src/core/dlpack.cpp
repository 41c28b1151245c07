#include "mouse/dlpack.hpp"

#include <algorithm>
#include <memory>
#include <vector>

namespace mouse {

namespace {

// One allocation holds the managed tensor and everything it points to; manager_ctx points back
// at it so the deleter can free the lot.
struct ExportContext {
  DLManagedTensor managed{};
  std::shared_ptr<const void> owner;
  std::vector<int64_t> shape;
  std::vector<int64_t> strides;
};

void delete_export(DLManagedTensor* self) noexcept {
  if (self != nullptr) delete static_cast<ExportContext*>(self->manager_ctx);
}

}  // namespace

DLDataType to_dlpack_dtype(DType dtype) noexcept {
  DLDataType out{};
  out.lanes = 1;
  out.bits = static_cast<uint8_t>(dtype_size(dtype) * 8);
  switch (dtype) {
    case DType::kBool:
#if defined(DLPACK_MAJOR_VERSION) || (defined(DLPACK_VERSION) && DLPACK_VERSION >= 80)
      out.code = kDLBool;
#else
      out.code = kDLUInt;
#endif
      break;
    case DType::kUInt8: out.code = kDLUInt; break;
    case DType::kInt32:
    case DType::kInt64: out.code = kDLInt; break;
    case DType::kFloat32:
    case DType::kFloat64: out.code = kDLFloat; break;
  }
  return out;
}

DLManagedTensor* to_dlpack(const Tensor& tensor) {
  auto ctx = std::make_unique<ExportContext>();
  ctx->owner = tensor.storage_owner();
  ctx->shape = tensor.shape();
  ctx->strides.assign(ctx->shape.size(), 1);
  // As torch does, a zero dim counts as 1 so strides stay meaningful for zero-size tensors.
  for (size_t i = ctx->shape.size(); i-- > 1;) {
    ctx->strides[i - 1] = ctx->strides[i] * std::max<int64_t>(ctx->shape[i], 1);
  }

  DLTensor& dl = ctx->managed.dl_tensor;
  // DLPack's data field is not const; read-only tensors are documented in the header.
  dl.data = const_cast<void*>(tensor.data());
  if (tensor.is_cuda()) {
    dl.device = DLDevice{kDLCUDA, tensor.cuda_device()};
  } else {
    dl.device = DLDevice{tensor.is_page_locked() ? kDLCUDAHost : kDLCPU, 0};
  }
  dl.ndim = static_cast<int>(ctx->shape.size());
  dl.dtype = to_dlpack_dtype(tensor.dtype());
  dl.shape = ctx->shape.data();
  dl.strides = ctx->strides.data();
  dl.byte_offset = 0;

  ctx->managed.manager_ctx = ctx.get();
  ctx->managed.deleter = &delete_export;
  return &ctx.release()->managed;
}

}  // namespace mouse
