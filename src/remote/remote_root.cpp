// RemoteRoot::open: picks the kind of root from the URL's scheme.
#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "mouse/error.hpp"
#include "mouse/remote.hpp"
#include "remote/http_root.hpp"
#include "remote/hub.hpp"
#include "remote/s3.hpp"

namespace mouse::remote {
namespace {

enum class Kind { kNone, kS3, kHub, kHttp };

Kind kind_of(std::string_view url) noexcept {
  auto has_scheme = [&](std::string_view scheme) {
    return url.size() >= scheme.size() &&
           std::equal(scheme.begin(), scheme.end(), url.begin(), [](char a, char b) {
             return a == std::tolower(static_cast<unsigned char>(b));
           });
  };
  if (has_scheme("s3://")) return Kind::kS3;
  if (has_scheme("hf://")) return Kind::kHub;
  if (has_scheme("http://") || has_scheme("https://")) return Kind::kHttp;
  return Kind::kNone;
}

}  // namespace

std::shared_ptr<RemoteRoot> RemoteRoot::open(std::string_view url, const RemoteOptions& options) {
  switch (kind_of(url)) {
    case Kind::kS3:
      return std::make_shared<detail::S3Root>(url, options);
    case Kind::kHub:
      return std::make_shared<detail::HubRoot>(url, options);
    case Kind::kHttp:
      return std::make_shared<detail::HttpRoot>(url, options);
    case Kind::kNone:
      break;
  }
  throw InvalidArgument(fmt::format(
      "{}: not a remote URL (expected s3://, hf://datasets/, http:// or https://)", url));
}

bool is_remote_url(std::string_view path_or_url) noexcept {
  return kind_of(path_or_url) != Kind::kNone;
}

}  // namespace mouse::remote
