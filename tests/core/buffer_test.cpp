#include "mouse/buffer.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/memory_limit.hpp"
#include "mouse/error.hpp"
#include "test_support.hpp"

namespace mouse {
namespace {

// Asserts both the exception type and a substring of its message.
#define MOUSE_EXPECT_THROW_WITH(statement, type, needle)                                   \
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

std::span<const uint8_t> as_bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string as_string(const Buffer& b) {
  return {reinterpret_cast<const char*>(b.data()), static_cast<size_t>(b.size())};
}

TEST(Buffer, AllocateIsZeroedAndAligned) {
  Buffer b = Buffer::allocate(100);
  EXPECT_EQ(b.size(), 100);
  EXPECT_FALSE(b.empty());
  EXPECT_NE(b.owner(), nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b.data()) % 64, 0u);
  for (uint8_t byte : b.bytes()) EXPECT_EQ(byte, 0);
}

TEST(Buffer, CopyOfCopiesBytes) {
  std::string text = "hello";
  Buffer b = Buffer::copy_of(as_bytes(text));
  text[0] = 'j';
  EXPECT_EQ(as_string(b), "hello");
}

TEST(Buffer, SliceSharesOwnerAndOutlivesParent) {
  std::weak_ptr<const void> weak;
  Buffer slice;
  {
    Buffer whole = Buffer::copy_of(as_bytes("abcdef"));
    weak = whole.owner();
    slice = whole.slice(2, 3);
    EXPECT_EQ(slice.owner(), whole.owner());
  }
  EXPECT_FALSE(weak.expired());
  EXPECT_EQ(as_string(slice), "cde");
  slice = Buffer();
  EXPECT_TRUE(weak.expired());
}

TEST(Buffer, DefaultIsEmptyWithoutOwner) {
  Buffer b;
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.size(), 0);
  EXPECT_EQ(b.owner(), nullptr);
}

TEST(MappedFile, MapsWholeFile) {
  test::TempDir dir;
  write_file_atomically(dir / "a.bin", as_bytes("mapped bytes"));
  std::shared_ptr<MappedFile> map = MappedFile::open(dir / "a.bin");
  EXPECT_EQ(map->size(), 12);
  EXPECT_EQ(map->path(), dir / "a.bin");
  EXPECT_EQ(as_string(map->buffer()), "mapped bytes");
}

// Huge pages are asked for while the process-wide budget allows, and the budget gets the bytes
// back when the map goes; a map the budget cannot hold keeps 4 KB pages.
TEST(MappedFile, HugePagesComeFromABudgetGivenBackOnUnmap) {
  test::TempDir dir;
  write_file_atomically(dir / "a.bin", as_bytes("mapped bytes"));
  detail::ByteBudget& budget = detail::huge_page_budget();
  const int64_t before = budget.used();
  {
    std::shared_ptr<MappedFile> map = MappedFile::open(dir / "a.bin");
    // Refused only where the kernel has no transparent huge pages at all.
    EXPECT_EQ(budget.used() - before, map->huge_pages() ? 12 : 0);
    EXPECT_EQ(as_string(map->buffer()), "mapped bytes");
  }
  EXPECT_EQ(budget.used(), before);
  // Fill the budget: the next map keeps small pages and still reads the same bytes.
  int64_t filler = 0;
  while (budget.take(int64_t{1} << 40)) filler += int64_t{1} << 40;
  for (int64_t step = int64_t{1} << 39; step > 0; step >>= 1) {
    if (budget.take(step)) filler += step;
  }
  {
    std::shared_ptr<MappedFile> map = MappedFile::open(dir / "a.bin");
    EXPECT_FALSE(map->huge_pages());
    EXPECT_EQ(as_string(map->buffer()), "mapped bytes");
  }
  budget.give_back(filler);
  EXPECT_EQ(budget.used(), before);
}

TEST(MappedFile, EmptyFileMapsToEmptyBuffer) {
  test::TempDir dir;
  write_file_atomically(dir / "empty.bin", {});
  std::shared_ptr<MappedFile> map = MappedFile::open(dir / "empty.bin");
  EXPECT_EQ(map->size(), 0);
  EXPECT_TRUE(map->buffer().empty());
}

TEST(MappedFile, SliceKeepsMapAliveAfterFileIsDropped) {
  test::TempDir dir;
  write_file_atomically(dir / "a.bin", as_bytes("0123456789"));
  std::shared_ptr<MappedFile> map = MappedFile::open(dir / "a.bin");
  std::weak_ptr<MappedFile> weak = map;
  Buffer slice = map->buffer().slice(3, 4);
  map.reset();
  EXPECT_FALSE(weak.expired());
  // Still mapped: reading would fault under ASan (or at all) if it had been unmapped.
  EXPECT_EQ(as_string(slice), "3456");
  slice = Buffer();
  EXPECT_TRUE(weak.expired());
}

TEST(MappedFile, MissingFileThrowsIoErrorNamingPath) {
  test::TempDir dir;
  std::filesystem::path missing = dir / "no-such-file.arrow";
  MOUSE_EXPECT_THROW_WITH(MappedFile::open(missing), IoError, missing.string());
}

TEST(MappedFile, DirectoryThrowsIoError) {
  test::TempDir dir;
  MOUSE_EXPECT_THROW_WITH(MappedFile::open(dir.path()), IoError, dir.path().string());
}

TEST(WriteFileAtomically, WritesReplacesAndLeavesNoTempFile) {
  test::TempDir dir;
  std::filesystem::path target = dir / "state.json";
  write_file_atomically(target, as_bytes("first version"));
  write_file_atomically(target, as_bytes("second"));
  EXPECT_EQ(as_string(MappedFile::open(target)->buffer()), "second");
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    names.push_back(entry.path().filename().string());
  }
  EXPECT_EQ(names, (std::vector<std::string>{"state.json"}));
}

TEST(WriteFileAtomically, MissingDirectoryThrowsIoErrorAndLeavesNothing) {
  test::TempDir dir;
  std::filesystem::path target = dir / "missing-dir" / "x.bin";
  MOUSE_EXPECT_THROW_WITH(write_file_atomically(target, as_bytes("x")), IoError, "missing-dir");
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

}  // namespace
}  // namespace mouse
