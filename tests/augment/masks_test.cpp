// Masks (each field, probabilities 0 and 1, fresh per call), the order of operations, and
// reproducibility from the seed.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "augment_test_util.hpp"
#include "mouse/augment.hpp"

namespace mouse {
namespace {

using test::values;
using I = std::vector<int64_t>;

AugmentTokensConfig mask_all(double p) {
  AugmentTokensConfig c;
  c.mask_prob = {p, p, p, p, p, p, p};
  return c;
}

// Whether position [b, s] of every field was masked in `out`, checked against SPEC §6 (0, time
// -1, whole vectors zero) — and that unmasked positions are unchanged. Returns the masked flags
// of `field`.
std::vector<bool> masked_positions(const TensorDict& in, const TensorDict& out,
                                   const std::string& field) {
  const Tensor& a = in.at(field);
  const Tensor& b = out.at(field);
  const int64_t rows = in.batch_size()[0] * in.batch_size()[1];
  const int64_t inner = a.numel() / rows;
  const int64_t size = dtype_size(a.dtype());
  const uint8_t* pa = static_cast<const uint8_t*>(a.data());
  const uint8_t* pb = static_cast<const uint8_t*>(b.data());
  std::vector<bool> masked(rows);
  Tensor fill = Tensor::full({inner}, a.dtype(), field == "time" ? -1.0 : 0.0);
  const uint8_t* pf = static_cast<const uint8_t*>(fill.data());
  for (int64_t r = 0; r < rows; ++r) {
    const size_t n = static_cast<size_t>(inner * size);
    const bool same = std::memcmp(pa + r * n, pb + r * n, n) == 0;
    const bool filled = std::memcmp(pb + r * n, pf, n) == 0;
    EXPECT_TRUE(same || filled) << field << " row " << r << " is neither unchanged nor masked";
    masked[r] = !same;
  }
  return masked;
}

const std::vector<std::string> kMaskFields = {"action",       "reward",    "done", "obs_continuous",
                                              "obs_discrete", "obs_image", "time"};

TEST(Masks, ProbabilityOneMasksEveryPositionOfEveryField) {
  for (DType image : {DType::kInt64, DType::kUInt8}) {
    TokenAugmenter aug(mask_all(1.0), 5, 4);
    const TensorDict in = test::full_batch(2, 3, 5, 4, image);
    aug.update_augmentations(in);
    const TensorDict out = aug.augment(in);
    EXPECT_EQ(values<int64_t>(out.at("action")), I(6, 0));
    EXPECT_EQ(values<float>(out.at("reward")), std::vector<float>(6, 0.0f));
    EXPECT_EQ(values<int64_t>(out.at("done")), I(6, 0));
    EXPECT_EQ(values<int64_t>(out.at("time")), I(6, -1));
    EXPECT_EQ(values<double>(out.at("obs_continuous")), std::vector<double>(18, 0.0));
    EXPECT_EQ(values<int64_t>(out.at("obs_discrete")), I(12, 0));
    EXPECT_TRUE(out.at("obs_image").equals(Tensor::zeros({2, 3, 4}, image)));
    // Not mask fields: untouched.
    EXPECT_TRUE(out.at("q_star").equals(in.at("q_star")));
    EXPECT_TRUE(out.at("xformed_reward").equals(in.at("xformed_reward")));
  }
}

TEST(Masks, EachFieldMasksOnlyItself) {
  const TensorDict in = test::full_batch(2, 3, 5, 4);
  for (const std::string& field : kMaskFields) {
    AugmentTokensConfig c;
    AugmentMaskProbConfig& m = c.mask_prob;
    double* probs[] = {&m.action,       &m.reward,    &m.done, &m.obs_continuous,
                       &m.obs_discrete, &m.obs_image, &m.time};
    *probs[&field - kMaskFields.data()] = 1.0;
    TokenAugmenter aug(c, 5, 4);
    aug.update_augmentations(in);
    const TensorDict out = aug.augment(in);
    for (const std::string& other : kMaskFields) {
      const std::vector<bool> masked = masked_positions(in, out, other);
      for (bool b : masked) EXPECT_EQ(b, other == field) << field << " masked " << other;
    }
  }
}

TEST(Masks, ProbabilityZeroChangesNothing) {
  AugmentTokensConfig c = mask_all(0.0);
  c.permute_done = true;  // enabled, but no mask
  TokenAugmenter aug(c, 5, 4);
  const TensorDict in = test::full_batch(4, 8, 5, 4);
  aug.update_augmentations(in);
  const TensorDict out = aug.augment(in);
  for (const std::string& field : kMaskFields) {
    if (field != "done") {
      EXPECT_TRUE(out.at(field).equals(in.at(field))) << field;
    }
  }
}

TEST(Masks, AreFreshOnEachCallWhileTheSnapshotStays) {
  AugmentTokensConfig c = mask_all(0.5);
  c.scale_reward = AugmentScalarSpec::uniform(2.0, 3.0);
  c.permute_action = PermuteAction::kTarget;
  TokenAugmenter aug(c, 5, 4, 9);
  const TensorDict in = test::full_batch(4, 16, 5, 4);
  aug.update_augmentations(in);
  const AugmentSnapshot before = aug.snapshot();
  const TensorDict first = aug.augment(in);
  const TensorDict second = aug.augment(in);
  EXPECT_EQ(aug.snapshot().scale_reward, before.scale_reward);
  EXPECT_TRUE(aug.snapshot().action_perm->equals(*before.action_perm));
  for (const std::string& field : {std::string("action"), std::string("time")}) {
    EXPECT_NE(masked_positions(in, first, field), masked_positions(in, second, field)) << field;
  }
  // Same snapshot in both calls: the q_star permutation (not masked) is identical.
  EXPECT_TRUE(first.at("q_star").equals(second.at("q_star")));
}

TEST(OrderOfOperations, MaskBeforePermuteBeforeScale) {
  AugmentTokensConfig c;
  c.mask_prob.action = 1.0;
  c.mask_prob.done = 1.0;
  c.mask_prob.reward = 1.0;
  c.mask_prob.obs_discrete = 1.0;
  c.mask_prob.obs_image = 1.0;
  c.mask_prob.obs_continuous = 1.0;
  c.permute_action = PermuteAction::kInput;
  c.permute_done = true;
  c.permute_obs_discrete = true;
  c.scale_reward = AugmentScalarSpec::fixed(2.0);
  c.shift_reward = AugmentScalarSpec::fixed(3.0);
  c.scale_obs = AugmentScalarSpec::fixed(5.0);
  c.shift_obs = AugmentScalarSpec::fixed(-1.5);
  c.shift_obs_image = AugmentScalarSpec::fixed(10.0);
  TokenAugmenter aug(c, 3, 4);
  AugmentSnapshot s;
  s.batch_size = 2;
  s.action_perm = test::i64({2, 3}, {2, 0, 1, 1, 2, 0});
  s.done_perm = test::i64({2, 3}, {1, 2, 0, 2, 0, 1});
  s.obs_discrete_perm = test::i64({2, 4}, {3, 2, 1, 0, 1, 0, 3, 2});
  s.scale_reward = 2.0;
  s.shift_reward = 3.0;
  s.scale_obs = 5.0;
  s.shift_obs = -1.5;
  s.shift_obs_image = 10.0;
  aug.set_snapshot(s);
  const TensorDict in = test::full_batch(2, 2, 3, 4);
  const TensorDict out = aug.augment(in);
  // Masked to 0, then permuted: perm[b][0].
  EXPECT_EQ(values<int64_t>(out.at("action")), (I{2, 2, 1, 1}));
  EXPECT_EQ(values<int64_t>(out.at("done")), (I{1, 1, 2, 2}));
  EXPECT_EQ(values<int64_t>(out.at("obs_discrete")), (I{3, 3, 3, 3, 1, 1, 1, 1}));
  // Masked to 0, then 0 * scale + shift.
  EXPECT_EQ(values<float>(out.at("reward")), std::vector<float>(4, 3.0f));
  EXPECT_EQ(values<double>(out.at("obs_continuous")), std::vector<double>(12, -1.5));
  EXPECT_EQ(values<int64_t>(out.at("obs_image")), I(16, 10));
}

TEST(Reproducibility, SameSeedSameSnapshotsAndMasks) {
  const TensorDict in = test::full_batch(8, 16, 5, 4);
  auto run = [&](uint64_t seed) {
    TokenAugmenter aug(test::everything_on(), 5, 4, seed);
    std::vector<TensorDict> outs;
    for (int i = 0; i < 3; ++i) {
      aug.update_augmentations(in);
      outs.push_back(aug.augment(in));
      outs.push_back(aug.augment(in));
    }
    return outs;
  };
  const auto a = run(5), b = run(5), c = run(6);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(a[i].equals(b[i])) << i;
    EXPECT_FALSE(a[i].equals(c[i])) << i;
  }
  for (size_t i = 1; i < a.size(); ++i) EXPECT_FALSE(a[i].equals(a[i - 1])) << i;
}

TEST(Reproducibility, StatefulCallsEqualThePureApiWithCallNumbers) {
  const TensorDict in = test::full_batch(4, 8, 5, 4, DType::kUInt8);
  TokenAugmenter stateful(test::everything_on(), 5, 4, 77);
  const TokenAugmenter pure(test::everything_on(), 5, 4, 77);
  for (uint64_t k = 0; k < 3; ++k) {
    stateful.update_augmentations(in);
    const TensorDict expected = pure.apply(in, pure.make_snapshot(4, k), k);
    EXPECT_TRUE(stateful.augment(in).equals(expected)) << k;
    EXPECT_TRUE(pure.apply_fresh(in, k).equals(expected)) << k;
  }
  // clear_augmentations drops the snapshot but the counters keep going.
  stateful.clear_augmentations();
  EXPECT_FALSE(stateful.has_snapshot());
  stateful.update_augmentations(in);
  EXPECT_TRUE(stateful.augment(in).equals(pure.apply(in, pure.make_snapshot(4, 3), 3)));
}

TEST(Reproducibility, WorkerThreadsGetTheSameResultsAsOneThread) {
  const TensorDict in = test::full_batch(4, 8, 5, 4);
  const TokenAugmenter aug(test::everything_on(), 5, 4, 2024);
  const int kBatches = 8;
  std::vector<TensorDict> threaded(kBatches);
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&, w] {
      for (int k = w; k < kBatches; k += 4) {
        threaded[k] = aug.apply(in, aug.make_snapshot(4, k), k);
      }
    });
  }
  for (auto& t : workers) t.join();
  for (int k = 0; k < kBatches; ++k) {
    EXPECT_TRUE(threaded[k].equals(aug.apply(in, aug.make_snapshot(4, k), k))) << k;
  }
}

}  // namespace
}  // namespace mouse
