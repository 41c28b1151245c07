#include "remote/retry.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/cancel.hpp"
#include "mouse/error.hpp"
#include "remote/xml.hpp"

namespace mouse::remote::detail {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Jitter only needs to spread clients apart, not to be reproducible.
double jitter_factor() {
  thread_local std::minstd_rand engine{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.5, 1.0)(engine);
}

// The service's own explanation in an error body: S3's <Code>/<Message>, the Hub's {"error"}.
// Anything else in the body is left out: it could echo request details.
std::string service_detail(const std::string& body) {
  if (body.empty()) return {};
  const std::string code = xml_first_text(body, "Code");
  const std::string message = xml_first_text(body, "Message");
  if (!code.empty() || !message.empty()) {
    std::string detail = code;
    if (!message.empty()) detail += (detail.empty() ? "" : ": ") + message;
    return detail;
  }
  if (body.front() == '{') {
    const nlohmann::json json = nlohmann::json::parse(body, nullptr, false);
    if (json.is_object() && json.contains("error") && json["error"].is_string()) {
      return json["error"].get<std::string>();
    }
  }
  return {};
}

}  // namespace

void validate(const RetryPolicy& policy) {
  auto bad = [](const char* what, double value) {
    throw InvalidArgument(fmt::format("RetryPolicy: {} must be > 0, got {}", what, value));
  };
  if (policy.max_attempts < 1) {
    throw InvalidArgument(
        fmt::format("RetryPolicy: max_attempts must be >= 1, got {}", policy.max_attempts));
  }
  if (!(policy.initial_backoff_s > 0)) bad("initial_backoff_s", policy.initial_backoff_s);
  if (!(policy.max_backoff_s > 0)) bad("max_backoff_s", policy.max_backoff_s);
  if (!(policy.max_total_s > 0)) bad("max_total_s", policy.max_total_s);
  if (!(policy.connect_timeout_s > 0)) bad("connect_timeout_s", policy.connect_timeout_s);
  if (!(policy.stall_timeout_s > 0)) bad("stall_timeout_s", policy.stall_timeout_s);
}

bool retryable(const HttpResponse& response) noexcept {
  switch (static_cast<CURLcode>(response.curl_code)) {
    case CURLE_OK:
      break;
    case CURLE_COULDNT_RESOLVE_HOST:  // DNS hiccups are transient as often as not
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_PARTIAL_FILE:
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
      return true;
    default:
      return false;  // a write abort, a bad URL, an unsupported protocol: retrying cannot help
  }
  const long s = response.status;
  return s == 408 || s == 429 || (s >= 500 && s <= 599);
}

std::string failure_cause(const HttpResponse& response) {
  if (response.curl_code != CURLE_OK) return response.curl_error;
  std::string cause = fmt::format("HTTP {}", response.status);
  const std::string_view reason = reason_phrase(response.status);
  if (!reason.empty()) cause += fmt::format(" {}", reason);
  const std::string detail = service_detail(response.body);
  if (!detail.empty()) cause += fmt::format(" ({})", detail);
  return cause;
}

RetryLoop::RetryLoop(const RetryPolicy& policy, const std::atomic<bool>* cancel)
    : policy_(policy), cancel_(cancel), start_(std::chrono::steady_clock::now()) {}

bool RetryLoop::retry(bool retryable) {
  if (!retryable || attempts_ >= policy_.max_attempts) return false;
  const double base = std::min(policy_.max_backoff_s,
                               policy_.initial_backoff_s * std::ldexp(1.0, attempts_ - 1));
  const double wait = base * jitter_factor();
  if (seconds_since(start_) + wait > policy_.max_total_s) return false;
  // Sleep in slices so a cancellation ends the wait within 50 ms.
  using Clock = std::chrono::steady_clock;
  const Clock::time_point until =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(wait));
  for (;;) {
    if (cancelled()) return false;
    const Clock::time_point now = Clock::now();
    if (now >= until) return true;
    std::this_thread::sleep_for(
        std::min<Clock::duration>(until - now, std::chrono::milliseconds(50)));
  }
}

bool RetryLoop::cancelled() const noexcept {
  return (cancel_ != nullptr && cancel_->load(std::memory_order_relaxed)) ||
         mouse::detail::cancel_requested();
}

std::string RetryLoop::summary() const {
  return fmt::format("after {} attempt{} over {:.1f} s", attempts_, attempts_ == 1 ? "" : "s",
                     seconds_since(start_));
}

}  // namespace mouse::remote::detail
