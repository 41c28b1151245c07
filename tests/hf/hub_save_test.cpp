// save_to_hub_layout: shards, README front matter, round trip through load_hub_layout and
// (when installed) DuckDB reading the shards.
#include <yaml-cpp/yaml.h>

#include "format/parquet_test_util.hpp"
#include "hf/hf_test_util.hpp"
#include "hf/hub_files.hpp"
#include "mouse/hub.hpp"
#include "mouse/parquet.hpp"

namespace mouse {
namespace {

namespace fs = std::filesystem;
using test::json;
using test::TempDir;

using test::all_kinds_without_null;

YAML::Node front_matter(const fs::path& readme) {
  const std::string text = test::read_text(readme);
  auto yaml = detail::readme_front_matter(text, readme.string());
  EXPECT_TRUE(yaml.has_value());
  return YAML::Load(yaml.value_or(""));
}

TEST(HubSave, RoundTripKeepsEveryValueAndFeature) {
  TempDir tmp;
  test::ScopedEnv cache_env("MOUSE_DATA_CACHE", (tmp / "user-cache").c_str());
  DatasetDict dict;
  dict.insert("train", all_kinds_without_null(250, 64));
  dict.insert("test", all_kinds_without_null(40, 40).slice(3, 30));
  save_to_hub_layout(dict, tmp / "hub");
  EXPECT_TRUE(fs::exists(tmp / "hub/data/train-00000-of-00001.parquet"));
  EXPECT_TRUE(fs::exists(tmp / "hub/data/test-00000-of-00001.parquet"));
  EXPECT_TRUE(is_hub_layout(tmp / "hub"));

  const DatasetDict back = load_hub_layout(tmp / "hub");
  ASSERT_EQ(back.split_names(), (std::vector<std::string>{"train", "test"}));
  for (const auto& name : back.split_names()) {
    const Dataset& ours = dict.at(name);
    const Dataset& theirs = back.at(name);
    EXPECT_EQ(theirs.column_names(), ours.column_names());
    EXPECT_TRUE(theirs.features() == ours.features()) << theirs.features().to_json();
    for (const auto& c : ours.column_names()) {
      EXPECT_EQ(theirs.features().type_of(c), ours.features().type_of(c)) << c;
      EXPECT_TRUE(theirs.column(c).field.type->equals(*ours.column(c).field.type)) << c;
    }
    const auto a = test::dataset_rows(ours);
    const auto b = test::dataset_rows(theirs);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i)
      EXPECT_EQ(a[i].dump(), b[i].dump()) << name << " row " << i;
  }
}

// The README's YAML features read back (Features._from_yaml_list) are the features that were
// saved, for every feature kind.
TEST(HubSave, ReadmeFeaturesReadBackAsTheSavedFeatures) {
  TempDir tmp;
  test::ScopedEnv cache_env("MOUSE_DATA_CACHE", (tmp / "user-cache").c_str());
  DatasetDict dict;
  dict.insert("train", all_kinds_without_null(20, 20));
  save_to_hub_layout(dict, tmp / "hub");
  const auto layout = detail::resolve_hub_layout(tmp / "hub", std::nullopt);
  ASSERT_TRUE(layout.readme_features.has_value());
  EXPECT_EQ(layout.readme, tmp / "hub/README.md");
  const Features back = Features::from_json(layout.readme_features->dump());
  const Features& saved = dict.at("train").features();
  EXPECT_TRUE(back == saved) << back.to_json() << "\n" << saved.to_json();
  for (const auto& name : saved.names()) {
    EXPECT_TRUE(back.arrow_type(name)->equals(*saved.arrow_type(name))) << name;
  }
  // Spelling aside ([{...}] is written as `list:` and read back as List), the JSON is the same.
  auto expected = json::parse(saved.to_json());
  expected["lst_st"] = json{{"feature", expected["lst_st"][0]}, {"_type", "List"}};
  EXPECT_EQ(json::parse(layout.readme_features->dump()), expected);
}

TEST(HubSave, ShardsAreBoundedAndReadmeDescribesThem) {
  TempDir tmp;
  test::ScopedEnv cache_env("MOUSE_DATA_CACHE", (tmp / "user-cache").c_str());
  DatasetDict dict;
  const Dataset train = all_kinds_without_null(300, 100);
  dict.insert("train", train);
  dict.insert("validation", all_kinds_without_null(10, 10));
  HubSaveOptions opt;
  opt.max_shard_bytes = 10'000;
  save_to_hub_layout(dict, tmp / "hub", opt);

  const YAML::Node fm = front_matter(tmp / "hub/README.md");
  const YAML::Node info = fm["dataset_info"];
  ASSERT_TRUE(info.IsMap());
  const int64_t train_bytes = info["splits"][0]["num_bytes"].as<int64_t>();
  EXPECT_EQ(info["splits"][0]["name"].as<std::string>(), "train");
  EXPECT_EQ(info["splits"][0]["num_examples"].as<int64_t>(), 300);
  EXPECT_EQ(info["splits"][1]["name"].as<std::string>(), "validation");
  EXPECT_EQ(info["splits"][1]["num_examples"].as<int64_t>(), 10);
  EXPECT_EQ(info["dataset_size"].as<int64_t>(),
            train_bytes + info["splits"][1]["num_bytes"].as<int64_t>());

  // int(nbytes / max_shard_bytes) + 1 shards, each named data/train-NNNNN-of-MMMMM.parquet.
  const int64_t expected_shards = train_bytes / 10'000 + 1;
  ASSERT_GT(expected_shards, 1);
  int64_t download = 0, shards = 0;
  for (const auto& e : fs::directory_iterator(tmp / "hub/data")) {
    download += static_cast<int64_t>(fs::file_size(e.path()));
    if (e.path().filename().string().rfind("train-", 0) == 0) ++shards;
  }
  EXPECT_EQ(shards, expected_shards);
  EXPECT_TRUE(fs::exists(
      tmp / "hub/data" /
      fmt::format("train-{:05d}-of-{:05d}.parquet", expected_shards - 1, expected_shards)));
  EXPECT_EQ(info["download_size"].as<int64_t>(), download);

  const YAML::Node configs = fm["configs"];
  ASSERT_EQ(configs.size(), 1u);
  EXPECT_EQ(configs[0]["config_name"].as<std::string>(), "default");
  EXPECT_EQ(configs[0]["data_files"][0]["split"].as<std::string>(), "train");
  EXPECT_EQ(configs[0]["data_files"][0]["path"].as<std::string>(), "data/train-*");
  EXPECT_EQ(configs[0]["data_files"][1]["path"].as<std::string>(), "data/validation-*");

  // Features in the Hub's YAML form.
  std::map<std::string, YAML::Node> features;
  for (const auto& f : info["features"]) {
    const YAML::Node& node = f;
    features.emplace(node["name"].as<std::string>(), node);
  }
  EXPECT_EQ(features["i8"]["dtype"].as<std::string>(), "int8");
  EXPECT_EQ(features["img"]["dtype"].as<std::string>(), "image");
  EXPECT_EQ(features["cls"]["dtype"]["class_label"]["names"]["2"].as<std::string>(), "pos");
  EXPECT_EQ(features["lst"]["sequence"].as<std::string>(), "int64");
  EXPECT_EQ(features["fsl"]["sequence"].as<std::string>(), "float32");
  EXPECT_EQ(features["fsl"]["length"].as<int>(), 3);
  EXPECT_EQ(features["llst"]["large_list"].as<std::string>(), "float64");
  EXPECT_EQ(features["st"]["struct"][0]["name"].as<std::string>(), "a");
  EXPECT_EQ(features["st"]["struct"][1]["dtype"].as<std::string>(), "string");

  const DatasetDict back = load_hub_layout(tmp / "hub");
  EXPECT_EQ(back.at("train").num_rows(), 300);
  EXPECT_EQ(test::dataset_rows(back.at("train")).back().dump(),
            test::dataset_rows(train).back().dump());
}

TEST(HubSave, EmptySplitRoundTrips) {
  TempDir tmp;
  test::ScopedEnv cache_env("MOUSE_DATA_CACHE", (tmp / "user-cache").c_str());
  DatasetDict dict;
  dict.insert("train", all_kinds_without_null(8, 8));
  dict.insert("test", all_kinds_without_null(8, 8).slice(0, 0));
  save_to_hub_layout(dict, tmp / "hub");
  EXPECT_TRUE(fs::exists(tmp / "hub/data/test-00000-of-00001.parquet"));
  const DatasetDict back = load_hub_layout(tmp / "hub");
  EXPECT_EQ(back.at("test").num_rows(), 0);
  EXPECT_EQ(back.at("test").column_names(), dict.at("test").column_names());
  EXPECT_EQ(back.at("train").num_rows(), 8);
}

TEST(HubSave, ShardsCarryHuggingfaceAndArrowSchemaMetadata) {
  TempDir tmp;
  test::ScopedEnv cache_env("MOUSE_DATA_CACHE", (tmp / "user-cache").c_str());
  DatasetDict dict;
  dict.insert("train", all_kinds_without_null(5, 5));
  save_to_hub_layout(dict, tmp / "hub");
  const auto info = parquet::inspect_parquet(tmp / "hub/data/train-00000-of-00001.parquet");
  std::map<std::string, std::string> md(info.metadata.begin(), info.metadata.end());
  ASSERT_TRUE(md.count("huggingface"));
  EXPECT_TRUE(md.count("ARROW:schema"));
  const json hf = json::parse(md["huggingface"]);
  EXPECT_EQ(hf["info"]["features"]["img"]["_type"], "Image");
}

TEST(HubSave, ReplacesAnExistingDirectoryAsAWhole) {
  TempDir tmp;
  test::ScopedEnv cache_env("MOUSE_DATA_CACHE", (tmp / "user-cache").c_str());
  DatasetDict dict;
  dict.insert("train", all_kinds_without_null(5, 5));
  fs::create_directories(tmp / "hub/data");
  test::write_text(tmp / "hub/data/old-00000-of-00001.parquet", "stale");
  save_to_hub_layout(dict, tmp / "hub");
  EXPECT_FALSE(fs::exists(tmp / "hub/data/old-00000-of-00001.parquet"));
  EXPECT_EQ(load_hub_layout(tmp / "hub").split_names(), (std::vector<std::string>{"train"}));
}

TEST(HubSave, RejectsBadArguments) {
  TempDir tmp;
  test::ScopedEnv cache_env("MOUSE_DATA_CACHE", (tmp / "user-cache").c_str());
  DatasetDict empty;
  EXPECT_THROW_MSG(save_to_hub_layout(empty, tmp / "hub"), InvalidArgument, "at least one split");
  DatasetDict dict;
  dict.insert("train", all_kinds_without_null(5, 5));
  HubSaveOptions opt;
  opt.max_shard_bytes = 0;
  EXPECT_THROW_MSG(save_to_hub_layout(dict, tmp / "hub", opt), InvalidArgument,
                   "max_shard_bytes must be > 0");
  DatasetDict mixed = dict;
  {
    std::vector<arrow::RecordBatch> batches{
        arrow::make_batch({"x"}, {arrow::make_primitive<int64_t>(std::vector<int64_t>{1})})};
    auto schema = batches[0].schema;
    mixed.insert("other", Dataset::from_batches(schema, batches));
  }
  EXPECT_THROW_MSG(save_to_hub_layout(mixed, tmp / "hub"), InvalidArgument,
                   "split \"other\" has other features than split \"train\"");
  dict.insert("train-extra", all_kinds_without_null(5, 5));
  EXPECT_THROW_MSG(save_to_hub_layout(dict, tmp / "hub"), InvalidArgument,
                   "would share the pattern data/train-*");
  EXPECT_FALSE(fs::exists(tmp / "hub"));
}

TEST(HubSave, SeveralConfigsEachInTheirOwnDirectoryAndReadmeEntry) {
  TempDir tmp;
  test::ScopedEnv cache_env("MOUSE_DATA_CACHE", (tmp / "user-cache").c_str());
  DatasetDict cart;
  cart.insert("train", all_kinds_without_null(120, 64));
  cart.insert("test", all_kinds_without_null(20, 20));
  DatasetDict lake;
  {
    std::vector<arrow::RecordBatch> batches{arrow::make_batch(
        {"x"}, {arrow::make_primitive<int64_t>(std::vector<int64_t>{4, 5, 6})})};
    auto schema = batches[0].schema;
    lake.insert("train", Dataset::from_batches(schema, batches));
  }
  save_to_hub_layout({{"cartpole", cart}, {"frozen_lake", lake}}, tmp / "hub");
  EXPECT_TRUE(fs::exists(tmp / "hub/cartpole/train-00000-of-00001.parquet"));
  EXPECT_TRUE(fs::exists(tmp / "hub/cartpole/test-00000-of-00001.parquet"));
  EXPECT_TRUE(fs::exists(tmp / "hub/frozen_lake/train-00000-of-00001.parquet"));
  EXPECT_FALSE(fs::exists(tmp / "hub/data"));
  EXPECT_EQ(hub_config_names(tmp / "hub"),
            (std::vector<std::string>{"cartpole", "frozen_lake"}));

  const YAML::Node front = front_matter(tmp / "hub/README.md");
  ASSERT_TRUE(front["dataset_info"].IsSequence());
  EXPECT_EQ(front["dataset_info"][1]["config_name"].as<std::string>(), "frozen_lake");
  EXPECT_EQ(front["dataset_info"][1]["splits"][0]["num_examples"].as<int64_t>(), 3);
  EXPECT_EQ(front["configs"][0]["data_files"][1]["path"].as<std::string>(), "cartpole/test-*");

  HubLoadOptions pick;
  pick.config_name = "frozen_lake";
  const DatasetDict back = load_hub_layout(tmp / "hub", pick);
  ASSERT_EQ(back.split_names(), (std::vector<std::string>{"train"}));
  EXPECT_EQ(back.at("train").num_rows(), 3);
  pick.config_name = "cartpole";
  const DatasetDict first = load_hub_layout(tmp / "hub", pick);
  EXPECT_EQ(first.split_names(), (std::vector<std::string>{"train", "test"}));
  EXPECT_TRUE(first.at("train").features() == cart.at("train").features());
  EXPECT_EQ(first.at("test").num_rows(), 20);
}

TEST(HubSave, ConfigNamesOfLayoutsWithoutReadmeConfigs) {
  TempDir tmp;
  test::ScopedEnv cache_env("MOUSE_DATA_CACHE", (tmp / "user-cache").c_str());
  DatasetDict dict;
  dict.insert("train", all_kinds_without_null(5, 5));
  save_to_hub_layout(dict, tmp / "one");
  EXPECT_EQ(hub_config_names(tmp / "one"), (std::vector<std::string>{"default"}));
  fs::remove(tmp / "one/README.md");
  fs::create_directories(tmp / "one/beta");
  fs::copy_file(tmp / "one/data/train-00000-of-00001.parquet",
                tmp / "one/beta/train-00000-of-00001.parquet");
  EXPECT_EQ(hub_config_names(tmp / "one"), (std::vector<std::string>{"default", "beta"}));
  EXPECT_THROW_MSG(hub_config_names(tmp / "missing"), IoError, "not a directory");
}

TEST(HubSave, SeveralConfigsRejectBadArguments) {
  TempDir tmp;
  test::ScopedEnv cache_env("MOUSE_DATA_CACHE", (tmp / "user-cache").c_str());
  DatasetDict dict;
  dict.insert("train", all_kinds_without_null(5, 5));
  using Configs = std::vector<std::pair<std::string, DatasetDict>>;
  EXPECT_THROW_MSG(save_to_hub_layout(Configs{}, tmp / "hub"), InvalidArgument,
                   "at least one config");
  EXPECT_THROW_MSG(save_to_hub_layout(Configs{{"a", dict}, {"a", dict}}, tmp / "hub"),
                   InvalidArgument, "config \"a\" is given twice");
  for (const char* bad : {"", ".hidden", "a/b", "..", "x*"}) {
    EXPECT_THROW_MSG(save_to_hub_layout(Configs{{bad, dict}}, tmp / "hub"), InvalidArgument,
                     "cannot be a directory name");
  }
  EXPECT_THROW_MSG(save_to_hub_layout(Configs{{"a", dict}, {"b", DatasetDict{}}}, tmp / "hub"),
                   InvalidArgument, "at least one split of config \"b\"");
  EXPECT_FALSE(fs::exists(tmp / "hub"));
}

TEST(HubSave, DuckDbReadsTheShards) {
  MOUSE_REQUIRE_DUCKDB();
  TempDir tmp;
  test::ScopedEnv cache_env("MOUSE_DATA_CACHE", (tmp / "user-cache").c_str());
  DatasetDict dict;
  dict.insert("train", all_kinds_without_null(50, 50));
  save_to_hub_layout(dict, tmp / "hub");
  auto r = test::duckdb_read(tmp / "hub/data/train-00000-of-00001.parquet", {"i8", "s", "lst"});
  ASSERT_EQ(r.status, 0) << r.out;
  const auto rows = test::json_lines(r.out);
  ASSERT_EQ(rows.size(), 50u);
  const auto ours = test::dataset_rows(dict.at("train"));
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i]["i8"], ours[i]["i8"]) << i;
    EXPECT_EQ(rows[i]["s"], ours[i]["s"]) << i;
    EXPECT_EQ(rows[i]["lst"], ours[i]["lst"]) << i;
  }
}

}  // namespace
}  // namespace mouse
