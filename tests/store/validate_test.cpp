// The value checks of source datasets at from_dataset (SPEC §3-4, StoreConfig::validate): one
// test per check, with the error's type and the column, row and dataset it names; the markers
// that remember files that passed; validate = false; the pages the pass gives back; the real
// datasets of ../shared/testdata.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utime.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <numeric>
#include <nlohmann/json.hpp>

#include "core/mapped_ranges.hpp"
#include "store/contract.hpp"
#include "store/validate.hpp"
#include "store_test_util.hpp"

namespace mouse {
namespace {

namespace fs = std::filesystem;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// Clean steps: action i % 4, reward 0.5, done 0 (1 every 50th row).
struct Steps {
  explicit Steps(int64_t n) : action(static_cast<size_t>(n)), done(static_cast<size_t>(n)),
                              reward(static_cast<size_t>(n), 0.5f) {
    for (int64_t i = 0; i < n; ++i) {
      action[static_cast<size_t>(i)] = i % 4;
      done[static_cast<size_t>(i)] = i % 50 == 49 ? 1 : 0;
    }
  }
  std::vector<int64_t> action, done;
  std::vector<float> reward;

  std::vector<std::string> names() const { return {"action", "reward", "done"}; }
  std::vector<arrow::ArrayPtr> columns() const {
    return {arrow::make_primitive<int64_t>(action), arrow::make_primitive<float>(reward),
            arrow::make_primitive<int64_t>(done)};
  }
  Dataset dataset(int64_t batch_rows = 1000) const {
    return test::make_dataset(names(), columns(), batch_rows);
  }
};

// `ds` written by save_to_disk under `dir` / `name`, and loaded back (memory-mapped).
Dataset on_disk(const Dataset& ds, const test::TempDir& dir, const std::string& name = "ds") {
  ds.save_to_disk(dir / name);
  return Dataset::load_from_disk(dir / name);
}

// Runs `load` expecting InvalidArgument whose message holds every one of `parts`.
template <class F>
void expect_refused(F&& load, std::initializer_list<std::string> parts) {
  try {
    load();
    ADD_FAILURE() << "expected InvalidArgument";
  } catch (const InvalidArgument& e) {
    for (const auto& p : parts) {
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos)
          << "message: " << e.what() << "\nexpected to contain: " << p;
    }
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected InvalidArgument, got: " << e.what();
  }
}

// Every test gets its own marker directory.
class Validate : public ::testing::Test {
 protected:
  test::TempDir dir_;
  test::TempDir cache_;
  test::ScopedEnv env_{"MOUSE_DATA_CACHE", cache_.path().c_str()};

  std::vector<fs::path> markers() const {
    std::vector<fs::path> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(cache_ / "validated", ec)) {
      if (e.path().extension() == ".ok") out.push_back(e.path());
    }
    return out;
  }
};

TEST_F(Validate, DoneOutsideZeroOneTwoNamesColumnRowFileAndDataset) {
  Steps s(1500);
  s.done[1234] = 3;
  const Dataset ds = on_disk(s.dataset(), dir_);
  DatasetStore store;
  expect_refused([&] { store.from_dataset(ds); },
                 {"column \"done\" has the value 3 at row 1234",
                  "done must be 0 (running), 1 (terminal) or 2 (truncated)",
                  "data-00000-of-00001.arrow", (dir_ / "ds").string(), "validate=False"});
  EXPECT_EQ(store.size(), 0);
  s.done[1234] = -1;
  const Dataset negative = on_disk(s.dataset(), dir_, "negative");
  expect_refused([&] { store.from_dataset(negative); }, {"\"done\" has the value -1 at row 1234"});
}

TEST_F(Validate, NegativeAction) {
  Steps s(100);
  s.action[7] = -1;
  DatasetStore store;
  expect_refused([&] { store.from_dataset(on_disk(s.dataset(), dir_)); },
                 {"column \"action\" has the value -1 at row 7", "an action must be >= 0"});
}

TEST_F(Validate, ActionMustBeBelowMaxActionDimOnlyWhenQStarIsEncoded) {
  Steps s(64);
  s.action[3] = 4;
  std::vector<float> q(64 * 4, 0.0f);
  auto names = s.names();
  auto columns = s.columns();
  names.push_back("metadata_q_star");
  columns.push_back(arrow::make_fixed_size_list(arrow::make_primitive<float>(q), 4));
  const Dataset with_q = on_disk(test::make_dataset(names, columns), dir_, "q");
  const Dataset without_q = on_disk(s.dataset(), dir_, "no_q");

  DatasetStore narrow(4);
  expect_refused([&] { narrow.from_dataset(with_q); },
                 {"column \"action\" has the value 4 at row 3", "max_action_dim (4)", "q_star"});
  narrow.from_dataset(without_q);  // no q_star: the action is not an index into it
  EXPECT_EQ(narrow.size(), 64);
  DatasetStore wide(5);
  wide.from_dataset(with_q);
  EXPECT_EQ(wide.size(), 64);
}

TEST_F(Validate, RewardMustBeFinite) {
  for (const double bad : {kNaN, kInf, -kInf}) {
    Steps s(2000);
    s.reward[1042] = static_cast<float>(bad);
    DatasetStore store;
    const Dataset ds = on_disk(s.dataset(), dir_, fmt::format("r{}", bad));
    expect_refused([&] { store.from_dataset(ds); },
                   {fmt::format("column \"reward\" has the value {} at row 1042",
                                static_cast<float>(bad)),
                    "a reward must be finite"});
  }
}

TEST_F(Validate, FloatStoredIntegerColumnsMustHoldWholeNumbers) {
  const int64_t n = 300;
  std::vector<double> action(n, 1.0), time(n);
  std::vector<float> done(n, 0.0f), reward(n, 1.0f);
  std::iota(time.begin(), time.end(), 0.0);
  std::vector<double> discrete(n * 2, 2.0);
  std::vector<int64_t> offsets(n + 1);
  for (int64_t i = 0; i <= n; ++i) offsets[static_cast<size_t>(i)] = 2 * i;
  const auto build = [&] {
    return test::make_dataset(
        {"action", "reward", "done", "episode_step", "observation_discrete"},
        {arrow::make_primitive<double>(action), arrow::make_primitive<float>(reward),
         arrow::make_primitive<float>(done), arrow::make_primitive<double>(time),
         arrow::make_list(offsets, arrow::make_primitive<double>(discrete))},
        100);
  };
  StoreConfig config;
  config.max_obs_discrete_dim = 2;
  {
    done[5] = 2.0f;  // whole floats are fine
    DatasetStore store(config);
    store.from_dataset(build());
    EXPECT_EQ(store.size(), n);
  }
  action[9] = 1.5;
  expect_refused([&] { DatasetStore(config).from_dataset(build()); },
                 {"column \"action\" has the value 1.5 at row 9", "not a whole number"});
  action[9] = 1.0;
  done[250] = 0.5f;
  expect_refused([&] { DatasetStore(config).from_dataset(build()); },
                 {"column \"done\" has the value 0.5 at row 250"});
  done[250] = 0.0f;
  time[199] = kNaN;
  expect_refused([&] { DatasetStore(config).from_dataset(build()); },
                 {"column \"episode_step\" has the value nan at row 199"});
  time[199] = 199.0;
  discrete[2 * 150 + 1] = 3.5;
  expect_refused([&] { DatasetStore(config).from_dataset(build()); },
                 {"column \"observation_discrete\" has the value 3.5 at row 150"});
  // Without max_obs_discrete_dim the column is not encoded, so not checked.
  DatasetStore no_discrete;
  no_discrete.from_dataset(build());
  EXPECT_EQ(no_discrete.size(), n);
}

TEST_F(Validate, RequiredColumnsMustNotBeNullOptionalNullsAreSkipped) {
  Steps s(20);
  std::vector<bool> valid(20, true);
  valid[5] = false;
  std::vector<double> time(20, 0.0);
  time[11] = 0.5;  // under a null: not a value
  std::vector<bool> time_valid(20, true);
  time_valid[11] = false;
  const Dataset nullable_time = test::make_dataset(
      {"action", "reward", "done", "episode_step"},
      {arrow::make_primitive<int64_t>(s.action), arrow::make_primitive<float>(s.reward),
       arrow::make_primitive<int64_t>(s.done), arrow::make_primitive<double>(time, time_valid)});
  DatasetStore store;
  store.from_dataset(on_disk(nullable_time, dir_, "time"));
  EXPECT_EQ(store.size(), 20);

  const Dataset null_done = test::make_dataset(
      {"action", "reward", "done"},
      {arrow::make_primitive<int64_t>(s.action), arrow::make_primitive<float>(s.reward),
       arrow::make_primitive<int64_t>(s.done, valid)});
  expect_refused([&] { store.from_dataset(on_disk(null_done, dir_, "done")); },
                 {"column \"done\" is null at row 5", "required"});
  EXPECT_EQ(store.size(), 20);
}

TEST_F(Validate, TheFirstBadRowIsReportedWhateverItsColumn) {
  Steps s(100);
  s.action[10] = -3;
  s.done[3] = 7;
  s.reward[60] = static_cast<float>(kNaN);
  expect_refused([&] { DatasetStore().from_dataset(s.dataset()); },
                 {"column \"done\" has the value 7 at row 3", "in-memory dataset"});
}

TEST_F(Validate, ASplitIsNamedAndNoSplitIsAddedWhenOneIsBad) {
  Steps good(30), bad(30);
  bad.reward[29] = static_cast<float>(kInf);
  DatasetDict dict;
  dict.insert("train", good.dataset());
  dict.insert("test", bad.dataset());
  dict.save_to_disk(dir_ / "dict");
  const DatasetDict loaded = DatasetDict::load_from_disk(dir_ / "dict");
  DatasetStore store;
  expect_refused([&] { store.from_dataset(loaded); },
                 {"split \"test\"", "column \"reward\" has the value inf at row 29",
                  (dir_ / "dict" / "test" / "data-00000-of-00001.arrow").string()});
  EXPECT_EQ(store.size(), 0);
  store.from_dataset(loaded, std::vector<std::string>{"train"});
  EXPECT_EQ(store.size(), 30);
}

TEST_F(Validate, ValidateFalseLoadsTheBadFile) {
  Steps s(100);
  s.done[50] = 9;
  s.reward[51] = static_cast<float>(kNaN);
  const Dataset ds = on_disk(s.dataset(), dir_);
  StoreConfig config;
  config.validate = false;
  const int64_t before = detail::validated_chunks_total();
  DatasetStore store(config);
  store.from_dataset(ds);
  EXPECT_EQ(store.size(), 100);
  EXPECT_EQ(detail::validated_chunks_total(), before);  // nothing read
  EXPECT_TRUE(markers().empty());
}

TEST_F(Validate, AFileThatPassedIsNotReadAgainUntilItChanges) {
  Steps s(2500);
  std::vector<float> q(2500 * 4, 0.0f);
  auto names = s.names();
  auto columns = s.columns();
  names.push_back("metadata_q_star");
  columns.push_back(arrow::make_fixed_size_list(arrow::make_primitive<float>(q), 4));
  const Dataset original = test::make_dataset(names, columns);
  original.save_to_disk(dir_ / "ds");

  int64_t before = detail::validated_chunks_total();
  DatasetStore(4).from_dataset(Dataset::load_from_disk(dir_ / "ds"));
  EXPECT_EQ(detail::validated_chunks_total() - before, 9);  // 3 record batches x 3 columns
  ASSERT_EQ(markers().size(), 1u);
  const auto marker = nlohmann::json::parse(std::ifstream(markers()[0]));
  EXPECT_EQ(marker["file"]["path"], (dir_ / "ds" / "data-00000-of-00001.arrow").string());

  // Again, from a fresh load: nothing read.
  before = detail::validated_chunks_total();
  DatasetStore again(4);
  again.from_dataset(Dataset::load_from_disk(dir_ / "ds"));
  EXPECT_EQ(detail::validated_chunks_total(), before);
  EXPECT_EQ(again.size(), 2500);

  // Other checks (another max_action_dim bounds the action): read again.
  before = detail::validated_chunks_total();
  DatasetStore(8).from_dataset(Dataset::load_from_disk(dir_ / "ds"));
  EXPECT_EQ(detail::validated_chunks_total() - before, 9);

  // A slice of the file is other chunks: read.
  before = detail::validated_chunks_total();
  DatasetStore(4).from_dataset(Dataset::load_from_disk(dir_ / "ds").slice(10, 100));
  EXPECT_EQ(detail::validated_chunks_total() - before, 3);

  // The same bytes with a new mtime: read again.
  const fs::path file = dir_ / "ds" / "data-00000-of-00001.arrow";
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  struct utimbuf times {st.st_atime, st.st_mtime + 10};
  ASSERT_EQ(::utime(file.c_str(), &times), 0);
  before = detail::validated_chunks_total();
  DatasetStore(4).from_dataset(Dataset::load_from_disk(dir_ / "ds"));
  EXPECT_EQ(detail::validated_chunks_total() - before, 9);
  // Markers of the old stamp (4 and 8 wide, the slice) can never match again: removed.
  EXPECT_EQ(markers().size(), 1u);

  // Rewritten with a bad value: refused, however often it passed before.
  Steps bad = s;
  bad.done[2222] = 4;
  auto bad_columns = bad.columns();
  bad_columns.push_back(columns.back());
  test::make_dataset(names, bad_columns).save_to_disk(dir_ / "ds");
  expect_refused([&] { DatasetStore(4).from_dataset(Dataset::load_from_disk(dir_ / "ds")); },
                 {"column \"done\" has the value 4 at row 2222"});
}

TEST_F(Validate, InMemorySourcesAreCheckedEveryTime) {
  const Dataset ds = Steps(3000).dataset();
  for (int k = 0; k < 2; ++k) {
    const int64_t before = detail::validated_chunks_total();
    DatasetStore().from_dataset(ds);
    EXPECT_EQ(detail::validated_chunks_total() - before, 9);
  }
  EXPECT_TRUE(markers().empty());
}

int64_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * ::sysconf(_SC_PAGESIZE);
}

TEST_F(Validate, ThePagesThePassReadAreGivenBack) {
#if defined(__SANITIZE_THREAD__)
  // ThreadSanitizer keeps shadow memory (several bytes per byte read) for every page the pass
  // touches, which no page given back returns: resident size measures the sanitizer here.
  GTEST_SKIP() << "resident size under ThreadSanitizer counts its shadow memory";
#endif
  const int64_t n = 1'000'000;  // 20 MB of action, reward and done
  on_disk(Steps(n).dataset(), dir_);
  const Dataset ds = Dataset::load_from_disk(dir_ / "ds");
  const int64_t before = resident_bytes();
  DatasetStore store;
  store.from_dataset(ds);
  const int64_t grown = resident_bytes() - before;
  EXPECT_LT(grown, 4 << 20) << "resident memory grew by " << grown << " bytes";
  // The pages come back from the file when read.
  const std::vector<int64_t> rows = {0, 49, n - 1};
  const TensorDict td = store.get(rows);
  EXPECT_EQ(test::values_of<int64_t>(td.at("done")), (std::vector<int64_t>{0, 1, 1}));
  EXPECT_EQ(test::values_of<int64_t>(td.at("action")), (std::vector<int64_t>{0, 1, (n - 1) % 4}));
}

// Pages of `buffers` this process has mapped now, from /proc/self/pagemap.
int64_t mapped_pages(const std::vector<Buffer>& buffers) {
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const int fd = ::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  int64_t present = 0;
  for (const Buffer& b : buffers) {
    const auto first = reinterpret_cast<uintptr_t>(b.data()) / page;
    const auto last = (reinterpret_cast<uintptr_t>(b.data()) + b.size() - 1) / page;
    for (auto p = first; p <= last; ++p) {
      uint64_t entry = 0;
      if (::pread(fd, &entry, 8, static_cast<off_t>(p * 8)) != 8) return -1;
      present += static_cast<int64_t>(entry >> 63);
    }
  }
  ::close(fd);
  return present;
}

TEST_F(Validate, PagesTheProcessHadMappedBeforeStay) {
  const int64_t n = 200'000;
  on_disk(Steps(n).dataset(), dir_);
  const Dataset ds = Dataset::load_from_disk(dir_ / "ds");
  // Read the action column through the map, as a sampler would have.
  int64_t sum = 0;
  std::vector<Buffer> action;
  for (const auto& batch : ds.batches()) {
    const int64_t* v = arrow::values<int64_t>(*batch.columns[0]);
    for (int64_t i = 0; i < batch.num_rows; ++i) sum += v[i];
    action.push_back(batch.columns[0]->buffers[1]);
  }
  EXPECT_GT(sum, 0);
  const int64_t before = mapped_pages(action);
  ASSERT_GT(before, 0) << "pagemap unreadable";
  const detail::ValidateStats stats = detail::validate_dataset(
      ds, detail::plan_schema(*ds.schema(), StoreConfig{}, "test", true), StoreConfig{}, "test",
      {std::nullopt, true});
  EXPECT_EQ(stats.bytes_checked, n * (8 + 4 + 8));
  EXPECT_EQ(mapped_pages(action), before);
  // reward's and done's pages were given back, but for those they share with action's.
  EXPECT_LT(stats.bytes_released, static_cast<uint64_t>(n * 14));
}

TEST_F(Validate, BatchesCanBeCheckedWithoutADataset) {
  // As a remote shard would be when it arrives: record batches, a plan, rows numbered on.
  Steps s(10);
  s.done[4] = 5;
  const arrow::RecordBatch batch = arrow::make_batch(s.names(), s.columns());
  const auto plan = detail::plan_schema(*batch.schema, StoreConfig{}, "shard", true);
  const auto problem = detail::validate_batches(std::span(&batch, 1), plan, StoreConfig{}, 5000);
  ASSERT_TRUE(problem.has_value());
  EXPECT_EQ(problem->column, "done");
  EXPECT_EQ(problem->row, 5004);
  EXPECT_TRUE(problem->file.empty());
}

TEST(ProcessMappingsTest, ParsesFileMappingsAndMergesSplitOnes) {
  const auto maps = detail::ProcessMappings::parse(
      "00400000-00452000 r-xp 00000000 08:02 173521      /usr/bin/dbus-daemon\n"
      "7f0000000000-7f0000100000 r--s 00000000 fd:01 42  /data/a b.arrow\n"
      "7f0000100000-7f0000300000 r--s 00100000 fd:01 42  /data/a b.arrow\n"
      "7f0000300000-7f0000400000 rw-p 00000000 00:00 0 \n"
      "7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0   [stack]\n");
  ASSERT_EQ(maps.mappings().size(), 2u);
  const auto* m = maps.find(reinterpret_cast<const void*>(0x7f00000ff000), 0x2000);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->path, "/data/a b.arrow");
  EXPECT_EQ(m->inode, 42u);
  EXPECT_TRUE(m->shared);
  EXPECT_TRUE(m->droppable());
  EXPECT_EQ(m->end, 0x7f0000300000u);
  EXPECT_EQ(maps.find(reinterpret_cast<const void*>(0x7f0000300000), 8), nullptr);  // anonymous
  EXPECT_EQ(maps.find(reinterpret_cast<const void*>(0x7f00002ff000), 0x2000), nullptr);  // spills
}

TEST(RealDataValidate, LeRobotDatasetsPass) {
  MOUSE_REQUIRE_TESTDATA();
  test::TempDir cache;
  test::ScopedEnv env("MOUSE_DATA_CACHE", cache.path().c_str());
  int checked = 0;
  for (const char* name : {"lerobot-pusht", "lerobot-pusht_image", "lerobot-xarm_lift_medium",
                           "lerobot-aloha_sim_insertion_human"}) {
    const fs::path path = test::testdata_dir() / "hf" / name / "train";
    if (!fs::exists(path)) continue;
    const Dataset real = Dataset::load_from_disk(path);
    // Their step columns under the contract's names (zero-copy: the mapped arrays as they are):
    // frame_index as the action, next.reward (aloha has none: its float32 timestamp),
    // next.done (bool), index as the episode step.
    const std::string reward =
        real.schema()->field_index("next.reward") >= 0 ? "next.reward" : "timestamp";
    const std::vector<std::pair<std::string, std::string>> renames = {
        {"action", "frame_index"}, {"reward", reward}, {"done", "next.done"},
        {"episode_step", "index"}};
    auto schema = std::make_shared<arrow::Schema>();
    std::vector<arrow::RecordBatch> batches(real.batches().size());
    for (const auto& [to, from] : renames) {
      const int index = real.schema()->field_index(from);
      ASSERT_GE(index, 0) << name << " has no " << from;
      arrow::Field f = real.schema()->fields[static_cast<size_t>(index)];
      f.name = to;
      schema->fields.push_back(f);
      for (size_t b = 0; b < batches.size(); ++b) {
        batches[b].num_rows = real.batches()[b].num_rows;
        batches[b].columns.push_back(real.batches()[b].columns[static_cast<size_t>(index)]);
      }
    }
    for (auto& b : batches) b.schema = schema;
    const Dataset steps = Dataset::from_batches(schema, std::move(batches));
    const int64_t before = detail::validated_chunks_total();
    DatasetStore store;
    store.from_dataset(steps);
    EXPECT_EQ(store.size(), real.num_rows()) << name;
    EXPECT_GT(detail::validated_chunks_total(), before) << name;
    // The arrays lie in the mapped shard: the file is remembered, a second load reads nothing.
    const int64_t again = detail::validated_chunks_total();
    DatasetStore().from_dataset(steps);
    EXPECT_EQ(detail::validated_chunks_total(), again) << name;
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

}  // namespace
}  // namespace mouse
