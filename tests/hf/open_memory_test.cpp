// SPEC §2.1: opening a save_to_disk dataset memory-maps its files and copies no column data, so
// resident memory does not grow with the row count. Measured from /proc/self/statm around
// load_from_disk of an ~84 MB dataset.
#include <unistd.h>

#include <fstream>

#include "hf/hf_test_util.hpp"

namespace mouse {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

// Resident set size of this process in bytes.
int64_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * ::sysconf(_SC_PAGESIZE);
}

// `rows` steps: action int64, reward float32, obs fixed_size_list<float32>[4]: 28 bytes a row,
// in record batches of 1000 rows as datasets writes them.
void write_steps(const fs::path& dir, int64_t rows) {
  using namespace arrow;
  std::vector<RecordBatch> batches;
  for (int64_t first = 0; first < rows; first += 1000) {
    const int64_t n = std::min<int64_t>(1000, rows - first);
    std::vector<int64_t> action(static_cast<size_t>(n));
    std::vector<float> reward(static_cast<size_t>(n)), obs(static_cast<size_t>(n * 4));
    for (int64_t i = 0; i < n; ++i) {
      action[static_cast<size_t>(i)] = (first + i) % 7;
      reward[static_cast<size_t>(i)] = static_cast<float>(first + i);
      for (int k = 0; k < 4; ++k) obs[static_cast<size_t>(i * 4 + k)] = static_cast<float>(k);
    }
    batches.push_back(make_batch(
        {"action", "reward", "obs"},
        {make_primitive<int64_t>(action), make_primitive<float>(reward),
         make_fixed_size_list(make_primitive<float>(obs), 4)}));
  }
  auto schema = batches.front().schema;
  Dataset::from_batches(schema, std::move(batches)).save_to_disk(dir);
}

TEST(OpenMemory, ResidentMemoryDoesNotGrowWithRowCount) {
  TempDir tmp;
  constexpr int64_t kRows = 3'000'000;
  write_steps(tmp / "big", kRows);
  int64_t file_bytes = 0;
  for (const auto& e : fs::recursive_directory_iterator(tmp / "big")) {
    if (e.path().extension() == ".arrow") file_bytes += static_cast<int64_t>(e.file_size());
  }
  ASSERT_GT(file_bytes, 80'000'000);

  const int64_t before = resident_bytes();
  const Dataset ds = Dataset::load_from_disk(tmp / "big");
  const int64_t grown = resident_bytes() - before;
  EXPECT_EQ(ds.num_rows(), kRows);
  // The 3000 record-batch headers are read, the column data is not: a few MB at most, against
  // 84 MB of data.
  EXPECT_LT(grown, 8'000'000) << "resident memory grew by " << grown << " bytes opening "
                              << file_bytes << " bytes of Arrow files";

  // The values are there, read from the mapping on demand.
  const ChunkedColumn reward = ds.column("reward");
  const auto [chunk, index] = reward.locate(kRows - 1);
  EXPECT_FLOAT_EQ(arrow::values<float>(*reward.chunks[chunk])[index],
                  static_cast<float>(kRows - 1));
}

}  // namespace
}  // namespace mouse
