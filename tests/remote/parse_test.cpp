// URL parsing, the listing XML and the credential chain: no server needed.
#include <gtest/gtest.h>

#include "mouse/error.hpp"
#include "mouse/remote.hpp"
#include "remote/object_root.hpp"
#include "remote/s3_credentials.hpp"
#include "remote/server_util.hpp"
#include "remote/xml.hpp"

namespace mouse::remote {
namespace {

using test::ScopedEnv;

template <typename E, typename F>
void expect_throw_with(F&& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "expected an exception containing \"" << needle << "\"";
  } catch (const E& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(RemoteUrl, RecognisesTheFourSchemes) {
  EXPECT_TRUE(is_remote_url("s3://bucket/x"));
  EXPECT_TRUE(is_remote_url("hf://datasets/org/name"));
  EXPECT_TRUE(is_remote_url("http://host/dir"));
  EXPECT_TRUE(is_remote_url("HTTPS://host/dir"));
  EXPECT_FALSE(is_remote_url("/local/path"));
  EXPECT_FALSE(is_remote_url("gs://bucket"));
  EXPECT_FALSE(is_remote_url("s3:/bucket"));
}

TEST(RemoteUrl, NormalisesS3AndBuildsPathStyleObjectUrls) {
  ScopedEnv env;
  RemoteOptions options;
  options.endpoint_url = "http://127.0.0.1:9/";
  const auto root = RemoteRoot::open("s3://bucket/some/prefix/", options);
  EXPECT_EQ(root->display_url(), "s3://bucket/some/prefix");
  EXPECT_EQ(root->scheme(), "s3");
  EXPECT_TRUE(root->listable());
  EXPECT_EQ(root->object_url("a b/c+d.parquet"),
            "http://127.0.0.1:9/bucket/some/prefix/a%20b/c%2Bd.parquet");
}

TEST(RemoteUrl, S3EndpointChainAndAwsDefault) {
  ScopedEnv env;
  env.set("AWS_REGION", "eu-west-3");
  EXPECT_EQ(RemoteRoot::open("s3://bkt")->object_url("x"),
            "https://bkt.s3.eu-west-3.amazonaws.com/x");
  env.set("AWS_ENDPOINT_URL", "http://generic:1");
  EXPECT_EQ(RemoteRoot::open("s3://bkt")->object_url("x"), "http://generic:1/bkt/x");
  env.set("AWS_ENDPOINT_URL_S3", "http://s3specific:2");
  EXPECT_EQ(RemoteRoot::open("s3://bkt")->object_url("x"), "http://s3specific:2/bkt/x");
  RemoteOptions options;
  options.endpoint_url = "http://option:3";
  EXPECT_EQ(RemoteRoot::open("s3://bkt", options)->object_url("x"), "http://option:3/bkt/x");
}

TEST(RemoteUrl, HubUrlsWithRevisionAndSubpath) {
  ScopedEnv env;
  env.set("HF_ENDPOINT", "http://hub.local:8/");
  const auto root = RemoteRoot::open("hf://datasets/org/name@refs%2Fconvert%2Fparquet/default/");
  EXPECT_EQ(root->display_url(), "hf://datasets/org/name@refs%2Fconvert%2Fparquet/default");
  EXPECT_EQ(root->scheme(), "hf");
  EXPECT_EQ(root->object_url("train/0.parquet"),
            "http://hub.local:8/datasets/org/name/resolve/refs%2Fconvert%2Fparquet/default/train/"
            "0.parquet");
  EXPECT_EQ(RemoteRoot::open("hf://datasets/org/name")->object_url("README.md"),
            "http://hub.local:8/datasets/org/name/resolve/main/README.md");
}

TEST(RemoteUrl, HttpDirectoryIsNotListable) {
  const auto root = RemoteRoot::open("http://127.0.0.1:9/data");
  EXPECT_EQ(root->display_url(), "http://127.0.0.1:9/data/");
  EXPECT_EQ(root->scheme(), "http");
  EXPECT_FALSE(root->listable());
  EXPECT_EQ(root->object_url("x y.txt"), "http://127.0.0.1:9/data/x%20y.txt");
  expect_throw_with<InvalidArgument>([&] { root->list(); }, "cannot be listed");
}

TEST(RemoteUrl, BadUrlsAreInvalidArgumentsNamingTheUrl) {
  ScopedEnv env;
  expect_throw_with<InvalidArgument>([] { RemoteRoot::open("ftp://x/y"); }, "ftp://x/y: not a remote URL");
  expect_throw_with<InvalidArgument>([] { RemoteRoot::open("s3://"); }, "s3://: expected s3://bucket");
  expect_throw_with<InvalidArgument>([] { RemoteRoot::open("s3:///prefix"); }, "the bucket is empty");
  expect_throw_with<InvalidArgument>([] { RemoteRoot::open("s3://bu?cket/x"); }, "bucket name");
  expect_throw_with<InvalidArgument>([] { RemoteRoot::open("hf://models/org/name"); },
                                     "only dataset repositories");
  expect_throw_with<InvalidArgument>([] { RemoteRoot::open("hf://datasets/org"); },
                                     "the organisation is missing");
  expect_throw_with<InvalidArgument>([] { RemoteRoot::open("hf://datasets/org/"); },
                                     "the dataset name is missing");
  expect_throw_with<InvalidArgument>([] { RemoteRoot::open("hf://datasets/org/name@"); },
                                     "revision after '@' is empty");
  expect_throw_with<InvalidArgument>([] { RemoteRoot::open("http:///x"); }, "host is missing");
  expect_throw_with<InvalidArgument>([] { RemoteRoot::open("http://h/x?y=1"); }, "query");
  RemoteOptions options;
  options.retry.max_attempts = 0;
  expect_throw_with<InvalidArgument>([&] { RemoteRoot::open("http://h/x", options); }, "max_attempts");
}

TEST(RemoteUrl, UserInformationIsRefusedWithoutEchoingIt) {
  try {
    RemoteRoot::open("https://user:hunter2@host/dir");
    FAIL() << "expected InvalidArgument";
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(std::string(e.what()).find("hunter2"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("https://host"), std::string::npos) << e.what();
  }
}

TEST(RemoteUrl, BadObjectPaths) {
  const auto root = RemoteRoot::open("http://127.0.0.1:9/data");
  expect_throw_with<InvalidArgument>([&] { root->stat(""); }, "is empty");
  expect_throw_with<InvalidArgument>([&] { root->stat("/abs"); }, "must be relative");
  expect_throw_with<InvalidArgument>([&] { root->stat("a/../b"); }, "'..'");
  expect_throw_with<InvalidArgument>([&] { root->read_tail("a", 0); }, "length > 0");
  expect_throw_with<InvalidArgument>([&] { root->read_range({"a", 10, ""}, 8, 4); },
                                     "range [8, 12) is not inside");
}

TEST(ListObjectsXml, ParsesEntriesEntitiesAndContinuation) {
  const std::string xml =
      R"(<?xml version="1.0"?><ListBucketResult><Name>b</Name><IsTruncated>true</IsTruncated>)"
      R"(<Contents><Key>a&amp;b/c&#x20;d</Key><ETag>&#34;abc&quot;</ETag><Size>12</Size></Contents>)"
      R"(<Contents><Key>e</Key><Size>0</Size></Contents>)"
      R"(<NextContinuationToken>tok/+=</NextContinuationToken></ListBucketResult>)";
  const auto page = detail::parse_list_objects_v2(xml, "http://x/b?list-type=2");
  ASSERT_EQ(page.objects.size(), 2u);
  EXPECT_EQ(page.objects[0].key, "a&b/c d");
  EXPECT_EQ(page.objects[0].etag, "\"abc\"");
  EXPECT_EQ(page.objects[0].size, 12);
  EXPECT_EQ(page.objects[1].key, "e");
  EXPECT_TRUE(page.truncated);
  EXPECT_EQ(page.next_token, "tok/+=");
}

TEST(ListObjectsXml, MalformedListingsAreFormatErrorsNamingTheUrl) {
  const std::string url = "http://x/b?list-type=2";
  auto bad = [&](const std::string& xml, const std::string& needle) {
    try {
      detail::parse_list_objects_v2(xml, url);
      ADD_FAILURE() << "accepted: " << xml;
    } catch (const FormatError& e) {
      EXPECT_EQ(e.source(), url);
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  bad("<html>oops</html>", "ListBucketResult");
  bad("<ListBucketResult><IsTruncated>false</IsTruncated>", "without </ListBucketResult>");
  bad("<ListBucketResult><Contents><Key>a</Key></Contents><IsTruncated>false</IsTruncated>"
      "</ListBucketResult>", "without <Size>");
  bad("<ListBucketResult><Contents><Key>a</Key><Size>-3</Size></Contents>"
      "<IsTruncated>false</IsTruncated></ListBucketResult>", "non-negative integer");
  bad("<ListBucketResult><Contents><Key>a&bogus;</Key><Size>1</Size></Contents>"
      "<IsTruncated>false</IsTruncated></ListBucketResult>", "entity");
  bad("<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>",
      "NextContinuationToken");
  bad("<ListBucketResult><IsTruncated>maybe</IsTruncated></ListBucketResult>", "true or false");
  bad("<ListBucketResult></ListBucketResult>", "no <IsTruncated>");
}

TEST(ContentRange, ParsesAndRejects) {
  detail::ContentRange r;
  ASSERT_TRUE(detail::parse_content_range("bytes 10-19/100", r));
  EXPECT_EQ(r.first, 10);
  EXPECT_EQ(r.last, 19);
  EXPECT_EQ(r.total, 100);
  ASSERT_TRUE(detail::parse_content_range("bytes */0", r));
  EXPECT_EQ(r.total, 0);
  EXPECT_FALSE(detail::parse_content_range("bytes 19-10/100", r));
  EXPECT_FALSE(detail::parse_content_range("bytes 10-100/100", r));
  EXPECT_FALSE(detail::parse_content_range("items 1-2/3", r));
}

TEST(S3Credentials, EnvironmentThenProfileThenRegionChain) {
  ScopedEnv env;
  test::TempDir dir;
  test::write_file(dir.path() / "credentials",
                   "[default]\naws_access_key_id = DEFAULTKEY\naws_secret_access_key = defsecret\n"
                   "[work]\naws_access_key_id=WORKKEY\naws_secret_access_key=worksecret\n"
                   "aws_session_token = worktoken\n");
  test::write_file(dir.path() / "config", "[default]\nregion = eu-north-1\n"
                                          "[profile work]\nregion = ap-south-1\n");
  env.set("AWS_SHARED_CREDENTIALS_FILE", (dir.path() / "credentials").string());
  env.set("AWS_CONFIG_FILE", (dir.path() / "config").string());
  auto c = detail::resolve_s3_credentials();
  EXPECT_EQ(c.access_key, "DEFAULTKEY");
  EXPECT_EQ(c.region, "eu-north-1");
  env.set("AWS_PROFILE", "work");
  c = detail::resolve_s3_credentials();
  EXPECT_EQ(c.access_key, "WORKKEY");
  EXPECT_EQ(c.secret_key, "worksecret");
  EXPECT_EQ(c.session_token, "worktoken");
  EXPECT_EQ(c.region, "ap-south-1");
  env.set("AWS_DEFAULT_REGION", "us-west-1");
  EXPECT_EQ(detail::resolve_s3_credentials().region, "us-west-1");
  env.set("AWS_REGION", "us-west-2");
  EXPECT_EQ(detail::resolve_s3_credentials().region, "us-west-2");
  env.set("AWS_ACCESS_KEY_ID", "ENVKEY");
  env.set("AWS_SECRET_ACCESS_KEY", "envsecret");
  c = detail::resolve_s3_credentials();
  EXPECT_EQ(c.access_key, "ENVKEY");
  EXPECT_EQ(c.session_token, "");
  env.set("AWS_PROFILE", "missing");
  expect_throw_with<InvalidArgument>([] { detail::resolve_s3_credentials(); },
                                     "the profile \"missing\"");
}

TEST(S3Credentials, NoCredentialsMeansAnonymousInUsEast1) {
  ScopedEnv env;
  const auto c = detail::resolve_s3_credentials();
  EXPECT_EQ(c.access_key, "");
  EXPECT_EQ(c.region, "us-east-1");
}

}  // namespace
}  // namespace mouse::remote
