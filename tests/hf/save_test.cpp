// save_to_disk: round trips, shards and batches, the exact files datasets writes, the oracle
// reading what we wrote, and atomic replacement.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>

#include <regex>

#include "hf_test_util.hpp"
#include "mouse/arrow_ipc.hpp"

namespace mouse {
namespace {

namespace fs = std::filesystem;
using test::json;
using test::ojson;

std::vector<int64_t> batch_rows_of(const fs::path& shard) {
  std::vector<int64_t> out;
  for (const auto& b : arrow::read_ipc(shard).batches) out.push_back(b.num_rows);
  return out;
}

std::vector<std::string> leftovers(const fs::path& parent) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(parent)) {
    const auto name = e.path().filename().string();
    if (name.find(".tmp-") != std::string::npos || name.find(".old-") != std::string::npos) {
      out.push_back(name);
    }
  }
  return out;
}

std::string replace_fingerprint(std::string text) {
  return std::regex_replace(text, std::regex("\"_fingerprint\": \"[0-9a-f]+\""),
                            "\"_fingerprint\": \"X\"");
}

TEST(SaveToDisk, RoundTripsEveryFeatureKind) {
  Dataset ds = test::all_kinds_dataset(2500, 2500);
  test::TempDir tmp;
  ds.save_to_disk(tmp / "out");
  Dataset back = Dataset::load_from_disk(tmp / "out");
  EXPECT_EQ(back.num_rows(), 2500);
  EXPECT_EQ(back.column_names(), ds.column_names());
  EXPECT_EQ(back.features().to_json(), ds.features().to_json());
  EXPECT_TRUE(back.features() == ds.features());
  EXPECT_EQ(test::dataset_rows(back), test::dataset_rows(ds));
  ASSERT_EQ(back.data_files().size(), 1u);
  EXPECT_EQ(back.data_files()[0].path.filename(), "data-00000-of-00001.arrow");
  // One 2500-row batch in, batches of at most 1000 rows out.
  EXPECT_EQ(batch_rows_of(back.data_files()[0].path), (std::vector<int64_t>{1000, 1000, 500}));
  for (const auto& field : back.schema()->fields) EXPECT_TRUE(field.nullable) << field.name;
  EXPECT_EQ(*back.schema()->metadata_value("huggingface"),
            "{\"info\": {\"features\": " + ds.features().to_json() + "}}");
  EXPECT_EQ(back.schema()->metadata.size(), 1u);
}

TEST(SaveToDisk, BatchesFollowSourceBatchesAndTheRowLimit) {
  Dataset ds = test::all_kinds_dataset(2300, 1500);
  test::TempDir tmp;
  SaveOptions opt;
  opt.max_batch_rows = 600;
  ds.save_to_disk(tmp / "out", opt);
  EXPECT_EQ(batch_rows_of(tmp / "out" / "data-00000-of-00001.arrow"),
            (std::vector<int64_t>{600, 600, 300, 600, 200}));
  EXPECT_EQ(test::dataset_rows(Dataset::load_from_disk(tmp / "out")), test::dataset_rows(ds));
}

TEST(SaveToDisk, ShardsBySizeLikeDatasets) {
  Dataset ds = test::all_kinds_dataset(1003, 400);
  test::TempDir tmp;
  SaveOptions opt;
  opt.max_shard_bytes = 40'000;
  ds.save_to_disk(tmp / "out", opt);
  Dataset back = Dataset::load_from_disk(tmp / "out");
  const size_t n = back.data_files().size();
  ASSERT_GT(n, 2u);
  auto state = ojson::parse(test::read_text(tmp / "out" / "state.json"));
  ASSERT_EQ(state["_data_files"].size(), n);
  int64_t total = 0;
  for (size_t i = 0; i < n; ++i) {
    const std::string name = fmt::format("data-{:05d}-of-{:05d}.arrow", i, n);
    EXPECT_EQ(state["_data_files"][i]["filename"], name);
    EXPECT_EQ(back.data_files()[i].path.filename(), name);
    // Contiguous shards; the first 1003 % n get one row more.
    int64_t rows = 0;
    for (int64_t r : batch_rows_of(tmp / "out" / name)) rows += r;
    EXPECT_EQ(rows, static_cast<int64_t>(1003 / n + (i < 1003 % n ? 1 : 0))) << name;
    total += rows;
  }
  EXPECT_EQ(total, 1003);
  EXPECT_EQ(test::dataset_rows(back), test::dataset_rows(ds));
}

TEST(SaveToDisk, ExplicitShardCount) {
  Dataset ds = test::all_kinds_dataset(10, 10);
  test::TempDir tmp;
  SaveOptions opt;
  opt.num_shards = 3;
  ds.save_to_disk(tmp / "out", opt);
  EXPECT_EQ(batch_rows_of(tmp / "out" / "data-00000-of-00003.arrow"), std::vector<int64_t>{4});
  EXPECT_EQ(batch_rows_of(tmp / "out" / "data-00001-of-00003.arrow"), std::vector<int64_t>{3});
  EXPECT_EQ(batch_rows_of(tmp / "out" / "data-00002-of-00003.arrow"), std::vector<int64_t>{3});
  EXPECT_EQ(test::dataset_rows(Dataset::load_from_disk(tmp / "out")), test::dataset_rows(ds));
}

TEST(SaveToDisk, EmptyDatasetWritesOneShardWithTheSchema) {
  Dataset ds = test::all_kinds_dataset(0, 10);
  test::TempDir tmp;
  ds.save_to_disk(tmp / "out");
  Dataset back = Dataset::load_from_disk(tmp / "out");
  EXPECT_EQ(back.num_rows(), 0);
  EXPECT_EQ(back.column_names(), ds.column_names());
  EXPECT_TRUE(back.features() == ds.features());
  EXPECT_TRUE(fs::exists(tmp / "out" / "data-00000-of-00001.arrow"));
}

TEST(SaveToDisk, SlicedAndSelectedDatasetsRoundTrip) {
  Dataset ds = test::all_kinds_dataset(90, 25);
  test::TempDir tmp;
  Dataset s = ds.slice(13, 50);
  s.save_to_disk(tmp / "slice");
  EXPECT_EQ(test::dataset_rows(Dataset::load_from_disk(tmp / "slice")), test::dataset_rows(s));
  const std::vector<int64_t> idx = {89, 3, 3, 40, 41, 42, 0};
  Dataset sel = ds.select(idx);
  sel.save_to_disk(tmp / "select");
  EXPECT_EQ(test::dataset_rows(Dataset::load_from_disk(tmp / "select")), test::dataset_rows(sel));
}

TEST(SaveToDisk, OracleReadsWhatWeWrite) {
  MOUSE_REQUIRE_ORACLE();
  Dataset ds = test::all_kinds_dataset(1200, 700);
  test::TempDir tmp;
  SaveOptions opt;
  opt.num_shards = 2;
  ds.save_to_disk(tmp / "out", opt);
  Dataset back = Dataset::load_from_disk(tmp / "out");
  std::vector<json> theirs;
  for (const auto& f : back.data_files()) {
    auto part = test::oracle_rows(f.path);
    theirs.insert(theirs.end(), part.begin(), part.end());
    json schema = test::oracle_schema(f.path);
    EXPECT_EQ(schema["metadata"]["huggingface"], "{\"info\": {\"features\": " + ds.features().to_json() + "}}");
    for (const auto& field : schema["fields"]) EXPECT_TRUE(field["nullable"].get<bool>()) << field["name"];
    EXPECT_EQ(schema["fields"][15]["type"], "struct<bytes: binary, path: string>");
    EXPECT_EQ(schema["fields"][11]["type"], "fixed_size_list<item: float>[3]");
    for (const auto& rows : schema["batch_rows"]) EXPECT_LE(rows.get<int64_t>(), 1000);
  }
  test::expect_rows_match(ds, test::dataset_rows(ds), theirs, "saved all-kinds dataset");
}

TEST(SaveToDisk, WritesTheFilesDatasetsWritesForRealDatasets) {
  MOUSE_REQUIRE_TESTDATA();
  for (const char* dir : {"lerobot-pusht/train", "lerobot-pusht_image/train",
                          "lerobot-aloha_sim_insertion_human/train", "spiral-math-eval/minerva"}) {
    SCOPED_TRACE(dir);
    const fs::path src = test::hf_dir() / dir;
    Dataset ds = Dataset::load_from_disk(src);
    test::TempDir tmp;
    ds.save_to_disk(tmp / "out");
    // dataset_info.json and the `huggingface` metadata come out byte for byte as datasets
    // wrote them; state.json too except for the fingerprint.
    EXPECT_EQ(test::read_text(tmp / "out" / "dataset_info.json"),
              test::read_text(src / "dataset_info.json"));
    EXPECT_EQ(replace_fingerprint(test::read_text(tmp / "out" / "state.json")),
              replace_fingerprint(test::read_text(src / "state.json")));
    Dataset back = Dataset::load_from_disk(tmp / "out");
    EXPECT_EQ(*back.schema()->metadata_value("huggingface"),
              *ds.schema()->metadata_value("huggingface"));
    EXPECT_EQ(test::dataset_rows(back), test::dataset_rows(ds));
    if (test::oracle_available()) test::expect_matches_oracle(back, std::string(dir) + " re-saved");
  }
}

TEST(SaveToDisk, StateAndInfoHaveTheRealFilesStructure) {
  MOUSE_REQUIRE_TESTDATA();
  Dataset ds = test::all_kinds_dataset(20, 20);
  test::TempDir tmp;
  ds.save_to_disk(tmp / "out");
  auto real_state = ojson::parse(test::read_text(test::hf_dir() / "lerobot-pusht/train/state.json"));
  auto state = ojson::parse(test::read_text(tmp / "out" / "state.json"));
  std::vector<std::string> real_keys, keys;
  for (const auto& [k, v] : real_state.items()) real_keys.push_back(k);
  for (const auto& [k, v] : state.items()) keys.push_back(k);
  EXPECT_EQ(keys, real_keys);
  for (const auto& [k, v] : real_state.items()) EXPECT_EQ(state[k].type(), v.type()) << k;
  EXPECT_EQ(state["_data_files"], ojson::parse(R"([{"filename": "data-00000-of-00001.arrow"}])"));
  EXPECT_TRUE(std::regex_match(state["_fingerprint"].get<std::string>(), std::regex("[0-9a-f]{16}")));
  EXPECT_EQ(state["_format_kwargs"], ojson::object());
  EXPECT_EQ(state["_output_all_columns"], false);
  EXPECT_EQ(replace_fingerprint(test::read_text(tmp / "out" / "state.json")),
            replace_fingerprint(test::read_text(test::hf_dir() / "lerobot-pusht/train/state.json")));

  auto real_info = ojson::parse(test::read_text(test::hf_dir() / "lerobot-pusht/train/dataset_info.json"));
  auto info = ojson::parse(test::read_text(tmp / "out" / "dataset_info.json"));
  std::vector<std::string> real_info_keys, info_keys;
  for (const auto& [k, v] : real_info.items()) real_info_keys.push_back(k);
  for (const auto& [k, v] : info.items()) info_keys.push_back(k);
  EXPECT_EQ(info_keys, real_info_keys);
  EXPECT_EQ(info["features"], ojson::parse(ds.features().to_json()));
}

TEST(SaveToDisk, FingerprintFollowsContent) {
  test::TempDir tmp;
  test::all_kinds_dataset(30, 30).save_to_disk(tmp / "a");
  test::all_kinds_dataset(30, 10).save_to_disk(tmp / "b");
  test::all_kinds_dataset(31, 30).save_to_disk(tmp / "c");
  auto fp = [&](const char* d) { return Dataset::load_from_disk(tmp / d).fingerprint(); };
  EXPECT_NE(fp("a"), fp("c"));
  EXPECT_EQ(fp("a").size(), 16u);
  EXPECT_NE(fp("a"), fp("b"));  // different batch layout, different bytes
  test::all_kinds_dataset(30, 30).save_to_disk(tmp / "a2");
  EXPECT_EQ(fp("a"), fp("a2"));
}

TEST(SaveToDisk, DatasetDictRoundTripIsByteCompatible) {
  MOUSE_REQUIRE_TESTDATA();
  const fs::path src = test::hf_dir() / "spiral-math-eval";
  DatasetDict dict = DatasetDict::load_from_disk(src);
  test::TempDir tmp;
  dict.save_to_disk(tmp / "dict");
  EXPECT_EQ(test::read_text(tmp / "dict" / "dataset_dict.json"),
            test::read_text(src / "dataset_dict.json"));
  auto loaded = load_from_disk(tmp / "dict");
  ASSERT_TRUE(std::holds_alternative<DatasetDict>(loaded));
  const auto& back = std::get<DatasetDict>(loaded);
  EXPECT_EQ(back.split_names(), dict.split_names());
  for (const auto& name : dict.split_names()) {
    EXPECT_EQ(test::dataset_rows(back.at(name)), test::dataset_rows(dict.at(name))) << name;
    EXPECT_EQ(test::read_text(tmp / "dict" / name / "dataset_info.json"),
              test::read_text(src / name / "dataset_info.json"));
  }
  EXPECT_TRUE(leftovers(tmp.path()).empty());
}

TEST(SaveToDisk, InMemoryDatasetDict) {
  DatasetDict dict;
  dict.insert("train", test::all_kinds_dataset(12, 5));
  dict.insert("test", test::all_kinds_dataset(4, 5));
  test::TempDir tmp;
  dict.save_to_disk(tmp / "d");
  EXPECT_EQ(test::read_text(tmp / "d" / "dataset_dict.json"), R"({"splits": ["train", "test"]})");
  DatasetDict back = DatasetDict::load_from_disk(tmp / "d");
  EXPECT_EQ(back.split_names(), (std::vector<std::string>{"train", "test"}));
  EXPECT_EQ(test::dataset_rows(back.at("train")), test::dataset_rows(dict.at("train")));
  EXPECT_EQ(back.at("test").num_rows(), 4);
}

TEST(SaveToDisk, ReplacesAnExistingDirectory) {
  test::TempDir tmp;
  fs::create_directories(tmp / "out" / "sub");
  test::write_text(tmp / "out" / "junk.txt", "old");
  test::write_text(tmp / "out" / "sub" / "more.txt", "old");
  Dataset ds = test::all_kinds_dataset(10, 10);
  ds.save_to_disk(tmp / "out");
  EXPECT_FALSE(fs::exists(tmp / "out" / "junk.txt"));
  EXPECT_FALSE(fs::exists(tmp / "out" / "sub"));
  EXPECT_EQ(Dataset::load_from_disk(tmp / "out").num_rows(), 10);
  EXPECT_TRUE(leftovers(tmp.path()).empty());
  // Parents are created as datasets does; a trailing slash names the same directory.
  ds.save_to_disk(tmp.path() / "a" / "b" / "c" / "");
  EXPECT_EQ(Dataset::load_from_disk(tmp / "a/b/c").num_rows(), 10);
}

TEST(SaveToDisk, IntoTheDirectoryItIsMappedFrom) {
  MOUSE_REQUIRE_TESTDATA();
  test::TempDir tmp;
  test::copy_tree(test::hf_dir() / "lerobot-pusht_image/train", tmp / "ds");
  Dataset ds = Dataset::load_from_disk(tmp / "ds");
  const auto before = test::dataset_rows(ds);
  SaveOptions opt;
  opt.num_shards = 2;
  ds.save_to_disk(tmp / "ds", opt);
  // The old mapping stays readable, and the directory now holds the new shards.
  EXPECT_EQ(test::dataset_rows(ds), before);
  Dataset back = Dataset::load_from_disk(tmp / "ds");
  EXPECT_EQ(back.data_files().size(), 2u);
  EXPECT_FALSE(fs::exists(tmp / "ds" / "data-00000-of-00001.arrow"));
  EXPECT_EQ(test::dataset_rows(back), before);
  EXPECT_TRUE(leftovers(tmp.path()).empty());
}

// Makes writes beyond `bytes` fail with EFBIG (works for root too, unlike permissions).
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    old_handler_ = ::signal(SIGXFSZ, SIG_IGN);
    ::getrlimit(RLIMIT_FSIZE, &old_);
    rlimit lim = old_;
    lim.rlim_cur = bytes;
    ::setrlimit(RLIMIT_FSIZE, &lim);
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &old_);
    ::signal(SIGXFSZ, old_handler_);
  }

 private:
  rlimit old_{};
  sighandler_t old_handler_;
};

TEST(SaveToDisk, FailureMidwayLeavesNoPartialDirectory) {
  test::TempDir tmp;
  Dataset ds = test::all_kinds_dataset(3000, 1000);
  SaveOptions opt;
  opt.num_shards = 3;
  {
    FileSizeLimit limit(16 * 1024);
    EXPECT_THROW_MSG(ds.save_to_disk(tmp / "new", opt), IoError, "data-0000");
  }
  EXPECT_FALSE(fs::exists(tmp / "new"));
  EXPECT_TRUE(leftovers(tmp.path()).empty());

  // An existing dataset is left exactly as it was.
  Dataset small = test::all_kinds_dataset(5, 5);
  small.save_to_disk(tmp / "existing");
  const auto state_before = test::read_text(tmp / "existing" / "state.json");
  {
    FileSizeLimit limit(16 * 1024);
    EXPECT_THROW(ds.save_to_disk(tmp / "existing", opt), IoError);
  }
  EXPECT_EQ(test::read_text(tmp / "existing" / "state.json"), state_before);
  EXPECT_EQ(Dataset::load_from_disk(tmp / "existing").num_rows(), 5);
  EXPECT_TRUE(leftovers(tmp.path()).empty());

  // The same for a DatasetDict.
  DatasetDict dict;
  dict.insert("a", small);
  dict.insert("b", ds);
  {
    FileSizeLimit limit(16 * 1024);
    EXPECT_THROW(dict.save_to_disk(tmp / "dict", opt), IoError);
  }
  EXPECT_FALSE(fs::exists(tmp / "dict"));
  EXPECT_TRUE(leftovers(tmp.path()).empty());
}

TEST(SaveToDisk, TargetThatIsAFileIsIoError) {
  test::TempDir tmp;
  test::write_text(tmp / "file", "keep");
  EXPECT_THROW_MSG(test::all_kinds_dataset(3, 3).save_to_disk(tmp / "file"), IoError,
                   "exists and is not a directory");
  EXPECT_EQ(test::read_text(tmp / "file"), "keep");
}

TEST(SaveToDisk, BadOptionsAreInvalidArgument) {
  test::TempDir tmp;
  Dataset ds = test::all_kinds_dataset(3, 3);
  SaveOptions a;
  a.max_shard_bytes = 0;
  EXPECT_THROW_MSG(ds.save_to_disk(tmp / "x", a), InvalidArgument, "max_shard_bytes");
  SaveOptions b;
  b.max_batch_rows = 0;
  EXPECT_THROW_MSG(ds.save_to_disk(tmp / "x", b), InvalidArgument, "max_batch_rows");
  SaveOptions c;
  c.num_shards = 0;
  EXPECT_THROW_MSG(ds.save_to_disk(tmp / "x", c), InvalidArgument, "num_shards");
  EXPECT_FALSE(fs::exists(tmp / "x"));
}

}  // namespace
}  // namespace mouse
