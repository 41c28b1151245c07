#include "mouse/tensor.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "mouse/buffer.hpp"
#include "mouse/error.hpp"
#include "test_support.hpp"

namespace mouse {
namespace {

// Asserts both the exception type and a substring of its message.
#define MOUSE_EXPECT_THROW_WITH(statement, type, needle)                                   \
  EXPECT_THROW(                                                                           \
      {                                                                                   \
        try {                                                                             \
          statement;                                                                      \
        } catch (const type& e_) {                                                        \
          EXPECT_NE(std::string(e_.what()).find(needle), std::string::npos) << e_.what(); \
          throw;                                                                          \
        }                                                                                 \
      },                                                                                  \
      type)

// Pointers and references into storage must not be obtainable from a temporary Tensor; at() on
// a temporary returns the element by value.
template <class T>
concept HasData = requires(T&& t) { std::forward<T>(t).data(); };
template <class T>
concept HasMutableData = requires(T&& t) { std::forward<T>(t).mutable_data(); };
template <class T>
concept HasDataAs = requires(T&& t) { std::forward<T>(t).template data_as<float>(); };
static_assert(HasData<Tensor&> && HasData<const Tensor&> && !HasData<Tensor> &&
              !HasData<const Tensor>);
static_assert(HasMutableData<Tensor&> && !HasMutableData<Tensor> && !HasMutableData<const Tensor&>);
static_assert(HasDataAs<Tensor&> && HasDataAs<const Tensor&> && !HasDataAs<Tensor>);
static_assert(std::is_same_v<decltype(std::declval<Tensor&>().at<float>({0})), float&>);
static_assert(std::is_same_v<decltype(std::declval<const Tensor&>().at<float>({0})), const float&>);
static_assert(std::is_same_v<decltype(std::declval<Tensor>().at<float>({0})), float>);
static_assert(std::is_same_v<decltype(std::declval<const Tensor>().at<float>({0})), float>);

static_assert(dtype_of<bool>() == DType::kBool);
static_assert(dtype_of<uint8_t>() == DType::kUInt8);
static_assert(dtype_of<int32_t>() == DType::kInt32);
static_assert(dtype_of<const int64_t>() == DType::kInt64);
static_assert(dtype_of<float>() == DType::kFloat32);
static_assert(dtype_of<double>() == DType::kFloat64);

// A buffer over a heap array of `values` whose owner sets `*freed` when it is destroyed.
template <class T>
Buffer flagged_buffer(const std::vector<T>& values, bool* freed) {
  T* array = new T[values.size()];
  std::copy(values.begin(), values.end(), array);
  std::shared_ptr<const void> owner(array, [freed](T* p) {
    *freed = true;
    delete[] p;
  });
  return Buffer(reinterpret_cast<const uint8_t*>(array),
                static_cast<int64_t>(values.size() * sizeof(T)), std::move(owner));
}

bool is_aligned(const void* p, uintptr_t alignment) {
  return reinterpret_cast<uintptr_t>(p) % alignment == 0;
}

TEST(DType, NamesAndSizes) {
  EXPECT_EQ(dtype_name(DType::kBool), "bool");
  EXPECT_EQ(dtype_name(DType::kUInt8), "uint8");
  EXPECT_EQ(dtype_name(DType::kInt32), "int32");
  EXPECT_EQ(dtype_name(DType::kInt64), "int64");
  EXPECT_EQ(dtype_name(DType::kFloat32), "float32");
  EXPECT_EQ(dtype_name(DType::kFloat64), "float64");
  EXPECT_EQ(dtype_size(DType::kBool), 1);
  EXPECT_EQ(dtype_size(DType::kUInt8), 1);
  EXPECT_EQ(dtype_size(DType::kInt32), 4);
  EXPECT_EQ(dtype_size(DType::kInt64), 8);
  EXPECT_EQ(dtype_size(DType::kFloat32), 4);
  EXPECT_EQ(dtype_size(DType::kFloat64), 8);
}

TEST(DType, FromNameRoundTripsAndRejectsUnknownNames) {
  for (DType d : {DType::kBool, DType::kUInt8, DType::kInt32, DType::kInt64, DType::kFloat32,
                  DType::kFloat64}) {
    EXPECT_EQ(dtype_from_name(dtype_name(d)), d);
  }
  MOUSE_EXPECT_THROW_WITH(dtype_from_name("float16"), InvalidArgument, "unknown dtype \"float16\"");
}

TEST(FormatShape, PrintsBracketedList) {
  EXPECT_EQ(format_shape(std::vector<int64_t>{2, 3}), "[2, 3]");
  EXPECT_EQ(format_shape(std::vector<int64_t>{}), "[]");
}

// ---- every dtype ----

template <class T>
class TensorEveryDType : public ::testing::Test {};
using ElementTypes = ::testing::Types<bool, uint8_t, int32_t, int64_t, float, double>;
TYPED_TEST_SUITE(TensorEveryDType, ElementTypes);

TYPED_TEST(TensorEveryDType, ZerosHaveShapeSizeAndZeroedAlignedStorage) {
  using T = TypeParam;
  Tensor t = Tensor::zeros({2, 3}, dtype_of<T>());
  EXPECT_EQ(t.shape(), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(t.ndim(), 2);
  EXPECT_EQ(t.dtype(), dtype_of<T>());
  EXPECT_EQ(t.numel(), 6);
  EXPECT_EQ(t.nbytes(), 6 * static_cast<int64_t>(sizeof(T)));
  EXPECT_TRUE(t.is_writable());
  EXPECT_FALSE(t.is_page_locked());
  EXPECT_TRUE(is_aligned(t.data(), 64));
  for (int64_t i = 0; i < t.numel(); ++i) EXPECT_EQ(t.data_as<T>()[i], T(0));
}

TYPED_TEST(TensorEveryDType, FullSetsEveryElement) {
  using T = TypeParam;
  Tensor t = Tensor::full({4}, dtype_of<T>(), 1.0);
  for (int64_t i = 0; i < 4; ++i) EXPECT_EQ(t.at<T>({i}), T(1));
}

TYPED_TEST(TensorEveryDType, AtWritesRowMajorElements) {
  using T = TypeParam;
  Tensor t = Tensor::zeros({2, 3}, dtype_of<T>());
  t.at<T>({1, 2}) = T(1);
  EXPECT_EQ(t.data_as<T>()[5], T(1));
  EXPECT_EQ(std::as_const(t).at<T>({1, 2}), T(1));
  EXPECT_EQ(t.at<T>({0, 2}), T(0));
}

TYPED_TEST(TensorEveryDType, CloneIsIndependent) {
  using T = TypeParam;
  Tensor original = Tensor::zeros({3}, dtype_of<T>());
  Tensor copy = original.clone();
  EXPECT_NE(copy.data(), original.data());
  EXPECT_NE(copy.storage_owner(), original.storage_owner());
  copy.at<T>({1}) = T(1);
  EXPECT_EQ(original.at<T>({1}), T(0));
  EXPECT_EQ(copy.at<T>({1}), T(1));
}

TYPED_TEST(TensorEveryDType, FromBufferViewsTheBytes) {
  using T = TypeParam;
  std::vector<T> values = {T(1), T(0), T(1), T(1)};
  bool freed = false;
  Buffer buffer = flagged_buffer(values, &freed);
  Tensor t = Tensor::from_buffer(buffer, {2, 2}, dtype_of<T>());
  EXPECT_EQ(t.data(), static_cast<const void*>(buffer.data()));
  EXPECT_EQ(t.storage_owner(), buffer.owner());
  EXPECT_FALSE(t.is_writable());
  const Tensor& view = t;
  EXPECT_EQ(view.at<T>({1, 0}), T(1));
  EXPECT_EQ(view.at<T>({0, 1}), T(0));
}

// ---- typed access errors ----

TEST(Tensor, DataAsRejectsWrongDType) {
  Tensor t = Tensor::zeros({2}, DType::kFloat32);
  MOUSE_EXPECT_THROW_WITH(t.data_as<int32_t>(), TypeError, "requested int32");
  MOUSE_EXPECT_THROW_WITH(std::as_const(t).data_as<double>(), TypeError, "holds float32");
  MOUSE_EXPECT_THROW_WITH(t.at<int64_t>({0}), TypeError, "requested int64");
}

TEST(Tensor, AtRejectsOutOfRangeIndexNamingIndexAndDim) {
  Tensor t = Tensor::zeros({2, 3}, DType::kInt64);
  MOUSE_EXPECT_THROW_WITH(t.at<int64_t>({1, 3}), IndexError,
                          "index 3 is out of range for dimension 1 of size 3 (shape [2, 3])");
  MOUSE_EXPECT_THROW_WITH(t.at<int64_t>({2, 0}), IndexError, "index 2 is out of range for dimension 0");
  MOUSE_EXPECT_THROW_WITH(std::as_const(t).at<int64_t>({-1, 0}), IndexError,
                          "index -1 is out of range for dimension 0");
}

TEST(Tensor, AtRejectsWrongNumberOfIndices) {
  Tensor t = Tensor::zeros({2, 3}, DType::kInt64);
  MOUSE_EXPECT_THROW_WITH(t.at<int64_t>({1}), IndexError, "got 1 indices for a tensor of 2 dimensions");
  MOUSE_EXPECT_THROW_WITH(t.at<int64_t>({0, 0, 0}), IndexError, "got 3 indices");
}

TEST(Tensor, ScalarHasOneElementAndEmptyIndex) {
  Tensor t = Tensor::full({}, DType::kFloat64, 2.5);
  EXPECT_EQ(t.ndim(), 0);
  EXPECT_EQ(t.numel(), 1);
  EXPECT_EQ(t.nbytes(), 8);
  EXPECT_EQ(t.at<double>({}), 2.5);
}

TEST(Tensor, DefaultConstructedIsEmptyFloat32) {
  Tensor t;
  EXPECT_EQ(t.shape(), (std::vector<int64_t>{0}));
  EXPECT_EQ(t.dtype(), DType::kFloat32);
  EXPECT_EQ(t.numel(), 0);
  EXPECT_EQ(t.nbytes(), 0);
  EXPECT_EQ(t.storage_owner(), nullptr);
}

// ---- sharing ----

TEST(Tensor, CopiesShareStorage) {
  Tensor a = Tensor::zeros({4}, DType::kInt32);
  Tensor b = a;
  b.at<int32_t>({2}) = 7;
  EXPECT_EQ(a.at<int32_t>({2}), 7);
  EXPECT_EQ(a.storage_owner(), b.storage_owner());
}

TEST(Tensor, BufferSharesStorageOwner) {
  Tensor t = Tensor::full({3}, DType::kInt32, 5);
  Buffer b = t.buffer();
  EXPECT_EQ(b.data(), static_cast<const uint8_t*>(t.data()));
  EXPECT_EQ(b.size(), 12);
  EXPECT_EQ(b.owner(), t.storage_owner());
}

// ---- reshape ----

TEST(Tensor, ReshapeSharesStorage) {
  Tensor t = Tensor::zeros({2, 3}, DType::kFloat32);
  Tensor r = t.reshape({3, 2});
  EXPECT_EQ(r.shape(), (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(r.data(), t.data());
  r.at<float>({2, 1}) = 4.0f;
  EXPECT_EQ(t.at<float>({1, 2}), 4.0f);
}

TEST(Tensor, ReshapeInfersOneMinusOneDim) {
  Tensor t = Tensor::zeros({2, 3, 4}, DType::kUInt8);
  EXPECT_EQ(t.reshape({-1}).shape(), (std::vector<int64_t>{24}));
  EXPECT_EQ(t.reshape({6, -1}).shape(), (std::vector<int64_t>{6, 4}));
  EXPECT_EQ(t.reshape({-1, 2, 3}).shape(), (std::vector<int64_t>{4, 2, 3}));
  EXPECT_EQ(Tensor::zeros({}, DType::kUInt8).reshape({1, 1}).shape(), (std::vector<int64_t>{1, 1}));
}

TEST(Tensor, ReshapeRejectsElementCountMismatch) {
  Tensor t = Tensor::zeros({2, 3}, DType::kFloat32);
  MOUSE_EXPECT_THROW_WITH(t.reshape({4, 2}), InvalidArgument,
                          "cannot reshape tensor of shape [2, 3] (6 elements) into [4, 2]");
  MOUSE_EXPECT_THROW_WITH(t.reshape({4, -1}), InvalidArgument, "element count mismatch");
}

TEST(Tensor, ReshapeRejectsBadMinusOnes) {
  Tensor t = Tensor::zeros({2, 3}, DType::kFloat32);
  MOUSE_EXPECT_THROW_WITH(t.reshape({-1, -1}), InvalidArgument, "only one dimension may be -1");
  MOUSE_EXPECT_THROW_WITH(t.reshape({-2, -3}), InvalidArgument, "dimension -2 is negative");
  Tensor zero = Tensor::zeros({0, 3}, DType::kFloat32);
  MOUSE_EXPECT_THROW_WITH(zero.reshape({-1, 0}), InvalidArgument, "ambiguous");
}

// ---- construction errors and zero size ----

TEST(Tensor, EmptyRejectsNegativeDimension) {
  MOUSE_EXPECT_THROW_WITH(Tensor::empty({2, -1}, DType::kFloat32), InvalidArgument,
                          "negative dimension -1 in shape [2, -1]");
}

TEST(Tensor, EmptyRejectsOverflowingShape) {
  int64_t big = int64_t{1} << 40;
  MOUSE_EXPECT_THROW_WITH(Tensor::empty({big, big}, DType::kUInt8), InvalidArgument, "too large");
  MOUSE_EXPECT_THROW_WITH(Tensor::empty({int64_t{1} << 61}, DType::kFloat64), InvalidArgument,
                          "too large");
  EXPECT_EQ(Tensor::empty({big, big, 0}, DType::kUInt8).numel(), 0);
}

TEST(Tensor, ZeroSizeTensorsWork) {
  Tensor t = Tensor::zeros({0, 3}, DType::kFloat64);
  EXPECT_EQ(t.numel(), 0);
  EXPECT_EQ(t.nbytes(), 0);
  EXPECT_NE(t.data(), nullptr);
  Tensor c = t.clone();
  EXPECT_TRUE(c.equals(t));
  EXPECT_EQ(t.reshape({-1, 3}).shape(), (std::vector<int64_t>{0, 3}));
  EXPECT_EQ(t.reshape({3, 0, 5}).shape(), (std::vector<int64_t>{3, 0, 5}));
  EXPECT_EQ(Tensor::full({0}, DType::kInt32, 3).numel(), 0);
  MOUSE_EXPECT_THROW_WITH(t.at<double>({0, 0}), IndexError, "out of range for dimension 0 of size 0");
  Tensor viewed = Tensor::from_buffer(Buffer(), {0}, DType::kInt64);
  EXPECT_EQ(viewed.numel(), 0);
}

TEST(Tensor, FullRejectsUnrepresentableValues) {
  MOUSE_EXPECT_THROW_WITH(Tensor::full({1}, DType::kInt32, 1.5), InvalidArgument,
                          "value 1.5 is not representable as int32");
  MOUSE_EXPECT_THROW_WITH(Tensor::full({1}, DType::kUInt8, 256), InvalidArgument, "uint8");
  MOUSE_EXPECT_THROW_WITH(Tensor::full({1}, DType::kUInt8, -1), InvalidArgument, "uint8");
  MOUSE_EXPECT_THROW_WITH(Tensor::full({1}, DType::kInt64, std::nan("")), InvalidArgument, "int64");
  MOUSE_EXPECT_THROW_WITH(Tensor::full({1}, DType::kInt64, 9223372036854775808.0), InvalidArgument,
                          "int64");
  MOUSE_EXPECT_THROW_WITH(Tensor::full({1}, DType::kBool, 2), InvalidArgument, "bool");
  MOUSE_EXPECT_THROW_WITH(Tensor::full({1}, DType::kFloat32, 1e300), InvalidArgument,
                          "out of range for float32");
}

TEST(Tensor, FullAcceptsExtremeValues) {
  float ninf = -std::numeric_limits<float>::infinity();
  EXPECT_EQ(Tensor::full({2}, DType::kFloat32, -INFINITY).at<float>({1}), ninf);
  EXPECT_TRUE(std::isnan(Tensor::full({1}, DType::kFloat64, NAN).at<double>({0})));
  EXPECT_EQ(Tensor::full({1}, DType::kInt64, -9223372036854775808.0).at<int64_t>({0}),
            std::numeric_limits<int64_t>::min());
  EXPECT_EQ(Tensor::full({1}, DType::kUInt8, 255).at<uint8_t>({0}), 255);
  EXPECT_EQ(Tensor::full({1}, DType::kInt32, -2147483648.0).at<int32_t>({0}),
            std::numeric_limits<int32_t>::min());
}

TEST(Tensor, EqualsComparesDTypeShapeAndBytes) {
  Tensor a = Tensor::full({2, 2}, DType::kInt32, 1);
  EXPECT_TRUE(a.equals(a.clone()));
  EXPECT_FALSE(a.equals(a.reshape({4})));
  EXPECT_FALSE(a.equals(Tensor::full({2, 2}, DType::kFloat32, 1)));
  Tensor b = a.clone();
  b.at<int32_t>({1, 1}) = 2;
  EXPECT_FALSE(a.equals(b));
  EXPECT_FALSE(Tensor::full({1}, DType::kFloat32, 0.0).equals(Tensor::full({1}, DType::kFloat32, -0.0)));
}

// ---- from_buffer ----

TEST(Tensor, FromBufferKeepsOwnerAliveAfterBufferIsDropped) {
  bool freed = false;
  std::optional<Buffer> buffer = flagged_buffer(std::vector<float>{1.f, 2.f, 3.f, 4.f}, &freed);
  Tensor t = Tensor::from_buffer(*buffer, {4}, DType::kFloat32);
  buffer.reset();
  EXPECT_FALSE(freed);
  EXPECT_EQ(std::as_const(t).at<float>({3}), 4.f);
  Tensor reshaped = t.reshape({2, 2});
  t = Tensor();
  EXPECT_FALSE(freed);
  EXPECT_EQ(std::as_const(reshaped).at<float>({1, 0}), 3.f);
  reshaped = Tensor();
  EXPECT_TRUE(freed);
}

TEST(Tensor, FromBufferIsReadOnly) {
  bool freed = false;
  Buffer buffer = flagged_buffer(std::vector<int64_t>{1, 2}, &freed);
  Tensor t = Tensor::from_buffer(buffer, {2}, DType::kInt64);
  EXPECT_FALSE(t.is_writable());
  MOUSE_EXPECT_THROW_WITH(t.mutable_data(), InvalidArgument, "read-only view");
  MOUSE_EXPECT_THROW_WITH(t.data_as<int64_t>(), InvalidArgument, "read-only view");
  MOUSE_EXPECT_THROW_WITH(t.at<int64_t>({0}), InvalidArgument, "read-only view");
  EXPECT_EQ(std::as_const(t).at<int64_t>({1}), 2);
  Tensor writable = t.clone();
  EXPECT_TRUE(writable.is_writable());
  writable.at<int64_t>({0}) = 9;
  EXPECT_EQ(std::as_const(t).at<int64_t>({0}), 1);
}

TEST(Tensor, FromBufferCopiesMisalignedData) {
  bool freed = false;
  std::vector<uint8_t> bytes(1 + 4 * sizeof(float));
  const float values[4] = {1.5f, -2.f, 3.25f, 8.f};
  // new[] returns blocks aligned to at least 16, so offset 1 is misaligned.
  std::memcpy(bytes.data() + 1, values, sizeof(values));
  std::optional<Buffer> whole = flagged_buffer(bytes, &freed);
  Buffer misaligned = whole->slice(1, 4 * sizeof(float));
  whole.reset();
  ASSERT_FALSE(is_aligned(misaligned.data(), alignof(float)));

  Tensor t = Tensor::from_buffer(misaligned, {4}, DType::kFloat32);
  EXPECT_NE(t.data(), static_cast<const void*>(misaligned.data()));
  EXPECT_NE(t.storage_owner(), misaligned.owner());
  EXPECT_TRUE(is_aligned(t.data(), alignof(float)));
  EXPECT_FALSE(t.is_writable());
  for (int64_t i = 0; i < 4; ++i) EXPECT_EQ(std::as_const(t).at<float>({i}), values[i]);

  misaligned = Buffer();
  EXPECT_TRUE(freed);  // the copy does not hold the original bytes
  EXPECT_EQ(std::as_const(t).at<float>({2}), 3.25f);
}

TEST(Tensor, FromBufferRejectsWrongSize) {
  Buffer buffer = Buffer::allocate(20);
  MOUSE_EXPECT_THROW_WITH(Tensor::from_buffer(buffer, {2, 3}, DType::kFloat32), InvalidArgument,
                          "shape [2, 3] of float32 needs 24 bytes, the buffer has 20");
  MOUSE_EXPECT_THROW_WITH(Tensor::from_buffer(buffer, {2}, DType::kFloat32), InvalidArgument,
                          "needs 8 bytes");
}

TEST(Tensor, FromBufferRejectsBoolBytesOtherThanZeroOrOne) {
  std::vector<uint8_t> bytes = {0, 1, 2, 1};
  Buffer buffer = Buffer::copy_of(bytes);
  MOUSE_EXPECT_THROW_WITH(Tensor::from_buffer(buffer, {4}, DType::kBool), InvalidArgument,
                          "bool element 2 holds byte 2");
  EXPECT_NO_THROW(Tensor::from_buffer(buffer, {4}, DType::kUInt8));
}

TEST(Tensor, FromBufferViewsMemoryMapAfterMapIsDropped) {
  test::TempDir dir;
  std::vector<double> values = {0.5, 1.5, 2.5, 3.5, 4.5, 5.5};
  write_file_atomically(dir / "values.bin",
                        {reinterpret_cast<const uint8_t*>(values.data()), values.size() * 8});
  std::shared_ptr<MappedFile> map = MappedFile::open(dir / "values.bin");
  std::weak_ptr<MappedFile> weak = map;
  Tensor t = Tensor::from_buffer(map->buffer(), {2, 3}, DType::kFloat64);
  EXPECT_EQ(t.data(), static_cast<const void*>(map->buffer().data()));  // viewed, not copied
  map.reset();
  EXPECT_FALSE(weak.expired());
  EXPECT_EQ(std::as_const(t).at<double>({1, 2}), 5.5);
  t = Tensor();
  EXPECT_TRUE(weak.expired());
}

// ---- allocators ----

class CountingPinnedAllocator final : public Allocator {
 public:
  std::shared_ptr<void> allocate(int64_t nbytes) const override {
    ++calls;
    last_nbytes = nbytes;
    return default_allocator().allocate(nbytes);
  }
  std::string_view name() const noexcept override { return "counting-pinned"; }
  bool page_locked() const noexcept override { return true; }

  mutable int calls = 0;
  mutable int64_t last_nbytes = -1;
};

class MisalignedAllocator final : public Allocator {
 public:
  std::shared_ptr<void> allocate(int64_t nbytes) const override {
    auto block = default_allocator().allocate(nbytes + 8);
    return std::shared_ptr<void>(block, static_cast<uint8_t*>(block.get()) + 8);
  }
  std::string_view name() const noexcept override { return "misaligned"; }
};

TEST(Allocator, DefaultIsNamedAlignedAndNeverNull) {
  const Allocator& a = default_allocator();
  EXPECT_EQ(a.name(), "aligned-heap");
  EXPECT_FALSE(a.page_locked());
  for (int64_t n : {0, 1, 63, 64, 1000}) {
    std::shared_ptr<void> p = a.allocate(n);
    ASSERT_NE(p, nullptr);
    EXPECT_TRUE(is_aligned(p.get(), 64));
  }
  MOUSE_EXPECT_THROW_WITH(a.allocate(-1), InvalidArgument, "negative size -1");
}

TEST(Allocator, CustomAllocatorIsUsedAndMarksPageLocked) {
  CountingPinnedAllocator pinned;
  Tensor t = Tensor::zeros({3, 5}, DType::kInt64, pinned);
  EXPECT_EQ(pinned.calls, 1);
  EXPECT_EQ(pinned.last_nbytes, 120);
  EXPECT_TRUE(t.is_page_locked());
  EXPECT_TRUE(t.reshape({-1}).is_page_locked());
  EXPECT_FALSE(t.clone().is_page_locked());
  EXPECT_TRUE(t.clone(pinned).is_page_locked());
  EXPECT_EQ(pinned.calls, 2);
}

TEST(Allocator, EmptyRejectsMisalignedAllocation) {
  MisalignedAllocator bad;
  MOUSE_EXPECT_THROW_WITH(Tensor::empty({4}, DType::kFloat32, bad), InvalidArgument,
                          "allocator \"misaligned\" returned memory not aligned to 64 bytes");
}

}  // namespace
}  // namespace mouse
