#include "remote/object_root.hpp"

#include <charconv>

#include <fmt/format.h>

#include "mouse/error.hpp"
#include "remote/retry.hpp"
#include "remote/url.hpp"

namespace mouse::remote::detail {
namespace {

bool parse_int(std::string_view text, int64_t& out) noexcept {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return !text.empty() && ec == std::errc() && end == text.data() + text.size() && out >= 0;
}

}  // namespace

bool parse_content_range(std::string_view value, ContentRange& out) noexcept {
  if (!value.starts_with("bytes ")) return false;
  value.remove_prefix(6);
  const size_t slash = value.find('/');
  if (slash == std::string_view::npos) return false;
  const std::string_view range = value.substr(0, slash);
  const std::string_view total = value.substr(slash + 1);
  out = {};
  if (total != "*" && !parse_int(total, out.total)) return false;
  if (range == "*") return out.total >= 0;
  const size_t dash = range.find('-');
  if (dash == std::string_view::npos) return false;
  if (!parse_int(range.substr(0, dash), out.first) || !parse_int(range.substr(dash + 1), out.last)) {
    return false;
  }
  return out.first <= out.last && (out.total < 0 || out.last < out.total);
}

ObjectRoot::ObjectRoot(std::string display_url, const RemoteOptions& options)
    : display_url_(std::move(display_url)), policy_(options.retry) {
  validate(policy_);
}

bool ObjectRoot::use_if_match(const ObjectInfo& object) const {
  return !object.version.empty() && !object.version.starts_with("W/");
}

TransferStats ObjectRoot::stats() const {
  return {requests_.load(std::memory_order_relaxed), retries_.load(std::memory_order_relaxed),
          bytes_.load(std::memory_order_relaxed)};
}

HttpResponse ObjectRoot::send(HttpRequest request, const std::string& what,
                              const std::function<bool(long)>& accept,
                              const std::function<void(HttpRequest&)>& prepare) const {
  authorize(request);
  RetryLoop loop(policy_, &cancelled_);
  for (;;) {
    if (loop.cancelled()) {
      throw IoError(fmt::format("{}: cancelled (the reader is shutting down) {}", what,
                                loop.summary()));
    }
    HttpRequest attempt = request;
    attempt.cancel = &cancelled_;
    if (prepare) prepare(attempt);
    loop.start_attempt();
    requests_.fetch_add(1, std::memory_order_relaxed);
    HttpResponse response = perform(attempt, policy_);
    bytes_.fetch_add(response.body_bytes, std::memory_order_relaxed);
    if (response.curl_code == 0) {
      if (response.status >= 200 && response.status < 300) return response;
      if (accept && accept(response.status)) return response;
      if (response.status == 404) {
        throw IoError(fmt::format("{}: not found ({}) {}", what, failure_cause(response),
                                  loop.summary()));
      }
      if (response.status == 412) {
        throw IoError(fmt::format("{}: the object changed since it was listed ({}) {}", what,
                                  failure_cause(response), loop.summary()));
      }
    }
    if (!loop.retry(retryable(response))) {
      if (loop.cancelled()) {
        throw IoError(fmt::format("{}: cancelled (the reader is shutting down) {}", what,
                                  loop.summary()));
      }
      throw IoError(fmt::format("{}: {} {}", what, failure_cause(response), loop.summary()));
    }
    retries_.fetch_add(1, std::memory_order_relaxed);
  }
}

std::optional<std::string> ObjectRoot::read_if_exists(std::string_view path) const {
  check_object_path(path, display_url_);
  HttpRequest request;
  request.url = object_url(path);
  HttpResponse response =
      send(request, fmt::format("GET {}", request.url), [](long status) { return status == 404; });
  if (response.status == 404) return std::nullopt;
  return std::move(response.body);
}

ObjectInfo ObjectRoot::stat(std::string_view path) const {
  check_object_path(path, display_url_);
  HttpRequest request;
  request.method = "HEAD";
  request.url = object_url(path);
  const HttpResponse response = send(request, fmt::format("HEAD {}", request.url));
  ObjectInfo info;
  info.path = std::string(path);
  if (!parse_int(response.header("content-length"), info.size)) {
    throw FormatError(request.url, -1,
                      fmt::format("HEAD: expected a Content-Length, found \"{}\"",
                                  response.header("content-length")));
  }
  info.version = response.header("etag");
  return info;
}

Tail ObjectRoot::read_tail(std::string_view path, int64_t length) const {
  check_object_path(path, display_url_);
  if (length <= 0) {
    throw InvalidArgument(fmt::format("{}: read_tail of \"{}\" needs a length > 0, got {}",
                                      display_url_, path, length));
  }
  HttpRequest request;
  request.url = object_url(path);
  request.headers.push_back(fmt::format("Range: bytes=-{}", length));
  const std::string what = fmt::format("GET {} bytes=-{}", request.url, length);
  // 416: an empty object has no last bytes.
  HttpResponse response = send(request, what, [](long status) { return status == 416; });
  Tail tail;
  tail.etag = response.header("etag");
  if (response.status == 200) {  // the server sent it all
    tail.size = static_cast<int64_t>(response.body.size());
    const size_t keep = std::min(response.body.size(), static_cast<size_t>(length));
    tail.bytes = response.body.substr(response.body.size() - keep);
    return tail;
  }
  ContentRange range;
  const std::string header = response.header("content-range");
  if (!parse_content_range(header, range) || range.total < 0) {
    throw FormatError(request.url, -1,
                      fmt::format("{}: expected a Content-Range \"bytes a-b/size\", found \"{}\"",
                                  what, header));
  }
  tail.size = range.total;
  if (response.status == 416) {
    if (range.total != 0) {
      throw IoError(fmt::format("{}: HTTP 416 Range Not Satisfiable for an object of {} bytes",
                                what, range.total));
    }
    return tail;
  }
  const int64_t expected = range.last - range.first + 1;
  if (range.last != range.total - 1 || range.total - range.first != std::min(length, range.total) ||
      static_cast<int64_t>(response.body.size()) != expected) {
    throw FormatError(request.url, range.first,
                      fmt::format("{}: expected the last {} of {} bytes, found Content-Range "
                                  "\"{}\" and {} bytes",
                                  what, std::min(length, range.total), range.total, header,
                                  response.body.size()));
  }
  tail.bytes = std::move(response.body);
  return tail;
}

std::string ObjectRoot::read_range(const ObjectInfo& object, int64_t offset, int64_t length) const {
  check_object_path(object.path, display_url_);
  if (offset < 0 || length < 0 || (object.size >= 0 && offset > object.size - length)) {
    throw InvalidArgument(fmt::format("{}: range [{}, {}) is not inside \"{}\" ({} bytes)",
                                      display_url_, offset, offset + length, object.path,
                                      object.size));
  }
  if (length == 0) return {};
  HttpRequest request;
  request.url = object_url(object.path);
  const int64_t last = offset + length - 1;
  request.headers.push_back(fmt::format("Range: bytes={}-{}", offset, last));
  if (use_if_match(object)) request.headers.push_back("If-Match: " + object.version);
  const std::string what = fmt::format("GET {} bytes={}-{}", request.url, offset, last);
  HttpResponse response = send(request, what);
  if (response.status == 206) {
    ContentRange range;
    const std::string header = response.header("content-range");
    if (!parse_content_range(header, range) || range.first != offset) {
      throw FormatError(request.url, offset,
                        fmt::format("{}: expected Content-Range \"bytes {}-{}/…\", found \"{}\"",
                                    what, offset, last, header));
    }
  } else if (static_cast<int64_t>(response.body.size()) >= offset + length) {
    // A server that ignores Range sends the whole object.
    return response.body.substr(static_cast<size_t>(offset), static_cast<size_t>(length));
  } else {
    throw FormatError(request.url, offset,
                      fmt::format("{}: the whole object came back ({} bytes), too short for the "
                                  "range", what, response.body.size()));
  }
  if (static_cast<int64_t>(response.body.size()) != length) {
    throw FormatError(request.url, offset,
                      fmt::format("{}: expected {} bytes, the body has {}", what, length,
                                  response.body.size()));
  }
  return std::move(response.body);
}

}  // namespace mouse::remote::detail
