// The one retry policy every request goes through (SPEC §8 "Faults"): which failures retry,
// capped exponential backoff with jitter, bounded by attempts and by total time.
#pragma once

#include <atomic>
#include <chrono>
#include <string>

#include "mouse/remote.hpp"
#include "remote/http.hpp"

namespace mouse::remote::detail {

/// InvalidArgument when `policy` is unusable (no attempts, a non-positive backoff...).
void validate(const RetryPolicy& policy);

/// Whether a failed attempt may be retried: connection errors, timeouts, partial transfers,
/// HTTP 408, 429 and 5xx. Other 4xx are final.
bool retryable(const HttpResponse& response) noexcept;

/// What went wrong with one attempt, for messages: "HTTP 503 Service Unavailable" (with the S3
/// or Hub error code and message when the body has one) or libcurl's description. Never holds
/// request headers, so no secret.
std::string failure_cause(const HttpResponse& response);

/// Counts the attempts of one request and decides whether another may follow.
class RetryLoop {
 public:
  /// `cancel`, when given, ends the loop: retry() returns false as soon as it is set, even in
  /// the middle of a backoff wait; so does the calling thread's cancellation flag.
  explicit RetryLoop(const RetryPolicy& policy, const std::atomic<bool>* cancel = nullptr);

  /// Marks the start of an attempt.
  void start_attempt() noexcept { ++attempts_; }
  /// After a failed attempt: false when it may not be retried (`retryable` false, attempts or
  /// time used up); else sleeps the backoff and returns true.
  bool retry(bool retryable);

  int attempts() const noexcept { return attempts_; }
  /// Whether the root was cancelled or the calling thread's owner asked it to stop
  /// (core/cancel.hpp).
  bool cancelled() const noexcept;
  /// "after 3 attempts over 1.2 s".
  std::string summary() const;

 private:
  const RetryPolicy& policy_;
  const std::atomic<bool>* cancel_;
  std::chrono::steady_clock::time_point start_;
  int attempts_ = 0;
};

}  // namespace mouse::remote::detail
