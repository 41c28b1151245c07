// Parquet decode throughput: a 1M-step CartPole-like file (fixed-size-list observations, int64
// and float scalars) and a file of variable-length list columns, both written by our writer
// (snappy, dictionary where it pays). Reports Parquet bytes/s and rows/s.
//
// Each file is also written to a temporary directory (removed at exit) and read back to check it
// holds exactly the bytes decoded from memory, so three readers see the same file:
//   BM_ParquetDecode*      ours, decoding from memory (CPU time);
//   BM_ParquetDecode*File  ours, `read_parquet(path)`: map the file, then decode (wall time);
//   BM_DuckDBDecode*       DuckDB (one thread) materializing `SELECT *` of the file, timed inside
//                          node by tests/oracle/duckdb_time.mjs (wall time, one warm-up first).
// DuckDB reads from a file, so the *File variants are the ones to hold against it; the file was
// just written, so the page cache makes it warm for both.
#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>
#include <sys/wait.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "format/arrow/builders.hpp"
#include "mouse/parquet.hpp"
#include "synthetic.hpp"

namespace {

namespace fs = std::filesystem;
namespace pq = mouse::parquet;

// Timed DuckDB runs per benchmark (under a second of DuckDB time each on a 2.6 GHz core).
constexpr int kDuckDBCartPoleReps = 15;
constexpr int kDuckDBListReps = 50;

// The directory holding the benchmark files; created on first use, removed at exit.
const fs::path& bench_dir() {
  struct Dir {
    fs::path path;
    Dir() {
      std::string tmpl = (fs::temp_directory_path() / "mouse-parquet-bench-XXXXXX").string();
      if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + tmpl);
      path = tmpl;
    }
    ~Dir() {
      std::error_code ec;
      fs::remove_all(path, ec);
    }
  };
  static Dir dir;
  return dir.path;
}

struct File {
  mouse::Buffer bytes;
  int64_t rows = 0;
  fs::path path;  // the same bytes on disk
};

// Writes `bytes` to bench_dir()/name and reads them back: the file must equal the buffer.
File save(std::vector<uint8_t> bytes, int64_t rows, const std::string& name) {
  fs::path path = bench_dir() / name;
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!out.flush()) throw std::runtime_error("cannot write " + path.string());
  }
  std::ifstream in(path, std::ios::binary);
  std::vector<char> back((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (back.size() != bytes.size() || std::memcmp(back.data(), bytes.data(), bytes.size()) != 0) {
    throw std::runtime_error(path.string() + ": bytes on disk differ from the bytes in memory");
  }
  return File{mouse::Buffer::copy_of(bytes), rows, path};
}

const char* codec_name(pq::Compression c) {
  switch (c) {
    case pq::Compression::kNone: return "none";
    case pq::Compression::kSnappy: return "snappy";
    case pq::Compression::kZstd: return "zstd";
    default: return "other";
  }
}

const File& cartpole_file(int64_t rows, pq::Compression codec) {
  static std::map<std::pair<int64_t, int>, File> made;
  auto key = std::make_pair(rows, static_cast<int>(codec));
  auto it = made.find(key);
  if (it != made.end()) return it->second;
  auto batches = mouse::bench::cartpole_batches(rows);
  pq::WriteOptions o;
  o.compression = codec;
  auto bytes = pq::write_parquet(mouse::bench::cartpole_schema(), batches, o);
  std::string name = "cartpole-" + std::to_string(rows) + "-" + codec_name(codec) + ".parquet";
  return made.emplace(key, save(std::move(bytes), rows, name)).first->second;
}

// Episodes as rows: list<float> rewards and list<int64> actions of 20..300 steps each.
const File& list_file(int64_t rows) {
  static std::map<int64_t, File> made;
  auto it = made.find(rows);
  if (it != made.end()) return it->second;
  std::mt19937_64 rng(7);
  std::vector<int64_t> offs{0};
  std::vector<float> rewards;
  std::vector<int64_t> actions;
  for (int64_t r = 0; r < rows; ++r) {
    int64_t len = 20 + static_cast<int64_t>(rng() % 281);
    for (int64_t k = 0; k < len; ++k) {
      rewards.push_back(static_cast<float>(rng() % 1000) / 100.0f);
      actions.push_back(static_cast<int64_t>(rng() % 4));
    }
    offs.push_back(static_cast<int64_t>(rewards.size()));
  }
  using namespace mouse::arrow;
  auto batch = make_batch({"rewards", "actions"},
                          {make_list(offs, make_primitive<float>(rewards)), make_list(offs, make_primitive<int64_t>(actions))});
  std::vector<RecordBatch> batches{batch};
  auto bytes = pq::write_parquet(batch.schema, batches);
  return made.emplace(rows, save(std::move(bytes), rows, "episodes-" + std::to_string(rows) + ".parquet")).first->second;
}

void set_counters(benchmark::State& state, const File& f) {
  state.SetBytesProcessed(state.iterations() * f.bytes.size());
  state.counters["rows/s"] = benchmark::Counter(static_cast<double>(state.iterations() * f.rows), benchmark::Counter::kIsRate);
  state.counters["file_MB"] = static_cast<double>(f.bytes.size()) / 1e6;
}

void run(benchmark::State& state, const File& f) {
  for (auto _ : state) {
    pq::Table t = pq::read_parquet(f.bytes, "bench.parquet");
    benchmark::DoNotOptimize(t.batches.data());
  }
  set_counters(state, f);
}

void run_file(benchmark::State& state, const File& f) {
  for (auto _ : state) {
    pq::Table t = pq::read_parquet(f.path);
    benchmark::DoNotOptimize(t.batches.data());
  }
  set_counters(state, f);
}

// --- DuckDB through the npm oracle ------------------------------------------------------------

fs::path oracle_dir() {
  if (const char* env = std::getenv("MOUSE_ORACLE_DIR"); env != nullptr && *env != '\0') return env;
  return MOUSE_ORACLE_DIR;
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

struct DuckDBTimes {
  std::vector<double> seconds;      // wall time of each run
  std::vector<double> cpu_seconds;  // CPU time of the node process during each run
  std::string error;  // empty on success
};

// Runs `node duckdb_time.mjs file reps` once and returns its per-run times.
DuckDBTimes duckdb_times(const File& f, int64_t reps) {
  DuckDBTimes r;
  const fs::path dir = oracle_dir();
  const std::string install =
      " (install it: `cd tests/oracle && npm ci --ignore-scripts`, node >= 20 on PATH; MOUSE_ORACLE_DIR "
      "overrides the directory)";
  if (std::system("node --version >/dev/null 2>&1") != 0) {
    r.error = "node not found on PATH" + install;
    return r;
  }
  const fs::path script = dir / "duckdb_time.mjs";
  if (!fs::exists(script) || !fs::exists(dir / "node_modules" / "@duckdb" / "node-api")) {
    r.error = "DuckDB oracle missing at " + dir.string() + install;
    return r;
  }
  const fs::path err_file = bench_dir() / "duckdb_time.stderr";
  std::string cmd = "node " + shell_quote(script.string()) + " " + shell_quote(f.path.string()) + " " +
                    std::to_string(reps) + " 2>" + shell_quote(err_file.string());
  std::string out;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    int st = ::pclose(p);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      std::ifstream in(err_file);
      std::string msg((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      while (!msg.empty() && std::isspace(static_cast<unsigned char>(msg.back()))) msg.pop_back();
      r.error = "duckdb_time.mjs failed: " + msg.substr(0, 500);
      return r;
    }
  } else {
    r.error = "popen failed: " + cmd;
    return r;
  }
  auto j = nlohmann::json::parse(out, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.contains("seconds") || !j.contains("rows") || !j["rows"].is_number_integer()) {
    r.error = "duckdb_time.mjs printed no result: " + out.substr(0, 200);
    return r;
  }
  if (j["rows"].get<int64_t>() != f.rows) {
    r.error = "DuckDB read " + std::to_string(j["rows"].get<int64_t>()) + " rows, expected " + std::to_string(f.rows);
    return r;
  }
  for (const auto& s : j["seconds"]) r.seconds.push_back(s.get<double>());
  for (const auto& s : j.value("cpu_seconds", nlohmann::json::array())) r.cpu_seconds.push_back(s.get<double>());
  if (static_cast<int64_t>(r.seconds.size()) != reps || r.cpu_seconds.size() != r.seconds.size()) {
    r.error = "duckdb_time.mjs reported " + std::to_string(r.seconds.size()) + " times, expected " + std::to_string(reps);
  }
  return r;
}

void run_duckdb(benchmark::State& state, const File& f) {
  DuckDBTimes t = duckdb_times(f, state.max_iterations);
  if (!t.error.empty()) {
    state.SkipWithError(t.error.c_str());
    return;
  }
  size_t i = 0;
  for (auto _ : state) state.SetIterationTime(t.seconds[i++]);
  set_counters(state, f);
  // The CPU column above is this process idling; DuckDB's own CPU time per run, for comparing
  // with our CPU time when the machine is loaded and wall times are inflated.
  double cpu = 0;
  for (double c : t.cpu_seconds) cpu += c;
  state.counters["duckdb_cpu_ms"] = 1e3 * cpu / static_cast<double>(t.cpu_seconds.size());
}

// --- Benchmarks --------------------------------------------------------------------------------

const File& cartpole_arg(const benchmark::State& state) {
  return cartpole_file(state.range(0), static_cast<pq::Compression>(state.range(1)));
}

void cartpole_args(benchmark::internal::Benchmark* b) {
  for (auto codec : {pq::Compression::kSnappy, pq::Compression::kZstd, pq::Compression::kNone}) {
    b->Args({1000000, static_cast<int>(codec)});
  }
  b->Unit(benchmark::kMillisecond);
}

void BM_ParquetDecodeCartPole(benchmark::State& state) { run(state, cartpole_arg(state)); }
BENCHMARK(BM_ParquetDecodeCartPole)->Apply(cartpole_args);

void BM_ParquetDecodeCartPoleFile(benchmark::State& state) { run_file(state, cartpole_arg(state)); }
BENCHMARK(BM_ParquetDecodeCartPoleFile)->Apply(cartpole_args)->UseRealTime();

void BM_DuckDBDecodeCartPole(benchmark::State& state) { run_duckdb(state, cartpole_arg(state)); }
BENCHMARK(BM_DuckDBDecodeCartPole)->Apply(cartpole_args)->UseManualTime()->Iterations(kDuckDBCartPoleReps);

void BM_ParquetDecodeEpisodeLists(benchmark::State& state) { run(state, list_file(state.range(0))); }
BENCHMARK(BM_ParquetDecodeEpisodeLists)->Arg(6000)->Unit(benchmark::kMillisecond);

void BM_ParquetDecodeEpisodeListsFile(benchmark::State& state) { run_file(state, list_file(state.range(0))); }
BENCHMARK(BM_ParquetDecodeEpisodeListsFile)->Arg(6000)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_DuckDBDecodeEpisodeLists(benchmark::State& state) { run_duckdb(state, list_file(state.range(0))); }
BENCHMARK(BM_DuckDBDecodeEpisodeLists)->Arg(6000)->Unit(benchmark::kMillisecond)->UseManualTime()->Iterations(kDuckDBListReps);

void BM_ParquetEncodeCartPole(benchmark::State& state) {
  auto batches = mouse::bench::cartpole_batches(state.range(0));
  int64_t out = 0;
  for (auto _ : state) {
    auto bytes = pq::write_parquet(mouse::bench::cartpole_schema(), batches);
    out = static_cast<int64_t>(bytes.size());
    benchmark::DoNotOptimize(bytes.data());
  }
  state.SetBytesProcessed(state.iterations() * out);
  state.counters["rows/s"] = benchmark::Counter(static_cast<double>(state.iterations() * state.range(0)), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ParquetEncodeCartPole)->Arg(1000000)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
