// Subcommands of the mouse-data command line; each registers itself on the app.
#pragma once

#include <CLI/CLI.hpp>

namespace mouse::cli {

/// `inspect PATH [--json]`: layout, splits, rows, features, data files and sizes.
void add_inspect(CLI::App& app);
/// `head PATH [--split NAME] [-n N] [--offset K] [--json]`: rows as JSON lines.
void add_head(CLI::App& app);

}  // namespace mouse::cli
