// http(s)://host/path roots: a plain directory of files served over HTTP(S), read but not listed.
#pragma once

#include <string>
#include <string_view>

#include "remote/object_root.hpp"

namespace mouse::remote::detail {

/// A directory URL. Thread-safe.
class HttpRoot final : public ObjectRoot {
 public:
  /// InvalidArgument naming the URL when it has no host, user information, a query or a
  /// fragment.
  HttpRoot(std::string_view url, const RemoteOptions& options);

  std::string_view scheme() const noexcept override { return "http"; }
  std::string object_url(std::string_view path) const override;
  bool listable() const noexcept override { return false; }
  /// InvalidArgument: a plain HTTP directory cannot be listed.
  std::vector<ObjectInfo> list() const override;

 protected:
  void authorize(HttpRequest& request) const override { request.follow_redirects = true; }
};

}  // namespace mouse::remote::detail
