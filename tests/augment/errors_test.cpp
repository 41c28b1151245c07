// Every error path of TokenAugmenter: exception type and the part of the message that says what
// was expected, what was found and where.
#include <gtest/gtest.h>

#include "augment_test_util.hpp"
#include "mouse/augment.hpp"
#include "mouse/error.hpp"

namespace mouse {
namespace {

using test::f32;
using test::i64;

AugmentTokensConfig with_permute_action(PermuteAction mode) {
  AugmentTokensConfig c;
  c.permute_action = mode;
  return c;
}

TEST(AugmenterErrors, AugmentWithoutSnapshot) {
  TokenAugmenter aug(test::everything_on(), 5, 4);
  const TensorDict in = test::full_batch(2, 3, 5, 4);
  MOUSE_EXPECT_THROW_WITH(aug.augment(in), InvalidArgument,
                          "no snapshot: call update_augmentations(batch) first");
  MOUSE_EXPECT_THROW_WITH(aug.snapshot(), InvalidArgument, "no snapshot");
  aug.update_augmentations(in);
  EXPECT_NO_THROW(aug.augment(in));
  aug.clear_augmentations();
  MOUSE_EXPECT_THROW_WITH(aug.augment(in), InvalidArgument, "no snapshot");
}

TEST(AugmenterErrors, BatchSizeDiffersFromTheSnapshots) {
  TokenAugmenter aug(test::everything_on(), 5, 4);
  aug.update_augmentations(test::full_batch(2, 3, 5, 4));
  MOUSE_EXPECT_THROW_WITH(aug.augment(test::full_batch(3, 3, 5, 4)), InvalidArgument,
                          "snapshot was drawn for batch size B = 2, found a batch of batch size "
                          "[3, 3]");
}

TEST(AugmenterErrors, BatchMustBeBS) {
  TokenAugmenter aug(test::everything_on(), 5, 4);
  TensorDict flat({6});
  flat.set("action", i64({6}, {0, 1, 2, 3, 4, 0}));
  MOUSE_EXPECT_THROW_WITH(aug.update_augmentations(flat), InvalidArgument,
                          "expected a batch of batch size [B, S], found batch size [6]");
  MOUSE_EXPECT_THROW_WITH(aug.apply(flat, aug.make_snapshot(6, 0), 0), InvalidArgument,
                          "found batch size [6]");
  MOUSE_EXPECT_THROW_WITH(aug.make_snapshot(-1, 0), InvalidArgument, "found -1");
}

TEST(AugmenterErrors, ActionOutsideItsPermutationRange) {
  TokenAugmenter aug(with_permute_action(PermuteAction::kInput), 4, 0);
  TensorDict in({2, 3});
  in.set("action", i64({2, 3}, {0, 1, 2, 3, 4, 1}));
  aug.update_augmentations(in);
  MOUSE_EXPECT_THROW_WITH(aug.augment(in), InvalidArgument,
                          "field \"action\": value 4 at [1, 1] is outside the permutation range "
                          "[0, 4) (max_num_actions = 4)");
  in.set("action", i64({2, 3}, {0, -1, 2, 3, 0, 1}));
  MOUSE_EXPECT_THROW_WITH(aug.augment(in), InvalidArgument, "value -1 at [0, 1]");
}

TEST(AugmenterErrors, OutOfRangeIsAnErrorEvenWhereTheMaskWouldHideIt) {
  AugmentTokensConfig c = with_permute_action(PermuteAction::kBoth);
  c.mask_prob.action = 1.0;
  TokenAugmenter aug(c, 2, 0);
  TensorDict in({1, 1});
  in.set("action", i64({1, 1}, {2}));
  aug.update_augmentations(in);
  MOUSE_EXPECT_THROW_WITH(aug.augment(in), InvalidArgument, "value 2 at [0, 0]");
}

TEST(AugmenterErrors, DoneAndObsDiscreteOutsideTheirRanges) {
  AugmentTokensConfig c;
  c.permute_done = true;
  c.permute_obs_discrete = true;
  TokenAugmenter aug(c, 0, 3);
  TensorDict in({1, 2});
  in.set("done", i64({1, 2}, {0, 3}));
  aug.update_augmentations(in);
  MOUSE_EXPECT_THROW_WITH(aug.augment(in), InvalidArgument,
                          "field \"done\": value 3 at [0, 1] is outside the permutation range "
                          "[0, 3) (done codes = 3)");
  in.set("done", i64({1, 2}, {0, 2}));
  in.set("obs_discrete", i64({1, 2, 2}, {0, 1, 2, 7}));
  MOUSE_EXPECT_THROW_WITH(aug.augment(in), InvalidArgument,
                          "field \"obs_discrete\": value 7 at [0, 1, 1] is outside the "
                          "permutation range [0, 3) (max_num_obs_discrete = 3)");
}

TEST(AugmenterErrors, QStarMustHaveMaxNumActionsColumns) {
  TokenAugmenter aug(with_permute_action(PermuteAction::kTarget), 4, 0);
  TensorDict in({1, 1});
  in.set("q_star", f32({1, 1, 3}, {1, 2, 3}));
  aug.update_augmentations(in);
  MOUSE_EXPECT_THROW_WITH(aug.augment(in), InvalidArgument,
                          "permute_action target needs shape [B, S, 4] (max_num_actions = 4), "
                          "found [1, 1, 3]");
}

TEST(AugmenterErrors, WrongDtypesAreTypeErrors) {
  TokenAugmenter aug(test::everything_on(), 5, 4);
  TensorDict in({1, 2});
  in.set("reward", i64({1, 2}, {1, 2}));
  aug.update_augmentations(in);
  MOUSE_EXPECT_THROW_WITH(aug.augment(in), TypeError,
                          "field \"reward\": expected dtype float32, found int64 [1, 2]");
  TensorDict img({1, 1});
  img.set("obs_image", f32({1, 1, 2}, {1, 2}));
  MOUSE_EXPECT_THROW_WITH(aug.augment(img), TypeError,
                          "field \"obs_image\": expected dtype int64 or uint8, found float32");
  TensorDict act({1, 1});
  act.set("action", f32({1, 1}, {1}));
  MOUSE_EXPECT_THROW_WITH(aug.augment(act), TypeError, "field \"action\": expected dtype int64");
}

TEST(AugmenterErrors, ConstructorChecksSizesAndConfig) {
  MOUSE_EXPECT_THROW_WITH(TokenAugmenter(AugmentTokensConfig{}, -1, 0), InvalidArgument,
                          "expected max_num_actions >= 0 and max_num_obs_discrete >= 0, found -1");
  MOUSE_EXPECT_THROW_WITH(TokenAugmenter(with_permute_action(PermuteAction::kBoth), 0, 0),
                          InvalidArgument, "permute_action both needs max_num_actions >= 1");
  AugmentTokensConfig c;
  c.permute_obs_discrete = true;
  MOUSE_EXPECT_THROW_WITH(TokenAugmenter(c, 1, 0), InvalidArgument,
                          "permute_obs_discrete needs max_num_obs_discrete >= 1, found 0");
  c = AugmentTokensConfig{};
  c.mask_prob.reward = 1.5;
  MOUSE_EXPECT_THROW_WITH(TokenAugmenter(c, 1, 1), InvalidArgument, "mask_prob.reward");
}

TEST(AugmenterErrors, SnapshotsThatDoNotMatchTheConfigAreRejected) {
  TokenAugmenter aug(with_permute_action(PermuteAction::kInput), 3, 0);
  AugmentSnapshot s;
  s.batch_size = 1;
  MOUSE_EXPECT_THROW_WITH(aug.set_snapshot(s), InvalidArgument,
                          "action_perm is missing but the config has it on");
  s.action_perm = i64({1, 2}, {0, 1});
  MOUSE_EXPECT_THROW_WITH(aug.set_snapshot(s), InvalidArgument,
                          "snapshot action_perm: expected int64 [1, 3], found int64 [1, 2]");
  s.action_perm = i64({1, 3}, {0, 1, 1});
  MOUSE_EXPECT_THROW_WITH(aug.set_snapshot(s), InvalidArgument,
                          "row 0 is not a permutation of [0, 3): value 1 at 2");
  s.action_perm = i64({1, 3}, {0, 3, 1});
  MOUSE_EXPECT_THROW_WITH(aug.set_snapshot(s), InvalidArgument, "value 3 at 1");
  s.action_perm = i64({1, 3}, {0, 2, 1});
  s.scale_reward = 2.0;
  MOUSE_EXPECT_THROW_WITH(aug.set_snapshot(s), InvalidArgument,
                          "scale_reward is present but the config has it inactive");
  s.scale_reward.reset();
  EXPECT_NO_THROW(aug.set_snapshot(s));
  // apply checks the snapshot too.
  TensorDict in({1, 1});
  in.set("action", i64({1, 1}, {0}));
  AugmentSnapshot bad = s;
  bad.action_perm = i64({1, 3}, {0, 0, 1});
  EXPECT_THROW(aug.apply(in, bad, 0), InvalidArgument);
}

}  // namespace
}  // namespace mouse
