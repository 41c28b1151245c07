// AugmentScalarSpec / AugmentMaskProbConfig / AugmentTokensConfig: predicates and validation.
#include <fmt/format.h>

#include <cmath>

#include "mouse/augment.hpp"
#include "mouse/error.hpp"

namespace mouse {

bool AugmentScalarSpec::is_active(double identity) const noexcept {
  if (is_uniform()) return !(*low == identity && *high == identity);
  return !(std == 0.0 && mean == identity);
}

void AugmentScalarSpec::validate(std::string_view name) const {
  if (low.has_value() != high.has_value()) {
    throw InvalidArgument(fmt::format(
        "augment config: {}: expected both low and high (uniform) or neither (Gaussian), found "
        "only {}",
        name, low.has_value() ? "low" : "high"));
  }
  auto check_finite = [&](const char* what, double v) {
    if (!std::isfinite(v)) {
      throw InvalidArgument(
          fmt::format("augment config: {}.{}: expected a finite number, found {}", name, what, v));
    }
  };
  if (is_uniform()) {
    check_finite("low", *low);
    check_finite("high", *high);
  } else {
    check_finite("mean", mean);
    check_finite("std", std);
    if (std < 0.0) {
      throw InvalidArgument(
          fmt::format("augment config: {}.std: expected a value >= 0, found {}", name, std));
    }
  }
}

bool AugmentMaskProbConfig::any_enabled() const noexcept {
  return action > 0.0 || reward > 0.0 || done > 0.0 || obs_continuous > 0.0 ||
         obs_discrete > 0.0 || obs_image > 0.0 || time > 0.0;
}

void AugmentMaskProbConfig::validate() const {
  for (const AugmentMaskField& f : kAugmentMaskFields) {
    const std::string_view name = f.name;
    const double p = this->*f.member;
    if (!(p >= 0.0 && p <= 1.0)) {
      throw InvalidArgument(fmt::format(
          "augment config: mask_prob.{}: expected a probability in [0, 1], found {}", name, p));
    }
  }
}

std::string_view permute_action_name(PermuteAction mode) noexcept {
  switch (mode) {
    case PermuteAction::kOff:
      return "off";
    case PermuteAction::kInput:
      return "input";
    case PermuteAction::kTarget:
      return "target";
    case PermuteAction::kBoth:
      return "both";
  }
  return "off";
}

PermuteAction permute_action_from_name(std::string_view name) {
  if (name == "off" || name == "false") return PermuteAction::kOff;
  if (name == "input") return PermuteAction::kInput;
  if (name == "target") return PermuteAction::kTarget;
  if (name == "both") return PermuteAction::kBoth;
  throw InvalidArgument(fmt::format(
      "augment config: permute_action: expected false, \"input\", \"target\" or \"both\", found "
      "\"{}\"",
      name));
}

bool AugmentTokensConfig::any_enabled() const noexcept {
  if (!enabled) return false;
  return scale_reward.is_active(1.0) || shift_reward.is_active(0.0) ||
         scale_obs.is_active(1.0) || shift_obs.is_active(0.0) ||
         scale_obs_image.is_active(1.0) || shift_obs_image.is_active(0.0) ||
         permute_obs_discrete || permute_action != PermuteAction::kOff || permute_done ||
         mask_prob.any_enabled();
}

void AugmentTokensConfig::validate() const {
  scale_reward.validate("scale_reward");
  shift_reward.validate("shift_reward");
  scale_obs.validate("scale_obs");
  shift_obs.validate("shift_obs");
  scale_obs_image.validate("scale_obs_image");
  shift_obs_image.validate("shift_obs_image");
  mask_prob.validate();
  switch (permute_action) {
    case PermuteAction::kOff:
    case PermuteAction::kInput:
    case PermuteAction::kTarget:
    case PermuteAction::kBoth:
      break;
    default:
      throw InvalidArgument(fmt::format("augment config: permute_action: unknown mode {}",
                                        static_cast<int>(permute_action)));
  }
}

}  // namespace mouse
