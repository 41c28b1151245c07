// Loading save_to_disk directories, and telling the two layouts apart.
#include <fmt/format.h>

#include <system_error>

#include "core/checked_file.hpp"
#include "hf/dataset_state.hpp"
#include "hf/features.hpp"
#include "hf/py_json.hpp"
#include "mouse/arrow_ipc.hpp"
#include "mouse/dataset.hpp"
#include "mouse/error.hpp"

namespace mouse {

namespace fs = std::filesystem;

namespace {

using nlohmann::ordered_json;

void require_directory(const fs::path& path, const char* what) {
  std::error_code ec;
  const auto st = fs::status(path, ec);
  if (!fs::exists(st)) {
    throw IoError(fmt::format("cannot load {} {}: no such directory", what, path.string()));
  }
  if (!fs::is_directory(st)) {
    throw IoError(fmt::format("cannot load {} {}: not a directory", what, path.string()));
  }
}

// A shard name from state.json must stay inside the dataset directory.
fs::path checked_shard_name(const ordered_json& entry, size_t i, const fs::path& state_path) {
  if (!entry.is_object()) {
    throw FormatError(state_path.string(), -1,
                      fmt::format("\"_data_files\"[{}]: expected {{\"filename\": ...}}, found {}",
                                  i, entry.type_name()));
  }
  auto name = entry.find("filename");
  if (name == entry.end() || !name->is_string()) {
    throw FormatError(state_path.string(), -1,
                      fmt::format("\"_data_files\"[{}]: expected a string \"filename\"", i));
  }
  const std::string& text = name->get_ref<const std::string&>();
  if (text.find('\0') != std::string::npos) {
    // The file system would cut the name at the NUL and open another file.
    throw FormatError(state_path.string(), -1,
                      fmt::format("\"_data_files\"[{}]: \"{}\" contains a NUL character", i,
                                  detail::excerpt(text)));
  }
  const fs::path rel(text);
  bool ok = !rel.empty() && rel.is_relative();
  for (const auto& part : rel) ok = ok && part != "..";
  if (!ok) {
    throw FormatError(state_path.string(), -1,
                      fmt::format("\"_data_files\"[{}]: \"{}\" is not a file name inside the "
                                  "dataset directory",
                                  i, detail::excerpt(rel.string())));
  }
  return rel;
}

std::string schema_difference(const arrow::Schema& expected, const arrow::Schema& found) {
  if (expected.fields.size() != found.fields.size()) {
    return fmt::format("it has {} columns, the first shard {}", found.fields.size(),
                       expected.fields.size());
  }
  for (size_t i = 0; i < expected.fields.size(); ++i) {
    const auto& a = expected.fields[i];
    const auto& b = found.fields[i];
    if (a.name != b.name) {
      return fmt::format("column {} is \"{}\", in the first shard \"{}\"", i, b.name, a.name);
    }
    if (!a.type->equals(*b.type)) {
      return fmt::format("column \"{}\" is {}, in the first shard {}", a.name, b.type->to_string(),
                         a.type->to_string());
    }
  }
  return "the schemas differ";
}

}  // namespace

Dataset Dataset::load_from_disk(const fs::path& path) {
  require_directory(path, "dataset");
  const fs::path state_path = path / "state.json";
  const fs::path info_path = path / "dataset_info.json";
  const ordered_json state = detail::read_json_file(state_path);
  const ordered_json info = detail::read_json_file(info_path);
  if (!state.is_object()) {
    throw FormatError(state_path.string(), -1,
                      fmt::format("expected a JSON object, found {}", state.type_name()));
  }
  if (!info.is_object()) {
    throw FormatError(info_path.string(), -1,
                      fmt::format("expected a JSON object, found {}", info.type_name()));
  }
  auto files = state.find("_data_files");
  if (files == state.end() || !files->is_array()) {
    throw FormatError(state_path.string(), -1, "expected a list \"_data_files\"");
  }
  if (files->empty()) {
    throw FormatError(state_path.string(), -1,
                      "\"_data_files\" is empty (datasets always writes at least one shard)");
  }

  auto st = std::make_shared<detail::DatasetState>();
  st->info = info;
  if (auto s = state.find("_split"); s != state.end() && s->is_string()) {
    st->split = s->get<std::string>();
  }
  if (auto f = state.find("_fingerprint"); f != state.end() && f->is_string()) {
    st->fingerprint = f->get<std::string>();
  }

  fs::path first_shard;
  for (size_t i = 0; i < files->size(); ++i) {
    const fs::path shard = path / checked_shard_name((*files)[i], i, state_path);
    if (!detail::resolves_inside(shard, path)) {
      throw FormatError(state_path.string(), -1,
                        fmt::format("\"_data_files\"[{}]: {} resolves to a file outside the "
                                    "dataset directory",
                                    i, shard.string()));
    }
    arrow::IpcTable table = arrow::read_ipc(shard);
    if (i == 0) {
      st->schema = table.schema;
      first_shard = shard;
    } else if (!st->schema->equals(*table.schema)) {
      throw FormatError(shard.string(), -1,
                        fmt::format("schema differs from {}: {}", first_shard.filename().string(),
                                    schema_difference(*st->schema, *table.schema)));
    }
    for (auto& b : table.batches) {
      b.schema = st->schema;
      st->batches.push_back(std::move(b));
    }
    std::error_code ec;
    const auto size = fs::file_size(shard, ec);
    st->data_files.push_back({shard, ec ? int64_t{-1} : static_cast<int64_t>(size)});
  }
  detail::index_batches(*st);

  // Features: dataset_info.json's, else the shards' `huggingface` metadata, else inferred.
  std::shared_ptr<detail::FeaturesImpl> parsed;
  std::string source;
  if (auto f = info.find("features"); f != info.end() && !f->is_null()) {
    source = info_path.string();
    parsed = detail::parse_features(*f, source);
  } else if (auto hf = st->schema->metadata_value("huggingface")) {
    source = fmt::format("{}: schema metadata \"huggingface\"", first_shard.string());
    parsed = detail::features_from_hf_metadata(*hf, source);
  }
  if (parsed) {
    std::string error;
    auto matched = detail::match_features(*parsed, *st->schema, error);
    if (!matched) {
      throw FormatError(source, -1,
                        fmt::format("features do not match the data in {}: {}",
                                    first_shard.filename().string(), error));
    }
    st->features = Features(std::move(matched));
  } else {
    st->features = Features(detail::infer_features(*st->schema));
  }
  return detail::DatasetAccess::make(std::move(st));
}

bool is_disk_layout(const fs::path& dir) {
  std::error_code ec;
  return fs::is_regular_file(dir / "dataset_dict.json", ec) ||
         fs::is_regular_file(dir / "state.json", ec) ||
         fs::is_regular_file(dir / "dataset_info.json", ec);
}

std::variant<Dataset, DatasetDict> load_from_disk(const fs::path& path) {
  std::error_code ec;
  const auto st = fs::status(path, ec);
  if (!fs::exists(st)) {
    throw IoError(fmt::format("cannot load {}: no such file or directory", path.string()));
  }
  const char* expected =
      "expected dataset_dict.json (a DatasetDict) or state.json and dataset_info.json (a "
      "save_to_disk Dataset)";
  if (!fs::is_directory(st)) {
    throw FormatError(path.string(), -1, fmt::format("not a directory; {}", expected));
  }
  if (fs::exists(path / "dataset_dict.json", ec)) return DatasetDict::load_from_disk(path);
  if (fs::exists(path / "state.json", ec) || fs::exists(path / "dataset_info.json", ec)) {
    return Dataset::load_from_disk(path);
  }
  throw FormatError(path.string(), -1,
                    fmt::format("not a Hugging Face dataset directory: {}", expected));
}

}  // namespace mouse
