// SPEC §4: constructor validation, from_dataset (Dataset and DatasetDict split selection),
// indexing (order, negatives, range errors, mixed segments), segment_starts, clear, merge.
#include <gtest/gtest.h>

#include "store/split_select.hpp"
#include "store_test_util.hpp"

namespace mouse {
namespace {

using test::iota;
using test::kNegInf;
using test::make_dataset;
using test::step_dataset;
using test::step_row;
using test::values_of;

TEST(StoreConstructor, DefaultsAndValidation) {
  DatasetStore store;
  EXPECT_EQ(store.config().max_action_dim, 1000);
  EXPECT_EQ(store.config().max_obs_continuous_dim, 0);
  EXPECT_EQ(store.config().obs_image_dtype, DType::kInt64);
  EXPECT_EQ(store.size(), 0);
  EXPECT_THROW_MSG(DatasetStore(0), InvalidArgument, "max_action_dim must be > 0, got 0");
  EXPECT_THROW_MSG(DatasetStore(-3), InvalidArgument, "max_action_dim must be > 0, got -3");
  EXPECT_THROW_MSG(DatasetStore(2, -1), InvalidArgument, "max_obs_continuous_dim must be >= 0, got -1");
  EXPECT_THROW_MSG(DatasetStore(2, 0, -2), InvalidArgument, "max_obs_discrete_dim must be >= 0, got -2");
  EXPECT_THROW_MSG(DatasetStore(2, 0, 0, -4), InvalidArgument, "max_obs_image_pixels must be >= 0, got -4");
  StoreConfig c;
  c.obs_image_dtype = DType::kFloat32;
  EXPECT_THROW_MSG(DatasetStore{c}, InvalidArgument, "obs_image_dtype must be int64 or uint8, got float32");
}

TEST(StoreFromDataset, ConcatenatesCallsAndSkipsEmptyDatasets) {
  DatasetStore store(test::unchecked(4));
  store.from_dataset(step_dataset(5, 0));
  store.from_dataset(step_dataset(0, 0));
  store.from_dataset(step_dataset(3, 100, 3, 2));  // three rows in batches of 2
  EXPECT_EQ(store.size(), 8);
  EXPECT_EQ(store.source_size(), 8);
  EXPECT_EQ(store.segment_starts(), (std::vector<int64_t>{0, 5, 8, 8}));
  auto idx = iota(8);
  EXPECT_EQ(values_of<int64_t>(store.get(idx).at("action")),
            (std::vector<int64_t>{0, 1, 2, 3, 4, 100, 101, 102}));
}

TEST(StoreIndexing, OrderRepeatsAndNegativeIndices) {
  DatasetStore store(test::unchecked(2));
  store.from_dataset(step_dataset(6, 0, 3, 4));
  std::vector<int64_t> idx{5, -1, 0, -6, 3, 3};
  TensorDict td = store[idx];
  EXPECT_EQ(td.batch_size(), (std::vector<int64_t>{6}));
  EXPECT_EQ(values_of<int64_t>(td.at("action")), (std::vector<int64_t>{5, 5, 0, 0, 3, 3}));
  EXPECT_EQ(values_of<int64_t>(td.at("time")), (std::vector<int64_t>{5, 5, 0, 0, 3, 3}));
  std::vector<int64_t> none;
  EXPECT_EQ(store.get(none).at("action").shape(), (std::vector<int64_t>{0}));
}

TEST(StoreIndexing, OutOfRangeNamesIndexAndLength) {
  DatasetStore store(test::unchecked(2));
  store.from_dataset(step_dataset(6));
  std::vector<int64_t> high{0, 6};
  EXPECT_THROW_MSG(store.get(high), IndexError, "index 6 is out of range for a store of 6 rows");
  std::vector<int64_t> low{-7};
  EXPECT_THROW_MSG(store.get(low), IndexError, "index -7 is out of range for a store of 6 rows");
  DatasetStore empty;
  std::vector<int64_t> zero{0};
  EXPECT_THROW_MSG(empty.get(zero), IndexError, "index 0 is out of range for a store of 0 rows");
}

TEST(StoreIndexing, MixedSourceAndBufferFillsKeysMissingFromOneSegment) {
  // Source has q_star and time; the buffer has xformed_reward and observation only.
  DatasetStore store(3, 2);
  store.from_dataset(make_dataset(
      {"action", "reward", "done", "episode_step", "metadata_q_star"},
      {arrow::make_primitive<int64_t>(std::vector<int64_t>{1, 2}),
       arrow::make_primitive<float>(std::vector<float>{0.5f, 1.5f}),
       arrow::make_primitive<int64_t>(std::vector<int64_t>{0, 1}),
       arrow::make_primitive<int64_t>(std::vector<int64_t>{7, 8}),
       arrow::make_fixed_size_list(arrow::make_primitive<float>(std::vector<float>{1, 2, 3, 4}), 2)}));
  StepRow row = step_row(0, 2.5, 2);  // actions index q-values (max_action_dim 3)
  row["xformed_reward"] = 0.25;
  row["observation"] = StepValue::List{1.0, 2.0, 3.0};
  store.append(row);
  EXPECT_EQ(store.size(), 3);
  EXPECT_EQ(store.source_size(), 2);
  EXPECT_EQ(store.segment_starts(), (std::vector<int64_t>{0, 2, 3}));
  std::vector<int64_t> idx{2, 0, -2};
  TensorDict td = store.get(idx);
  EXPECT_EQ(td.keys(), (std::vector<std::string>{"action", "reward", "done", "xformed_reward",
                                                  "time", "q_star", "obs_continuous"}));
  EXPECT_EQ(values_of<int64_t>(td.at("action")), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(values_of<float>(td.at("reward")), (std::vector<float>{2.5f, 0.5f, 1.5f}));
  EXPECT_EQ(values_of<int64_t>(td.at("done")), (std::vector<int64_t>{2, 0, 1}));
  // Buffer-only key: zero for source rows.
  EXPECT_EQ(values_of<float>(td.at("xformed_reward")), (std::vector<float>{0.25f, 0, 0}));
  EXPECT_EQ(values_of<double>(td.at("obs_continuous")), (std::vector<double>{1, 2, 0, 0, 0, 0}));
  // Source-only keys: their null-row values for the buffer row, -1 (time, SPEC §3: what
  // to_dataset's null episode_step encodes to) and -inf (q_star).
  EXPECT_EQ(values_of<int64_t>(td.at("time")), (std::vector<int64_t>{-1, 7, 8}));
  EXPECT_EQ(values_of<float>(td.at("q_star")),
            (std::vector<float>{kNegInf, kNegInf, kNegInf, 1, 2, kNegInf, 3, 4, kNegInf}));
  // The same keys for a batch drawn from one segment only.
  std::vector<int64_t> source_only{0};
  EXPECT_EQ(store.get(source_only).keys(), td.keys());
}

TEST(StoreClear, EmptiesBothSegments) {
  DatasetStore store(test::unchecked(2));
  store.from_dataset(step_dataset(4));
  store.append(step_row(1, 1, 0));
  EXPECT_EQ(store.size(), 5);
  store.clear();
  EXPECT_EQ(store.size(), 0);
  EXPECT_EQ(store.source_size(), 0);
  EXPECT_EQ(store.segment_starts(), (std::vector<int64_t>{0, 0}));
  EXPECT_EQ(store.to_dataset().num_rows(), 0);
  std::vector<int64_t> zero{0};
  EXPECT_THROW(store.get(zero), IndexError);
  store.append(step_row(3, 1, 0));
  EXPECT_EQ(values_of<int64_t>(store.get(zero).at("action")), (std::vector<int64_t>{3}));
}

// --- DatasetDict split selection ---------------------------------------------------------

DatasetDict four_splits() {
  DatasetDict dict;
  dict.insert("train_a", step_dataset(2, 0));
  dict.insert("train_b", step_dataset(3, 10));
  dict.insert("eval_a", step_dataset(1, 20));
  dict.insert("test", step_dataset(2, 30));
  return dict;
}

std::vector<int64_t> actions(const DatasetStore& store) {
  auto idx = iota(store.size());
  return values_of<int64_t>(store.get(idx).at("action"));
}

TEST(StoreSplits, NeitherLoadsAllSplitsInOrder) {
  DatasetStore store(test::unchecked(2));
  store.from_dataset(four_splits());
  EXPECT_EQ(actions(store), (std::vector<int64_t>{0, 1, 10, 11, 12, 20, 30, 31}));
  EXPECT_EQ(store.segment_starts(), (std::vector<int64_t>{0, 2, 5, 6, 8, 8}));
}

TEST(StoreSplits, ExactNames) {
  DatasetStore store(test::unchecked(2));
  store.from_dataset(four_splits(), std::vector<std::string>{"test", "train_a"});
  EXPECT_EQ(actions(store), (std::vector<int64_t>{30, 31, 0, 1}));
}

TEST(StoreSplits, OnePattern) {
  DatasetStore store(test::unchecked(2));
  store.from_dataset(four_splits(), std::nullopt, std::vector<std::string>{"train_*"});
  EXPECT_EQ(actions(store), (std::vector<int64_t>{0, 1, 10, 11, 12}));
}

TEST(StoreSplits, ListOfPatternsKeepsDictOrder) {
  DatasetStore store(test::unchecked(2));
  store.from_dataset(four_splits(), std::nullopt, std::vector<std::string>{"t?st", "*_a"});
  EXPECT_EQ(actions(store), (std::vector<int64_t>{0, 1, 20, 30, 31}));
}

TEST(StoreSplits, NoMatchListsAvailableSplits) {
  DatasetStore store(2);
  EXPECT_THROW_MSG(store.from_dataset(four_splits(), std::nullopt, std::vector<std::string>{"valid*"}),
                   KeyError,
                   "matches no split; available splits: [\"train_a\", \"train_b\", \"eval_a\", \"test\"]");
  EXPECT_EQ(store.size(), 0);
}

TEST(StoreSplits, UnknownNameListsAvailableSplits) {
  DatasetStore store(2);
  EXPECT_THROW_MSG(store.from_dataset(four_splits(), std::vector<std::string>{"train_a", "train"}),
                   KeyError,
                   "split \"train\" not found; available splits: [\"train_a\", \"train_b\", "
                   "\"eval_a\", \"test\"]");
  EXPECT_EQ(store.size(), 0);
}

TEST(StoreSplits, BothGivenIsAnError) {
  DatasetStore store(2);
  EXPECT_THROW_MSG(store.from_dataset(four_splits(), std::vector<std::string>{"test"},
                                      std::vector<std::string>{"*"}),
                   InvalidArgument, "not both");
  EXPECT_THROW_MSG(store.from_dataset(four_splits(), std::vector<std::string>{}), InvalidArgument,
                   "splits is an empty list");
}

TEST(StoreSplits, BadSplitLeavesStoreUnchanged) {
  DatasetDict dict = four_splits();
  dict.insert("broken", make_dataset({"action"}, {arrow::make_primitive<int64_t>(std::vector<int64_t>{1})}));
  DatasetStore store(test::unchecked(2));
  EXPECT_THROW_MSG(store.from_dataset(dict), InvalidArgument, "split \"broken\"");
  EXPECT_EQ(store.size(), 0);
}

TEST(Fnmatch, PythonSemantics) {
  using detail::fnmatch_case;
  EXPECT_TRUE(fnmatch_case("train_a", "train_*"));
  EXPECT_TRUE(fnmatch_case("train_a", "*"));
  EXPECT_TRUE(fnmatch_case("a/b", "a*b"));  // '*' crosses '/'
  EXPECT_TRUE(fnmatch_case(".hidden", "*"));  // a leading '.' is ordinary
  EXPECT_TRUE(fnmatch_case("test", "t?st"));
  EXPECT_FALSE(fnmatch_case("tst", "t?st"));
  EXPECT_TRUE(fnmatch_case("eval_b", "eval_[abc]"));
  EXPECT_FALSE(fnmatch_case("eval_d", "eval_[abc]"));
  EXPECT_TRUE(fnmatch_case("eval_d", "eval_[!abc]"));
  EXPECT_FALSE(fnmatch_case("eval_a", "eval_[!abc]"));
  EXPECT_TRUE(fnmatch_case("split7", "split[0-9]"));
  EXPECT_FALSE(fnmatch_case("Train", "train"));  // case-sensitive
  EXPECT_TRUE(fnmatch_case("a\\b", "a\\b"));     // no escapes
  EXPECT_FALSE(fnmatch_case("train_a", "train"));  // whole-name match
  // Where Python differs from POSIX fnmatch: '^' does not negate.
  EXPECT_TRUE(fnmatch_case("^", "[^x]"));
  EXPECT_TRUE(fnmatch_case("x", "[^x]"));
  EXPECT_FALSE(fnmatch_case("a", "[^x]"));
  // ']' first is a member; '-' first or last is itself; an unclosed '[' is literal.
  EXPECT_TRUE(fnmatch_case("]", "[]a]"));
  EXPECT_TRUE(fnmatch_case("a", "[!]b]"));
  EXPECT_FALSE(fnmatch_case("]", "[!]b]"));
  EXPECT_TRUE(fnmatch_case("a-b", "a[-]b"));
  EXPECT_TRUE(fnmatch_case("-", "[a-]"));
  EXPECT_TRUE(fnmatch_case("[ab", "[ab"));
  EXPECT_FALSE(fnmatch_case("a", "[ab"));
  EXPECT_TRUE(fnmatch_case("x[y", "*[y"));
  // Reversed ranges match nothing (negated: anything).
  EXPECT_FALSE(fnmatch_case("b", "[c-a]"));
  EXPECT_TRUE(fnmatch_case("b", "[!c-a]"));
  // "a-c-e": the range a-c, then '-' and 'e' as members.
  EXPECT_TRUE(fnmatch_case("b", "[a-c-e]"));
  EXPECT_TRUE(fnmatch_case("-", "[a-c-e]"));
  EXPECT_FALSE(fnmatch_case("d", "[a-c-e]"));
  // Backtracking over several stars.
  EXPECT_TRUE(fnmatch_case("train_a_eval_b", "*_a*_[ab]"));
  EXPECT_FALSE(fnmatch_case("train_a_eval_c", "*_a*_[ab]"));
  EXPECT_TRUE(fnmatch_case("", "*"));
  EXPECT_FALSE(fnmatch_case("", "?"));
}

TEST(StoreMerge, ConcatenatesStoresInOrder) {
  DatasetStore a(test::unchecked(2)), b(test::unchecked(2)), empty(test::unchecked(2));
  a.from_dataset(step_dataset(2, 0));
  b.from_dataset(step_dataset(3, 10));
  std::vector<const DatasetStore*> stores{&a, &empty, &b};
  Dataset merged = DatasetStore::merge_stores_to_dataset(stores);
  EXPECT_EQ(merged.num_rows(), 5);
  DatasetStore check(test::unchecked(2));
  check.from_dataset(merged);
  EXPECT_EQ(actions(check), (std::vector<int64_t>{0, 1, 10, 11, 12}));
  std::vector<const DatasetStore*> none;
  EXPECT_EQ(DatasetStore::merge_stores_to_dataset(none).num_rows(), 0);
}

TEST(StoreToDataset, SourceOnlyIsTheSourceItself) {
  Dataset ds = step_dataset(4);
  DatasetStore store(test::unchecked(2));
  store.from_dataset(ds);
  Dataset out = store.to_dataset();
  ASSERT_EQ(out.batches().size(), ds.batches().size());
  // Same arrays (no copy).
  EXPECT_EQ(out.batches()[0].columns[0].get(), ds.batches()[0].columns[0].get());
}

}  // namespace
}  // namespace mouse
