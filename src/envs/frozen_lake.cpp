// FrozenLake: the map, gym's transition model, value iteration and frames.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "mouse/envs.hpp"
#include "mouse/error.hpp"

namespace mouse::envs {

namespace {

// gym's generate-free standard maps (gymnasium.envs.toy_text.frozen_lake.MAPS).
const std::vector<std::string>& map_4x4() {
  static const std::vector<std::string> m{"SFFF", "FHFH", "FFFH", "HFFG"};
  return m;
}

const std::vector<std::string>& map_8x8() {
  static const std::vector<std::string> m{"SFFFFFFF", "FFFFFFFF", "FFFHFFFF", "FFFFFHFF",
                                          "FFFHFFFF", "FHHFFFHF", "FHFFHFHF", "FFFHFFFG"};
  return m;
}

}  // namespace

FrozenLake::FrozenLake(std::vector<std::string> map, bool slippery, int64_t max_episode_steps)
    : map_(std::move(map)), slippery_(slippery), max_episode_steps_(max_episode_steps) {
  if (map_.empty() || map_[0].empty()) throw InvalidArgument("FrozenLake: the map is empty");
  if (max_episode_steps < 1) {
    throw InvalidArgument(
        fmt::format("FrozenLake: max_episode_steps must be >= 1, got {}", max_episode_steps));
  }
  rows_ = static_cast<int>(map_.size());
  cols_ = static_cast<int>(map_[0].size());
  int starts = 0;
  for (int r = 0; r < rows_; ++r) {
    if (static_cast<int>(map_[r].size()) != cols_) {
      throw InvalidArgument(fmt::format("FrozenLake: map row {} has {} cells, row 0 has {}", r,
                                        map_[r].size(), cols_));
    }
    for (int c = 0; c < cols_; ++c) {
      const char ch = map_[r][c];
      if (ch != 'S' && ch != 'F' && ch != 'H' && ch != 'G') {
        throw InvalidArgument(fmt::format(
            "FrozenLake: map cell ({}, {}) is '{}', expected one of S, F, H, G", r, c, ch));
      }
      if (ch == 'S') {
        start_ = r * cols_ + c;
        ++starts;
      }
    }
  }
  if (starts != 1) {
    throw InvalidArgument(fmt::format("FrozenLake: the map needs exactly one 'S', found {}", starts));
  }
}

FrozenLake FrozenLake::standard(Env env, bool slippery) {
  switch (env) {
    case Env::kFrozenLake4x4:
      return FrozenLake(map_4x4(), slippery, 100);
    case Env::kFrozenLake8x8:
      return FrozenLake(map_8x8(), slippery, 200);
    case Env::kCartPole:
      break;
  }
  throw InvalidArgument(
      fmt::format("FrozenLake::standard: {} is not a FrozenLake environment", env_name(env)));
}

char FrozenLake::cell(int state) const noexcept {
  return map_[static_cast<size_t>(state / cols_)][static_cast<size_t>(state % cols_)];
}

bool FrozenLake::is_terminal(int state) const noexcept {
  const char c = cell(state);
  return c == 'H' || c == 'G';
}

std::vector<Outcome> FrozenLake::outcomes(int state, int action) const {
  if (state < 0 || state >= num_states()) {
    throw InvalidArgument(
        fmt::format("FrozenLake: state {} is out of range [0, {})", state, num_states()));
  }
  if (action < 0 || action >= kNumActions) {
    throw InvalidArgument(fmt::format("FrozenLake: action {} is out of range [0, 4)", action));
  }
  if (is_terminal(state)) return {Outcome{1.0, state, 0.0f, true}};
  auto move = [&](int direction) {
    int r = state / cols_;
    int c = state % cols_;
    switch (direction) {
      case kLeft: c = std::max(c - 1, 0); break;
      case kDown: r = std::min(r + 1, rows_ - 1); break;
      case kRight: c = std::min(c + 1, cols_ - 1); break;
      default: r = std::max(r - 1, 0); break;
    }
    const int next = r * cols_ + c;
    const char ch = cell(next);
    return Outcome{0.0, next, ch == 'G' ? 1.0f : 0.0f, ch == 'G' || ch == 'H'};
  };
  if (!slippery_) {
    Outcome o = move(action);
    o.probability = 1.0;
    return {o};
  }
  std::vector<Outcome> out;
  for (int d : {(action + 3) % 4, action, (action + 1) % 4}) {
    Outcome o = move(d);
    o.probability = 1.0 / 3.0;
    out.push_back(o);
  }
  return out;
}

Outcome FrozenLake::sample(int state, int action, double u) const {
  const std::vector<Outcome> all = outcomes(state, action);
  // Equal thirds: index by u directly, so the three directions get exactly [0,1/3), [1/3,2/3)
  // and [2/3,1) without accumulating rounding.
  const size_t i = std::min(static_cast<size_t>(u * static_cast<double>(all.size())), all.size() - 1);
  return all[i];
}

std::vector<double> FrozenLake::q_star(double gamma, double tolerance, int max_iterations) const {
  if (!(gamma >= 0.0 && gamma <= 1.0)) {
    throw InvalidArgument(fmt::format("FrozenLake::q_star: gamma must be in [0, 1], got {}", gamma));
  }
  if (!(tolerance > 0.0)) {
    throw InvalidArgument(
        fmt::format("FrozenLake::q_star: tolerance must be > 0, got {}", tolerance));
  }
  const int n = num_states();
  std::vector<std::vector<Outcome>> model(static_cast<size_t>(n * kNumActions));
  for (int s = 0; s < n; ++s) {
    for (int a = 0; a < kNumActions; ++a) model[static_cast<size_t>(s * kNumActions + a)] = outcomes(s, a);
  }
  std::vector<double> q(static_cast<size_t>(n * kNumActions), 0.0);
  std::vector<double> v(static_cast<size_t>(n), 0.0);
  for (int it = 0; it < max_iterations; ++it) {
    double change = 0.0;
    for (int s = 0; s < n; ++s) {
      if (is_terminal(s)) continue;
      for (int a = 0; a < kNumActions; ++a) {
        double value = 0.0;
        for (const Outcome& o : model[static_cast<size_t>(s * kNumActions + a)]) {
          value += o.probability *
                   (o.reward + (o.terminal ? 0.0 : gamma * v[static_cast<size_t>(o.next_state)]));
        }
        double& slot = q[static_cast<size_t>(s * kNumActions + a)];
        change = std::max(change, std::abs(value - slot));
        slot = value;
      }
    }
    // Jacobi sweep: V from this sweep's Q, so the result does not depend on state order.
    for (int s = 0; s < n; ++s) {
      const auto* row = &q[static_cast<size_t>(s * kNumActions)];
      v[static_cast<size_t>(s)] = *std::max_element(row, row + kNumActions);
    }
    if (change <= tolerance) break;
  }
  return q;
}

std::vector<uint8_t> FrozenLake::render(int agent_state, int cell_pixels) const {
  if (cell_pixels < 4 || cell_pixels > 64) {
    throw InvalidArgument(
        fmt::format("FrozenLake::render: cell_pixels must be in [4, 64], got {}", cell_pixels));
  }
  if (agent_state < 0 || agent_state >= num_states()) {
    throw InvalidArgument(fmt::format("FrozenLake::render: state {} is out of range [0, {})",
                                      agent_state, num_states()));
  }
  const int width = cols_ * cell_pixels;
  const int height = rows_ * cell_pixels;
  std::vector<uint8_t> rgb(static_cast<size_t>(width * height * 3));
  const int quarter = cell_pixels / 4;
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      const int state = (y / cell_pixels) * cols_ + x / cell_pixels;
      const int in_y = y % cell_pixels;
      const int in_x = x % cell_pixels;
      std::array<uint8_t, 3> color;
      if (state == agent_state && in_y >= quarter && in_y < cell_pixels - quarter &&
          in_x >= quarter && in_x < cell_pixels - quarter) {
        color = kColorAgent;
      } else {
        switch (cell(state)) {
          case 'H': color = kColorHole; break;
          case 'G': color = kColorGoal; break;
          case 'S': color = kColorStart; break;
          default: color = kColorFrozen; break;
        }
      }
      std::copy(color.begin(), color.end(), rgb.begin() + (static_cast<ptrdiff_t>(y) * width + x) * 3);
    }
  }
  return rgb;
}

}  // namespace mouse::envs
