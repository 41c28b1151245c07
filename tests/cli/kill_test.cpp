// Crash-safe writes, shown rather than assumed: `generate --overwrite` and `convert --overwrite`
// are killed with SIGKILL at random moments, and the target must always be the complete old or
// the complete new dataset; the next write removes every temporary the killed runs left. SIGINT
// and SIGTERM remove the temporaries themselves.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "mouse/dataset.hpp"
#include "mouse/hub.hpp"
#include "test_support.hpp"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Starts the CLI with `args` (stdout and stderr to /dev/null); returns its pid.
pid_t spawn_cli(const std::vector<std::string>& args) {
  std::vector<std::string> all{MOUSE_CLI_PATH};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

// Waits for `pid`; returns its raw wait status.
int wait_for(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

// Runs the CLI to completion; returns the seconds it took (negative on failure).
double run_to_end(const std::vector<std::string>& args) {
  const auto t0 = Clock::now();
  const pid_t pid = spawn_cli(args);
  if (pid < 0) return -1;
  const int status = wait_for(pid);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return -1;
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Entries beside `target` that are temporaries of writes to it.
std::vector<std::string> temporaries_of(const fs::path& target) {
  std::vector<std::string> out;
  const std::string prefix = "." + target.filename().string() + ".";
  for (const auto& e : fs::directory_iterator(target.parent_path())) {
    const std::string name = e.path().filename().string();
    if (name.starts_with(prefix)) out.push_back(name);
  }
  return out;
}

// Rows of the dataset at `dir` (either layout), or -1 when it does not load completely.
int64_t rows_of(const fs::path& dir, bool hub, const fs::path& cache) {
  try {
    if (hub) {
      mouse::HubLoadOptions options;
      options.cache_dir = cache;
      return mouse::load_dataset(dir, options).at("train").num_rows();
    }
    return mouse::Dataset::load_from_disk(dir).num_rows();
  } catch (const std::exception&) {
    return -1;
  }
}

// Kills `args` (a write to `target`) `trials` times at random moments within its usual run
// time and checks after each kill that `target` holds `old_rows` or `new_rows` rows.
void kill_repeatedly(const std::vector<std::string>& args, const fs::path& target, bool hub,
                     const fs::path& cache, int64_t old_rows, int64_t new_rows, int trials,
                     unsigned seed) {
  const double seconds = run_to_end(args);
  ASSERT_GT(seconds, 0) << "the write does not run to completion";
  ASSERT_EQ(rows_of(target, hub, cache), new_rows);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> unit(0.0, 1.1);
  // Run times vary with the machine's load: a run that ends before its kill shortens the window.
  double window = seconds;
  int killed_before_end = 0;
  for (int t = 0; t < trials; ++t) {
    const pid_t pid = spawn_cli(args);
    ASSERT_GT(pid, 0);
    std::this_thread::sleep_for(std::chrono::duration<double>(unit(rng) * window));
    ::kill(pid, SIGKILL);
    const int status = wait_for(pid);
    if (WIFSIGNALED(status)) {
      ++killed_before_end;
    } else {
      window *= 0.8;
    }
    const int64_t rows = rows_of(target, hub, cache);
    EXPECT_TRUE(rows == old_rows || rows == new_rows)
        << "trial " << t << ": target has " << rows << " rows";
  }
  // Most kills must land before the end for the test to mean anything.
  EXPECT_GE(killed_before_end, trials / 3) << "window " << window << " s";
  // The next complete write cleans what the killed ones left.
  ASSERT_GT(run_to_end(args), 0);
  EXPECT_EQ(temporaries_of(target), std::vector<std::string>{});
  EXPECT_EQ(rows_of(target, hub, cache), new_rows);
}

TEST(CrashSafeWrites, GenerateOverwriteKilledLeavesOldOrNewAndNoLitter) {
  mouse::test::TempDir tmp;
  const fs::path out = tmp / "ds";
  ASSERT_GT(run_to_end({"generate", "cartpole", out.string(), "--steps", "300"}), 0);
  kill_repeatedly({"generate", "cartpole", out.string(), "--steps", "40000", "--overwrite"}, out,
                  false, tmp / "cache", 300, 40000, 30, 1);
}

TEST(CrashSafeWrites, StreamedHubGenerateKilledLeavesOldOrNewAndNoLitter) {
  // Shards written a row group at a time, each under a temporary name inside the temporary
  // directory: killed anywhere, the old layout or the new one.
  mouse::test::TempDir tmp;
  const fs::path out = tmp / "hub";
  ASSERT_GT(run_to_end({"generate", "cartpole", out.string(), "--steps", "300", "--format", "hub"}),
            0);
  kill_repeatedly({"generate", "cartpole", out.string(), "--steps", "400000", "--format", "hub",
                   "--overwrite"},
                  out, true, tmp / "cache", 300, 400000, 20, 3);
}

TEST(CrashSafeWrites, ConvertOverwriteKilledLeavesOldOrNewAndNoLitter) {
  mouse::test::TempDir tmp;
  const fs::path in = tmp / "in";
  const fs::path out = tmp / "hub";
  ASSERT_GT(run_to_end({"generate", "cartpole", in.string(), "--steps", "40000"}), 0);
  ASSERT_GT(run_to_end({"generate", "cartpole", out.string(), "--steps", "300", "--format", "hub"}),
            0);
  kill_repeatedly({"convert", in.string(), out.string(), "--to", "hub", "--overwrite"}, out, true,
                  tmp / "cache", 300, 40000, 30, 2);
}

TEST(CrashSafeWrites, SigintAndSigtermRemoveTheTemporaryDirectory) {
  mouse::test::TempDir tmp;
  const fs::path out = tmp / "ds";
  const std::vector<std::string> args{"generate", "cartpole", out.string(), "--steps", "2000000"};
  for (int sig : {SIGINT, SIGTERM}) {
    const pid_t pid = spawn_cli(args);
    ASSERT_GT(pid, 0);
    // Wait until the write has started (its temporary exists), then interrupt it.
    const auto deadline = Clock::now() + std::chrono::seconds(20);
    while (temporaries_of(out).empty() && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    ::kill(pid, sig);
    const int status = wait_for(pid);
    if (WIFEXITED(status)) {
      // The write finished before the signal came: nothing to check this time.
      fs::remove_all(out);
      continue;
    }
    ASSERT_TRUE(WIFSIGNALED(status));
    EXPECT_EQ(WTERMSIG(status), sig);
    EXPECT_EQ(temporaries_of(out), std::vector<std::string>{}) << "signal " << sig;
    EXPECT_FALSE(fs::exists(out));
  }
}

}  // namespace
