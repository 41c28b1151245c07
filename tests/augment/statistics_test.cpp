// Statistical checks with fixed seeds: bounds and means of the scalars, mask rates, and the
// spread of the permutations. Tolerances are 4 standard deviations of the estimate.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <vector>

#include "augment_test_util.hpp"
#include "mouse/augment.hpp"

namespace mouse {
namespace {

using test::values;

TEST(ScalarStatistics, UniformDrawsStayInsideLowHighWithTheRightMean) {
  AugmentTokensConfig c;
  c.scale_reward = AugmentScalarSpec::uniform(0.5, 2.0);
  c.shift_obs_image = AugmentScalarSpec::uniform(10.0, -10.0);  // swapped
  const TokenAugmenter aug(c, 0, 0, 1234);
  const int n = 4000;
  double sum = 0, sum_shift = 0;
  for (int k = 0; k < n; ++k) {
    const AugmentSnapshot s = aug.make_snapshot(1, k);
    ASSERT_GE(*s.scale_reward, 0.5);
    ASSERT_LT(*s.scale_reward, 2.0);
    ASSERT_GE(*s.shift_obs_image, -10.0);
    ASSERT_LT(*s.shift_obs_image, 10.0);
    sum += *s.scale_reward;
    sum_shift += *s.shift_obs_image;
  }
  // sd of a uniform on an interval of width w is w / sqrt(12).
  EXPECT_NEAR(sum / n, 1.25, 4 * 1.5 / std::sqrt(12.0 * n));
  EXPECT_NEAR(sum_shift / n, 0.0, 4 * 20 / std::sqrt(12.0 * n));
}

TEST(ScalarStatistics, GaussianDrawsHaveTheRightMeanAndStd) {
  AugmentTokensConfig c;
  c.shift_obs = AugmentScalarSpec::gaussian(0.5, 2.0);
  const TokenAugmenter aug(c, 0, 0, 99);
  const int n = 4000;
  double sum = 0, sum_sq = 0;
  for (int k = 0; k < n; ++k) {
    const double x = *aug.make_snapshot(1, k).shift_obs;
    sum += x;
    sum_sq += x * x;
  }
  const double mean = sum / n;
  const double var = sum_sq / n - mean * mean;
  EXPECT_NEAR(mean, 0.5, 4 * 2.0 / std::sqrt(n));
  // sd of the sample variance of a normal: sigma^2 * sqrt(2 / n).
  EXPECT_NEAR(var, 4.0, 4 * 4.0 * std::sqrt(2.0 / n));
}

TEST(MaskStatistics, EachFieldIsMaskedAtRatePWithinFourSigma) {
  const double p = 0.15;
  AugmentTokensConfig c;
  c.mask_prob = {p, p, p, p, p, p, p};
  TokenAugmenter aug(c, 5, 4, 31337);
  const TensorDict in = test::full_batch(32, 64, 5, 4);
  aug.update_augmentations(in);
  const int calls = 5;
  std::map<std::string, int64_t> masked;
  for (int k = 0; k < calls; ++k) {
    const TensorDict out = aug.augment(in);
    for (int64_t i = 0; i < 32 * 64; ++i) {
      masked["action"] += out.at("action").data_as<int64_t>()[i] == 0;
      masked["reward"] += out.at("reward").data_as<float>()[i] == 0.0f;
      masked["done"] += out.at("done").data_as<int64_t>()[i] == 0;
      masked["time"] += out.at("time").data_as<int64_t>()[i] == -1;
      masked["obs_continuous"] += out.at("obs_continuous").data_as<double>()[i * 3] == 0.0;
      masked["obs_discrete"] += out.at("obs_discrete").data_as<int64_t>()[i * 2] == 0;
      masked["obs_image"] += out.at("obs_image").data_as<int64_t>()[i * 4] == 0;
    }
  }
  const double n = 32.0 * 64.0 * calls;
  ASSERT_EQ(masked.size(), 7u);
  for (const auto& [field, count] : masked) {
    EXPECT_NEAR(count / n, p, 4 * std::sqrt(p * (1 - p) / n)) << field;
  }
}

TEST(MaskStatistics, FieldsAreMaskedIndependently) {
  AugmentTokensConfig c;
  c.mask_prob.action = 0.5;
  c.mask_prob.done = 0.5;
  TokenAugmenter aug(c, 5, 4, 8);
  const TensorDict in = test::full_batch(32, 64, 5, 4);
  aug.update_augmentations(in);
  const TensorDict out = aug.augment(in);
  int64_t both = 0;
  const int64_t n = 32 * 64;
  for (int64_t i = 0; i < n; ++i) {
    both += out.at("action").data_as<int64_t>()[i] == 0 && out.at("done").data_as<int64_t>()[i] == 0;
  }
  EXPECT_NEAR(static_cast<double>(both) / n, 0.25, 4 * std::sqrt(0.25 * 0.75 / n));
}

TEST(PermutationStatistics, EveryPermutationOfDoneCodesAppearsEvenly) {
  AugmentTokensConfig c;
  c.permute_done = true;
  const TokenAugmenter aug(c, 0, 0, 4);
  const int64_t rows = 3000;
  const AugmentSnapshot s = aug.make_snapshot(rows, 0);
  std::map<std::vector<int64_t>, int64_t> seen;
  const int64_t* p = s.done_perm->data_as<int64_t>();
  for (int64_t b = 0; b < rows; ++b) ++seen[{p[b * 3], p[b * 3 + 1], p[b * 3 + 2]}];
  ASSERT_EQ(seen.size(), 6u);
  for (const auto& [perm, count] : seen) {
    EXPECT_NEAR(static_cast<double>(count) / rows, 1.0 / 6, 4 * std::sqrt(5.0 / 36 / rows));
  }
}

TEST(PermutationStatistics, ActionPermutationsAreUniformAndDifferPerRow) {
  AugmentTokensConfig c;
  c.permute_action = PermuteAction::kInput;
  const int64_t n = 10;
  const TokenAugmenter aug(c, n, 0, 6);
  const int64_t rows = 4000;
  const AugmentSnapshot s = aug.make_snapshot(rows, 0);
  const int64_t* p = s.action_perm->data_as<int64_t>();
  // Where action 0 goes: uniform over [0, n).
  std::vector<int64_t> where(n);
  for (int64_t b = 0; b < rows; ++b) ++where[p[b * n]];
  for (int64_t v = 0; v < n; ++v) {
    EXPECT_NEAR(static_cast<double>(where[v]) / rows, 0.1, 4 * std::sqrt(0.09 / rows)) << v;
  }
  // Rows are drawn independently: consecutive rows rarely share a permutation.
  int64_t equal_rows = 0;
  for (int64_t b = 1; b < rows; ++b) {
    equal_rows += std::equal(p + b * n, p + b * n + n, p + (b - 1) * n);
  }
  EXPECT_EQ(equal_rows, 0);
}

TEST(PermutationStatistics, ObsDiscretePermutationsCoverEveryValue) {
  AugmentTokensConfig c;
  c.permute_obs_discrete = true;
  const TokenAugmenter aug(c, 0, 4, 12);
  const AugmentSnapshot s = aug.make_snapshot(2400, 3);
  std::map<std::vector<int64_t>, int64_t> seen;
  const int64_t* p = s.obs_discrete_perm->data_as<int64_t>();
  for (int64_t b = 0; b < 2400; ++b) seen[{p + b * 4, p + b * 4 + 4}]++;
  EXPECT_EQ(seen.size(), 24u);  // all 4! orders
}

}  // namespace
}  // namespace mouse
