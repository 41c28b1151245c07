// Drives the mouse-data binary: output formats and error exits.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace fs = std::filesystem;
using mouse::test::run_command;
using mouse::test::testdata_dir;
using nlohmann::json;

namespace {

std::string cli() { return MOUSE_CLI_PATH; }

std::string quote(const fs::path& p) { return "'" + p.string() + "'"; }

std::vector<json> json_lines(const std::string& out) {
  std::vector<json> rows;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) rows.push_back(json::parse(line));
  }
  return rows;
}

// Runs a command capturing stderr too; returns status and the combined text.
mouse::test::CommandResult run_with_stderr(const std::string& cmd) { return run_command(cmd + " 2>&1"); }

// Compares our JSON value with the oracle's: numbers as float32 when `as_float32`, "nan"/"inf"
// strings as they are, everything else exactly.
void expect_same_value(const json& ours, const json& theirs, const std::string& where) {
  if (ours.is_number() && theirs.is_number()) {
    EXPECT_EQ(static_cast<float>(ours.get<double>()), static_cast<float>(theirs.get<double>())) << where;
  } else if (ours.is_array() && theirs.is_array()) {
    ASSERT_EQ(ours.size(), theirs.size()) << where;
    for (size_t i = 0; i < ours.size(); ++i) expect_same_value(ours[i], theirs[i], where + "[" + std::to_string(i) + "]");
  } else if (ours.is_object() && theirs.is_object()) {
    ASSERT_EQ(ours.size(), theirs.size()) << where;
    for (auto it = ours.begin(); it != ours.end(); ++it) {
      ASSERT_TRUE(theirs.contains(it.key())) << where << "." << it.key();
      expect_same_value(it.value(), theirs[it.key()], where + "." + it.key());
    }
  } else {
    EXPECT_EQ(ours, theirs) << where;
  }
}

}  // namespace

TEST(CliInspect, JsonDescribesEverySplitOfADatasetDict) {
  MOUSE_REQUIRE_TESTDATA();
  auto r = run_command(cli() + " inspect " + quote(testdata_dir() / "hf/spiral-math-eval") + " --json");
  ASSERT_EQ(r.status, 0) << r.out;
  json doc = json::parse(r.out);
  EXPECT_EQ(doc["layout"], "DatasetDict");
  std::vector<std::string> names;
  std::vector<int64_t> rows;
  for (const auto& s : doc["splits"]) {
    names.push_back(s["name"]);
    rows.push_back(s["num_rows"]);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"aime", "amc", "math", "minerva", "olympiad_bench"}));
  EXPECT_EQ(rows, (std::vector<int64_t>{30, 83, 500, 272, 675}));
  const auto& amc = doc["splits"][1];
  EXPECT_EQ(amc["columns"][1]["name"], "answer");
  EXPECT_EQ(amc["columns"][1]["arrow_type"], "double");
  EXPECT_EQ(amc["data_files"][0]["filename"], "data-00000-of-00001.arrow");
  EXPECT_EQ(amc["data_files"][0]["bytes"], 26576);
}

TEST(CliInspect, TextNamesFeaturesAndFiles) {
  MOUSE_REQUIRE_TESTDATA();
  auto r = run_command(cli() + " inspect " + quote(testdata_dir() / "hf/lerobot-pusht_image/train"));
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("161 rows"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("observation.image"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Image"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("data-00000-of-00001.arrow (197792 bytes)"), std::string::npos) << r.out;
}

TEST(CliHead, JsonRowsMatchTheApacheArrowOracle) {
  MOUSE_REQUIRE_TESTDATA();
  MOUSE_REQUIRE_ORACLE();
  for (const char* dir : {"hf/lerobot-pusht/train", "hf/lerobot-pusht_image/train",
                          "hf/lerobot-aloha_sim_insertion_human/train"}) {
    fs::path ds = testdata_dir() / dir;
    auto ours = run_command(cli() + " head " + quote(ds) + " -n 4 --offset 7 --json");
    ASSERT_EQ(ours.status, 0) << dir;
    auto theirs = run_command("node " + quote(mouse::test::oracle_dir() / "read_arrow.mjs") + " " +
                              quote(ds / "data-00000-of-00001.arrow"));
    ASSERT_EQ(theirs.status, 0) << dir;
    auto a = json_lines(ours.out);
    auto b = json_lines(theirs.out);
    ASSERT_EQ(a.size(), 4u) << dir;
    ASSERT_GE(b.size(), 11u) << dir;
    for (size_t i = 0; i < a.size(); ++i) expect_same_value(a[i], b[7 + i], std::string(dir) + " row " + std::to_string(7 + i));
  }
}

TEST(CliHead, DatasetDictWithoutSplitRunsAcrossSplitsInOrder) {
  MOUSE_REQUIRE_TESTDATA();
  fs::path dict = testdata_dir() / "hf/spiral-math-eval";
  auto all = json_lines(run_command(cli() + " head " + quote(dict) + " -n 3 --offset 29 --json").out);
  ASSERT_EQ(all.size(), 3u);
  auto aime = json_lines(run_command(cli() + " head " + quote(dict) + " --split aime -n 1 --offset 29 --json").out);
  auto amc = json_lines(run_command(cli() + " head " + quote(dict) + " --split amc -n 2 --json").out);
  ASSERT_EQ(aime.size(), 1u);
  ASSERT_EQ(amc.size(), 2u);
  EXPECT_EQ(all[0], aime[0]);
  EXPECT_EQ(all[1], amc[0]);
  EXPECT_EQ(all[2], amc[1]);
  EXPECT_TRUE(amc[0]["answer"].is_number());
}

TEST(CliHead, PastTheEndPrintsNothing) {
  MOUSE_REQUIRE_TESTDATA();
  auto r = run_command(cli() + " head " + quote(testdata_dir() / "hf/lerobot-xarm_lift_medium/train") +
                       " --offset 25 --json");
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, "");
}

TEST(CliErrors, MissingPathIsOneLineErrorAndNonZeroExit) {
  auto r = run_with_stderr(cli() + " inspect /nonexistent/mouse-dataset");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("mouse-data: error:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("/nonexistent/mouse-dataset"), std::string::npos) << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
}

TEST(CliErrors, UnknownSplitListsAvailableSplits) {
  MOUSE_REQUIRE_TESTDATA();
  auto r = run_with_stderr(cli() + " head " + quote(testdata_dir() / "hf/spiral-math-eval") + " --split nope");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("nope"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("olympiad_bench"), std::string::npos) << r.out;
}

TEST(CliErrors, TruncatedShardNamesTheFile) {
  MOUSE_REQUIRE_TESTDATA();
  mouse::test::TempDir tmp;
  fs::path dst = tmp / "pusht";
  fs::copy(testdata_dir() / "hf/lerobot-pusht/train", dst, fs::copy_options::recursive);
  fs::path shard = dst / "data-00000-of-00001.arrow";
  fs::permissions(shard, fs::perms::owner_write, fs::perm_options::add);
  fs::resize_file(shard, 5000);
  // stderr to the pipe, stdout (the rows before the damage) discarded.
  auto r = run_command(cli() + " head " + quote(dst) + " -n 200 --json 2>&1 >/dev/null");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("data-00000-of-00001.arrow"), std::string::npos) << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
}

TEST(CliErrors, NegativeCountIsRejected) {
  MOUSE_REQUIRE_TESTDATA();
  auto r = run_with_stderr(cli() + " head " + quote(testdata_dir() / "hf/lerobot-pusht/train") + " -n -3");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("-n"), std::string::npos) << r.out;
}

TEST(CliErrors, NoSubcommandShowsUsage) {
  auto r = run_with_stderr(cli());
  EXPECT_NE(r.status, 0);
}
