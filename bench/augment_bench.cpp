// TokenAugmenter on [32, 64] batches with every augmentation on, next to a plain deep copy
// (TensorDict::clone) of the same batch: augmenting writes each output once, so it should cost
// about what copying does. Reports bytes/s of batch (input) bytes; the mask samplers alone
// (BM_SparseMask, BM_DenseMask) report positions/s.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "augment/mask_sampler.hpp"
#include "core/caching_allocator.hpp"
#include "core/rng.hpp"
#include "mouse/augment.hpp"
#include "mouse/tensor_dict.hpp"

namespace {

constexpr int64_t kB = 32;
constexpr int64_t kS = 64;

enum Kind : int64_t { kCartPole = 0, kImageInt64 = 1, kImageUInt8 = 2 };

int64_t num_actions(int64_t kind) { return kind == kCartPole ? 2 : 18; }

const char* kind_label(int64_t kind) {
  switch (kind) {
    case kCartPole:
      return "cartpole obs 4 f64, q_star 2";
    case kImageInt64:
      return "84x84x3 image int64";
    default:
      return "84x84x3 image uint8";
  }
}

// CartPole-like: obs_continuous [B, S, 4], 2 actions. Image: obs_image [B, S, 84*84*3] (int64,
// the store's default, or uint8) with 18 actions.
mouse::TensorDict make_batch(int64_t kind) {
  using mouse::DType;
  using mouse::Tensor;
  const int64_t n = kB * kS;
  const int64_t a = num_actions(kind);
  mouse::TensorDict d({kB, kS});
  Tensor action = Tensor::empty({kB, kS}, DType::kInt64);
  Tensor reward = Tensor::empty({kB, kS}, DType::kFloat32);
  Tensor done = Tensor::empty({kB, kS}, DType::kInt64);
  Tensor time = Tensor::empty({kB, kS}, DType::kInt64);
  Tensor q = Tensor::empty({kB, kS, a}, DType::kFloat32);
  uint64_t x = 88172645463325252ull;  // xorshift: arbitrary but fixed contents
  auto next = [&x] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  for (int64_t i = 0; i < n; ++i) {
    action.data_as<int64_t>()[i] = static_cast<int64_t>(next() % static_cast<uint64_t>(a));
    reward.data_as<float>()[i] = 1.0f;
    done.data_as<int64_t>()[i] = static_cast<int64_t>(next() % 3);
    time.data_as<int64_t>()[i] = i % kS;
    for (int64_t k = 0; k < a; ++k) q.data_as<float>()[i * a + k] = static_cast<float>(k);
  }
  d.set("action", action);
  d.set("reward", reward);
  d.set("done", done);
  d.set("time", time);
  d.set("q_star", q);
  if (kind == kCartPole) {
    Tensor obs = Tensor::empty({kB, kS, 4}, DType::kFloat64);
    for (int64_t i = 0; i < obs.numel(); ++i) {
      obs.data_as<double>()[i] = static_cast<double>(next() % 1000) / 500.0 - 1.0;
    }
    d.set("obs_continuous", obs);
  } else {
    const int64_t pixels = 84 * 84 * 3;
    Tensor img = Tensor::empty({kB, kS, pixels}, kind == kImageInt64 ? DType::kInt64 : DType::kUInt8);
    for (int64_t i = 0; i < img.numel(); ++i) {
      const auto px = static_cast<uint8_t>(next());
      if (kind == kImageInt64) {
        img.data_as<int64_t>()[i] = px;
      } else {
        img.data_as<uint8_t>()[i] = px;
      }
    }
    d.set("obs_image", img);
  }
  return d;
}

const mouse::TensorDict& batch(int64_t kind) {
  static std::map<int64_t, mouse::TensorDict> made;
  auto it = made.find(kind);
  if (it == made.end()) it = made.emplace(kind, make_batch(kind)).first;
  return it->second;
}


// Every output and clone comes from one caching allocator, as in a batchifier (which gathers
// and augments into its own cached blocks): with plain heap blocks, glibc hands the freed
// 100+ KB back to the kernel between iterations and each one then pays its page faults.
const mouse::Allocator& pool() {
  static const mouse::detail::CachingAllocator cache(mouse::default_allocator(), 64);
  return cache;
}

mouse::AugmentTokensConfig everything_on() {
  using mouse::AugmentScalarSpec;
  mouse::AugmentTokensConfig c;
  c.scale_reward = AugmentScalarSpec::uniform(0.5, 2.0);
  c.shift_reward = AugmentScalarSpec::gaussian(0.0, 0.1);
  c.scale_obs = AugmentScalarSpec::uniform(0.8, 1.2);
  c.shift_obs = AugmentScalarSpec::gaussian(0.0, 0.1);
  c.scale_obs_image = AugmentScalarSpec::uniform(0.8, 1.2);
  c.shift_obs_image = AugmentScalarSpec::uniform(-20.0, 20.0);
  c.permute_obs_discrete = true;
  c.permute_action = mouse::PermuteAction::kBoth;
  c.permute_done = true;
  c.mask_prob = {0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1};
  return c;
}

void report(benchmark::State& state, const mouse::TensorDict& in) {
  state.SetBytesProcessed(state.iterations() * in.nbytes());
  state.SetLabel(kind_label(state.range(0)));
}

// The baseline: a deep copy of the batch.
void BM_Clone(benchmark::State& state) {
  const mouse::TensorDict& in = batch(state.range(0));
  for (auto _ : state) {
    mouse::TensorDict out = in.clone(pool());
    benchmark::DoNotOptimize(out.at("action").data());
  }
  report(state, in);
}

// What a batchifier worker does per batch: update_augmentations, then augment once.
void BM_Augment(benchmark::State& state) {
  const mouse::TensorDict& in = batch(state.range(0));
  mouse::TokenAugmenter aug(everything_on(), num_actions(state.range(0)), 16, 1);
  for (auto _ : state) {
    aug.update_augmentations(in);
    mouse::TensorDict out = aug.augment(in, pool());
    benchmark::DoNotOptimize(out.at("action").data());
  }
  report(state, in);
}

// What a batchifier worker does since augmenting in place: its freshly gathered batch (here a
// clone, which is also the baseline above) augmented over its own storage. The augmentation's
// own cost is this minus BM_Clone.
void BM_CloneThenAugmentInPlace(benchmark::State& state) {
  const mouse::TensorDict& in = batch(state.range(0));
  mouse::TokenAugmenter aug(everything_on(), num_actions(state.range(0)), 16, 1);
  uint64_t call = 0;
  for (auto _ : state) {
    mouse::TensorDict out = aug.apply_fresh_in_place(in.clone(pool()), call++, pool());
    benchmark::DoNotOptimize(out.at("action").data());
  }
  report(state, in);
}

// A reward-only scale called directly: copies the reward, shares every other member (the image
// batches' frames included).
void BM_AugmentRewardOnly(benchmark::State& state) {
  const mouse::TensorDict& in = batch(state.range(0));
  mouse::AugmentTokensConfig c;
  c.scale_reward = mouse::AugmentScalarSpec::uniform(0.5, 2.0);
  mouse::TokenAugmenter aug(c, num_actions(state.range(0)), 16, 1);
  uint64_t call = 0;
  for (auto _ : state) {
    mouse::TensorDict out = aug.apply_fresh(in, call++, pool());
    benchmark::DoNotOptimize(out.at("action").data());
  }
  report(state, in);
}

// Image scale and shift alone, called directly (a fresh obs_image, the rest shared) and in place
// after a clone (as a worker).
mouse::AugmentTokensConfig image_scale_shift() {
  mouse::AugmentTokensConfig c;
  c.scale_obs_image = mouse::AugmentScalarSpec::uniform(0.8, 1.2);
  c.shift_obs_image = mouse::AugmentScalarSpec::uniform(-20.0, 20.0);
  return c;
}

void BM_AugmentImageScaleShift(benchmark::State& state) {
  const mouse::TensorDict& in = batch(state.range(0));
  mouse::TokenAugmenter aug(image_scale_shift(), num_actions(state.range(0)), 16, 1);
  uint64_t call = 0;
  for (auto _ : state) {
    mouse::TensorDict out = aug.apply_fresh(in, call++, pool());
    benchmark::DoNotOptimize(out.at("action").data());
  }
  report(state, in);
}

void BM_CloneThenImageScaleShiftInPlace(benchmark::State& state) {
  const mouse::TensorDict& in = batch(state.range(0));
  mouse::TokenAugmenter aug(image_scale_shift(), num_actions(state.range(0)), 16, 1);
  uint64_t call = 0;
  for (auto _ : state) {
    mouse::TensorDict out = aug.apply_fresh_in_place(in.clone(pool()), call++, pool());
    benchmark::DoNotOptimize(out.at("action").data());
  }
  report(state, in);
}

// Everything but the masks: what the per-position Bernoulli draws cost.
void BM_AugmentNoMasks(benchmark::State& state) {
  const mouse::TensorDict& in = batch(state.range(0));
  mouse::AugmentTokensConfig c = everything_on();
  c.mask_prob = {};
  mouse::TokenAugmenter aug(c, num_actions(state.range(0)), 16, 1);
  for (auto _ : state) {
    aug.update_augmentations(in);
    mouse::TensorDict out = aug.augment(in, pool());
    benchmark::DoNotOptimize(out.at("action").data());
  }
  report(state, in);
}

// Only the snapshot draw (permutations and scalars), for scale.
void BM_UpdateAugmentations(benchmark::State& state) {
  const mouse::TensorDict& in = batch(state.range(0));
  mouse::TokenAugmenter aug(everything_on(), num_actions(state.range(0)), 16, 1);
  for (auto _ : state) aug.update_augmentations(in);
  state.SetLabel(kind_label(state.range(0)));
}

// The mask samplers alone, for one field of a [32, 64] batch at mask probability
// range(0) / 1000: what sets kSparseMaskMaxP (where the two cross). Items are positions.
using MaskSampler = int64_t (*)(mouse::detail::CounterRng&, double, int64_t, int64_t*) noexcept;

void run_mask_sampler(benchmark::State& state, MaskSampler sampler) {
  const double p = static_cast<double>(state.range(0)) / 1000.0;
  const int64_t n = kB * kS;
  std::vector<int64_t> out(static_cast<size_t>(n));
  uint64_t call = 0;
  int64_t masked = 0;
  for (auto _ : state) {
    mouse::detail::CounterRng rng(1, call++);
    masked += sampler(rng, p, n, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * n);
  state.counters["rate"] =
      static_cast<double>(masked) / static_cast<double>(state.iterations() * n);
}

void BM_SparseMask(benchmark::State& state) {
  run_mask_sampler(state, mouse::detail::augment::sparse_mask_positions);
}

void BM_DenseMask(benchmark::State& state) {
  run_mask_sampler(state, mouse::detail::augment::dense_mask_positions);
}

BENCHMARK(BM_Clone)->Arg(kCartPole)->Arg(kImageInt64)->Arg(kImageUInt8)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Augment)->Arg(kCartPole)->Arg(kImageInt64)->Arg(kImageUInt8)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_CloneThenAugmentInPlace)->Arg(kCartPole)->Arg(kImageInt64)->Arg(kImageUInt8)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_AugmentRewardOnly)->Arg(kCartPole)->Arg(kImageUInt8)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_AugmentImageScaleShift)->Arg(kImageUInt8)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_CloneThenImageScaleShiftInPlace)->Arg(kImageUInt8)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_AugmentNoMasks)->Arg(kCartPole)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_UpdateAugmentations)->Arg(kCartPole)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_SparseMask)->Arg(10)->Arg(50)->Arg(60)->Arg(70)->Arg(80)->Arg(100)->Arg(150);
BENCHMARK(BM_DenseMask)->Arg(10)->Arg(50)->Arg(60)->Arg(70)->Arg(80)->Arg(100)->Arg(150)->Arg(500);

}  // namespace

BENCHMARK_MAIN();
