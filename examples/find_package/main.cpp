// The README's example, built in CI against the installed package: load the train splits of a
// DatasetDict, sample augmented windows on background workers, pull batches in a training loop.
#include <mouse/mouse.hpp>
#include <iostream>

int main(int argc, char** argv) try {
  if (argc != 2) { std::cerr << "usage: consumer DATASET_DICT_DIR\n"; return 2; }
  auto dict = mouse::DatasetDict::load_from_disk(argv[1]);        // memory-mapped, no copy
  mouse::DatasetStore store(/*max_action_dim=*/2, /*max_obs_continuous_dim=*/4);
  store.from_dataset(dict, std::nullopt, std::vector<std::string>{"train_*"});

  mouse::AugmentTokensConfig aug_cfg;                               // or from_yaml_file("aug.yaml")
  aug_cfg.scale_reward = mouse::AugmentScalarSpec::uniform(0.5, 2.0);
  aug_cfg.permute_action = mouse::PermuteAction::kBoth;
  auto aug = std::make_shared<const mouse::TokenAugmenter>(aug_cfg, 2, 0, /*seed=*/7);

  mouse::BatchifierOptions opt;
  opt.num_workers = 2;
  opt.seed = 7;
  opt.transform = [aug](mouse::TensorDict b, int64_t n, const mouse::Allocator& a) {
    return aug->apply_fresh(b, static_cast<uint64_t>(n), a);  // augmentation runs in the workers
  };
  mouse::PrefetchBatchifier batches(store, /*S=*/64, /*B=*/32, opt);
  for (int step = 0; step < 100; ++step) {
    mouse::TensorDict batch = batches.next_batch();                // [32, 64] per key
    const mouse::Tensor& obs = batch.at("obs_continuous");        // float64 [32, 64, 4]
    if (step == 0) std::cout << store.size() << " rows; obs_continuous " << obs.shape()[0] << "x"
                             << obs.shape()[1] << "x" << obs.shape()[2] << "\n";
    // ... hand batch.at("action"), batch.at("reward"), ... to the model (DLPack: mouse/dlpack.hpp)
  }
  std::cout << "100 batches\n";
} catch (const mouse::Error& e) {
  std::cerr << "error: " << e.what() << "\n";
  return 1;
}
