#include "mouse/tensor_dict.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "mouse/error.hpp"

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

using Keys = std::vector<std::string>;
using Shape = std::vector<int64_t>;

// A [2, 3] batch with "action" int64 [2, 3], "obs" float32 [2, 3, 4] and "done" int64 [2, 3].
TensorDict make_batch() {
  TensorDict d({2, 3});
  d.set("action", Tensor::full({2, 3}, DType::kInt64, 1));
  Tensor obs = Tensor::zeros({2, 3, 4}, DType::kFloat32);
  for (int64_t i = 0; i < obs.numel(); ++i) obs.data_as<float>()[i] = static_cast<float>(i);
  d.set("obs", obs);
  d.set("done", Tensor::zeros({2, 3}, DType::kInt64));
  return d;
}

TEST(TensorDict, DefaultHasEmptyBatchSizeAndAcceptsAnyShape) {
  TensorDict d;
  EXPECT_TRUE(d.batch_size().empty());
  EXPECT_TRUE(d.empty());
  d.set("scalar", Tensor::zeros({}, DType::kFloat64));
  d.set("matrix", Tensor::zeros({5, 7}, DType::kUInt8));
  EXPECT_EQ(d.size(), 2u);
}

TEST(TensorDict, NbytesSumsTheMembers) {
  EXPECT_EQ(TensorDict().nbytes(), 0);
  // action 6 x 8, obs 24 x 4, done 6 x 8 bytes.
  EXPECT_EQ(make_batch().nbytes(), 48 + 96 + 48);
}

TEST(TensorDict, ConstructorRejectsNegativeBatchDim) {
  MOUSE_EXPECT_THROW_WITH(TensorDict({2, -3}), InvalidArgument, "negative dimension -3");
}

TEST(TensorDict, SetKeepsInsertionOrder) {
  TensorDict d = make_batch();
  EXPECT_EQ(d.keys(), (Keys{"action", "obs", "done"}));
  EXPECT_EQ(d.batch_size(), (Shape{2, 3}));
  EXPECT_EQ(d.size(), 3u);
  EXPECT_FALSE(d.empty());
}

TEST(TensorDict, SetReplacesKeepingPosition) {
  TensorDict d = make_batch();
  Tensor replacement = Tensor::full({2, 3, 2}, DType::kFloat64, 9);
  d.set("obs", replacement);
  EXPECT_EQ(d.keys(), (Keys{"action", "obs", "done"}));
  EXPECT_EQ(d.at("obs").dtype(), DType::kFloat64);
  EXPECT_EQ(d.at("obs").shape(), (Shape{2, 3, 2}));
  EXPECT_EQ(d.at("obs").data(), replacement.data());  // stored by sharing, not copied
}

TEST(TensorDict, SetRejectsMismatchedLeadingDims) {
  TensorDict d({2, 3});
  MOUSE_EXPECT_THROW_WITH(d.set("reward", Tensor::zeros({3, 2}, DType::kFloat32)), InvalidArgument,
                          "key \"reward\" has shape [3, 2], whose leading dimensions do not match "
                          "the batch size [2, 3]");
  MOUSE_EXPECT_THROW_WITH(d.set("q", Tensor::zeros({2, 4, 5}, DType::kFloat32)), InvalidArgument,
                          "key \"q\" has shape [2, 4, 5]");
  EXPECT_TRUE(d.empty());
}

TEST(TensorDict, SetRejectsTensorWithFewerDimsThanBatch) {
  TensorDict d({2, 3});
  MOUSE_EXPECT_THROW_WITH(d.set("reward", Tensor::zeros({2}, DType::kFloat32)), InvalidArgument,
                          "key \"reward\" has shape [2]");
}

TEST(TensorDict, FailedReplaceKeepsOldTensor) {
  TensorDict d = make_batch();
  EXPECT_THROW(d.set("obs", Tensor::zeros({1}, DType::kFloat32)), InvalidArgument);
  EXPECT_EQ(d.at("obs").shape(), (Shape{2, 3, 4}));
}

TEST(TensorDict, ContainsAndAt) {
  TensorDict d = make_batch();
  EXPECT_TRUE(d.contains("done"));
  EXPECT_FALSE(d.contains("reward"));
  EXPECT_EQ(d.at("action").at<int64_t>({1, 2}), 1);
}

TEST(TensorDict, AtThrowsKeyErrorNamingKeyAndListingAvailable) {
  TensorDict d = make_batch();
  MOUSE_EXPECT_THROW_WITH(d.at("reward"), KeyError,
                          "no key \"reward\"; available keys: [\"action\", \"obs\", \"done\"]");
  MOUSE_EXPECT_THROW_WITH(TensorDict().at("x"), KeyError, "available keys: []");
}

TEST(TensorDict, EraseRemovesKeepingOrder) {
  TensorDict d = make_batch();
  d.erase("obs");
  EXPECT_EQ(d.keys(), (Keys{"action", "done"}));
  EXPECT_FALSE(d.contains("obs"));
  d.set("obs", Tensor::zeros({2, 3}, DType::kFloat32));
  EXPECT_EQ(d.keys(), (Keys{"action", "done", "obs"}));
}

TEST(TensorDict, EraseOfMissingKeyThrowsKeyError) {
  TensorDict d = make_batch();
  MOUSE_EXPECT_THROW_WITH(d.erase("reward"), KeyError, "TensorDict::erase: no key \"reward\"");
  EXPECT_EQ(d.size(), 3u);
}

TEST(TensorDict, IteratesNameTensorPairsInOrder) {
  TensorDict d = make_batch();
  Keys seen;
  std::vector<int64_t> ndims;
  for (const auto& [name, tensor] : d) {
    seen.push_back(name);
    ndims.push_back(tensor.ndim());
  }
  EXPECT_EQ(seen, (Keys{"action", "obs", "done"}));
  EXPECT_EQ(ndims, (std::vector<int64_t>{2, 3, 2}));
}

TEST(TensorDict, CopiesShareMemberStorage) {
  TensorDict a = make_batch();
  TensorDict b = a;
  Tensor action = b.at("action");
  action.at<int64_t>({0, 0}) = 42;
  EXPECT_EQ(a.at("action").at<int64_t>({0, 0}), 42);
}

TEST(TensorDict, CloneIsDeep) {
  TensorDict a = make_batch();
  TensorDict c = a.clone();
  EXPECT_TRUE(c.equals(a));
  EXPECT_EQ(c.keys(), a.keys());
  EXPECT_EQ(c.batch_size(), a.batch_size());
  for (const auto& [name, tensor] : c) EXPECT_NE(tensor.data(), a.at(name).data()) << name;
  Tensor obs = c.at("obs");
  obs.at<float>({1, 2, 3}) = -1.f;
  EXPECT_EQ(a.at("obs").at<float>({1, 2, 3}), 23.f);
  EXPECT_FALSE(c.equals(a));
}

TEST(TensorDict, ReshapeChangesBatchDimsOfEveryMember) {
  TensorDict d = make_batch();
  TensorDict flat = d.reshape({-1});
  EXPECT_EQ(flat.batch_size(), (Shape{6}));
  EXPECT_EQ(flat.keys(), d.keys());
  EXPECT_EQ(flat.at("action").shape(), (Shape{6}));
  EXPECT_EQ(flat.at("obs").shape(), (Shape{6, 4}));
  EXPECT_EQ(flat.at("done").shape(), (Shape{6}));
  // Shares storage: same bytes, same pointer.
  EXPECT_EQ(flat.at("obs").data(), d.at("obs").data());
  EXPECT_EQ(flat.at("obs").at<float>({5, 3}), 23.f);

  TensorDict back = flat.reshape({3, 2});
  EXPECT_EQ(back.batch_size(), (Shape{3, 2}));
  EXPECT_EQ(back.at("obs").shape(), (Shape{3, 2, 4}));
  EXPECT_EQ(d.reshape({2, 3}).batch_size(), (Shape{2, 3}));
}

TEST(TensorDict, ReshapeOfEmptyDictResolvesBatchSize) {
  TensorDict d({4, 5});
  EXPECT_EQ(d.reshape({2, -1}).batch_size(), (Shape{2, 10}));
}

TEST(TensorDict, ReshapeRejectsBatchElementCountMismatch) {
  TensorDict d = make_batch();
  MOUSE_EXPECT_THROW_WITH(d.reshape({4}), InvalidArgument,
                          "cannot reshape batch size of shape [2, 3] (6 elements) into [4]");
  MOUSE_EXPECT_THROW_WITH(d.reshape({-1, -1}), InvalidArgument, "only one dimension may be -1");
}

TEST(TensorDict, EqualsComparesKeysDTypesShapesAndBytes) {
  TensorDict a = make_batch();
  TensorDict reordered({2, 3});
  reordered.set("done", a.at("done").clone());
  reordered.set("obs", a.at("obs").clone());
  reordered.set("action", a.at("action").clone());
  EXPECT_TRUE(a.equals(reordered));  // key order is ignored

  TensorDict missing = a.clone();
  missing.erase("done");
  EXPECT_FALSE(a.equals(missing));
  EXPECT_FALSE(missing.equals(a));

  TensorDict renamed = missing.clone();
  renamed.set("terminal", a.at("done"));
  EXPECT_FALSE(a.equals(renamed));

  TensorDict other_dtype = a.clone();
  other_dtype.set("done", Tensor::zeros({2, 3}, DType::kInt32));
  EXPECT_FALSE(a.equals(other_dtype));

  TensorDict other_bytes = a.clone();
  other_bytes.set("done", Tensor::full({2, 3}, DType::kInt64, 2));
  EXPECT_FALSE(a.equals(other_bytes));

  EXPECT_FALSE(a.equals(a.reshape({6})));  // batch size differs
  EXPECT_TRUE(TensorDict().equals(TensorDict()));
}

}  // namespace
}  // namespace mouse
