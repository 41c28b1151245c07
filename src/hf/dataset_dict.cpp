// DatasetDict: dataset_dict.json ({"splits": [...]}) plus one save_to_disk directory per split.
#include <fmt/format.h>

#include <algorithm>

#include "hf/atomic_dir.hpp"
#include "hf/dataset_state.hpp"
#include "hf/py_json.hpp"
#include "mouse/dataset.hpp"
#include "core/checked_file.hpp"
#include "mouse/error.hpp"

namespace mouse {

namespace fs = std::filesystem;

namespace detail {

bool valid_split_name(std::string_view name) noexcept {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string_view::npos &&
         name.find('\0') == std::string_view::npos;
}

void write_dataset_dict(const fs::path& dir, const std::vector<std::string>& names,
                        const std::function<void(size_t, const fs::path&)>& write_split) {
  nlohmann::ordered_json index = nlohmann::ordered_json::object();
  index["splits"] = nlohmann::ordered_json::array();
  for (size_t i = 0; i < names.size(); ++i) {
    index["splits"].push_back(names[i]);
    const fs::path split_dir = dir / names[i];
    std::error_code ec;
    fs::create_directory(split_dir, ec);
    if (ec) {
      throw IoError(fmt::format("cannot create directory {}: {}", split_dir.string(), ec.message()));
    }
    write_split(i, split_dir);
  }
  FileWriter file(dir / "dataset_dict.json");
  file.write(py_dumps(index));
  file.close();
}

}  // namespace detail

namespace {

using detail::valid_split_name;

std::string split_list(const std::vector<std::pair<std::string, Dataset>>& splits) {
  std::string out;
  for (size_t i = 0; i < splits.size(); ++i) {
    if (i) out += ", ";
    out += fmt::format("\"{}\"", splits[i].first);
  }
  return out;
}

}  // namespace

DatasetDict DatasetDict::load_from_disk(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    throw IoError(fmt::format("cannot load DatasetDict {}: no such directory", path.string()));
  }
  const fs::path index = path / "dataset_dict.json";
  const auto json = detail::read_json_file(index);
  auto splits = json.is_object() ? json.find("splits") : json.end();
  if (!json.is_object() || splits == json.end() || !splits->is_array()) {
    throw FormatError(index.string(), -1, "expected {\"splits\": [split names...]}");
  }
  DatasetDict out;
  for (const auto& s : *splits) {
    if (!s.is_string() || !valid_split_name(s.get<std::string>())) {
      throw FormatError(index.string(), -1,
                        fmt::format("invalid split name {} in \"splits\"", detail::json_excerpt(s)));
    }
    const std::string name = s.get<std::string>();
    if (out.contains(name)) {
      throw FormatError(index.string(), -1, fmt::format("split \"{}\" is listed twice", name));
    }
    out.splits_.emplace_back(name, Dataset::load_from_disk(path / name));
  }
  return out;
}

std::vector<std::string> DatasetDict::split_names() const {
  std::vector<std::string> out;
  out.reserve(splits_.size());
  for (const auto& s : splits_) out.push_back(s.first);
  return out;
}

bool DatasetDict::contains(std::string_view name) const noexcept {
  return std::any_of(splits_.begin(), splits_.end(), [&](const auto& s) { return s.first == name; });
}

const Dataset& DatasetDict::at(std::string_view name) const {
  for (const auto& s : splits_) {
    if (s.first == name) return s.second;
  }
  throw KeyError(fmt::format("split \"{}\" not found; available splits: [{}]", name,
                             split_list(splits_)));
}

void DatasetDict::insert(std::string name, Dataset dataset) {
  if (!valid_split_name(name)) {
    throw InvalidArgument(fmt::format(
        "invalid split name \"{}\": it names a directory, so it must be non-empty and not "
        "contain '/' or be \".\" or \"..\"",
        name));
  }
  for (auto& s : splits_) {
    if (s.first == name) {
      s.second = std::move(dataset);
      return;
    }
  }
  splits_.emplace_back(std::move(name), std::move(dataset));
}

void DatasetDict::save_to_disk(const fs::path& path, const SaveOptions& options) const {
  detail::check_save_options(options);
  std::vector<std::string> names;
  for (const auto& split : splits_) names.push_back(split.first);
  detail::replace_directory_atomically(path, [&](const fs::path& dir) {
    detail::write_dataset_dict(dir, names, [&](size_t i, const fs::path& split_dir) {
      detail::write_dataset(detail::DatasetAccess::state(splits_[i].second), split_dir, options);
    });
  });
}

}  // namespace mouse
