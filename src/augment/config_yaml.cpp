// AugmentTokensConfig from YAML (yaml-cpp). Every error names the source and the 1-based
// line:column of the offending node, so a typo in a long training config is found at once.
#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <array>
#include <span>
#include <set>
#include <sstream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "core/checked_file.hpp"
#include "mouse/augment.hpp"
#include "mouse/error.hpp"

namespace mouse {
namespace {

constexpr std::array<std::string_view, 12> kTopKeys = {
    "enabled",        "permute_tokens",  "scale_reward",         "shift_reward",
    "scale_obs",      "shift_obs",       "scale_obs_image",      "shift_obs_image",
    "permute_obs_discrete", "permute_action", "permute_done",   "mask_prob"};
constexpr std::array<std::string_view, kAugmentMaskFields.size()> kMaskKeys = [] {
  std::array<std::string_view, kAugmentMaskFields.size()> keys{};
  for (size_t i = 0; i < keys.size(); ++i) keys[i] = kAugmentMaskFields[i].name;
  return keys;
}();
constexpr std::array<std::string_view, 4> kScalarKeys = {"mean", "std", "low", "high"};

std::string join(std::span<const std::string_view> names) {
  std::string out;
  for (std::string_view n : names) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

const char* kind_name(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
      return "null";
    case YAML::NodeType::Scalar:
      return "a scalar";
    case YAML::NodeType::Sequence:
      return "a sequence";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

// Parses one document; `source_` prefixes every message.
class Parser {
 public:
  explicit Parser(std::string_view source) : source_(source) {}

  AugmentTokensConfig parse(const YAML::Node& root) const {
    AugmentTokensConfig config;
    if (root.IsNull()) return config;
    expect_map(root, "the augment config");
    for (const auto& [key_node, value] : checked_entries(root, kTopKeys, "augment config")) {
      const std::string key = key_node.Scalar();
      if (key == "enabled") {
        config.enabled = as_bool(value, key);
      } else if (key == "permute_tokens") {
        config.permute_tokens = as_bool(value, key);
      } else if (key == "permute_obs_discrete") {
        config.permute_obs_discrete = as_bool(value, key);
      } else if (key == "permute_done") {
        config.permute_done = as_bool(value, key);
      } else if (key == "permute_action") {
        config.permute_action = as_permute_action(value);
      } else if (key == "mask_prob") {
        config.mask_prob = as_mask_prob(value);
      } else {
        for (const AugmentScalarField& f : kAugmentScalarFields) {
          if (key == f.name) config.*f.member = as_scalar_spec(value, key, f.identity);
        }
      }
    }
    try {
      config.validate();
    } catch (const InvalidArgument& e) {
      throw InvalidArgument(fmt::format("{}: {}", source_, e.what()));
    }
    return config;
  }

 private:
  [[noreturn]] void fail(const YAML::Node& node, const std::string& what) const {
    const YAML::Mark mark = node.Mark();
    if (mark.is_null()) throw InvalidArgument(fmt::format("{}: {}", source_, what));
    throw InvalidArgument(
        fmt::format("{}:{}:{}: {}", source_, mark.line + 1, mark.column + 1, what));
  }

  void expect_map(const YAML::Node& node, std::string_view what) const {
    if (!node.IsMap()) {
      fail(node, fmt::format("{}: expected a mapping, found {}", what, kind_name(node)));
    }
  }

  // The (key, value) pairs of `map`, after checking every key is a known, unrepeated scalar.
  std::vector<std::pair<YAML::Node, YAML::Node>> checked_entries(
      const YAML::Node& map, std::span<const std::string_view> known,
      std::string_view where) const {
    std::vector<std::pair<YAML::Node, YAML::Node>> out;
    std::set<std::string> seen;
    for (auto it = map.begin(); it != map.end(); ++it) {
      const YAML::Node key = it->first;
      if (!key.IsScalar()) {
        fail(key, fmt::format("{}: expected a key name, found {}", where, kind_name(key)));
      }
      bool ok = false;
      for (std::string_view k : known) ok = ok || key.Scalar() == k;
      if (!ok) {
        fail(key, fmt::format("{}: unknown key \"{}\"; expected one of: {}", where, key.Scalar(),
                              join(known)));
      }
      if (!seen.insert(key.Scalar()).second) {
        fail(key, fmt::format("{}: key \"{}\" appears twice", where, key.Scalar()));
      }
      out.emplace_back(key, it->second);
    }
    return out;
  }

  bool as_bool(const YAML::Node& node, std::string_view key) const {
    bool v = false;
    if (!node.IsScalar() || !YAML::convert<bool>::decode(node, v)) {
      fail(node, fmt::format("{}: expected true or false, found {}", key, describe(node)));
    }
    return v;
  }

  double as_number(const YAML::Node& node, std::string_view key) const {
    double v = 0.0;
    if (!node.IsScalar() || !YAML::convert<double>::decode(node, v)) {
      fail(node, fmt::format("{}: expected a number, found {}", key, describe(node)));
    }
    return v;
  }

  std::string describe(const YAML::Node& node) const {
    if (node.IsScalar()) return fmt::format("\"{}\"", node.Scalar());
    return kind_name(node);
  }

  PermuteAction as_permute_action(const YAML::Node& node) const {
    if (node.IsScalar()) {
      const std::string& s = node.Scalar();
      if (s == "input") return PermuteAction::kInput;
      if (s == "target") return PermuteAction::kTarget;
      if (s == "both") return PermuteAction::kBoth;
      bool b = true;
      if (YAML::convert<bool>::decode(node, b) && !b) return PermuteAction::kOff;
    }
    fail(node, fmt::format(
                   "permute_action: expected false, \"input\", \"target\" or \"both\", found {}",
                   describe(node)));
  }

  AugmentMaskProbConfig as_mask_prob(const YAML::Node& node) const {
    AugmentMaskProbConfig m;
    if (node.IsNull()) return m;
    expect_map(node, "mask_prob");
    for (const auto& [key_node, value] : checked_entries(node, kMaskKeys, "mask_prob")) {
      const std::string key = key_node.Scalar();
      const double p = as_number(value, "mask_prob." + key);
      if (!(p >= 0.0 && p <= 1.0)) {
        fail(value, fmt::format("mask_prob.{}: expected a probability in [0, 1], found {}", key,
                                value.Scalar()));
      }
      for (const AugmentMaskField& f : kAugmentMaskFields) {
        if (key == f.name) m.*f.member = p;
      }
    }
    return m;
  }

  // A number (fixed value) or a mapping of mean/std/low/high; `identity` is the mean when a
  // Gaussian mapping leaves it out.
  AugmentScalarSpec as_scalar_spec(const YAML::Node& node, const std::string& key,
                                   double identity) const {
    AugmentScalarSpec spec = AugmentScalarSpec::fixed(identity);
    if (node.IsScalar()) {
      spec.mean = as_number(node, key);
    } else {
      if (!node.IsMap()) {
        fail(node, fmt::format("{}: expected a number or a mapping with mean/std or low/high, "
                               "found {}",
                               key, kind_name(node)));
      }
      bool has_mean = false;
      for (const auto& [key_node, value] : checked_entries(node, kScalarKeys, key)) {
        const std::string field = key_node.Scalar();
        // `low: null` / `high: null` mean "not set" (how Python's dataclasses.asdict spells it).
        if ((field == "low" || field == "high") && value.IsNull()) continue;
        const double v = as_number(value, key + "." + field);
        has_mean = has_mean || field == "mean";
        if (field == "mean") spec.mean = v;
        if (field == "std") spec.std = v;
        if (field == "low") spec.low = v;
        if (field == "high") spec.high = v;
      }
      // The mean means nothing in the uniform form: leave it 0 there, as uniform() does.
      if (!has_mean && spec.is_uniform()) spec.mean = 0.0;
    }
    try {
      spec.validate(key);
    } catch (const InvalidArgument& e) {
      fail(node, e.what());
    }
    return spec;
  }

  std::string source_;
};

}  // namespace

AugmentTokensConfig AugmentTokensConfig::from_yaml_string(std::string_view yaml,
                                                          std::string_view source) {
  if (const int64_t line = detail::yaml_too_deep_at(yaml); line >= 0) {
    throw InvalidArgument(fmt::format("{}:{}: YAML nested deeper than {} levels", source, line,
                                      detail::kMaxNestingDepth));
  }
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    if (e.mark.is_null()) {
      throw InvalidArgument(fmt::format("{}: invalid YAML: {}", source, detail::excerpt(e.msg)));
    }
    throw InvalidArgument(fmt::format("{}:{}:{}: invalid YAML: {}", source, e.mark.line + 1,
                                      e.mark.column + 1, detail::excerpt(e.msg)));
  }
  return Parser(source).parse(root);
}

AugmentTokensConfig AugmentTokensConfig::from_yaml_file(const std::filesystem::path& path) {
  return from_yaml_string(detail::read_small_file(path, detail::kMaxMetadataFileBytes,
                                                  "augment config"),
                          path.string());
}

}  // namespace mouse
