#include "core/rng.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <map>
#include <numeric>
#include <set>
#include <thread>
#include <vector>

#include "core/cpu_features.hpp"

namespace mouse::detail {
namespace {

// Random123's kat_vectors, the three `philox4x32 10` lines.
TEST(Philox4x32, MatchesRandom123KnownAnswers) {
  using W4 = std::array<uint32_t, 4>;
  using W2 = std::array<uint32_t, 2>;
  EXPECT_EQ(philox4x32_10(W4{0, 0, 0, 0}, W2{0, 0}),
            (W4{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}));
  EXPECT_EQ(philox4x32_10(W4{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
                          W2{0xffffffff, 0xffffffff}),
            (W4{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}));
  EXPECT_EQ(philox4x32_10(W4{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
                          W2{0xa4093822, 0x299f31d0}),
            (W4{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}));
}

TEST(Philox4x32, IsUsableAtCompileTime) {
  constexpr auto block = philox4x32_10({0, 0, 0, 0}, {0, 0});
  static_assert(block[0] == 0x6627e8d5u);
  EXPECT_EQ(block[3], 0x9b00dbd8u);
}

TEST(CounterRng, WordsAreTheBlocksOfSeedStreamAndPosition) {
  const uint64_t seed = 0x0123456789abcdefull;
  const uint64_t stream = 0xfeedfacecafebeefull;
  CounterRng rng(seed, stream);
  for (uint64_t block = 0; block < 3; ++block) {
    const auto expected = philox4x32_10(
        {static_cast<uint32_t>(block), 0, static_cast<uint32_t>(stream),
         static_cast<uint32_t>(stream >> 32)},
        {static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)});
    for (uint32_t w : expected) EXPECT_EQ(rng.uniform_u32(), w);
  }
  EXPECT_EQ(rng.block(), 3u);
}

TEST(CounterRng, FillU32EqualsOneWordAtATime) {
  for (size_t skip : {0u, 1u, 3u, 4u}) {
    for (size_t n : {0u, 1u, 5u, 31u, 32u, 33u, 64u, 100u, 257u, 1030u}) {
      CounterRng bulk(13, 17), single(13, 17);
      for (size_t k = 0; k < skip; ++k) ASSERT_EQ(bulk.uniform_u32(), single.uniform_u32());
      std::vector<uint32_t> words(n);
      bulk.fill_u32(words);
      for (size_t k = 0; k < n; ++k) ASSERT_EQ(words[k], single.uniform_u32()) << skip << " " << n;
      EXPECT_EQ(bulk.uniform_u32(), single.uniform_u32()) << skip << " " << n;  // same position
    }
  }
}

// Both bulk paths (AVX2 when this CPU has it, and the portable loop) give philox4x32_10's words
// block by block, across the carry from the counter's low word into its high word.
TEST(PhiloxBlocks, BothPathsEqualOneBlockAtATime) {
  const std::array<uint32_t, 2> key = {0x90abcdefu, 0x12345678u};
  const uint64_t stream = 0xdeadbeefcafef00dull;
  for (uint64_t first : {uint64_t{0}, uint64_t{5}, uint64_t{0xFFFFFFF0}, uint64_t{0xFFFFFFFA},
                         ~uint64_t{0} - 20}) {
    for (size_t count : {0u, 1u, 7u, 8u, 15u, 16u, 17u, 33u, 100u}) {
      std::vector<uint32_t> fast(4 * count + 1, 0xA5A5A5A5u), portable(4 * count + 1, 0xA5A5A5A5u);
      philox_blocks(key, stream, first, count, fast.data());
      philox_blocks_portable(key, stream, first, count, portable.data());
      for (size_t i = 0; i < count; ++i) {
        const uint64_t block = first + i;
        const auto expected = philox4x32_10(
            {static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32),
             static_cast<uint32_t>(stream), static_cast<uint32_t>(stream >> 32)},
            key);
        for (size_t j = 0; j < 4; ++j) {
          ASSERT_EQ(fast[4 * i + j], expected[j]) << "first " << first << " block " << i;
          ASSERT_EQ(portable[4 * i + j], expected[j]) << "first " << first << " block " << i;
        }
      }
      EXPECT_EQ(fast.back(), 0xA5A5A5A5u) << "wrote past the end, count " << count;
      EXPECT_EQ(portable.back(), 0xA5A5A5A5u) << "wrote past the end, count " << count;
    }
  }
  RecordProperty("avx2", cpu_has_avx2() ? "yes" : "no");
}

TEST(CounterRng, SameKeyReplaysAndSeekJumps) {
  CounterRng a(7, 11), b(7, 11);
  std::vector<uint32_t> first;
  for (int i = 0; i < 100; ++i) first.push_back(a.uniform_u32());
  for (int i = 0; i < 100; ++i) EXPECT_EQ(b.uniform_u32(), first[i]);
  CounterRng c(7, 11, 10);  // starts at block 10 = word 40
  EXPECT_EQ(c.uniform_u32(), first[40]);
  c.seek(2);
  EXPECT_EQ(c.uniform_u32(), first[8]);
}

TEST(CounterRng, DifferentSeedsOrStreamsDiffer) {
  CounterRng base(1, 2), other_seed(2, 2), other_stream(1, 3);
  int same_seed = 0, same_stream = 0;
  for (int i = 0; i < 64; ++i) {
    const uint32_t x = base.uniform_u32();
    same_seed += x == other_seed.uniform_u32();
    same_stream += x == other_stream.uniform_u32();
  }
  EXPECT_LT(same_seed, 2);
  EXPECT_LT(same_stream, 2);
}

TEST(StreamId, DependsOnEveryIdAndTheirOrder) {
  std::set<uint64_t> ids;
  for (uint64_t a = 0; a < 8; ++a) {
    for (uint64_t b = 0; b < 8; ++b) ids.insert(stream_id({a, b}));
  }
  EXPECT_EQ(ids.size(), 64u);
  EXPECT_NE(stream_id({1, 2}), stream_id({2, 1}));
  EXPECT_NE(stream_id({1}), stream_id({1, 0}));
  static_assert(stream_id({1, 2, 3}) == stream_id({1, 2, 3}));
}

TEST(CounterRng, UniformDoubleAndFloatStayInUnitIntervalWithRightMoments) {
  CounterRng rng(42, 0);
  const int n = 200000;
  double sum = 0, sum_sq = 0, fsum = 0;
  for (int i = 0; i < n; ++i) {
    const double u = rng.uniform_double();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
    sum_sq += u * u;
    const float f = rng.uniform_float();
    ASSERT_GE(f, 0.0f);
    ASSERT_LT(f, 1.0f);
    fsum += f;
  }
  // Mean 1/2 with sd sqrt(1/12 / n) ~ 6.5e-4; 4 sigma.
  EXPECT_NEAR(sum / n, 0.5, 0.0026);
  EXPECT_NEAR(fsum / n, 0.5, 0.0026);
  EXPECT_NEAR(sum_sq / n - (sum / n) * (sum / n), 1.0 / 12, 0.002);
}

TEST(CounterRng, UniformRangeNeverReachesHigh) {
  CounterRng rng(3, 3);
  for (int i = 0; i < 10000; ++i) {
    const double x = rng.uniform_double(0.5, 2.0);
    ASSERT_GE(x, 0.5);
    ASSERT_LT(x, 2.0);
  }
  EXPECT_EQ(rng.uniform_double(1.25, 1.25), 1.25);
  // A range one ulp wide can only give low.
  const double low = 1.0, high = std::nextafter(1.0, 2.0);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(rng.uniform_double(low, high), low);
}

TEST(CounterRng, NormalHasMeanZeroVarianceOne) {
  CounterRng rng(5, 9);
  const int n = 200000;
  double sum = 0, sum_sq = 0;
  int beyond_2sd = 0;
  for (int i = 0; i < n; ++i) {
    const double z = rng.normal();
    ASSERT_TRUE(std::isfinite(z));
    sum += z;
    sum_sq += z * z;
    beyond_2sd += std::abs(z) > 2.0;
  }
  EXPECT_NEAR(sum / n, 0.0, 4.0 / std::sqrt(n));
  EXPECT_NEAR(sum_sq / n, 1.0, 4.0 * std::sqrt(2.0 / n));
  // P(|Z| > 2) = 0.0455; binomial sd = sqrt(p(1-p)/n) ~ 4.7e-4.
  EXPECT_NEAR(static_cast<double>(beyond_2sd) / n, 0.0455, 0.0019);
}

TEST(CounterRng, BernoulliRateAndEdges) {
  CounterRng rng(8, 8);
  const int n = 100000;
  int hits = 0;
  for (int i = 0; i < n; ++i) hits += rng.bernoulli(0.3);
  EXPECT_NEAR(static_cast<double>(hits) / n, 0.3, 4 * std::sqrt(0.3 * 0.7 / n));
  for (int i = 0; i < 1000; ++i) {
    ASSERT_FALSE(rng.bernoulli(0.0));
    ASSERT_TRUE(rng.bernoulli(1.0));
  }
}

TEST(FillBernoulli, RateEdgesAndThresholds) {
  EXPECT_EQ(bernoulli_threshold32(0.0), 0u);
  EXPECT_EQ(bernoulli_threshold32(-1.0), 0u);
  EXPECT_EQ(bernoulli_threshold32(1.0), uint64_t{1} << 32);
  EXPECT_EQ(bernoulli_threshold32(0.5), uint64_t{1} << 31);
  CounterRng rng(1, 1);
  std::vector<uint8_t> out(200000);
  fill_bernoulli(rng, 0.1, out);
  const double rate = std::accumulate(out.begin(), out.end(), 0.0) / out.size();
  EXPECT_NEAR(rate, 0.1, 4 * std::sqrt(0.1 * 0.9 / out.size()));
  const uint64_t block_before = rng.block();
  fill_bernoulli(rng, 0.0, out);
  EXPECT_TRUE(std::all_of(out.begin(), out.end(), [](uint8_t v) { return v == 0; }));
  fill_bernoulli(rng, 1.0, out);
  EXPECT_TRUE(std::all_of(out.begin(), out.end(), [](uint8_t v) { return v == 1; }));
  EXPECT_EQ(rng.block(), block_before);  // p = 0 and p = 1 draw nothing
}

TEST(CounterRng, UniformIntIsInRangeAndUnbiased) {
  CounterRng rng(11, 0);
  EXPECT_EQ(rng.uniform_int(0), 0u);
  EXPECT_EQ(rng.uniform_int(1), 0u);
  // n = 3 does not divide 2^64: every residue equally likely (chi-square, 2 dof, p ~ 1e-4).
  const int n = 300000;
  std::array<int, 3> counts{};
  for (int i = 0; i < n; ++i) {
    const uint64_t v = rng.uniform_int(3);
    ASSERT_LT(v, 3u);
    ++counts[v];
  }
  double chi2 = 0;
  for (int c : counts) chi2 += (c - n / 3.0) * (c - n / 3.0) / (n / 3.0);
  EXPECT_LT(chi2, 18.4);
  // A huge n just under 2^64 (rejection is then likely) stays in range.
  const uint64_t big = (uint64_t{1} << 63) + 12345;
  for (int i = 0; i < 1000; ++i) ASSERT_LT(rng.uniform_int(big), big);
}

TEST(CounterRng, PermutationIsAPermutationAndEveryOrderAppears) {
  CounterRng rng(99, 1);
  std::map<std::vector<int>, int> seen;
  const int n = 60000;
  for (int i = 0; i < n; ++i) {
    std::vector<int> p(3);
    rng.permutation(std::span<int>(p));
    std::vector<int> sorted = p;
    std::sort(sorted.begin(), sorted.end());
    ASSERT_EQ(sorted, (std::vector<int>{0, 1, 2}));
    ++seen[p];
  }
  ASSERT_EQ(seen.size(), 6u);  // all 3! orders
  for (const auto& [perm, count] : seen) {
    // Each order has p = 1/6; sd = sqrt(p(1-p)/n) ~ 1.5e-3.
    EXPECT_NEAR(static_cast<double>(count) / n, 1.0 / 6, 0.0062);
  }
}

TEST(CounterRng, ShuffleKeepsElements) {
  CounterRng rng(4, 4);
  std::vector<int64_t> v(1000);
  std::iota(v.begin(), v.end(), 0);
  rng.shuffle(std::span<int64_t>(v));
  std::vector<int64_t> sorted = v;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 1000; ++i) ASSERT_EQ(sorted[i], i);
  EXPECT_FALSE(std::is_sorted(v.begin(), v.end()));
  std::vector<int64_t> empty;
  rng.shuffle(std::span<int64_t>(empty));  // no-op
}

TEST(CounterRng, ResultsDoNotDependOnThreads) {
  // Four threads each draw their own streams; the numbers equal those drawn on one thread.
  auto draw = [](uint64_t stream) {
    CounterRng rng(123, stream_id({1, stream}));
    std::vector<double> out(1000);
    for (double& x : out) x = rng.normal();
    return out;
  };
  std::vector<std::vector<double>> threaded(4);
  std::vector<std::thread> threads;
  for (uint64_t t = 0; t < 4; ++t) threads.emplace_back([&, t] { threaded[t] = draw(t); });
  for (auto& th : threads) th.join();
  for (uint64_t t = 0; t < 4; ++t) EXPECT_EQ(threaded[t], draw(t));
}

}  // namespace
}  // namespace mouse::detail
