// CartPole: gym's CartPole-v1 equations of motion (Euler), termination, the balancing
// heuristic and frames.
#include <algorithm>
#include <cmath>

#include "mouse/envs.hpp"

namespace mouse::envs {

CartPoleState CartPole::step(const CartPoleState& s, int action) noexcept {
  constexpr double kTotalMass = kMassPole + kMassCart;
  constexpr double kPoleMassLength = kMassPole * kLength;
  const double force = action == 0 ? -kForce : kForce;
  const double cos_theta = std::cos(s.theta);
  const double sin_theta = std::sin(s.theta);
  const double temp = (force + kPoleMassLength * s.theta_dot * s.theta_dot * sin_theta) / kTotalMass;
  const double theta_acc =
      (kGravity * sin_theta - cos_theta * temp) /
      (kLength * (4.0 / 3.0 - kMassPole * cos_theta * cos_theta / kTotalMass));
  const double x_acc = temp - kPoleMassLength * theta_acc * cos_theta / kTotalMass;
  // Explicit Euler with the old velocities for the positions, as gym's "euler" integrator.
  CartPoleState n;
  n.x = s.x + kTau * s.x_dot;
  n.x_dot = s.x_dot + kTau * x_acc;
  n.theta = s.theta + kTau * s.theta_dot;
  n.theta_dot = s.theta_dot + kTau * theta_acc;
  return n;
}

bool CartPole::terminated(const CartPoleState& s) noexcept {
  return s.x < -kXThreshold || s.x > kXThreshold || s.theta < -kThetaThreshold ||
         s.theta > kThetaThreshold;
}

int CartPole::heuristic_action(const CartPoleState& s) noexcept {
  return s.theta + 0.5 * s.theta_dot + 0.01 * s.x + 0.1 * s.x_dot > 0.0 ? 1 : 0;
}

std::vector<uint8_t> CartPole::render(const CartPoleState& s) {
  constexpr int w = kFrameWidth;
  constexpr int h = kFrameHeight;
  std::vector<uint8_t> rgb(static_cast<size_t>(w * h * 3), 255);
  auto put = [&](int x, int y, uint8_t r, uint8_t g, uint8_t b) {
    if (x < 0 || x >= w || y < 0 || y >= h) return;
    uint8_t* p = &rgb[static_cast<size_t>((y * w + x) * 3)];
    p[0] = r;
    p[1] = g;
    p[2] = b;
  };
  // The track spans x in [-2.4, 2.4] over the frame's width.
  const double scale = w / (2.0 * kXThreshold);
  const int track_y = h - 8;
  for (int x = 0; x < w; ++x) put(x, track_y, 128, 128, 128);
  const int cart_x = static_cast<int>(std::lround(s.x * scale + w / 2.0));
  for (int y = track_y - 4; y < track_y; ++y) {
    for (int x = cart_x - 4; x < cart_x + 4; ++x) put(x, y, 40, 70, 200);
  }
  // The pole (length 2 * kLength) from the top of the cart, drawn as dots every half pixel.
  const double pole_px = 2.0 * kLength * scale;
  const double base_x = cart_x;
  const double base_y = track_y - 4;
  for (int k = 0; k <= static_cast<int>(2 * pole_px); ++k) {
    const double t = k / 2.0;
    const int x = static_cast<int>(std::lround(base_x + t * std::sin(s.theta)));
    const int y = static_cast<int>(std::lround(base_y - t * std::cos(s.theta)));
    put(x, y, 160, 100, 40);
  }
  return rgb;
}

}  // namespace mouse::envs
