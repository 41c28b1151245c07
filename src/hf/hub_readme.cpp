// README front matter for the Hub layout. The features' YAML form mirrors datasets'
// Features._to_yaml_list so the Hub's viewer and `load_dataset` read it as they read
// `push_to_hub` output.
#include "hf/hub_readme.hpp"

#include <yaml-cpp/yaml.h>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "core/checked_file.hpp"
#include "hf/py_json.hpp"
#include "mouse/error.hpp"

namespace mouse::detail {

namespace {

using nlohmann::ordered_json;

std::string snake_case(const std::string& camel) {
  std::string out;
  for (size_t i = 0; i < camel.size(); ++i) {
    const char c = camel[i];
    if (std::isupper(static_cast<unsigned char>(c))) {
      if (i > 0) out += '_';
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else {
      out += c;
    }
  }
  return out;
}

// {"dtype": D} -> D and {"struct": [...]} -> [...] inside list types (datasets' simplify).
ordered_json simplify_item(ordered_json inner) {
  if (inner.is_object() && inner.size() == 1) {
    if (inner.contains("dtype")) return inner["dtype"];
    if (inner.contains("struct")) return inner["struct"];
  }
  return inner;
}

ordered_json to_yaml_inner(const ordered_json& f);

ordered_json struct_members(const ordered_json& obj) {
  ordered_json members = ordered_json::array();
  for (const auto& [name, child] : obj.items()) {
    ordered_json m = ordered_json::object();
    m["name"] = name;
    const ordered_json inner = to_yaml_inner(child);
    for (auto it = inner.begin(); it != inner.end(); ++it) m[it.key()] = it.value();
    members.push_back(std::move(m));
  }
  return members;
}

ordered_json to_yaml_inner(const ordered_json& f) {
  if (f.is_array()) {
    ordered_json out = ordered_json::object();
    out["list"] = f.empty() ? ordered_json("null") : simplify_item(to_yaml_inner(f[0]));
    return out;
  }
  if (!f.is_object()) return ordered_json{{"dtype", "null"}};
  if (!f.contains("_type")) return ordered_json{{"struct", struct_members(f)}};
  const std::string type = f["_type"].is_string() ? f["_type"].get<std::string>() : "";
  if (type == "Value") return ordered_json{{"dtype", f.value("dtype", "null")}};
  if (type == "Sequence" || type == "List" || type == "LargeList") {
    const std::string key = type == "Sequence" ? "sequence"
                            : type == "List"   ? "list"
                                               : "large_list";
    ordered_json out = ordered_json::object();
    out[key] =
        f.contains("feature") ? simplify_item(to_yaml_inner(f["feature"])) : ordered_json("null");
    if (f.contains("length") && f["length"].is_number_integer() &&
        f["length"].get<int64_t>() >= 0) {
      out["length"] = f["length"];
    }
    return out;
  }
  if (type == "ClassLabel") {
    ordered_json names = ordered_json::object();
    if (f.contains("names") && f["names"].is_array()) {
      for (size_t i = 0; i < f["names"].size(); ++i) names[std::to_string(i)] = f["names"][i];
    }
    return ordered_json{{"dtype", {{"class_label", {{"names", names}}}}}};
  }
  // Image, Audio, VideoFrame ...: the snake-case type name, as datasets writes featureless types.
  return ordered_json{{"dtype", snake_case(type)}};
}

// Strings that YAML would read back as something else are quoted.
bool needs_quotes(const std::string& s) {
  if (s.empty()) return true;
  static const char* kSpecial[] = {"true", "false", "yes",  "no",    "on",   "off",
                                   "null", "~",     "True", "False", "Yes",  "No",
                                   "On",   "Off",   "Null", "NULL",  "TRUE", "FALSE"};
  for (const char* w : kSpecial) {
    if (s == w) return true;
  }
  char* end = nullptr;
  std::strtod(s.c_str(), &end);
  if (end && *end == '\0') return true;
  const std::string lead = "-?:,[]{}#&*!|>'\"%@`";
  if (lead.find(s[0]) != std::string::npos || std::isspace(static_cast<unsigned char>(s[0])) ||
      std::isspace(static_cast<unsigned char>(s.back()))) {
    return true;
  }
  return s.find(": ") != std::string::npos || s.find(" #") != std::string::npos ||
         s.find('\n') != std::string::npos;
}

void emit(YAML::Emitter& out, const ordered_json& j) {
  switch (j.type()) {
    case ordered_json::value_t::object:
      out << YAML::BeginMap;
      for (auto it = j.begin(); it != j.end(); ++it) {
        const std::string& k = it.key();
        const ordered_json& v = it.value();
        out << YAML::Key;
        if (needs_quotes(k)) {
          out << YAML::SingleQuoted << k;
        } else {
          out << k;
        }
        out << YAML::Value;
        emit(out, v);
      }
      out << YAML::EndMap;
      break;
    case ordered_json::value_t::array:
      out << YAML::BeginSeq;
      for (const auto& v : j) emit(out, v);
      out << YAML::EndSeq;
      break;
    case ordered_json::value_t::string: {
      const std::string s = j.get<std::string>();
      if (needs_quotes(s)) {
        out << YAML::SingleQuoted << s;
      } else {
        out << s;
      }
      break;
    }
    case ordered_json::value_t::boolean:
      out << j.get<bool>();
      break;
    case ordered_json::value_t::number_integer:
      out << j.get<int64_t>();
      break;
    case ordered_json::value_t::number_unsigned:
      out << j.get<uint64_t>();
      break;
    case ordered_json::value_t::number_float:
      out << j.get<double>();
      break;
    default:
      out << YAML::Null;
      break;
  }
}

// "class_label" -> "ClassLabel", "array2_d" -> "Array2D" (datasets' snakecase_to_camelcase).
std::string camel_case(const std::string& snake) {
  std::string out;
  bool upper = true;
  for (const char c : snake) {
    if (c == '_') {
      upper = true;
      continue;
    }
    out += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    upper = false;
  }
  return out;
}

// Whether `dtype` names an Arrow type that datasets' Value accepts (pyarrow type names).
bool is_value_dtype(const std::string& dtype) {
  static const char* kNames[] = {
      "null",    "bool",    "int8",    "int16",   "int32",   "int64",   "uint8",
      "uint16",  "uint32",  "uint64",  "float16", "float32", "float64", "double",
      "float",   "halffloat", "string", "utf8",   "large_string", "large_utf8", "binary",
      "large_binary", "string_view", "binary_view", "date32", "date64"};
  for (const char* n : kNames) {
    if (dtype == n) return true;
  }
  for (const char* prefix : {"timestamp[", "time32[", "time64[", "duration[", "decimal"}) {
    if (dtype.rfind(prefix, 0) == 0) return true;
  }
  return false;
}

class YamlFeatures {
 public:
  explicit YamlFeatures(const std::string& source) : source_(source) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw FormatError(source_, -1, fmt::format("dataset_info features: {}", what));
  }

  // A list of {name, ...} entries -> {name: feature, ...}.
  ordered_json members(const ordered_json& list) const {
    if (!list.is_array()) fail(fmt::format("expected a list of {{name, ...}}, found {}", json_excerpt(list)));
    ordered_json out = ordered_json::object();
    for (const auto& entry : list) {
      if (!entry.is_object() || !entry.contains("name") || !entry["name"].is_string()) {
        fail(fmt::format("expected an entry with a name, found {}", json_excerpt(entry)));
      }
      ordered_json rest = entry;
      const std::string name = rest["name"].get<std::string>();
      rest.erase("name");
      out[name] = inner(rest);
    }
    return out;
  }

  ordered_json inner(const ordered_json& obj) const {
    if (obj.is_array()) return members(obj);
    if (!obj.is_object()) fail(fmt::format("expected a mapping or a list, found {}", json_excerpt(obj)));
    if (obj.empty()) return ordered_json::object();
    const std::string type = obj.begin().key();
    const ordered_json& value = obj.begin().value();
    if (type == "sequence" || type == "list" || type == "large_list") {
      ordered_json out = ordered_json::object();
      // A bare dtype stands for {dtype: D}; a list for a struct.
      out["feature"] = value.is_string() ? inner(ordered_json{{"dtype", value}}) : inner(value);
      for (auto it = std::next(obj.begin()); it != obj.end(); ++it) {
        out[it.key()] = it.key() == "length" ? as_length(it.value()) : it.value();
      }
      out["_type"] = type == "sequence" ? "Sequence" : type == "list" ? "List" : "LargeList";
      return out;
    }
    if (type == "struct") return inner(value);
    if (type == "dtype") {
      if (!value.is_string()) return inner(value);
      const std::string dtype = value.get<std::string>();
      if (!is_value_dtype(dtype)) return ordered_json{{"_type", camel_case(dtype)}};
      ordered_json out = obj;
      out["_type"] = "Value";
      return out;
    }
    if (!value.is_object()) fail(fmt::format("{}: expected a mapping, found {}", type, json_excerpt(value)));
    ordered_json out = ordered_json{{"_type", camel_case(type)}};
    for (const auto& [k, v] : value.items()) out[k] = v;
    if (type == "class_label" && value.contains("names") && value["names"].is_object()) {
      out["names"] = class_names(value["names"]);
    }
    return out;
  }

 private:
  // {'0': a, '1': b, ...} -> [a, b, ...] in id order; the ids must be 0..n-1.
  ordered_json class_names(const ordered_json& names) const {
    std::vector<std::pair<int64_t, ordered_json>> by_id;
    for (const auto& [k, v] : names.items()) {
      char* end = nullptr;
      const long long id = std::strtoll(k.c_str(), &end, 10);
      if (k.empty() || end == nullptr || *end != '\0' || id < 0) {
        fail(fmt::format("class_label names: key '{}' is not a label id", k));
      }
      by_id.emplace_back(
          id, v.is_string() ? v
                            : ordered_json(v.dump(-1, ' ', false,
                                                  nlohmann::json::error_handler_t::replace)));
    }
    std::sort(by_id.begin(), by_id.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    ordered_json out = ordered_json::array();
    for (size_t i = 0; i < by_id.size(); ++i) {
      if (by_id[i].first != static_cast<int64_t>(i)) {
        fail(fmt::format("class_label names: ids are not 0..{}", by_id.size() - 1));
      }
      out.push_back(by_id[i].second);
    }
    return out;
  }

  ordered_json as_length(const ordered_json& v) const {
    if (v.is_number_integer()) return v;
    if (v.is_string()) {
      char* end = nullptr;
      const std::string s = v.get<std::string>();
      const long long n = std::strtoll(s.c_str(), &end, 10);
      if (!s.empty() && end && *end == '\0') return ordered_json(n);
    }
    fail(fmt::format("length: expected an integer, found {}", json_excerpt(v)));
  }

  const std::string& source_;
};

}  // namespace

ordered_json features_to_yaml_list(const ordered_json& features) {
  if (!features.is_object()) return ordered_json::array();
  return struct_members(features);
}

ordered_json features_from_yaml_list(const ordered_json& list, const std::string& source) {
  return YamlFeatures(source).members(list);
}

namespace {

ordered_json config_info(const HubReadmeConfig& c, bool with_name) {
  ordered_json info = ordered_json::object();
  if (with_name) info["config_name"] = c.name;
  info["features"] = features_to_yaml_list(c.features);
  ordered_json split_list = ordered_json::array();
  int64_t dataset_size = 0;
  for (const auto& s : c.splits) {
    split_list.push_back(ordered_json{
        {"name", s.name}, {"num_bytes", s.num_bytes}, {"num_examples", s.num_examples}});
    dataset_size += s.num_bytes;
  }
  info["splits"] = std::move(split_list);
  info["download_size"] = c.download_size;
  info["dataset_size"] = dataset_size;
  return info;
}

}  // namespace

std::string hub_readme(const std::vector<HubReadmeConfig>& configs) {
  ordered_json front = ordered_json::object();
  const bool single = configs.size() == 1 && configs[0].dir == "data";
  if (single) {
    front["dataset_info"] = config_info(configs[0], false);
  } else {
    ordered_json infos = ordered_json::array();
    for (const auto& c : configs) infos.push_back(config_info(c, true));
    front["dataset_info"] = std::move(infos);
  }
  ordered_json config_list = ordered_json::array();
  for (const auto& c : configs) {
    ordered_json data_files = ordered_json::array();
    for (const auto& s : c.splits) {
      data_files.push_back(ordered_json{{"split", s.name}, {"path", c.dir + "/" + s.name + "-*"}});
    }
    config_list.push_back(ordered_json{{"config_name", c.name}, {"data_files", data_files}});
  }
  front["configs"] = std::move(config_list);

  YAML::Emitter out;
  out.SetIndent(2);
  out.SetSeqFormat(YAML::Block);
  out.SetMapFormat(YAML::Block);
  emit(out, front);
  std::string text = "---\n";
  text += out.c_str();
  text += "\n---\n";
  return text;
}

std::string hub_readme(const ordered_json& features, const std::vector<HubSplitInfo>& splits,
                       int64_t download_size, const std::string& config_name) {
  return hub_readme(std::vector<HubReadmeConfig>{
      HubReadmeConfig{config_name, "data", features, splits, download_size}});
}

}  // namespace mouse::detail
