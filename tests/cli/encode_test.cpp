// Drives `mouse-data encode`: the exact JSON format, agreement with DatasetStore::get, DatasetDict
// split handling, and error exits.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "format/arrow/builders.hpp"
#include "mouse/dataset.hpp"
#include "mouse/dataset_store.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using mouse::test::run_command;
using nlohmann::json;

namespace {

std::string cli() { return MOUSE_CLI_PATH; }

std::string quote(const fs::path& p) { return "'" + p.string() + "'"; }

// 4 steps: reward has a NaN and an infinity (outside the value contract: the commands below load
// them with --no-validate, to show how they print), q_star lists of varying length.
mouse::Dataset steps(int64_t base) {
  using namespace mouse::arrow;
  std::vector<int64_t> q_offsets{0, 1, 3, 3, 5};
  auto batch = make_batch(
      {"action", "reward", "done", "episode_step", "observation", "metadata_q_star", "note"},
      {make_primitive<int64_t>(std::vector<int64_t>{base, base + 1, base + 2, base + 3}),
       make_primitive<float>(std::vector<float>{0.5f, NAN, INFINITY, -2.0f}),
       make_primitive<int64_t>(std::vector<int64_t>{0, 0, 2, 1}),
       make_primitive<int64_t>(std::vector<int64_t>{0, 1, 2, 3}),
       make_fixed_size_list(make_primitive<float>(std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8}), 2),
       make_list(q_offsets, make_primitive<float>(std::vector<float>{9, 1, 2, 3, 4})),
       make_utf8({std::string("a"), std::string("b"), std::nullopt, std::string("d")})});
  return mouse::Dataset::from_batches(batch.schema, {batch});
}

class CliEncode : public ::testing::Test {
 protected:
  void SetUp() override {
    steps(0).save_to_disk(dir_ / "ds");
    mouse::DatasetDict dict;
    dict.insert("train_a", steps(0));
    dict.insert("eval", steps(100));
    dict.save_to_disk(dir_ / "dict");
  }
  mouse::test::TempDir dir_;
};

TEST_F(CliEncode, JsonFormatIsExact) {
  auto r = run_command(cli() + " encode --no-validate " + quote(dir_ / "ds") +
                       " --indices=0,2,-3 --max-action-dim 3 --max-obs-continuous-dim 3 --json");
  ASSERT_EQ(r.status, 0) << r.out;
  json doc = json::parse(r.out);
  EXPECT_EQ(doc["batch_size"], (json{3}));
  std::vector<std::string> keys;
  for (auto it = doc["tensors"].begin(); it != doc["tensors"].end(); ++it) keys.push_back(it.key());
  // nlohmann sorts object keys; the set is what matters here (order is checked on the text).
  EXPECT_EQ(keys, (std::vector<std::string>{"action", "done", "obs_continuous", "q_star", "reward", "time"}));
  EXPECT_LT(r.out.find("\"action\""), r.out.find("\"reward\""));
  EXPECT_LT(r.out.find("\"time\""), r.out.find("\"q_star\""));
  const json& t = doc["tensors"];
  EXPECT_EQ(t["action"], (json{{"dtype", "int64"}, {"shape", {3}}, {"values", {0, 2, 1}}}));
  EXPECT_EQ(t["reward"]["dtype"], "float32");
  EXPECT_EQ(t["reward"]["values"], (json{0.5, "inf", "nan"}));
  EXPECT_EQ(t["done"]["values"], (json{0, 2, 0}));
  EXPECT_EQ(t["time"]["values"], (json{0, 2, 1}));
  EXPECT_EQ(t["q_star"]["shape"], (json{3, 3}));
  EXPECT_EQ(t["q_star"]["values"], (json{9, "-inf", "-inf", "-inf", "-inf", "-inf", 1, 2, "-inf"}));
  EXPECT_EQ(t["obs_continuous"]["dtype"], "float64");
  EXPECT_EQ(t["obs_continuous"]["shape"], (json{3, 3}));
  EXPECT_EQ(t["obs_continuous"]["values"], (json{1, 2, 0, 5, 6, 0, 3, 4, 0}));
  EXPECT_EQ(r.out.back(), '\n');
  EXPECT_EQ(r.out.find('\n'), r.out.size() - 1) << "one JSON object on one line";
}

TEST_F(CliEncode, AgreesWithTheLibrary) {
  std::vector<int64_t> idx{3, 0, -1, 1};
  auto r = run_command(cli() + " encode --no-validate " + quote(dir_ / "ds") + " --indices=3,0,-1,1 --json");
  ASSERT_EQ(r.status, 0) << r.out;
  json doc = json::parse(r.out);
  mouse::StoreConfig config;
  config.validate = false;
  mouse::DatasetStore store(config);
  store.from_dataset(mouse::Dataset::load_from_disk(dir_ / "ds"));
  mouse::TensorDict td = store.get(idx);
  ASSERT_EQ(doc["tensors"].size(), td.size());
  for (const auto& [name, tensor] : td) {
    const json& t = doc["tensors"][name];
    EXPECT_EQ(t["dtype"], std::string(mouse::dtype_name(tensor.dtype()))) << name;
    EXPECT_EQ(t["shape"], json(tensor.shape())) << name;
    ASSERT_EQ(static_cast<int64_t>(t["values"].size()), tensor.numel()) << name;
    for (int64_t i = 0; i < tensor.numel(); ++i) {
      const json& v = t["values"][static_cast<size_t>(i)];
      if (tensor.dtype() == mouse::DType::kInt64) {
        EXPECT_EQ(v.get<int64_t>(), tensor.data_as<int64_t>()[i]) << name << "[" << i << "]";
      } else {
        const float f = tensor.data_as<float>()[i];
        if (std::isnan(f)) {
          EXPECT_EQ(v, "nan");
        } else if (std::isinf(f)) {
          EXPECT_EQ(v, f > 0 ? "inf" : "-inf");
        } else {
          EXPECT_EQ(v.get<float>(), f) << name << "[" << i << "]";
        }
      }
    }
  }
  EXPECT_EQ(doc["tensors"]["q_star"]["shape"], (json{4, 1000}));  // default max_action_dim
}

TEST_F(CliEncode, DatasetDictWithoutSplitLoadsEverySplitInOrder) {
  auto all = run_command(cli() + " encode --no-validate " + quote(dir_ / "dict") + " --indices=0,4,-1 --json");
  ASSERT_EQ(all.status, 0) << all.out;
  EXPECT_EQ(json::parse(all.out)["tensors"]["action"]["values"], (json{0, 100, 103}));
  auto eval = run_command(cli() + " encode --no-validate " + quote(dir_ / "dict") + " --split eval --indices=0 --json");
  ASSERT_EQ(eval.status, 0) << eval.out;
  EXPECT_EQ(json::parse(eval.out)["tensors"]["action"]["values"], (json{100}));
}

TEST_F(CliEncode, TextFormWithoutJson) {
  auto r = run_command(cli() + " encode --no-validate " + quote(dir_ / "ds") + " --indices=1 --max-action-dim 1");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("action int64 [1]: 1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("reward float32 [1]: \"nan\""), std::string::npos) << r.out;
}

TEST_F(CliEncode, ErrorsExitNonZeroWithOneLine) {
  auto run = [&](const std::string& args) { return run_command(cli() + " encode --no-validate " + args + " 2>&1"); };
  auto bad = run(quote(dir_ / "ds") + " --indices=1,x --json");
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.out.find("--indices: expected comma-separated integers"), std::string::npos) << bad.out;
  auto range = run(quote(dir_ / "ds") + " --indices=4 --json");
  EXPECT_NE(range.status, 0);
  EXPECT_NE(range.out.find("index 4 is out of range for a store of 4 rows"), std::string::npos) << range.out;
  auto split = run(quote(dir_ / "dict") + " --split test --indices=0 --json");
  EXPECT_NE(split.status, 0);
  EXPECT_NE(split.out.find("available splits: [\"train_a\", \"eval\"]"), std::string::npos) << split.out;
  auto dim = run(quote(dir_ / "ds") + " --indices=0 --max-action-dim 0");
  EXPECT_NE(dim.status, 0);
  EXPECT_NE(dim.out.find("max_action_dim must be > 0"), std::string::npos) << dim.out;
  auto missing = run(quote(dir_ / "ds") + " --json");
  EXPECT_NE(missing.status, 0);
  EXPECT_NE(missing.out.find("--indices"), std::string::npos) << missing.out;
}

TEST_F(CliEncode, ValuesOutsideTheContractAreRefusedWithoutNoValidate) {
  auto r = run_command(std::string(MOUSE_CLI_PATH) + " encode " + quote(dir_ / "ds") +
                       " --indices=0 --json 2>&1");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("column \"reward\" has the value nan at row 1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--no-validate"), std::string::npos) << r.out;
  auto sample = run_command(std::string(MOUSE_CLI_PATH) + " sample " + quote(dir_ / "dict") +
                            " --sequence-length 2 --batch-size 1 2>&1");
  EXPECT_NE(sample.status, 0);
  EXPECT_NE(sample.out.find("split \"train_a\""), std::string::npos) << sample.out;
}

TEST(CliEncodeReal, LeRobotActionVectorIsRejectedNamingColumnAndDataset) {
  MOUSE_REQUIRE_TESTDATA();
  auto r = run_command(cli() + " encode --no-validate " + quote(mouse::test::testdata_dir() / "hf/lerobot-pusht/train") +
                       " --indices=0 --json 2>&1");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("column \"action\" has type fixed_size_list<item: float>[2]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("lerobot-pusht/train"), std::string::npos) << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
}

}  // namespace
