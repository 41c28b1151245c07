// Loading the real Hugging Face directories of the corpus (LeRobot 2024, SPIRAL DatasetDict,
// nlp 2020 cache files) and checking them against MANIFEST.md and the apache-arrow oracle.
#include <gtest/gtest.h>

#include "hf/py_json.hpp"
#include "hf_test_util.hpp"
#include "mouse/arrow_ipc.hpp"

namespace mouse {
namespace {

using test::hf_dir;
using test::json;

struct RealDataset {
  const char* dir;
  int64_t rows;
  std::vector<std::string> columns;
};

const std::vector<std::string> kPushtColumns = {
    "observation.image", "observation.state", "action", "episode_index", "frame_index",
    "timestamp", "next.reward", "next.done", "next.success", "index"};

const std::vector<RealDataset>& real_datasets() {
  static const std::vector<RealDataset> all = {
      {"lerobot-aloha_sim_insertion_human/train", 500,
       {"observation.images.top", "observation.state", "action", "episode_index", "frame_index",
        "timestamp", "next.done", "index"}},
      {"lerobot-pusht/train", 161, kPushtColumns},
      {"lerobot-pusht_image/train", 161, kPushtColumns},
      {"lerobot-xarm_lift_medium/train", 25,
       {"observation.image", "observation.state", "action", "episode_index", "frame_index",
        "timestamp", "next.reward", "next.done", "index"}},
      {"spiral-math-eval/aime", 30, {"problem", "answer", "difficulty"}},
      {"spiral-math-eval/amc", 83, {"problem", "answer", "difficulty"}},
      {"spiral-math-eval/math", 500, {"problem", "answer", "difficulty"}},
      {"spiral-math-eval/minerva", 272, {"problem", "answer"}},
      {"spiral-math-eval/olympiad_bench", 675, {"problem", "answer"}},
  };
  return all;
}

TEST(LoadRealDatasets, RowCountsColumnsAndMetadata) {
  MOUSE_REQUIRE_TESTDATA();
  for (const auto& real : real_datasets()) {
    SCOPED_TRACE(real.dir);
    const auto dir = hf_dir() / real.dir;
    Dataset ds = Dataset::load_from_disk(dir);
    EXPECT_EQ(ds.num_rows(), real.rows);
    EXPECT_EQ(ds.column_names(), real.columns);
    EXPECT_EQ(ds.num_columns(), static_cast<int64_t>(real.columns.size()));
    EXPECT_EQ(ds.features().names(), real.columns);
    ASSERT_EQ(ds.data_files().size(), 1u);
    EXPECT_EQ(ds.data_files()[0].path.filename(), "data-00000-of-00001.arrow");
    EXPECT_EQ(ds.data_files()[0].size_bytes,
              static_cast<int64_t>(std::filesystem::file_size(ds.data_files()[0].path)));
    EXPECT_FALSE(ds.split().has_value());
    EXPECT_EQ(ds.fingerprint().size(), 16u);
    // The shard's `huggingface` metadata holds exactly dataset_info.json's features.
    auto hf = ds.schema()->metadata_value("huggingface");
    ASSERT_TRUE(hf.has_value());
    auto info = json::parse(test::read_text(dir / "dataset_info.json"));
    EXPECT_EQ(json::parse(*hf).at("info").at("features"), info.at("features"));
    EXPECT_EQ(json::parse(ds.features().to_json()), info.at("features"));
    // Every column's Arrow type agrees with its feature.
    for (const auto& field : ds.schema()->fields) {
      EXPECT_TRUE(ds.features().arrow_type(field.name)->equals(*field.type)) << field.name;
    }
  }
}

TEST(LoadRealDatasets, LeRobotFeatureTypes) {
  MOUSE_REQUIRE_TESTDATA();
  Dataset pusht = Dataset::load_from_disk(hf_dir() / "lerobot-pusht/train");
  const Features& f = pusht.features();
  EXPECT_EQ(f.type_of("observation.state"), "Sequence(Value(float32), length=2)");
  EXPECT_EQ(f.arrow_type("observation.state")->to_string(), "fixed_size_list<item: float>[2]");
  EXPECT_EQ(f.type_of("next.done"), "Value(bool)");
  EXPECT_EQ(f.type_of("index"), "Value(int64)");
  // LeRobot's VideoFrame is unknown to datasets itself: kept, typed by the data.
  EXPECT_EQ(f.type_of("observation.image"), "VideoFrame(unsupported)");
  EXPECT_EQ(f.arrow_type("observation.image")->to_string(), "struct<path: string, timestamp: float>");
  EXPECT_FALSE(f.is_supported("observation.image"));
  EXPECT_THROW_MSG(f.require_supported("observation.image"), InvalidArgument,
                   "column \"observation.image\" has feature type \"VideoFrame\"");

  Dataset aloha = Dataset::load_from_disk(hf_dir() / "lerobot-aloha_sim_insertion_human/train");
  EXPECT_EQ(aloha.features().arrow_type("action")->to_string(), "fixed_size_list<item: float>[14]");
  Dataset xarm = Dataset::load_from_disk(hf_dir() / "lerobot-xarm_lift_medium/train");
  EXPECT_EQ(xarm.features().type_of("observation.state"), "Sequence(Value(float32), length=4)");

  Dataset image = Dataset::load_from_disk(hf_dir() / "lerobot-pusht_image/train");
  EXPECT_EQ(image.features().type_of("observation.image"), "Image()");
  EXPECT_TRUE(image.features().is_supported("observation.image"));
  EXPECT_EQ(image.features().arrow_type("observation.image")->to_string(),
            "struct<bytes: binary, path: string>");
  // The PNG bytes are there and `path` is null in every row (child-level validity).
  auto col = image.column("observation.image");
  ASSERT_EQ(col.chunks.size(), 1u);
  const auto& img = *col.chunks[0];
  for (int64_t r = 0; r < image.num_rows(); ++r) {
    ASSERT_TRUE(img.is_valid(r));
    EXPECT_FALSE(img.children[1]->is_valid(r)) << r;
    EXPECT_EQ(arrow::binary_value(*img.children[0], r).substr(0, 4), "\x89PNG") << r;
  }
}

TEST(LoadRealDatasets, ColumnsAreZeroCopyViewsOfTheMappedShard) {
  MOUSE_REQUIRE_TESTDATA();
  const auto dir = hf_dir() / "lerobot-aloha_sim_insertion_human/train";
  Dataset ds = Dataset::load_from_disk(dir);
  const auto bytes = test::read_text(ds.data_files()[0].path);
  auto col = ds.column("index");
  const auto& a = *col.chunks[0];
  // The int64 values are the bytes of the file, and the buffers of different columns share
  // one owner (the memory map) instead of each owning a heap copy.
  const auto* values = a.buffers[1].data() + a.offset * 8;
  const std::string_view view(reinterpret_cast<const char*>(values), static_cast<size_t>(a.length * 8));
  EXPECT_NE(bytes.find(view), std::string::npos);
  auto other = ds.column("observation.state");
  const auto& child = *other.chunks[0]->children[0];
  ASSERT_TRUE(a.buffers[1].owner());
  EXPECT_EQ(a.buffers[1].owner().get(), child.buffers[1].owner().get());
}

TEST(LoadRealDatasets, SpiralDatasetDictHasFiveSplits) {
  MOUSE_REQUIRE_TESTDATA();
  auto loaded = load_from_disk(hf_dir() / "spiral-math-eval");
  ASSERT_TRUE(std::holds_alternative<DatasetDict>(loaded));
  const auto& dict = std::get<DatasetDict>(loaded);
  EXPECT_EQ(dict.split_names(),
            (std::vector<std::string>{"aime", "amc", "math", "minerva", "olympiad_bench"}));
  EXPECT_EQ(dict.size(), 5u);
  EXPECT_EQ(dict.at("aime").num_rows(), 30);
  EXPECT_EQ(dict.at("amc").num_rows(), 83);
  EXPECT_EQ(dict.at("math").num_rows(), 500);
  EXPECT_EQ(dict.at("minerva").num_rows(), 272);
  EXPECT_EQ(dict.at("olympiad_bench").num_rows(), 675);
  EXPECT_TRUE(dict.contains("math"));
  EXPECT_FALSE(dict.contains("train"));
  EXPECT_EQ(dict.at("minerva").features().type_of("answer"), "Sequence(Value(string))");
  EXPECT_EQ(dict.at("minerva").features().arrow_type("answer")->to_string(), "list<item: string>");
  EXPECT_EQ(dict.at("amc").features().type_of("answer"), "Value(float64)");
  EXPECT_THROW_MSG(dict.at("train"), KeyError,
                   "split \"train\" not found; available splits: [\"aime\", \"amc\", \"math\", "
                   "\"minerva\", \"olympiad_bench\"]");
  // The same through DatasetDict::load_from_disk, and a split dir is a plain Dataset.
  EXPECT_EQ(DatasetDict::load_from_disk(hf_dir() / "spiral-math-eval").split_names().size(), 5u);
  EXPECT_TRUE(std::holds_alternative<Dataset>(load_from_disk(hf_dir() / "spiral-math-eval/aime")));
}

TEST(LoadRealDatasets, EveryValueMatchesTheArrowJsOracle) {
  MOUSE_REQUIRE_TESTDATA();
  MOUSE_REQUIRE_ORACLE();
  for (const auto& real : real_datasets()) {
    SCOPED_TRACE(real.dir);
    Dataset ds = Dataset::load_from_disk(hf_dir() / real.dir);
    test::expect_matches_oracle(ds, real.dir);
  }
}

TEST(LoadRealDatasets, SpotValues) {
  MOUSE_REQUIRE_TESTDATA();
  Dataset ds = Dataset::load_from_disk(hf_dir() / "lerobot-pusht/train");
  auto rows = test::dataset_rows(ds);
  ASSERT_EQ(rows.size(), 161u);
  // `index` counts rows; frame_index counts within the episode.
  for (size_t r = 0; r < rows.size(); ++r) EXPECT_EQ(rows[r]["index"], static_cast<int64_t>(r));
  EXPECT_EQ(rows[0]["frame_index"], 0);
  EXPECT_TRUE(rows[0]["observation.state"].is_array());
  EXPECT_EQ(rows[0]["observation.state"].size(), 2u);
  EXPECT_EQ(rows[0]["observation.image"]["path"], "videos/observation.image_episode_000000.mp4");
}

TEST(LoadNlpCacheFiles, LoadThroughFromBatchesWithInferredFeatures) {
  MOUSE_REQUIRE_TESTDATA();
  struct Cache {
    const char* file;
    std::vector<std::string> columns;
    const char* features;
  };
  const Cache caches[] = {
      {"cache-071f8664cd4c4be34f5ad90bd847cbc8.arrow", {"filename", "name", "id"},
       R"({"filename": {"dtype": "string", "_type": "Value"}, "name": {"dtype": "string", "_type": "Value"}, "id": {"dtype": "int64", "_type": "Value"}})"},
      {"cache-129800120787cfbc449fc32d01fcd88c.arrow", {"filename", "name", "filename_new"},
       R"({"filename": {"dtype": "string", "_type": "Value"}, "name": {"dtype": "string", "_type": "Value"}, "filename_new": {"dtype": "string", "_type": "Value"}})"},
  };
  for (const auto& c : caches) {
    SCOPED_TRACE(c.file);
    const auto path = hf_dir() / "nlp-2020-cache" / c.file;
    auto table = arrow::read_ipc(path);
    EXPECT_FALSE(table.schema->metadata_value("huggingface").has_value());
    for (const auto& f : table.schema->fields) EXPECT_FALSE(f.nullable) << f.name;
    Dataset ds = Dataset::from_batches(table.schema, table.batches);
    EXPECT_EQ(ds.num_rows(), 30);
    EXPECT_EQ(ds.column_names(), c.columns);
    EXPECT_EQ(ds.features().to_json(), c.features);
    EXPECT_TRUE(ds.data_files().empty());

    // Saved as datasets would: every field nullable, `huggingface` metadata added.
    test::TempDir tmp;
    ds.save_to_disk(tmp / "saved");
    Dataset back = Dataset::load_from_disk(tmp / "saved");
    EXPECT_EQ(test::dataset_rows(back), test::dataset_rows(ds));
    for (const auto& f : back.schema()->fields) EXPECT_TRUE(f.nullable) << f.name;
    EXPECT_EQ(*back.schema()->metadata_value("huggingface"),
              fmt::format("{{\"info\": {{\"features\": {}}}}}", c.features));
    if (test::oracle_available()) {
      std::vector<json> theirs = test::oracle_rows(path);
      test::expect_rows_match(ds, test::dataset_rows(ds), theirs, c.file);
    }
  }
}

}  // namespace
}  // namespace mouse
