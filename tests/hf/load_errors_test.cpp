// Broken directories: every failure is a clear IoError / FormatError naming the file.
#include <gtest/gtest.h>

#include "hf_test_util.hpp"

namespace mouse {
namespace {

namespace fs = std::filesystem;
using test::ojson;

// A writable copy of a real save_to_disk directory.
class BrokenDataset : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(test::testdata_dir())) GTEST_SKIP() << "SKIPPED: corpus missing";
    test::copy_tree(test::hf_dir() / "lerobot-pusht/train", dir_);
  }
  fs::path file(const char* name) const { return dir_ / name; }
  ojson json_of(const char* name) const { return ojson::parse(test::read_text(file(name))); }
  void set_json(const char* name, const ojson& j) const { test::write_text(file(name), j.dump(2)); }

  test::TempDir tmp_;
  fs::path dir_ = tmp_ / "ds";
};

TEST(LoadErrors, MissingDirectoryIsIoErrorNamingIt) {
  test::TempDir tmp;
  const auto missing = tmp / "nope";
  EXPECT_THROW_MSG(Dataset::load_from_disk(missing), IoError, missing.string() + ": no such directory");
  EXPECT_THROW_MSG(load_from_disk(missing), IoError, missing.string());
  EXPECT_THROW_MSG(DatasetDict::load_from_disk(missing), IoError, missing.string());
}

TEST(LoadErrors, UnknownLayoutIsFormatErrorSayingWhatWasExpected) {
  test::TempDir tmp;
  fs::create_directories(tmp / "empty");
  EXPECT_THROW_MSG(load_from_disk(tmp / "empty"), FormatError, (tmp / "empty").string());
  EXPECT_THROW_MSG(load_from_disk(tmp / "empty"), FormatError,
                   "expected dataset_dict.json (a DatasetDict) or state.json and dataset_info.json");
  test::write_text(tmp / "file.arrow", "x");
  EXPECT_THROW_MSG(load_from_disk(tmp / "file.arrow"), FormatError, "not a directory");
  EXPECT_THROW_MSG(Dataset::load_from_disk(tmp / "file.arrow"), IoError, "not a directory");
}

TEST_F(BrokenDataset, MissingStateJson) {
  fs::remove(file("state.json"));
  EXPECT_THROW_MSG(Dataset::load_from_disk(dir_), IoError, file("state.json").string());
  // dataset_info.json alone still says "this is a dataset", so the error is the same.
  EXPECT_THROW_MSG(load_from_disk(dir_), IoError, "state.json");
}

TEST_F(BrokenDataset, MissingDatasetInfo) {
  fs::remove(file("dataset_info.json"));
  EXPECT_THROW_MSG(load_from_disk(dir_), IoError, file("dataset_info.json").string());
}

TEST_F(BrokenDataset, StateNamingAMissingShard) {
  auto state = json_of("state.json");
  state["_data_files"].push_back(ojson{{"filename", "data-00001-of-00002.arrow"}});
  set_json("state.json", state);
  EXPECT_THROW_MSG(Dataset::load_from_disk(dir_), IoError, "data-00001-of-00002.arrow");
}

TEST_F(BrokenDataset, CorruptStateJson) {
  test::write_text(file("state.json"), "{\"_data_files\": [");
  EXPECT_THROW_MSG(Dataset::load_from_disk(dir_), FormatError, file("state.json").string());
  EXPECT_THROW_MSG(Dataset::load_from_disk(dir_), FormatError, "invalid JSON");
}

TEST_F(BrokenDataset, StateJsonOfTheWrongShape) {
  test::write_text(file("state.json"), "[]");
  EXPECT_THROW_MSG(Dataset::load_from_disk(dir_), FormatError, "state.json: expected a JSON object");
  test::write_text(file("state.json"), R"({"_data_files": 3})");
  EXPECT_THROW_MSG(Dataset::load_from_disk(dir_), FormatError, "expected a list \"_data_files\"");
  test::write_text(file("state.json"), R"({"_data_files": []})");
  EXPECT_THROW_MSG(Dataset::load_from_disk(dir_), FormatError, "\"_data_files\" is empty");
  test::write_text(file("state.json"), R"({"_data_files": [{"name": "x"}]})");
  EXPECT_THROW_MSG(Dataset::load_from_disk(dir_), FormatError, "expected a string \"filename\"");
  test::write_text(file("state.json"), R"({"_data_files": [{"filename": "../train/data-00000-of-00001.arrow"}]})");
  EXPECT_THROW_MSG(Dataset::load_from_disk(dir_), FormatError, "is not a file name inside the dataset directory");
  test::write_text(file("state.json"), R"({"_data_files": [{"filename": "/etc/passwd"}]})");
  EXPECT_THROW_MSG(Dataset::load_from_disk(dir_), FormatError, "not a file name inside");
}

TEST_F(BrokenDataset, CorruptDatasetInfo) {
  test::write_text(file("dataset_info.json"), "{\"features\": {\"a\": }");
  EXPECT_THROW_MSG(Dataset::load_from_disk(dir_), FormatError, file("dataset_info.json").string());
}

TEST_F(BrokenDataset, FeaturesThatDisagreeWithTheShard) {
  auto info = json_of("dataset_info.json");
  info["features"]["timestamp"]["dtype"] = "int64";
  set_json("dataset_info.json", info);
  EXPECT_THROW_MSG(Dataset::load_from_disk(dir_), FormatError, file("dataset_info.json").string());
  EXPECT_THROW_MSG(Dataset::load_from_disk(dir_), FormatError,
                   "column \"timestamp\": features say Value(int64) (int64), the data has float");

  info = json_of("dataset_info.json");
  info["features"]["timestamp"]["dtype"] = "float32";
  info["features"]["action"]["length"] = 3;
  set_json("dataset_info.json", info);
  EXPECT_THROW_MSG(Dataset::load_from_disk(dir_), FormatError, "column \"action\"");

  info["features"]["action"]["length"] = 2;
  info["features"].erase("index");
  set_json("dataset_info.json", info);
  EXPECT_THROW_MSG(Dataset::load_from_disk(dir_), FormatError,
                   "column \"index\" is in the data but not in the features");
}

TEST_F(BrokenDataset, MalformedFeatureNamesTheColumnAndFile) {
  auto info = json_of("dataset_info.json");
  info["features"]["next.reward"] = ojson{{"dtype", "decimal128(10, 2)"}, {"_type", "Value"}};
  set_json("dataset_info.json", info);
  EXPECT_THROW_MSG(Dataset::load_from_disk(dir_), FormatError, "column \"next.reward\"");
  EXPECT_THROW_MSG(Dataset::load_from_disk(dir_), FormatError, "dataset_info.json");
}

TEST_F(BrokenDataset, WithoutFeaturesInInfoTheShardMetadataIsUsed) {
  const auto before = Dataset::load_from_disk(dir_).features().to_json();
  auto info = json_of("dataset_info.json");
  info.erase("features");
  set_json("dataset_info.json", info);
  Dataset ds = Dataset::load_from_disk(dir_);
  EXPECT_EQ(ds.features().to_json(), before);
  EXPECT_EQ(ds.features().type_of("observation.image"), "VideoFrame(unsupported)");
}

TEST_F(BrokenDataset, TruncatedShard) {
  const auto shard = file("data-00000-of-00001.arrow");
  const auto bytes = test::read_text(shard);
  test::write_text(shard, bytes.substr(0, bytes.size() / 2));
  EXPECT_THROW_MSG(Dataset::load_from_disk(dir_), FormatError, shard.string());
  test::write_text(shard, "");
  EXPECT_THROW_MSG(Dataset::load_from_disk(dir_), FormatError, "data-00000-of-00001.arrow");
}

TEST_F(BrokenDataset, ShardsWithDifferentSchemas) {
  auto other = arrow::make_batch({"x"}, {arrow::make_primitive<int32_t>(std::vector<int32_t>{1})});
  Dataset::from_batches(other.schema, {other}).save_to_disk(tmp_ / "other");
  fs::copy_file(tmp_ / "other" / "data-00000-of-00001.arrow", file("data-00001-of-00002.arrow"));
  auto state = json_of("state.json");
  state["_data_files"].push_back(ojson{{"filename", "data-00001-of-00002.arrow"}});
  set_json("state.json", state);
  EXPECT_THROW_MSG(Dataset::load_from_disk(dir_), FormatError,
                   "data-00001-of-00002.arrow: schema differs from data-00000-of-00001.arrow");
}

TEST(LoadErrors, DatasetDictWithMissingOrBadSplits) {
  MOUSE_REQUIRE_TESTDATA();
  test::TempDir tmp;
  test::copy_tree(test::hf_dir() / "spiral-math-eval", tmp / "dict");
  fs::remove_all(tmp / "dict" / "amc");
  EXPECT_THROW_MSG(load_from_disk(tmp / "dict"), IoError, (tmp / "dict" / "amc").string());
  test::write_text(tmp / "dict" / "dataset_dict.json", R"({"splits": "aime"})");
  EXPECT_THROW_MSG(load_from_disk(tmp / "dict"), FormatError, "dataset_dict.json: expected {\"splits\"");
  test::write_text(tmp / "dict" / "dataset_dict.json", R"({"splits": ["../aime"]})");
  EXPECT_THROW_MSG(load_from_disk(tmp / "dict"), FormatError, "invalid split name");
  test::write_text(tmp / "dict" / "dataset_dict.json", R"({"splits": ["aime", "aime"]})");
  EXPECT_THROW_MSG(load_from_disk(tmp / "dict"), FormatError, "listed twice");
  test::write_text(tmp / "dict" / "dataset_dict.json", R"({"splits": [)");
  EXPECT_THROW_MSG(load_from_disk(tmp / "dict"), FormatError, "invalid JSON");
}

}  // namespace
}  // namespace mouse
