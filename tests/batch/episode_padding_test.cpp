// Padded positions of boundaries="episode" windows over a real store (SPEC §7): zeros, but
// q_star -inf and time -1, and mask false.
#include <gtest/gtest.h>

#include <limits>
#include <vector>

#include "mouse/batch.hpp"
#include "mouse/dataset_store.hpp"
#include "store/store_test_util.hpp"

namespace mouse {
namespace {

using test::kNegInf;
using test::values_of;

TEST(EpisodePadding, PaddedStepsHoldZerosNegInfQStarAndMinusOneTime) {
  // Episodes [0, 2) (terminal) and [2, 6) (truncated); S = 3: windows 0 (2 real), 2 (3), 5 (1).
  DatasetStore store(test::unchecked(2, 2));  // actions 1..6 name the rows
  store.from_dataset(test::make_dataset(
      {"action", "reward", "done", "xformed_reward", "episode_step", "metadata_q_star",
       "observation"},
      {arrow::make_primitive<int64_t>(std::vector<int64_t>{1, 2, 3, 4, 5, 6}),
       arrow::make_primitive<float>(std::vector<float>{1, 1, 1, 1, 1, 1}),
       arrow::make_primitive<int64_t>(std::vector<int64_t>{0, 1, 0, 0, 0, 2}),
       arrow::make_primitive<float>(std::vector<float>{2, 2, 2, 2, 2, 2}),
       arrow::make_primitive<int64_t>(std::vector<int64_t>{0, 1, 0, 1, 2, 3}),
       arrow::make_fixed_size_list(
           arrow::make_primitive<float>(std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}),
           2),
       arrow::make_fixed_size_list(
           arrow::make_primitive<double>(std::vector<double>{1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6}),
           2)}));
  BatchifierOptions o;
  o.sampling = "sequential";
  o.boundaries = "episode";
  o.num_workers = 0;
  o.seed = 1;
  PrefetchBatchifier b(store, 3, 3, o);
  const SampledBatch batch = b.next();
  ASSERT_EQ(batch.starts, (std::vector<int64_t>{0, 2, 5}));
  const TensorDict& d = batch.data;
  std::vector<int> mask;
  for (int64_t i = 0; i < 3; ++i) {
    for (int64_t j = 0; j < 3; ++j) mask.push_back(d.at("mask").at<bool>({i, j}) ? 1 : 0);
  }
  EXPECT_EQ(mask, (std::vector<int>{1, 1, 0, 1, 1, 1, 1, 0, 0}));
  EXPECT_EQ(values_of<int64_t>(d.at("action")), (std::vector<int64_t>{1, 2, 0, 3, 4, 5, 6, 0, 0}));
  EXPECT_EQ(values_of<float>(d.at("reward")), (std::vector<float>{1, 1, 0, 1, 1, 1, 1, 0, 0}));
  EXPECT_EQ(values_of<int64_t>(d.at("done")), (std::vector<int64_t>{0, 1, 0, 0, 0, 0, 2, 0, 0}));
  EXPECT_EQ(values_of<float>(d.at("xformed_reward")),
            (std::vector<float>{2, 2, 0, 2, 2, 2, 2, 0, 0}));
  EXPECT_EQ(values_of<int64_t>(d.at("time")),
            (std::vector<int64_t>{0, 1, -1, 0, 1, 2, 3, -1, -1}));
  EXPECT_EQ(values_of<float>(d.at("q_star")),
            (std::vector<float>{1, 2, 3, 4, kNegInf, kNegInf, 5, 6, 7, 8, 9, 10, 11, 12, kNegInf,
                                kNegInf, kNegInf, kNegInf}));
  EXPECT_EQ(values_of<double>(d.at("obs_continuous")),
            (std::vector<double>{1, 1, 2, 2, 0, 0, 3, 3, 4, 4, 5, 5, 6, 6, 0, 0, 0, 0}));
}

}  // namespace
}  // namespace mouse
