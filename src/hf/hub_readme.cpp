// README front matter for the Hub layout. The features' YAML form mirrors datasets'
// Features._to_yaml_list so the Hub's viewer and `load_dataset` read it as they read
// `push_to_hub` output.
#include "hf/hub_readme.hpp"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cstdlib>

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

}  // namespace

ordered_json features_to_yaml_list(const ordered_json& features) {
  if (!features.is_object()) return ordered_json::array();
  return struct_members(features);
}

std::string hub_readme(const ordered_json& features, const std::vector<HubSplitInfo>& splits,
                       int64_t download_size, const std::string& config_name) {
  ordered_json front = ordered_json::object();
  ordered_json info = ordered_json::object();
  info["features"] = features_to_yaml_list(features);
  ordered_json split_list = ordered_json::array();
  int64_t dataset_size = 0;
  for (const auto& s : splits) {
    split_list.push_back(ordered_json{
        {"name", s.name}, {"num_bytes", s.num_bytes}, {"num_examples", s.num_examples}});
    dataset_size += s.num_bytes;
  }
  info["splits"] = std::move(split_list);
  info["download_size"] = download_size;
  info["dataset_size"] = dataset_size;
  front["dataset_info"] = std::move(info);

  ordered_json data_files = ordered_json::array();
  for (const auto& s : splits) {
    data_files.push_back(ordered_json{{"split", s.name}, {"path", "data/" + s.name + "-*"}});
  }
  front["configs"] =
      ordered_json::array({ordered_json{{"config_name", config_name}, {"data_files", data_files}}});

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

}  // namespace mouse::detail
