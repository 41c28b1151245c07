#include "remote/http_root.hpp"

#include <fmt/format.h>

#include "mouse/error.hpp"
#include "remote/url.hpp"

namespace mouse::remote::detail {
namespace {

// The directory URL with its trailing '/'.
std::string normalise(std::string_view url) {
  const size_t scheme_end = url.find("://") + 3;
  const size_t host_end = std::min(url.find('/', scheme_end), url.size());
  const std::string_view authority = url.substr(scheme_end, host_end - scheme_end);
  if (authority.find('@') != std::string_view::npos) {
    // Say where without echoing the credentials.
    throw InvalidArgument(fmt::format(
        "{}{}: user information in an http(s) URL is not supported", url.substr(0, scheme_end),
        authority.substr(authority.rfind('@') + 1)));
  }
  if (authority.empty()) throw InvalidArgument(fmt::format("{}: the host is missing", url));
  if (url.find_first_of("?#") != std::string_view::npos) {
    throw InvalidArgument(
        fmt::format("{}: a directory URL may not have a query or a fragment", url));
  }
  std::string out(url);
  if (out.back() != '/') out += '/';
  return out;
}

}  // namespace

HttpRoot::HttpRoot(std::string_view url, const RemoteOptions& options)
    : ObjectRoot(normalise(url), options) {}

std::string HttpRoot::object_url(std::string_view path) const {
  return display_url() + percent_encode(path, true);
}

std::vector<ObjectInfo> HttpRoot::list() const {
  throw InvalidArgument(fmt::format(
      "{}: a plain HTTP(S) directory cannot be listed; name its files (a README's data_files)",
      display_url()));
}

}  // namespace mouse::remote::detail
