#include "core/checked_file.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include "mouse/buffer.hpp"
#include "mouse/error.hpp"
#include "test_support.hpp"

namespace mouse::detail {
namespace {

namespace fs = std::filesystem;

#define EXPECT_THROW_CONTAINING(statement, type, needle)                                  \
  EXPECT_THROW(                                                                           \
      {                                                                                   \
        try {                                                                             \
          statement;                                                                      \
        } catch (const type& e_) {                                                        \
          EXPECT_NE(std::string(e_.what()).find(needle), std::string::npos) << e_.what(); \
          throw;                                                                          \
        }                                                                                 \
      },                                                                                  \
      type)

TEST(CheckedFile, FifoIsRefusedAtOnceInsteadOfBlocking) {
  test::TempDir tmp;
  const fs::path fifo = tmp / "dataset_info.json";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW_CONTAINING(read_small_file(fifo, kMaxMetadataFileBytes, "metadata file"), IoError,
                          "is a FIFO");
  EXPECT_THROW_CONTAINING(MappedFile::open(fifo), IoError, "is a FIFO");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1));
}

TEST(CheckedFile, DirectoriesDevicesAndLoopsAreNamed) {
  test::TempDir tmp;
  EXPECT_THROW_CONTAINING(read_small_file(tmp.path(), 100, "x"), IoError, "is a directory");
  EXPECT_THROW_CONTAINING(MappedFile::open("/dev/zero"), IoError, "is a character device");
  fs::create_symlink("loop", tmp / "loop");
  EXPECT_THROW_CONTAINING(read_small_file(tmp / "loop", 100, "x"), IoError,
                          "too many levels of symbolic links");
  EXPECT_THROW_CONTAINING(read_small_file(tmp / "missing", 100, "x"), IoError, "missing");
}

TEST(CheckedFile, SizeCapIsCheckedBeforeReading) {
  test::TempDir tmp;
  const fs::path big = tmp / "big.json";
  { std::ofstream(big) << "x"; }
  fs::resize_file(big, uintmax_t{8} << 30);  // sparse: nothing is written
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW_CONTAINING(read_small_file(big, kMaxMetadataFileBytes, "metadata file"), IoError,
                          "more than the limit of 67108864 bytes");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1));
  const fs::path small = tmp / "small.json";
  { std::ofstream(small) << "{\"a\": 1}"; }
  EXPECT_EQ(read_small_file(small, 8, "x"), "{\"a\": 1}");
  EXPECT_THROW(read_small_file(small, 7, "x"), IoError);
}

TEST(CheckedFile, ExcerptIsShortAndOneLine) {
  EXPECT_EQ(excerpt("abc"), "abc");
  EXPECT_EQ(excerpt("a\nb\x01"), "a\\nb\\x01");
  const std::string cut = excerpt(std::string(100000, 'x'));
  EXPECT_LT(cut.size(), 250u);
  EXPECT_NE(cut.find("(100000 characters)"), std::string::npos);
}

TEST(CheckedFile, JsonDepthIsCountedOutsideStrings) {
  EXPECT_EQ(json_too_deep_at("[[[]]]", 3), -1);
  EXPECT_EQ(json_too_deep_at("[[[[]]]]", 3), 3);
  EXPECT_EQ(json_too_deep_at(R"(["[[[[[[", "\"[[[["])", 2), -1);
  EXPECT_EQ(json_too_deep_at(std::string(300, '{')), 256);
}

TEST(CheckedFile, YamlDepthAcceptsRealReadmesAndRefusesDeepOnes) {
  const std::string readme = R"(configs:
- config_name: default
  data_files:
  - split: train
    path: data/train-*   # [not flow
dataset_info:
  features:
  - name: a
    dtype:
      class_label:
        names:
          '0': "[x"
  - name: text
    description: |
      [[[[[[ a block scalar
          - - - - deeper text
pretty_name: 'it''s {fine}'
tags: [a, {b: c}]
)";
  EXPECT_EQ(yaml_too_deep_at(readme, 12), -1);
  EXPECT_EQ(yaml_too_deep_at("x: " + std::string(300, '[')), 1);
  std::string dashes = "x:\n";
  for (int i = 0; i < 300; ++i) dashes += "- ";
  EXPECT_EQ(yaml_too_deep_at(dashes + "1\n"), 2);
  std::string block;
  for (int i = 0; i < 300; ++i) block += std::string(static_cast<size_t>(i), ' ') + "k:\n";
  EXPECT_EQ(yaml_too_deep_at(block), 257);
}

TEST(CheckedFile, ResolvesInsideFollowsSymlinks) {
  test::TempDir tmp;
  fs::create_directories(tmp / "root/data");
  fs::create_directories(tmp / "elsewhere");
  { std::ofstream(tmp / "elsewhere/f") << "x"; }
  fs::create_symlink(tmp / "elsewhere/f", tmp / "root/data/link");
  EXPECT_TRUE(resolves_inside(tmp / "root/data/x", tmp / "root"));
  EXPECT_FALSE(resolves_inside(tmp / "root/data/link", tmp / "root"));
  EXPECT_FALSE(resolves_inside(tmp / "root/../elsewhere/f", tmp / "root"));
  EXPECT_FALSE(resolves_inside(tmp / "rootx", tmp / "root"));
}

}  // namespace
}  // namespace mouse::detail
