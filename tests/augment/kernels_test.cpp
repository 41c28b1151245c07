// The kernels (augment/kernels.hpp) against plain per-row loops, for row widths on both sides of
// kRunMinInner (whole-field pass then overwrite, or run by run) and masks from empty to full.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <span>
#include <type_traits>
#include <vector>

#include "augment/kernels.hpp"
#include "core/rng.hpp"

namespace mouse::detail::augment {
namespace {

// Masks over `rows` rows: none, every row, the first and last rows only, and random ones at a
// few rates (runs of every length, adjacent masked rows).
std::vector<std::vector<int64_t>> masks(int64_t rows) {
  std::vector<std::vector<int64_t>> out(2);
  for (int64_t r = 0; r < rows; ++r) out[1].push_back(r);
  out.push_back({0, rows - 1});
  CounterRng rng(5, static_cast<uint64_t>(rows));
  for (double p : {0.1, 0.5, 0.9}) {
    std::vector<int64_t> m;
    for (int64_t r = 0; r < rows; ++r) {
      if (rng.bernoulli(p)) m.push_back(r);
    }
    out.push_back(m);
  }
  return out;
}

std::vector<bool> row_flags(const std::vector<int64_t>& masked, int64_t rows) {
  std::vector<bool> f(static_cast<size_t>(rows));
  for (int64_t r : masked) f[static_cast<size_t>(r)] = true;
  return f;
}

const std::vector<int64_t> kInners = {1, 2, 3, kRunMinInner - 1, kRunMinInner, 40};

TEST(Kernels, MapRowsMatchesAPerRowLoop) {
  const int64_t rows = 37;
  for (int64_t inner : kInners) {
    std::vector<double> in(static_cast<size_t>(rows * inner));
    for (size_t i = 0; i < in.size(); ++i) in[i] = 0.5 + static_cast<double>(i);
    auto f = [](double v) { return 2 * v + 1; };
    for (const std::vector<int64_t>& masked : masks(rows)) {
      std::vector<double> out(in.size(), -7.0), expected(in.size());
      const std::vector<bool> flag = row_flags(masked, rows);
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t i = 0; i < inner; ++i) {
          const size_t k = static_cast<size_t>(r * inner + i);
          expected[k] = f(flag[static_cast<size_t>(r)] ? 0.0 : in[k]);
        }
      }
      map_rows(in.data(), out.data(), rows, inner, masked, 0.0, f);
      EXPECT_EQ(out, expected) << "inner " << inner << ", " << masked.size() << " masked";
    }
  }
}

TEST(Kernels, CopyRowsMaskedMatchesAPerRowLoop) {
  const int64_t rows = 41;
  for (int64_t inner : kInners) {
    std::vector<int64_t> in(static_cast<size_t>(rows * inner));
    for (size_t i = 0; i < in.size(); ++i) in[i] = static_cast<int64_t>(i) + 1;
    for (const std::vector<int64_t>& masked : masks(rows)) {
      std::vector<int64_t> out(in.size(), 99), expected(in.size());
      const std::vector<bool> flag = row_flags(masked, rows);
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t i = 0; i < inner; ++i) {
          const size_t k = static_cast<size_t>(r * inner + i);
          expected[k] = flag[static_cast<size_t>(r)] ? -1 : in[k];
        }
      }
      copy_rows_masked(in.data(), out.data(), rows, inner, masked, int64_t{-1});
      EXPECT_EQ(out, expected) << "inner " << inner << ", " << masked.size() << " masked";
    }
  }
}

TEST(Kernels, PermuteCodesMasksThenPermutesPerBatchRow) {
  const int64_t batch = 3, seq = 7, n = 5;
  const std::vector<int64_t> perm = {4, 3, 2, 1, 0, 1, 2, 3, 4, 0, 2, 0, 4, 1, 3};
  for (int64_t inner : {int64_t{1}, int64_t{2}, int64_t{20}}) {
    std::vector<int64_t> in(static_cast<size_t>(batch * seq * inner));
    for (size_t i = 0; i < in.size(); ++i) in[i] = static_cast<int64_t>(i * 3 % n);
    for (const std::vector<int64_t>& masked : masks(batch * seq)) {
      std::vector<int64_t> out(in.size(), -5), expected(in.size());
      const std::vector<bool> flag = row_flags(masked, batch * seq);
      for (int64_t pos = 0; pos < batch * seq; ++pos) {
        for (int64_t i = 0; i < inner; ++i) {
          const size_t k = static_cast<size_t>(pos * inner + i);
          const int64_t v = flag[static_cast<size_t>(pos)] ? 0 : in[k];
          expected[k] = perm[static_cast<size_t>(pos / seq * n + v)];
        }
      }
      permute_codes(in.data(), out.data(), batch, seq, inner, masked, 0, perm.data(), n);
      EXPECT_EQ(out, expected) << "inner " << inner << ", " << masked.size() << " masked";
    }
  }
}

// Two codes take the no-table path (a row's permutation kept, or bit 0 flipped); in place too.
TEST(Kernels, PermuteTwoCodesKeepsOrSwapsPerBatchRow) {
  const int64_t batch = 4, seq = 37;
  const std::vector<int64_t> perm = {0, 1, 1, 0, 1, 0, 0, 1};
  std::vector<int64_t> in(static_cast<size_t>(batch * seq));
  for (size_t i = 0; i < in.size(); ++i) in[i] = static_cast<int64_t>(i * 7 / 3 % 2);
  for (const std::vector<int64_t>& masked : masks(batch * seq)) {
    std::vector<int64_t> expected(in.size());
    const std::vector<bool> flag = row_flags(masked, batch * seq);
    for (int64_t pos = 0; pos < batch * seq; ++pos) {
      const int64_t v = flag[static_cast<size_t>(pos)] ? 0 : in[static_cast<size_t>(pos)];
      expected[static_cast<size_t>(pos)] = perm[static_cast<size_t>(pos / seq * 2 + v)];
    }
    std::vector<int64_t> out(in.size(), -5);
    permute_codes(in.data(), out.data(), batch, seq, 1, masked, 0, perm.data(), 2);
    EXPECT_EQ(out, expected) << masked.size() << " masked";
    std::vector<int64_t> io = in;
    permute_codes(io.data(), io.data(), batch, seq, 1, masked, 0, perm.data(), 2);
    EXPECT_EQ(io, expected) << "in place, " << masked.size() << " masked";
  }
}

// In place (in == out, the loops' one-pointer path) gives what a separate output gets.
TEST(Kernels, MapRowsInPlaceEqualsOutOfPlace) {
  const int64_t rows = 53;
  for (int64_t inner : {int64_t{1}, int64_t{4}, int64_t{16}, int64_t{33}}) {
    std::vector<double> in(static_cast<size_t>(rows * inner));
    for (size_t i = 0; i < in.size(); ++i) in[i] = static_cast<double>(i) * 0.37 - 5;
    for (const std::vector<int64_t>& masked : masks(rows)) {
      std::vector<double> out(in.size(), -1.0);
      scale_shift_rows(in.data(), out.data(), rows, inner, masked, true, 1.7, true, -0.25);
      std::vector<double> io = in;
      scale_shift_rows(io.data(), io.data(), rows, inner, masked, true, 1.7, true, -0.25);
      EXPECT_EQ(io, out) << "inner " << inner << ", " << masked.size() << " masked";
    }
  }
}

// Both byte-table paths (AVX2 when this CPU has it, and the portable one) against a plain loop:
// every byte value, lengths around the 32-byte steps, unaligned starts, and in place.
TEST(Kernels, ByteTableMatchesAPlainLookup) {
  uint8_t table[256];
  CounterRng rng(3, 4);
  for (uint8_t& t : table) t = static_cast<uint8_t>(rng.uniform_u32());
  std::vector<uint8_t> bytes(1100);
  for (size_t i = 0; i < bytes.size(); ++i) {
    bytes[i] = static_cast<uint8_t>(i < 256 ? i : rng.uniform_u32());
  }
  const ByteTable byte_table(table);
  for (int64_t offset : {0, 1, 7}) {
    for (int64_t count : {0, 1, 31, 32, 33, 63, 64, 65, 256, 1000}) {
      const uint8_t* src = bytes.data() + offset;
      std::vector<uint8_t> expected(static_cast<size_t>(count));
      for (int64_t i = 0; i < count; ++i) expected[static_cast<size_t>(i)] = table[src[i]];
      std::vector<uint8_t> fast(static_cast<size_t>(count) + 1, 0xEE);
      std::vector<uint8_t> portable(static_cast<size_t>(count) + 1, 0xEE);
      byte_table.apply(src, fast.data(), count);
      byte_table.apply_portable(src, portable.data(), count);
      EXPECT_EQ(fast.back(), 0xEE) << "wrote past the end, count " << count;
      fast.pop_back();
      portable.pop_back();
      EXPECT_EQ(fast, expected) << "offset " << offset << " count " << count;
      EXPECT_EQ(portable, expected) << "offset " << offset << " count " << count;
      std::vector<uint8_t> io(src, src + count);
      byte_table.apply(io.data(), io.data(), count);
      EXPECT_EQ(io, expected) << "in place, offset " << offset << " count " << count;
    }
  }
}

// The int64 form takes whole groups of 32 values in [0, 255] and stops before a group holding
// anything else (or a partial group); the image kernel finishes those one by one.
TEST(Kernels, ByteTableOnInt64StopsBeforeAValueOutOfRange) {
  uint8_t table[256];
  for (int v = 0; v < 256; ++v) table[v] = static_cast<uint8_t>(255 - v);
  std::vector<int64_t> in(100);
  for (size_t i = 0; i < in.size(); ++i) in[i] = static_cast<int64_t>(i * 5 % 256);
  std::vector<int64_t> out(in.size(), -7);
  const ByteTable byte_table(table);
  const int64_t done = byte_table.apply_in_range(in.data(), out.data(), 100);
  EXPECT_TRUE(done == 0 || done == 96) << done;  // 0: this CPU has no AVX2
  for (int64_t i = 0; i < 100; ++i) {
    const auto k = static_cast<size_t>(i);
    EXPECT_EQ(out[k], i < done ? 255 - in[k] : -7) << i;
  }
  for (int64_t bad : {int64_t{256}, int64_t{-1}, int64_t{1} << 40}) {
    std::vector<int64_t> with_bad = in;
    with_bad[40] = bad;  // in the second group of 32
    std::fill(out.begin(), out.end(), -7);
    const int64_t d = byte_table.apply_in_range(with_bad.data(), out.data(), 100);
    EXPECT_TRUE(d == 0 || d == 32) << bad << ": " << d;
    EXPECT_EQ(out[40], -7) << "the value out of range is left to the caller";
  }
}

TEST(Kernels, PermuteColumnsMovesEachColumnToItsAction) {
  const int64_t batch = 3, seq = 5;
  for (int64_t n : {int64_t{1}, int64_t{2}, int64_t{7}, int64_t{8}, int64_t{18}}) {
    std::vector<int64_t> perm;
    CounterRng rng(9, static_cast<uint64_t>(n));
    for (int64_t b = 0; b < batch; ++b) {
      std::vector<int64_t> row(static_cast<size_t>(n));
      rng.permutation(std::span<int64_t>(row));
      perm.insert(perm.end(), row.begin(), row.end());
    }
    std::vector<float> in(static_cast<size_t>(batch * seq * n));
    for (size_t i = 0; i < in.size(); ++i) in[i] = static_cast<float>(i);
    std::vector<float> out(in.size(), -1.0f), expected(in.size());
    for (int64_t b = 0; b < batch; ++b) {
      for (int64_t s = 0; s < seq; ++s) {
        for (int64_t a = 0; a < n; ++a) {
          const int64_t row = (b * seq + s) * n;
          expected[static_cast<size_t>(row + perm[static_cast<size_t>(b * n + a)])] =
              in[static_cast<size_t>(row + a)];
        }
      }
    }
    permute_columns(in.data(), out.data(), batch, seq, perm.data(), n);
    EXPECT_EQ(out, expected) << "n " << n;
  }
}

// Pixels go through a 256-entry table (32 at a time where the CPU has AVX2); int64 values outside
// [0, 255] through the transform itself, a group of 32 around each of them one by one. Row
// lengths that are not multiples of 8 or 32 leave tails.
template <class T>
void check_image_rows() {
  const int64_t rows = 29;
  const float scale = 1.3f, shift = -20.0f;
  auto pixel = [&](T x) {
    const float v = round_clamp_255(static_cast<float>(x) * scale);
    return static_cast<T>(static_cast<int32_t>(round_clamp_255(v + shift)));
  };
  for (int64_t inner : {int64_t{1}, int64_t{3}, int64_t{16}, int64_t{21}, int64_t{40},
                        int64_t{300}}) {
    std::vector<T> in(static_cast<size_t>(rows * inner));
    for (size_t i = 0; i < in.size(); ++i) {
      in[i] = static_cast<T>(i * 37 % 256);
      if constexpr (std::is_same_v<T, int64_t>) {
        if (i % 97 == 0) in[i] = static_cast<int64_t>(i) * 5 - 300;  // some outside [0, 255]
      }
    }
    for (const std::vector<int64_t>& masked : masks(rows)) {
      std::vector<T> out(in.size(), T{7}), expected(in.size());
      const std::vector<bool> flag = row_flags(masked, rows);
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t i = 0; i < inner; ++i) {
          const size_t k = static_cast<size_t>(r * inner + i);
          expected[k] = pixel(flag[static_cast<size_t>(r)] ? T{0} : in[k]);
        }
      }
      image_rows(in.data(), out.data(), rows, inner, masked, true, scale, true, shift);
      EXPECT_EQ(out, expected) << "inner " << inner << ", " << masked.size() << " masked";
    }
  }
}

TEST(Kernels, ImageRowsMatchTheTransformPerElement) {
  check_image_rows<uint8_t>();
  check_image_rows<int64_t>();
}

TEST(Kernels, FirstOutOfRangeFindsTheFirstBadValue) {
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  EXPECT_EQ(first_out_of_range(nullptr, 0, 3), -1);
  const std::vector<int64_t> good = {0, 1, 2, 2, 1, 0, 0, 1, 2};
  EXPECT_EQ(first_out_of_range(good.data(), 9, 3), -1);
  for (int64_t bad : {int64_t{-1}, int64_t{3}, int64_t{4}, kMin, kMax, kMin + 2}) {
    for (size_t at : {size_t{0}, size_t{4}, size_t{8}}) {
      std::vector<int64_t> v = good;
      v[at] = bad;
      EXPECT_EQ(first_out_of_range(v.data(), 9, 3), static_cast<int64_t>(at)) << bad;
    }
  }
  const std::vector<int64_t> zeros(5, 0);
  EXPECT_EQ(first_out_of_range(zeros.data(), 5, 1), -1);
  EXPECT_EQ(first_out_of_range(zeros.data(), 5, 0), 0);  // nothing is in [0, 0)
  const std::vector<int64_t> big = {kMax - 1, 0};
  EXPECT_EQ(first_out_of_range(big.data(), 2, kMax), -1);
}

}  // namespace
}  // namespace mouse::detail::augment
