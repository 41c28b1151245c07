// ChunkList::find: the division for lists of equal chunks (all but the last) gives the chunk
// the binary search over `starts` gives, for every row, whatever the last chunk's size; lists
// that are not uniform keep the search.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "store/chunks.hpp"

namespace mouse::detail {
namespace {

ChunkList list_of(const std::vector<int64_t>& sizes) {
  ChunkList list;
  for (int64_t n : sizes) list.add(Chunk{}, n);
  return list;
}

size_t searched(const ChunkList& list, int64_t row) {
  return static_cast<size_t>(std::upper_bound(list.starts.begin(), list.starts.end(), row) -
                             list.starts.begin() - 1);
}

void expect_finds_like_search(const std::vector<int64_t>& sizes, int64_t uniform) {
  const ChunkList list = list_of(sizes);
  EXPECT_EQ(list.uniform, uniform);
  for (int64_t row = 0; row < list.rows(); ++row) {
    ASSERT_EQ(list.find(row), searched(list, row)) << "row " << row;
  }
}

TEST(ChunkList, UniformChunksAreFoundByDivision) {
  expect_finds_like_search({1000}, 1000);
  expect_finds_like_search({10, 10, 10}, 10);
  expect_finds_like_search({10, 10, 3}, 10);   // a shorter last chunk
  expect_finds_like_search({10, 10, 25}, 10);  // a longer last chunk
  expect_finds_like_search({7, 7, 7, 7, 7, 7, 7, 1}, 7);
}

TEST(ChunkList, UnevenChunksAreSearched) {
  expect_finds_like_search({10, 3, 10}, 0);  // a short chunk in the middle
  expect_finds_like_search({3, 10, 10}, 0);
  expect_finds_like_search({10, 10, 11, 10}, 0);
  expect_finds_like_search({1, 2, 3, 4, 5}, 0);
}

TEST(ChunkList, AnUnevenChunkEndsTheUniformity) {
  ChunkList list = list_of({4, 4});
  EXPECT_EQ(list.uniform, 4);
  list.add(Chunk{}, 2);
  EXPECT_EQ(list.uniform, 4);  // still last: any size
  list.add(Chunk{}, 4);
  EXPECT_EQ(list.uniform, 0);  // the 2-row chunk is now in the middle
  for (int64_t row = 0; row < list.rows(); ++row) EXPECT_EQ(list.find(row), searched(list, row));
}

}  // namespace
}  // namespace mouse::detail
