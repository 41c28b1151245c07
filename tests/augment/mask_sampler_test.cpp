// The mask samplers (augment/mask_sampler.hpp): every position is masked independently with
// probability p. Checked for the geometric skip-ahead sampler, the per-position sampler and the
// dispatcher between them: rates within binomial bounds, no position favoured, geometric gaps,
// the edges p = 0 and p = 1, and reproducibility from the stream. Seeds are fixed, so every check
// is deterministic; bounds are 4.5 standard deviations, or df + 5 sqrt(2 df) for chi-square.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "augment/mask_sampler.hpp"
#include "augment/streams.hpp"
#include "core/rng.hpp"

namespace mouse::detail::augment {
namespace {

enum class Kind { kSparse, kDense, kDispatch };

std::string kind_name(Kind kind) {
  switch (kind) {
    case Kind::kSparse:
      return "sparse";
    case Kind::kDense:
      return "dense";
    default:
      return "dispatch";
  }
}

// The masked positions of n drawn by `kind` from stream `stream` of seed 7, checked to be
// increasing and inside [0, n).
std::vector<int64_t> draw(Kind kind, double p, int64_t n, uint64_t stream) {
  CounterRng rng(7, stream);
  std::vector<int64_t> out;
  if (kind == Kind::kDispatch) {
    MaskScratch scratch;
    const std::span<const int64_t> s = mask_positions(rng, p, n, scratch);
    out.assign(s.begin(), s.end());
  } else {
    out.resize(static_cast<size_t>(n));
    const int64_t count = kind == Kind::kSparse ? sparse_mask_positions(rng, p, n, out.data())
                                                : dense_mask_positions(rng, p, n, out.data());
    EXPECT_GE(count, 0);
    EXPECT_LE(count, n);
    out.resize(static_cast<size_t>(count));
  }
  for (size_t i = 0; i < out.size(); ++i) {
    EXPECT_GE(out[i], 0);
    EXPECT_LT(out[i], n);
    if (i > 0) {
      EXPECT_LT(out[i - 1], out[i]) << "positions must increase";
    }
  }
  return out;
}

// The masked flags of n positions.
std::vector<uint8_t> flags(const std::vector<int64_t>& positions, int64_t n) {
  std::vector<uint8_t> f(static_cast<size_t>(n));
  for (int64_t pos : positions) f[static_cast<size_t>(pos)] = 1;
  return f;
}

// Asserts that `hits` of `trials` Bernoulli(p) trials is within 4.5 standard deviations.
void expect_binomial(int64_t hits, int64_t trials, double p, const std::string& what) {
  const double mean = static_cast<double>(trials) * p;
  const double sd = std::sqrt(static_cast<double>(trials) * p * (1 - p));
  EXPECT_NEAR(static_cast<double>(hits), mean, 4.5 * sd + 1e-9)
      << what << ": " << hits << " of " << trials << " at p = " << p;
}

double chi_square_bound(double df) {
  return df + 5 * std::sqrt(2 * df);
}

TEST(MaskSampler, ProbabilityZeroMasksNothingAndDrawsNothing) {
  CounterRng rng(3, 4);
  MaskScratch scratch;
  EXPECT_TRUE(mask_positions(rng, 0.0, 1000, scratch).empty());
  std::vector<int64_t> out(1000);
  EXPECT_EQ(dense_mask_positions(rng, 0.0, 1000, out.data()), 0);
  // p below 2^-33 rounds to a threshold of 0 in the per-position sampler.
  EXPECT_EQ(dense_mask_positions(rng, 1e-11, 1000, out.data()), 0);
  EXPECT_EQ(rng.block(), 0u);
  EXPECT_EQ(rng.uniform_u32(), CounterRng(3, 4).uniform_u32());
}

TEST(MaskSampler, ProbabilityOneMasksEveryPositionAndDrawsNothing) {
  for (int64_t n : {int64_t{0}, int64_t{1}, int64_t{63}, int64_t{2048}, int64_t{3001}}) {
    std::vector<int64_t> all(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) all[static_cast<size_t>(i)] = i;
    CounterRng rng(3, 4);
    MaskScratch scratch;
    const std::span<const int64_t> s = mask_positions(rng, 1.0, n, scratch);
    EXPECT_EQ(std::vector<int64_t>(s.begin(), s.end()), all) << n;
    std::vector<int64_t> out(static_cast<size_t>(n));
    EXPECT_EQ(dense_mask_positions(rng, 1.0, n, out.data()), n);
    EXPECT_EQ(out, all);
    // Within 2^-33 of 1 the per-position sampler's threshold is 2^32: everything.
    EXPECT_EQ(dense_mask_positions(rng, std::nextafter(1.0, 0.0), n, out.data()), n);
    EXPECT_EQ(rng.block(), 0u) << n;
  }
}

TEST(MaskSampler, NoPositionsGiveAnEmptyMask) {
  for (Kind kind : {Kind::kSparse, Kind::kDense, Kind::kDispatch}) {
    for (double p : {0.01, 0.5, 1.0}) {
      if (kind == Kind::kSparse && p == 1.0) continue;  // sparse needs p < 1
      EXPECT_TRUE(draw(kind, p, 0, 1).empty()) << kind_name(kind) << " " << p;
    }
  }
}

// Many positions (2000 streams of 2048, as many as a [32, 64] batch has) at each probability;
// both samplers are checked on both sides of the probability where the dispatcher switches.
TEST(MaskSampler, RateIsWithinABinomialBound) {
  struct Case {
    Kind kind;
    double p;
  };
  const std::vector<Case> cases = {
      {Kind::kDispatch, 0.01}, {Kind::kDispatch, 0.1}, {Kind::kDispatch, 0.5},
      {Kind::kDispatch, 0.99}, {Kind::kDispatch, 1.0}, {Kind::kDispatch, kSparseMaskMaxP},
      {Kind::kSparse, 0.001},  {Kind::kSparse, 0.01},  {Kind::kSparse, 0.069},
      {Kind::kSparse, 0.1},    {Kind::kSparse, 0.5},   {Kind::kSparse, 0.99},
      {Kind::kDense, 0.01},    {Kind::kDense, 0.07},   {Kind::kDense, 0.1},
      {Kind::kDense, 0.5},     {Kind::kDense, 0.99},   {Kind::kDense, 1.0 / 3},
  };
  const int64_t n = 2048;
  const int streams = 2000;
  for (const Case& c : cases) {
    int64_t masked = 0;
    for (int k = 0; k < streams; ++k) {
      masked += static_cast<int64_t>(draw(c.kind, c.p, n, static_cast<uint64_t>(k)).size());
    }
    if (c.p == 1.0) {
      EXPECT_EQ(masked, n * streams);
    } else {
      expect_binomial(masked, n * streams, c.p, kind_name(c.kind));
    }
  }
}

// The per-position sampler decides 1 in 256 positions by the low 24 bits of the threshold; at
// p = 128.5 / 256 those decide half of them, so ignoring them would shift the rate by 1/512
// (about 8 standard deviations over 4M positions).
TEST(MaskSampler, DenseSettlesUndecidedPositionsWithTheLowBits) {
  const double p = 128.5 / 256;
  const int64_t n = 4096;
  const int streams = 1000;
  int64_t masked = 0;
  for (int k = 0; k < streams; ++k) {
    masked += static_cast<int64_t>(draw(Kind::kDense, p, n, static_cast<uint64_t>(k)).size());
  }
  expect_binomial(masked, n * streams, p, "dense");
}

// The per-position sampler word for word against its definition: chunks of 1024 positions; the
// chunk's positions take one byte each of its words, in little-endian byte order (words drawn
// in whole rounds of 128); a byte below the threshold's high byte masks, one equal to it is
// settled, in position order, by the low 24 bits of the next word; each chunk starts on a fresh
// block. Covers a high byte of 0 (p < 1/256), partial groups of 64, and several chunks.
TEST(MaskSampler, DenseFollowsItsDefinition) {
  for (double p : {0.001, 1.5 / 256, 0.1, 0.37, 128.5 / 256, 0.999}) {
    for (int64_t n : {1, 63, 64, 65, 1000, 1024, 1025, 2100, 4096}) {
      for (uint64_t stream = 0; stream < 5; ++stream) {
        const std::vector<int64_t> got = draw(Kind::kDense, p, n, stream);
        const uint64_t threshold = bernoulli_threshold32(p);
        const auto high = static_cast<uint32_t>(threshold >> 24);
        const auto low = static_cast<uint32_t>(threshold & 0xFFFFFF);
        CounterRng rng(7, stream);
        std::vector<int64_t> expected;
        for (int64_t base = 0; base < n; base += 1024) {
          const int64_t m = std::min<int64_t>(1024, n - base);
          std::vector<uint32_t> words(static_cast<size_t>((m + 511) / 512 * 128));
          for (uint32_t& w : words) w = rng.uniform_u32();
          for (int64_t i = 0; i < m; ++i) {
            const uint32_t byte = (words[static_cast<size_t>(i / 4)] >> (8 * (i % 4))) & 0xFF;
            if (byte < high || (byte == high && (rng.uniform_u32() & 0xFFFFFF) < low)) {
              expected.push_back(base + i);
            }
          }
          rng.seek(rng.block());
        }
        ASSERT_EQ(got, expected) << "p " << p << " n " << n << " stream " << stream;
      }
    }
  }
}

// Per-position counts over many streams: no position is favoured (chi-square over positions),
// nor the byte lane of a word (i mod 4) or the place in a 64-position group (i mod 64). 2100
// positions cross the per-position sampler's chunk (1024) and end in a partial group.
TEST(MaskSampler, NoPositionIsFavoured) {
  const int64_t n = 2100;
  const int streams = 4000;
  for (Kind kind : {Kind::kSparse, Kind::kDense}) {
    for (double p : {0.03, 0.3}) {
      std::vector<int64_t> count(static_cast<size_t>(n));
      for (int k = 0; k < streams; ++k) {
        for (int64_t pos : draw(kind, p, n, static_cast<uint64_t>(k))) {
          ++count[static_cast<size_t>(pos)];
        }
      }
      const std::string what = kind_name(kind) + " p = " + std::to_string(p);
      const double mean = streams * p;
      const double var = streams * p * (1 - p);
      double chi2 = 0;
      std::vector<int64_t> lane(4), group(64);
      for (int64_t i = 0; i < n; ++i) {
        const double d = static_cast<double>(count[static_cast<size_t>(i)]) - mean;
        chi2 += d * d / var;
        lane[static_cast<size_t>(i % 4)] += count[static_cast<size_t>(i)];
        group[static_cast<size_t>(i % 64)] += count[static_cast<size_t>(i)];
      }
      EXPECT_LT(chi2, chi_square_bound(static_cast<double>(n))) << what;
      for (int64_t l = 0; l < 4; ++l) {
        const int64_t positions = (n - l + 3) / 4;
        expect_binomial(lane[static_cast<size_t>(l)], positions * streams, p,
                        what + " lane " + std::to_string(l));
      }
      for (int64_t g = 0; g < 64; ++g) {
        const int64_t positions = (n - g + 63) / 64;
        expect_binomial(group[static_cast<size_t>(g)], positions * streams, p,
                        what + " group place " + std::to_string(g));
      }
      expect_binomial(count.front(), streams, p, what + " first position");
      expect_binomial(count.back(), streams, p, what + " last position");
    }
  }
}

// Independence between neighbours and the gap distribution: after a masked position the next is
// masked with probability p (and likewise after an unmasked one), and the number of unmasked
// positions before the next masked one is geometric, P(gap = k) = (1 - p)^k p. Gaps are binned
// 0..K-1 and ">= K", counted only after masked positions at least K from the end, so that the
// window's end does not cut any of them short.
TEST(MaskSampler, GapsAreGeometric) {
  const int64_t n = 2048;
  const int streams = 600;
  for (Kind kind : {Kind::kSparse, Kind::kDense}) {
    for (double p : {0.02, 0.1, 0.25, 0.5}) {
      const std::string what = kind_name(kind) + " p = " + std::to_string(p);
      // Bins with expected count >= 20 or so: K = where (1 - p)^K drops below 1%.
      const auto bins = static_cast<int64_t>(std::ceil(std::log(0.01) / std::log1p(-p)));
      std::vector<int64_t> gaps(static_cast<size_t>(bins + 1));
      int64_t after_masked = 0, masked_after_masked = 0;
      int64_t after_unmasked = 0, masked_after_unmasked = 0;
      for (int k = 0; k < streams; ++k) {
        const std::vector<int64_t> pos = draw(kind, p, n, static_cast<uint64_t>(1000 + k));
        const std::vector<uint8_t> f = flags(pos, n);
        for (int64_t i = 0; i + 1 < n; ++i) {
          if (f[static_cast<size_t>(i)] != 0) {
            ++after_masked;
            masked_after_masked += f[static_cast<size_t>(i + 1)];
          } else {
            ++after_unmasked;
            masked_after_unmasked += f[static_cast<size_t>(i + 1)];
          }
        }
        for (size_t j = 0; j < pos.size(); ++j) {
          if (pos[j] + bins >= n) break;
          const int64_t gap = j + 1 < pos.size() ? pos[j + 1] - pos[j] - 1 : n;
          ++gaps[static_cast<size_t>(std::min(gap, bins))];
        }
      }
      expect_binomial(masked_after_masked, after_masked, p, what + " masked after masked");
      expect_binomial(masked_after_unmasked, after_unmasked, p, what + " masked after unmasked");
      int64_t total = 0;
      for (int64_t g : gaps) total += g;
      double chi2 = 0;
      for (int64_t k = 0; k <= bins; ++k) {
        const double prob = k < bins ? std::pow(1 - p, static_cast<double>(k)) * p
                                     : std::pow(1 - p, static_cast<double>(bins));
        const double expected = static_cast<double>(total) * prob;
        const double d = static_cast<double>(gaps[static_cast<size_t>(k)]) - expected;
        chi2 += d * d / expected;
      }
      EXPECT_LT(chi2, chi_square_bound(static_cast<double>(bins))) << what << " gaps";
    }
  }
}

// Sparse near 1 and far below any representable rate: still exact and safe (the gap can exceed
// every integer, or be infinite).
TEST(MaskSampler, ExtremeProbabilities) {
  const int64_t n = 1 << 16;
  for (double p : {std::numeric_limits<double>::denorm_min(), 1e-300, 1e-15}) {
    EXPECT_TRUE(draw(Kind::kSparse, p, n, 0).empty()) << p;
    EXPECT_TRUE(draw(Kind::kDispatch, p, n, 0).empty()) << p;
  }
  int64_t masked = 0;
  for (int k = 0; k < 20; ++k) {
    masked += static_cast<int64_t>(draw(Kind::kSparse, 0.9999, n, static_cast<uint64_t>(k)).size());
  }
  expect_binomial(masked, 20 * n, 0.9999, "sparse");
}

// One to three positions: the last position is as likely as any (the sampler stops exactly at
// the end of the window).
TEST(MaskSampler, ShortWindows) {
  const int streams = 4000;
  for (Kind kind : {Kind::kSparse, Kind::kDense}) {
    for (int64_t n : {1, 2, 3}) {
      std::vector<int64_t> count(static_cast<size_t>(n));
      for (int k = 0; k < streams; ++k) {
        for (int64_t pos : draw(kind, 0.4, n, static_cast<uint64_t>(k))) {
          ++count[static_cast<size_t>(pos)];
        }
      }
      for (int64_t i = 0; i < n; ++i) {
        expect_binomial(count[static_cast<size_t>(i)], streams, 0.4,
                        kind_name(kind) + " n = " + std::to_string(n));
      }
    }
  }
}

TEST(MaskSampler, TheStreamDecidesTheMask) {
  for (Kind kind : {Kind::kSparse, Kind::kDense, Kind::kDispatch}) {
    for (double p : {0.05, 0.2}) {
      EXPECT_EQ(draw(kind, p, 2048, 11), draw(kind, p, 2048, 11)) << kind_name(kind);
      EXPECT_NE(draw(kind, p, 2048, 11), draw(kind, p, 2048, 12)) << kind_name(kind);
    }
  }
  // The streams of TokenAugmenter: one per (seed, call, field).
  auto mask = [](uint64_t seed, uint64_t call, MaskField field) {
    CounterRng rng = mask_rng(seed, call, field);
    MaskScratch scratch;
    const std::span<const int64_t> s = mask_positions(rng, 0.1, 2048, scratch);
    return std::vector<int64_t>(s.begin(), s.end());
  };
  EXPECT_EQ(mask(1, 2, MaskField::kAction), mask(1, 2, MaskField::kAction));
  EXPECT_NE(mask(1, 2, MaskField::kAction), mask(1, 2, MaskField::kDone));
  EXPECT_NE(mask(1, 2, MaskField::kAction), mask(1, 3, MaskField::kAction));
  EXPECT_NE(mask(1, 2, MaskField::kAction), mask(2, 2, MaskField::kAction));
}

// A scratch keeps its storage when asked for less and grows when asked for more.
TEST(MaskSampler, ScratchIsReused) {
  MaskScratch scratch;
  int64_t* first = scratch.reserve(100);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(scratch.reserve(50), first);
  EXPECT_EQ(scratch.reserve(100), first);
  EXPECT_NE(scratch.reserve(101), nullptr);
}

}  // namespace
}  // namespace mouse::detail::augment
