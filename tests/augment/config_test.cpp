#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "augment_test_util.hpp"
#include "mouse/augment.hpp"
#include "mouse/error.hpp"

namespace mouse {
namespace {

TEST(AugmentScalarSpec, IsActiveUnlessItAlwaysYieldsTheIdentity) {
  EXPECT_FALSE(AugmentScalarSpec::fixed(1.0).is_active(1.0));
  EXPECT_TRUE(AugmentScalarSpec::fixed(1.0).is_active(0.0));
  EXPECT_TRUE(AugmentScalarSpec::fixed(2.0).is_active(1.0));
  EXPECT_FALSE(AugmentScalarSpec::uniform(1.0, 1.0).is_active(1.0));
  EXPECT_TRUE(AugmentScalarSpec::uniform(2.0, 2.0).is_active(1.0));  // fixed at 2
  EXPECT_TRUE(AugmentScalarSpec::uniform(0.5, 2.0).is_active(1.0));
  EXPECT_TRUE(AugmentScalarSpec::gaussian(1.0, 0.1).is_active(1.0));
  EXPECT_FALSE(AugmentScalarSpec::gaussian(0.0, 0.0).is_active(0.0));
  EXPECT_TRUE(AugmentScalarSpec::uniform(0.5, 2.0).is_uniform());
  EXPECT_FALSE(AugmentScalarSpec::gaussian(0.5, 2.0).is_uniform());
}

TEST(AugmentScalarSpec, ValidateNeedsBothBoundsOrNeither) {
  AugmentScalarSpec only_low{1.0, 0.0, 0.5, std::nullopt};
  MOUSE_EXPECT_THROW_WITH(only_low.validate("scale_reward"), InvalidArgument,
                          "scale_reward: expected both low and high");
  AugmentScalarSpec only_high{1.0, 0.0, std::nullopt, 2.0};
  MOUSE_EXPECT_THROW_WITH(only_high.validate("shift_obs"), InvalidArgument, "found only high");
  AugmentScalarSpec swapped = AugmentScalarSpec::uniform(2.0, 0.5);
  EXPECT_NO_THROW(swapped.validate("scale_reward"));  // swapped when drawn
}

TEST(AugmentScalarSpec, ValidateRejectsNegativeStdAndNonFinite) {
  MOUSE_EXPECT_THROW_WITH(AugmentScalarSpec::gaussian(1.0, -0.1).validate("scale_obs"),
                          InvalidArgument, "scale_obs.std: expected a value >= 0, found -0.1");
  const double inf = std::numeric_limits<double>::infinity();
  MOUSE_EXPECT_THROW_WITH(AugmentScalarSpec::uniform(0.0, inf).validate("shift_reward"),
                          InvalidArgument, "shift_reward.high: expected a finite number");
  MOUSE_EXPECT_THROW_WITH(AugmentScalarSpec::fixed(std::nan("")).validate("scale_reward"),
                          InvalidArgument, "scale_reward.mean");
}

TEST(AugmentMaskProbConfig, ValidatesEachProbability) {
  AugmentMaskProbConfig m;
  EXPECT_FALSE(m.any_enabled());
  EXPECT_NO_THROW(m.validate());
  m.time = 1.0;
  EXPECT_TRUE(m.any_enabled());
  EXPECT_NO_THROW(m.validate());
  m.obs_image = 1.5;
  MOUSE_EXPECT_THROW_WITH(m.validate(), InvalidArgument,
                          "mask_prob.obs_image: expected a probability in [0, 1], found 1.5");
  m.obs_image = -0.1;
  EXPECT_THROW(m.validate(), InvalidArgument);
  m.obs_image = std::nan("");
  EXPECT_THROW(m.validate(), InvalidArgument);
}

TEST(PermuteActionName, RoundTripsAndRejectsOthers) {
  for (PermuteAction mode :
       {PermuteAction::kOff, PermuteAction::kInput, PermuteAction::kTarget, PermuteAction::kBoth}) {
    EXPECT_EQ(permute_action_from_name(permute_action_name(mode)), mode);
  }
  EXPECT_EQ(permute_action_from_name("false"), PermuteAction::kOff);
  MOUSE_EXPECT_THROW_WITH(permute_action_from_name("outputs"), InvalidArgument,
                          "expected false, \"input\", \"target\" or \"both\", found \"outputs\"");
}

TEST(AugmentTokensConfig, DefaultsMatchTheSeedApi) {
  AugmentTokensConfig c;
  EXPECT_TRUE(c.enabled);
  EXPECT_FALSE(c.permute_tokens);
  EXPECT_EQ(c.scale_reward, AugmentScalarSpec::fixed(1.0));
  EXPECT_EQ(c.shift_reward, AugmentScalarSpec::fixed(0.0));
  EXPECT_EQ(c.scale_obs, AugmentScalarSpec::fixed(1.0));
  EXPECT_EQ(c.shift_obs, AugmentScalarSpec::fixed(0.0));
  EXPECT_EQ(c.scale_obs_image, AugmentScalarSpec::fixed(1.0));
  EXPECT_EQ(c.shift_obs_image, AugmentScalarSpec::fixed(0.0));
  EXPECT_FALSE(c.permute_obs_discrete);
  EXPECT_EQ(c.permute_action, PermuteAction::kOff);
  EXPECT_FALSE(c.permute_done);
  EXPECT_EQ(c.mask_prob, AugmentMaskProbConfig{});
  EXPECT_FALSE(c.any_enabled());
  EXPECT_NO_THROW(c.validate());
}

TEST(AugmentTokensConfig, AnyEnabledSeesEachAugmentationAndTheMasterSwitch) {
  auto on = [](auto edit) {
    AugmentTokensConfig c;
    edit(c);
    const bool result = c.any_enabled();
    c.enabled = false;
    EXPECT_FALSE(c.any_enabled());
    return result;
  };
  EXPECT_TRUE(on([](AugmentTokensConfig& c) { c.scale_reward = AugmentScalarSpec::fixed(2); }));
  EXPECT_TRUE(on([](AugmentTokensConfig& c) { c.shift_reward = AugmentScalarSpec::fixed(1); }));
  EXPECT_TRUE(on([](AugmentTokensConfig& c) { c.scale_obs = AugmentScalarSpec::uniform(0, 1); }));
  EXPECT_TRUE(on([](AugmentTokensConfig& c) { c.shift_obs = AugmentScalarSpec::gaussian(0, 1); }));
  EXPECT_TRUE(on([](AugmentTokensConfig& c) { c.scale_obs_image = AugmentScalarSpec::fixed(3); }));
  EXPECT_TRUE(on([](AugmentTokensConfig& c) { c.shift_obs_image = AugmentScalarSpec::fixed(3); }));
  EXPECT_TRUE(on([](AugmentTokensConfig& c) { c.permute_obs_discrete = true; }));
  EXPECT_TRUE(on([](AugmentTokensConfig& c) { c.permute_action = PermuteAction::kTarget; }));
  EXPECT_TRUE(on([](AugmentTokensConfig& c) { c.permute_done = true; }));
  EXPECT_TRUE(on([](AugmentTokensConfig& c) { c.mask_prob.reward = 0.01; }));
  // permute_tokens is accepted and ignored; identity scalars do nothing.
  EXPECT_FALSE(on([](AugmentTokensConfig& c) { c.permute_tokens = true; }));
  EXPECT_FALSE(on([](AugmentTokensConfig& c) { c.scale_obs = AugmentScalarSpec::uniform(1, 1); }));
}

TEST(AugmentTokensConfig, ValidateNamesTheBadField) {
  AugmentTokensConfig c;
  c.shift_obs_image = AugmentScalarSpec{0.0, 0.0, 1.0, std::nullopt};
  MOUSE_EXPECT_THROW_WITH(c.validate(), InvalidArgument, "shift_obs_image");
  c = AugmentTokensConfig{};
  c.mask_prob.done = 2;
  MOUSE_EXPECT_THROW_WITH(c.validate(), InvalidArgument, "mask_prob.done");
  c = AugmentTokensConfig{};
  c.permute_action = static_cast<PermuteAction>(9);
  MOUSE_EXPECT_THROW_WITH(c.validate(), InvalidArgument, "permute_action");
}

}  // namespace
}  // namespace mouse
