// generate_to_disk / generate_splits_to_disk: byte-identical to the in-memory generate() +
// save_to_disk for every layout decision (one shard, shards decided by size in a second pass,
// a fixed shard count, short record batches), no batch kept alive, and failures leave nothing.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <sstream>
#include <fstream>

#include "hf/hf_test_util.hpp"
#include "mouse/envs.hpp"

namespace mouse::envs {
namespace {

namespace fs = std::filesystem;

// Every file under `dir` (relative path -> bytes).
std::map<std::string, std::string> tree(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::ifstream in(e.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    out[fs::relative(e.path(), dir).string()] = ss.str();
  }
  return out;
}

// File names and sizes, for a readable failure message.
std::string listing(const std::map<std::string, std::string>& files) {
  std::string out;
  for (const auto& [name, bytes] : files) out += name + " " + std::to_string(bytes.size()) + "\n";
  return out;
}

void expect_same_tree(const fs::path& a, const fs::path& b) {
  const auto ta = tree(a);
  const auto tb = tree(b);
  ASSERT_EQ(listing(ta), listing(tb));
  for (const auto& [name, bytes] : ta) EXPECT_TRUE(bytes == tb.at(name)) << name << " differs";
}

// Entries of `dir` (temporary directories included).
std::vector<std::string> entries(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

struct Case {
  std::string name;
  GenerateOptions options;
  SaveOptions save;
};

std::vector<Case> cases() {
  std::vector<Case> out;
  auto add = [&](std::string name, Env env, int64_t steps, bool images, SaveOptions save = {}) {
    GenerateOptions o;
    o.env = env;
    o.steps = steps;
    o.images = images;
    o.seed = 11;
    o.policy = Policy::kEpsilonGreedy;
    out.push_back({std::move(name), o, save});
  };
  SaveOptions small_shards;
  small_shards.max_shard_bytes = 150'000;  // several shards: the second pass
  SaveOptions three;
  three.num_shards = 3;
  SaveOptions short_batches;
  short_batches.max_batch_rows = 333;
  short_batches.max_shard_bytes = 100'000;
  SaveOptions one_row_shards;
  one_row_shards.num_shards = 50;
  add("cartpole", Env::kCartPole, 2500, false);
  add("cartpole_images", Env::kCartPole, 1300, true);
  add("lake_images", Env::kFrozenLake4x4, 3000, true);
  add("lake8_images_small_shards", Env::kFrozenLake8x8, 4321, true, small_shards);
  add("cartpole_small_shards", Env::kCartPole, 7001, false, small_shards);
  add("lake_three_shards", Env::kFrozenLake4x4, 2999, false, three);
  add("lake_images_short_batches", Env::kFrozenLake4x4, 2750, true, short_batches);
  add("cartpole_more_shards_than_rows", Env::kCartPole, 7, false, one_row_shards);
  add("zero_steps", Env::kFrozenLake4x4, 0, true);
  add("zero_steps_small_shards", Env::kCartPole, 0, false, small_shards);
  add("one_step", Env::kCartPole, 1, true, small_shards);
  return out;
}

TEST(GenerateToDisk, WritesTheSameBytesAsTheInMemoryPath) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    test::TempDir tmp;
    generate(c.options).save_to_disk(tmp / "memory", c.save);
    const GenerateSummary s = generate_to_disk(c.options, tmp / "stream", c.save);
    expect_same_tree(tmp / "memory", tmp / "stream");
    EXPECT_EQ(s.name, "train");
    EXPECT_EQ(s.num_rows, c.options.steps);
    int64_t episodes = 0;
    for (const auto& row : test::dataset_rows(Dataset::load_from_disk(tmp / "stream"))) {
      episodes += row["episode_step"] == 0 ? 1 : 0;
    }
    EXPECT_EQ(s.episodes, episodes);
    EXPECT_EQ(entries(tmp.path()), (std::vector<std::string>{"memory", "stream"}));
  }
}

TEST(GenerateToDisk, SmallShardsReallyTakeSeveralShards) {
  GenerateOptions o;
  o.env = Env::kFrozenLake4x4;
  o.images = true;
  o.steps = 4000;
  SaveOptions save;
  save.max_shard_bytes = 150'000;
  test::TempDir tmp;
  generate_to_disk(o, tmp / "out", save);
  int64_t shards = 0;
  for (const auto& [name, bytes] : tree(tmp / "out")) shards += name.starts_with("data-") ? 1 : 0;
  EXPECT_GE(shards, 3) << listing(tree(tmp / "out"));
  EXPECT_EQ(Dataset::load_from_disk(tmp / "out").num_rows(), 4000);
}

TEST(GenerateSplitsToDisk, WritesTheSameBytesAsTheInMemoryPath) {
  for (const bool images : {false, true}) {
    for (const Env env : {Env::kCartPole, Env::kFrozenLake8x8}) {
      for (const int64_t max_shard_bytes : {int64_t{500'000'000}, int64_t{120'000}}) {
        SCOPED_TRACE(fmt::format("{} images={} max_shard_bytes={}", env_name(env), images, max_shard_bytes));
        GenerateOptions o;
        o.env = env;
        o.images = images;
        o.seed = 3;
        SaveOptions save;
        save.max_shard_bytes = max_shard_bytes;
        const auto splits = parse_splits("train=2500,test=1300,val=0,tiny=1");
        test::TempDir tmp;
        generate_splits(o, splits).save_to_disk(tmp / "memory", save);
        const auto summaries = generate_splits_to_disk(o, splits, tmp / "stream", save);
        expect_same_tree(tmp / "memory", tmp / "stream");
        ASSERT_EQ(summaries.size(), 4u);
        EXPECT_EQ(summaries[1].name, "test");
        EXPECT_EQ(summaries[1].num_rows, 1300);
        EXPECT_GE(summaries[1].episodes, 1);
        EXPECT_EQ(summaries[2].episodes, 0);
        EXPECT_EQ(summaries[3].episodes, 1);
      }
    }
  }
}

TEST(GenerateToDisk, ProgressRestartsOnlyForTheSecondPass) {
  GenerateOptions o;
  o.env = Env::kCartPole;
  o.steps = 2500;
  std::vector<int64_t> done;
  o.progress = [&done](int64_t d, int64_t total) {
    EXPECT_EQ(total, 2500);
    done.push_back(d);
  };
  test::TempDir tmp;
  generate_to_disk(o, tmp / "one", {});
  EXPECT_EQ(done, (std::vector<int64_t>{1000, 2000, 2500}));
  done.clear();
  SaveOptions small;
  small.max_shard_bytes = 50'000;
  generate_to_disk(o, tmp / "two", small);
  EXPECT_EQ(done, (std::vector<int64_t>{1000, 2000, 2500, 1000, 2000, 2500}));
}

TEST(GenerateToDiskErrors, BadOptionsWriteNothing) {
  test::TempDir tmp;
  GenerateOptions o;
  o.steps = -1;
  EXPECT_THROW_MSG(generate_to_disk(o, tmp / "out"), InvalidArgument, "steps must be >= 0, got -1");
  o = {};
  o.epsilon = 2;
  EXPECT_THROW_MSG(generate_to_disk(o, tmp / "out"), InvalidArgument, "epsilon must be in [0, 1], got 2");
  o = {};
  SaveOptions save;
  save.max_batch_rows = 0;
  EXPECT_THROW_MSG(generate_to_disk(o, tmp / "out", save), InvalidArgument, "max_batch_rows must be > 0");
  EXPECT_THROW_MSG(generate_splits_to_disk(o, {}, tmp / "out"), InvalidArgument, "no splits given");
  std::vector<SplitSteps> splits{{"train", 10}, {"test", -5}};
  EXPECT_THROW_MSG(generate_splits_to_disk(o, splits, tmp / "out"), InvalidArgument, "steps must be >= 0, got -5");
  splits = {{"train", 10}, {"a/b", 5}};
  EXPECT_THROW_MSG(generate_splits_to_disk(o, splits, tmp / "out"), InvalidArgument, "invalid split name \"a/b\"");
  splits = {{"train", 10}, {"train", 5}};
  EXPECT_THROW_MSG(generate_splits_to_disk(o, splits, tmp / "out"), InvalidArgument, "split \"train\" is given twice");
  EXPECT_TRUE(entries(tmp.path()).empty());
}

TEST(GenerateToDiskErrors, AnUnwritableTargetLeavesNothing) {
  test::TempDir tmp;
  test::write_text(tmp / "file", "not a directory");
  GenerateOptions o;
  o.steps = 5000;
  EXPECT_THROW_MSG(generate_to_disk(o, tmp / "file" / "out"), IoError, "file");
  EXPECT_THROW_MSG(generate_to_disk(o, tmp / "file"), IoError, "exists and is not a directory");
  EXPECT_EQ(entries(tmp.path()), (std::vector<std::string>{"file"}));
  EXPECT_EQ(test::read_text(tmp / "file"), "not a directory");
}

TEST(GenerateToDiskErrors, AFailedOverwriteKeepsTheOldDataset) {
  test::TempDir tmp;
  GenerateOptions o;
  o.steps = 300;
  generate_to_disk(o, tmp / "out");
  const auto before = tree(tmp / "out");
  o.epsilon = -1;
  EXPECT_THROW(generate_to_disk(o, tmp / "out"), InvalidArgument);
  EXPECT_TRUE(tree(tmp / "out") == before);
  EXPECT_EQ(entries(tmp.path()), (std::vector<std::string>{"out"}));
}

}  // namespace
}  // namespace mouse::envs
