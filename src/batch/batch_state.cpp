// BatchifierState as JSON: a small object a training loop can keep in its checkpoint.
#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>
#include <vector>

#include "core/checked_file.hpp"
#include "mouse/batch.hpp"
#include "mouse/error.hpp"

namespace mouse {

namespace {

constexpr int kStateVersion = 1;

// A value as an error message quotes it: short, invalid UTF-8 replaced.
std::string quoted(const nlohmann::json& v) {
  return detail::excerpt(v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

template <class T>
T field(const nlohmann::json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end()) {
    throw InvalidArgument(fmt::format("BatchifierState: missing field \"{}\"", name));
  }
  // nlohmann converts 2.5 to 2 and -1 to 2^64-1 without complaint; a checkpoint that does
  // either would resume at another position, so integers must be integers of the right sign.
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    const bool ok = std::is_signed_v<T> ? it->is_number_integer() : it->is_number_unsigned();
    if (!ok) {
      throw InvalidArgument(fmt::format("BatchifierState: field \"{}\" has the wrong type: expected {} integer, found {}",
                                        name, std::is_signed_v<T> ? "an" : "a non-negative",
                                        quoted(*it)));
    }
  }
  try {
    return it->get<T>();
  } catch (const nlohmann::json::exception&) {
    throw InvalidArgument(
        fmt::format("BatchifierState: field \"{}\" has the wrong type: {}", name, quoted(*it)));
  }
}

// An optional field: `fallback` when absent (states written before the field existed).
template <class T>
T field_or(const nlohmann::json& j, const char* name, T fallback) {
  if (j.find(name) == j.end()) return fallback;
  return field<T>(j, name);
}

// An optional list field of integers (T = int64_t) or numbers (T = double); empty when absent.
template <class T>
std::vector<T> list_field(const nlohmann::json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end()) return {};
  constexpr bool integers = std::is_integral_v<T>;
  std::vector<T> out;
  bool ok = it->is_array();
  for (size_t i = 0; ok && i < it->size(); ++i) {
    const auto& v = (*it)[i];
    ok = integers ? v.is_number_integer() : v.is_number();
    if (ok) out.push_back(v.get<T>());
  }
  if (!ok) {
    throw InvalidArgument(fmt::format("BatchifierState: field \"{}\" must be a list of {}, found {:.80}",
                                      name, integers ? "integers" : "numbers", it->dump()));
  }
  return out;
}

}  // namespace

std::string BatchifierState::to_json() const {
  nlohmann::json j = {
      {"version", kStateVersion},         {"sampling", sampling},
      {"boundaries", boundaries},         {"sequence_length", sequence_length},
      {"batch_size", batch_size},         {"seed", seed},
      {"batches", batches},               {"epoch", epoch},
      {"next_window", next_window},       {"epoch_windows", epoch_windows},
      {"epoch_store_windows", epoch_store_windows},
      {"rank", rank},                     {"world_size", world_size},
      {"drop_last", drop_last},           {"stores", stores},
      {"weights", weights},               {"weight_mode", weight_mode},
      {"lengths", lengths},               {"min_length", min_length},
      {"layout", layout},                 {"max_tokens", max_tokens},
  };
  return j.dump();
}

BatchifierState BatchifierState::from_json(std::string_view json) {
  if (detail::json_too_deep_at(json) >= 0) {
    throw InvalidArgument(fmt::format("BatchifierState: JSON nested deeper than {} levels",
                                      detail::kMaxNestingDepth));
  }
  nlohmann::json j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    throw InvalidArgument(fmt::format("BatchifierState: not a JSON object: {}", detail::excerpt(json, 80)));
  }
  const int version = field<int>(j, "version");
  if (version != kStateVersion) {
    throw InvalidArgument(fmt::format("BatchifierState: version {} is not supported (expected {})",
                                      version, kStateVersion));
  }
  BatchifierState s;
  s.sampling = field<std::string>(j, "sampling");
  s.boundaries = field<std::string>(j, "boundaries");
  s.sequence_length = field<int64_t>(j, "sequence_length");
  s.batch_size = field<int64_t>(j, "batch_size");
  s.seed = field<uint64_t>(j, "seed");
  s.batches = field<int64_t>(j, "batches");
  s.epoch = field<int64_t>(j, "epoch");
  s.next_window = field<int64_t>(j, "next_window");
  s.epoch_windows = field<int64_t>(j, "epoch_windows");
  s.epoch_store_windows = list_field<int64_t>(j, "epoch_store_windows");
  s.rank = field_or<int64_t>(j, "rank", 0);
  s.world_size = field_or<int64_t>(j, "world_size", 1);
  s.drop_last = field_or<bool>(j, "drop_last", false);
  s.stores = field_or<int64_t>(j, "stores", 1);
  s.weights = list_field<double>(j, "weights");
  s.weight_mode = field_or<std::string>(j, "weight_mode", "per_store");
  s.lengths = field_or<std::string>(j, "lengths", "fixed");
  s.min_length = field_or<int64_t>(j, "min_length", 1);
  s.layout = field_or<std::string>(j, "layout", "padded");
  s.max_tokens = field_or<int64_t>(j, "max_tokens", 0);
  return s;
}

}  // namespace mouse
