// `mouse-data generate` streams: the bytes it writes are those of the in-memory writer it
// replaced (fingerprints recorded from that version), and its peak memory does not grow with
// --steps.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "test_support.hpp"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs the CLI with `args` (no shell) and returns its exit status and peak RSS in KiB, or
// status -1 if it could not be started or did not exit normally.
std::pair<int, long> run_measured(const std::vector<std::string>& args) {
  std::vector<std::string> all{MOUSE_CLI_PATH};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const int rc = ::posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return {-1, 0};
  int status = 0;
  struct rusage usage {};
  if (::wait4(pid, &status, 0, &usage) != pid || !WIFEXITED(status)) return {-1, 0};
  return {WEXITSTATUS(status), usage.ru_maxrss};
}

// Fingerprints (state.json `_fingerprint`: a hash of the features and every shard byte)
// written by the in-memory generate + save_to_disk before generate streamed, per split
// directory.
struct Golden {
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> fingerprints;  // split dir ("" = top), hash
};

TEST(CliGenerateStream, WritesTheBytesOfTheInMemoryWriter) {
  const std::vector<Golden> goldens{
      {{"cartpole", "--steps", "2500", "--seed", "7"}, {{"", "c0927762efaf13ca"}}},
      {{"cartpole", "--splits", "train=2500,test=1300,val=0", "--images", "--seed", "11", "--policy",
        "epsilon-greedy"},
       {{"train", "8ae21475a02027ff"}, {"test", "1bec73a0e68ea9d5"}, {"val", "58bf833328f109bd"}}},
      {{"frozenlake-4x4", "--steps", "3000", "--images", "--seed", "5"}, {{"", "eba116ce784f7ae1"}}},
      {{"frozenlake-8x8", "--splits", "a=1234,b=999,c=1", "--images", "--policy", "epsilon-greedy",
        "--no-slippery"},
       {{"a", "c7e362a04d3db930"}, {"b", "3aff1c2ef0d1deee"}, {"c", "bf2894e2d5c3342c"}}},
      {{"frozenlake-4x4", "--steps", "0"}, {{"", "e065f78c03e05a26"}}},
      {{"cartpole", "--steps", "1", "--images"}, {{"", "079106a98c2891bb"}}},
  };
  mouse::test::TempDir tmp;
  int n = 0;
  for (const Golden& g : goldens) {
    const fs::path out = tmp / ("out" + std::to_string(n++));
    std::vector<std::string> args{"generate"};
    args.insert(args.end(), g.args.begin(), g.args.end());
    args.push_back(out.string());
    SCOPED_TRACE(g.args.front() + " " + g.args[1] + " " + g.args[2]);
    ASSERT_EQ(run_measured(args).first, 0);
    for (const auto& [split, fingerprint] : g.fingerprints) {
      const fs::path dir = split.empty() ? out : out / split;
      const json state = json::parse(read_bytes(dir / "state.json"));
      EXPECT_EQ(state["_fingerprint"], fingerprint) << dir;
      EXPECT_EQ(state["_data_files"], json::parse(R"([{"filename": "data-00000-of-00001.arrow"}])"));
    }
  }
}

TEST(CliGenerateStream, PeakMemoryDoesNotGrowWithSteps) {
  // Held in memory, these rows took about 130 MB (cartpole) and 110 MB (frozenlake frames) of
  // resident memory; streamed, the CLI stays near 10 MB (the Hub layout: one 100 000-row Parquet
// row group at a time, near 25 MB). The bound leaves room for allocator
  // and loader differences without letting a whole-dataset buffer through.
  constexpr long kBoundKiB = 48 * 1024;
  mouse::test::TempDir tmp;
  const std::vector<std::vector<std::string>> runs{
      {"generate", "cartpole", (tmp / "cp").string(), "--steps", "2500000"},
      {"generate", "frozenlake-4x4", (tmp / "fl").string(), "--steps", "400000", "--images"},
      {"generate", "cartpole", (tmp / "cph").string(), "--steps", "2500000", "--format", "hub"},
      {"generate", "frozenlake-4x4", (tmp / "flh").string(), "--splits", "train=300000,test=100000",
       "--images", "--format", "hub"},
  };
  for (const auto& args : runs) {
    const auto [status, rss] = run_measured(args);
    ASSERT_EQ(status, 0) << args[1];
    EXPECT_LT(rss, kBoundKiB) << args[1] << " " << args.back() << ": peak RSS " << rss << " KiB";
    fs::remove_all(args[2]);
  }
}

}  // namespace
