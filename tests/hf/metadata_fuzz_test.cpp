// Replays the metadata fuzz bodies (what fuzz/features_json_fuzz.cpp and
// fuzz/readme_yaml_fuzz.cpp run) over the corpus's JSON metadata and generated READMEs, their
// deterministic mutations, and the hostile shapes found while fuzzing: deep nesting, alias
// expansion, huge numbers. Under the asan preset this is the fuzzers' regression run.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "hf/metadata_fuzz.hpp"
#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Runs both bodies on a heap copy of `text` of exactly its size, so ASan sees overreads.
void run(const std::string& text) {
  auto* copy = new uint8_t[text.size() + 1];
  std::copy(text.begin(), text.end(), copy);
  mouse::detail::fuzz_features_json(copy, text.size());
  mouse::detail::fuzz_readme_yaml(copy, text.size());
  delete[] copy;
}

// Truncations, byte flips and overwritten bytes of `text`, seeded.
void run_mutations(const std::string& text, unsigned seed, int count) {
  std::mt19937 rng(seed);
  for (int k = 0; k < count && !text.empty(); ++k) {
    std::string m = text;
    const size_t at = rng() % m.size();
    switch (k % 3) {
      case 0: m.resize(at); break;
      case 1: m[at] = static_cast<char>(m[at] ^ (1u << (rng() % 8))); break;
      default: m[at] = "{}[]:,\"-\n &*!|>#"[rng() % 16]; break;
    }
    run(m);
  }
}

const char* kReadme = R"(---
configs:
- config_name: default
  data_files:
  - split: train
    path: data/train-*
dataset_info:
  features:
  - name: observation
    sequence: float32
  - name: action
    dtype: int64
  - name: frame
    dtype: image
  - name: label
    dtype:
      class_label:
        names:
          '0': a
          '1': b
  - name: pair
    struct:
    - name: x
      dtype: float32
    - name: y
      list:
        dtype: int32
      length: 2
---
# text
)";

TEST(MetadataFuzz, ReplaysCorpusMetadataAndMutations) {
  MOUSE_REQUIRE_TESTDATA();
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(mouse::test::testdata_dir() / "hf")) {
    const std::string name = e.path().filename().string();
    if (e.is_regular_file() && (name == "dataset_info.json" || name == "state.json" ||
                                name == "dataset_dict.json" || name == "README.md")) {
      files.push_back(e.path());
    }
  }
  std::sort(files.begin(), files.end());
  ASSERT_GT(files.size(), 5u);
  unsigned seed = 1;
  for (const auto& f : files) {
    SCOPED_TRACE(f.string());
    const std::string text = read_text(f);
    run(text);
    run_mutations(text, seed++, 200);
  }
}

TEST(MetadataFuzz, ReplaysReadmeMutations) {
  run(kReadme);
  run_mutations(kReadme, 7, 2000);
}

TEST(MetadataFuzz, HostileShapesEndInErrors) {
  const int deep = 100000;
  run(std::string(deep, '[') + std::string(deep, ']'));
  std::string objects;
  for (int i = 0; i < deep; ++i) objects += "{\"a\":";
  run(objects + "1" + std::string(deep, '}'));
  run("---\nx: " + std::string(deep, '[') + std::string(deep, ']') + "\n---\n");
  run("---\nx: " + std::string(deep, '{') + "\n---\n");
  std::string dashes = "---\nx:\n";
  for (int i = 0; i < 20000; ++i) dashes += "- ";
  run(dashes + "1\n---\n");
  std::string bomb = "---\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 9; ++i) {
    const std::string p = "*a" + std::to_string(i - 1);
    bomb += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [" + p;
    for (int k = 0; k < 9; ++k) bomb += ", " + p;
    bomb += "]\n";
  }
  run(bomb + "dataset_info:\n  features:\n  - name: o\n    list: *a8\n---\n");
  run("{\"features\": 1e999}");
  run("{\"info\": {\"features\": {\"c\": {\"_type\": \"Sequence\", \"length\": 1e300, "
      "\"feature\": {\"_type\": \"Value\", \"dtype\": \"int8\"}}}}}");
  run("{\"info\": {\"features\": {\"c\": {\"_type\": \"ClassLabel\", \"num_classes\": "
      "100000000000}}}}");
}

}  // namespace
