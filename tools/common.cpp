#include "common.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iterator>
#include <limits>
#include <variant>

#include "mouse/arrow_json.hpp"
#include "mouse/dataset.hpp"
#include "mouse/error.hpp"
#include "mouse/hub.hpp"

namespace mouse::cli {

namespace {

// Appends element `i` of `t` as JSON.
void append_value(std::string& out, const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case DType::kFloat32: arrow::append_json_number(out, t.data_as<float>()[i]); break;
    case DType::kFloat64: arrow::append_json_number(out, t.data_as<double>()[i]); break;
    case DType::kInt64: fmt::format_to(std::back_inserter(out), "{}", t.data_as<int64_t>()[i]); break;
    case DType::kInt32: fmt::format_to(std::back_inserter(out), "{}", t.data_as<int32_t>()[i]); break;
    case DType::kUInt8: fmt::format_to(std::back_inserter(out), "{}", t.data_as<uint8_t>()[i]); break;
    case DType::kBool: out += t.data_as<bool>()[i] ? "true" : "false"; break;
  }
}

}  // namespace

void SourceArgs::add_to(CLI::App* cmd, const std::string& name) {
  cmd->add_option(name, path,
                  "save_to_disk Dataset or DatasetDict directory, or Hub layout (Parquet shards, "
                  "README.md)")
      ->required();
  cmd->add_option("--config", config,
                  "Hub layout: the config to read (default: \"default\", else the first)");
  cmd->add_option("--cache-dir", cache_dir,
                  "Hub layout: Arrow cache directory (default: $MOUSE_DATA_CACHE/hub, else "
                  "~/.cache/mouse-data/hub)");
}

LoadedSource load_source(const SourceArgs& args) {
  if (is_disk_layout(args.path)) {
    for (const auto& [flag, value] : {std::pair{"--config", &args.config},
                                      std::pair{"--cache-dir", &args.cache_dir}}) {
      if (!value->empty()) {
        throw InvalidArgument(fmt::format(
            "{} applies to Hub layouts only; {} is a save_to_disk dataset", flag, args.path));
      }
    }
    return {load_from_disk(args.path), "disk"};
  }
  // Not save_to_disk: load_dataset reads the Hub layout, or names what is missing.
  HubLoadOptions hub;
  if (!args.config.empty()) hub.config_name = args.config;
  if (!args.cache_dir.empty()) hub.cache_dir = std::filesystem::path(args.cache_dir);
  auto bar = std::make_shared<ProgressBar>("loading Parquet shards", "shards");
  hub.progress = [bar](int64_t done, int64_t total) { (*bar)(done, total); };
  return {load_dataset(args.path, hub), "hub"};
}

void StoreArgs::add_to(CLI::App* cmd) {
  SourceArgs::add_to(cmd);
  cmd->add_option("--split", splits,
                  "Split of a DatasetDict, repeatable, globs allowed (default: every split in order)");
  cmd->add_option("--max-action-dim", max_action_dim, "q_star width")->capture_default_str();
  cmd->add_option("--max-obs-continuous-dim", max_obs_continuous_dim,
                  "obs_continuous width (0 = none)")
      ->capture_default_str();
  cmd->add_option("--max-obs-discrete-dim", max_obs_discrete_dim, "obs_discrete width (0 = none)")
      ->capture_default_str();
  cmd->add_option("--max-obs-image-pixels", max_obs_image_pixels, "obs_image width (0 = none)")
      ->capture_default_str();
  cmd->add_option("--obs-image-dtype", obs_image_dtype, "obs_image dtype: int64 or uint8")
      ->capture_default_str();
  cmd->add_option("--image-cache", image_cache,
                  "Decoded-frame cache for Image columns: 'auto' or a directory (default: decode "
                  "frames on every read)");
  cmd->add_flag("--no-validate", no_validate,
                "Load sources without checking their values against the column contract");
  cmd->add_flag("--populate", populate,
                "Map every page of the sources into memory when loading them (when they fit), "
                "so that sampling takes no page faults");
}

// The keys besides the widths: action, reward, done, time and a spare for the mask.
constexpr int64_t kScalarKeys = 5;

int64_t StoreArgs::row_values() const {
  return saturating_sum({max_action_dim, max_obs_continuous_dim, max_obs_discrete_dim,
                         max_obs_image_pixels, kScalarKeys});
}

int64_t StoreArgs::row_bytes() const {
  const int64_t image = obs_image_dtype == "uint8" ? 1 : 8;
  return saturating_sum({saturating_product({max_action_dim, 4}),
                         saturating_product({max_obs_continuous_dim, 8}),
                         saturating_product({max_obs_discrete_dim, 8}),
                         saturating_product({max_obs_image_pixels, image}), kScalarKeys * 8});
}

std::string StoreArgs::width_options() const {
  std::string out = fmt::format("--max-action-dim {}", max_action_dim);
  if (max_obs_continuous_dim > 0) out += fmt::format(" --max-obs-continuous-dim {}", max_obs_continuous_dim);
  if (max_obs_discrete_dim > 0) out += fmt::format(" --max-obs-discrete-dim {}", max_obs_discrete_dim);
  if (max_obs_image_pixels > 0) out += fmt::format(" --max-obs-image-pixels {}", max_obs_image_pixels);
  return out;
}

namespace {

// Values per encoded row of `store` (shape past the batch dimension), and with `bytes` times
// each key's element size.
int64_t encoded_row_sum(const DatasetStore& store, bool bytes) {
  int64_t total = 0;
  for (const auto& [name, t] : store.empty_rows(0)) {
    (void)name;
    int64_t step = bytes ? dtype_size(t.dtype()) : 1;
    for (size_t d = 1; d < t.shape().size(); ++d) step = saturating_product({step, t.shape()[d]});
    total = saturating_sum({total, step});
  }
  return total;
}

}  // namespace

int64_t encoded_row_bytes(const DatasetStore& store) { return encoded_row_sum(store, true); }

int64_t encoded_row_values(const DatasetStore& store) { return encoded_row_sum(store, false); }

std::unique_ptr<DatasetStore> open_store(const StoreArgs& args) {
  // One encoded row must fit before anything is loaded (the store checks the rest).
  check_fits_in_memory(args.row_bytes(), fmt::format("one encoded row with {}", args.width_options()));
  StoreConfig config;
  config.max_action_dim = args.max_action_dim;
  config.max_obs_continuous_dim = args.max_obs_continuous_dim;
  config.max_obs_discrete_dim = args.max_obs_discrete_dim;
  config.max_obs_image_pixels = args.max_obs_image_pixels;
  config.image_cache = args.image_cache;
  config.validate = !args.no_validate;
  config.populate = args.populate;
  if (args.obs_image_dtype == "uint8") {
    config.obs_image_dtype = DType::kUInt8;
  } else if (args.obs_image_dtype != "int64") {
    throw InvalidArgument(fmt::format("--obs-image-dtype: expected int64 or uint8, got '{}'",
                                      args.obs_image_dtype));
  }
  auto store = std::make_unique<DatasetStore>(config);
  auto loaded = load_source(args).data;
  if (auto* ds = std::get_if<Dataset>(&loaded)) {
    for (const auto& s : args.splits) {
      if (!ds->split() || *ds->split() != s) {
        throw KeyError(fmt::format("{} is a single dataset{}, not a DatasetDict with split '{}'",
                                   args.path,
                                   ds->split() ? fmt::format(" of split '{}'", *ds->split()) : "",
                                   s));
      }
    }
    store->from_dataset(*ds);
  } else {
    const auto& dict = std::get<DatasetDict>(loaded);
    if (args.splits.empty()) {
      store->from_dataset(dict);
    } else {
      store->from_dataset(dict, std::nullopt, args.splits);
    }
  }
  return store;
}

void append_tensor_dict_members(std::string& out, const TensorDict& td) {
  out += fmt::format("\"batch_size\": {}, \"tensors\": {{", format_shape(td.batch_size()));
  bool first = true;
  for (const auto& [name, t] : td) {
    if (!first) out += ", ";
    first = false;
    arrow::append_json_string(out, name);
    out += fmt::format(": {{\"dtype\": \"{}\", \"shape\": {}, \"values\": [", dtype_name(t.dtype()),
                       format_shape(t.shape()));
    for (int64_t i = 0; i < t.numel(); ++i) {
      if (i) out += ", ";
      append_value(out, t, i);
    }
    out += "]}";
  }
  out += "}";
}

std::string tensor_dict_json(const TensorDict& td) {
  std::string out = "{";
  append_tensor_dict_members(out, td);
  return out + "}\n";
}

std::string tensor_dict_text(const TensorDict& td) {
  std::string out = fmt::format("batch_size {}\n", format_shape(td.batch_size()));
  for (const auto& [name, t] : td) {
    out += fmt::format("{} {} {}:", name, dtype_name(t.dtype()), format_shape(t.shape()));
    for (int64_t i = 0; i < t.numel(); ++i) {
      out += ' ';
      append_value(out, t, i);
    }
    out += '\n';
  }
  return out;
}

decltype(BatchifierOptions::transform) augment_transform(
    std::shared_ptr<const TokenAugmenter> augmenter) {
  return [aug = std::move(augmenter)](TensorDict batch, int64_t number,
                                      const Allocator& allocator) {
    return aug->apply_fresh_in_place(std::move(batch), static_cast<uint64_t>(number), allocator);
  };
}

void check_output_dir(const std::string& command, const std::filesystem::path& out,
                      bool overwrite) {
  std::error_code ec;
  const auto st = std::filesystem::symlink_status(out, ec);
  if (!std::filesystem::exists(st)) return;
  if (std::filesystem::is_symlink(st)) {
    throw InvalidArgument(fmt::format(
        "{}: {} is a symbolic link; give the directory it points to instead", command,
        out.string()));
  }
  if (!std::filesystem::is_directory(st)) {
    throw InvalidArgument(
        fmt::format("{}: {} exists and is not a directory", command, out.string()));
  }
  if (std::filesystem::is_empty(out, ec) && !ec) return;
  if (!overwrite) {
    throw InvalidArgument(fmt::format(
        "{}: {} exists and is not empty (pass --overwrite to replace it)", command, out.string()));
  }
  // --overwrite replaces the whole directory: only ever one that holds a dataset.
  if (!is_disk_layout(out) && !is_hub_layout(out)) {
    throw InvalidArgument(fmt::format(
        "{}: {} is not empty and holds no dataset (no dataset_dict.json, state.json, "
        "dataset_info.json or Hub layout); refusing to replace it",
        command, out.string()));
  }
}

void check_not_nested(const std::string& command, const std::filesystem::path& in,
                      const std::filesystem::path& out) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path a = fs::weakly_canonical(fs::absolute(in, ec), ec);
  const fs::path b = fs::weakly_canonical(fs::absolute(out, ec), ec);
  auto within = [](const fs::path& inner, const fs::path& outer) {
    auto ii = inner.begin();
    for (auto oi = outer.begin(); oi != outer.end(); ++oi, ++ii) {
      if (oi->empty()) continue;
      if (ii == inner.end() || *ii != *oi) return false;
    }
    return true;
  };
  if (within(a, b) && within(b, a)) {
    throw InvalidArgument(
        fmt::format("{}: IN and OUT are the same directory ({})", command, out.string()));
  }
  if (within(a, b)) {
    throw InvalidArgument(fmt::format("{}: OUT {} contains IN {}; writing it would replace IN",
                                      command, out.string(), in.string()));
  }
  if (within(b, a)) {
    throw InvalidArgument(fmt::format("{}: OUT {} is inside IN {}; writing it would change IN",
                                      command, out.string(), in.string()));
  }
}

ProgressBar::ProgressBar(std::string label, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), enabled_(::isatty(STDERR_FILENO) != 0) {}

void ProgressBar::operator()(int64_t done, int64_t total) {
  if (!enabled_) return;
  const int percent = total > 0 ? static_cast<int>(done * 100 / total) : 100;
  if (percent == last_percent_) return;
  last_percent_ = percent;
  constexpr int kWidth = 30;
  const int filled = percent * kWidth / 100;
  std::fprintf(stderr, "\r%s [%s%s] %3d%% (%lld/%lld %s)", label_.c_str(),
               std::string(static_cast<size_t>(filled), '#').c_str(),
               std::string(static_cast<size_t>(kWidth - filled), '.').c_str(), percent,
               static_cast<long long>(done), static_cast<long long>(total), unit_.c_str());
  if (done >= total) std::fprintf(stderr, "\n");
  std::fflush(stderr);
}

}  // namespace mouse::cli
