// mouse-data: the command line. Uses the public headers only.
#include <CLI/CLI.hpp>
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <exception>
#include <string>
#include <thread>

#include "commands.hpp"
#include "mouse/dataset.hpp"
#include "mouse/error.hpp"

namespace {

// SIGINT, SIGTERM and SIGHUP end the process as they would by default, but first remove the
// temporary directories of saves in progress. The signals are blocked in every thread (threads
// started later inherit the mask) and taken by one thread with sigwait, so the cleanup runs as
// ordinary code, not in a signal handler.
void clean_up_on_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  if (pthread_sigmask(SIG_BLOCK, &set, nullptr) != 0) return;
  std::thread([set] {
    int sig = 0;
    while (sigwait(&set, &sig) != 0) {
    }
    mouse::remove_unfinished_saves();
    ::signal(sig, SIG_DFL);
    pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
    raise(sig);
  }).detach();
}

// Longest error message printed; messages quote short excerpts of inputs, this is the backstop.
constexpr size_t kMaxMessage = 1000;

}  // namespace

int main(int argc, char** argv) {
  clean_up_on_signals();
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
      if (c == '\n' || c == '\r') c = ' ';
    }
    if (msg.size() > kMaxMessage) msg = msg.substr(0, kMaxMessage) + "...";
    std::fprintf(stderr, "mouse-data: error: %s\n", msg.c_str());
    return 1;
  }
  return 0;
}
