// mouse-synth OUT ROWS [SEED]: writes a CartPole-like save_to_disk dataset (used for the bundled
// demo dataset and to reproduce benchmarks at other sizes).
#include <cstdio>
#include <exception>
#include <string>

#include "mouse/dataset.hpp"
#include "synthetic.hpp"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: mouse-synth OUT ROWS [SEED]\n");
    return 2;
  }
  try {
    int64_t rows = std::stoll(argv[2]);
    uint64_t seed = argc > 3 ? std::stoull(argv[3]) : 0;
    mouse::Dataset::from_batches(mouse::bench::cartpole_schema(),
                                 mouse::bench::cartpole_batches(rows, 1000, seed))
        .save_to_disk(argv[1]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mouse-synth: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
