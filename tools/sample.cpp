// `mouse-data sample`: batches of windows from a PrefetchBatchifier, optionally augmented, as
// JSON lines (the encode format plus the window starts). `mouse-data bench`: the batchifier's
// throughput and next_batch latency on a dataset.
#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <memory>
#include <optional>

#include "commands.hpp"
#include "common.hpp"
#include "mouse/augment.hpp"
#include "mouse/batch.hpp"
#include "mouse/error.hpp"

namespace mouse::cli {

namespace {

struct SamplerArgs {
  StoreArgs store;
  int64_t sequence_length = 64;
  int64_t batch_size = 32;
  BatchifierOptions options;
  uint64_t seed = 0;
  std::string augment_config;
  int64_t max_num_obs_discrete = 0;

  void add_to(CLI::App* cmd) {
    store.add_to(cmd);
    cmd->add_option("-S,--sequence-length", sequence_length, "Steps per window")
        ->capture_default_str();
    cmd->add_option("-B,--batch-size", batch_size, "Windows per batch")->capture_default_str();
    cmd->add_option("--sampling", options.sampling, "random | last | sequential | batch")
        ->capture_default_str();
    cmd->add_option("--seed", seed, "Seed of the sampler (and of the augmenter)")
        ->capture_default_str();
    cmd->add_option("--workers", options.num_workers, "Background threads (0 = none)")
        ->capture_default_str();
    cmd->add_option("--prefetch", options.prefetch, "Batches prepared ahead")->capture_default_str();
    cmd->add_option("--boundaries", options.boundaries, "none | source | episode")
        ->capture_default_str();
    cmd->add_flag("--pin-memory", options.pin_memory,
                  "Page-locked batch memory through CUDA (a warning and ordinary memory "
                  "without a CUDA runtime)");
    cmd->add_option("--augment", augment_config,
                    "TokenAugmenter YAML config applied to every batch (update, then augment)");
    cmd->add_option("--max-num-obs-discrete", max_num_obs_discrete,
                    "Augmenter's obs_discrete permutation size")
        ->capture_default_str();
  }

  // Refuses sizes the machine cannot hold, naming the options: batches of `st`'s rows as they
  // encode (only the columns the dataset has; a --max-action-dim with no q-values column costs
  // nothing), checked once the store is open (mapping it reads no rows).
  void check_sizes(const DatasetStore& st) const {
    if (options.num_workers > kMaxWorkers) {
      throw InvalidArgument(fmt::format("--workers {}: more than {} threads", options.num_workers,
                                        kMaxWorkers));
    }
    if (sequence_length <= 0 || batch_size <= 0 || options.prefetch <= 0) return;  // the batchifier says why
    const int64_t windows = saturating_product({batch_size, sequence_length});
    const int64_t batch = saturating_product({windows, encoded_row_bytes(st) + 1});  // + mask
    // The batches queued (--prefetch), being built (--workers) and handed out; the text of one.
    const int64_t held = saturating_product(
        {batch, std::max<int64_t>(options.prefetch, 1) + std::max<int64_t>(options.num_workers, 0) + 2});
    const int64_t text = saturating_product({windows, encoded_row_values(st) + 1, 24});
    const int64_t perms = saturating_product(
        {batch_size, std::max<int64_t>(store.max_action_dim, 0) +
                         std::max<int64_t>(max_num_obs_discrete, 0) + 1, 8 * 4});
    const std::string what =
        fmt::format("sample with -B {} -S {} --prefetch {} --workers {} {}", batch_size,
                    sequence_length, options.prefetch, options.num_workers, store.width_options());
    check_fits_in_memory(std::max(held, text), what);
    if (!augment_config.empty()) {
      check_fits_in_memory(
          perms, fmt::format("--augment with -B {} --max-action-dim {} --max-num-obs-discrete {}",
                             batch_size, store.max_action_dim, max_num_obs_discrete));
    }
  }

  static constexpr int kMaxWorkers = 1024;

  // The batchifier, with the augmenter (if any) running in its workers.
  std::unique_ptr<PrefetchBatchifier> make(const DatasetStore& st) {
    BatchifierOptions opt = options;
    opt.seed = seed;
    if (!augment_config.empty()) {
      auto aug = std::make_shared<const TokenAugmenter>(
          AugmentTokensConfig::from_yaml_file(augment_config), store.max_action_dim,
          max_num_obs_discrete, seed);
      opt.transform = augment_transform(std::move(aug));
    }
    return std::make_unique<PrefetchBatchifier>(st, sequence_length, batch_size, std::move(opt));
  }
};

struct SampleOptions {
  SamplerArgs sampler;
  int64_t batches = 1;
  bool json = false;
};

void run_sample(SampleOptions& opt) {
  if (opt.batches < 0) throw InvalidArgument(fmt::format("--batches must be >= 0, got {}", opt.batches));
  auto store = open_store(opt.sampler.store);
  opt.sampler.check_sizes(*store);
  auto batchifier = opt.sampler.make(*store);
  for (int64_t k = 0; k < opt.batches; ++k) {
    SampledBatch b = batchifier->next();
    if (opt.json) {
      std::string out = "{";
      append_tensor_dict_members(out, b.data);
      out += ", \"starts\": [";
      for (size_t i = 0; i < b.starts.size(); ++i) out += fmt::format("{}{}", i ? ", " : "", b.starts[i]);
      out += "]}\n";
      std::cout << out;
    } else {
      std::string starts;
      for (size_t i = 0; i < b.starts.size(); ++i) starts += fmt::format("{}{}", i ? " " : "", b.starts[i]);
      std::cout << fmt::format("batch {} (epoch {}), starts {}\n", b.number, b.epoch, starts)
                << tensor_dict_text(b.data) << "\n";
    }
  }
  batchifier->close();
}

struct BenchOptions {
  SamplerArgs sampler;
  double seconds = 3.0;
  bool json = false;
};

double percentile(std::vector<double>& sorted_ms, double p) {
  if (sorted_ms.empty()) return 0;
  const auto i = static_cast<size_t>(p * static_cast<double>(sorted_ms.size() - 1) + 0.5);
  return sorted_ms[std::min(i, sorted_ms.size() - 1)];
}

void run_bench(BenchOptions& opt) {
  if (!(opt.seconds > 0)) throw InvalidArgument(fmt::format("--seconds must be > 0, got {}", opt.seconds));
  using clock = std::chrono::steady_clock;
  auto store = open_store(opt.sampler.store);
  opt.sampler.check_sizes(*store);
  auto batchifier = opt.sampler.make(*store);
  (void)batchifier->next_batch();  // warm-up: first batch includes thread start-up
  std::vector<double> latencies_ms;
  int64_t batches = 0, steps = 0, bytes = 0;
  const auto start = clock::now();
  const auto deadline = start + std::chrono::duration<double>(opt.seconds);
  while (clock::now() < deadline) {
    const auto t0 = clock::now();
    TensorDict b = batchifier->next_batch();
    latencies_ms.push_back(std::chrono::duration<double, std::milli>(clock::now() - t0).count());
    ++batches;
    steps += b.batch_size().empty() ? 0 : b.batch_size()[0] * opt.sampler.sequence_length;
    bytes += b.nbytes();
  }
  const double elapsed = std::chrono::duration<double>(clock::now() - start).count();
  batchifier->close();
  std::sort(latencies_ms.begin(), latencies_ms.end());
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  const double peak_rss_mb = static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is KiB
  const double p50 = percentile(latencies_ms, 0.5), p90 = percentile(latencies_ms, 0.9),
               p99 = percentile(latencies_ms, 0.99);
  const double max_ms = latencies_ms.empty() ? 0 : latencies_ms.back();
  const auto& o = batchifier->options();
  if (opt.json) {
    std::cout << fmt::format(
        "{{\"rows\": {}, \"sequence_length\": {}, \"batch_size\": {}, \"sampling\": \"{}\", "
        "\"workers\": {}, \"seconds\": {:.3f}, \"batches\": {}, \"batches_per_s\": {:.2f}, "
        "\"steps_per_s\": {:.0f}, \"mb_per_s\": {:.2f}, \"latency_ms\": {{\"p50\": {:.4f}, "
        "\"p90\": {:.4f}, \"p99\": {:.4f}, \"max\": {:.4f}}}, \"peak_rss_mb\": {:.1f}}}\n",
        store->size(), opt.sampler.sequence_length, opt.sampler.batch_size, o.sampling,
        o.num_workers, elapsed, batches, batches / elapsed, steps / elapsed, bytes / elapsed / 1e6,
        p50, p90, p99, max_ms, peak_rss_mb);
  } else {
    std::cout << fmt::format(
        "{} rows, S={} B={} sampling={} workers={}: {} batches in {:.2f} s\n"
        "  {:.1f} batches/s, {:.0f} steps/s, {:.1f} MB/s\n"
        "  next_batch latency p50 {:.3f} ms, p90 {:.3f} ms, p99 {:.3f} ms, max {:.3f} ms\n"
        "  peak RSS {:.1f} MB\n",
        store->size(), opt.sampler.sequence_length, opt.sampler.batch_size, o.sampling,
        o.num_workers, batches, elapsed, batches / elapsed, steps / elapsed, bytes / elapsed / 1e6,
        p50, p90, p99, max_ms, peak_rss_mb);
  }
}

}  // namespace

void add_sample(CLI::App& app) {
  auto opt = std::make_shared<SampleOptions>();
  auto* cmd = app.add_subcommand("sample", "Print batches of windows drawn by a PrefetchBatchifier");
  opt->sampler.add_to(cmd);
  cmd->add_option("--batches", opt->batches, "Batches to print")->capture_default_str();
  cmd->add_flag("--json", opt->json, "One JSON object per batch: the encode format plus \"starts\"");
  cmd->callback([opt] { run_sample(*opt); });
}

void add_bench(CLI::App& app) {
  auto opt = std::make_shared<BenchOptions>();
  auto* cmd = app.add_subcommand("bench", "Measure batch throughput and next_batch latency");
  opt->sampler.add_to(cmd);
  cmd->add_option("--seconds", opt->seconds, "How long to pull batches")->capture_default_str();
  cmd->add_flag("--json", opt->json, "One JSON object");
  cmd->callback([opt] { run_bench(*opt); });
}

}  // namespace mouse::cli
