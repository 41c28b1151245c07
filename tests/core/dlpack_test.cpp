#include "mouse/dlpack.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "mouse/buffer.hpp"
#include "mouse/tensor.hpp"

namespace mouse {
namespace {

// Calls the export's deleter when the test scope ends, as a consumer would.
struct ExportDeleter {
  void operator()(DLManagedTensor* m) const {
    if (m != nullptr && m->deleter != nullptr) m->deleter(m);
  }
};
using ExportPtr = std::unique_ptr<DLManagedTensor, ExportDeleter>;

std::vector<int64_t> dl_shape(const DLTensor& t) { return {t.shape, t.shape + t.ndim}; }
std::vector<int64_t> dl_strides(const DLTensor& t) { return {t.strides, t.strides + t.ndim}; }

template <class T>
class DlpackEveryDType : public ::testing::Test {};
using ElementTypes = ::testing::Types<bool, uint8_t, int32_t, int64_t, float, double>;
TYPED_TEST_SUITE(DlpackEveryDType, ElementTypes);

TYPED_TEST(DlpackEveryDType, ExportsDataShapeStridesDTypeAndDevice) {
  using T = TypeParam;
  Tensor t = Tensor::full({2, 3, 4}, dtype_of<T>(), 1);
  ExportPtr m(to_dlpack(t));
  ASSERT_NE(m, nullptr);
  const DLTensor& dl = m->dl_tensor;
  EXPECT_EQ(dl.data, t.data());
  EXPECT_EQ(dl.device.device_type, kDLCPU);
  EXPECT_EQ(dl.device.device_id, 0);
  EXPECT_EQ(dl.ndim, 3);
  EXPECT_EQ(dl_shape(dl), (std::vector<int64_t>{2, 3, 4}));
  ASSERT_NE(dl.strides, nullptr);
  EXPECT_EQ(dl_strides(dl), (std::vector<int64_t>{12, 4, 1}));
  EXPECT_EQ(dl.byte_offset, 0u);
  EXPECT_EQ(dl.dtype.bits, sizeof(T) * 8);
  EXPECT_EQ(dl.dtype.lanes, 1);
  EXPECT_NE(m->deleter, nullptr);
  EXPECT_EQ(static_cast<const T*>(dl.data)[23], T(1));
}

TEST(Dlpack, DTypeCodes) {
#if defined(DLPACK_MAJOR_VERSION) || (defined(DLPACK_VERSION) && DLPACK_VERSION >= 80)
  EXPECT_EQ(to_dlpack_dtype(DType::kBool).code, kDLBool);
#else
  // DLPack 0.6 (Debian 12) has no bool code: bool goes out as 8-bit unsigned.
  EXPECT_EQ(to_dlpack_dtype(DType::kBool).code, kDLUInt);
#endif
  EXPECT_EQ(to_dlpack_dtype(DType::kBool).bits, 8);
  EXPECT_EQ(to_dlpack_dtype(DType::kUInt8).code, kDLUInt);
  EXPECT_EQ(to_dlpack_dtype(DType::kInt32).code, kDLInt);
  EXPECT_EQ(to_dlpack_dtype(DType::kInt64).code, kDLInt);
  EXPECT_EQ(to_dlpack_dtype(DType::kInt64).bits, 64);
  EXPECT_EQ(to_dlpack_dtype(DType::kFloat32).code, kDLFloat);
  EXPECT_EQ(to_dlpack_dtype(DType::kFloat32).bits, 32);
  EXPECT_EQ(to_dlpack_dtype(DType::kFloat64).code, kDLFloat);
}

TEST(Dlpack, DeleterReleasesStorageOwner) {
  bool freed = false;
  auto* bytes = new double[4]{1, 2, 3, 4};
  std::shared_ptr<const void> owner(bytes, [&freed](double* p) {
    freed = true;
    delete[] p;
  });
  DLManagedTensor* m = nullptr;
  {
    Buffer buffer(reinterpret_cast<const uint8_t*>(bytes), 32, std::move(owner));
    Tensor t = Tensor::from_buffer(buffer, {4}, DType::kFloat64);
    m = to_dlpack(t);
  }
  // Only the export holds the bytes now.
  EXPECT_FALSE(freed);
  EXPECT_EQ(static_cast<const double*>(m->dl_tensor.data)[3], 4.0);
  m->deleter(m);
  EXPECT_TRUE(freed);
}

TEST(Dlpack, ExportsOwnShapeArrayIndependentOfTensor) {
  DLManagedTensor* m = nullptr;
  {
    Tensor t = Tensor::zeros({5, 2}, DType::kInt32);
    m = to_dlpack(t.reshape({-1}));
  }
  EXPECT_EQ(m->dl_tensor.ndim, 1);
  EXPECT_EQ(m->dl_tensor.shape[0], 10);
  EXPECT_EQ(m->dl_tensor.strides[0], 1);
  EXPECT_EQ(static_cast<const int32_t*>(m->dl_tensor.data)[9], 0);
  m->deleter(m);
}

TEST(Dlpack, ZeroSizeTensorExports) {
  Tensor t = Tensor::zeros({0, 3}, DType::kFloat32);
  ExportPtr m(to_dlpack(t));
  EXPECT_EQ(m->dl_tensor.ndim, 2);
  EXPECT_EQ(dl_shape(m->dl_tensor), (std::vector<int64_t>{0, 3}));
  EXPECT_EQ(dl_strides(m->dl_tensor), (std::vector<int64_t>{3, 1}));
  ExportPtr inner(to_dlpack(Tensor::zeros({3, 0}, DType::kInt64)));
  EXPECT_EQ(dl_strides(inner->dl_tensor), (std::vector<int64_t>{1, 1}));
  ExportPtr unowned(to_dlpack(Tensor()));
  EXPECT_EQ(dl_shape(unowned->dl_tensor), (std::vector<int64_t>{0}));
}

TEST(Dlpack, ScalarExportsZeroDims) {
  Tensor t = Tensor::full({}, DType::kInt64, 7);
  ExportPtr m(to_dlpack(t));
  EXPECT_EQ(m->dl_tensor.ndim, 0);
  EXPECT_EQ(*static_cast<const int64_t*>(m->dl_tensor.data), 7);
}

class FakePinnedAllocator final : public Allocator {
 public:
  std::shared_ptr<void> allocate(int64_t nbytes) const override {
    return default_allocator().allocate(nbytes);
  }
  std::string_view name() const noexcept override { return "fake-pinned"; }
  bool page_locked() const noexcept override { return true; }
};

TEST(Dlpack, PageLockedStorageExportsAsCudaHost) {
  FakePinnedAllocator pinned;
  ExportPtr m(to_dlpack(Tensor::zeros({2}, DType::kFloat32, pinned)));
  EXPECT_EQ(m->dl_tensor.device.device_type, kDLCUDAHost);
  EXPECT_EQ(m->dl_tensor.device.device_id, 0);
}

}  // namespace
}  // namespace mouse
