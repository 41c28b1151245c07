#include "common.hpp"

#include <fmt/format.h>

#include <iterator>
#include <variant>

#include "mouse/arrow_json.hpp"
#include "mouse/dataset.hpp"
#include "mouse/error.hpp"

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

std::string shape_json(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += fmt::format("{}{}", i ? ", " : "", shape[i]);
  return out + "]";
}

}  // namespace

void StoreArgs::add_to(CLI::App* cmd) {
  cmd->add_option("path", path, "save_to_disk dataset or DatasetDict directory")->required();
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
}

std::unique_ptr<DatasetStore> open_store(const StoreArgs& args) {
  auto store = std::make_unique<DatasetStore>(args.max_action_dim, args.max_obs_continuous_dim,
                                              args.max_obs_discrete_dim, args.max_obs_image_pixels);
  auto loaded = load_from_disk(args.path);
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
  out += fmt::format("\"batch_size\": {}, \"tensors\": {{", shape_json(td.batch_size()));
  bool first = true;
  for (const auto& [name, t] : td) {
    if (!first) out += ", ";
    first = false;
    arrow::append_json_string(out, name);
    out += fmt::format(": {{\"dtype\": \"{}\", \"shape\": {}, \"values\": [", dtype_name(t.dtype()),
                       shape_json(t.shape()));
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
  std::string out = fmt::format("batch_size {}\n", shape_json(td.batch_size()));
  for (const auto& [name, t] : td) {
    out += fmt::format("{} {} {}:", name, dtype_name(t.dtype()), shape_json(t.shape()));
    for (int64_t i = 0; i < t.numel(); ++i) {
      out += ' ';
      append_value(out, t, i);
    }
    out += '\n';
  }
  return out;
}

}  // namespace mouse::cli
