// Drives `mouse-data sample`, `bench` and `demo`: windows and their values, augmentation in the
// workers, reproducibility, JSON shapes and error exits.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
using mouse::test::run_command;
using nlohmann::json;

std::string cli(const std::string& args) { return std::string(MOUSE_CLI_PATH) + " " + args; }
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

// A generated FrozenLake DatasetDict with splits train_a, train_b, test, made once.
class CliSample : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tmp_ = new mouse::test::TempDir();
    auto r = run_command(cli("generate frozenlake-4x4 " + quote(dict()) +
                             " --splits train_a=300,train_b=200,test=100 --seed 3 --policy epsilon-greedy"));
    ASSERT_EQ(r.status, 0) << r.out;
  }
  static void TearDownTestSuite() {
    delete tmp_;
    tmp_ = nullptr;
  }
  static fs::path dict() { return *tmp_ / "lake"; }

  // Runs `args`; expects success and returns the JSON lines.
  static std::vector<json> run_json(const std::string& args) {
    auto r = run_command(cli(args));
    EXPECT_EQ(r.status, 0) << args << "\n" << r.out;
    return json_lines(r.out);
  }
  // Expects a non-zero exit with a one-line error naming `needle`.
  static void expect_error(const std::string& args, const std::string& needle) {
    auto r = run_command(cli(args) + " 2>&1");
    EXPECT_NE(r.status, 0) << args;
    EXPECT_NE(r.out.find(needle), std::string::npos) << args << "\n" << r.out;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << args << "\n" << r.out;
  }

  static mouse::test::TempDir* tmp_;
};
mouse::test::TempDir* CliSample::tmp_ = nullptr;

TEST_F(CliSample, SequentialWindowsHoldTheEncodedRows) {
  auto batches = run_json("sample " + quote(dict()) +
                          " --split train_a -S 4 -B 3 --sampling sequential --batches 2 --workers 2"
                          " --max-action-dim 4 --max-obs-discrete-dim 1 --json");
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[0]["starts"], json::parse("[0, 4, 8]"));
  EXPECT_EQ(batches[1]["starts"], json::parse("[12, 16, 20]"));
  EXPECT_EQ(batches[0]["batch_size"], json::parse("[3, 4]"));
  EXPECT_EQ(batches[0]["tensors"]["q_star"]["shape"], json::parse("[3, 4, 4]"));
  auto encoded = run_json("encode " + quote(dict()) + " --split train_a --indices " +
                          "0,1,2,3,4,5,6,7,8,9,10,11 --max-action-dim 4 --max-obs-discrete-dim 1 --json");
  ASSERT_EQ(encoded.size(), 1u);
  for (const char* key : {"action", "reward", "done", "time", "obs_discrete", "q_star"}) {
    SCOPED_TRACE(key);
    EXPECT_EQ(batches[0]["tensors"][key]["values"], encoded[0]["tensors"][key]["values"]);
    EXPECT_EQ(batches[0]["tensors"][key]["dtype"], encoded[0]["tensors"][key]["dtype"]);
  }
}

TEST_F(CliSample, SplitGlobsLoadMatchingSplitsInOrder) {
  // train_a (300) then train_b (200): 500 rows, so the last window of S=100 starts at 400.
  auto batches = run_json("sample " + quote(dict()) +
                          " --split 'train_*' -S 100 -B 1 --sampling last --batches 1 --json");
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_EQ(batches[0]["starts"], json::parse("[400]"));
}

TEST_F(CliSample, SameSeedSameBatchesWhateverTheWorkers) {
  const std::string base = "sample " + quote(dict()) + " -S 8 -B 4 --sampling random --seed 11 --batches 5 --json";
  auto sync = run_json(base + " --workers 0");
  auto threaded = run_json(base + " --workers 3");
  ASSERT_EQ(sync.size(), 5u);
  EXPECT_EQ(sync, threaded);
  auto other = run_json("sample " + quote(dict()) + " -S 8 -B 4 --sampling random --seed 12 --batches 5 --json");
  EXPECT_NE(sync, other);
  // --populate maps the sources in at load: the batches are the same.
  EXPECT_EQ(run_json(base + " --workers 2 --populate"), sync);
  for (const auto& b : sync) {
    for (const auto& s : b["starts"]) {
      EXPECT_GE(s.get<int64_t>(), 0);
      EXPECT_LE(s.get<int64_t>(), 600 - 8);
    }
  }
}

TEST_F(CliSample, AugmentKeepsTheWindowsAndChangesTheValues) {
  mouse::test::TempDir tmp;
  std::ofstream(tmp / "aug.yaml") << "permute_action: both\nmask_prob: {action: 0.5}\n"
                                     "scale_reward: {low: 2.0, high: 2.0}\n";
  const std::string base = "sample " + quote(dict()) +
                           " -S 16 -B 4 --sampling random --seed 5 --batches 3 --max-action-dim 4 --json";
  auto plain = run_json(base);
  auto augmented = run_json(base + " --augment " + quote(tmp / "aug.yaml"));
  auto again = run_json(base + " --augment " + quote(tmp / "aug.yaml") + " --workers 2");
  ASSERT_EQ(plain.size(), 3u);
  ASSERT_EQ(augmented.size(), 3u);
  EXPECT_EQ(augmented, again);
  bool actions_differ = false;
  for (size_t b = 0; b < plain.size(); ++b) {
    EXPECT_EQ(plain[b]["starts"], augmented[b]["starts"]);
    const auto& pa = plain[b]["tensors"];
    const auto& au = augmented[b]["tensors"];
    actions_differ = actions_differ || pa["action"]["values"] != au["action"]["values"];
    // A fixed reward scale of 2 doubles every reward exactly.
    for (size_t i = 0; i < pa["reward"]["values"].size(); ++i) {
      EXPECT_EQ(au["reward"]["values"][i].get<double>(), 2 * pa["reward"]["values"][i].get<double>());
    }
    EXPECT_EQ(pa["done"], au["done"]);
  }
  EXPECT_TRUE(actions_differ);
}

TEST_F(CliSample, EpisodeBoundariesAddAMask) {
  auto batches = run_json("sample " + quote(dict()) +
                          " -S 32 -B 2 --boundaries episode --batches 1 --json --max-action-dim 4");
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_EQ(batches[0]["tensors"]["mask"]["dtype"], "bool");
  EXPECT_EQ(batches[0]["tensors"]["mask"]["shape"], json::parse("[2, 32]"));
}

TEST_F(CliSample, ErrorsAreOneLine) {
  const std::string p = quote(dict());
  expect_error("sample " + p + " -S 8 -B 2 --sampling shuffled", "shuffled");
  expect_error("sample " + p + " -S 100000 -B 2", "100000");
  expect_error("sample " + p + " -S 8 -B 0", "batch_size");
  expect_error("sample " + p + " --split nope -S 8 -B 2", "train_a");
  expect_error("sample " + p + " -S 8 -B 2 --batches -1", "--batches");
  mouse::test::TempDir tmp;
  std::ofstream(tmp / "bad.yaml") << "permute_action: both\nscale_rewards: {low: 1, high: 2}\n";
  expect_error("sample " + p + " -S 8 -B 2 --max-action-dim 4 --augment " + quote(tmp / "bad.yaml"),
               "scale_rewards");
  expect_error("sample " + p + " -S 8 -B 2 --augment " + quote(tmp / "missing.yaml"), "missing.yaml");
  expect_error("sample /nonexistent/mouse-data -S 8 -B 2", "/nonexistent/mouse-data");
}

TEST_F(CliSample, BenchReportsThroughputAndLatency) {
  auto out = run_json("bench " + quote(dict()) + " -S 16 -B 8 --workers 2 --seconds 0.3 --json");
  ASSERT_EQ(out.size(), 1u);
  const json& r = out[0];
  EXPECT_EQ(r["rows"], 600);
  EXPECT_EQ(r["workers"], 2);
  EXPECT_GT(r["batches"].get<int64_t>(), 0);
  EXPECT_GT(r["steps_per_s"].get<double>(), 0);
  EXPECT_LE(r["latency_ms"]["p50"].get<double>(), r["latency_ms"]["p99"].get<double>());
  EXPECT_GT(r["peak_rss_mb"].get<double>(), 0);
  auto bad = run_command(cli("bench " + quote(dict()) + " --seconds 0 2>&1"));
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.out.find("--seconds"), std::string::npos) << bad.out;
}

TEST(CliDemo, RunsUnderThirtySecondsAndShowsEveryPart) {
  const auto start = std::chrono::steady_clock::now();
  auto r = run_command(cli("demo --seconds 0.5"));
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_LT(secs, 30.0);
  for (const char* part : {"split train", "One window", "Frame of step", "@", "batches/s", "obs_image"}) {
    EXPECT_NE(r.out.find(part), std::string::npos) << part << "\n" << r.out;
  }
}

}  // namespace
