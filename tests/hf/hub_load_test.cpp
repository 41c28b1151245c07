// load_hub_layout: README configs, file-name conventions, split order, the Arrow cache (reuse
// without decoding, per-shard invalidation) and error messages.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <thread>

#include "hf/hf_test_util.hpp"
#include "hf/hub_files.hpp"
#include "mouse/hub.hpp"
#include "mouse/parquet.hpp"

namespace mouse {
namespace {

namespace fs = std::filesystem;
using test::json;
using test::ScopedEnv;
using test::TempDir;

// A step-like shard: `rows` rows starting at `first`: action int64, reward float, obs list<float>.
void write_shard(const fs::path& path, int64_t first, int64_t rows, bool hf_metadata = true) {
  using namespace arrow;
  std::vector<int64_t> action, offsets{0};
  std::vector<float> reward, obs;
  for (int64_t r = first; r < first + rows; ++r) {
    action.push_back(r);
    reward.push_back(static_cast<float>(r) * 0.5f);
    for (int64_t j = 0; j < r % 3; ++j) obs.push_back(static_cast<float>(r * 10 + j));
    offsets.push_back(static_cast<int64_t>(obs.size()));
  }
  RecordBatch batch = make_batch({"action", "reward", "obs"},
                                 {make_primitive<int64_t>(action), make_primitive<float>(reward),
                                  make_list(offsets, make_primitive<float>(obs))});
  auto schema = std::make_shared<Schema>(*batch.schema);
  if (hf_metadata) {
    schema->metadata = {
        {"huggingface",
         R"({"info": {"features": {"action": {"names": )"
         R"(["a0", "a1"], "_type": "ClassLabel"}, "reward": {"dtype": "float32", )"
         R"("_type": "Value"}, "obs": {"feature": {"dtype": "float32", "_type": "Value"}, )"
         R"("_type": "Sequence"}}}})"}};
  }
  batch.schema = schema;
  fs::create_directories(path.parent_path());
  std::vector<RecordBatch> batches{batch};
  parquet::write_parquet(path, schema, batches);
}

std::vector<int64_t> actions(const Dataset& ds) {
  std::vector<int64_t> out;
  for (const auto& row : test::dataset_rows(ds)) out.push_back(row["action"].get<int64_t>());
  return out;
}

std::vector<int64_t> iota(int64_t from, int64_t to) {
  std::vector<int64_t> v;
  for (int64_t i = from; i < to; ++i) v.push_back(i);
  return v;
}

void set_mtime_ns(const fs::path& p, const struct timespec& t) {
  struct timespec times[2] = {t, t};
  ASSERT_EQ(::utimensat(AT_FDCWD, p.c_str(), times, 0), 0);
}

struct timespec mtime_of(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0);
  return st.st_mtim;
}

// The default cache of these tests: MOUSE_DATA_CACHE inside the test's temporary directory.
struct TestCache {
  explicit TestCache(const TempDir& tmp)
      : root(tmp / "user-cache"), env("MOUSE_DATA_CACHE", root.c_str()) {}
  fs::path root;
  ScopedEnv env;
};

// Every file and directory under `dir`, relative to it.
std::set<std::string> tree(const fs::path& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    out.insert(fs::relative(e.path(), dir).string());
  }
  return out;
}

// The entry directories of a cache.
std::set<std::string> entries(const fs::path& cache) {
  std::set<std::string> out;
  for (const auto& e : fs::directory_iterator(cache)) out.insert(e.path().filename().string());
  return out;
}

TEST(HubLoad, ConventionNamesGiveSplitsInTrainValidationTestThenAlphabeticalOrder) {
  TempDir tmp;
  TestCache cache(tmp);
  write_shard(tmp / "data/zeta-00000-of-00001.parquet", 500, 3);
  write_shard(tmp / "data/test-00000-of-00001.parquet", 300, 4);
  write_shard(tmp / "data/train-00001-of-00002.parquet", 10, 5);
  write_shard(tmp / "data/train-00000-of-00002.parquet", 0, 10);
  write_shard(tmp / "data/alpha-00000-of-00001.parquet", 400, 2);
  write_shard(tmp / "data/validation-00000-of-00001.parquet", 200, 6);
  HubLoadStats stats;
  const DatasetDict dict = load_hub_layout(tmp.path(), {}, &stats);
  EXPECT_EQ(dict.split_names(),
            (std::vector<std::string>{"train", "validation", "test", "alpha", "zeta"}));
  EXPECT_EQ(actions(dict.at("train")), iota(0, 15));  // shards in name order
  EXPECT_EQ(actions(dict.at("test")), iota(300, 304));
  EXPECT_EQ(stats.shards, 6);
  EXPECT_EQ(stats.shards_decoded, 6);
  EXPECT_EQ(stats.shards_cached, 0);
  const Dataset& train = dict.at("train");
  EXPECT_EQ(train.features().type_of("action"), "ClassLabel(num_classes=2)");
  EXPECT_EQ(train.features().type_of("obs"), "Sequence(Value(float32))");
  const auto rows = test::dataset_rows(train);
  EXPECT_EQ(rows[5]["obs"], json::parse("[50.0, 51.0]"));
  EXPECT_FLOAT_EQ(rows[7]["reward"].get<float>(), 3.5f);
  // The rows are mapped from the Arrow cache, not held in memory.
  ASSERT_FALSE(train.data_files().empty());
  const auto mapped = train.data_files()[0].path.string();
  EXPECT_EQ(mapped.rfind((cache.root / "hub").string(), 0), 0u) << mapped;
}

TEST(HubLoad, DefaultCacheLeavesTheInputDirectoryUntouched) {
  TempDir tmp;
  TestCache cache(tmp);
  const fs::path in = tmp / "in";
  write_shard(in / "data/train-00000-of-00001.parquet", 0, 4);
  const auto before = tree(in);
  HubLoadStats stats;
  load_hub_layout(in, {}, &stats);
  EXPECT_EQ(stats.shards_decoded, 1);
  EXPECT_EQ(tree(in), before);
  EXPECT_EQ(entries(cache.root / "hub").size(), 1u);
}

TEST(HubLoad, DefaultCacheDirFollowsTheEnvironment) {
  ScopedEnv a("MOUSE_DATA_CACHE", "/m/cache");
  ScopedEnv b("XDG_CACHE_HOME", "/x/cache");
  ScopedEnv c("HOME", "/home/u");
  EXPECT_EQ(default_hub_cache_dir(), fs::path("/m/cache/hub"));
  {
    ScopedEnv empty("MOUSE_DATA_CACHE", "");  // empty counts as unset
    EXPECT_EQ(default_hub_cache_dir(), fs::path("/x/cache/mouse-data/hub"));
    ScopedEnv no_xdg("XDG_CACHE_HOME", nullptr);
    EXPECT_EQ(default_hub_cache_dir(), fs::path("/home/u/.cache/mouse-data/hub"));
    ScopedEnv no_home("HOME", nullptr);
    EXPECT_THROW(
        {
          try {
            default_hub_cache_dir();
          } catch (const InvalidArgument& e) {
            EXPECT_NE(std::string(e.what()).find("MOUSE_DATA_CACHE"), std::string::npos);
            throw;
          }
        },
        InvalidArgument);
  }
}

TEST(HubLoad, StaleCacheEntriesAreRemovedAfterALoad) {
  TempDir tmp;
  TestCache cache(tmp);
  HubLoadOptions opt;
  opt.cache_dir = tmp / "cache";
  write_shard(tmp / "data/train-00000-of-00002.parquet", 0, 5);
  write_shard(tmp / "data/train-00001-of-00002.parquet", 5, 5);
  HubLoadStats stats;
  load_hub_layout(tmp.path(), opt, &stats);
  EXPECT_EQ(stats.stale_entries_removed, 0);
  const auto old_entries = entries(tmp / "cache");
  ASSERT_EQ(old_entries.size(), 2u);

  // Things that are not stale entries stay: a file, a directory named unlike an entry, and an
  // entry without fingerprint that another process may be filling right now.
  test::write_text(tmp / "cache/notes.txt", "mine");
  fs::create_directories(tmp / "cache/keep-me");
  fs::create_directories(tmp / "cache/train-00000-of-00009-0123456789abcdef/data");
  // An entry left without fingerprint two days ago by an interrupted load goes.
  const fs::path abandoned = tmp / "cache/train-00000-of-00007-fedcba9876543210";
  fs::create_directories(abandoned);
  fs::last_write_time(abandoned, fs::file_time_type::clock::now() - std::chrono::hours(48));

  // The dataset is saved again with three shards: the two old entries lose their source.
  fs::remove_all(tmp / "data");
  write_shard(tmp / "data/train-00000-of-00003.parquet", 0, 4);
  write_shard(tmp / "data/train-00001-of-00003.parquet", 4, 4);
  write_shard(tmp / "data/train-00002-of-00003.parquet", 8, 2);
  HubLoadOptions keep = opt;
  keep.remove_stale_cache = false;
  load_hub_layout(tmp.path(), keep, &stats);
  EXPECT_EQ(stats.stale_entries_removed, 0);
  EXPECT_EQ(entries(tmp / "cache").size(), 2u + 3u + 4u);

  const DatasetDict dict = load_hub_layout(tmp.path(), opt, &stats);
  EXPECT_EQ(stats.shards_cached, 3);
  EXPECT_EQ(stats.stale_entries_removed, 3);
  EXPECT_EQ(actions(dict.at("train")), iota(0, 10));
  const auto now = entries(tmp / "cache");
  for (const auto& e : old_entries) EXPECT_EQ(now.count(e), 0u) << e;
  EXPECT_EQ(now.count("notes.txt"), 1u);
  EXPECT_EQ(now.count("keep-me"), 1u);
  EXPECT_EQ(now.count("train-00000-of-00009-0123456789abcdef"), 1u);
  EXPECT_EQ(now.count(abandoned.filename().string()), 0u);
  EXPECT_EQ(now.size(), 3u + 3u);
}

TEST(HubLoad, ReadmeConfigsChooseFilesAndSplitOrder) {
  TempDir tmp;
  TestCache cache(tmp);
  write_shard(tmp / "data/train-00000-of-00001.parquet", 0, 4);
  write_shard(tmp / "data/test-00000-of-00001.parquet", 100, 2);
  write_shard(tmp / "other/a.parquet", 200, 3);
  write_shard(tmp / "other/b.parquet", 300, 3);
  test::write_text(
      tmp / "README.md",
      "---\nlicense: mit\nconfigs:\n- config_name: default\n  data_files:\n"
      "  - split: test\n    path: data/test-*\n  - split: train\n    path: \"data/train-*\"\n"
      "- config_name: extra\n  data_files:\n  - split: everything\n    path:\n"
      "    - other/b.parquet\n    - other/a*\n- config_name: flat\n  data_files: \"**/*.parquet\"\n"
      "---\n# A dataset\n");
  const DatasetDict dict = load_hub_layout(tmp.path());
  EXPECT_EQ(dict.split_names(), (std::vector<std::string>{"test", "train"}));
  EXPECT_EQ(actions(dict.at("train")), iota(0, 4));

  HubLoadOptions extra;
  extra.config_name = "extra";
  const DatasetDict e = load_hub_layout(tmp.path(), extra);
  EXPECT_EQ(e.split_names(), (std::vector<std::string>{"everything"}));
  auto expect = iota(200, 203);
  auto more = iota(300, 303);
  expect.insert(expect.end(), more.begin(), more.end());
  EXPECT_EQ(actions(e.at("everything")), expect);  // files in name order

  HubLoadOptions flat;
  flat.config_name = "flat";
  const DatasetDict f = load_hub_layout(tmp.path(), flat);
  EXPECT_EQ(f.split_names(), (std::vector<std::string>{"train"}));
  EXPECT_EQ(f.at("train").num_rows(), 4 + 2 + 3 + 3);  // the cache dir is hidden from **

  HubLoadOptions unknown;
  unknown.config_name = "nope";
  EXPECT_THROW_MSG(load_hub_layout(tmp.path(), unknown), KeyError,
                   "config \"nope\" not found; available configs: default, extra, flat");
}

TEST(HubLoad, ConfigDirectoriesAndFirstConfigByDefault) {
  TempDir tmp;
  TestCache cache(tmp);
  write_shard(tmp / "beta/train-00000-of-00001.parquet", 50, 2);
  write_shard(tmp / "alpha/train-00000-of-00001.parquet", 0, 3);
  write_shard(tmp / "alpha/test-00000-of-00001.parquet", 10, 1);
  EXPECT_EQ(load_hub_layout(tmp.path()).split_names(), (std::vector<std::string>{"train", "test"}));
  HubLoadOptions beta;
  beta.config_name = "beta";
  EXPECT_EQ(actions(load_hub_layout(tmp.path(), beta).at("train")), iota(50, 52));
  beta.config_name = "gamma";
  EXPECT_THROW_MSG(load_hub_layout(tmp.path(), beta), KeyError, "available configs: alpha, beta");
}

TEST(HubLoad, HubCacheSnapshotWithSymlinkedBlobs) {
  TempDir tmp;
  TestCache cache(tmp);
  const fs::path repo = tmp / "datasets--org--steps";
  const fs::path snap = repo / "snapshots/0123abcd";
  write_shard(repo / "blobs/aaa", 0, 6);
  write_shard(repo / "blobs/bbb", 100, 2);
  fs::create_directories(snap / "data");
  fs::create_symlink("../../../blobs/aaa", snap / "data/train-00000-of-00001.parquet");
  fs::create_symlink("../../../blobs/bbb", snap / "data/test-00000-of-00001.parquet");
  HubLoadOptions opt;
  opt.cache_dir = tmp / "cache";
  const DatasetDict dict = load_hub_layout(snap, opt);
  EXPECT_EQ(dict.split_names(), (std::vector<std::string>{"train", "test"}));
  EXPECT_EQ(actions(dict.at("test")), iota(100, 102));
  HubLoadStats stats;
  load_hub_layout(snap, opt, &stats);
  EXPECT_EQ(stats.shards_cached, 2);
}

TEST(HubLoad, FeaturesInferredWithoutHuggingfaceMetadata) {
  TempDir tmp;
  TestCache cache(tmp);
  write_shard(tmp / "data/train-00000-of-00001.parquet", 0, 5, /*hf_metadata=*/false);
  const DatasetDict dict = load_hub_layout(tmp.path());
  EXPECT_EQ(dict.at("train").features().type_of("action"), "Value(int64)");
  EXPECT_EQ(actions(dict.at("train")), iota(0, 5));
}

TEST(HubLoad, SecondLoadMapsTheCacheWithoutDecoding) {
  TempDir tmp;
  TestCache cache(tmp);
  const fs::path a = tmp / "data/train-00000-of-00002.parquet";
  const fs::path b = tmp / "data/train-00001-of-00002.parquet";
  write_shard(a, 0, 20);
  write_shard(b, 20, 20);
  std::vector<std::pair<int64_t, int64_t>> progress;
  HubLoadOptions opt;
  opt.cache_dir = tmp / "cache";
  opt.progress = [&](int64_t done, int64_t total) { progress.emplace_back(done, total); };
  HubLoadStats first;
  load_hub_layout(tmp.path(), opt, &first);
  EXPECT_EQ(first.shards_decoded, 2);
  EXPECT_EQ(progress, (std::vector<std::pair<int64_t, int64_t>>{{1, 2}, {2, 2}}));
  EXPECT_FALSE(fs::exists(tmp / ".mouse-cache"));

  // Proof that nothing is decoded: overwrite shard a with garbage of the same size and restore
  // its mtime. A decode would throw; the cached load still returns the original values.
  const auto t = mtime_of(a);
  const auto size = fs::file_size(a);
  test::write_text(a, std::string(size, '\x5a'));
  set_mtime_ns(a, t);
  HubLoadStats second;
  const DatasetDict again = load_hub_layout(tmp.path(), opt, &second);
  EXPECT_EQ(second.shards_decoded, 0);
  EXPECT_EQ(second.shards_cached, 2);
  EXPECT_EQ(actions(again.at("train")), iota(0, 40));
}

TEST(HubLoad, ChangedShardInvalidatesOnlyItsOwnCache) {
  TempDir tmp;
  TestCache cache(tmp);
  const fs::path a = tmp / "data/train-00000-of-00002.parquet";
  const fs::path b = tmp / "data/train-00001-of-00002.parquet";
  write_shard(a, 0, 10);
  write_shard(b, 10, 10);
  load_hub_layout(tmp.path());
  write_shard(b, 1000, 7);  // new content, new size and mtime
  HubLoadStats stats;
  const DatasetDict dict = load_hub_layout(tmp.path(), {}, &stats);
  EXPECT_EQ(stats.shards_decoded, 1);
  EXPECT_EQ(stats.shards_cached, 1);
  auto expect = iota(0, 10);
  auto more = iota(1000, 1007);
  expect.insert(expect.end(), more.begin(), more.end());
  EXPECT_EQ(actions(dict.at("train")), expect);

  // Same size, only the mtime moves: still re-decoded.
  auto t = mtime_of(a);
  t.tv_nsec = (t.tv_nsec + 1) % 1'000'000'000;
  set_mtime_ns(a, t);
  load_hub_layout(tmp.path(), {}, &stats);
  EXPECT_EQ(stats.shards_decoded, 1);
  EXPECT_EQ(stats.shards_cached, 1);
}

TEST(HubLoad, DamagedCacheEntryIsRebuilt) {
  TempDir tmp;
  TestCache cache(tmp);
  write_shard(tmp / "data/train-00000-of-00001.parquet", 0, 10);
  load_hub_layout(tmp.path());
  for (const auto& e : fs::recursive_directory_iterator(cache.root)) {
    if (e.path().extension() == ".arrow") test::write_text(e.path(), "broken");
  }
  HubLoadStats stats;
  EXPECT_EQ(actions(load_hub_layout(tmp.path(), {}, &stats).at("train")), iota(0, 10));
  EXPECT_EQ(stats.shards_decoded, 1);
}

TEST(HubLoadErrors, NoParquetFilesNamesTheDirectory) {
  TempDir tmp;
  TestCache cache(tmp);
  fs::create_directories(tmp / "data");
  test::write_text(tmp / "data/notes.txt", "x");
  EXPECT_THROW_MSG(load_hub_layout(tmp.path()), FormatError, "no Parquet files");
  EXPECT_THROW_MSG(load_hub_layout(tmp / "missing"), IoError, "not a directory");
}

TEST(HubLoadErrors, MalformedReadmeNamesTheFileAndLine) {
  TempDir tmp;
  TestCache cache(tmp);
  write_shard(tmp / "data/train-00000-of-00001.parquet", 0, 2);
  test::write_text(tmp / "README.md",
                   "---\nconfigs:\n- config_name: default\n  data_files: [unclosed\n---\n");
  EXPECT_THROW_MSG(load_hub_layout(tmp.path()), FormatError, "README.md");
  EXPECT_THROW_MSG(load_hub_layout(tmp.path()), FormatError, "malformed YAML front matter");
  try {
    load_hub_layout(tmp.path());
  } catch (const FormatError& e) {
    EXPECT_NE(e.source().find("README.md"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("line "), std::string::npos) << e.what();
  }

  test::write_text(tmp / "README.md", "---\nconfigs: 3\n---\n");
  EXPECT_THROW_MSG(load_hub_layout(tmp.path()), FormatError,
                   "configs: expected a non-empty list, found a scalar");

  test::write_text(tmp / "README.md",
                   "---\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n---\n");
  EXPECT_THROW_MSG(load_hub_layout(tmp.path()), FormatError, "expected entries {split, path}");

  test::write_text(tmp / "README.md",
                   "---\nconfigs:\n- config_name: default\n  data_files:\n"
                   "  - split: train\n    path: data/nothing-*\n---\n");
  EXPECT_THROW_MSG(load_hub_layout(tmp.path()), FormatError,
                   "pattern \"data/nothing-*\" matches no .parquet file");

  test::write_text(tmp / "README.md", "---\nlicense: mit\n");
  EXPECT_THROW_MSG(load_hub_layout(tmp.path()), FormatError, "no closing '---'");

  // A README without configs (or without front matter) falls back to the file names.
  test::write_text(tmp / "README.md", "---\nlicense: mit\n---\n");
  EXPECT_EQ(load_hub_layout(tmp.path()).split_names(), (std::vector<std::string>{"train"}));
  test::write_text(tmp / "README.md", "# Title only\n");
  EXPECT_EQ(load_hub_layout(tmp.path()).split_names(), (std::vector<std::string>{"train"}));
}

TEST(HubLoadErrors, CorruptShardIsAFormatErrorNamingIt) {
  TempDir tmp;
  TestCache cache(tmp);
  fs::create_directories(tmp / "data");
  test::write_text(tmp / "data/train-00000-of-00001.parquet", "not parquet at all");
  EXPECT_THROW_MSG(load_hub_layout(tmp.path()), FormatError, "train-00000-of-00001.parquet");
}

TEST(HubLoadErrors, FeaturesThatDisagreeWithTheShardNameIt) {
  TempDir tmp;
  TestCache cache(tmp);
  const fs::path shard = tmp / "data/train-00000-of-00001.parquet";
  arrow::RecordBatch batch =
      arrow::make_batch({"x"}, {arrow::make_primitive<int64_t>(std::vector<int64_t>{1, 2})});
  auto schema = std::make_shared<arrow::Schema>(*batch.schema);
  schema->metadata = {
      {"huggingface", R"({"info": {"features": {"y": {"dtype": "int64", "_type": "Value"}}}})"}};
  batch.schema = schema;
  fs::create_directories(shard.parent_path());
  std::vector<arrow::RecordBatch> batches{batch};
  parquet::write_parquet(shard, schema, batches);
  EXPECT_THROW_MSG(load_hub_layout(tmp.path()), FormatError, "train-00000-of-00001.parquet");
}

TEST(HubLoadFiles, SplitNameFromFileName) {
  EXPECT_EQ(detail::split_of_file_name("train-00000-of-00003.parquet"), "train");
  EXPECT_EQ(detail::split_of_file_name("my-split-00002-of-00003.parquet"), "my-split");
  EXPECT_EQ(detail::split_of_file_name("test-part1.parquet"), "test");
  EXPECT_EQ(detail::split_of_file_name("validation.parquet"), "validation");
}

TEST(HubLoad, HubParquetConversionLayoutFromTestdata) {
  MOUSE_REQUIRE_TESTDATA();
  const fs::path repo = test::hf_dir() / "croissant-pollen-apple-storage/data/repo";
  TempDir tmp;
  TestCache cache(tmp);
  HubLoadOptions opt;
  opt.cache_dir = tmp / "cache";
  const DatasetDict dict = load_hub_layout(repo, opt);
  ASSERT_EQ(dict.split_names(), (std::vector<std::string>{"train"}));
  const auto info = parquet::inspect_parquet(repo / "default/train/0000.parquet");
  EXPECT_EQ(dict.at("train").num_rows(), info.footer_num_rows);
  EXPECT_GT(dict.at("train").num_columns(), 1);
  HubLoadStats stats;
  load_hub_layout(repo, opt, &stats);
  EXPECT_EQ(stats.shards_cached, 1);
  EXPECT_FALSE(fs::exists(repo / ".mouse-cache"));
}

TEST(HubLoad, ConcurrentLoadsThroughOneCacheDecodeEachShardOnce) {
  TempDir tmp;
  write_shard(tmp / "data/train-00000-of-00002.parquet", 0, 300);
  write_shard(tmp / "data/train-00001-of-00002.parquet", 300, 300);
  write_shard(tmp / "data/test-00000-of-00001.parquet", 1000, 50);
  HubLoadOptions opt;
  opt.cache_dir = tmp / "cache";
  constexpr int kThreads = 4;
  std::vector<HubLoadStats> stats(kThreads);
  std::vector<std::vector<int64_t>> train(kThreads);
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      try {
        train[t] = actions(load_hub_layout(tmp.path(), opt, &stats[t]).at("train"));
      } catch (const std::exception& e) {
        errors[t] = e.what();
      }
    });
  }
  for (auto& th : threads) th.join();
  int64_t decoded = 0;
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(errors[t], "") << t;
    EXPECT_EQ(train[t], iota(0, 600)) << t;
    EXPECT_EQ(stats[t].shards_decoded + stats[t].shards_cached, 3) << t;
    decoded += stats[t].shards_decoded;
  }
  EXPECT_EQ(decoded, 3);  // the others waited on the entry's lock, then mapped its result
}

TEST(HubLoad, StaleEntryInUseIsKeptUntilItsLockIsFree) {
  TempDir tmp;
  HubLoadOptions opt;
  opt.cache_dir = tmp / "cache";
  write_shard(tmp / "a/data/train-00000-of-00001.parquet", 0, 5);
  write_shard(tmp / "b/data/train-00000-of-00001.parquet", 10, 5);
  load_hub_layout(tmp / "a", opt);
  const auto entry_a = *entries(tmp / "cache").begin();

  // Another holder (here: this test) has entry a locked while its source disappears.
  const int fd = ::open((tmp / "cache" / entry_a / "lock").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX), 0);
  fs::remove_all(tmp / "a");
  HubLoadStats stats;
  load_hub_layout(tmp / "b", opt, &stats);
  EXPECT_EQ(stats.stale_entries_removed, 0);
  EXPECT_EQ(entries(tmp / "cache").count(entry_a), 1u);

  ::close(fd);  // released: the next load removes it
  load_hub_layout(tmp / "b", opt, &stats);
  EXPECT_EQ(stats.stale_entries_removed, 1);
  EXPECT_EQ(entries(tmp / "cache").count(entry_a), 0u);
  EXPECT_EQ(entries(tmp / "cache").size(), 1u);
}

TEST(LoadDataset, EitherLayoutAsADatasetDict) {
  TempDir tmp;
  HubLoadOptions opt;
  opt.cache_dir = tmp / "cache";
  write_shard(tmp / "hub/data/train-00000-of-00001.parquet", 0, 6);
  write_shard(tmp / "hub/data/test-00000-of-00001.parquet", 100, 2);
  HubLoadStats stats;
  const DatasetDict hub = load_dataset(tmp / "hub", opt, &stats);
  EXPECT_EQ(hub.split_names(), (std::vector<std::string>{"train", "test"}));
  EXPECT_EQ(hub.at("test").split(), std::optional<std::string>("test"));
  EXPECT_EQ(stats.shards_decoded, 2);

  hub.save_to_disk(tmp / "dict");
  const DatasetDict dict = load_dataset(tmp / "dict", opt, &stats);
  EXPECT_EQ(dict.split_names(), (std::vector<std::string>{"train", "test"}));
  EXPECT_EQ(actions(dict.at("test")), iota(100, 102));
  EXPECT_EQ(stats.shards, 0);  // no Parquet involved

  hub.at("test").save_to_disk(tmp / "one");
  const DatasetDict one = load_dataset(tmp / "one");
  EXPECT_EQ(one.split_names(), (std::vector<std::string>{"test"}));  // named by its split
  EXPECT_EQ(actions(one.at("test")), iota(100, 102));

  fs::create_directories(tmp / "empty");
  EXPECT_THROW_MSG(load_dataset(tmp / "empty"), FormatError, "not a dataset");
  EXPECT_THROW_MSG(load_dataset(tmp / "missing"), IoError, "no such file or directory");
}

// Shards without `huggingface` metadata take their features from the README's dataset_info.
TEST(HubLoad, ReadmeDatasetInfoFeaturesApplyToShardsWithoutMetadata) {
  TempDir tmp;
  HubLoadOptions opt;
  opt.cache_dir = tmp / "cache";
  write_shard(tmp / "data/train-00000-of-00001.parquet", 0, 5, /*hf_metadata=*/false);
  const std::string configs =
      "configs:\n- config_name: default\n  data_files:\n  - split: train\n    path: data/train-*\n";
  const std::string features =
      "  features:\n  - name: action\n    dtype:\n      class_label:\n        names:\n"
      "          '1': right\n          '0': left\n  - name: reward\n    dtype: float32\n"
      "  - name: obs\n    sequence: float32\n";
  test::write_text(tmp / "README.md", "---\ndataset_info:\n" + features + configs + "---\n");
  HubLoadStats stats;
  DatasetDict dict = load_hub_layout(tmp.path(), opt, &stats);
  EXPECT_EQ(stats.shards_decoded, 1);
  const Features& f = dict.at("train").features();
  EXPECT_EQ(f.type_of("action"), "ClassLabel(num_classes=2)");
  EXPECT_EQ(json::parse(f.to_json())["action"]["names"], json::parse(R"(["left", "right"])"));
  EXPECT_EQ(f.type_of("obs"), "Sequence(Value(float32))");
  EXPECT_EQ(actions(dict.at("train")), iota(0, 5));

  // Cached with those features; editing them in the README rebuilds the entry.
  load_hub_layout(tmp.path(), opt, &stats);
  EXPECT_EQ(stats.shards_cached, 1);
  test::write_text(tmp / "README.md",
                   "---\ndataset_info:\n" + features.substr(0, features.find("  - name: reward")) +
                       "  - name: reward\n    dtype: float32\n  - name: obs\n    list: float32\n" +
                       configs + "---\n");
  dict = load_hub_layout(tmp.path(), opt, &stats);
  EXPECT_EQ(stats.shards_decoded, 1);
  EXPECT_EQ(dict.at("train").features().type_of("obs"), "List(Value(float32))");

  // Features that do not fit the shard name the README.
  test::write_text(tmp / "README.md", "---\ndataset_info:\n  features:\n  - name: action\n"
                                      "    dtype: string\n" + configs + "---\n");
  EXPECT_THROW_MSG(load_hub_layout(tmp.path(), opt), FormatError, "README.md");
  // Malformed class_label ids too.
  test::write_text(tmp / "README.md",
                   "---\ndataset_info:\n  features:\n  - name: action\n    dtype:\n"
                   "      class_label:\n        names:\n          '0': a\n          '2': b\n" +
                       configs + "---\n");
  EXPECT_THROW_MSG(load_hub_layout(tmp.path(), opt), FormatError, "ids are not 0..1");

  // A list of per-config dataset_info entries: the chosen config's.
  test::write_text(tmp / "README.md",
                   "---\ndataset_info:\n- config_name: other\n  features:\n  - name: action\n"
                   "    dtype: string\n- config_name: default\n" + features + configs + "---\n");
  dict = load_hub_layout(tmp.path(), opt);
  EXPECT_EQ(dict.at("train").features().type_of("action"), "ClassLabel(num_classes=2)");
}

// A shard's own `huggingface` metadata wins over the README.
TEST(HubLoad, ShardMetadataWinsOverReadmeFeatures) {
  TempDir tmp;
  HubLoadOptions opt;
  opt.cache_dir = tmp / "cache";
  write_shard(tmp / "data/train-00000-of-00001.parquet", 0, 5, /*hf_metadata=*/true);
  test::write_text(tmp / "README.md",
                   "---\ndataset_info:\n  features:\n  - name: action\n    dtype: int64\n"
                   "  - name: reward\n    dtype: float32\n  - name: obs\n    list: float32\n---\n");
  const DatasetDict dict = load_hub_layout(tmp.path(), opt);
  EXPECT_EQ(dict.at("train").features().type_of("action"), "ClassLabel(num_classes=2)");
}

}  // namespace
}  // namespace mouse
