// save_to_hub_layout: Parquet shards data/<split>-NNNNN-of-MMMMM.parquet plus README.md, as
// `push_to_hub` lays them out. Shard count per split as datasets computes it:
// int(nbytes / max_shard_size) + 1 contiguous shards of near-equal row counts.
#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>

#include "hf/atomic_dir.hpp"
#include "hf/dataset_state.hpp"
#include "hf/hub_readme.hpp"
#include "hf/py_json.hpp"
#include "hf/shard_writer.hpp"
#include "mouse/error.hpp"
#include "mouse/hub.hpp"

namespace mouse {

namespace fs = std::filesystem;

namespace {

using nlohmann::ordered_json;

void check_split_name(const std::string& name) {
  // The README pattern data/<split>-* must not pick up another split's shards.
  if (name.find_first_of("*?[]/\\") != std::string::npos) {
    throw InvalidArgument(fmt::format(
        "save_to_hub_layout: split name \"{}\" cannot be used in a data/<split>-* pattern "
        "(expected no '*', '?', '[', ']', '/' or '\\')",
        name));
  }
}

// A config name is the directory of its shards: one plain path component.
void check_config_name(const std::string& name) {
  const bool bad = name.empty() || name == "." || name == ".." || name[0] == '.' ||
                   name.find_first_of("*?[]/\\:") != std::string::npos ||
                   std::any_of(name.begin(), name.end(),
                               [](char c) { return static_cast<unsigned char>(c) < 0x20; });
  if (bad) {
    throw InvalidArgument(fmt::format(
        "save_to_hub_layout: config name \"{:.100}\" cannot be a directory name (expected a "
        "non-empty name without a leading '.', '/', '\\', ':', wildcards or control "
        "characters)",
        name));
  }
}

// Checks one config's splits (names usable in `<dir>/<split>-*`, shared features) and returns
// the features JSON.
ordered_json checked_features(const DatasetDict& dict, const std::string& where,
                              const std::string& dir) {
  if (dict.size() == 0) {
    throw InvalidArgument(
        fmt::format("save_to_hub_layout: expected at least one split{}, found none", where));
  }
  const auto names = dict.split_names();
  for (const auto& a : names) {
    check_split_name(a);
    // "train" and "train-x" would both match data/train-*.
    for (const auto& b : names) {
      if (a != b && b.rfind(a + "-", 0) == 0) {
        throw InvalidArgument(fmt::format(
            "save_to_hub_layout: split names \"{}\" and \"{}\"{} would share the pattern "
            "{}/{}-*",
            a, b, where, dir, a));
      }
    }
  }
  // One README entry describes every split of a config, so they must share their features
  // (as on the Hub).
  const Features& first = dict.at(names.front()).features();
  for (const auto& name : names) {
    if (!(dict.at(name).features() == first)) {
      throw InvalidArgument(fmt::format(
          "save_to_hub_layout: split \"{}\"{} has other features than split \"{}\": expected "
          "{:.200}, found {:.200}",
          name, where, names.front(), first.to_json(), dict.at(name).features().to_json()));
    }
  }
  return ordered_json::parse(first.to_json());
}

// The schema of a split's shards: its fields, nullable, with its features as `huggingface`
// metadata.
std::shared_ptr<const arrow::Schema> shard_schema(const Dataset& ds) {
  ordered_json hf = ordered_json::object();
  hf["info"] = ordered_json::object();
  hf["info"]["features"] = ordered_json::parse(ds.features().to_json());
  auto schema = std::make_shared<arrow::Schema>();
  schema->fields = ds.schema()->fields;
  for (auto& f : schema->fields) f.nullable = true;
  schema->metadata = {{"huggingface", detail::py_dumps(hf)}};
  return schema;
}

int64_t hub_shard_count(const HubSaveOptions& options, int64_t rows, int64_t nbytes) {
  return std::clamp<int64_t>(nbytes / options.max_shard_bytes + 1, 1, std::max<int64_t>(rows, 1));
}

fs::path shard_path(const fs::path& dir, const std::string& split, int64_t i, int64_t n) {
  return dir / fmt::format("{}-{:05d}-of-{:05d}.parquet", split, i, n);
}

// Writes one streamed split's shards into `dir` (see save_streams_to_hub_layout) and returns
// its README entry, adding the shards' sizes to `download_size`.
detail::HubSplitInfo write_stream_split(const fs::path& dir, const std::string& name,
                                          const BatchStream& stream,
                                          const HubSaveOptions& options, int64_t& download_size) {
  constexpr std::string_view kWhere = "save_streams_to_hub_layout";
  const arrow::Schema& layout = *stream.layout.schema();
  const auto schema = shard_schema(stream.layout);
  const int64_t rows = stream.num_rows;
  const auto as_shard_batch = [&](const arrow::RecordBatch& batch) {
    arrow::RecordBatch out = batch;
    out.schema = schema;
    return out;
  };
  // First pass: straight into the single shard, as long as the bytes say one shard will do.
  auto single = std::make_unique<parquet::ParquetWriter>(shard_path(dir, name, 0, 1), schema,
                                                         options.parquet);
  int64_t total = 0;
  detail::run_stream_pass(stream, layout, 1, kWhere, [&](const arrow::RecordBatch& batch, int64_t nbytes) {
    total = nbytes;
    if (single && hub_shard_count(options, rows, nbytes) > 1) single.reset();  // removes its file
    if (single && batch.num_rows > 0) single->write(as_shard_batch(batch));
  });
  int64_t num_shards = 1;
  if (single) {
    single->close();
  } else {
    // Second pass: the final shards, contiguous, of near-equal row counts.
    num_shards = hub_shard_count(options, rows, total);
    const int64_t div = rows / num_shards;
    const int64_t mod = rows % num_shards;
    const auto shard_rows = [&](int64_t i) { return div + (i < mod ? 1 : 0); };
    int64_t shard = 0;
    int64_t left = shard_rows(0);
    auto writer = std::make_unique<parquet::ParquetWriter>(shard_path(dir, name, 0, num_shards),
                                                           schema, options.parquet);
    int64_t again = 0;
    detail::run_stream_pass(stream, layout, 2, kWhere, [&](const arrow::RecordBatch& batch, int64_t nbytes) {
      again = nbytes;
      if (nbytes > total) {
        throw InvalidArgument(fmt::format(
            "{}: the stream of split \"{}\" produced other batches on its second call", kWhere,
            name));
      }
      int64_t at = 0;
      while (at < batch.num_rows) {
        if (left == 0) {
          writer->close();
          ++shard;
          left = shard_rows(shard);
          writer = std::make_unique<parquet::ParquetWriter>(
              shard_path(dir, name, shard, num_shards), schema, options.parquet);
          continue;
        }
        const int64_t take = std::min(left, batch.num_rows - at);
        arrow::RecordBatch piece = as_shard_batch(batch);
        if (take != batch.num_rows) {
          piece.num_rows = take;
          for (auto& column : piece.columns) column = column->slice(at, take);
        }
        writer->write(piece);
        at += take;
        left -= take;
      }
    });
    if (again != total) {
      throw InvalidArgument(fmt::format(
          "{}: the stream of split \"{}\" produced other batches on its second call", kWhere,
          name));
    }
    writer->close();
  }
  for (int64_t i = 0; i < num_shards; ++i) {
    download_size += static_cast<int64_t>(fs::file_size(shard_path(dir, name, i, num_shards)));
  }
  return {name, total, rows};
}

// Writes the shards of one config into `tmp / dir`.
detail::HubReadmeConfig write_config(const fs::path& tmp, const std::string& config_name,
                                     const std::string& dir, const DatasetDict& dict,
                                     ordered_json features, const HubSaveOptions& options) {
  detail::HubReadmeConfig readme{config_name, dir, std::move(features), {}, 0};
  fs::create_directories(tmp / dir);
  for (const auto& name : dict.split_names()) {
    const Dataset& ds = dict.at(name);
    const auto schema = shard_schema(ds);

    const int64_t nbytes = detail::dataset_nbytes(detail::DatasetAccess::state(ds));
    const int64_t rows = ds.num_rows();
    const int64_t num_shards = hub_shard_count(options, rows, nbytes);
    const int64_t div = rows / num_shards;
    const int64_t mod = rows % num_shards;
    for (int64_t i = 0; i < num_shards; ++i) {
      const int64_t lo = div * i + std::min(i, mod);
      const int64_t len = div + (i < mod ? 1 : 0);
      const Dataset part = ds.slice(lo, len);
      std::vector<arrow::RecordBatch> batches;
      for (const auto& b : part.batches()) {
        if (b.num_rows == 0) continue;
        arrow::RecordBatch out = b;
        out.schema = schema;
        batches.push_back(std::move(out));
      }
      const fs::path file = shard_path(tmp / dir, name, i, num_shards);
      parquet::write_parquet(file, schema, batches, options.parquet);
      readme.download_size += static_cast<int64_t>(fs::file_size(file));
    }
    readme.splits.push_back({name, nbytes, rows});
  }
  return readme;
}

void check_max_shard_bytes(const HubSaveOptions& options) {
  if (options.max_shard_bytes <= 0) {
    throw InvalidArgument(fmt::format("save_to_hub_layout: max_shard_bytes must be > 0, got {}",
                                      options.max_shard_bytes));
  }
}

}  // namespace

void save_to_hub_layout(const DatasetDict& dict, const fs::path& dir,
                        const HubSaveOptions& options) {
  check_max_shard_bytes(options);
  ordered_json features = checked_features(dict, "", "data");
  detail::replace_directory_atomically(dir, [&](const fs::path& tmp) {
    const detail::HubReadmeConfig config =
        write_config(tmp, options.config_name, "data", dict, std::move(features), options);
    detail::FileWriter readme(tmp / "README.md");
    readme.write(detail::hub_readme({config}));
    readme.close();
  });
}

void save_to_hub_layout(const std::vector<std::pair<std::string, DatasetDict>>& configs,
                        const fs::path& dir, const HubSaveOptions& options) {
  check_max_shard_bytes(options);
  if (configs.empty()) {
    throw InvalidArgument("save_to_hub_layout: expected at least one config, found none");
  }
  std::vector<ordered_json> features;
  for (size_t i = 0; i < configs.size(); ++i) {
    const std::string& name = configs[i].first;
    check_config_name(name);
    for (size_t j = 0; j < i; ++j) {
      if (configs[j].first == name) {
        throw InvalidArgument(
            fmt::format("save_to_hub_layout: config \"{}\" is given twice", name));
      }
    }
    features.push_back(checked_features(configs[i].second, fmt::format(" of config \"{}\"", name), name));
  }
  detail::replace_directory_atomically(dir, [&](const fs::path& tmp) {
    std::vector<detail::HubReadmeConfig> written;
    for (size_t i = 0; i < configs.size(); ++i) {
      written.push_back(write_config(tmp, configs[i].first, configs[i].first, configs[i].second,
                                     std::move(features[i]), options));
    }
    detail::FileWriter readme(tmp / "README.md");
    readme.write(detail::hub_readme(written));
    readme.close();
  });
}

void save_streams_to_hub_layout(const std::vector<std::pair<std::string, BatchStream>>& splits,
                                const fs::path& dir, const HubSaveOptions& options) {
  check_max_shard_bytes(options);
  DatasetDict layouts;
  for (const auto& [name, stream] : splits) {
    detail::check_stream(stream, name, "save_streams_to_hub_layout");
    if (layouts.contains(name)) {
      throw InvalidArgument(
          fmt::format("save_streams_to_hub_layout: split \"{}\" is given twice", name));
    }
    layouts.insert(name, stream.layout);
  }
  ordered_json features = checked_features(layouts, "", "data");
  detail::replace_directory_atomically(dir, [&](const fs::path& tmp) {
    detail::HubReadmeConfig config{options.config_name, "data", std::move(features), {}, 0};
    fs::create_directories(tmp / "data");
    for (const auto& [name, stream] : splits) {
      config.splits.push_back(write_stream_split(tmp / "data", name, stream, options,
                                                 config.download_size));
    }
    detail::FileWriter readme(tmp / "README.md");
    readme.write(detail::hub_readme({config}));
    readme.close();
  });
}

}  // namespace mouse
