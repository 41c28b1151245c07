// hf://datasets/org/name[@revision][/path] roots: the Hugging Face Hub (or HF_ENDPOINT) with a
// bearer token, listing with the tree API.
#pragma once

#include <string>
#include <string_view>

#include "remote/object_root.hpp"

namespace mouse::remote::detail {

/// The parts of an hf:// URL.
struct HubLocation {
  std::string repo;      ///< "org/name"
  std::string revision;  ///< as in the URL ('/' percent-encoded); "main" by default
  std::string subpath;   ///< folder inside the repository, no leading or trailing '/'
  std::string normalised;  ///< hf://datasets/org/name[@revision][/subpath]
};

/// Parses hf://datasets/org/name[@revision][/path]; InvalidArgument naming the URL.
HubLocation parse_hub_url(std::string_view url);

/// A dataset repository (or a folder of it) at one revision. Thread-safe.
class HubRoot final : public ObjectRoot {
 public:
  /// Parses `url` and resolves the endpoint and token (SPEC §8). InvalidArgument naming the URL
  /// when it is malformed or not a dataset.
  HubRoot(std::string_view url, const RemoteOptions& options);

  std::string_view scheme() const noexcept override { return "hf"; }
  std::string object_url(std::string_view path) const override;
  bool listable() const noexcept override { return true; }
  std::vector<ObjectInfo> list() const override;

 protected:
  void authorize(HttpRequest& request) const override;
  /// The Hub's versions are content hashes, not ETags: no If-Match.
  bool use_if_match(const ObjectInfo&) const override { return false; }

 private:
  HubRoot(HubLocation location, const RemoteOptions& options);

  std::string endpoint_;
  std::string repo_;
  std::string revision_;
  std::string subpath_;
  std::string token_;
};

}  // namespace mouse::remote::detail
