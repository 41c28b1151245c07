// Shared helpers for the test binaries: corpus location, temp dirs, running the npm oracles.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

namespace mouse::test {

/// ../shared/testdata (MOUSE_TESTDATA_DIR at configure time).
inline std::filesystem::path testdata_dir() { return MOUSE_TESTDATA_DIR; }

/// Repository root.
inline std::filesystem::path source_dir() { return MOUSE_SOURCE_DIR; }

/// A fresh directory removed when the object dies.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "mouse-test-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

/// Sets (or with nullptr unsets) an environment variable for the scope of a test.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

/// Result of running a command: exit status and standard output.
struct CommandResult {
  int status = -1;
  std::string out;
};

/// Runs `command` through the shell, capturing stdout (stderr passes through).
inline CommandResult run_command(const std::string& command) {
  CommandResult r;
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) return r;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

/// Directory of the npm oracles (tests/oracle with node_modules installed by `npm ci`).
inline std::filesystem::path oracle_dir() { return source_dir() / "tests" / "oracle"; }

/// True when node and the oracle's node_modules are present.
inline bool oracle_available() {
  return std::filesystem::exists(oracle_dir() / "node_modules" / "apache-arrow") &&
         run_command("node --version >/dev/null 2>&1").status == 0;
}

}  // namespace mouse::test

/// Skips (loudly) a test whose corpus directory is missing.
#define MOUSE_REQUIRE_TESTDATA()                                                         \
  do {                                                                                   \
    if (!std::filesystem::exists(::mouse::test::testdata_dir())) {                      \
      GTEST_SKIP() << "SKIPPED: corpus missing at " << ::mouse::test::testdata_dir()      \
                   << " (set MOUSE_TESTDATA_DIR)";                                       \
    }                                                                                    \
  } while (0)

/// Skips (loudly) a test that needs the npm oracles when they are not installed.
#define MOUSE_REQUIRE_ORACLE()                                                            \
  do {                                                                                    \
    if (!::mouse::test::oracle_available()) {                                             \
      GTEST_SKIP() << "SKIPPED: npm oracle missing; run `npm ci` in tests/oracle";       \
    }                                                                                     \
  } while (0)
