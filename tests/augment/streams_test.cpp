// Which random stream each draw comes from: a field's mask in call k is the mask sampler run on
// the stream (seed, k, field), and a snapshot permutation is CounterRng::permutation run on the
// stream (seed, k, part), row after row. This is what makes results independent of threads and
// of which other augmentations are on.
#include <gtest/gtest.h>

#include <span>
#include <string>
#include <vector>

#include "augment/mask_sampler.hpp"
#include "augment/streams.hpp"
#include "augment_test_util.hpp"
#include "core/rng.hpp"
#include "mouse/augment.hpp"

namespace mouse {
namespace {

using detail::CounterRng;
using detail::augment::MaskField;
using detail::augment::SnapshotPart;

// The positions (b * S + s) of `field` that apply() masked: every input value of full_batch is
// non-zero (and time is never -1), so a masked position is recognisable by its first element.
std::vector<int64_t> masked_in_output(const TensorDict& out, const std::string& field) {
  const Tensor& t = out.at(field);
  const int64_t rows = out.batch_size()[0] * out.batch_size()[1];
  const int64_t inner = t.numel() / rows;
  std::vector<int64_t> masked;
  for (int64_t r = 0; r < rows; ++r) {
    bool m = false;
    if (field == "reward") {
      m = t.data_as<float>()[r] == 0.0f;
    } else if (field == "obs_continuous") {
      m = t.data_as<double>()[r * inner] == 0.0;
    } else if (field == "time") {
      m = t.data_as<int64_t>()[r] == -1;
    } else {
      m = t.data_as<int64_t>()[r * inner] == 0;
    }
    if (m) masked.push_back(r);
  }
  return masked;
}

std::vector<int64_t> expected_mask(uint64_t seed, uint64_t call, MaskField field, double p,
                                   int64_t n) {
  CounterRng rng = detail::augment::mask_rng(seed, call, field);
  detail::augment::MaskScratch scratch;
  const std::span<const int64_t> s = detail::augment::mask_positions(rng, p, n, scratch);
  return {s.begin(), s.end()};
}

TEST(MaskStreams, EachFieldsMaskIsTheSamplerOnItsOwnStream) {
  AugmentTokensConfig c;
  // Both samplers: below and above kSparseMaskMaxP.
  c.mask_prob = {0.03, 0.2, 0.5, 0.01, 0.1, 0.06, 0.9};
  const uint64_t seed = 4242;
  const TokenAugmenter aug(c, 5, 4, seed);
  const TensorDict in = test::full_batch(16, 40, 5, 4);
  const int64_t n = 16 * 40;
  struct Field {
    const char* name;
    MaskField field;
    double p;
  };
  const std::vector<Field> fields = {
      {"action", MaskField::kAction, 0.03},
      {"reward", MaskField::kReward, 0.2},
      {"done", MaskField::kDone, 0.5},
      {"obs_continuous", MaskField::kObsContinuous, 0.01},
      {"obs_discrete", MaskField::kObsDiscrete, 0.1},
      {"obs_image", MaskField::kObsImage, 0.06},
      {"time", MaskField::kTime, 0.9},
  };
  for (uint64_t call : {0u, 1u, 17u}) {
    const TensorDict out = aug.apply_fresh(in, call);
    for (const Field& f : fields) {
      EXPECT_EQ(masked_in_output(out, f.name), expected_mask(seed, call, f.field, f.p, n))
          << f.name << " call " << call;
    }
  }
}

TEST(SnapshotStreams, PermutationsAreCounterRngPermutationsOfTheirStream) {
  AugmentTokensConfig c;
  c.permute_action = PermuteAction::kBoth;
  c.permute_done = true;
  c.permute_obs_discrete = true;
  const uint64_t seed = 99;
  // Sizes from 1 up, and enough rows that the draws span many reads of words.
  for (int64_t actions : {int64_t{1}, int64_t{2}, int64_t{18}}) {
    const TokenAugmenter aug(c, actions, 16, seed);
    for (int64_t rows : {int64_t{0}, int64_t{1}, int64_t{33}, int64_t{300}}) {
      for (uint64_t call : {0u, 5u}) {
        const AugmentSnapshot s = aug.make_snapshot(rows, call);
        auto expect_rows = [&](const Tensor& t, SnapshotPart part, int64_t n, const char* name) {
          CounterRng rng = detail::augment::snapshot_rng(seed, call, part);
          std::vector<int64_t> row(static_cast<size_t>(n));
          for (int64_t r = 0; r < rows; ++r) {
            rng.permutation(std::span<int64_t>(row));
            const int64_t* got = t.data_as<int64_t>() + r * n;
            ASSERT_EQ(std::vector<int64_t>(got, got + n), row)
                << name << " row " << r << " of " << rows << ", call " << call;
          }
        };
        expect_rows(*s.action_perm, SnapshotPart::kActionPerm, actions, "action_perm");
        expect_rows(*s.done_perm, SnapshotPart::kDonePerm, 3, "done_perm");
        expect_rows(*s.obs_discrete_perm, SnapshotPart::kObsDiscretePerm, 16, "obs_discrete_perm");
      }
    }
  }
}

}  // namespace
}  // namespace mouse
