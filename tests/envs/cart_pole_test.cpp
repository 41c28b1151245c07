// CartPole: the equations of motion against hand-computed steps, termination, heuristic, frames.
#include <gtest/gtest.h>

#include "env_test_util.hpp"
#include "mouse/envs.hpp"

namespace mouse::envs {
namespace {

void expect_state(const CartPoleState& s, double x, double x_dot, double theta, double theta_dot) {
  EXPECT_NEAR(s.x, x, 1e-12);
  EXPECT_NEAR(s.x_dot, x_dot, 1e-12);
  EXPECT_NEAR(s.theta, theta, 1e-12);
  EXPECT_NEAR(s.theta_dot, theta_dot, 1e-12);
}

TEST(CartPole, StepsFromRestMatchHandComputedValues) {
  // From rest, pushing right: temp = F / (mc + mp) = 100/11, theta_acc = -temp / (l (4/3 -
  // mp / (mc + mp))) = -600/41, x_acc = temp - mp l theta_acc / (mc + mp) = 4400/451.
  CartPoleState s = CartPole::step(CartPoleState{}, 1);
  expect_state(s, 0.0, 0.02 * 4400.0 / 451.0, 0.0, -0.02 * 600.0 / 41.0);
  // Pushing left again cancels the velocities exactly; positions move by the old velocities.
  s = CartPole::step(s, 0);
  expect_state(s, 0.0039024390243902443, 0.0, -0.005853658536585366, 0.0);
}

TEST(CartPole, StepFromATiltedStateMatchesHandComputedValues) {
  const CartPoleState s{0.03, -0.2, 0.1, 0.5};
  expect_state(CartPole::step(s, 1), 0.026, -0.006419476403295904, 0.11, 0.2404308835510348);
  expect_state(CartPole::step(s, 0), 0.026, -0.3963789924645712, 0.11, 0.822447897707193);
}

TEST(CartPole, TerminatesOutsideTheThresholds) {
  EXPECT_FALSE(CartPole::terminated({2.4, 0, 0.2094, 0}));
  EXPECT_TRUE(CartPole::terminated({2.4001, 0, 0, 0}));
  EXPECT_TRUE(CartPole::terminated({-2.4001, 0, 0, 0}));
  EXPECT_TRUE(CartPole::terminated({0, 0, 12.01 * 3.14159265358979 / 180, 0}));
  EXPECT_TRUE(CartPole::terminated({0, 0, -0.2095, 0}));
  EXPECT_NEAR(CartPole::kThetaThreshold, 0.20943951023931953, 1e-15);
}

TEST(CartPole, HeuristicBalancesForAWhile) {
  // Start tilted: the heuristic keeps the pole up far longer than any random policy does.
  CartPoleState s{0.0, 0.0, 0.04, 0.0};
  int steps = 0;
  while (steps < 500 && !CartPole::terminated(s)) {
    s = CartPole::step(s, CartPole::heuristic_action(s));
    ++steps;
  }
  EXPECT_EQ(steps, 500);
  EXPECT_EQ(CartPole::heuristic_action({0, 0, 0.01, 0}), 1);
  EXPECT_EQ(CartPole::heuristic_action({0, 0, -0.01, 0}), 0);
}

TEST(CartPole, FrameShowsCartAndPole) {
  const auto rgb = CartPole::render({0.0, 0.0, 0.0, 0.0});
  ASSERT_EQ(rgb.size(), static_cast<size_t>(CartPole::kFrameWidth * CartPole::kFrameHeight * 3));
  auto at = [&](int x, int y) {
    const size_t i = static_cast<size_t>((y * CartPole::kFrameWidth + x) * 3);
    return std::array<uint8_t, 3>{rgb[i], rgb[i + 1], rgb[i + 2]};
  };
  const int mid = CartPole::kFrameWidth / 2;
  const int track = CartPole::kFrameHeight - 8;
  EXPECT_EQ(at(0, 0), (std::array<uint8_t, 3>{255, 255, 255}));
  EXPECT_EQ(at(1, track), (std::array<uint8_t, 3>{128, 128, 128}));
  EXPECT_EQ(at(mid, track - 2), (std::array<uint8_t, 3>{40, 70, 200}));    // cart
  EXPECT_EQ(at(mid, track - 10), (std::array<uint8_t, 3>{160, 100, 40}));  // upright pole
  // The cart follows x.
  const auto right = CartPole::render({1.2, 0.0, 0.0, 0.0});
  const size_t i = static_cast<size_t>(((track - 2) * CartPole::kFrameWidth + mid + 16) * 3);
  EXPECT_EQ(right[i + 2], 200);
}

}  // namespace
}  // namespace mouse::envs
