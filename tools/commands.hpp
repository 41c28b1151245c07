// Subcommands of the mouse-data command line; each registers itself on the app.
#pragma once

#include <CLI/CLI.hpp>

namespace mouse::cli {

/// `inspect PATH [--json]`: layout, splits, rows, features, data files and sizes.
void add_inspect(CLI::App& app);
/// `head PATH [--split NAME] [-n N] [--offset K] [--json]`: rows as JSON lines.
void add_head(CLI::App& app);
/// `encode PATH [--split NAME] --indices=0,5,-1 [--max-*-dim N] [--json]`: rows encoded by the
/// DatasetStore column contract, as one JSON object.
void add_encode(CLI::App& app);
/// `generate ENV OUT [--steps N] [--splits ...] [--images] ...`: rollouts of a built-in environment.
void add_generate(CLI::App& app);
/// `convert IN OUT --to disk|hub [--config NAME] [--cache-dir DIR] [--max-shard-bytes N]`: rewrites
/// a save_to_disk dataset or a Hub-layout directory in the other (or the same) layout.
void add_convert(CLI::App& app);

/// `sample PATH -S 64 -B 32 --sampling MODE --seed N --batches K [--augment CONFIG.yaml] ...`:
/// batches of windows as JSON lines (the encode format plus "starts").
void add_sample(CLI::App& app);
/// `bench PATH -S 64 -B 32 --sampling MODE --workers W --seconds T [--json]`: batch throughput,
/// next_batch latency percentiles and peak RSS.
void add_bench(CLI::App& app);
/// `demo`: generates a small FrozenLake dataset, loads it, samples augmented batches, reports.
void add_demo(CLI::App& app);

}  // namespace mouse::cli
