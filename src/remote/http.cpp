#include "remote/http.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <memory>
#include <mutex>

#include <fmt/format.h>

#include "core/cancel.hpp"
#include "mouse/error.hpp"

namespace mouse::remote::detail {
namespace {

// curl_global_init is not thread-safe before 7.84; run it once, before any handle exists.
void global_init() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      throw IoError("remote: curl_global_init failed");
    }
  });
}

struct HandleDeleter {
  void operator()(CURL* handle) const noexcept { curl_easy_cleanup(handle); }
};

// The calling thread's handle, reset before each use: its connection cache survives the reset.
CURL* thread_handle() {
  global_init();
  thread_local std::unique_ptr<CURL, HandleDeleter> handle;
  if (!handle) {
    handle.reset(curl_easy_init());
    if (!handle) throw IoError("remote: curl_easy_init failed");
  } else {
    curl_easy_reset(handle.get());
  }
  return handle.get();
}

struct SlistDeleter {
  void operator()(curl_slist* list) const noexcept { curl_slist_free_all(list); }
};

struct Transfer {
  const HttpRequest* request;
  HttpResponse* response;
  CURL* handle;
};

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const size_t n = size * count;
  std::string_view line(data, n);
  // A status line starts a new response (after a redirect or a 100 Continue): only the final
  // response's headers count.
  if (line.starts_with("HTTP/")) {
    transfer->response->headers.clear();
    return n;
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) return n;
  transfer->response->headers.emplace_back(lower(trim(line.substr(0, colon))),
                                           std::string(trim(line.substr(colon + 1))));
  return n;
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const size_t n = size * count;
  long status = 0;
  curl_easy_getinfo(transfer->handle, CURLINFO_RESPONSE_CODE, &status);
  transfer->response->body_bytes += static_cast<int64_t>(n);
  if (transfer->request->sink && status >= 200 && status < 300) {
    return transfer->request->sink(static_cast<int>(status), data, n) ? n : 0;
  }
  // Error bodies are only read for their message; keep the first 64 KiB.
  constexpr size_t kMaxErrorBody = 64 * 1024;
  std::string& body = transfer->response->body;
  if (status >= 200 && status < 300) {
    body.append(data, n);
  } else if (body.size() < kMaxErrorBody) {
    body.append(data, std::min(n, kMaxErrorBody - body.size()));
  }
  return n;
}

// Progress callback: a nonzero return aborts the transfer once the request's cancel flag is set.
// It runs on the thread that performs the request, so the thread's own flag is seen too.
int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  const auto* cancel = static_cast<const std::atomic<bool>*>(user);
  const bool stop = (cancel != nullptr && cancel->load(std::memory_order_relaxed)) ||
                    mouse::detail::cancel_requested();
  return stop ? 1 : 0;
}

}  // namespace

std::string HttpResponse::header(std::string_view name) const {
  for (auto it = headers.rbegin(); it != headers.rend(); ++it) {
    if (it->first == name) return it->second;
  }
  return {};
}

HttpResponse perform(const HttpRequest& request, const RetryPolicy& policy) {
  CURL* h = thread_handle();
  HttpResponse response;
  Transfer transfer{&request, &response, h};
  char error_buffer[CURL_ERROR_SIZE] = {};

  std::unique_ptr<curl_slist, SlistDeleter> headers;
  auto add_header = [&](const std::string& line) {
    curl_slist* next = curl_slist_append(headers.get(), line.c_str());
    if (!next) throw IoError("remote: out of memory building request headers");
    headers.release();
    headers.reset(next);
  };
  for (const std::string& line : request.headers) add_header(line);

  curl_easy_setopt(h, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(std::ceil(policy.connect_timeout_s * 1000.0)));
  // Abandon an attempt whose transfer stays under 1 byte/s for the stall timeout.
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME,
                   std::max(1L, static_cast<long>(std::ceil(policy.stall_timeout_s))));
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(h, CURLOPT_XFERINFODATA, const_cast<std::atomic<bool>*>(request.cancel));
  curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  if (request.follow_redirects) {
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(h, CURLOPT_UNRESTRICTED_AUTH, 0L);
  }
  if (request.method == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (request.method == "PUT") {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PUT");
    if (request.body.empty()) {
      // An empty POSTFIELDS body makes libcurl 7.88's SigV4 sign something the server rejects.
      add_header("Content-Length: 0");
    } else {
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(request.body.size()));
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, request.body.data());
      add_header("Content-Type: application/octet-stream");
    }
  } else if (request.method != "GET") {
    throw InvalidArgument(fmt::format("remote: unsupported HTTP method {}", request.method));
  }
  if (!request.aws_sigv4.empty()) {
    curl_easy_setopt(h, CURLOPT_AWS_SIGV4, request.aws_sigv4.c_str());
    curl_easy_setopt(h, CURLOPT_USERPWD, request.userpwd.c_str());
  }
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());

  const CURLcode code = curl_easy_perform(h);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.status);
  response.curl_code = static_cast<int>(code);
  if (code != CURLE_OK) {
    response.curl_error = curl_easy_strerror(code);
    if (error_buffer[0] != '\0') response.curl_error = error_buffer;
  }
  // The handle must not keep pointers into this frame.
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, nullptr);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(h, CURLOPT_USERPWD, nullptr);
  return response;
}

std::string_view reason_phrase(long status) noexcept {
  switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 412: return "Precondition Failed";
    case 416: return "Range Not Satisfiable";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "";
  }
}

}  // namespace mouse::remote::detail
