#include "remote/s3.hpp"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "mouse/error.hpp"
#include "remote/url.hpp"
#include "remote/xml.hpp"

namespace mouse::remote::detail {
S3Location parse_s3_url(std::string_view url) {
  std::string_view rest = url.substr(5);  // after "s3://"
  const size_t slash = rest.find('/');
  S3Location out;
  std::string& bucket = out.bucket;
  std::string& prefix = out.prefix;
  bucket = std::string(rest.substr(0, slash));
  prefix = slash == std::string_view::npos ? "" : std::string(trim_slashes(rest.substr(slash)));
  if (bucket.empty()) {
    throw InvalidArgument(fmt::format("{}: expected s3://bucket[/prefix], the bucket is empty", url));
  }
  // Bucket names are 3-63 of [a-z0-9.-]; be lenient on length and case for S3-compatible stores
  // but refuse what would change the URL's meaning.
  const bool bad = std::any_of(bucket.begin(), bucket.end(), [](char c) {
    return !(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_');
  });
  if (bad) {
    throw InvalidArgument(
        fmt::format("{}: the bucket name \"{}\" may hold only letters, digits, '-', '.' and '_'",
                    url, bucket));
  }
  if (!prefix.empty()) check_object_path(prefix, std::string(url));
  out.normalised = prefix.empty() ? fmt::format("s3://{}", bucket)
                                  : fmt::format("s3://{}/{}", bucket, prefix);
  return out;
}

S3Root::S3Root(std::string_view url, const RemoteOptions& options)
    : S3Root(parse_s3_url(url), options) {}

S3Root::S3Root(S3Location location, const RemoteOptions& options)
    : ObjectRoot(location.normalised, options),
      bucket_(std::move(location.bucket)),
      prefix_(std::move(location.prefix)),
      credentials_(resolve_s3_credentials()) {
  const std::string endpoint = resolve_s3_endpoint(options.endpoint_url);
  if (endpoint.empty()) {
    // AWS itself: virtual-hosted style.
    bucket_url_ = fmt::format("https://{}.s3.{}.amazonaws.com", bucket_, credentials_.region);
    virtual_hosted_ = true;
  } else {
    if (!endpoint.starts_with("http://") && !endpoint.starts_with("https://")) {
      throw InvalidArgument(fmt::format(
          "{}: the S3 endpoint \"{}\" must start with http:// or https://", display_url(),
          endpoint));
    }
    bucket_url_ = fmt::format("{}/{}", endpoint, bucket_);  // path style
  }
}

std::string S3Root::object_url(std::string_view path) const {
  const std::string key = prefix_.empty() ? std::string(path) : fmt::format("{}/{}", prefix_, path);
  return fmt::format("{}/{}", bucket_url_, percent_encode(key, true));
}

void S3Root::authorize(HttpRequest& request) const {
  if (credentials_.access_key.empty()) return;  // anonymous: a public bucket
  request.aws_sigv4 = fmt::format("aws:amz:{}:s3", credentials_.region);
  request.userpwd = fmt::format("{}:{}", credentials_.access_key, credentials_.secret_key);
  // Reads have no payload to hash; S3 accepts this marker for any request.
  request.headers.push_back("x-amz-content-sha256: UNSIGNED-PAYLOAD");
  if (!credentials_.session_token.empty()) {
    request.headers.push_back("x-amz-security-token: " + credentials_.session_token);
  }
}

std::vector<ObjectInfo> S3Root::list() const {
  const std::string list_prefix = prefix_.empty() ? "" : prefix_ + "/";
  std::vector<ObjectInfo> objects;
  std::string token;
  for (;;) {
    // The query must be in canonical order (sorted names, values fully encoded): libcurl signs
    // it as given.
    std::string query;
    if (!token.empty()) query += "continuation-token=" + percent_encode(token, false) + "&";
    query += "list-type=2";
    if (page_size_ > 0) query += fmt::format("&max-keys={}", page_size_);
    if (!list_prefix.empty()) query += "&prefix=" + percent_encode(list_prefix, false);
    HttpRequest request;
    request.url = fmt::format("{}{}?{}", bucket_url_, virtual_hosted_ ? "/" : "",
                              query);
    const HttpResponse response = send(request, fmt::format("GET {}", request.url));
    const ListPage page = parse_list_objects_v2(response.body, request.url);
    for (const ListedObject& listed : page.objects) {
      if (!listed.key.starts_with(list_prefix)) {
        throw FormatError(request.url, -1,
                          fmt::format("S3 listing: key \"{}\" is outside the prefix \"{}\"",
                                      listed.key, list_prefix));
      }
      std::string path = listed.key.substr(list_prefix.size());
      if (path.empty() || path.back() == '/') continue;  // "directory" markers
      objects.push_back({std::move(path), listed.size, listed.etag});
    }
    if (!page.truncated) break;
    if (page.next_token == token) {
      throw FormatError(request.url, -1, "S3 listing: the continuation token did not advance");
    }
    token = page.next_token;
  }
  std::sort(objects.begin(), objects.end(),
            [](const ObjectInfo& a, const ObjectInfo& b) { return a.path < b.path; });
  return objects;
}

void S3Root::create_bucket() const {
  HttpRequest request;
  request.method = "PUT";
  request.url = bucket_url_;
  send(request, fmt::format("PUT {}", request.url));
}

void S3Root::put_object(std::string_view path, std::string_view bytes) const {
  check_object_path(path, display_url());
  HttpRequest request;
  request.method = "PUT";
  request.url = object_url(path);
  request.body = std::string(bytes);
  send(request, fmt::format("PUT {}", request.url));
}

}  // namespace mouse::remote::detail
