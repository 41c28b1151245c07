// mouse-data: the command line. Uses the public headers only.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <string>

#include "commands.hpp"
#include "mouse/error.hpp"

int main(int argc, char** argv) {
  CLI::App app{"mouse-data: training data for sequence models on RL step data"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "mouse-data 0.1.0");
  mouse::cli::add_inspect(app);
  mouse::cli::add_head(app);
  mouse::cli::add_encode(app);
  mouse::cli::add_generate(app);
  mouse::cli::add_convert(app);
  mouse::cli::add_sample(app);
  mouse::cli::add_bench(app);
  mouse::cli::add_demo(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::string msg = e.what();
    for (char& c : msg) {
      if (c == '\n') c = ' ';
    }
    std::fprintf(stderr, "mouse-data: error: %s\n", msg.c_str());
    return 1;
  }
  return 0;
}
