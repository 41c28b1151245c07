// Drives `mouse-data convert` and `generate --format hub`: both directions, layout detection,
// values kept, and error exits; and `inspect` / `head` / `encode` / `sample` reading a Hub
// layout directly through the Arrow cache.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "mouse/dataset.hpp"
#include "mouse/hub.hpp"
#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
using mouse::test::run_command;
using nlohmann::json;

std::string cli(const std::string& args) {
  return std::string(MOUSE_CLI_PATH) + " " + args;
}

std::string quote(const fs::path& p) {
  return "'" + p.string() + "'";
}

mouse::test::CommandResult run_with_stderr(const std::string& cmd) {
  return run_command(cmd + " 2>&1");
}

// Expects a one-line error naming `needle` and a non-zero exit.
void expect_error(const std::string& args, const std::string& needle) {
  auto r = run_with_stderr(cli(args));
  EXPECT_NE(r.status, 0) << args;
  EXPECT_NE(r.out.find(needle), std::string::npos) << args << "\n" << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << args << "\n" << r.out;
}

// Every row of a split as `head --json` prints it.
std::string head_json(const fs::path& dir, const std::string& split) {
  auto r = run_command(cli("head " + quote(dir) + " --split " + split + " -n 1000000 --json"));
  EXPECT_EQ(r.status, 0) << r.out;
  return r.out;
}

TEST(CliConvert, DiskToHubAndBackKeepsEveryRow) {
  mouse::test::TempDir tmp;
  mouse::test::ScopedEnv cache_env("MOUSE_DATA_CACHE", (tmp / "user-cache").c_str());
  ASSERT_EQ(run_command(cli("generate frozenlake-4x4 " + quote(tmp / "disk") +
                            " --splits train=300,test=120 --images --seed 5"))
                .status,
            0);
  auto r = run_command(
      cli("convert " + quote(tmp / "disk") + " " + quote(tmp / "hub") + " --to hub --json"));
  ASSERT_EQ(r.status, 0) << r.out;
  const json doc = json::parse(r.out);
  EXPECT_EQ(doc["from"], "disk");
  EXPECT_EQ(doc["to"], "hub");
  EXPECT_EQ(doc["splits"][0], json::parse(R"({"name": "train", "num_rows": 300})"));
  EXPECT_TRUE(fs::exists(tmp / "hub/README.md"));
  EXPECT_TRUE(fs::exists(tmp / "hub/data/train-00000-of-00001.parquet"));
  EXPECT_TRUE(fs::exists(tmp / "hub/data/test-00000-of-00001.parquet"));

  r = run_command(cli("convert " + quote(tmp / "hub") + " " + quote(tmp / "back") +
                      " --to disk --cache-dir " + quote(tmp / "cache")));
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("(hub)"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(tmp / "cache"));
  EXPECT_FALSE(fs::exists(tmp / "hub/.mouse-cache"));

  const auto dict = mouse::DatasetDict::load_from_disk(tmp / "back");
  EXPECT_EQ(dict.split_names(), (std::vector<std::string>{"train", "test"}));
  EXPECT_EQ(dict.at("train").features().type_of("observation_image"), "Image()");
  for (const std::string split : {"train", "test"}) {
    EXPECT_EQ(head_json(tmp / "back", split), head_json(tmp / "disk", split)) << split;
  }
}

TEST(CliConvert, SingleDatasetBecomesATrainSplit) {
  mouse::test::TempDir tmp;
  mouse::test::ScopedEnv cache_env("MOUSE_DATA_CACHE", (tmp / "user-cache").c_str());
  ASSERT_EQ(run_command(cli("generate cartpole " + quote(tmp / "ds") + " --steps 200")).status, 0);
  ASSERT_EQ(
      run_command(cli("convert " + quote(tmp / "ds") + " " + quote(tmp / "hub") + " --to hub"))
          .status,
      0);
  const auto dict = mouse::load_hub_layout(tmp / "hub");
  EXPECT_EQ(dict.split_names(), (std::vector<std::string>{"train"}));
  EXPECT_EQ(dict.at("train").num_rows(), 200);
}

TEST(CliGenerateHub, FormatHubWritesParquetShardsAndReadme) {
  mouse::test::TempDir tmp;
  mouse::test::ScopedEnv cache_env("MOUSE_DATA_CACHE", (tmp / "user-cache").c_str());
  auto r = run_command(cli("generate cartpole " + quote(tmp / "hub") +
                           " --format hub --splits train=150,test=50 --json"));
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(json::parse(r.out)["layout"], "Hub");
  EXPECT_TRUE(fs::exists(tmp / "hub/README.md"));
  const auto dict = mouse::load_hub_layout(tmp / "hub");
  EXPECT_EQ(dict.split_names(), (std::vector<std::string>{"train", "test"}));
  EXPECT_EQ(dict.at("test").num_rows(), 50);

  r = run_command(cli("generate cartpole " + quote(tmp / "one") + " --format hub --steps 30"));
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(mouse::load_hub_layout(tmp / "one").at("train").num_rows(), 30);
}

TEST(CliConvertErrors, BadInputsAreOneLineErrors) {
  mouse::test::TempDir tmp;
  mouse::test::ScopedEnv cache_env("MOUSE_DATA_CACHE", (tmp / "user-cache").c_str());
  ASSERT_EQ(run_command(cli("generate cartpole " + quote(tmp / "ds") + " --steps 20")).status, 0);
  fs::create_directories(tmp / "plain");
  expect_error("convert " + quote(tmp / "ds") + " " + quote(tmp / "o") + " --to csv",
               "unknown --to 'csv'");
  expect_error("convert " + quote(tmp / "plain") + " " + quote(tmp / "o") + " --to hub",
               "not a dataset");
  expect_error("convert " + quote(tmp / "missing") + " " + quote(tmp / "o") + " --to hub",
               "not a directory");
  expect_error("convert " + quote(tmp / "ds") + " " + quote(tmp / "ds") + " --to hub",
               "same directory");
  expect_error(
      "convert " + quote(tmp / "ds") + " " + quote(tmp / "o") + " --to hub --max-shard-bytes 0",
      "--max-shard-bytes must be > 0");
  fs::create_directories(tmp / "full");
  std::ofstream(tmp / "full" / "x") << "x";
  expect_error("convert " + quote(tmp / "ds") + " " + quote(tmp / "full") + " --to hub",
               "--overwrite");
  expect_error("convert " + quote(tmp / "ds") + " " + quote(tmp / "full") + " --to hub --overwrite",
               "holds no dataset");
  EXPECT_TRUE(fs::exists(tmp / "full" / "x"));
  ASSERT_EQ(run_command(cli("convert " + quote(tmp / "ds") + " " + quote(tmp / "hub") + " --to hub"))
                .status,
            0);
  EXPECT_EQ(run_command(cli("convert " + quote(tmp / "ds") + " " + quote(tmp / "hub") +
                            " --to hub --overwrite"))
                .status,
            0);
  EXPECT_FALSE(fs::exists(tmp / "o"));
  EXPECT_NE(run_with_stderr(cli("convert " + quote(tmp / "ds"))).status, 0);
}

// Every other command reads a Hub layout the way it reads a save_to_disk directory: the same
// rows, the same encoded steps, the same sampled batches.
TEST(CliHubInput, InspectHeadEncodeSampleReadHubLayoutsDirectly) {
  mouse::test::TempDir tmp;
  mouse::test::ScopedEnv cache_env("MOUSE_DATA_CACHE", (tmp / "user-cache").c_str());
  ASSERT_EQ(run_command(cli("generate frozenlake-4x4 " + quote(tmp / "disk") +
                            " --splits train=250,test=60 --images --seed 3"))
                .status,
            0);
  ASSERT_EQ(run_command(cli("convert " + quote(tmp / "disk") + " " + quote(tmp / "hub") +
                            " --to hub --max-shard-bytes 20000"))
                .status,
            0);
  // Several shards per split, so the split is a concatenation of cached shards.
  int shards = 0;
  for (const auto& e : fs::directory_iterator(tmp / "hub/data")) shards += e.path().extension() == ".parquet";
  EXPECT_GT(shards, 2);

  auto r = run_command(cli("inspect " + quote(tmp / "hub") + " --json"));
  ASSERT_EQ(r.status, 0) << r.out;
  const json doc = json::parse(r.out);
  EXPECT_EQ(doc["format"], "hub");
  EXPECT_EQ(doc["layout"], "DatasetDict");
  ASSERT_EQ(doc["splits"].size(), 2u);
  EXPECT_EQ(doc["splits"][0]["name"], "train");
  EXPECT_EQ(doc["splits"][0]["num_rows"], 250);
  EXPECT_EQ(json::parse(run_command(cli("inspect " + quote(tmp / "disk") + " --json")).out)["format"],
            "disk");
  r = run_command(cli("inspect " + quote(tmp / "hub")));
  EXPECT_NE(r.out.find("Hub layout"), std::string::npos) << r.out;

  EXPECT_EQ(head_json(tmp / "hub", "test"), head_json(tmp / "disk", "test"));
  EXPECT_EQ(head_json(tmp / "hub", "train"), head_json(tmp / "disk", "train"));

  const std::string encode = " --indices=0,17,249,-1 --max-action-dim 4 --max-obs-discrete-dim 1 "
                             "--max-obs-image-pixels 3072 --json";
  auto from_hub = run_command(cli("encode " + quote(tmp / "hub") + " --split train" + encode));
  auto from_disk = run_command(cli("encode " + quote(tmp / "disk") + " --split train" + encode));
  ASSERT_EQ(from_hub.status, 0) << from_hub.out;
  EXPECT_EQ(from_hub.out, from_disk.out);
  // uint8 images: the same values in another dtype.
  auto as_u8 = run_command(cli("encode " + quote(tmp / "hub") + " --split train" + encode +
                               " --obs-image-dtype uint8"));
  ASSERT_EQ(as_u8.status, 0) << as_u8.out;
  const json wide = json::parse(from_hub.out)["tensors"]["obs_image"];
  const json narrow = json::parse(as_u8.out)["tensors"]["obs_image"];
  EXPECT_EQ(wide["dtype"], "int64");
  EXPECT_EQ(narrow["dtype"], "uint8");
  EXPECT_EQ(narrow["values"], wide["values"]);
  EXPECT_EQ(narrow["shape"], json::parse("[4, 3072]"));

  const std::string sample = " -S 8 -B 4 --seed 9 --batches 3 --max-action-dim 4 "
                             "--max-obs-discrete-dim 1 --json";
  from_hub = run_command(cli("sample " + quote(tmp / "hub") + sample));
  from_disk = run_command(cli("sample " + quote(tmp / "disk") + sample));
  ASSERT_EQ(from_hub.status, 0) << from_hub.out;
  EXPECT_EQ(from_hub.out, from_disk.out);
  // --pin-memory without a CUDA runtime: ordinary memory, the same batches.
  auto pinned = run_command(cli("sample " + quote(tmp / "hub") + sample + " --pin-memory"));
  ASSERT_EQ(pinned.status, 0) << pinned.out;
  EXPECT_EQ(pinned.out, from_hub.out);

  // Nothing was written into the input directory; the cache went to MOUSE_DATA_CACHE.
  for (const auto& e : fs::recursive_directory_iterator(tmp / "hub")) {
    EXPECT_TRUE(e.path().extension() == ".parquet" || e.path().filename() == "README.md" ||
                e.path().filename() == "data")
        << e.path();
  }
  EXPECT_TRUE(fs::is_directory(tmp / "user-cache/hub"));

  // --cache-dir puts the cache elsewhere; --config picks a README config.
  r = run_command(cli("head " + quote(tmp / "hub") + " -n 1 --config default --cache-dir " +
                      quote(tmp / "mine") + " --json"));
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(fs::is_directory(tmp / "mine"));
}

TEST(CliHubInput, BadHubOptionsAreOneLineErrors) {
  mouse::test::TempDir tmp;
  mouse::test::ScopedEnv cache_env("MOUSE_DATA_CACHE", (tmp / "user-cache").c_str());
  ASSERT_EQ(run_command(cli("generate cartpole " + quote(tmp / "hub") +
                            " --format hub --steps 40"))
                .status,
            0);
  ASSERT_EQ(run_command(cli("generate cartpole " + quote(tmp / "disk") + " --steps 40")).status,
            0);
  expect_error("head " + quote(tmp / "hub") + " --config nope", "available configs: default");
  expect_error("inspect " + quote(tmp / "disk") + " --config default",
               "--config applies to Hub layouts only");
  expect_error("sample " + quote(tmp / "disk") + " --cache-dir " + quote(tmp / "c"),
               "--cache-dir applies to Hub layouts only");
  expect_error("encode " + quote(tmp / "missing") + " --indices=0", "no such file or directory");
  expect_error("encode " + quote(tmp / "disk") + " --indices=0 --obs-image-dtype float32",
               "--obs-image-dtype: expected int64 or uint8, got 'float32'");
  fs::create_directories(tmp / "empty");
  expect_error("inspect " + quote(tmp / "empty"), "not a dataset");
  // A corrupt shard is named.
  for (const auto& e : fs::directory_iterator(tmp / "hub/data")) {
    std::ofstream(e.path(), std::ios::binary | std::ios::trunc) << "PAR1 not really PAR1";
  }
  expect_error("head " + quote(tmp / "hub"), "train-00000-of-00001.parquet");
}

}  // namespace
