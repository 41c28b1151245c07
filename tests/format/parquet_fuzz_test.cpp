// Replays the Parquet fuzz body over the corpus (every parquet-testing and arrow-testing file,
// the bad_data files) and over deterministic mutations of the small ones: truncations, bit
// flips and overwritten bytes. Under the asan preset this is the regression run of the fuzzer.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <vector>

#include "format/parquet/parquet_fuzz.hpp"
#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;

std::vector<fs::path> corpus() {
  std::vector<fs::path> out;
  const fs::path root = mouse::test::testdata_dir();
  for (const auto* dir : {"parquet-testing/data", "parquet-testing/bad_data", "arrow-testing/data/parquet"}) {
    if (!fs::exists(root / dir)) continue;
    for (const auto& e : fs::directory_iterator(root / dir)) {
      if (e.path().extension() == ".parquet") out.push_back(e.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<uint8_t> read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void run(const std::vector<uint8_t>& bytes) {
  // A copy in its own heap block, so ASan sees reads past the end.
  auto* copy = new uint8_t[bytes.size() + 1];
  std::copy(bytes.begin(), bytes.end(), copy);
  mouse::detail::fuzz_parquet(copy, bytes.size());
  delete[] copy;
}

TEST(ParquetFuzz, ReplaysTheCorpusWithoutCrashing) {
  MOUSE_REQUIRE_TESTDATA();
  auto files = corpus();
  ASSERT_GT(files.size(), 60u);
  for (const auto& f : files) {
    SCOPED_TRACE(f.string());
    run(read_bytes(f));
  }
}

TEST(ParquetFuzz, SurvivesMutationsOfSmallFiles) {
  MOUSE_REQUIRE_TESTDATA();
  std::mt19937_64 rng(20261125);
  int files = 0;
  for (const auto& f : corpus()) {
    auto bytes = read_bytes(f);
    if (bytes.size() > 6000) continue;
    ++files;
    SCOPED_TRACE(f.string());
    // Truncations at a spread of lengths (footer kept and lost).
    for (size_t cut : {size_t{0}, size_t{4}, size_t{12}, bytes.size() / 3, bytes.size() / 2, bytes.size() - 9}) {
      run(std::vector<uint8_t>(bytes.begin(), bytes.begin() + std::min(cut, bytes.size())));
    }
    // Random bit flips and byte overwrites, each on a fresh copy.
    for (int k = 0; k < 60; ++k) {
      auto m = bytes;
      const int edits = 1 + static_cast<int>(rng() % 4);
      for (int e = 0; e < edits; ++e) {
        size_t at = rng() % m.size();
        if (rng() & 1) {
          m[at] ^= static_cast<uint8_t>(1u << (rng() % 8));
        } else {
          m[at] = static_cast<uint8_t>(rng());
        }
      }
      run(m);
    }
  }
  EXPECT_GT(files, 30);
}

}  // namespace
