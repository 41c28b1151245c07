// Window lengths and the packed layout (SPEC §5.1): packed columns cut by cu_seqlens are the
// source rows at the returned starts for every sampling mode, lengths rule, boundaries policy
// and worker count; windows never cross what `boundaries` names; max_tokens batches have exactly
// T rows; the same seed gives the same batches whatever num_workers is; state() / restore() are
// exact.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "batch/fake_source.hpp"
#include "mouse/augment.hpp"
#include "mouse/batch.hpp"
#include "mouse/dataset_store.hpp"
#include "mouse/error.hpp"
#include "synthetic.hpp"

namespace mouse {
namespace {

using test::FakeSource;

// Two loaded sources and a buffer, with episodes of assorted lengths (some shorter than S).
std::shared_ptr<FakeSource> episodic_source() {
  auto src = std::make_shared<FakeSource>();
  auto episodes = [](std::vector<int64_t> lengths) {
    std::vector<int64_t> done;
    for (int64_t n : lengths) {
      for (int64_t i = 0; i < n; ++i) done.push_back(i + 1 == n ? 1 : 0);
    }
    return done;
  };
  src->add_source(episodes({3, 9, 1, 14, 6, 2, 20, 5}));
  src->add_source(episodes({7, 4, 11, 2, 8}));
  src->append(episodes({5, 13, 3}));
  src->append_rows(4);  // an open episode at the end
  return src;
}

// Rows where windows must stop under `boundaries`: every end of a unit (exclusive).
std::vector<int64_t> unit_ends(const FakeSource& src, const std::string& boundaries) {
  std::vector<int64_t> ends;
  const std::vector<int64_t> segments = src.segment_starts();
  if (boundaries != "none") ends.insert(ends.end(), segments.begin() + 1, segments.end());
  if (boundaries == "episode") {
    std::vector<int64_t> done(static_cast<size_t>(src.size()));
    src.read_done(0, src.size(), done);
    for (int64_t r = 0; r < src.size(); ++r) {
      if (done[static_cast<size_t>(r)] != 0) ends.push_back(r + 1);
    }
  }
  ends.push_back(src.size());
  std::sort(ends.begin(), ends.end());
  return ends;
}

// The first unit end after `start`.
int64_t end_after(const std::vector<int64_t>& ends, int64_t start) {
  return *std::upper_bound(ends.begin(), ends.end(), start);
}

BatchifierOptions packed_options(const std::string& sampling, const std::string& lengths,
                                 const std::string& boundaries, int64_t workers) {
  BatchifierOptions o;
  o.sampling = sampling;
  o.lengths = lengths;
  o.boundaries = boundaries;
  o.layout = "packed";
  o.num_workers = workers;
  o.min_length = 3;
  o.seed = 11;
  return o;
}

// Checks one packed batch against the source rows; returns its columns as plain vectors so
// batches of different runs can be compared.
std::vector<int64_t> check_packed(const SampledBatch& batch, const std::vector<int64_t>& ends,
                                  const std::string& lengths, int64_t s, int64_t rows_total) {
  const TensorDict& d = batch.data;
  EXPECT_TRUE(d.batch_size().empty());
  const auto b = static_cast<int64_t>(batch.starts.size());
  const Tensor& cu = d.at("cu_seqlens");
  const Tensor& len = d.at("lengths");
  const Tensor& row = d.at("row");
  const Tensor& obs = d.at("obs");
  const Tensor& sid = d.at("sequence_id");
  const Tensor& pos = d.at("position");
  EXPECT_EQ(cu.dtype(), DType::kInt32);
  // With max_tokens and a batch_size, unused windows (length 0) pad these to [B+1] / [B].
  const int64_t seqs = len.shape()[0];
  EXPECT_GE(seqs, b);
  EXPECT_EQ(cu.shape(), (std::vector<int64_t>{seqs + 1}));
  EXPECT_EQ(row.shape()[0], rows_total);
  EXPECT_EQ(obs.shape(), (std::vector<int64_t>{rows_total, 2}));
  EXPECT_EQ(cu.at<int32_t>({0}), 0);
  std::vector<int64_t> flat;
  for (int64_t i = 0; i < b; ++i) {
    const int64_t start = batch.starts[static_cast<size_t>(i)];
    const int64_t l = batch.lengths[static_cast<size_t>(i)];
    const int64_t first = cu.at<int32_t>({i});
    EXPECT_EQ(cu.at<int32_t>({i + 1}) - first, l);
    EXPECT_EQ(len.at<int64_t>({i}), l);
    EXPECT_GE(l, 1);
    EXPECT_LE(l, s);
    const int64_t stop = end_after(ends, start);
    EXPECT_LE(start + l, stop) << "window " << start << "+" << l << " crosses " << stop;
    if (lengths == "ragged") {
      EXPECT_EQ(l, std::min(s, stop - start)) << start;
    }
    for (int64_t j = 0; j < l; ++j) {
      EXPECT_EQ(row.at<int64_t>({first + j}), start + j);
      EXPECT_EQ(obs.at<float>({first + j, 1}), -static_cast<float>(start + j));
      EXPECT_EQ(sid.at<int64_t>({first + j}), i);
      EXPECT_EQ(pos.at<int64_t>({first + j}), j);
      flat.push_back(start + j);
    }
  }
  return flat;
}

TEST(PackedLayout, ColumnsCutByCuSeqlensAreTheSourceRowsForEveryConfiguration) {
  const int64_t s = 6;
  const int64_t b = 5;
  for (const char* sampling : {"random", "last", "sequential", "batch"}) {
    for (const char* lengths : {"fixed", "ragged", "uniform"}) {
      for (const char* boundaries : {"none", "source", "episode"}) {
        std::vector<std::vector<int64_t>> runs;
        for (int64_t workers : {0, 1, 3}) {
          SCOPED_TRACE(std::string(sampling) + " " + lengths + " " + boundaries + " workers " +
                       std::to_string(workers));
          auto src = episodic_source();
          const std::vector<int64_t> ends = unit_ends(*src, boundaries);
          PrefetchBatchifier bf(src, s, b, packed_options(sampling, lengths, boundaries, workers));
          std::vector<int64_t> all;
          for (int k = 0; k < 12; ++k) {
            const SampledBatch batch = bf.next();
            int64_t total = 0;
            for (int64_t l : batch.lengths) total += l;
            EXPECT_DOUBLE_EQ(batch.efficiency, 1.0);
            const std::vector<int64_t> flat = check_packed(batch, ends, lengths, s, total);
            if (std::string(lengths) == "fixed" && std::string(boundaries) != "episode") {
              for (int64_t l : batch.lengths) EXPECT_EQ(l, s);
            }
            all.insert(all.end(), batch.starts.begin(), batch.starts.end());
            all.insert(all.end(), flat.begin(), flat.end());
          }
          runs.push_back(all);
        }
        EXPECT_EQ(runs[0], runs[1]) << sampling << " " << lengths << " " << boundaries;
        EXPECT_EQ(runs[0], runs[2]) << sampling << " " << lengths << " " << boundaries;
      }
    }
  }
}

TEST(RaggedLengths, SequentialEpochVisitsEveryRowOnceInWindowsCutAtBoundaries) {
  for (const char* boundaries : {"none", "source", "episode"}) {
    auto src = episodic_source();
    const std::vector<int64_t> ends = unit_ends(*src, boundaries);
    BatchifierOptions o = packed_options("sequential", "ragged", boundaries, 2);
    o.layout = "padded";
    PrefetchBatchifier bf(src, 6, 4, o);
    std::vector<int64_t> seen;
    const int64_t batches = bf.total_batches();
    for (int64_t k = 0; k < batches; ++k) {
      const SampledBatch batch = bf.next();
      EXPECT_EQ(batch.epoch, 0);
      const Tensor& row = batch.data.at("row");
      const Tensor& mask = batch.data.at("mask");
      for (size_t i = 0; i < batch.starts.size(); ++i) {
        const int64_t start = batch.starts[i];
        const int64_t l = batch.lengths[i];
        EXPECT_EQ(l, std::min<int64_t>(6, end_after(ends, start) - start)) << boundaries;
        for (int64_t j = 0; j < 6; ++j) {
          const auto ii = static_cast<int64_t>(i);
          EXPECT_EQ(mask.at<bool>({ii, j}), j < l);
          EXPECT_EQ(row.at<int64_t>({ii, j}), j < l ? start + j : 0);
          if (j < l) seen.push_back(start + j);
        }
      }
    }
    EXPECT_EQ(bf.next().epoch, 1);
    std::vector<int64_t> every(static_cast<size_t>(src->size()));
    for (size_t r = 0; r < every.size(); ++r) every[r] = static_cast<int64_t>(r);
    EXPECT_EQ(seen, every) << boundaries;
  }
}

TEST(UniformLengths, DrawLengthsInRangeAndCoverTheRange) {
  auto src = std::make_shared<FakeSource>(std::vector<int64_t>{500});
  BatchifierOptions o = packed_options("random", "uniform", "none", 1);
  o.min_length = 2;
  PrefetchBatchifier bf(src, 8, 64, o);
  std::vector<int> histogram(9, 0);
  for (int k = 0; k < 10; ++k) {
    const SampledBatch batch = bf.next();
    for (size_t i = 0; i < batch.starts.size(); ++i) {
      const int64_t l = batch.lengths[i];
      EXPECT_EQ(l, std::min(l, 500 - batch.starts[i]));
      ASSERT_GE(l, 1);
      ASSERT_LE(l, 8);
      if (batch.starts[i] + 8 <= 500) {
        EXPECT_GE(l, 2);
      }
      ++histogram[static_cast<size_t>(l)];
    }
  }
  for (int l = 2; l <= 8; ++l) EXPECT_GT(histogram[static_cast<size_t>(l)], 40) << l;
}

TEST(PaddedLayout, ReportsLengthsAndEfficiencyAndMasksWhenWindowsCanBeShort) {
  auto src = episodic_source();
  BatchifierOptions o = packed_options("random", "ragged", "episode", 0);
  o.layout = "padded";
  PrefetchBatchifier bf(src, 6, 8, o);
  const SampledBatch batch = bf.next();
  ASSERT_TRUE(batch.data.contains("mask"));
  int64_t real = 0;
  for (int64_t l : batch.lengths) real += l;
  EXPECT_DOUBLE_EQ(batch.efficiency, static_cast<double>(real) / 48.0);
  o.lengths = "fixed";
  o.boundaries = "none";
  PrefetchBatchifier plain(src, 6, 8, o);
  const SampledBatch full = plain.next();
  EXPECT_FALSE(full.data.contains("mask"));
  EXPECT_EQ(full.lengths, std::vector<int64_t>(8, 6));
  EXPECT_DOUBLE_EQ(full.efficiency, 1.0);
}

TEST(MaxTokens, EveryBatchHasExactlyTRowsPaddedAtTheEnd) {
  const int64_t t = 40;
  for (const char* sampling : {"random", "last", "sequential", "batch"}) {
    for (const char* lengths : {"fixed", "ragged", "uniform"}) {
      for (int64_t b : {int64_t{0}, int64_t{5}}) {
        SCOPED_TRACE(std::string(sampling) + " " + lengths + " B " + std::to_string(b));
        auto src = episodic_source();
        const std::vector<int64_t> ends = unit_ends(*src, "episode");
        BatchifierOptions o = packed_options(sampling, lengths, "episode", 2);
        o.max_tokens = t;
        PrefetchBatchifier bf(src, 6, b, o);
        for (int k = 0; k < 8; ++k) {
          const SampledBatch batch = bf.next();
          const auto n = static_cast<int64_t>(batch.starts.size());
          ASSERT_GE(n, 1);
          if (b > 0) {
            EXPECT_LE(n, b);
          }
          int64_t real = 0;
          for (int64_t l : batch.lengths) real += l;
          ASSERT_LE(real, t);
          EXPECT_DOUBLE_EQ(batch.efficiency, static_cast<double>(real) / static_cast<double>(t));
          const TensorDict& d = batch.data;
          EXPECT_EQ(d.at("row").shape()[0], t);
          EXPECT_EQ(d.at("obs").shape(), (std::vector<int64_t>{t, 2}));
          const int64_t seqs = b > 0 ? b : n;
          EXPECT_EQ(d.at("cu_seqlens").shape(), (std::vector<int64_t>{seqs + 1}));
          EXPECT_EQ(d.at("lengths").shape(), (std::vector<int64_t>{seqs}));
          for (int64_t i = n; i < seqs; ++i) {
            EXPECT_EQ(d.at("lengths").at<int64_t>({i}), 0);
            EXPECT_EQ(d.at("cu_seqlens").at<int32_t>({i + 1}), real);
          }
          for (int64_t r = real; r < t; ++r) {
            EXPECT_EQ(d.at("sequence_id").at<int64_t>({r}), -1);
            EXPECT_EQ(d.at("position").at<int64_t>({r}), -1);
            EXPECT_EQ(d.at("row").at<int64_t>({r}), 0);
          }
          // Ragged / uniform random windows are cut to fill the budget; a window count bound
          // or a fixed window that does not fit may end the batch earlier.
          if (std::string(sampling) == "random" && std::string(lengths) != "fixed" && n < b) {
            EXPECT_EQ(real, t);
          }
          if (std::string(sampling) == "random" && std::string(lengths) != "fixed" && b == 0) {
            EXPECT_EQ(real, t);
          }
          // A window cut to the budget is shorter than its rule: checked as "uniform" lengths.
          check_packed(batch, ends, "uniform", 6, t);
        }
      }
    }
  }
}

TEST(MaxTokens, SequentialEpochsStillVisitEveryWindowOnce) {
  auto src = episodic_source();
  BatchifierOptions o = packed_options("sequential", "ragged", "episode", 3);
  o.max_tokens = 17;
  PrefetchBatchifier bf(src, 6, 0, o);
  const int64_t batches = bf.total_batches();
  int64_t rows = 0;
  std::vector<int64_t> seen;
  for (int64_t k = 0; k < batches; ++k) {
    const SampledBatch batch = bf.next();
    EXPECT_EQ(batch.epoch, 0) << k;
    for (size_t i = 0; i < batch.starts.size(); ++i) {
      for (int64_t j = 0; j < batch.lengths[i]; ++j) seen.push_back(batch.starts[i] + j);
      rows += batch.lengths[i];
    }
  }
  EXPECT_EQ(bf.next().epoch, 1);
  EXPECT_EQ(rows, src->size());
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_EQ(static_cast<int64_t>(seen.size()), src->size());
}

TEST(MaxTokens, SameSeedSameBatchesAndStateRestoresExactly) {
  auto run = [](int64_t workers, int first, int count, const BatchifierState* from) {
    auto src = episodic_source();
    BatchifierOptions o = packed_options("random", "uniform", "episode", workers);
    o.max_tokens = 30;
    PrefetchBatchifier bf(src, 6, 4, o);
    if (from != nullptr) bf.restore(*from);
    for (int k = 0; k < first; ++k) bf.next();
    std::vector<int64_t> out;
    for (int k = 0; k < count; ++k) {
      const SampledBatch batch = bf.next();
      const Tensor& row = batch.data.at("row");
      for (int64_t r = 0; r < 30; ++r) out.push_back(row.at<int64_t>({r}));
      out.insert(out.end(), batch.lengths.begin(), batch.lengths.end());
    }
    return std::make_pair(out, bf.state());
  };
  const auto zero = run(0, 0, 9, nullptr);
  EXPECT_EQ(zero.first, run(1, 0, 9, nullptr).first);
  EXPECT_EQ(zero.first, run(3, 0, 9, nullptr).first);
  // 4 batches, then the state, then 5 more from a restored batchifier.
  const auto head = run(2, 0, 4, nullptr);
  const auto tail = run(2, 0, 5, &head.second);
  std::vector<int64_t> joined = head.first;
  joined.insert(joined.end(), tail.first.begin(), tail.first.end());
  EXPECT_EQ(joined, zero.first);
  const BatchifierState parsed = BatchifierState::from_json(head.second.to_json());
  EXPECT_EQ(parsed, head.second);
  EXPECT_EQ(parsed.lengths, "uniform");
  EXPECT_EQ(parsed.max_tokens, 30);
}

TEST(PackedOptions, RejectBadValuesNamingTheOption) {
  auto src = episodic_source();
  auto expect = [&](BatchifierOptions o, int64_t b, const std::string& needle) {
    try {
      PrefetchBatchifier bf(src, 6, b, o);
      ADD_FAILURE() << "expected InvalidArgument containing " << needle;
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  BatchifierOptions o;
  o.lengths = "short";
  expect(o, 2, "lengths must be \"fixed\", \"ragged\" or \"uniform\", got \"short\"");
  o = {};
  o.layout = "flat";
  expect(o, 2, "layout must be \"padded\" or \"packed\", got \"flat\"");
  o = {};
  o.lengths = "uniform";
  o.min_length = 7;
  expect(o, 2, "min_length must be in [1, sequence_length 6], got 7");
  o.min_length = 0;
  expect(o, 2, "min_length must be in [1, sequence_length 6], got 0");
  o = {};
  o.max_tokens = 64;
  expect(o, 2, "max_tokens 64 needs layout \"packed\", got layout \"padded\"");
  o.layout = "packed";
  o.max_tokens = 5;
  expect(o, 2, "max_tokens must be >= sequence_length 6");
  o.max_tokens = 0;
  expect(o, 0, "batch_size must be > 0, got 0");
  // A state of another lengths rule is refused.
  BatchifierOptions packed = packed_options("random", "ragged", "none", 0);
  PrefetchBatchifier bf(src, 6, 2, packed);
  BatchifierState st = bf.state();
  st.lengths = "fixed";
  EXPECT_THROW(bf.restore(st), InvalidArgument);
}

// Over a real store: the packed rows are the store's own encoding of the window rows, and the
// padding rows after the last window hold the fill values (q_star -inf, time -1, else 0).
TEST(PackedStore, RowsAreTheStoresEncodingAndPaddingHoldsTheFillValues) {
  StoreConfig config;
  config.max_action_dim = 2;
  config.max_obs_continuous_dim = 4;
  DatasetStore store(config);
  store.from_dataset(Dataset::from_batches(bench::cartpole_schema(),
                                           bench::cartpole_batches(3000, 1000, 3)));
  for (const char* lengths : {"fixed", "ragged"}) {
    BatchifierOptions o = packed_options("random", lengths, "episode", 2);
    o.max_tokens = 100;
    PrefetchBatchifier bf(store, 16, 0, o);
    for (int k = 0; k < 5; ++k) {
      const SampledBatch batch = bf.next();
      std::vector<int64_t> rows;
      for (size_t i = 0; i < batch.starts.size(); ++i) {
        for (int64_t j = 0; j < batch.lengths[i]; ++j) rows.push_back(batch.starts[i] + j);
      }
      const auto real = static_cast<int64_t>(rows.size());
      const TensorDict expected = store.get(rows);
      for (const auto& [name, want] : expected) {
        const Tensor& have = batch.data.at(name);
        ASSERT_EQ(have.shape()[0], 100) << name;
        const int64_t step = want.shape()[0] == 0 ? 0 : want.nbytes() / want.shape()[0];
        ASSERT_EQ(std::memcmp(have.data(), want.data(), static_cast<size_t>(real * step)), 0)
            << name << " " << lengths;
      }
      if (real < 100) {
        const Tensor& q = batch.data.at("q_star");
        EXPECT_EQ(q.at<float>({99, 0}), -std::numeric_limits<float>::infinity());
        EXPECT_EQ(batch.data.at("time").at<int64_t>({99}), -1);
        EXPECT_EQ(batch.data.at("reward").at<float>({99}), 0.0F);
      }
    }
  }
}


// Augmenting a packed batch in the workers equals augmenting the same windows padded, row for
// row; the padding rows after the windows never change.
TEST(PackedAugment, EqualsTheAugmentationOfTheSameWindowsPadded) {
  StoreConfig config;
  config.max_action_dim = 2;
  config.max_obs_continuous_dim = 4;
  DatasetStore store(config);
  store.from_dataset(Dataset::from_batches(bench::cartpole_schema(),
                                           bench::cartpole_batches(2000, 1000, 5)));
  AugmentTokensConfig c;
  c.permute_action = PermuteAction::kBoth;
  c.permute_done = true;
  c.scale_reward = AugmentScalarSpec::uniform(0.5, 2.0);
  c.shift_obs = {0.0, 0.3, std::nullopt, std::nullopt};
  c.mask_prob.action = 0.1;
  c.mask_prob.reward = 0.2;
  c.mask_prob.done = 0.05;
  c.mask_prob.obs_continuous = 0.3;
  c.mask_prob.time = 0.1;
  auto aug = std::make_shared<TokenAugmenter>(c, 2, 0, 77);
  const int64_t s = 12;
  for (int64_t budget : {int64_t{0}, int64_t{150}}) {
    BatchifierOptions o = packed_options("random", "ragged", "episode", 2);
    o.transform = [aug](TensorDict b, int64_t n, const Allocator& a) {
      // In place, as the Python batchifier's transform: compared below with the copying
      // augmentation of the same windows padded.
      return b.batch_size().empty()
                 ? aug->apply_fresh_packed_in_place(std::move(b), static_cast<uint64_t>(n), 12, a)
                 : aug->apply_fresh_in_place(std::move(b), static_cast<uint64_t>(n), a);
    };
    o.max_tokens = budget;
    PrefetchBatchifier packed(store, s, 10, o);
    for (int k = 0; k < 4; ++k) {
      const SampledBatch p = packed.next();
      // The same windows padded to [B, S] (unused windows of a budgeted batch too), augmented
      // as batch k.
      std::vector<int64_t> rows;
      const auto b = static_cast<int64_t>(p.data.at("lengths").shape()[0]);
      for (int64_t i = 0; i < b; ++i) {
        const int64_t start = i < static_cast<int64_t>(p.starts.size()) ? p.starts[i] : 0;
        const int64_t len = i < static_cast<int64_t>(p.lengths.size()) ? p.lengths[i] : 0;
        for (int64_t j = 0; j < s; ++j) rows.push_back(j < len ? start + j : start);
      }
      const TensorDict padded_in = store.get(rows).reshape({b, s});
      const TensorDict padded = aug->apply_fresh(padded_in, static_cast<uint64_t>(k));
      int64_t real = 0;
      for (int64_t l : p.lengths) real += l;
      for (const auto& [name, want] : padded) {
        const Tensor& have = p.data.at(name);
        const int64_t row_bytes = want.nbytes() / (b * s);
        for (int64_t i = 0; i < static_cast<int64_t>(p.lengths.size()); ++i) {
          const int64_t first = p.data.at("cu_seqlens").at<int32_t>({i});
          ASSERT_EQ(std::memcmp(static_cast<const uint8_t*>(have.data()) + first * row_bytes,
                                static_cast<const uint8_t*>(want.data()) + i * s * row_bytes,
                                static_cast<size_t>(p.lengths[static_cast<size_t>(i)] *
                                                    row_bytes)),
                    0)
              << name << " window " << i << " batch " << k << " budget " << budget;
        }
        if (budget > 0 && real < budget) {
          // Padding rows hold the fill values, untouched by scale / shift / masks.
          const Tensor& r = p.data.at("reward");
          EXPECT_EQ(r.at<float>({budget - 1}), 0.0F);
          EXPECT_EQ(p.data.at("time").at<int64_t>({budget - 1}), -1);
        }
      }
    }
  }
}

}  // namespace
}  // namespace mouse
