// s3://bucket[/prefix] roots: SigV4-signed requests (libcurl's CURLOPT_AWS_SIGV4) against AWS or
// an S3-compatible endpoint, listing with ListObjectsV2.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "remote/object_root.hpp"
#include "remote/s3_credentials.hpp"

namespace mouse::remote::detail {

/// The parts of an s3:// URL.
struct S3Location {
  std::string bucket;
  std::string prefix;      ///< without leading or trailing '/'
  std::string normalised;  ///< s3://bucket[/prefix]
};

/// Parses s3://bucket[/prefix]; InvalidArgument naming the URL.
S3Location parse_s3_url(std::string_view url);

/// A bucket prefix. Thread-safe.
class S3Root final : public ObjectRoot {
 public:
  /// Parses `url` (s3://bucket[/prefix]) and resolves credentials, region and endpoint.
  /// InvalidArgument naming the URL when it is malformed.
  S3Root(std::string_view url, const RemoteOptions& options);

  std::string_view scheme() const noexcept override { return "s3"; }
  std::string object_url(std::string_view path) const override;
  bool listable() const noexcept override { return true; }
  std::vector<ObjectInfo> list() const override;

  /// Objects per ListObjectsV2 page (S3's default and maximum is 1000); tests set it small to
  /// exercise continuation.
  void set_page_size(int max_keys) noexcept { page_size_ = max_keys; }
  /// Creates the bucket (a signed PUT; setting up test buckets). IoError as any request.
  void create_bucket() const;
  /// Writes `bytes` to the object at `path` (a signed PUT; setting up tests). IoError as any
  /// request.
  void put_object(std::string_view path, std::string_view bytes) const;

 protected:
  void authorize(HttpRequest& request) const override;

 private:
  S3Root(S3Location location, const RemoteOptions& options);

  std::string bucket_;
  std::string prefix_;  ///< without leading or trailing '/'
  S3Credentials credentials_;
  std::string bucket_url_;  ///< endpoint + bucket, no trailing '/'
  bool virtual_hosted_ = false;  ///< AWS's own endpoint: bucket in the host name
  int page_size_ = 0;            ///< 0: the service's default
};

}  // namespace mouse::remote::detail
