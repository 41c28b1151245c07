// state() / restore(): resuming gives exactly the batches an uninterrupted run gets.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "batch/fake_source.hpp"
#include "mouse/batch.hpp"
#include "mouse/error.hpp"

namespace mouse {
namespace {

using test::FakeSource;
using Starts = std::vector<int64_t>;

BatchifierOptions opts(std::string sampling, int64_t workers, uint64_t seed = 11) {
  BatchifierOptions o;
  o.sampling = std::move(sampling);
  o.num_workers = workers;
  o.seed = seed;
  return o;
}

std::vector<Starts> starts(PrefetchBatchifier& b, int n) {
  std::vector<Starts> out;
  for (int i = 0; i < n; ++i) out.push_back(b.next().starts);
  return out;
}

class StateRestore : public ::testing::TestWithParam<std::string> {};

TEST_P(StateRestore, MidEpochResumesWithTheSameBatches) {
  auto src = std::make_shared<FakeSource>(std::vector<int64_t>{230});  // 23 windows of 10
  PrefetchBatchifier reference(src, 10, 4, opts(GetParam(), 0));
  std::vector<Starts> expected = starts(reference, 16);

  PrefetchBatchifier first(src, 10, 4, opts(GetParam(), 2));
  EXPECT_EQ(starts(first, 5), std::vector<Starts>(expected.begin(), expected.begin() + 5));
  const std::string saved = first.state().to_json();
  first.close();

  // A new process: no seed given, different worker count.
  BatchifierOptions fresh = opts(GetParam(), 3);
  fresh.seed.reset();
  PrefetchBatchifier resumed(src, 10, 4, fresh);
  resumed.restore(BatchifierState::from_json(saved));
  EXPECT_EQ(starts(resumed, 11), std::vector<Starts>(expected.begin() + 5, expected.end()));
}

TEST_P(StateRestore, TwiceInARowIsTheSameAsOnce) {
  auto src = std::make_shared<FakeSource>(std::vector<int64_t>{230});
  PrefetchBatchifier b(src, 10, 4, opts(GetParam(), 2));
  starts(b, 3);
  const BatchifierState at3 = b.state();
  std::vector<Starts> after = starts(b, 7);
  b.restore(at3);
  b.restore(at3);
  EXPECT_EQ(b.state(), at3);
  EXPECT_EQ(starts(b, 7), after);
}

TEST_P(StateRestore, PausedWorkersResumeWithTheSameBatches) {
  auto src = std::make_shared<FakeSource>(std::vector<int64_t>{230});
  PrefetchBatchifier reference(src, 10, 4, opts(GetParam(), 0));
  const std::vector<Starts> expected = starts(reference, 12);

  PrefetchBatchifier b(src, 10, 4, opts(GetParam(), 2));
  std::vector<Starts> got = starts(b, 3);
  const BatchifierState at3 = b.state();
  b.pause_workers();  // as before a fork: the prefetched batches are dropped
  b.pause_workers();
  EXPECT_EQ(b.state(), at3);
  b.resume_workers();
  b.resume_workers();
  for (const Starts& s : starts(b, 9)) got.push_back(s);
  EXPECT_EQ(got, expected);
  b.close();
  b.pause_workers();  // nothing to do after close
  b.resume_workers();
  EXPECT_TRUE(b.closed());
  EXPECT_THROW(b.next(), InvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(EveryMode, StateRestore,
                         ::testing::Values("random", "last", "sequential", "batch"));

TEST(BatchifierStateValue, RecordsThePositionAfterTheLastDeliveredBatch) {
  auto src = std::make_shared<FakeSource>(std::vector<int64_t>{50});  // 5 windows of 10
  PrefetchBatchifier b(src, 10, 2, opts("sequential", 2, 3));
  BatchifierState s = b.state();
  EXPECT_EQ(s.batches, 0);
  EXPECT_EQ(s.seed, 3u);
  b.next_batch();
  b.next_batch();
  s = b.state();
  EXPECT_EQ(s.batches, 2);
  EXPECT_EQ(s.epoch, 0);
  EXPECT_EQ(s.next_window, 4);
  EXPECT_EQ(s.epoch_windows, 5);
  b.next_batch();
  s = b.state();
  EXPECT_EQ(s.epoch, 1);
  EXPECT_EQ(s.next_window, 0);
  EXPECT_EQ(s.epoch_windows, 0);
}

TEST(BatchifierStateValue, JsonRoundTrips) {
  BatchifierState s;
  s.sampling = "batch";
  s.boundaries = "episode";
  s.sequence_length = 64;
  s.batch_size = 32;
  s.seed = 0xFFFFFFFFFFFFFFFFull;
  s.batches = 1234567;
  s.epoch = 12;
  s.next_window = 40;
  s.epoch_windows = 99;
  EXPECT_EQ(BatchifierState::from_json(s.to_json()), s);
}

TEST(BatchifierStateValue, MalformedJsonNamesTheProblem) {
  auto expect_error = [](const std::string& json, const std::string& needle) {
    try {
      BatchifierState::from_json(json);
      FAIL() << json;
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error("not json", "not a JSON object");
  expect_error("[1]", "not a JSON object");
  expect_error(R"({"version": 1})", "missing field \"sampling\"");
  expect_error(R"({"version": 2})", "version 2 is not supported");
  BatchifierState s;
  s.sampling = "random";
  s.boundaries = "none";
  std::string json = s.to_json();
  json.replace(json.find("\"epoch\":0"), 9, "\"epoch\":\"x\"");
  expect_error(json, "field \"epoch\" has the wrong type");
  // Numbers that nlohmann would silently truncate or wrap are rejected too.
  std::string fractional = s.to_json();
  fractional.replace(fractional.find("\"epoch\":0"), 9, "\"epoch\":2.5");
  expect_error(fractional, "field \"epoch\" has the wrong type: expected an integer, found 2.5");
  std::string negative_seed = s.to_json();
  negative_seed.replace(negative_seed.find("\"seed\":0"), 8, "\"seed\":-1");
  expect_error(negative_seed, "field \"seed\" has the wrong type: expected a non-negative integer");
}

TEST(BatchifierRestore, RejectsAStateOfAnotherConfigurationOrPosition) {
  auto src = std::make_shared<FakeSource>(std::vector<int64_t>{100});
  PrefetchBatchifier b(src, 10, 2, opts("sequential", 1));
  BatchifierState other = b.state();
  other.batch_size = 3;
  try {
    b.restore(other);
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("batch_size 3"), std::string::npos) << e.what();
  }
  BatchifierState bad = b.state();
  bad.epoch_windows = 5;
  bad.next_window = 5;
  EXPECT_THROW(b.restore(bad), InvalidArgument);
  // A valid state whose epoch needs more windows than the store has fails at the next batch.
  BatchifierState big = b.state();
  big.epoch_windows = 50;
  big.next_window = 12;
  b.restore(big);
  try {
    b.next_batch();
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("started with 50 windows, the store now has 10"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace mouse
