// StoreConfig::image_cache: the decoded-frame cache gives the same tensors as decoding on every
// read (PNG grey, grey+alpha, RGB, RGBA, palette with tRNS, 16-bit, interlaced, JPEG grey and RGB,
// null frames), is built once across processes, is reused by later stores, is rebuilt when a
// source file changes or the entry is damaged, and refuses what it cannot do with a clear error.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <optional>
#include <random>
#include <thread>

#include "image_writers.hpp"
#include "store/image_codec.hpp"
#include "store_test_util.hpp"

namespace mouse {
namespace {

using test::iota;
using test::make_dataset;
using test::PngCase;
using test::write_jpeg;
using test::write_png;

constexpr int64_t kWidth = 12 * 10 * 4;  // the largest frame: 12x10 RGBA

// Frames of every kind the decoder handles, with a null every few rows; `seed` varies pixels.
std::vector<std::optional<std::string>> mixed_frames(int64_t n, uint32_t seed) {
  const PngCase kinds[] = {
      {"grey", 10, 12, 8, PNG_COLOR_TYPE_GRAY},
      {"grey-alpha", 10, 12, 8, PNG_COLOR_TYPE_GRAY_ALPHA},
      {"rgb", 10, 12, 8, PNG_COLOR_TYPE_RGB},
      {"rgba", 10, 12, 8, PNG_COLOR_TYPE_RGB_ALPHA},
      {"palette-trns", 10, 12, 8, PNG_COLOR_TYPE_PALETTE, false, 16, 5},
      {"rgb16", 10, 12, 16, PNG_COLOR_TYPE_RGB},
      {"interlaced", 10, 12, 8, PNG_COLOR_TYPE_RGB, true},
  };
  std::vector<std::optional<std::string>> out;
  for (int64_t i = 0; i < n; ++i) {
    const auto k = static_cast<size_t>(i % 10);
    const auto s = static_cast<uint32_t>(i) + seed;
    if (k < 7) {
      out.push_back(write_png(kinds[k], s));
    } else if (k == 7) {
      out.push_back(write_jpeg(10, 12, 1, 90, 0, false, s));
    } else if (k == 8) {
      out.push_back(write_jpeg(10, 12, 3, 90, 2, false, s));
    } else {
      out.push_back(std::nullopt);  // a null frame
    }
  }
  return out;
}

// A step dataset of `n` rows whose observation_image is an Image column of mixed frames, in
// record batches of 16 rows.
Dataset frame_dataset(int64_t n, uint32_t seed) {
  const auto frames = mixed_frames(n, seed);
  std::vector<std::optional<std::string>> paths(frames.size());
  std::vector<bool> valid;
  for (const auto& f : frames) valid.push_back(f.has_value());
  std::vector<int64_t> action = iota(n), done(static_cast<size_t>(n), 0);
  std::vector<float> reward(static_cast<size_t>(n), 1.0f);
  return make_dataset(
      {"action", "reward", "done", "observation_image"},
      {arrow::make_primitive<int64_t>(action), arrow::make_primitive<float>(reward),
       arrow::make_primitive<int64_t>(done),
       arrow::make_struct({"bytes", "path"}, {arrow::make_binary(frames), arrow::make_utf8(paths)},
                          valid)},
      16);
}

StoreConfig config_with(DType dtype, std::string cache) {
  StoreConfig c;
  c.max_action_dim = 2;
  c.max_obs_image_pixels = kWidth;
  c.obs_image_dtype = dtype;
  c.image_cache = std::move(cache);
  return c;
}

// The single frame cache file under `root`.
std::filesystem::path cache_file(const std::filesystem::path& root) {
  std::vector<std::filesystem::path> found;
  for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
    if (e.path().filename() == "frames.u8") found.push_back(e.path());
  }
  EXPECT_EQ(found.size(), 1u);
  return found.empty() ? std::filesystem::path() : found.front();
}

ino_t inode_of(const std::filesystem::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_ino;
}

TEST(FrameCache, SameTensorsAsTheDecodePathForEveryKindOfFrame) {
  test::TempDir dir;
  const int64_t n = 70;
  frame_dataset(n, 1).save_to_disk(dir / "data");
  const Dataset ds = Dataset::load_from_disk(dir / "data");
  for (const DType dtype : {DType::kUInt8, DType::kInt64}) {
    DatasetStore decoded(config_with(dtype, ""));
    decoded.from_dataset(ds);
    DatasetStore cached(config_with(dtype, (dir / "cache").string()));
    cached.from_dataset(ds);
    const std::vector<int64_t> all = iota(n);
    const TensorDict want = decoded.get(all);
    EXPECT_TRUE(cached.get(all).equals(want)) << dtype_name(dtype);
    // Windows (runs of the cache file) too, with padding.
    std::vector<WindowSlot> windows{{0, 16, 0}, {9, 16, 1}, {50, 7, 2}, {54, 16, 3}};
    TensorDict a({64}), b({64});
    decoded.gather_windows(windows, 16, a);
    cached.gather_windows(windows, 16, b);
    EXPECT_TRUE(a.equals(b)) << dtype_name(dtype);
    // The source the store gives back is the original, PNG bytes and all.
    EXPECT_EQ(cached.to_dataset().schema()->fields[3].type->to_string(),
              ds.schema()->fields[3].type->to_string());
  }
  // One entry serves both dtypes: the cache holds uint8 rows of the store's width.
  EXPECT_EQ(std::filesystem::file_size(cache_file(dir / "cache")),
            static_cast<uintmax_t>(n * kWidth));
}

TEST(FrameCache, ReusedByLaterStoresAndRebuiltWhenTheSourceChanges) {
  test::TempDir dir;
  frame_dataset(40, 1).save_to_disk(dir / "data");
  const std::string cache = (dir / "cache").string();
  {
    DatasetStore first(config_with(DType::kUInt8, cache));
    first.from_dataset(Dataset::load_from_disk(dir / "data"));
  }
  const auto file = cache_file(dir / "cache");
  const ino_t built = inode_of(file);
  // Held open, so a rebuilt file cannot get the old inode number back.
  std::ifstream hold(file);
  {
    DatasetStore again(config_with(DType::kUInt8, cache));
    again.from_dataset(Dataset::load_from_disk(dir / "data"));
    EXPECT_EQ(inode_of(file), built) << "a matching entry must be mapped, not rebuilt";
  }
  // Other frames in the same place: the entry is rebuilt and matches the new decode.
  frame_dataset(40, 99).save_to_disk(dir / "data2");
  std::filesystem::remove_all(dir / "data");
  std::filesystem::rename(dir / "data2", dir / "data");
  const Dataset changed = Dataset::load_from_disk(dir / "data");
  DatasetStore decoded(config_with(DType::kUInt8, ""));
  decoded.from_dataset(changed);
  DatasetStore cached(config_with(DType::kUInt8, cache));
  cached.from_dataset(changed);
  EXPECT_NE(inode_of(cache_file(dir / "cache")), built);
  EXPECT_TRUE(cached.get(iota(40)).equals(decoded.get(iota(40))));
}

TEST(FrameCache, DamagedEntryOrLitterIsRebuiltOrRemoved) {
  test::TempDir dir;
  frame_dataset(30, 3).save_to_disk(dir / "data");
  const std::string cache = (dir / "cache").string();
  DatasetStore decoded(config_with(DType::kUInt8, ""));
  decoded.from_dataset(Dataset::load_from_disk(dir / "data"));
  {
    DatasetStore first(config_with(DType::kUInt8, cache));
    first.from_dataset(Dataset::load_from_disk(dir / "data"));
  }
  const auto file = cache_file(dir / "cache");
  // A truncated cache file (a disk error, a hand edit) and the temporary of a killed build.
  std::filesystem::resize_file(file, 100);
  std::ofstream(file.parent_path() / "frames.u8.tmp-999999") << "half a build";
  DatasetStore again(config_with(DType::kUInt8, cache));
  again.from_dataset(Dataset::load_from_disk(dir / "data"));
  EXPECT_EQ(std::filesystem::file_size(file), static_cast<uintmax_t>(30 * kWidth));
  EXPECT_FALSE(std::filesystem::exists(file.parent_path() / "frames.u8.tmp-999999"));
  EXPECT_TRUE(again.get(iota(30)).equals(decoded.get(iota(30))));
  // A garbage fingerprint is stale too.
  std::ofstream(file.parent_path() / "fingerprint.json") << "{not json";
  DatasetStore third(config_with(DType::kUInt8, cache));
  third.from_dataset(Dataset::load_from_disk(dir / "data"));
  EXPECT_TRUE(third.get(iota(30)).equals(decoded.get(iota(30))));
}

TEST(FrameCache, TwoProcessesStartingTogetherBuildOnceAndShareIt) {
  test::TempDir dir;
  frame_dataset(200, 5).save_to_disk(dir / "data");
  const std::string cache = (dir / "cache").string();
  int ready[2];
  int report[2];
  ASSERT_EQ(::pipe(ready), 0);
  ASSERT_EQ(::pipe(report), 0);
  std::vector<pid_t> children;
  for (int k = 0; k < 2; ++k) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      // Wait for the start signal so both open the store at the same moment.
      char go = 0;
      if (::read(ready[0], &go, 1) != 1) ::_exit(3);
      try {
        DatasetStore store(config_with(DType::kUInt8, cache));
        store.from_dataset(Dataset::load_from_disk(dir / "data"));
        if (store.size() != 200) ::_exit(4);
        struct stat st {};
        for (const auto& e : std::filesystem::recursive_directory_iterator(cache)) {
          if (e.path().filename() == "frames.u8") ::stat(e.path().c_str(), &st);
        }
        const auto inode = static_cast<uint64_t>(st.st_ino);
        if (::write(report[1], &inode, sizeof inode) != sizeof inode) ::_exit(5);
        ::_exit(0);
      } catch (...) {
        ::_exit(6);
      }
    }
    children.push_back(pid);
  }
  ASSERT_EQ(::write(ready[1], "gg", 2), 2);
  for (const pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
  }
  uint64_t inodes[2] = {0, 0};
  ASSERT_EQ(::read(report[0], inodes, sizeof inodes), static_cast<ssize_t>(sizeof inodes));
  for (int fd : {ready[0], ready[1], report[0], report[1]}) ::close(fd);
  // Both mapped the same file, which one of them built while the other waited on the lock.
  EXPECT_EQ(inodes[0], inodes[1]);
  EXPECT_EQ(static_cast<uint64_t>(inode_of(cache_file(dir / "cache"))), inodes[0]);
}

// A dataset of `n` 40x40x3 PNG frames (noise, so they take a while to decode), saved to `dir`.
void save_noise_frames(const std::filesystem::path& dir, int64_t n) {
  std::vector<std::optional<std::string>> frames;
  test::Bytes gen{12345};
  for (int64_t i = 0; i < n; ++i) {
    std::vector<uint8_t> px(40 * 40 * 3);
    for (auto& p : px) p = gen.next();
    frames.push_back(detail::encode_png(px.data(), px.size(), 40, 40, 3));
  }
  std::vector<std::optional<std::string>> paths(frames.size());
  std::vector<int64_t> zeros(static_cast<size_t>(n), 0);
  std::vector<float> r(static_cast<size_t>(n), 0.0f);
  make_dataset({"action", "reward", "done", "observation_image"},
               {arrow::make_primitive<int64_t>(zeros), arrow::make_primitive<float>(r),
                arrow::make_primitive<int64_t>(zeros),
                arrow::make_struct({"bytes", "path"},
                                   {arrow::make_binary(frames), arrow::make_utf8(paths)})},
               1000)
      .save_to_disk(dir);
}

TEST(FrameCache, BuildsKilledAtRandomMomentsLeaveNothingAStoreTripsOver) {
  test::TempDir dir;
  save_noise_frames(dir / "data", 6000);
  const std::string cache = (dir / "cache").string();
  StoreConfig config = config_with(DType::kUInt8, cache);
  config.max_obs_image_pixels = 40 * 40 * 3;
  // A child process loads the store (building the cache) and exits 0 when done.
  auto start_build = [&] {
    const pid_t pid = ::fork();
    if (pid == 0) {
      const int null = ::open("/dev/null", O_WRONLY);
      ::dup2(null, 2);  // the build's announcement and progress
      try {
        DatasetStore store(config);
        store.from_dataset(Dataset::load_from_disk(dir / "data"));
        ::_exit(0);
      } catch (...) {
        ::_exit(1);
      }
    }
    return pid;
  };
  auto wait_status = [](pid_t pid) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return status;
  };
  // How long a build takes here, then clear it.
  const auto t0 = std::chrono::steady_clock::now();
  const pid_t first = start_build();
  ASSERT_GT(first, 0);
  const int done = wait_status(first);
  ASSERT_TRUE(WIFEXITED(done) && WEXITSTATUS(done) == 0);
  double window = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::filesystem::remove_all(dir / "cache");
  StoreConfig plain = config;
  plain.image_cache.clear();
  DatasetStore decoded(plain);
  decoded.from_dataset(Dataset::load_from_disk(dir / "data"));
  const TensorDict want = decoded.get(iota(6000));

  std::mt19937 rng(5);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  int killed = 0;
  const int trials = 12;
  for (int t = 0; t < trials; ++t) {
    const pid_t pid = start_build();
    ASSERT_GT(pid, 0);
    std::this_thread::sleep_for(std::chrono::duration<double>(unit(rng) * window));
    ::kill(pid, SIGKILL);
    const int status = wait_status(pid);
    if (WIFSIGNALED(status)) {
      ++killed;
    } else {
      window *= 0.8;
      std::filesystem::remove_all(dir / "cache");  // finished: start the next trial cold
      continue;
    }
    // Whatever the kill left, the next store gets the decoded frames (rebuilding if need be)
    // and leaves no temporary behind.
    DatasetStore store(config);
    store.from_dataset(Dataset::load_from_disk(dir / "data"));
    EXPECT_TRUE(store.get(iota(6000)).equals(want)) << "trial " << t;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir / "cache")) {
      EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos)
          << "trial " << t << ": " << e.path();
    }
    std::filesystem::remove_all(dir / "cache");
  }
  EXPECT_GE(killed, trials / 3) << "window " << window << " s";
}

TEST(FrameCache, InMemoryDatasetsAreFingerprintedByTheirBytes) {
  test::TempDir dir;
  const std::string cache = (dir / "cache").string();
  DatasetStore decoded(config_with(DType::kInt64, ""));
  decoded.from_dataset(frame_dataset(20, 7));
  DatasetStore cached(config_with(DType::kInt64, cache));
  cached.from_dataset(frame_dataset(20, 7));
  EXPECT_TRUE(cached.get(iota(20)).equals(decoded.get(iota(20))));
  const ino_t built = inode_of(cache_file(dir / "cache"));
  DatasetStore same(config_with(DType::kInt64, cache));
  same.from_dataset(frame_dataset(20, 7));
  EXPECT_EQ(inode_of(cache_file(dir / "cache")), built);
  // Other bytes: another entry.
  DatasetStore other(config_with(DType::kInt64, cache));
  other.from_dataset(frame_dataset(20, 8));
  size_t entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir / "cache")) entries += e.is_directory();
  EXPECT_EQ(entries, 2u);
}

// 10 steps of mixed frames whose frame at `row` is a PNG signature and garbage.
Dataset dataset_with_a_broken_frame(size_t row) {
  auto frames = mixed_frames(10, 1);
  frames[row] = std::string("\x89PNG\r\n\x1a\nbroken", 14);
  std::vector<std::optional<std::string>> paths(frames.size());
  std::vector<int64_t> zeros(10, 0);
  std::vector<float> r(10, 0.0f);
  return make_dataset(
      {"action", "reward", "done", "observation_image"},
      {arrow::make_primitive<int64_t>(zeros), arrow::make_primitive<float>(r),
       arrow::make_primitive<int64_t>(zeros),
       arrow::make_struct({"bytes", "path"}, {arrow::make_binary(frames), arrow::make_utf8(paths)})});
}

TEST(FrameCache, ErrorsNameWhatWasWrong) {
  test::TempDir dir;
  // The cache directory is a file.
  std::ofstream(dir / "not-a-dir") << "x";
  DatasetStore store(config_with(DType::kUInt8, (dir / "not-a-dir").string()));
  EXPECT_THROW_MSG(store.from_dataset(frame_dataset(10, 1)), IoError, "not-a-dir");
  EXPECT_EQ(store.size(), 0);
  // A frame that does not decode names its row, and leaves no cache file behind.
  const Dataset bad = dataset_with_a_broken_frame(6);
  DatasetStore broken(config_with(DType::kUInt8, (dir / "cache").string()));
  EXPECT_THROW_MSG(broken.from_dataset(bad), FormatError, "row 6");
  EXPECT_EQ(broken.size(), 0);
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir / "cache")) {
    EXPECT_EQ(e.path().filename().string().find("frames.u8"), std::string::npos) << e.path();
  }
  // Stores without an image key or without an Image column do not touch the cache.
  StoreConfig no_images = config_with(DType::kUInt8, (dir / "unused").string());
  no_images.max_obs_image_pixels = 0;
  DatasetStore plain(no_images);
  plain.from_dataset(frame_dataset(10, 1));
  EXPECT_FALSE(std::filesystem::exists(dir / "unused"));
}

// image_cache "default" (the Python default): the "auto" cache when it can be had; otherwise
// one line on stderr and frames decoded on every read; a frame that does not decode is still an
// error.
TEST(FrameCache, ByDefaultCachesWhenItCanAndElseDecodesWithOneLine) {
  test::TempDir dir;
  frame_dataset(30, 4).save_to_disk(dir / "data");
  const Dataset ds = Dataset::load_from_disk(dir / "data");
  DatasetStore decoded(config_with(DType::kUInt8, ""));
  decoded.from_dataset(ds);
  const TensorDict want = decoded.get(iota(30));
  {
    const test::ScopedEnv env("MOUSE_DATA_CACHE", (dir / "root").c_str());
    DatasetStore store(config_with(DType::kUInt8, "default"));
    testing::internal::CaptureStderr();
    store.from_dataset(ds);
    const std::string err = testing::internal::GetCapturedStderr();
    EXPECT_NE(err.find("once into the frame cache"), std::string::npos) << err;
    EXPECT_EQ(std::filesystem::file_size(cache_file(dir / "root" / "frames")),
              static_cast<uintmax_t>(30 * kWidth));
    EXPECT_TRUE(store.get(iota(30)).equals(want));
  }
  {
    std::ofstream(dir / "a-file") << "x";  // the cache root cannot be a directory
    const test::ScopedEnv env("MOUSE_DATA_CACHE", (dir / "a-file").c_str());
    DatasetStore store(config_with(DType::kUInt8, "default"));
    testing::internal::CaptureStderr();
    store.from_dataset(ds);
    const std::string err = testing::internal::GetCapturedStderr();
    EXPECT_NE(err.find("no frame cache for"), std::string::npos) << err;
    EXPECT_NE(err.find("decoded on every read"), std::string::npos) << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
    EXPECT_TRUE(store.get(iota(30)).equals(want));
    // "auto" under the same conditions is an error.
    DatasetStore strict(config_with(DType::kUInt8, "auto"));
    EXPECT_THROW(strict.from_dataset(ds), IoError);
  }
  {
    const test::ScopedEnv env("MOUSE_DATA_CACHE", (dir / "root2").c_str());
    const Dataset bad = dataset_with_a_broken_frame(3);
    DatasetStore broken(config_with(DType::kUInt8, "default"));
    EXPECT_THROW_MSG(broken.from_dataset(bad), FormatError, "row 3");
  }
}

}  // namespace
}  // namespace mouse
