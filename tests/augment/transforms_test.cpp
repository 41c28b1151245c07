// One test per transform with hand-computed expected tensors. Permutations and scalars are set
// by hand through set_snapshot / apply, so the expected values are worked out on paper.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <string>

#include "augment_test_util.hpp"
#include "mouse/augment.hpp"

namespace mouse {
namespace {

using test::f32;
using test::f64;
using test::i64;
using test::u8;
using test::values;
using I = std::vector<int64_t>;
using F = std::vector<float>;
using D = std::vector<double>;

AugmentTokensConfig permute_action(PermuteAction mode) {
  AugmentTokensConfig c;
  c.permute_action = mode;
  return c;
}

// Rows: b = 0 uses [2, 0, 1], b = 1 uses [1, 2, 0].
AugmentSnapshot action_snapshot() {
  AugmentSnapshot s;
  s.batch_size = 2;
  s.action_perm = i64({2, 3}, {2, 0, 1, 1, 2, 0});
  return s;
}

TensorDict action_batch() {
  TensorDict d({2, 2});
  d.set("action", i64({2, 2}, {0, 1, 2, 2}));
  d.set("q_star", f32({2, 2, 3}, {10, 20, 30, 1, 2, 3, 4, 5, 6, -1, -2, -3}));
  return d;
}

TEST(ActionPermutation, InputMapsEachValueThroughItsRowsPermutation) {
  TokenAugmenter aug(permute_action(PermuteAction::kInput), 3, 0);
  aug.set_snapshot(action_snapshot());
  const TensorDict in = action_batch();
  const TensorDict out = aug.augment(in);
  EXPECT_EQ(values<int64_t>(out.at("action")), (I{2, 0, 0, 0}));
  EXPECT_TRUE(out.at("q_star").equals(in.at("q_star")));  // target untouched
}

TEST(ActionPermutation, TargetMovesQStarColumnsToTheirNewActions) {
  TokenAugmenter aug(permute_action(PermuteAction::kTarget), 3, 0);
  aug.set_snapshot(action_snapshot());
  const TensorDict in = action_batch();
  const TensorDict out = aug.augment(in);
  // Row 0, perm [2, 0, 1]: column a goes to perm[a]: [10, 20, 30] -> [20, 30, 10].
  // Row 1, perm [1, 2, 0]: [4, 5, 6] -> [6, 4, 5].
  EXPECT_EQ(values<float>(out.at("q_star")), (F{20, 30, 10, 2, 3, 1, 6, 4, 5, -3, -1, -2}));
  EXPECT_TRUE(out.at("action").equals(in.at("action")));  // input untouched
}

TEST(ActionPermutation, BothKeepsEachActionsValueWithIt) {
  TokenAugmenter aug(permute_action(PermuteAction::kBoth), 3, 0);
  aug.set_snapshot(action_snapshot());
  const TensorDict in = action_batch();
  const TensorDict out = aug.augment(in);
  EXPECT_EQ(values<int64_t>(out.at("action")), (I{2, 0, 0, 0}));
  EXPECT_EQ(values<float>(out.at("q_star")), (F{20, 30, 10, 2, 3, 1, 6, 4, 5, -3, -1, -2}));
  // The taken action's value is unchanged: q_out[a_out] == q_in[a_in].
  for (int64_t b = 0; b < 2; ++b) {
    for (int64_t s = 0; s < 2; ++s) {
      const int64_t a_in = in.at("action").at<int64_t>({b, s});
      const int64_t a_out = out.at("action").at<int64_t>({b, s});
      EXPECT_EQ(out.at("q_star").at<float>({b, s, a_out}), in.at("q_star").at<float>({b, s, a_in}));
    }
  }
}

TEST(DonePermutation, MapsCodesPerRow) {
  AugmentTokensConfig c;
  c.permute_done = true;
  TokenAugmenter aug(c, 0, 0);
  AugmentSnapshot s;
  s.batch_size = 2;
  s.done_perm = i64({2, 3}, {1, 2, 0, 0, 2, 1});
  TensorDict in({2, 3});
  in.set("done", i64({2, 3}, {0, 1, 2, 0, 1, 2}));
  const TensorDict out = aug.apply(in, s, 0);
  EXPECT_EQ(values<int64_t>(out.at("done")), (I{1, 2, 0, 0, 2, 1}));
}

TEST(ObsDiscretePermutation, MapsScalarAndVectorObservationsPerRow) {
  AugmentTokensConfig c;
  c.permute_obs_discrete = true;
  TokenAugmenter aug(c, 0, 4);
  AugmentSnapshot s;
  s.batch_size = 2;
  s.obs_discrete_perm = i64({2, 4}, {3, 2, 1, 0, 1, 0, 3, 2});
  TensorDict scalar({2, 2});
  scalar.set("obs_discrete", i64({2, 2}, {0, 3, 0, 3}));
  EXPECT_EQ(values<int64_t>(aug.apply(scalar, s, 0).at("obs_discrete")), (I{3, 0, 1, 2}));
  TensorDict vec({2, 1});
  vec.set("obs_discrete", i64({2, 1, 3}, {0, 1, 2, 1, 2, 3}));
  EXPECT_EQ(values<int64_t>(aug.apply(vec, s, 0).at("obs_discrete")), (I{3, 2, 1, 0, 3, 2}));
}

TEST(ScaleShift, FixedRewardScaleThenShiftInFloat32) {
  AugmentTokensConfig c;
  c.scale_reward = AugmentScalarSpec::fixed(2.0);
  c.shift_reward = AugmentScalarSpec::uniform(0.5, 0.5);
  TokenAugmenter aug(c, 0, 0);
  TensorDict in({1, 4});
  in.set("reward", f32({1, 4}, {1.0f, -2.0f, 0.25f, 0.0f}));
  aug.update_augmentations(in);
  EXPECT_EQ(aug.snapshot().scale_reward, 2.0);
  EXPECT_EQ(aug.snapshot().shift_reward, 0.5);
  EXPECT_EQ(values<float>(aug.augment(in).at("reward")), (F{2.5f, -3.5f, 1.0f, 0.5f}));
}

TEST(ScaleShift, FloatRoundingIsPerStep) {
  // 0.1f * 3 then + 1e-8: float32 arithmetic, each step rounded, as torch does.
  AugmentTokensConfig c;
  c.scale_reward = AugmentScalarSpec::fixed(3.0);
  c.shift_reward = AugmentScalarSpec::fixed(1e-8);
  TokenAugmenter aug(c, 0, 0);
  TensorDict in({1, 1});
  in.set("reward", f32({1, 1}, {0.1f}));
  aug.update_augmentations(in);
  const float scaled = 0.1f * 3.0f;
  const float expected = scaled + 1e-8f;
  EXPECT_EQ(values<float>(aug.augment(in).at("reward"))[0], expected);
}

TEST(ScaleShift, UniformAndGaussianScalarsApplyTheDrawnValue) {
  AugmentTokensConfig c;
  c.scale_reward = AugmentScalarSpec::uniform(0.5, 2.0);
  c.shift_reward = AugmentScalarSpec::gaussian(1.0, 0.3);
  c.scale_obs = AugmentScalarSpec::gaussian(1.0, 0.2);
  c.shift_obs = AugmentScalarSpec::uniform(3.0, -3.0);  // swapped
  TokenAugmenter aug(c, 0, 0, 17);
  TensorDict in({2, 1});
  in.set("reward", f32({2, 1}, {1.5f, -4.0f}));
  in.set("obs_continuous", f64({2, 1, 2}, {1.0, 2.0, -0.5, 8.0}));
  aug.update_augmentations(in);
  const AugmentSnapshot& s = aug.snapshot();
  ASSERT_TRUE(s.scale_reward && s.shift_reward && s.scale_obs && s.shift_obs);
  EXPECT_GE(*s.scale_reward, 0.5);
  EXPECT_LT(*s.scale_reward, 2.0);
  EXPECT_GE(*s.shift_obs, -3.0);
  EXPECT_LT(*s.shift_obs, 3.0);
  EXPECT_NE(*s.shift_reward, 1.0);
  const TensorDict out = aug.augment(in);
  const auto sr = static_cast<float>(*s.scale_reward);
  const auto hr = static_cast<float>(*s.shift_reward);
  EXPECT_EQ(values<float>(out.at("reward")), (F{1.5f * sr + hr, -4.0f * sr + hr}));
  const double so = *s.scale_obs, ho = *s.shift_obs;
  EXPECT_EQ(values<double>(out.at("obs_continuous")),
            (D{1.0 * so + ho, 2.0 * so + ho, -0.5 * so + ho, 8.0 * so + ho}));
}

TEST(ScaleShift, GaussianWithZeroStdIsFixedAtMean) {
  AugmentTokensConfig c;
  c.scale_obs = AugmentScalarSpec::gaussian(0.5, 0.0);
  c.shift_obs = AugmentScalarSpec::gaussian(-1.0, 0.0);
  TokenAugmenter aug(c, 0, 0, 3);
  TensorDict in({1, 1});
  in.set("obs_continuous", f64({1, 1, 3}, {2.0, 4.0, -6.0}));
  aug.update_augmentations(in);
  EXPECT_EQ(aug.snapshot().scale_obs, 0.5);
  EXPECT_EQ(aug.snapshot().shift_obs, -1.0);
  EXPECT_EQ(values<double>(aug.augment(in).at("obs_continuous")), (D{0.0, 1.0, -4.0}));
}

TEST(ScaleShift, InactiveScalarsAreNotDrawnOrApplied) {
  AugmentTokensConfig c;
  c.shift_reward = AugmentScalarSpec::fixed(1.0);
  TokenAugmenter aug(c, 0, 0);
  TensorDict in({1, 2});
  in.set("reward", f32({1, 2}, {1.0f, 2.0f}));
  aug.update_augmentations(in);
  EXPECT_FALSE(aug.snapshot().scale_reward.has_value());
  EXPECT_FALSE(aug.snapshot().scale_obs.has_value());
  EXPECT_EQ(values<float>(aug.augment(in).at("reward")), (F{2.0f, 3.0f}));
}

AugmentSnapshot image_snapshot(std::optional<double> scale, std::optional<double> shift) {
  AugmentSnapshot s;
  s.batch_size = 1;
  s.scale_obs_image = scale;
  s.shift_obs_image = shift;
  return s;
}

TEST(ImageScaleShift, RoundsHalfToEvenAndClampsAfterEachStep) {
  AugmentTokensConfig c;
  c.scale_obs_image = AugmentScalarSpec::fixed(1.5);
  c.shift_obs_image = AugmentScalarSpec::fixed(-0.5);
  TokenAugmenter aug(c, 0, 0);
  // x * 1.5        = [0, 1.5, 4.5, 150, 300,   382.5]
  // round, clamp   = [0, 2,   4,   150, 255,   255]
  // - 0.5          = [-0.5, 1.5, 3.5, 149.5, 254.5, 254.5]
  // round, clamp   = [0, 2,   4,   150, 254,   254]
  const AugmentSnapshot s = image_snapshot(1.5, -0.5);
  TensorDict in64({1, 1});
  in64.set("obs_image", i64({1, 1, 6}, {0, 1, 3, 100, 200, 255}));
  EXPECT_EQ(values<int64_t>(aug.apply(in64, s, 0).at("obs_image")), (I{0, 2, 4, 150, 254, 254}));
  TensorDict in8({1, 1});
  in8.set("obs_image", u8({1, 1, 6}, {0, 1, 3, 100, 200, 255}));
  EXPECT_EQ(values<uint8_t>(aug.apply(in8, s, 0).at("obs_image")),
            (std::vector<uint8_t>{0, 2, 4, 150, 254, 254}));
}

TEST(ImageScaleShift, ShiftOnlyClampsOutOfRangeInt64Pixels) {
  AugmentTokensConfig c;
  c.shift_obs_image = AugmentScalarSpec::fixed(0.4);
  TokenAugmenter aug(c, 0, 0);
  TensorDict in({1, 1});
  in.set("obs_image", i64({1, 1, 5}, {-5, 0, 7, 255, 1000}));
  EXPECT_EQ(values<int64_t>(aug.apply(in, image_snapshot(std::nullopt, 0.4), 0).at("obs_image")),
            (I{0, 0, 7, 255, 255}));
}

TEST(ImageScaleShift, NegativeScaleClampsToZeroAndLargeShiftToWhite) {
  AugmentTokensConfig c;
  c.scale_obs_image = AugmentScalarSpec::fixed(-1.0);
  TokenAugmenter aug(c, 0, 0);
  TensorDict in({1, 1});
  in.set("obs_image", u8({1, 1, 3}, {0, 10, 255}));
  EXPECT_EQ(values<uint8_t>(aug.apply(in, image_snapshot(-1.0, std::nullopt), 0).at("obs_image")),
            (std::vector<uint8_t>{0, 0, 0}));
  c.scale_obs_image = AugmentScalarSpec::fixed(1.0);
  c.shift_obs_image = AugmentScalarSpec::fixed(300.0);
  TokenAugmenter shift(c, 0, 0);
  EXPECT_EQ(values<uint8_t>(shift.apply(in, image_snapshot(std::nullopt, 300.0), 0).at("obs_image")),
            (std::vector<uint8_t>{255, 255, 255}));
}

TEST(Augment, InputIsNeverModifiedAndOnlyChangedMembersAreNew) {
  TokenAugmenter aug(test::everything_on(), 5, 4, 1);
  const TensorDict in = test::full_batch(3, 4, 5, 4);
  const TensorDict before = in.clone();
  aug.update_augmentations(in);
  const TensorDict out = aug.augment(in);
  EXPECT_TRUE(in.equals(before));
  EXPECT_EQ(out.keys(), in.keys());
  for (const auto& [name, t] : out) {
    if (name == "xformed_reward") continue;
    EXPECT_NE(t.data(), in.at(name).data()) << name;
    EXPECT_TRUE(t.is_writable()) << name;
  }
  // A field no augmentation touches is shared, not copied.
  EXPECT_EQ(out.at("xformed_reward").data(), in.at("xformed_reward").data());
}

TEST(Augment, ARewardOnlyScaleSharesEveryOtherMember) {
  AugmentTokensConfig c;
  c.scale_reward = AugmentScalarSpec::uniform(0.5, 2.0);
  TokenAugmenter aug(c, 5, 4, 3);
  const TensorDict in = test::full_batch(3, 4, 5, 4, DType::kUInt8);
  aug.update_augmentations(in);
  const TensorDict out = aug.augment(in);
  for (const auto& [name, t] : out) {
    if (name == "reward") {
      EXPECT_NE(t.data(), in.at(name).data());
    } else {
      EXPECT_EQ(t.data(), in.at(name).data()) << name;
    }
  }
}

// In place (a batchifier worker's batch) gives what the copying call gives, written over the
// batch's own storage; only q_star's column permutation needs a fresh tensor.
TEST(Augment, InPlaceEqualsTheCopyAndAllocatesOnlyForQStar) {
  for (DType image : {DType::kInt64, DType::kUInt8}) {
    for (uint64_t call : {uint64_t{0}, uint64_t{5}}) {
      TokenAugmenter aug(test::everything_on(), 5, 4, 11);
      const TensorDict in = test::full_batch(6, 40, 5, 4, image);  // rows of 4 and 1 elements
      const TensorDict want = aug.apply_fresh(in, call);
      TensorDict mine = in.clone();
      std::map<std::string, const void*> storage;
      for (const auto& [name, t] : mine) storage[name] = t.data();
      const TensorDict got = aug.apply_fresh_in_place(std::move(mine), call);
      EXPECT_TRUE(got.equals(want));
      for (const auto& [name, t] : got) {
        if (name == "q_star") {
          EXPECT_NE(t.data(), storage[name]);
        } else {
          EXPECT_EQ(t.data(), storage[name]) << name;
        }
      }
    }
  }
}

// Rows of 16 elements and more are transformed run by run between masked rows: in place too.
TEST(Augment, InPlaceEqualsTheCopyForWideImageRows) {
  AugmentTokensConfig c;
  c.scale_obs_image = AugmentScalarSpec::uniform(0.5, 1.5);
  c.shift_obs_image = AugmentScalarSpec::uniform(-30, 30);
  c.mask_prob.obs_image = 0.3;
  TokenAugmenter aug(c, 0, 0, 5);
  TensorDict in({3, 7});
  Tensor img = Tensor::empty({3, 7, 48}, DType::kUInt8);
  for (int64_t i = 0; i < img.numel(); ++i) img.data_as<uint8_t>()[i] = static_cast<uint8_t>(i * 31);
  in.set("obs_image", img);
  const TensorDict want = aug.apply_fresh(in, 2);
  TensorDict mine = in.clone();
  const void* storage = mine.at("obs_image").data();
  const TensorDict got = aug.apply_fresh_in_place(std::move(mine), 2);
  EXPECT_EQ(got.at("obs_image").data(), storage);
  EXPECT_TRUE(got.equals(want));
  EXPECT_FALSE(want.equals(in));
}

TEST(Augment, NothingEnabledReturnsTheInputItself) {
  const TensorDict in = test::full_batch(2, 3, 5, 4);
  TokenAugmenter plain(AugmentTokensConfig{}, 5, 4);
  EXPECT_FALSE(plain.enabled());
  plain.update_augmentations(in);
  EXPECT_FALSE(plain.has_snapshot());
  const TensorDict out = plain.augment(in);  // no snapshot needed
  for (const auto& [name, t] : out) EXPECT_EQ(t.data(), in.at(name).data()) << name;
  AugmentTokensConfig off = test::everything_on();
  off.enabled = false;
  TokenAugmenter master_off(off, 5, 4);
  const TensorDict out2 = master_off.augment(in);
  for (const auto& [name, t] : out2) EXPECT_EQ(t.data(), in.at(name).data()) << name;
}

TEST(Augment, MissingFieldsAreSkipped) {
  TokenAugmenter aug(test::everything_on(), 5, 4);
  TensorDict in({2, 2});
  in.set("reward", f32({2, 2}, {1, 2, 3, 4}));
  aug.update_augmentations(in);
  const TensorDict out = aug.augment(in);
  EXPECT_EQ(out.keys(), in.keys());
}

TEST(Augment, EmptyBatchesWork) {
  TokenAugmenter aug(test::everything_on(), 5, 4);
  const TensorDict in = test::full_batch(0, 4, 5, 4);
  aug.update_augmentations(in);
  EXPECT_EQ(aug.snapshot().action_perm->shape(), (std::vector<int64_t>{0, 5}));
  const TensorDict out = aug.augment(in);
  EXPECT_TRUE(out.equals(in));
}

}  // namespace
}  // namespace mouse
