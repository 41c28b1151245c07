// Drives `mouse-data generate`: layouts, summaries, determinism and error exits.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "mouse/dataset.hpp"
#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
using mouse::test::run_command;
using nlohmann::json;

std::string generate_cmd(const std::string& args) { return std::string(MOUSE_CLI_PATH) + " generate " + args; }

std::string quote(const fs::path& p) { return "'" + p.string() + "'"; }

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs a command with stderr folded into the captured output.
mouse::test::CommandResult run_with_stderr(const std::string& cmd) { return run_command(cmd + " 2>&1"); }

// Expects a one-line error naming `needle` and a non-zero exit.
void expect_error(const std::string& args, const std::string& needle) {
  auto r = run_with_stderr(generate_cmd(args));
  EXPECT_NE(r.status, 0) << args;
  EXPECT_NE(r.out.find(needle), std::string::npos) << args << "\n" << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << args << "\n" << r.out;
}

TEST(CliGenerate, WritesADatasetThatLoadsBack) {
  mouse::test::TempDir tmp;
  auto r = run_command(generate_cmd("frozenlake-4x4 " + quote(tmp / "lake") + " --steps 1500 --seed 3 --images"));
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("1500 rows"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("episodes"), std::string::npos) << r.out;
  const mouse::Dataset ds = mouse::Dataset::load_from_disk(tmp / "lake");
  EXPECT_EQ(ds.num_rows(), 1500);
  EXPECT_EQ(ds.column_names(),
            (std::vector<std::string>{"action", "reward", "done", "xformed_reward", "episode_step",
                                      "observation_discrete", "metadata_q_star", "observation_image"}));
  EXPECT_EQ(ds.features().type_of("observation_image"), "Image()");
  auto info = json::parse(read_bytes(tmp / "lake" / "dataset_info.json"));
  EXPECT_EQ(info["features"]["observation_image"], json::parse(R"({"_type": "Image"})"));
}

TEST(CliGenerate, SplitsWriteADatasetDictAndJsonSummary) {
  mouse::test::TempDir tmp;
  auto r = run_command(generate_cmd("cartpole " + quote(tmp / "cp") +
                                    " --splits train=700,test=300 --policy epsilon-greedy --epsilon 0.2 --json"));
  ASSERT_EQ(r.status, 0) << r.out;
  json doc = json::parse(r.out);
  EXPECT_EQ(doc["layout"], "DatasetDict");
  EXPECT_EQ(doc["env"], "cartpole");
  EXPECT_EQ(doc["policy"], "epsilon-greedy");
  ASSERT_EQ(doc["splits"].size(), 2u);
  EXPECT_EQ(doc["splits"][0]["name"], "train");
  EXPECT_EQ(doc["splits"][0]["num_rows"], 700);
  EXPECT_EQ(doc["splits"][1]["num_rows"], 300);
  EXPECT_GE(doc["splits"][1]["episodes"].get<int64_t>(), 1);
  EXPECT_EQ(json::parse(read_bytes(tmp / "cp" / "dataset_dict.json")), json::parse(R"({"splits": ["train", "test"]})"));
  const auto dict = mouse::DatasetDict::load_from_disk(tmp / "cp");
  EXPECT_EQ(dict.at("test").num_rows(), 300);
  EXPECT_EQ(dict.at("train").features().type_of("observation"), "Sequence(Value(float32), length=4)");

  auto inspect = run_command(std::string(MOUSE_CLI_PATH) + " inspect " + quote(tmp / "cp") + " --json");
  ASSERT_EQ(inspect.status, 0);
  EXPECT_EQ(json::parse(inspect.out)["layout"], "DatasetDict");
}

TEST(CliGenerate, SameSeedWritesTheSameBytes) {
  mouse::test::TempDir tmp;
  for (const char* name : {"a", "b", "c"}) {
    const std::string seed = std::string(name) == "c" ? "6" : "5";
    auto r = run_command(generate_cmd("frozenlake-8x8 " + quote(tmp / name) +
                                      " --steps 2100 --no-slippery --policy epsilon-greedy --epsilon 0.5 --seed " + seed));
    ASSERT_EQ(r.status, 0) << r.out;
  }
  const std::string a = read_bytes(tmp / "a" / "data-00000-of-00001.arrow");
  EXPECT_FALSE(a.empty());
  EXPECT_EQ(a, read_bytes(tmp / "b" / "data-00000-of-00001.arrow"));
  EXPECT_NE(a, read_bytes(tmp / "c" / "data-00000-of-00001.arrow"));
}

TEST(CliGenerate, HeadShowsTheFirstRowOfAnEpisode) {
  mouse::test::TempDir tmp;
  ASSERT_EQ(run_command(generate_cmd("frozenlake-4x4 " + quote(tmp / "l") + " --steps 5")).status, 0);
  auto r = run_command(std::string(MOUSE_CLI_PATH) + " head " + quote(tmp / "l") + " -n 1 --json");
  ASSERT_EQ(r.status, 0);
  json row = json::parse(r.out);
  EXPECT_EQ(row["action"], 0);
  EXPECT_EQ(row["reward"], 0);
  EXPECT_EQ(row["done"], 0);
  EXPECT_EQ(row["episode_step"], 0);
  EXPECT_EQ(row["observation_discrete"], 0);
  ASSERT_EQ(row["metadata_q_star"].size(), 4u);
}

TEST(CliGenerate, RefusesToReplaceANonEmptyDirectoryUnlessAsked) {
  mouse::test::TempDir tmp;
  fs::create_directories(tmp / "busy");
  std::ofstream(tmp / "busy" / "keep.txt") << "x";
  expect_error("cartpole " + quote(tmp / "busy") + " --steps 10", "--overwrite");
  EXPECT_TRUE(fs::exists(tmp / "busy" / "keep.txt"));
  // --overwrite replaces datasets only, never a directory of other files.
  expect_error("cartpole " + quote(tmp / "busy") + " --steps 10 --overwrite", "holds no dataset");
  EXPECT_TRUE(fs::exists(tmp / "busy" / "keep.txt"));
  ASSERT_EQ(run_command(generate_cmd("cartpole " + quote(tmp / "ds") + " --steps 5")).status, 0);
  auto r = run_command(generate_cmd("cartpole " + quote(tmp / "ds") + " --steps 10 --overwrite"));
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(mouse::Dataset::load_from_disk(tmp / "ds").num_rows(), 10);
  // An existing empty directory is fine.
  fs::create_directories(tmp / "empty");
  EXPECT_EQ(run_command(generate_cmd("cartpole " + quote(tmp / "empty") + " --steps 3")).status, 0);
}

TEST(CliGenerateErrors, BadInputsAreOneLineErrors) {
  mouse::test::TempDir tmp;
  const std::string out = " " + quote(tmp / "o");
  expect_error("mountaincar" + out, "unknown environment 'mountaincar'");
  expect_error("cartpole" + out + " --splits train", "'train' is not NAME=STEPS");
  expect_error("cartpole" + out + " --splits train=5,train=6", "given twice");
  expect_error("cartpole" + out + " --splits train=-5", "must be an integer >= 0");
  expect_error("cartpole" + out + " --steps 10 --splits train=5", "either --steps or --splits");
  expect_error("cartpole" + out + " --policy greedy", "unknown policy 'greedy'");
  expect_error("cartpole" + out + " --epsilon 2", "epsilon must be in [0, 1]");
  expect_error("cartpole" + out + " --steps -4", "steps must be >= 0");
  expect_error("cartpole" + out + " --format csv", "unknown --format 'csv'");
  EXPECT_FALSE(fs::exists(tmp / "o"));
}

TEST(CliGenerateErrors, MissingArgumentsAndHelp) {
  auto r = run_with_stderr(generate_cmd("cartpole"));
  EXPECT_NE(r.status, 0);
  auto help = run_command(generate_cmd("--help"));
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.out.find("--splits"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("--no-slippery"), std::string::npos) << help.out;
}

}  // namespace
