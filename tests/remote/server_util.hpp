// Real servers for the remote tests, on 127.0.0.1 only: SeaweedFS's S3 gateway and nginx, each
// started as a child process in its own process group and killed with it.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mouse::remote::test {

/// A port on 127.0.0.1 that was free a moment ago.
int free_port();

/// A fresh directory under the system temp dir, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  std::filesystem::path path_;
};

/// Writes `bytes` to `path`, creating its directories.
void write_file(const std::filesystem::path& path, const std::string& bytes);
/// The whole file.
std::string read_file(const std::filesystem::path& path);

/// A child process in its own process group (killed with the group on stop or destruction, and
/// by the kernel if the test binary dies).
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, const std::filesystem::path& log);
  ~ChildProcess() { stop(); }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  /// SIGTERM to the group, SIGKILL after 5 s, then reaps it.
  void stop();
  bool running() const noexcept { return pid_ > 0; }

 private:
  pid_t pid_ = -1;
};

/// Waits until 127.0.0.1:`port` accepts connections; false after `timeout_s`.
bool wait_for_port(int port, double timeout_s);

/// SeaweedFS with its S3 gateway, one per test binary (started on first use).
struct WeedServer {
  std::string endpoint;  ///< http://127.0.0.1:<port>
  std::string access_key = "mouse-test-key";
  std::string secret_key = "mouse-test-secret-DO-NOT-LEAK";
};
/// The running server, or nullptr with `error` saying why (weed not found, did not start).
const WeedServer* weed_server(std::string& error);

/// nginx serving `root()` on 127.0.0.1:port() with the test locations (see server_util.cpp).
class NginxServer {
 public:
  NginxServer();
  ~NginxServer();
  int port() const noexcept { return port_; }
  std::string url() const;  ///< http://127.0.0.1:<port>
  std::filesystem::path root() const { return dir_.path() / "www"; }
  /// Kills it (connections drop) / starts it again on the same port.
  void stop();
  void start();

 private:
  TempDir dir_;
  int port_ = 0;
  std::optional<ChildProcess> process_;
};

/// Sets environment variables for a test and restores them afterwards. Clears every variable
/// the remote layer reads and points HOME at an empty directory, so the machine's own
/// ~/.aws and ~/.cache/huggingface never leak into a test.
class ScopedEnv {
 public:
  ScopedEnv();
  ~ScopedEnv();
  void set(const std::string& name, const std::string& value);

 private:
  std::map<std::string, std::optional<std::string>> saved_;
  TempDir home_;
};

}  // namespace mouse::remote::test
