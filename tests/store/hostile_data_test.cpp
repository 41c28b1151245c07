// Damaged data reaching a store: list offsets that the open-time check (first and last offset
// only) cannot see, and feature types mouse-data does not know on a column it encodes.
#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <vector>

#include "store/store_test_util.hpp"

namespace mouse::test {
namespace {

TEST(StoreHostileData, ZeroedListOffsetsAreAnErrorNotEmptyRows) {
  const std::vector<int64_t> offsets{0, 1, 2, 3, 4};
  auto q = arrow::make_list(offsets, arrow::make_primitive<float>(std::vector<float>{1, 2, 3, 4}));
  // Zero the offsets after row 1, as a damaged file would have them: first (0) <= last (0)
  // passes the cheap check, the rows in between would read as empty lists.
  auto* raw = reinterpret_cast<int32_t*>(q->buffers[1].mutable_data());
  raw[2] = raw[3] = raw[4] = 0;
  Dataset ds = make_dataset(
      {"action", "reward", "done", "metadata_q_star"},
      {arrow::make_primitive<int64_t>(std::vector<int64_t>{0, 1, 2, 3}),
       arrow::make_primitive<float>(std::vector<float>{0, 0, 0, 0}),
       arrow::make_primitive<int64_t>(std::vector<int64_t>{0, 0, 0, 1}), q});
  DatasetStore store(StoreConfig{});
  EXPECT_THROW_MSG(store.from_dataset(ds), FormatError, "column \"metadata_q_star\"");
  EXPECT_THROW_MSG(store.from_dataset(ds), FormatError, "less than the previous offset");
  EXPECT_EQ(store.size(), 0);
}

TEST(StoreHostileData, UnknownFeatureTypeOnAnEncodedColumnNamesTheColumn) {
  Dataset base = step_dataset(4);
  for (const char* type : {"Foo", "Audio", "Array2D"}) {
    auto j = nlohmann::ordered_json::parse(base.features().to_json());
    j["action"] = {{"_type", type}};
    const std::string features = j.dump();
    auto schema = std::make_shared<arrow::Schema>(*base.schema());
    schema->metadata.emplace_back("huggingface",
                                  std::string(R"({"info": {"features": )") + features + "}}");
    std::vector<arrow::RecordBatch> batches = base.batches();
    for (auto& b : batches) b.schema = schema;
    Dataset ds = Dataset::from_batches(schema, batches);
    DatasetStore store(StoreConfig{});
    EXPECT_THROW_MSG(store.from_dataset(ds), InvalidArgument, "column \"action\"");
    EXPECT_THROW_MSG(store.from_dataset(ds), InvalidArgument, type);
  }
}

}  // namespace
}  // namespace mouse::test
