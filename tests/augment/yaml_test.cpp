#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "augment_test_util.hpp"
#include "mouse/augment.hpp"
#include "mouse/error.hpp"
#include "test_support.hpp"

namespace mouse {
namespace {

using Config = AugmentTokensConfig;

TEST(AugmentYaml, ReadsTheShapesPythonUsersWrite) {
  const Config c = Config::from_yaml_string(R"(
enabled: true
permute_tokens: true
scale_reward: {low: 0.5, high: 2.0}
shift_reward:
  mean: 0.1
  std: 0.2
scale_obs: 1.5
shift_obs: {std: 0.1}
scale_obs_image: {low: 2.0, high: 0.5}
shift_obs_image: {mean: -3}
permute_obs_discrete: yes
permute_action: both
permute_done: true
mask_prob: {action: 0.1, time: 1}
)");
  EXPECT_TRUE(c.enabled);
  EXPECT_TRUE(c.permute_tokens);
  EXPECT_EQ(c.scale_reward, AugmentScalarSpec::uniform(0.5, 2.0));
  EXPECT_EQ(c.shift_reward, AugmentScalarSpec::gaussian(0.1, 0.2));
  EXPECT_EQ(c.scale_obs, AugmentScalarSpec::fixed(1.5));
  // A mapping without mean keeps the identity: 0 for shifts...
  EXPECT_EQ(c.shift_obs, AugmentScalarSpec::gaussian(0.0, 0.1));
  EXPECT_EQ(c.scale_obs_image, AugmentScalarSpec::uniform(2.0, 0.5));  // swapped when drawn
  EXPECT_EQ(c.shift_obs_image, AugmentScalarSpec::fixed(-3));
  EXPECT_TRUE(c.permute_obs_discrete);
  EXPECT_EQ(c.permute_action, PermuteAction::kBoth);
  EXPECT_TRUE(c.permute_done);
  AugmentMaskProbConfig m;
  m.action = 0.1;
  m.time = 1.0;
  EXPECT_EQ(c.mask_prob, m);
  EXPECT_TRUE(c.any_enabled());
}

TEST(AugmentYaml, ScaleMappingWithoutMeanKeepsOne) {
  const Config c = Config::from_yaml_string("scale_reward: {std: 0.25}");
  EXPECT_EQ(c.scale_reward, AugmentScalarSpec::gaussian(1.0, 0.25));
}

TEST(AugmentYaml, PermuteActionSpellings) {
  EXPECT_EQ(Config::from_yaml_string("permute_action: false").permute_action, PermuteAction::kOff);
  EXPECT_EQ(Config::from_yaml_string("permute_action: off").permute_action, PermuteAction::kOff);
  EXPECT_EQ(Config::from_yaml_string("permute_action: input").permute_action,
            PermuteAction::kInput);
  EXPECT_EQ(Config::from_yaml_string("permute_action: 'target'").permute_action,
            PermuteAction::kTarget);
  MOUSE_EXPECT_THROW_WITH(Config::from_yaml_string("permute_action: true", "cfg.yaml"),
                          InvalidArgument,
                          "cfg.yaml:1:17: permute_action: expected false, \"input\", \"target\" "
                          "or \"both\", found \"true\"");
  MOUSE_EXPECT_THROW_WITH(Config::from_yaml_string("permute_action: [input]", "cfg.yaml"),
                          InvalidArgument, "found a sequence");
  MOUSE_EXPECT_THROW_WITH(Config::from_yaml_string("permute_action: outputs", "cfg.yaml"),
                          InvalidArgument, "found \"outputs\"");
}

TEST(AugmentYaml, EmptyDocumentAndEnabledFalse) {
  EXPECT_EQ(Config::from_yaml_string(""), Config{});
  EXPECT_EQ(Config::from_yaml_string("# only a comment\n"), Config{});
  const Config off = Config::from_yaml_string("enabled: false\npermute_done: true\n");
  EXPECT_FALSE(off.enabled);
  EXPECT_TRUE(off.permute_done);
  EXPECT_FALSE(off.any_enabled());
}

TEST(AugmentYaml, UnknownKeyNamesKeyFileAndLine) {
  MOUSE_EXPECT_THROW_WITH(
      Config::from_yaml_string("enabled: true\n\nscale_rewrad: {low: 1, high: 2}\n", "a.yaml"),
      InvalidArgument, "a.yaml:3:1: augment config: unknown key \"scale_rewrad\"; expected one of:");
  MOUSE_EXPECT_THROW_WITH(Config::from_yaml_string("mask_prob:\n  actions: 0.1\n", "a.yaml"),
                          InvalidArgument, "a.yaml:2:3: mask_prob: unknown key \"actions\"");
  MOUSE_EXPECT_THROW_WITH(
      Config::from_yaml_string("shift_obs: {mean: 0, sigma: 1}\n", "a.yaml"), InvalidArgument,
      "a.yaml:1:22: shift_obs: unknown key \"sigma\"; expected one of: mean, std, low, high");
}

TEST(AugmentYaml, UnknownKeyInAFileNamesThePath) {
  test::TempDir dir;
  const auto path = dir / "augment.yaml";
  std::ofstream(path) << "permute_done: true\nmask_prob: {action: 0.1}\npermute_tokenz: true\n";
  MOUSE_EXPECT_THROW_WITH(Config::from_yaml_file(path), InvalidArgument,
                          path.string() + ":3:1: augment config: unknown key \"permute_tokenz\"");
}

TEST(AugmentYaml, LoadsAFile) {
  test::TempDir dir;
  const auto path = dir / "augment.yaml";
  std::ofstream(path) << "scale_reward: {low: 0.5, high: 2.0}\npermute_action: target\n";
  const Config c = Config::from_yaml_file(path);
  EXPECT_EQ(c.scale_reward, AugmentScalarSpec::uniform(0.5, 2.0));
  EXPECT_EQ(c.permute_action, PermuteAction::kTarget);
}

TEST(AugmentYaml, MalformedYamlNamesFileAndLine) {
  test::TempDir dir;
  const auto path = dir / "bad.yaml";
  std::ofstream(path) << "enabled: true\nscale_reward: {low: 0.5, high: 2.0\nmask_prob: {}\n";
  MOUSE_EXPECT_THROW_WITH(Config::from_yaml_file(path), InvalidArgument,
                          path.string() + ":");
  MOUSE_EXPECT_THROW_WITH(Config::from_yaml_file(path), InvalidArgument, "invalid YAML");
  MOUSE_EXPECT_THROW_WITH(Config::from_yaml_string("a: b\n  - c: [", "s.yaml"), InvalidArgument,
                          "s.yaml:2:");
}

TEST(AugmentYaml, WrongTypesAndValuesNameTheLine) {
  MOUSE_EXPECT_THROW_WITH(Config::from_yaml_string("\nenabled: maybe\n", "c.yaml"),
                          InvalidArgument, "c.yaml:2:10: enabled: expected true or false, found \"maybe\"");
  MOUSE_EXPECT_THROW_WITH(Config::from_yaml_string("mask_prob: {action: 1.5}", "c.yaml"),
                          InvalidArgument,
                          "c.yaml:1:21: mask_prob.action: expected a probability in [0, 1], found 1.5");
  MOUSE_EXPECT_THROW_WITH(Config::from_yaml_string("mask_prob: {done: high}", "c.yaml"),
                          InvalidArgument, "mask_prob.done: expected a number, found \"high\"");
  MOUSE_EXPECT_THROW_WITH(Config::from_yaml_string("mask_prob: 0.1", "c.yaml"), InvalidArgument,
                          "c.yaml:1:12: mask_prob: expected a mapping, found a scalar");
  MOUSE_EXPECT_THROW_WITH(Config::from_yaml_string("scale_reward: {low: 0.5}", "c.yaml"),
                          InvalidArgument, "c.yaml:1:15: augment config: scale_reward: expected "
                                           "both low and high");
  MOUSE_EXPECT_THROW_WITH(Config::from_yaml_string("scale_obs: [0.5, 2]", "c.yaml"),
                          InvalidArgument, "scale_obs: expected a number or a mapping");
  MOUSE_EXPECT_THROW_WITH(Config::from_yaml_string("shift_obs: {std: -1}", "c.yaml"),
                          InvalidArgument, "shift_obs.std: expected a value >= 0");
  MOUSE_EXPECT_THROW_WITH(Config::from_yaml_string("scale_obs: .inf", "c.yaml"), InvalidArgument,
                          "scale_obs.mean: expected a finite number");
}

TEST(AugmentYaml, StructuralErrors) {
  MOUSE_EXPECT_THROW_WITH(Config::from_yaml_string("- enabled\n", "c.yaml"), InvalidArgument,
                          "c.yaml:1:1: the augment config: expected a mapping, found a sequence");
  MOUSE_EXPECT_THROW_WITH(Config::from_yaml_string("permute_done: true\npermute_done: false\n",
                                                   "c.yaml"),
                          InvalidArgument, "c.yaml:2:1: augment config: key \"permute_done\" "
                                           "appears twice");
  MOUSE_EXPECT_THROW_WITH(Config::from_yaml_string("just text", "c.yaml"), InvalidArgument,
                          "expected a mapping, found a scalar");
  MOUSE_EXPECT_THROW_WITH(Config::from_yaml_string("? [a, b]\n: 1\n", "c.yaml"), InvalidArgument,
                          "expected a key name, found a sequence");
}

TEST(AugmentYaml, MissingFileIsAnIoError) {
  test::TempDir dir;
  MOUSE_EXPECT_THROW_WITH(Config::from_yaml_file(dir / "nope.yaml"), IoError, "nope.yaml");
  MOUSE_EXPECT_THROW_WITH(Config::from_yaml_file(dir.path()), IoError, "is a directory");
}

}  // namespace
}  // namespace mouse
