// S3 against a real SeaweedFS gateway on 127.0.0.1 (started once per test binary).
#include <gtest/gtest.h>

#include <atomic>

#include <fmt/format.h>

#include "mouse/error.hpp"
#include "mouse/remote.hpp"
#include "remote/s3.hpp"
#include "remote/server_util.hpp"

namespace mouse::remote {
namespace {

using detail::S3Root;
using test::ScopedEnv;

class S3Test : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    server_ = test::weed_server(error);
    ASSERT_NE(server_, nullptr) << error;
    env_.set("AWS_ACCESS_KEY_ID", server_->access_key);
    env_.set("AWS_SECRET_ACCESS_KEY", server_->secret_key);
    options_.endpoint_url = server_->endpoint;
    // The gateway may still be warming up on the first test: ride that out.
    options_.retry.initial_backoff_s = 0.1;
    options_.retry.max_backoff_s = 1;
    options_.retry.max_attempts = 60;  // ctest -j starts one server per test process
    options_.retry.max_total_s = 40;
    // One bucket (each bucket costs the server volumes), one folder of it per test.
    static bool created = false;
    if (!created) {
      open("s3://mouse-test")->create_bucket();
      created = true;
    }
    static std::atomic<int> counter{0};
    bucket_ = fmt::format("mouse-test/t{}", counter.fetch_add(1));
  }

  std::shared_ptr<S3Root> open(const std::string& url) const {
    return std::dynamic_pointer_cast<S3Root>(RemoteRoot::open(url, options_));
  }

  ScopedEnv env_;
  const test::WeedServer* server_ = nullptr;
  std::string bucket_;
  RemoteOptions options_;
};

TEST_F(S3Test, ListsEveryPageRelativeToThePrefix) {
  const auto root = open(fmt::format("s3://{}/data", bucket_));
  for (int i = 0; i < 7; ++i) root->put_object(fmt::format("part {}/f{}.bin", i % 2, i), std::string(i, 'x'));
  open("s3://" + bucket_)->put_object("outside.txt", "no");
  open("s3://mouse-test")->put_object("t-other", "no");
  root->set_page_size(2);
  const auto objects = root->list();
  ASSERT_EQ(objects.size(), 7u);
  EXPECT_EQ(objects[0].path, "part 0/f0.bin");
  EXPECT_EQ(objects[0].size, 0);
  EXPECT_EQ(objects[6].path, "part 1/f5.bin");
  EXPECT_EQ(objects[6].size, 5);
  EXPECT_EQ(objects[6].version.front(), '"');  // the ETag, quotes kept
  EXPECT_GE(root->stats().requests, 4);        // 7 objects in pages of 2
  EXPECT_EQ(open("s3://" + bucket_)->list().size(), 8u);
}

TEST_F(S3Test, StatTailRangeAndReadIfExists) {
  const auto root = open(fmt::format("s3://{}/p", bucket_));
  std::string bytes;
  for (int i = 0; i < 1000; ++i) bytes += static_cast<char>(i * 7);
  root->put_object("dir/obj+1.bin", bytes);
  const ObjectInfo info = root->stat("dir/obj+1.bin");
  EXPECT_EQ(info.size, 1000);
  EXPECT_FALSE(info.version.empty());
  const Tail tail = root->read_tail("dir/obj+1.bin", 8);
  EXPECT_EQ(tail.size, 1000);
  EXPECT_EQ(tail.bytes, bytes.substr(992));
  EXPECT_EQ(tail.etag, info.version);
  EXPECT_EQ(root->read_tail("dir/obj+1.bin", 5000).bytes, bytes);
  EXPECT_EQ(root->read_range(info, 100, 50), bytes.substr(100, 50));
  EXPECT_EQ(root->read_if_exists("dir/obj+1.bin"), bytes);
  EXPECT_EQ(root->read_if_exists("dir/missing"), std::nullopt);
  try {
    root->stat("dir/missing");
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("not found"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("/p/dir/missing"), std::string::npos) << e.what();
  }
}

TEST_F(S3Test, ChangedObjectFailsIfMatch) {
  const auto root = open("s3://" + bucket_);
  root->put_object("shard.bin", std::string(100, 'a'));
  const ObjectInfo listed = root->list().at(0);
  root->put_object("shard.bin", std::string(100, 'b'));
  try {
    root->read_range(listed, 0, 10);
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("changed since it was listed"), std::string::npos) << what;
    EXPECT_NE(what.find("bytes=0-9"), std::string::npos) << what;
    EXPECT_NE(what.find("412"), std::string::npos) << what;
  }
  test::TempDir dir;
  EXPECT_THROW(root->download(listed, dir.path() / "shard.bin"), IoError);
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));  // no file, no temporary
}

TEST_F(S3Test, DownloadWritesTheWholeObjectAndReportsProgress) {
  const auto root = open("s3://" + bucket_);
  const std::string bytes(300000, 'z');
  root->put_object("big.bin", bytes);
  const ObjectInfo info = root->list().at(0);
  test::TempDir dir;
  int64_t last = 0;
  root->download(info, dir.path() / "big.bin", [&](int64_t n) { last = n; });
  EXPECT_EQ(last, 300000);
  EXPECT_EQ(test::read_file(dir.path() / "big.bin"), bytes);
  // A size that disagrees with the object: FormatError, nothing left behind.
  ObjectInfo wrong = info;
  wrong.size = 1000;
  EXPECT_THROW(root->download(wrong, dir.path() / "short.bin"), FormatError);
  wrong.size = 400000;
  EXPECT_THROW(root->download(wrong, dir.path() / "long.bin"), FormatError);
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()),
                          std::filesystem::directory_iterator()), 1);
}

TEST_F(S3Test, CredentialsFromAProfileOfTheSharedFile) {
  test::TempDir dir;
  test::write_file(dir.path() / "credentials",
                   fmt::format("[default]\naws_access_key_id = nobody\naws_secret_access_key = x\n"
                               "[seaweed]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
                               server_->access_key, server_->secret_key));
  ::unsetenv("AWS_ACCESS_KEY_ID");
  ::unsetenv("AWS_SECRET_ACCESS_KEY");
  env_.set("AWS_SHARED_CREDENTIALS_FILE", (dir.path() / "credentials").string());
  env_.set("AWS_PROFILE", "seaweed");
  const auto root = open("s3://" + bucket_);
  root->put_object("a.txt", "profile");
  EXPECT_EQ(root->read_if_exists("a.txt"), "profile");
}

TEST_F(S3Test, WrongSecretIs403AtOnceAndNeverLeaksTheSecret) {
  const std::string wrong_secret = "wrong-secret-DO-NOT-LEAK";
  env_.set("AWS_SECRET_ACCESS_KEY", wrong_secret);
  const auto root = open("s3://" + bucket_);
  EXPECT_EQ(root->display_url().find(wrong_secret), std::string::npos);
  try {
    root->list();
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("403"), std::string::npos) << what;
    EXPECT_NE(what.find("after 1 attempt "), std::string::npos) << what;
    EXPECT_NE(what.find(server_->endpoint), std::string::npos) << what;
    EXPECT_EQ(what.find(wrong_secret), std::string::npos) << what;
    EXPECT_EQ(what.find(server_->secret_key), std::string::npos) << what;
  }
  EXPECT_EQ(root->stats().retries, 0);
}

TEST_F(S3Test, MissingBucketIsNotFound) {
  const auto root = open("s3://no-such-bucket-here/x");
  try {
    root->list();
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("no-such-bucket-here"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mouse::remote
