// Hostile inputs, generated here (nothing big is committed): deeply nested JSON and YAML, FIFOs,
// directories and huge sparse files where metadata or data should be, paths that leave the
// dataset, NULs in names, unbounded values in messages, sizes past the machine's memory. Every
// command must exit non-zero with a one-line error, never by a signal, within a second.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;

std::string quote(const fs::path& p) { return "'" + p.string() + "'"; }

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr double kSecondsPerCommand = 10.0;
#else
constexpr double kSecondsPerCommand = 1.0;
#endif

struct Outcome {
  int exit_code = -1;  // the shell's $?: 128 + N for a signal
  std::string err;
  double seconds = 0;
};

// Runs `args` through the CLI with stdout discarded and stderr captured, under a kill timeout
// so that a hang fails the test instead of blocking it.
Outcome run_cli(const std::string& args, const std::string& env = "") {
  const std::string cmd = env + " timeout -s KILL 20 " + std::string(MOUSE_CLI_PATH) + " " + args +
                          " 2>&1 >/dev/null; echo \"#exit=$?\"";
  const auto t0 = std::chrono::steady_clock::now();
  auto r = mouse::test::run_command(cmd);
  Outcome o;
  o.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const size_t mark = r.out.rfind("#exit=");
  if (mark != std::string::npos) {
    o.exit_code = std::stoi(r.out.substr(mark + 6));
    o.err = r.out.substr(0, mark);
  }
  return o;
}

// A clean one-line error: non-zero exit that is not a signal, one line on stderr naming
// `needle` (when given) and short, in time.
void expect_clean_error(const std::string& args, const std::string& needle,
                        const std::string& env = "") {
  SCOPED_TRACE(args);
  const Outcome o = run_cli(args, env);
  EXPECT_GE(o.exit_code, 1) << o.err;
  EXPECT_LT(o.exit_code, 126) << "killed by a signal or timed out: " << o.err;
  EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << o.err.substr(0, 2000);
  EXPECT_LT(o.err.size(), 1200u) << o.err.substr(0, 2000);
  EXPECT_NE(o.err.find("mouse-data: error:"), std::string::npos) << o.err.substr(0, 2000);
  if (!needle.empty()) {
    EXPECT_NE(o.err.find(needle), std::string::npos) << o.err.substr(0, 2000);
  }
  EXPECT_LT(o.seconds, kSecondsPerCommand) << o.err;
}

// The reading commands on `dir`, each expected to fail cleanly mentioning `needle`.
void expect_every_command_fails(const fs::path& dir, const std::string& needle,
                                const std::string& env = "") {
  const std::string d = quote(dir);
  expect_clean_error("inspect " + d, needle, env);
  expect_clean_error("head " + d, needle, env);
  expect_clean_error("encode " + d + " --indices 0", needle, env);
  expect_clean_error("sample " + d + " -S 4 -B 2 --workers 0", needle, env);
}

void write(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string nested(int depth, char open, char close, const std::string& inner = "") {
  return std::string(static_cast<size_t>(depth), open) + inner +
         std::string(static_cast<size_t>(depth), close);
}

class HostileInputs : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new mouse::test::TempDir();
    const std::string cli = MOUSE_CLI_PATH;
    ASSERT_EQ(mouse::test::run_command(cli + " generate cartpole " + quote(disk()) +
                                       " --steps 20 >/dev/null")
                  .status,
              0);
    ASSERT_EQ(mouse::test::run_command(cli + " generate cartpole " + quote(dict()) +
                                       " --splits train=20,test=10 >/dev/null")
                  .status,
              0);
    ASSERT_EQ(mouse::test::run_command(cli + " generate cartpole " + quote(hub()) +
                                       " --steps 20 --format hub >/dev/null")
                  .status,
              0);
  }
  static void TearDownTestSuite() {
    delete root_;
    root_ = nullptr;
  }
  static fs::path disk() { return root_->path() / "base-disk"; }
  static fs::path dict() { return root_->path() / "base-dict"; }
  static fs::path hub() { return root_->path() / "base-hub"; }

  // A fresh copy of `base` named `name`, changed by `edit`.
  static fs::path variant(const fs::path& base, const std::string& name,
                          const std::function<void(const fs::path&)>& edit) {
    const fs::path dir = root_->path() / name;
    fs::remove_all(dir);
    fs::copy(base, dir, fs::copy_options::recursive);
    edit(dir);
    return dir;
  }
  // The cache of Hub loads, inside the test's directory.
  static std::string cache_env() {
    return "MOUSE_DATA_CACHE=" + quote(root_->path() / "cache");
  }

  static mouse::test::TempDir* root_;
};

mouse::test::TempDir* HostileInputs::root_ = nullptr;

TEST_F(HostileInputs, DeeplyNestedJsonIsAnErrorNotAStackOverflow) {
  const auto deep = variant(disk(), "deep-info", [](const fs::path& d) {
    write(d / "dataset_info.json", "{\"features\": " + nested(150000, '[', ']') + "}");
  });
  expect_every_command_fails(deep, "nested deeper than 256");
  const auto deep_state = variant(disk(), "deep-state", [](const fs::path& d) {
    std::string s;
    for (int i = 0; i < 150000; ++i) s += "{\"a\": ";
    s += "1" + std::string(150000, '}');
    write(d / "state.json", s);
  });
  expect_every_command_fails(deep_state, "state.json");
  const auto deep_dict = variant(dict(), "deep-dict", [](const fs::path& d) {
    write(d / "dataset_dict.json", "{\"splits\": " + nested(150000, '[', ']') + "}");
  });
  expect_every_command_fails(deep_dict, "dataset_dict.json");
  const auto deep_features = variant(disk(), "deep-features", [](const fs::path& d) {
    std::string f;
    for (int i = 0; i < 250; ++i) f += "{\"feature\": ";
    f += "{\"dtype\": \"float32\", \"_type\": \"Value\"}";
    for (int i = 0; i < 250; ++i) f += ", \"_type\": \"Sequence\"}";
    write(d / "dataset_info.json", "{\"features\": {\"observation\": " + f + "}}");
  });
  expect_every_command_fails(deep_features, "dataset_info.json");
}

TEST_F(HostileInputs, ErrorMessagesQuoteOnlyAnExcerpt) {
  const auto big = variant(dict(), "big-split-name", [](const fs::path& d) {
    write(d / "dataset_dict.json",
          "{\"splits\": [" + nested(200, '[', ']', "\"" + std::string(100000, 'x') + "\"") + "]}");
  });
  expect_every_command_fails(big, "dataset_dict.json");
  const auto overflow = variant(disk(), "number-overflow", [](const fs::path& d) {
    write(d / "dataset_info.json", "{\"features\": 1e999}");
  });
  expect_every_command_fails(overflow, "dataset_info.json");
  const auto long_string = variant(disk(), "unterminated", [](const fs::path& d) {
    write(d / "state.json", "{\"_data_files\": \"" + std::string(200000, 'y'));
  });
  expect_every_command_fails(long_string, "state.json");
}

TEST_F(HostileInputs, NonRegularFilesAreRefusedWithoutBlocking) {
  const std::string shard = "data-00000-of-00001.arrow";
  const auto info_fifo = variant(disk(), "info-fifo", [](const fs::path& d) {
    fs::remove(d / "dataset_info.json");
    ASSERT_EQ(::mkfifo((d / "dataset_info.json").c_str(), 0644), 0);
  });
  expect_every_command_fails(info_fifo, "FIFO");
  const auto shard_fifo = variant(disk(), "shard-fifo", [&](const fs::path& d) {
    fs::remove(d / shard);
    ASSERT_EQ(::mkfifo((d / shard).c_str(), 0644), 0);
  });
  expect_every_command_fails(shard_fifo, "FIFO");
  const auto info_dir = variant(disk(), "info-dir", [](const fs::path& d) {
    fs::remove(d / "dataset_info.json");
    fs::create_directory(d / "dataset_info.json");
  });
  expect_every_command_fails(info_dir, "dataset_info.json");
  const auto shard_dir = variant(disk(), "shard-dir", [&](const fs::path& d) {
    fs::remove(d / shard);
    fs::create_directory(d / shard);
  });
  expect_every_command_fails(shard_dir, "is a directory");
  const auto shard_dev = variant(disk(), "shard-device", [&](const fs::path& d) {
    fs::remove(d / shard);
    fs::create_symlink("/dev/zero", d / shard);
  });
  // A link out of the dataset is refused before its target's type matters.
  expect_every_command_fails(shard_dev, "outside the dataset directory");
  const auto readme_fifo = variant(hub(), "readme-fifo", [](const fs::path& d) {
    fs::remove(d / "README.md");
    ASSERT_EQ(::mkfifo((d / "README.md").c_str(), 0644), 0);
  });
  expect_every_command_fails(readme_fifo, "", cache_env());
  const auto loop = variant(disk(), "symlink-loop", [](const fs::path& d) {
    fs::remove(d / "dataset_info.json");
    fs::create_symlink("dataset_info.json", d / "dataset_info.json");
  });
  expect_every_command_fails(loop, "symbolic links");
}

TEST_F(HostileInputs, HugeMetadataFilesAreRefusedBeforeReading) {
  const auto sparse = variant(disk(), "sparse-info", [](const fs::path& d) {
    fs::resize_file(d / "dataset_info.json", uintmax_t{3} << 30);
  });
  expect_every_command_fails(sparse, "limit of 67108864 bytes");
  const auto readme = variant(hub(), "sparse-readme", [](const fs::path& d) {
    fs::resize_file(d / "README.md", uintmax_t{3} << 30);
  });
  expect_every_command_fails(readme, "limit of 67108864 bytes", cache_env());
}

TEST_F(HostileInputs, DeeplyNestedYamlIsAnError) {
  const auto flow = variant(hub(), "deep-flow-yaml", [](const fs::path& d) {
    write(d / "README.md", "---\nx: " + nested(100000, '[', ']') + "\n---\n");
  });
  expect_every_command_fails(flow, "nested deeper than 256", cache_env());
  const auto block = variant(hub(), "deep-block-yaml", [](const fs::path& d) {
    std::string y = "---\n";
    for (int i = 0; i < 400; ++i) y += std::string(static_cast<size_t>(i), ' ') + "k:\n";
    write(d / "README.md", y + "---\n");
  });
  expect_every_command_fails(block, "nested deeper than 256", cache_env());
  const auto dashes = variant(hub(), "deep-dash-yaml", [](const fs::path& d) {
    std::string y = "---\nx:\n";
    for (int i = 0; i < 20000; ++i) y += "- ";
    write(d / "README.md", y + "1\n---\n");
  });
  expect_every_command_fails(dashes, "nested deeper than 256", cache_env());
  const auto aliases = variant(hub(), "alias-bomb-yaml", [](const fs::path& d) {
    std::string y = "---\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
    for (int i = 1; i < 9; ++i) {
      const std::string p = "*a" + std::to_string(i - 1);
      y += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [" + p;
      for (int k = 0; k < 9; ++k) y += ", " + p;
      y += "]\n";
    }
    y += "dataset_info:\n  features:\n  - name: observation\n    list: *a8\n";
    write(d / "README.md", y + "---\n");
  });
  expect_every_command_fails(aliases, "README.md", cache_env());
}

TEST_F(HostileInputs, ReadmePathsCannotLeaveTheDataset) {
  const fs::path outside = root_->path() / "outside";
  fs::create_directories(outside / "data");
  fs::copy(hub() / "data", outside / "data", fs::copy_options::recursive);
  auto readme_with_path = [](const std::string& path) {
    return "---\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n    path: " +
           path + "\n---\n";
  };
  const auto dotdot = variant(hub(), "readme-dotdot", [&](const fs::path& d) {
    write(d / "README.md", readme_with_path("../outside/data/train-*"));
  });
  expect_every_command_fails(dotdot, "leaves the dataset directory", cache_env());
  const auto absolute = variant(hub(), "readme-absolute", [&](const fs::path& d) {
    write(d / "README.md", readme_with_path((outside / "data" / "train-*").string()));
  });
  expect_every_command_fails(absolute, "leaves the dataset directory", cache_env());
  const auto data_dir = variant(hub(), "readme-data-dir", [&](const fs::path& d) {
    write(d / "README.md", "---\nconfigs:\n- config_name: default\n  data_dir: ../outside/data\n---\n");
  });
  expect_every_command_fails(data_dir, "leaves the dataset directory", cache_env());
  const auto link = variant(hub(), "readme-symlink", [&](const fs::path& d) {
    fs::remove_all(d / "data");
    fs::create_directory_symlink(outside / "data", d / "data");
  });
  expect_every_command_fails(link, "outside the dataset directory", cache_env());
  const auto file_link = variant(hub(), "shard-symlink", [&](const fs::path& d) {
    for (const auto& e : fs::directory_iterator(d / "data")) {
      const fs::path target = outside / "data" / e.path().filename();
      fs::remove(e.path());
      fs::create_symlink(target, e.path());
    }
  });
  expect_every_command_fails(file_link, "outside the dataset directory", cache_env());
  const auto nul = variant(hub(), "readme-nul", [&](const fs::path& d) {
    write(d / "README.md", readme_with_path("\"data/train-*\\0../../x\""));
  });
  expect_every_command_fails(nul, "NUL", cache_env());
}

TEST_F(HostileInputs, StateJsonNamesStayInside) {
  const std::string shard = "data-00000-of-00001.arrow";
  auto with_files = [&](const std::string& name, const std::string& files) {
    return variant(disk(), name, [&](const fs::path& d) {
      std::string state = read(d / "state.json");
      const size_t at = state.find("\"_data_files\"");
      const size_t open = state.find('[', at);
      const size_t close = state.find(']', open);
      write(d / "state.json", state.substr(0, open) + files + state.substr(close + 1));
    });
  };
  expect_every_command_fails(
      with_files("state-nul", "[{\"filename\": \"" + shard + "\\u0000junk\"}]"), "NUL");
  expect_every_command_fails(with_files("state-dotdot", "[{\"filename\": \"../x.arrow\"}]"),
                             "not a file name inside");
  const auto link = variant(disk(), "state-symlink", [&](const fs::path& d) {
    fs::remove(d / shard);
    fs::create_symlink(disk() / shard, d / shard);
  });
  expect_every_command_fails(link, "outside the dataset directory");
}

TEST_F(HostileInputs, ZeroedListOffsetsAreErrorsNamingTheDataset) {
  mouse::test::TempDir tmp;
  const fs::path lake = tmp / "lake";
  ASSERT_EQ(mouse::test::run_command(std::string(MOUSE_CLI_PATH) + " generate frozenlake-4x4 " +
                                     quote(lake) + " --steps 20 >/dev/null")
                .status,
            0);
  // metadata_q_star is list<float> of 4 per row: its offsets are the int32s 0, 4, 8, ..., 80.
  const fs::path shard = lake / "data-00000-of-00001.arrow";
  std::string bytes = read(shard);
  std::string pattern;
  for (int32_t v = 0; v <= 80; v += 4) pattern.append(reinterpret_cast<const char*>(&v), 4);
  const size_t at = bytes.find(pattern);
  ASSERT_NE(at, std::string::npos);
  // Offsets after row 2 zeroed: first (0) <= last (0) passes the open-time check.
  std::fill(bytes.begin() + static_cast<std::ptrdiff_t>(at + 12),
            bytes.begin() + static_cast<std::ptrdiff_t>(at + pattern.size()), '\0');
  write(shard, bytes);
  expect_clean_error("head " + quote(lake) + " -n 20", lake.string());
  expect_clean_error("encode " + quote(lake) + " --indices 5", "metadata_q_star");
  expect_clean_error("sample " + quote(lake) + " -S 4 -B 2 --workers 0", "less than the previous offset");
}

TEST_F(HostileInputs, UnknownFeatureTypesOnEncodedColumnsAreErrors) {
  for (const std::string type : {"Foo", "Audio", "Array2D"}) {
    const auto dir = variant(disk(), "type-" + type, [&](const fs::path& d) {
      std::string info = read(d / "dataset_info.json");
      const std::string key = "\"action\": {";
      const size_t at = info.find(key);
      ASSERT_NE(at, std::string::npos) << info;
      const size_t end = info.find('}', at);
      write(d / "dataset_info.json",
            info.substr(0, at) + "\"action\": {\"_type\": \"" + type + "\"}" + info.substr(end + 1));
    });
    expect_clean_error("encode " + quote(dir) + " --indices 0", "column \"action\"");
    expect_clean_error("sample " + quote(dir) + " -S 4 -B 2 --workers 0", type);
  }
}

TEST_F(HostileInputs, SizesPastMemoryNameTheOption) {
  const std::string d = quote(disk());
  // --max-action-dim sizes q_star, which only a dataset with q-values has.
  const fs::path lake = root_->path() / "lake";
  ASSERT_EQ(mouse::test::run_command(std::string(MOUSE_CLI_PATH) + " generate frozenlake-4x4 " + quote(lake) +
                                     " --steps 20 >/dev/null")
                .status,
            0);
  const std::string q = quote(lake);
  expect_clean_error("encode " + q + " --indices 0,1 --max-action-dim 1000000000", "--max-action-dim");
  expect_clean_error("encode " + d + " --indices 0 --max-obs-image-pixels 4000000000000000000",
                     "--max-obs-image-pixels");
  expect_clean_error("sample " + d + " -S 4 -B 4000000000000", "-B 4000000000000");
  expect_clean_error("sample " + d + " -S 4 -B 2 --prefetch 4000000000000000", "--prefetch");
  expect_clean_error("sample " + q + " -S 4 -B 2 --max-action-dim 1000000000", "--max-action-dim");
  expect_clean_error("sample " + d + " -S 4 -B 2 --workers 100000", "--workers 100000");
  const fs::path cfg = root_->path() / "permute.yaml";
  write(cfg, "permute_obs_discrete: true\n");
  expect_clean_error("sample " + d + " -S 4 -B 64 --augment " + quote(cfg) +
                         " --max-num-obs-discrete 4000000000000000",
                     "--max-num-obs-discrete");
  expect_clean_error("sample " + d + " -S 4 -B 2 --augment /dev/zero", "character device");
  expect_clean_error("sample " + d + " -S 4 -B 2 --augment " + quote(root_->path()), "is a directory");
}

// The memory check counts the columns the dataset has: CartPole has no q-values, so the default
// --max-action-dim 1000 costs nothing, and a million windows of 4 of its rows fit.
TEST_F(HostileInputs, SizesCountOnlyTheColumnsTheDatasetHas) {
  const auto r = mouse::test::run_command(std::string(MOUSE_CLI_PATH) + " sample " + quote(disk()) +
                                          " -S 4 -B 1000000 --workers 0 --batches 0 2>&1");
  EXPECT_EQ(r.status, 0) << r.out;
  const auto e = mouse::test::run_command(std::string(MOUSE_CLI_PATH) + " encode " + quote(disk()) +
                                          " --indices 0,1 --max-action-dim 1000000000 2>&1");
  EXPECT_EQ(e.status, 0) << e.out;
}

TEST_F(HostileInputs, OverwriteNeverReplacesAnInputOrAForeignDirectory) {
  const fs::path wrap = root_->path() / "wrap";
  fs::create_directories(wrap);
  fs::copy(disk(), wrap / "inner", fs::copy_options::recursive);
  expect_clean_error("convert " + quote(wrap / "inner") + " " + quote(wrap) + " --to hub --overwrite",
                     "contains IN");
  EXPECT_TRUE(fs::exists(wrap / "inner" / "state.json"));
  expect_clean_error("convert " + quote(wrap / "inner") + " " + quote(wrap / "inner" / "sub") +
                         " --to hub --overwrite",
                     "inside IN");
  // Through a symbolic link to the parent, too.
  fs::create_directory_symlink(wrap, root_->path() / "wrap-link");
  expect_clean_error("convert " + quote(wrap / "inner") + " " + quote(root_->path() / "wrap-link") +
                         " --to disk --overwrite",
                     "");
  EXPECT_TRUE(fs::exists(wrap / "inner" / "state.json"));
  const fs::path foreign = root_->path() / "foreign";
  fs::create_directories(foreign);
  write(foreign / "notes.txt", "mine");
  expect_clean_error("demo --keep " + quote(foreign) + " --steps 100 --seconds 0.1", "holds no dataset");
  EXPECT_EQ(read(foreign / "notes.txt"), "mine");
  expect_clean_error("generate cartpole " + quote(foreign) + " --steps 5 --overwrite",
                     "holds no dataset");
  EXPECT_EQ(read(foreign / "notes.txt"), "mine");
}

}  // namespace
