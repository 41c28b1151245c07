// Plain HTTP and Hub roots against a real nginx on 127.0.0.1; retries against 503 and outages.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <unistd.h>

#include <filesystem>

#include <fmt/format.h>

#include "mouse/error.hpp"
#include "mouse/remote.hpp"
#include "remote/server_util.hpp"

namespace mouse::remote {
namespace {

using test::ScopedEnv;

RemoteOptions short_policy(int attempts) {
  RemoteOptions options;
  options.retry.max_attempts = attempts;
  options.retry.initial_backoff_s = 0.05;
  options.retry.max_backoff_s = 0.2;
  options.retry.max_total_s = 10;
  options.retry.connect_timeout_s = 2;
  options.retry.stall_timeout_s = 2;
  return options;
}

TEST(HttpRoot, ReadsStatsAndDownloadsFromNginx) {
  test::NginxServer nginx;
  std::string bytes;
  for (int i = 0; i < 5000; ++i) bytes += static_cast<char>(i % 251);
  test::write_file(nginx.root() / "data/x y.bin", bytes);
  const auto root = RemoteRoot::open(nginx.url() + "/data");
  const ObjectInfo info = root->stat("x y.bin");
  EXPECT_EQ(info.size, 5000);
  EXPECT_FALSE(info.version.empty());
  const Tail tail = root->read_tail("x y.bin", 10);
  EXPECT_EQ(tail.size, 5000);
  EXPECT_EQ(tail.bytes, bytes.substr(4990));
  EXPECT_EQ(root->read_range(info, 7, 3), bytes.substr(7, 3));
  EXPECT_EQ(root->read_if_exists("missing.md"), std::nullopt);
  test::TempDir dir;
  root->download({"x y.bin", -1, ""}, dir.path() / "out.bin");
  EXPECT_EQ(test::read_file(dir.path() / "out.bin"), bytes);
  EXPECT_GT(root->stats().bytes, 5000);
}

TEST(HttpRoot, Retries503ThenNamesUrlRangeAndAttempts) {
  test::NginxServer nginx;
  const auto root = RemoteRoot::open(nginx.url() + "/fail503", short_policy(3));
  try {
    root->read_range({"a.bin", 100, ""}, 10, 20);
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(fmt::format("GET {}/fail503/a.bin bytes=10-29: HTTP 503", nginx.url())),
              std::string::npos) << what;
    EXPECT_NE(what.find("after 3 attempts"), std::string::npos) << what;
  }
  EXPECT_EQ(root->stats().retries, 2);
  const auto forbidden = RemoteRoot::open(nginx.url() + "/forbidden", short_policy(5));
  EXPECT_THROW(forbidden->stat("a"), IoError);
  EXPECT_EQ(forbidden->stats().requests, 1);  // a 403 is final
}

TEST(HttpRoot, ConnectionRefusedIsRetriedWithinTheTotalTime) {
  const int port = test::free_port();
  RemoteOptions options = short_policy(1000);
  options.retry.max_total_s = 0.5;
  const auto root = RemoteRoot::open(fmt::format("http://127.0.0.1:{}/d", port), options);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(root->stat("a"), IoError);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  EXPECT_GT(root->stats().retries, 1);
}

TEST(HttpRoot, CancelEndsARequestWaitingOutRetriesAndEveryLaterOne) {
  const int port = test::free_port();
  RemoteOptions options = short_policy(1000);
  options.retry.initial_backoff_s = 2;  // each wait far longer than the test allows
  options.retry.max_backoff_s = 2;
  options.retry.max_total_s = 600;
  const auto root = RemoteRoot::open(fmt::format("http://127.0.0.1:{}/d", port), options);
  std::string message;
  std::thread reader([&] {
    try {
      root->stat("a");
    } catch (const IoError& e) {
      message = e.what();
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const auto start = std::chrono::steady_clock::now();
  root->cancel();
  reader.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  EXPECT_NE(message.find("cancelled"), std::string::npos) << message;
  EXPECT_NE(message.find(fmt::format("127.0.0.1:{}/d/a", port)), std::string::npos) << message;
  try {
    root->read_tail("b", 4);
    ADD_FAILURE() << "a cancelled root still sent a request";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("cancelled"), std::string::npos) << e.what();
  }
}

TEST(HttpRoot, CancelAbortsATransferInFlight) {
  test::NginxServer nginx;
  // Large enough that the transfer is still running when cancel() comes.
  std::string bytes(std::size_t{32} << 20, 'x');
  test::write_file(nginx.root() / "big.bin", bytes);
  bytes.clear();
  bytes.shrink_to_fit();
  const auto root = RemoteRoot::open(nginx.url(), short_policy(3));
  const ObjectInfo info = root->stat("big.bin");
  const std::filesystem::path dest =
      std::filesystem::temp_directory_path() / fmt::format("mouse-cancel-{}.bin", ::getpid());
  std::atomic<int64_t> seen{0};
  std::string message;
  std::thread reader([&] {
    try {
      root->download(info, dest, [&](int64_t n) {
        seen = n;
        if (n > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));  // a slow reader
      });
    } catch (const IoError& e) {
      message = e.what();
    }
  });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (seen == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  root->cancel();
  reader.join();
  EXPECT_NE(message.find("cancelled"), std::string::npos) << message;
  EXPECT_FALSE(std::filesystem::exists(dest));
  for (const auto& entry : std::filesystem::directory_iterator(dest.parent_path())) {
    EXPECT_EQ(entry.path().filename().string().rfind(dest.filename().string() + ".part", 0),
              std::string::npos)
        << "left a partial file: " << entry.path();
  }
}

TEST(HttpRoot, DownloadResumesAcrossAServerRestart) {
  test::NginxServer nginx;
  std::string bytes(600 * 1024, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 31 % 256);
  test::write_file(nginx.root() / "slow/big.bin", bytes);
  RemoteOptions options = short_policy(50);
  options.retry.max_total_s = 30;
  const auto root = RemoteRoot::open(nginx.url() + "/slow", options);
  const ObjectInfo info = root->stat("big.bin");
  std::atomic<bool> done{false};
  std::thread outage([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    nginx.stop();
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    nginx.start();
    // The restarted nginx dies with the thread that forked it (PR_SET_PDEATHSIG): stay alive.
    while (!done) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  });
  test::TempDir dir;
  std::string error;
  try {
    root->download(info, dir.path() / "big.bin");
  } catch (const std::exception& e) {
    error = e.what();
  }
  done = true;
  outage.join();
  ASSERT_EQ(error, "");
  EXPECT_EQ(test::read_file(dir.path() / "big.bin"), bytes);
  EXPECT_GT(root->stats().retries, 0);
}

TEST(HubRoot, ListsTreePagesResolvesAndSendsTheToken) {
  test::NginxServer nginx;
  ScopedEnv env;
  env.set("HF_ENDPOINT", nginx.url());
  const auto www = nginx.root();
  test::write_file(www / "api/datasets/org/name/tree/main",
                   R"([{"type":"directory","path":"data","oid":"d"},)"
                   R"({"type":"file","path":"data/train.parquet","size":4,"oid":"git1",)"
                   R"("lfs":{"oid":"sha256abc","size":4}}])");
  test::write_file(www / "api/datasets/org/name/tree/main-page2",
                   R"([{"type":"file","path":"README.md","size":5,"oid":"git2"}])");
  test::write_file(www / "datasets/org/name/resolve/main/data/train.parquet", "PAR1");
  test::write_file(www / "datasets/org/name/resolve/main/README.md", "hello");
  const auto root = RemoteRoot::open("hf://datasets/org/name");
  const auto objects = root->list();
  ASSERT_EQ(objects.size(), 2u);
  EXPECT_EQ(objects[0].path, "README.md");
  EXPECT_EQ(objects[0].version, "git2");
  EXPECT_EQ(objects[1].path, "data/train.parquet");
  EXPECT_EQ(objects[1].version, "sha256abc");
  EXPECT_EQ(root->read_if_exists("README.md"), "hello");
  EXPECT_EQ(root->read_range(objects[1], 0, 4), "PAR1");  // no If-Match with a Hub version

  // A private repository: 401 without the token, readable with it; the token never leaks.
  const std::string token = "hf_test_token_DO_NOT_LEAK";
  test::write_file(www / "api/datasets/org/private/tree/main", "[]");
  test::write_file(www / "datasets/org/private/resolve/main/a.txt", "secret data");
  const auto anonymous = RemoteRoot::open("hf://datasets/org/private");
  EXPECT_THROW(anonymous->read_if_exists("a.txt"), IoError);
  test::TempDir dir;
  test::write_file(dir.path() / "token", token + "\n");
  env.set("HF_TOKEN_PATH", (dir.path() / "token").string());
  const auto authed = RemoteRoot::open("hf://datasets/org/private");
  EXPECT_EQ(authed->read_if_exists("a.txt"), "secret data");
  EXPECT_TRUE(authed->list().empty());
  EXPECT_EQ(authed->display_url().find(token), std::string::npos);
  try {
    authed->stat("missing.txt");
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_EQ(std::string(e.what()).find(token), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("not found"), std::string::npos) << e.what();
  }
}

TEST(HubRoot, MalformedTreeIsAFormatErrorNamingTheUrl) {
  test::NginxServer nginx;
  ScopedEnv env;
  env.set("HF_ENDPOINT", nginx.url());
  test::write_file(nginx.root() / "api/datasets/org/bad/tree/main", R"({"not":"a list"})");
  try {
    RemoteRoot::open("hf://datasets/org/bad")->list();
    FAIL() << "expected FormatError";
  } catch (const FormatError& e) {
    EXPECT_NE(e.source().find("/api/datasets/org/bad/tree/main"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mouse::remote
