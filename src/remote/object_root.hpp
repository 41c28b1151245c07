// What the three kinds of root share: every read is an HTTP(S) GET or HEAD of object_url(path)
// with the kind's own authentication, sent through the retry policy. The kinds (s3.hpp,
// hub.hpp, http_root.hpp) add URL parsing, authentication and listing.
#pragma once

#include <atomic>
#include <functional>
#include <string>

#include "mouse/remote.hpp"
#include "remote/http.hpp"

namespace mouse::remote::detail {

/// Base of the roots: reads, download and counters. Thread-safe, as RemoteRoot.
class ObjectRoot : public RemoteRoot {
 public:
  /// `display_url` is the normalised URL (no secrets); InvalidArgument for a bad retry policy.
  ObjectRoot(std::string display_url, const RemoteOptions& options);

  const std::string& display_url() const noexcept override { return display_url_; }
  std::optional<std::string> read_if_exists(std::string_view path) const override;
  ObjectInfo stat(std::string_view path) const override;
  Tail read_tail(std::string_view path, int64_t length) const override;
  std::string read_range(const ObjectInfo& object, int64_t offset, int64_t length) const override;
  void download(const ObjectInfo& object, const std::filesystem::path& dest,
                const std::function<void(int64_t)>& progress = {}) const override;
  TransferStats stats() const override;
  void cancel() noexcept override { cancelled_.store(true, std::memory_order_relaxed); }

  /// Sends `request` (authorized first) through the retry policy and returns the first 2xx
  /// response, or the first one whose status `accept` allows. `prepare`, when set, adjusts the
  /// request before each attempt (a resumed download's Range). `what` ("GET <url> bytes=a-b")
  /// starts every error message. IoError: "not found" on 404, "changed since it was listed" on
  /// 412, else the last cause with the attempts and time.
  HttpResponse send(HttpRequest request, const std::string& what,
                    const std::function<bool(long)>& accept = {},
                    const std::function<void(HttpRequest&)>& prepare = {}) const;

  const RetryPolicy& policy() const noexcept { return policy_; }

 protected:
  /// Adds this root's authentication (signature, token header) and redirect rule to `request`.
  virtual void authorize(HttpRequest& request) const = 0;
  /// Whether reads of `object` carry `If-Match: <version>`: by default when its version is a
  /// strong ETag.
  virtual bool use_if_match(const ObjectInfo& object) const;

 private:
  std::string display_url_;
  RetryPolicy policy_;
  mutable std::atomic<int64_t> requests_{0};
  mutable std::atomic<int64_t> retries_{0};
  mutable std::atomic<int64_t> bytes_{0};
  std::atomic<bool> cancelled_{false};
};

/// A parsed Content-Range: "bytes first-last/total" (total -1 for '*'; first and last -1 for
/// "bytes */total").
struct ContentRange {
  int64_t first = -1;
  int64_t last = -1;
  int64_t total = -1;
};

/// Parses a Content-Range value; false when it is malformed.
bool parse_content_range(std::string_view value, ContentRange& out) noexcept;

}  // namespace mouse::remote::detail
