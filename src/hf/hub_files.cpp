// Finding the shards of a Hub-layout directory. The README's `configs` follow the Hub's
// documented forms (https://huggingface.co/docs/hub/datasets-manual-configuration); without
// them we follow the file-name conventions `push_to_hub` writes.
#include "hf/hub_files.hpp"

#include <fmt/format.h>
#include <fnmatch.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <regex>
#include <sstream>
#include <system_error>

#include "hf/hub_readme.hpp"
#include "core/checked_file.hpp"
#include "mouse/error.hpp"
#include "mouse/hub.hpp"

namespace mouse::detail {

namespace fs = std::filesystem;

namespace {

bool is_parquet(const fs::path& p) {
  return p.extension() == ".parquet";
}

std::string read_file_text(const fs::path& path) {
  return read_small_file(path, kMaxMetadataFileBytes, "README");
}

// The front matter's line numbers are off by one against the README (the opening `---`).
[[noreturn]] void yaml_fail(const std::string& source, const YAML::Node& node,
                            const std::string& what) {
  const YAML::Mark mark = node.Mark();
  if (mark.line >= 0) {
    throw FormatError(source, -1, fmt::format("line {}: {}", mark.line + 2, what));
  }
  throw FormatError(source, -1, what);
}

// Most nodes the README's features may expand to.
constexpr int64_t kMaxYamlFeatureNodes = 100'000;

const char* kind_name(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
      return "null";
    case YAML::NodeType::Scalar:
      return "a scalar";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    default:
      return "nothing";
  }
}

// Patterns of a `path:` / `data_files:` value: a string or a list of strings.
// A path from the README must name something under the dataset directory: relative, without
// `..` and without NUL (which the file system would silently cut the name at).
void check_relative_path(const std::string& pattern, const std::string& source,
                         const YAML::Node& node, const std::string& where) {
  if (pattern.find('\0') != std::string::npos) {
    yaml_fail(source, node, fmt::format("{}: path \"{}\" contains a NUL character", where,
                                        excerpt(pattern)));
  }
  const fs::path p(pattern);
  bool ok = p.is_relative() && !p.has_root_name() && !p.has_root_directory();
  for (const auto& part : p) ok = ok && part != "..";
  if (!ok) {
    yaml_fail(source, node,
              fmt::format("{}: path \"{}\" leaves the dataset directory (only relative paths "
                          "without \"..\" are allowed)",
                          where, excerpt(pattern)));
  }
}

std::vector<std::string> patterns_of(const YAML::Node& node, const std::string& source,
                                     const std::string& where) {
  std::vector<std::string> out;
  if (node.IsScalar()) {
    out.push_back(node.as<std::string>());
    check_relative_path(out.back(), source, node, where);
  } else if (node.IsSequence()) {
    for (const auto& item : node) {
      if (!item.IsScalar()) {
        yaml_fail(source, item,
                  fmt::format("{}: expected a path pattern, found {}", where, kind_name(item)));
      }
      out.push_back(item.as<std::string>());
      check_relative_path(out.back(), source, item, where);
    }
  } else {
    yaml_fail(source, node,
              fmt::format("{}: expected a path pattern or a list of them, found {}", where,
                          kind_name(node)));
  }
  return out;
}

std::vector<fs::path> files_of_patterns(const fs::path& dir,
                                        const std::vector<std::string>& patterns,
                                        const std::string& source, const std::string& split) {
  std::vector<fs::path> files;
  for (const auto& pattern : patterns) {
    std::vector<fs::path> matched;
    for (auto& f : glob_files(dir, pattern)) {
      if (is_parquet(f)) matched.push_back(std::move(f));
    }
    if (matched.empty()) {
      throw FormatError(
          source, -1,
          fmt::format("split \"{}\": pattern \"{}\" matches no .parquet file under {}", split,
                      pattern, dir.string()));
    }
    files.insert(files.end(), matched.begin(), matched.end());
  }
  std::sort(files.begin(), files.end());
  files.erase(std::unique(files.begin(), files.end()), files.end());
  return files;
}

// The `configs` entry to load: by name, else "default", else `default: true`, else the first.
// The config_name of every entry of a README's `configs` list.
std::vector<std::string> config_names(const YAML::Node& configs, const std::string& source) {
  std::vector<std::string> names;
  for (const auto& c : configs) {
    if (!c.IsMap() || !c["config_name"] || !c["config_name"].IsScalar()) {
      yaml_fail(source, c, "configs: expected entries {config_name, data_files}");
    }
    names.push_back(c["config_name"].as<std::string>());
  }
  return names;
}

YAML::Node pick_config(const YAML::Node& configs, const std::optional<std::string>& name,
                       const std::string& source) {
  if (!configs.IsSequence() || configs.size() == 0) {
    yaml_fail(source, configs,
              fmt::format("configs: expected a non-empty list, found {}", kind_name(configs)));
  }
  const std::vector<std::string> names = config_names(configs, source);
  auto find = [&](const std::string& n) -> std::optional<size_t> {
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i] == n) return i;
    }
    return std::nullopt;
  };
  if (name) {
    if (auto i = find(*name)) return configs[*i];
    std::string list;
    for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
    throw KeyError(
        fmt::format("{}: config \"{}\" not found; available configs: {}", source, *name, list));
  }
  if (auto i = find("default")) return configs[*i];
  for (const auto& c : configs) {
    if (c["default"] && c["default"].IsScalar() && c["default"].as<std::string>() == "true")
      return c;
  }
  return configs[0];
}

HubSplitFiles files_from_config(const fs::path& dir, const YAML::Node& config,
                                const std::string& source) {
  const std::string cname = config["config_name"].as<std::string>();
  const YAML::Node data_files = config["data_files"];
  if (!data_files) {
    // The Hub allows a config with only `data_dir`.
    if (config["data_dir"] && config["data_dir"].IsScalar()) {
      const std::string data_dir = config["data_dir"].as<std::string>();
      check_relative_path(data_dir, source, config["data_dir"],
                          fmt::format("config \"{}\": data_dir", cname));
      return resolve_hub_files(dir / data_dir, std::nullopt);
    }
    yaml_fail(source, config, fmt::format("config \"{}\": expected data_files", cname));
  }
  HubSplitFiles out;
  if (data_files.IsScalar() ||
      (data_files.IsSequence() && data_files.size() > 0 && data_files[0].IsScalar())) {
    out.emplace_back("train", files_of_patterns(dir, patterns_of(data_files, source, "data_files"),
                                                source, "train"));
    return out;
  }
  if (!data_files.IsSequence()) {
    yaml_fail(source, data_files,
              fmt::format("config \"{}\": data_files: expected a list of {{split, path}}, found {}",
                          cname, kind_name(data_files)));
  }
  for (const auto& entry : data_files) {
    if (!entry.IsMap() || !entry["split"] || !entry["split"].IsScalar() || !entry["path"]) {
      yaml_fail(source, entry,
                fmt::format("config \"{}\": data_files: expected entries {{split, path}}, found {}",
                            cname, kind_name(entry)));
    }
    const std::string split = entry["split"].as<std::string>();
    for (const auto& [s, f] : out) {
      if (s == split)
        yaml_fail(source, entry,
                  fmt::format("config \"{}\": split \"{}\" listed twice", cname, split));
    }
    out.emplace_back(
        split, files_of_patterns(dir, patterns_of(entry["path"], source, "path"), source, split));
  }
  return out;
}

int split_rank(const std::string& s) {
  if (s == "train") return 0;
  if (s == "validation") return 1;
  if (s == "test") return 2;
  return 3;
}

std::vector<fs::path> parquet_files_in(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (!name.empty() && name[0] != '.' && is_parquet(e.path()) && e.is_regular_file(ec))
      out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

HubSplitFiles files_by_name(const std::vector<fs::path>& files) {
  HubSplitFiles out;
  for (const auto& f : files) {
    const std::string split = split_of_file_name(f.filename().string());
    auto it = std::find_if(out.begin(), out.end(), [&](const auto& p) { return p.first == split; });
    if (it == out.end()) {
      out.emplace_back(split, std::vector<fs::path>{f});
    } else {
      it->second.push_back(f);
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    const int ra = split_rank(a.first), rb = split_rank(b.first);
    return ra != rb ? ra < rb : (ra == 3 && a.first < b.first);
  });
  return out;
}

// The splits of one directory: its `<split>-*.parquet` files, else (the Hub's Parquet
// conversion, refs/convert/parquet) its `<split>/*.parquet` subdirectories.
HubSplitFiles files_in_config_dir(const fs::path& dir) {
  auto files = parquet_files_in(dir);
  if (!files.empty()) return files_by_name(files);
  HubSplitFiles out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || name[0] == '.' || !e.is_directory(ec)) continue;
    auto sub = parquet_files_in(e.path());
    if (!sub.empty()) out.emplace_back(name, std::move(sub));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    const int ra = split_rank(a.first), rb = split_rank(b.first);
    return ra != rb ? ra < rb : a.first < b.first;
  });
  return out;
}

// The `<config>/` subdirectories of `dir` that hold split files (data/ and hidden ones aside),
// by name.
std::vector<std::string> config_subdirs(const fs::path& dir) {
  std::vector<std::string> configs;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || name[0] == '.' || name == "data" || !e.is_directory(ec)) continue;
    if (!files_in_config_dir(e.path()).empty()) configs.push_back(name);
  }
  std::sort(configs.begin(), configs.end());
  return configs;
}

// Without README configs: data/, else the `<config>/` subdirectories, else dir itself.
HubSplitFiles files_by_convention(const fs::path& dir,
                                  const std::optional<std::string>& config_name) {
  if (!config_name || *config_name == "default") {
    auto data = files_in_config_dir(dir / "data");
    if (!data.empty()) return data;
  }
  const std::vector<std::string> configs = config_subdirs(dir);
  if (configs.empty()) {
    auto top = parquet_files_in(dir);
    if (!top.empty() && !config_name) return files_by_name(top);
    throw FormatError(dir.string(), -1,
                      "no Parquet files: expected data/<split>-NNNNN-of-MMMMM.parquet, "
                      "<config>/<split>-*.parquet or a README.md with configs");
  }
  if (config_name) {
    if (std::find(configs.begin(), configs.end(), *config_name) == configs.end()) {
      std::string list;
      for (const auto& n : configs) list += (list.empty() ? "" : ", ") + n;
      throw KeyError(fmt::format("{}: config \"{}\" not found; available configs: {}", dir.string(),
                                 *config_name, list));
    }
    return files_in_config_dir(dir / *config_name);
  }
  return files_in_config_dir(dir / configs.front());
}

void glob_rec(const fs::path& base, const std::vector<std::string>& parts, size_t i,
              std::vector<fs::path>& out) {
  std::error_code ec;
  if (i == parts.size()) {
    if (fs::is_regular_file(base, ec)) out.push_back(base);
    return;
  }
  const std::string& part = parts[i];
  if (part == "**") {
    glob_rec(base, parts, i + 1, out);  // zero directories
    for (const auto& e : fs::directory_iterator(base, ec)) {
      const std::string name = e.path().filename().string();
      if (!name.empty() && name[0] != '.' && e.is_directory(ec)) glob_rec(e.path(), parts, i, out);
    }
    return;
  }
  if (part.find_first_of("*?[") == std::string::npos) {
    glob_rec(base / part, parts, i + 1, out);
    return;
  }
  for (const auto& e : fs::directory_iterator(base, ec)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || (name[0] == '.' && part[0] != '.')) continue;
    if (::fnmatch(part.c_str(), name.c_str(), 0) == 0) glob_rec(e.path(), parts, i + 1, out);
  }
}

// A YAML node as JSON: scalars as strings (the readers convert what they need), maps with
// their keys in order. Aliases share nodes in yaml-cpp but are copied here, so a few nested
// aliases could stand for billions of nodes: `budget` bounds how many are made.
nlohmann::ordered_json yaml_to_json(const YAML::Node& node, int64_t& budget,
                                    const std::string& source) {
  if (--budget < 0) {
    yaml_fail(source, node,
              fmt::format("dataset_info features expand to more than {} nodes (aliases?)",
                          kMaxYamlFeatureNodes));
  }
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return node.Scalar();
    case YAML::NodeType::Sequence: {
      auto out = nlohmann::ordered_json::array();
      for (const auto& item : node) out.push_back(yaml_to_json(item, budget, source));
      return out;
    }
    case YAML::NodeType::Map: {
      auto out = nlohmann::ordered_json::object();
      for (const auto& kv : node) out[kv.first.Scalar()] = yaml_to_json(kv.second, budget, source);
      return out;
    }
    default:
      return nullptr;
  }
}

// The `features` node of the dataset_info that belongs to config `chosen` (see HubLayout).
std::optional<YAML::Node> info_features(const YAML::Node& info,
                                        const std::optional<std::string>& chosen,
                                        const std::string& source) {
  auto config_of = [](const YAML::Node& entry) -> std::optional<std::string> {
    if (entry["config_name"] && entry["config_name"].IsScalar())
      return entry["config_name"].as<std::string>();
    return std::nullopt;
  };
  const std::string want = chosen.value_or("default");
  auto features_of = [](const YAML::Node& entry) -> std::optional<YAML::Node> {
    if (!entry["features"]) return std::nullopt;
    return entry["features"];
  };
  if (info.IsMap()) {
    const auto name = config_of(info);
    if (name && *name != want) return std::nullopt;
    return features_of(info);
  }
  if (info.IsSequence()) {
    for (const auto& e : info) {
      if (e.IsMap() && config_of(e) == want) return features_of(e);
    }
    return std::nullopt;
  }
  yaml_fail(source, info,
            fmt::format("dataset_info: expected a mapping or a list, found {}", kind_name(info)));
}

// The front matter as YAML: nesting checked before yaml-cpp's recursive descent starts, syntax
// errors with their README line, a mapping (or nothing) at the top.
YAML::Node parse_front_matter(const std::string& yaml, const std::string& source) {
  if (const int64_t line = yaml_too_deep_at(yaml); line >= 0) {
    throw FormatError(source, -1,
                      fmt::format("line {}: YAML front matter nested deeper than {} levels",
                                  line + 1, kMaxNestingDepth));
  }
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    // Front matter line n is README line n + 2 (0-based mark, opening `---`).
    const std::string where = e.mark.line >= 0 ? fmt::format("line {}: ", e.mark.line + 2) : "";
    throw FormatError(source, -1,
                      fmt::format("{}malformed YAML front matter: {}", where, excerpt(e.msg)));
  }
  if (!root.IsNull() && !root.IsMap()) {
    yaml_fail(source, root, fmt::format("front matter: expected a mapping, found {}", kind_name(root)));
  }
  return root;
}

}  // namespace

std::optional<nlohmann::ordered_json> readme_features_from_text(std::string_view text,
                                                                const std::string& source) {
  const auto yaml = readme_front_matter(text, source);
  if (!yaml) return std::nullopt;
  const YAML::Node root = parse_front_matter(*yaml, source);
  std::optional<std::string> chosen;
  if (root.IsMap() && root["configs"]) {
    const YAML::Node config = pick_config(root["configs"], std::nullopt, source);
    chosen = config["config_name"].as<std::string>();
    if (config["data_files"]) {
      const YAML::Node df = config["data_files"];
      if (df.IsSequence()) {
        for (const auto& entry : df) {
          if (entry.IsMap() && entry["path"]) patterns_of(entry["path"], source, "path");
        }
      } else {
        patterns_of(df, source, "data_files");
      }
    }
  }
  if (!root.IsMap() || !root["dataset_info"]) return std::nullopt;
  auto features = info_features(root["dataset_info"], chosen, source);
  if (!features) return std::nullopt;
  int64_t budget = kMaxYamlFeatureNodes;
  return features_from_yaml_list(yaml_to_json(*features, budget, source), source);
}

std::optional<std::string> readme_front_matter(std::string_view text, const std::string& source) {
  auto line_end = [&](size_t pos) {
    const size_t nl = text.find('\n', pos);
    return nl == std::string_view::npos ? text.size() : nl;
  };
  auto is_fence = [&](size_t b, size_t e) {
    std::string_view line = text.substr(b, e - b);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    return line == "---";
  };
  size_t e = line_end(0);
  if (!is_fence(0, e)) return std::nullopt;
  const size_t body = std::min(e + 1, text.size());
  for (size_t pos = body; pos < text.size();) {
    const size_t le = line_end(pos);
    if (is_fence(pos, le)) return std::string(text.substr(body, pos - body));
    pos = le + 1;
  }
  throw FormatError(source, -1,
                    "front matter opened with '---' on line 1 has no closing '---' line");
}

std::vector<fs::path> glob_files(const fs::path& dir, std::string_view pattern) {
  std::vector<std::string> parts;
  size_t pos = 0;
  while (pos <= pattern.size()) {
    size_t slash = pattern.find('/', pos);
    if (slash == std::string_view::npos) slash = pattern.size();
    std::string part(pattern.substr(pos, slash - pos));
    if (!part.empty() && part != ".") parts.push_back(std::move(part));
    pos = slash + 1;
  }
  std::vector<fs::path> out;
  if (!parts.empty()) glob_rec(dir, parts, 0, out);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string split_of_file_name(const std::string& file_name) {
  static const std::regex kSharded(R"(^(.+?)-\d{5}-of-\d{5}(\..*)?$)");
  std::smatch m;
  if (std::regex_match(file_name, m, kSharded)) return m[1].str();
  const size_t dash = file_name.find('-');
  if (dash != std::string::npos && dash > 0) return file_name.substr(0, dash);
  return fs::path(file_name).stem().string();
}

HubSplitFiles resolve_hub_files(const fs::path& dir,
                                const std::optional<std::string>& config_name) {
  return resolve_hub_layout(dir, config_name).splits;
}

namespace {

HubLayout resolve_unconfined(const fs::path& dir, const std::optional<std::string>& config_name) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    throw IoError(fmt::format("{}: not a directory (expected a Hub-layout dataset)", dir.string()));
  }
  const fs::path readme = dir / "README.md";
  // Anything at README.md is read (a FIFO or directory there is an error, not "no README").
  if (fs::exists(fs::status(readme, ec))) {
    const std::string source = readme.string();
    const auto yaml = readme_front_matter(read_file_text(readme), source);
    if (yaml) {
      const YAML::Node root = parse_front_matter(*yaml, source);
      HubLayout layout;
      layout.readme = readme;
      std::optional<std::string> chosen = config_name;
      if (root.IsMap() && root["configs"]) {
        const YAML::Node config = pick_config(root["configs"], config_name, source);
        chosen = config["config_name"].as<std::string>();
        layout.splits = files_from_config(dir, config, source);
      } else {
        layout.splits = files_by_convention(dir, config_name);
      }
      if (root.IsMap() && root["dataset_info"]) {
        if (auto features = info_features(root["dataset_info"], chosen, source)) {
          int64_t budget = kMaxYamlFeatureNodes;
          layout.readme_features = features_from_yaml_list(yaml_to_json(*features, budget, source), source);
        }
      }
      return layout;
    }
  }
  HubLayout layout;
  layout.splits = files_by_convention(dir, config_name);
  return layout;
}

// The directories a shard may resolve into: the dataset directory and, when it is (inside) a
// Hub cache snapshot `<repo>/snapshots/<revision>`, whose files link to `<repo>/blobs/`, that
// blobs directory.
std::vector<fs::path> allowed_roots(const fs::path& dir) {
  std::error_code ec;
  fs::path root = fs::canonical(dir, ec);
  if (ec) root = fs::absolute(dir, ec).lexically_normal();
  std::vector<fs::path> roots{root};
  for (fs::path p = root; p.has_relative_path(); p = p.parent_path()) {
    if (p.parent_path().filename() == "snapshots") {
      roots.push_back(p.parent_path().parent_path() / "blobs");
      break;
    }
  }
  return roots;
}

}  // namespace

HubLayout resolve_hub_layout(const fs::path& dir, const std::optional<std::string>& config_name) {
  HubLayout layout = resolve_unconfined(dir, config_name);
  const std::vector<fs::path> roots = allowed_roots(dir);
  const std::string source = layout.readme.empty() ? dir.string() : layout.readme.string();
  for (const auto& [split, files] : layout.splits) {
    for (const auto& f : files) {
      const bool inside = std::any_of(roots.begin(), roots.end(),
                                      [&](const fs::path& r) { return resolves_inside(f, r); });
      if (!inside) {
        throw FormatError(source, -1,
                          fmt::format("split \"{}\": {} resolves to a file outside the dataset "
                                      "directory {}",
                                      split, f.string(), roots.front().string()));
      }
    }
  }
  return layout;
}

std::vector<std::string> readme_data_file_patterns(std::string_view text,
                                                   const std::string& source) {
  std::vector<std::string> out;
  const auto yaml = readme_front_matter(text, source);
  if (!yaml) return out;
  const YAML::Node root = parse_front_matter(*yaml, source);
  if (!root.IsMap() || !root["configs"]) return out;
  const YAML::Node configs = root["configs"];
  if (!configs.IsSequence()) {
    yaml_fail(source, configs, fmt::format("configs: expected a list, found {}", kind_name(configs)));
  }
  for (const auto& config : configs) {
    if (!config.IsMap()) yaml_fail(source, config, "configs: expected entries {config_name, data_files}");
    const YAML::Node data_files = config["data_files"];
    if (!data_files) continue;
    std::vector<std::string> found;
    if (data_files.IsScalar() ||
        (data_files.IsSequence() && data_files.size() > 0 && data_files[0].IsScalar())) {
      found = patterns_of(data_files, source, "data_files");
    } else if (data_files.IsSequence()) {
      for (const auto& entry : data_files) {
        if (!entry.IsMap() || !entry["path"]) {
          yaml_fail(source, entry, "data_files: expected entries {split, path}");
        }
        for (auto& p : patterns_of(entry["path"], source, "path")) found.push_back(std::move(p));
      }
    } else {
      yaml_fail(source, data_files,
                fmt::format("data_files: expected a list of {{split, path}}, found {}",
                            kind_name(data_files)));
    }
    for (auto& p : found) {
      if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(std::move(p));
    }
  }
  return out;
}

std::vector<std::string> layout_config_names(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    throw IoError(fmt::format("{}: not a directory (expected a Hub-layout dataset)", dir.string()));
  }
  const fs::path readme = dir / "README.md";
  if (fs::exists(fs::status(readme, ec))) {
    const std::string source = readme.string();
    if (const auto yaml = readme_front_matter(read_file_text(readme), source)) {
      const YAML::Node root = parse_front_matter(*yaml, source);
      if (root.IsMap() && root["configs"]) {
        const YAML::Node configs = root["configs"];
        if (!configs.IsSequence()) {
          yaml_fail(source, configs,
                    fmt::format("configs: expected a list, found {}", kind_name(configs)));
        }
        return config_names(configs, source);
      }
    }
  }
  std::vector<std::string> names;
  if (!files_in_config_dir(dir / "data").empty()) names.push_back("default");
  const std::vector<std::string> subdirs = config_subdirs(dir);
  names.insert(names.end(), subdirs.begin(), subdirs.end());
  if (names.empty() && !parquet_files_in(dir).empty()) names.push_back("default");
  return names;
}

}  // namespace mouse::detail

namespace mouse {

std::vector<std::string> hub_config_names(const std::filesystem::path& dir) {
  return detail::layout_config_names(dir);
}

}  // namespace mouse
