// FrozenLake: maps, gym's transition model, slip statistics, value iteration, frames.
#include <gtest/gtest.h>

#include <map>

#include "envs/keyed_random.hpp"
#include "envs/png_encode.hpp"
#include "env_test_util.hpp"
#include "hf/hf_test_util.hpp"
#include "mouse/envs.hpp"

namespace mouse::envs {
namespace {

TEST(FrozenLake, StandardMapsAndTimeLimits) {
  const FrozenLake small = FrozenLake::standard(Env::kFrozenLake4x4, true);
  EXPECT_EQ(small.map(), test::lake_map(4));
  EXPECT_EQ(small.num_states(), 16);
  EXPECT_EQ(small.max_episode_steps(), 100);
  EXPECT_EQ(small.start_state(), 0);
  EXPECT_TRUE(small.is_terminal(5));
  EXPECT_TRUE(small.is_terminal(15));
  EXPECT_FALSE(small.is_terminal(6));
  const FrozenLake big = FrozenLake::standard(Env::kFrozenLake8x8, false);
  EXPECT_EQ(big.map(), test::lake_map(8));
  EXPECT_EQ(big.max_episode_steps(), 200);
  EXPECT_FALSE(big.slippery());
  EXPECT_THROW_MSG(FrozenLake::standard(Env::kCartPole, true), InvalidArgument, "cartpole");
}

TEST(FrozenLake, BadMapsAreRejected) {
  EXPECT_THROW_MSG(FrozenLake({"SF", "F"}, true, 10), InvalidArgument, "row 1 has 1 cells");
  EXPECT_THROW_MSG(FrozenLake({"SX"}, true, 10), InvalidArgument, "'X'");
  EXPECT_THROW_MSG(FrozenLake({"FF"}, true, 10), InvalidArgument, "exactly one 'S', found 0");
  EXPECT_THROW_MSG(FrozenLake({"SG"}, true, 0), InvalidArgument, "max_episode_steps");
  EXPECT_THROW_MSG(FrozenLake({}, true, 5), InvalidArgument, "empty");
}

TEST(FrozenLake, DeterministicMovesClampAtTheEdges) {
  const FrozenLake lake = FrozenLake::standard(Env::kFrozenLake4x4, false);
  auto next = [&](int s, int a) {
    auto o = lake.outcomes(s, a);
    EXPECT_EQ(o.size(), 1u);
    EXPECT_EQ(o[0].probability, 1.0);
    return o[0].next_state;
  };
  EXPECT_EQ(next(0, kLeft), 0);
  EXPECT_EQ(next(0, kUp), 0);
  EXPECT_EQ(next(0, kRight), 1);
  EXPECT_EQ(next(0, kDown), 4);
  EXPECT_EQ(next(14, kRight), 15);
  const Outcome goal = lake.outcomes(14, kRight)[0];
  EXPECT_EQ(goal.reward, 1.0f);
  EXPECT_TRUE(goal.terminal);
  const Outcome hole = lake.outcomes(1, kDown)[0];
  EXPECT_EQ(hole.next_state, 5);
  EXPECT_EQ(hole.reward, 0.0f);
  EXPECT_TRUE(hole.terminal);
  // Terminal states are absorbing.
  const Outcome stay = lake.outcomes(5, kRight)[0];
  EXPECT_EQ(stay.next_state, 5);
  EXPECT_TRUE(stay.terminal);
  EXPECT_THROW_MSG(lake.outcomes(16, 0), InvalidArgument, "state 16");
  EXPECT_THROW_MSG(lake.outcomes(0, 4), InvalidArgument, "action 4");
}

TEST(FrozenLake, SlipperyMovesListThePerpendicularDirections) {
  const FrozenLake lake = FrozenLake::standard(Env::kFrozenLake8x8, true);
  const int s = 3 * 8 + 2;  // row 3, col 2: four frozen neighbours
  const auto o = lake.outcomes(s, kDown);
  ASSERT_EQ(o.size(), 3u);
  EXPECT_EQ(o[0].next_state, s - 1);  // left
  EXPECT_EQ(o[1].next_state, s + 8);  // down
  EXPECT_EQ(o[2].next_state, s + 1);  // right
  for (const auto& x : o) EXPECT_DOUBLE_EQ(x.probability, 1.0 / 3.0);
}

TEST(FrozenLake, SlipStatisticsAreOneThirdEachWay) {
  const FrozenLake lake = FrozenLake::standard(Env::kFrozenLake8x8, true);
  const int s = 3 * 8 + 2;
  detail::KeyedRandom rng(12345, 0);
  for (int a = 0; a < 4; ++a) {
    std::map<int, int> counts;
    const int n = 30000;
    for (int i = 0; i < n; ++i) counts[lake.sample(s, a, rng.uniform()).next_state]++;
    const int intended = test::lake_move(8, s, a);
    const int left_of = test::lake_move(8, s, (a + 3) % 4);
    const int right_of = test::lake_move(8, s, (a + 1) % 4);
    ASSERT_EQ(counts.size(), 3u) << "action " << a;
    // Standard deviation of each fraction: sqrt(2/9 / 30000) ~ 0.0027; allow ~5 sigma.
    for (int t : {intended, left_of, right_of}) {
      EXPECT_NEAR(counts[t] / static_cast<double>(n), 1.0 / 3.0, 0.015) << "action " << a << " to " << t;
    }
    EXPECT_EQ(counts.count(test::lake_move(8, s, (a + 2) % 4)), 0u) << "never backwards";
  }
}

TEST(FrozenLake, SampleSplitsTheUnitIntervalInThirds) {
  const FrozenLake lake = FrozenLake::standard(Env::kFrozenLake4x4, true);
  EXPECT_EQ(lake.sample(6, kDown, 0.0).next_state, 5);
  EXPECT_EQ(lake.sample(6, kDown, 0.34).next_state, 10);
  EXPECT_EQ(lake.sample(6, kDown, 0.999999).next_state, 7);
}

TEST(FrozenLakeQStar, MatchesAnIndependentValueIteration) {
  for (Env env : {Env::kFrozenLake4x4, Env::kFrozenLake8x8}) {
    for (bool slippery : {true, false}) {
      for (double gamma : {0.99, 0.9, 1.0}) {
        const int n = env == Env::kFrozenLake4x4 ? 4 : 8;
        SCOPED_TRACE(testing::Message() << n << "x" << n << " slippery " << slippery << " gamma " << gamma);
        const auto ours = FrozenLake::standard(env, slippery).q_star(gamma);
        const auto ref = test::reference_q_star(n, slippery, gamma);
        ASSERT_EQ(ours.size(), ref.size());
        for (size_t i = 0; i < ours.size(); ++i) EXPECT_NEAR(ours[i], ref[i], 1e-8) << "entry " << i;
      }
    }
  }
}

TEST(FrozenLakeQStar, KnownValues) {
  // Non-slippery: the goal is reached by the shortest path, so V*(s) = gamma^(d-1) with d the
  // number of moves to the goal; from the 4x4 start d = 6.
  const auto q = FrozenLake::standard(Env::kFrozenLake4x4, false).q_star(0.9);
  EXPECT_NEAR(std::max(q[1], q[2]), std::pow(0.9, 5), 1e-12);
  EXPECT_NEAR(q[14 * 4 + kRight], 1.0, 1e-12);
  EXPECT_EQ(q[5 * 4 + kLeft], 0.0);  // hole
  // Slippery 4x4 with gamma 0.99: the well-known V*(start) ~ 0.542.
  const auto qs = FrozenLake::standard(Env::kFrozenLake4x4, true).q_star(0.99);
  EXPECT_NEAR(*std::max_element(qs.begin(), qs.begin() + 4), 0.542, 1e-3);
}

TEST(FrozenLakeQStar, BadArgumentsAreRejected) {
  const FrozenLake lake = FrozenLake::standard(Env::kFrozenLake4x4, true);
  EXPECT_THROW_MSG(lake.q_star(1.5), InvalidArgument, "gamma must be in [0, 1], got 1.5");
  EXPECT_THROW_MSG(lake.q_star(0.9, 0.0), InvalidArgument, "tolerance");
}

TEST(FrozenLakeRender, CellsAndAgentHaveTheirColours) {
  const FrozenLake lake = FrozenLake::standard(Env::kFrozenLake4x4, true);
  const int px = 8;
  const auto rgb = lake.render(6, px);
  ASSERT_EQ(rgb.size(), 32u * 32u * 3u);
  auto at = [&](int x, int y) {
    const size_t i = static_cast<size_t>((y * 32 + x) * 3);
    return std::array<uint8_t, 3>{rgb[i], rgb[i + 1], rgb[i + 2]};
  };
  auto centre = [&](int s) { return at((s % 4) * px + px / 2, (s / 4) * px + px / 2); };
  auto corner = [&](int s) { return at((s % 4) * px, (s / 4) * px); };
  EXPECT_EQ(centre(0), FrozenLake::kColorStart);
  EXPECT_EQ(centre(1), FrozenLake::kColorFrozen);
  EXPECT_EQ(centre(5), FrozenLake::kColorHole);
  EXPECT_EQ(centre(15), FrozenLake::kColorGoal);
  EXPECT_EQ(centre(6), FrozenLake::kColorAgent);
  EXPECT_EQ(corner(6), FrozenLake::kColorFrozen);  // the cell shows around the agent
  EXPECT_THROW_MSG(lake.render(16), InvalidArgument, "state 16");
  EXPECT_THROW_MSG(lake.render(0, 2), InvalidArgument, "cell_pixels");
}

TEST(PngEncode, DecodesToTheSamePixels) {
  const FrozenLake lake = FrozenLake::standard(Env::kFrozenLake8x8, true);
  const auto rgb = lake.render(63, 5);
  const std::string png = detail::encode_png_rgb(rgb, 40, 40);
  ASSERT_GT(png.size(), 8u);
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  const test::DecodedPng img = test::decode_png(png);
  EXPECT_EQ(img.width, 40);
  EXPECT_EQ(img.height, 40);
  EXPECT_EQ(img.channels, 3);
  EXPECT_EQ(img.pixels, rgb);
  EXPECT_THROW_MSG(detail::encode_png_rgb(rgb, 40, 41), InvalidArgument, "40x41");
}

}  // namespace
}  // namespace mouse::envs
