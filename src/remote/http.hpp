// One HTTP request over libcurl (one attempt, no retries: retry.hpp wraps it). Each thread keeps
// one easy handle, reset before every request, so connections are reused without any handle
// being shared between threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mouse/remote.hpp"

namespace mouse::remote::detail {

/// What one request sends.
struct HttpRequest {
  /// "GET", "HEAD" or "PUT" (PUT only for tests and setup; its body is `body`).
  std::string method = "GET";
  std::string url;
  /// Extra header lines, "Name: value".
  std::vector<std::string> headers;
  std::string body;
  /// "aws:amz:<region>:s3" to sign with SigV4 (CURLOPT_AWS_SIGV4), with `userpwd` = key:secret.
  std::string aws_sigv4;
  std::string userpwd;
  /// Follow redirects (the Hub's resolve URLs redirect to a CDN). libcurl drops Authorization
  /// on a redirect to another host.
  bool follow_redirects = false;
  /// When set, the bodies of 2xx responses go here instead of HttpResponse::body, chunk by chunk,
  /// with the response status; returning false aborts the transfer (CURLE_WRITE_ERROR).
  std::function<bool(int status, const char* data, size_t size)> sink;
  /// When set and it becomes true, the transfer aborts (CURLE_ABORTED_BY_CALLBACK, not retried);
  /// so does the calling thread's cancellation flag (core/cancel.hpp).
  const std::atomic<bool>* cancel = nullptr;
};

/// What came back from one attempt.
struct HttpResponse {
  /// 0 when no response arrived (see curl_code).
  long status = 0;
  /// CURLcode of the transfer (0: complete).
  int curl_code = 0;
  /// libcurl's description of a failed transfer ("" when curl_code is 0).
  std::string curl_error;
  /// Headers of the final response, names lower-cased.
  std::vector<std::pair<std::string, std::string>> headers;
  /// The body (of a non-2xx response always; of a 2xx one unless the request had a sink).
  std::string body;
  /// Body bytes received, sink or not.
  int64_t body_bytes = 0;

  /// The last value of header `name` (lower-case), "" when absent.
  std::string header(std::string_view name) const;
};

/// Performs one attempt with the policy's connect and stall timeouts. Never throws for network
/// or HTTP errors (they are in the response); throws IoError only when libcurl cannot be set up.
HttpResponse perform(const HttpRequest& request, const RetryPolicy& policy);

/// "Not Found" for 404 and the like; "" for statuses it does not know.
std::string_view reason_phrase(long status) noexcept;

}  // namespace mouse::remote::detail
