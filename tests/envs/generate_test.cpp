// generate(): columns and types, episode structure and alignment, Q* against an independent
// value iteration, slip statistics in the data, determinism, splits, frames, errors.
#include <gtest/gtest.h>

#include "env_test_util.hpp"
#include "hf/hf_test_util.hpp"
#include "mouse/envs.hpp"

namespace mouse::envs {
namespace {

namespace fs = std::filesystem;
using test::column_values;
using test::list_values;

GenerateOptions lake_options(Env env, int64_t steps, bool slippery = true) {
  GenerateOptions o;
  o.env = env;
  o.steps = steps;
  o.slippery = slippery;
  o.seed = 7;
  return o;
}

std::string types_of(const Dataset& ds) {
  std::string out;
  for (const auto& name : ds.column_names()) {
    out += name + ":" + ds.features().type_of(name) + ":" +
           ds.schema()->fields[static_cast<size_t>(ds.schema()->field_index(name))].type->to_string() + "\n";
  }
  return out;
}

TEST(Generate, FrozenLakeColumnsLoadBackWithTheirTypes) {
  GenerateOptions o = lake_options(Env::kFrozenLake4x4, 2500);
  o.images = true;
  const Dataset ds = generate(o);
  test::TempDir tmp;
  ds.save_to_disk(tmp / "out");
  const Dataset back = Dataset::load_from_disk(tmp / "out");
  EXPECT_EQ(back.num_rows(), 2500);
  EXPECT_EQ(types_of(back),
            "action:Value(int64):int64\n"
            "reward:Value(float32):float\n"
            "done:Value(int64):int64\n"
            "xformed_reward:Value(float32):float\n"
            "episode_step:Value(int64):int64\n"
            "observation_discrete:Value(int64):int64\n"
            "metadata_q_star:Sequence(Value(float32)):list<item: float>\n"
            "observation_image:Image():struct<bytes: binary, path: string>\n");
  EXPECT_EQ(test::dataset_rows(back), test::dataset_rows(ds));
  EXPECT_TRUE(back.features() == generated_features(o));
}

TEST(Generate, CartPoleColumnsLoadBackWithTheirTypes) {
  GenerateOptions o;
  o.env = Env::kCartPole;
  o.steps = 1200;
  const Dataset ds = generate(o);
  test::TempDir tmp;
  ds.save_to_disk(tmp / "out");
  const Dataset back = Dataset::load_from_disk(tmp / "out");
  EXPECT_EQ(types_of(back),
            "action:Value(int64):int64\n"
            "reward:Value(float32):float\n"
            "done:Value(int64):int64\n"
            "xformed_reward:Value(float32):float\n"
            "episode_step:Value(int64):int64\n"
            "observation:Sequence(Value(float32), length=4):fixed_size_list<item: float>[4]\n");
  EXPECT_EQ(test::dataset_rows(back), test::dataset_rows(ds));
}

TEST(Generate, TheApacheArrowOracleReadsWhatWeWrite) {
  MOUSE_REQUIRE_ORACLE();
  for (Env env : {Env::kFrozenLake8x8, Env::kCartPole}) {
    GenerateOptions o = lake_options(env, 1500);
    o.images = true;
    test::TempDir tmp;
    generate(o).save_to_disk(tmp / "out");
    test::expect_matches_oracle(Dataset::load_from_disk(tmp / "out"), std::string(env_name(env)));
  }
}

// Walks the rows checking the alignment contract; returns the number of episodes.
int64_t check_episodes(const Dataset& ds, int64_t time_limit) {
  const auto step = column_values<int64_t>(ds, "episode_step");
  const auto done = column_values<int64_t>(ds, "done");
  const auto action = column_values<int64_t>(ds, "action");
  const auto reward = column_values<float>(ds, "reward");
  const auto xformed = column_values<float>(ds, "xformed_reward");
  int64_t episodes = 0;
  for (size_t i = 0; i < step.size(); ++i) {
    SCOPED_TRACE(testing::Message() << "row " << i);
    const bool first = i == 0 || done[i - 1] != 0;
    if (first) {
      ++episodes;
      EXPECT_EQ(step[i], 0);
      EXPECT_EQ(action[i], 0);
      EXPECT_EQ(reward[i], 0.0f);
      EXPECT_EQ(done[i], 0);
      EXPECT_EQ(xformed[i], 0.0f);
    } else {
      EXPECT_EQ(step[i], step[i - 1] + 1);
      EXPECT_FLOAT_EQ(xformed[i], reward[i] - 0.01f);
      EXPECT_LE(step[i], time_limit);
      if (done[i] == 2) {
        EXPECT_EQ(step[i], time_limit);
      }
      if (step[i] == time_limit) {
        EXPECT_NE(done[i], 0);
      }
    }
  }
  return episodes;
}

TEST(Generate, FrozenLakeEpisodesFollowTheAlignmentContract) {
  const Dataset ds = generate(lake_options(Env::kFrozenLake4x4, 5000));
  EXPECT_GT(check_episodes(ds, 100), 100);
  const auto obs = column_values<int64_t>(ds, "observation_discrete");
  const auto done = column_values<int64_t>(ds, "done");
  const auto reward = column_values<float>(ds, "reward");
  const auto step = column_values<int64_t>(ds, "episode_step");
  const FrozenLake lake = FrozenLake::standard(Env::kFrozenLake4x4, true);
  for (size_t i = 0; i < obs.size(); ++i) {
    if (step[i] == 0) {
      EXPECT_EQ(obs[i], 0) << "episodes start at S";
    }
    // The row holds the observation the step produced: a terminal cell iff done == 1, reward 1
    // iff that cell is the goal.
    EXPECT_EQ(done[i] == 1, lake.is_terminal(static_cast<int>(obs[i]))) << "row " << i;
    EXPECT_EQ(reward[i] == 1.0f, lake.cell(static_cast<int>(obs[i])) == 'G' && step[i] > 0) << "row " << i;
  }
}

TEST(Generate, TruncationAtTheTimeLimitIsDoneTwo) {
  // The optimal slippery 4x4 policy avoids holes by pushing against walls, so it often runs
  // into the 100-step limit. A greedy non-slippery agent reaches the goal in exactly 6 steps.
  GenerateOptions o = lake_options(Env::kFrozenLake4x4, 20000);
  o.policy = Policy::kEpsilonGreedy;
  o.epsilon = 0.0;
  const Dataset ds = generate(o);
  check_episodes(ds, 100);
  const auto done = column_values<int64_t>(ds, "done");
  EXPECT_GT(std::count(done.begin(), done.end(), 2), 10);
  GenerateOptions g = lake_options(Env::kFrozenLake4x4, 70, false);
  g.policy = Policy::kEpsilonGreedy;
  g.epsilon = 0.0;
  const auto gd = column_values<int64_t>(generate(g), "done");
  const auto gr = column_values<float>(generate(g), "reward");
  for (size_t i = 0; i < gd.size(); ++i) {
    EXPECT_EQ(gd[i], i % 7 == 6 ? 1 : 0) << "row " << i;
    EXPECT_EQ(gr[i], i % 7 == 6 ? 1.0f : 0.0f) << "row " << i;
  }
}

TEST(Generate, QStarColumnMatchesAnIndependentValueIteration) {
  for (bool slippery : {true, false}) {
    for (Env env : {Env::kFrozenLake4x4, Env::kFrozenLake8x8}) {
      GenerateOptions o = lake_options(env, 3000, slippery);
      o.gamma = 0.95;
      test::TempDir tmp;
      generate(o).save_to_disk(tmp / "out");
      const Dataset ds = Dataset::load_from_disk(tmp / "out");
      const int n = env == Env::kFrozenLake4x4 ? 4 : 8;
      const auto ref = test::reference_q_star(n, slippery, 0.95);
      const auto obs = column_values<int64_t>(ds, "observation_discrete");
      const auto q = list_values(ds, "metadata_q_star");
      ASSERT_EQ(q.size(), obs.size());
      for (size_t i = 0; i < q.size(); ++i) {
        ASSERT_EQ(q[i].size(), 4u);
        for (size_t a = 0; a < 4; ++a) {
          EXPECT_EQ(q[i][a], static_cast<float>(ref[static_cast<size_t>(obs[i]) * 4 + a]))
              << "row " << i << " action " << a;
        }
      }
    }
  }
}

TEST(Generate, SlipStatisticsInTheDataAreOneThirdEachWay) {
  const int n = 8;
  const Dataset ds = generate(lake_options(Env::kFrozenLake8x8, 200000));
  const auto obs = column_values<int64_t>(ds, "observation_discrete");
  const auto action = column_values<int64_t>(ds, "action");
  const auto step = column_values<int64_t>(ds, "episode_step");
  int64_t intended = 0, left = 0, right = 0, total = 0;
  for (size_t i = 1; i < obs.size(); ++i) {
    if (step[i] == 0) continue;
    const int s = static_cast<int>(obs[i - 1]);
    const int a = static_cast<int>(action[i]);
    const int to_intended = test::lake_move(n, s, a);
    const int to_left = test::lake_move(n, s, (a + 3) % 4);
    const int to_right = test::lake_move(n, s, (a + 1) % 4);
    // Only moves whose three outcomes are different cells tell the directions apart.
    if (to_intended == to_left || to_intended == to_right || to_left == to_right) continue;
    ++total;
    if (obs[i] == to_intended) ++intended;
    else if (obs[i] == to_left) ++left;
    else if (obs[i] == to_right) ++right;
    else ADD_FAILURE() << "row " << i << ": " << s << " -> " << obs[i] << " is no slip of action " << a;
  }
  ASSERT_GT(total, 50000);
  const double t = static_cast<double>(total);
  EXPECT_NEAR(intended / t, 1.0 / 3.0, 0.01);
  EXPECT_NEAR(left / t, 1.0 / 3.0, 0.01);
  EXPECT_NEAR(right / t, 1.0 / 3.0, 0.01);
}

TEST(Generate, RandomPolicyActionsAreUniform) {
  const Dataset ds = generate(lake_options(Env::kFrozenLake4x4, 40000));
  const auto action = column_values<int64_t>(ds, "action");
  const auto step = column_values<int64_t>(ds, "episode_step");
  std::array<int64_t, 4> counts{};
  int64_t total = 0;
  for (size_t i = 0; i < action.size(); ++i) {
    if (step[i] == 0) continue;
    ASSERT_GE(action[i], 0);
    ASSERT_LT(action[i], 4);
    ++counts[static_cast<size_t>(action[i])];
    ++total;
  }
  for (int64_t c : counts) EXPECT_NEAR(c / static_cast<double>(total), 0.25, 0.015);
}

TEST(Generate, EpsilonGreedyOutperformsRandom) {
  auto success = [](Policy p) {
    GenerateOptions o = lake_options(Env::kFrozenLake4x4, 20000);
    o.policy = p;
    o.epsilon = 0.0;
    const Dataset ds = generate(o);
    const auto reward = column_values<float>(ds, "reward");
    const auto done = column_values<int64_t>(ds, "done");
    return std::count(reward.begin(), reward.end(), 1.0f) /
           static_cast<double>(std::count_if(done.begin(), done.end(), [](int64_t d) { return d != 0; }));
  };
  // Optimal slippery 4x4 play succeeds ~74% of the time (within 100 steps); random ~1.5%.
  EXPECT_GT(success(Policy::kEpsilonGreedy), 0.65);
  EXPECT_LT(success(Policy::kRandom), 0.05);
}

TEST(Generate, CartPoleRowsFollowTheDynamics) {
  GenerateOptions o;
  o.env = Env::kCartPole;
  o.steps = 3000;
  o.seed = 3;
  const Dataset ds = generate(o);
  check_episodes(ds, 500);
  const auto obs = list_values(ds, "observation");
  const auto action = column_values<int64_t>(ds, "action");
  const auto step = column_values<int64_t>(ds, "episode_step");
  const auto done = column_values<int64_t>(ds, "done");
  const auto reward = column_values<float>(ds, "reward");
  // Replays each episode from its first row in double precision.
  CartPoleState s;
  for (size_t i = 0; i < obs.size(); ++i) {
    SCOPED_TRACE(testing::Message() << "row " << i);
    if (step[i] == 0) {
      for (float v : obs[i]) EXPECT_LT(std::abs(v), 0.05f);
      s = {obs[i][0], obs[i][1], obs[i][2], obs[i][3]};
      continue;
    }
    s = CartPole::step(s, static_cast<int>(action[i]));
    EXPECT_EQ(reward[i], 1.0f);
    EXPECT_NEAR(obs[i][0], s.x, 1e-5);
    EXPECT_NEAR(obs[i][1], s.x_dot, 1e-5);
    EXPECT_NEAR(obs[i][2], s.theta, 1e-5);
    EXPECT_NEAR(obs[i][3], s.theta_dot, 1e-5);
    EXPECT_EQ(done[i] == 1, CartPole::terminated(s));
  }
}

TEST(Generate, CartPoleHeuristicPolicyReachesTruncation) {
  GenerateOptions o;
  o.env = Env::kCartPole;
  o.steps = 3000;
  o.policy = Policy::kEpsilonGreedy;
  o.epsilon = 0.05;
  const auto done = column_values<int64_t>(generate(o), "done");
  EXPECT_GT(std::count(done.begin(), done.end(), 2), 0);
  o.policy = Policy::kRandom;
  const auto random_done = column_values<int64_t>(generate(o), "done");
  EXPECT_EQ(std::count(random_done.begin(), random_done.end(), 2), 0);
  EXPECT_GT(std::count(random_done.begin(), random_done.end(), 1), 50);
}

TEST(Generate, SameSeedSameRowsOtherSeedOtherRows) {
  for (Env env : {Env::kFrozenLake8x8, Env::kCartPole}) {
    GenerateOptions o = lake_options(env, 2000);
    o.policy = Policy::kEpsilonGreedy;
    o.epsilon = 0.3;
    const auto a = test::dataset_rows(generate(o));
    EXPECT_EQ(a, test::dataset_rows(generate(o)));
    o.seed = 8;
    EXPECT_NE(a, test::dataset_rows(generate(o)));
    o.seed = 7;
    EXPECT_NE(a, test::dataset_rows(generate(o, 1))) << "another stream";
    // A shorter run is a prefix of a longer one.
    o.steps = 1234;
    const auto prefix = test::dataset_rows(generate(o));
    EXPECT_EQ(prefix, std::vector<test::json>(a.begin(), a.begin() + 1234));
  }
}

TEST(Generate, ImagesDecodeToTheRenderedFrames) {
  GenerateOptions o = lake_options(Env::kFrozenLake8x8, 300);
  o.images = true;
  const Dataset ds = generate(o);
  const auto obs = column_values<int64_t>(ds, "observation_discrete");
  const auto bytes = test::image_bytes(ds, "observation_image");
  const FrozenLake lake = FrozenLake::standard(Env::kFrozenLake8x8, true);
  ASSERT_EQ(bytes.size(), obs.size());
  for (size_t i = 0; i < bytes.size(); i += 37) {
    const test::DecodedPng img = test::decode_png(bytes[i]);
    ASSERT_EQ(img.width, 64);
    ASSERT_EQ(img.height, 64);
    ASSERT_EQ(img.channels, 3);
    const int s = static_cast<int>(obs[i]);
    EXPECT_EQ(img.rgb((s % 8) * 8 + 4, (s / 8) * 8 + 4), FrozenLake::kColorAgent) << "row " << i;
    EXPECT_EQ(img.rgb(4, 4), s == 0 ? FrozenLake::kColorAgent : FrozenLake::kColorStart);
    EXPECT_EQ(img.rgb(7 * 8 + 1, 7 * 8 + 1), FrozenLake::kColorGoal);
    EXPECT_EQ(img.rgb(3 * 8 + 1, 2 * 8 + 1), FrozenLake::kColorHole);  // (row 2, col 3)
    EXPECT_EQ(img.pixels, lake.render(s, 8));
  }
  GenerateOptions c;
  c.env = Env::kCartPole;
  c.steps = 20;
  c.images = true;
  const Dataset cp = generate(c);
  const auto frames = test::image_bytes(cp, "observation_image");
  const auto cobs = list_values(cp, "observation");
  ASSERT_EQ(frames.size(), 20u);
  const test::DecodedPng f = test::decode_png(frames[5]);
  EXPECT_EQ(f.width, CartPole::kFrameWidth);
  EXPECT_EQ(f.height, CartPole::kFrameHeight);
  EXPECT_EQ(f.channels, 3);
  // Frames are rendered from the double state; the float32 observation rounds to the same
  // pixels here (small velocities, first steps of an episode).
  EXPECT_EQ(f.pixels, CartPole::render({cobs[5][0], cobs[5][1], cobs[5][2], cobs[5][3]}));
}

TEST(Generate, ZeroStepsIsAnEmptyDatasetWithTheSchema) {
  GenerateOptions o = lake_options(Env::kFrozenLake4x4, 0);
  const Dataset ds = generate(o);
  EXPECT_EQ(ds.num_rows(), 0);
  EXPECT_EQ(ds.num_columns(), 7);
  test::TempDir tmp;
  ds.save_to_disk(tmp / "out");
  EXPECT_EQ(Dataset::load_from_disk(tmp / "out").num_columns(), 7);
}

TEST(GenerateSplits, EachSplitIsItsOwnStream) {
  GenerateOptions o = lake_options(Env::kFrozenLake4x4, 999);
  const std::vector<SplitSteps> splits = parse_splits("train=500,test=200,val=0");
  const DatasetDict dict = generate_splits(o, splits);
  EXPECT_EQ(dict.split_names(), (std::vector<std::string>{"train", "test", "val"}));
  EXPECT_EQ(dict.at("train").num_rows(), 500);
  EXPECT_EQ(dict.at("test").num_rows(), 200);
  EXPECT_EQ(dict.at("val").num_rows(), 0);
  o.steps = 500;
  EXPECT_EQ(test::dataset_rows(dict.at("train")), test::dataset_rows(generate(o)));
  o.steps = 200;
  EXPECT_EQ(test::dataset_rows(dict.at("test")), test::dataset_rows(generate(o, 1)));
  test::TempDir tmp;
  dict.save_to_disk(tmp / "dict");
  const DatasetDict back = DatasetDict::load_from_disk(tmp / "dict");
  EXPECT_EQ(test::dataset_rows(back.at("test")), test::dataset_rows(dict.at("test")));
  EXPECT_THROW_MSG(generate_splits(o, {}), InvalidArgument, "no splits");
}

TEST(GenerateSplits, ProgressCountsOverAllSplits) {
  GenerateOptions o = lake_options(Env::kFrozenLake4x4, 0);
  std::vector<std::pair<int64_t, int64_t>> calls;
  o.progress = [&calls](int64_t done, int64_t total) { calls.emplace_back(done, total); };
  generate_splits(o, parse_splits("train=2500,test=1000"));
  const std::vector<std::pair<int64_t, int64_t>> expected{
      {1000, 3500}, {2000, 3500}, {2500, 3500}, {3500, 3500}, {3500, 3500}};
  EXPECT_EQ(calls, expected);
}

TEST(GenerateErrors, BadNamesAndOptions) {
  EXPECT_THROW_MSG(parse_env("mountaincar"), InvalidArgument, "unknown environment 'mountaincar'");
  EXPECT_THROW_MSG(parse_policy("greedy"), InvalidArgument, "unknown policy 'greedy'");
  EXPECT_EQ(parse_env("frozenlake-8x8"), Env::kFrozenLake8x8);
  EXPECT_EQ(env_name(Env::kCartPole), "cartpole");
  EXPECT_EQ(parse_policy("epsilon-greedy"), Policy::kEpsilonGreedy);
  GenerateOptions o;
  o.steps = -1;
  EXPECT_THROW_MSG(generate(o), InvalidArgument, "steps must be >= 0, got -1");
  o = {};
  o.epsilon = 1.5;
  EXPECT_THROW_MSG(generate(o), InvalidArgument, "epsilon must be in [0, 1], got 1.5");
  o = {};
  o.gamma = -0.1;
  EXPECT_THROW_MSG(generate(o), InvalidArgument, "gamma");
  o = {};
  o.cell_pixels = 2;
  EXPECT_THROW_MSG(generate(o), InvalidArgument, "cell_pixels");
}

TEST(GenerateErrors, BadSplitSpecs) {
  EXPECT_THROW_MSG(parse_splits("train"), InvalidArgument, "'train' is not NAME=STEPS");
  EXPECT_THROW_MSG(parse_splits(""), InvalidArgument, "is not NAME=STEPS");
  EXPECT_THROW_MSG(parse_splits("train=10,"), InvalidArgument, "is not NAME=STEPS");
  EXPECT_THROW_MSG(parse_splits("=10"), InvalidArgument, "bad split name ''");
  EXPECT_THROW_MSG(parse_splits("a/b=10"), InvalidArgument, "bad split name 'a/b'");
  EXPECT_THROW_MSG(parse_splits("train=x"), InvalidArgument, "step count of 'train' must be an integer >= 0, got 'x'");
  EXPECT_THROW_MSG(parse_splits("train=-3"), InvalidArgument, "got '-3'");
  EXPECT_THROW_MSG(parse_splits("train=5k"), InvalidArgument, "got '5k'");
  EXPECT_THROW_MSG(parse_splits("train="), InvalidArgument, "got ''");
  EXPECT_THROW_MSG(parse_splits("train=1,train=2"), InvalidArgument, "split 'train' is given twice");
  const auto ok = parse_splits("train=10,test=0");
  ASSERT_EQ(ok.size(), 2u);
  EXPECT_EQ(ok[1].name, "test");
  EXPECT_EQ(ok[0].steps, 10);
}

}  // namespace
}  // namespace mouse::envs
