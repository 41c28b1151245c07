// save_to_hub_layout: Parquet shards data/<split>-NNNNN-of-MMMMM.parquet plus README.md, as
// `push_to_hub` lays them out. Shard count per split as datasets computes it:
// int(nbytes / max_shard_size) + 1 contiguous shards of near-equal row counts.
#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "hf/atomic_dir.hpp"
#include "hf/dataset_state.hpp"
#include "hf/hub_readme.hpp"
#include "hf/py_json.hpp"
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

}  // namespace

void save_to_hub_layout(const DatasetDict& dict, const fs::path& dir,
                        const HubSaveOptions& options) {
  if (options.max_shard_bytes <= 0) {
    throw InvalidArgument(fmt::format("save_to_hub_layout: max_shard_bytes must be > 0, got {}",
                                      options.max_shard_bytes));
  }
  if (dict.size() == 0)
    throw InvalidArgument("save_to_hub_layout: expected at least one split, found none");
  const auto names = dict.split_names();
  for (const auto& a : names) {
    check_split_name(a);
    // "train" and "train-x" would both match data/train-*.
    for (const auto& b : names) {
      if (a != b && b.rfind(a + "-", 0) == 0) {
        throw InvalidArgument(fmt::format(
            "save_to_hub_layout: split names \"{}\" and \"{}\" would share the pattern data/{}-*",
            a, b, a));
      }
    }
  }

  // One README describes every split, so they must share their features (as on the Hub).
  const Features& first = dict.at(names.front()).features();
  for (const auto& name : names) {
    if (!(dict.at(name).features() == first)) {
      throw InvalidArgument(fmt::format(
          "save_to_hub_layout: split \"{}\" has other features than split \"{}\": expected {}, "
          "found {}",
          name, names.front(), first.to_json(), dict.at(name).features().to_json()));
    }
  }
  ordered_json features = ordered_json::parse(first.to_json());

  detail::replace_directory_atomically(dir, [&](const fs::path& tmp) {
    fs::create_directories(tmp / "data");
    std::vector<detail::HubSplitInfo> infos;
    int64_t download_size = 0;
    for (const auto& name : names) {
      const Dataset& ds = dict.at(name);
      ordered_json hf = ordered_json::object();
      hf["info"] = ordered_json::object();
      hf["info"]["features"] = ordered_json::parse(ds.features().to_json());
      auto schema = std::make_shared<arrow::Schema>();
      schema->fields = ds.schema()->fields;
      for (auto& f : schema->fields) f.nullable = true;
      schema->metadata = {{"huggingface", detail::py_dumps(hf)}};

      const int64_t nbytes = detail::dataset_nbytes(detail::DatasetAccess::state(ds));
      const int64_t rows = ds.num_rows();
      const int64_t num_shards =
          std::clamp<int64_t>(nbytes / options.max_shard_bytes + 1, 1, std::max<int64_t>(rows, 1));
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
        const fs::path file =
            tmp / "data" / fmt::format("{}-{:05d}-of-{:05d}.parquet", name, i, num_shards);
        parquet::write_parquet(file, schema, batches, options.parquet);
        download_size += static_cast<int64_t>(fs::file_size(file));
      }
      infos.push_back({name, nbytes, rows});
    }
    detail::FileWriter readme(tmp / "README.md");
    readme.write(detail::hub_readme(features, infos, download_size, options.config_name));
    readme.close();
  });
}

}  // namespace mouse
