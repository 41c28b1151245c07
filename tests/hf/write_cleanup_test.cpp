// What killed writes leave behind and how the next write or load cleans it: temporaries of dead
// processes beside a save_to_disk target (a live writer's are kept), the old directory of a save
// killed between its two renames put back, Hub cache litter and broken cache entries rebuilt.
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <fstream>

#include "hf/atomic_dir.hpp"
#include "hf/hf_test_util.hpp"
#include "mouse/hub.hpp"
#include "mouse/parquet.hpp"

namespace mouse {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

// A pid that was just in use and is not any more.
pid_t dead_pid() {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return pid;
}

Dataset small_dataset(int64_t rows) { return test::all_kinds_dataset(rows, rows); }

std::vector<std::string> entries(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(WriteCleanup, NextSaveRemovesTemporariesOfDeadWritersOnly) {
  TempDir tmp;
  const fs::path target = tmp / "ds";
  const std::string dead = fmt::format(".ds.tmp-{}-abcdef", dead_pid());
  const std::string live = fmt::format(".ds.tmp-{}-ghijkl", ::getpid());
  const std::string other = fmt::format(".other.tmp-{}-abcdef", dead_pid());
  for (const auto& name : {dead, live, other}) {
    fs::create_directories(tmp / name / "sub");
    test::write_text(tmp / name / "sub" / "data.arrow", "partial");
  }
  small_dataset(5).save_to_disk(target);
  EXPECT_FALSE(fs::exists(tmp / dead));
  EXPECT_TRUE(fs::exists(tmp / live)) << "a live process may be writing it";
  EXPECT_TRUE(fs::exists(tmp / other)) << "temporaries of another target are not ours";
  EXPECT_EQ(Dataset::load_from_disk(target).num_rows(), 5);
}

// An open file description holding an exclusive flock() on `dir`, as a writer holds one on its
// temporary directory (closed when the object dies).
class HeldLock {
 public:
  explicit HeldLock(const fs::path& dir) : fd_(::open(dir.c_str(), O_RDONLY | O_DIRECTORY)) {
    EXPECT_GE(fd_, 0);
    EXPECT_EQ(::flock(fd_, LOCK_EX | LOCK_NB), 0);
  }
  ~HeldLock() { ::close(fd_); }
  HeldLock(const HeldLock&) = delete;
  HeldLock& operator=(const HeldLock&) = delete;

 private:
  int fd_;
};

TEST(WriteCleanup, LockedTemporariesAreJudgedByTheirLockNotTheirPid) {
  // In another pid namespace the pid in a name means nothing here: a locked temporary whose
  // pid is dead here is a live writer elsewhere, and an unlocked one whose pid is alive here
  // (this process) belongs to a writer that is gone.
  TempDir tmp;
  const fs::path target = tmp / "ds";
  const std::string held = fmt::format(".ds.tmp-L{}-abcdef", dead_pid());
  const std::string dropped = fmt::format(".ds.tmp-L{}-ghijkl", ::getpid());
  const std::string gone = fmt::format(".ds.tmp-L{}-mnopqr.gone", ::getpid());
  const std::string odd = ".ds.tmp-Lx-abcdef";
  for (const auto& name : {held, dropped, gone, odd}) {
    fs::create_directories(tmp / name / "sub");
    test::write_text(tmp / name / "sub" / "data.arrow", "partial");
  }
  {
    const HeldLock writer(tmp / held);
    small_dataset(4).save_to_disk(target);
    EXPECT_TRUE(fs::exists(tmp / held)) << "its writer holds the lock";
    EXPECT_FALSE(fs::exists(tmp / dropped));
    EXPECT_FALSE(fs::exists(tmp / gone));
    EXPECT_TRUE(fs::exists(tmp / odd)) << "not a name we write";
  }
  small_dataset(5).save_to_disk(target);  // the writer is gone now
  EXPECT_FALSE(fs::exists(tmp / held));
  EXPECT_EQ(entries(tmp.path()), (std::vector<std::string>{odd, "ds"}));
  EXPECT_EQ(Dataset::load_from_disk(target).num_rows(), 5);
}

TEST(WriteCleanup, AnUnlockedOldDirectoryIsRestoredALockedOneLeftAlone) {
  TempDir tmp;
  const fs::path target = tmp / "ds";
  small_dataset(7).save_to_disk(target);
  const fs::path aside = tmp / fmt::format(".ds.old-L{}-abcdef", ::getpid());
  fs::rename(target, aside);
  {
    // A writer between its two renames: the old directory moved aside, still locked. The
    // other save goes ahead without touching it.
    const HeldLock writer(aside);
    small_dataset(2).save_to_disk(target);
    EXPECT_TRUE(fs::exists(aside));
    EXPECT_EQ(Dataset::load_from_disk(target).num_rows(), 2);
  }
  // Killed there: with the target missing, the next save puts the old directory back first.
  fs::remove_all(target);
  small_dataset(3).save_to_disk(target);
  EXPECT_EQ(Dataset::load_from_disk(target).num_rows(), 3);
  EXPECT_EQ(entries(tmp.path()), std::vector<std::string>{"ds"});
}

TEST(WriteCleanup, ASaveInProgressInAnotherProcessIsLeftAloneUntilItDies) {
  TempDir tmp;
  const fs::path target = tmp / "ds";
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(ready[0]);
    try {
      detail::replace_directory_atomically(target, [&](const fs::path& dir) {
        test::write_text(dir / "partial", "x");
        (void)!::write(ready[1], "r", 1);
        for (;;) ::pause();  // killed here, mid-save
      });
    } catch (...) {
    }
    ::_exit(1);
  }
  ::close(ready[1]);
  char byte = 0;
  ASSERT_EQ(::read(ready[0], &byte, 1), 1);
  ::close(ready[0]);
  const auto temps = [&] {
    std::vector<std::string> out;
    for (const auto& name : entries(tmp.path())) {
      if (name.starts_with(".ds.tmp-")) out.push_back(name);
    }
    return out;
  };
  ASSERT_EQ(temps().size(), 1u);
  EXPECT_TRUE(temps()[0].starts_with(fmt::format(".ds.tmp-L{}-", child))) << temps()[0];
  small_dataset(4).save_to_disk(target);
  EXPECT_EQ(temps().size(), 1u) << "the child is still saving";
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  small_dataset(6).save_to_disk(target);
  EXPECT_TRUE(temps().empty());
  EXPECT_EQ(Dataset::load_from_disk(target).num_rows(), 6);
}

TEST(WriteCleanup, OldDirectoryOfASaveKilledBetweenRenamesIsPutBack) {
  TempDir tmp;
  const fs::path target = tmp / "ds";
  small_dataset(7).save_to_disk(target);
  // As a save on a file system without RENAME_EXCHANGE leaves it when killed between moving
  // the old directory aside and renaming the new one in.
  const fs::path aside = tmp / fmt::format(".ds.old-{}-abcdef", dead_pid());
  fs::rename(target, aside);
  const fs::path half = tmp / fmt::format(".ds.tmp-{}-abcdef", dead_pid());
  fs::create_directories(half);
  // The next save to the same target first restores, then replaces as usual.
  small_dataset(3).save_to_disk(target);
  EXPECT_EQ(Dataset::load_from_disk(target).num_rows(), 3);
  EXPECT_EQ(entries(tmp.path()), std::vector<std::string>{"ds"});
}

TEST(WriteCleanup, RemoveUnfinishedSavesRemovesTheTemporaryOfASaveInProgress) {
  TempDir tmp;
  const fs::path target = tmp / "ds";
  small_dataset(2).save_to_disk(target);
  // What the CLI's signal thread does while a save is filling its temporary directory: the
  // temporary goes, the save fails, the previous dataset stays.
  fs::path seen;
  EXPECT_THROW(detail::replace_directory_atomically(
                   target,
                   [&](const fs::path& dir) {
                     seen = dir;
                     test::write_text(dir / "partial", "x");
                     remove_unfinished_saves();
                     EXPECT_FALSE(fs::exists(dir));
                     detail::FileWriter w(dir / "more");  // the directory is gone
                   }),
               IoError);
  EXPECT_FALSE(seen.empty());
  EXPECT_EQ(entries(tmp.path()), std::vector<std::string>{"ds"});
  EXPECT_EQ(Dataset::load_from_disk(target).num_rows(), 2);
  remove_unfinished_saves();  // nothing in progress: a no-op
  EXPECT_EQ(entries(tmp.path()), std::vector<std::string>{"ds"});
}

void write_shard(const fs::path& path, int64_t rows) {
  using namespace arrow;
  std::vector<int64_t> action;
  for (int64_t r = 0; r < rows; ++r) action.push_back(r);
  RecordBatch batch = make_batch({"action"}, {make_primitive<int64_t>(action)});
  fs::create_directories(path.parent_path());
  std::vector<RecordBatch> batches{batch};
  parquet::write_parquet(path, batch.schema, batches);
}

fs::path only_entry(const fs::path& cache) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(cache)) out.push_back(e.path());
  EXPECT_EQ(out.size(), 1u);
  return out.empty() ? fs::path() : out.front();
}

TEST(WriteCleanup, HubCacheLitterIsRemovedAndBrokenEntriesRebuilt) {
  TempDir tmp;
  write_shard(tmp / "hub/data/train-00000-of-00001.parquet", 6);
  HubLoadOptions opt;
  opt.cache_dir = tmp / "cache";
  ASSERT_EQ(load_hub_layout(tmp / "hub", opt).at("train").num_rows(), 6);
  const fs::path entry = only_entry(tmp / "cache");
  // A killed decode's temporaries: removed by the next load, cached or not.
  fs::create_directories(entry / ".data.tmp-12345-abcdef/x");
  test::write_text(entry / "fingerprint.json.12345.tmp", "{");
  HubLoadStats stats;
  ASSERT_EQ(load_hub_layout(tmp / "hub", opt, &stats).at("train").num_rows(), 6);
  EXPECT_EQ(stats.shards_cached, 1);
  EXPECT_EQ(entries(entry), (std::vector<std::string>{"data", "fingerprint.json", "lock"}));
  // The data directory replaced by a file, the fingerprint by a directory: rebuilt.
  fs::remove_all(entry / "data");
  test::write_text(entry / "data", "not a directory");
  fs::remove_all(entry / "fingerprint.json");
  fs::create_directories(entry / "fingerprint.json" / "x");
  HubLoadStats again;
  ASSERT_EQ(load_hub_layout(tmp / "hub", opt, &again).at("train").num_rows(), 6);
  EXPECT_EQ(again.shards_decoded, 1);
  ASSERT_EQ(load_hub_layout(tmp / "hub", opt, &again).at("train").num_rows(), 6);
  // The whole entry replaced by a file.
  fs::remove_all(entry);
  test::write_text(entry, "junk");
  ASSERT_EQ(load_hub_layout(tmp / "hub", opt).at("train").num_rows(), 6);
  EXPECT_TRUE(fs::is_directory(entry));
}

}  // namespace
}  // namespace mouse
