#include "remote/hub.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "mouse/error.hpp"
#include "remote/url.hpp"

namespace mouse::remote::detail {
namespace {

std::string trimmed(std::string text) {
  const size_t begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return {};
  const size_t end = text.find_last_not_of(" \t\r\n");
  return text.substr(begin, end - begin + 1);
}

std::string read_token_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return {};
  std::ostringstream text;
  text << in.rdbuf();
  return trimmed(text.str());
}

// HF_TOKEN, else the file HF_TOKEN_PATH, else $HF_HOME/token (huggingface_hub's order).
std::string resolve_token() {
  std::string token = trimmed(env("HF_TOKEN"));
  if (!token.empty()) return token;
  const std::string token_path = env("HF_TOKEN_PATH");
  if (!token_path.empty()) return read_token_file(token_path);
  std::string home = env("HF_HOME");
  if (home.empty()) {
    const std::string user_home = env("HOME");
    if (user_home.empty()) return {};
    home = user_home + "/.cache/huggingface";
  }
  return read_token_file(home + "/token");
}

// The URL of the next page in a Link header (`<url>; rel="next"`), "" when there is none.
std::string next_link(const std::string& link) {
  size_t pos = 0;
  while (pos < link.size()) {
    const size_t open = link.find('<', pos);
    if (open == std::string::npos) break;
    const size_t close = link.find('>', open);
    if (close == std::string::npos) break;
    size_t end = link.find(',', close);
    if (end == std::string::npos) end = link.size();
    const std::string params = link.substr(close + 1, end - close - 1);
    if (params.find("rel=\"next\"") != std::string::npos ||
        params.find("rel=next") != std::string::npos) {
      return link.substr(open + 1, close - open - 1);
    }
    pos = end + 1;
  }
  return {};
}

}  // namespace

HubLocation parse_hub_url(std::string_view url) {
  auto fail = [&](std::string_view why) {
    throw InvalidArgument(fmt::format(
        "{}: expected hf://datasets/org/name[@revision][/path], {}", url, why));
  };
  HubLocation out;
  std::string_view rest = url.substr(5);  // after "hf://"
  if (!rest.starts_with("datasets/")) fail("only dataset repositories are supported");
  rest.remove_prefix(9);
  const size_t org_end = rest.find('/');
  if (org_end == std::string_view::npos || org_end == 0) fail("the organisation is missing");
  const std::string_view org = rest.substr(0, org_end);
  rest.remove_prefix(org_end + 1);
  const size_t name_end = rest.find('/');
  std::string_view name = rest.substr(0, name_end);
  if (name_end != std::string_view::npos) out.subpath = std::string(trim_slashes(rest.substr(name_end)));
  out.revision = "main";
  const size_t at = name.find('@');
  if (at != std::string_view::npos) {
    out.revision = std::string(name.substr(at + 1));
    name = name.substr(0, at);
    if (out.revision.empty()) fail("the revision after '@' is empty");
  }
  if (name.empty()) fail("the dataset name is missing");
  out.repo = fmt::format("{}/{}", org, name);
  if (!out.subpath.empty()) check_object_path(out.subpath, std::string(url));
  out.normalised = fmt::format("hf://datasets/{}", out.repo);
  if (at != std::string_view::npos) out.normalised += "@" + out.revision;
  if (!out.subpath.empty()) out.normalised += "/" + out.subpath;
  return out;
}

HubRoot::HubRoot(std::string_view url, const RemoteOptions& options)
    : HubRoot(parse_hub_url(url), options) {}

HubRoot::HubRoot(HubLocation location, const RemoteOptions& options)
    : ObjectRoot(location.normalised, options),
      repo_(std::move(location.repo)),
      revision_(std::move(location.revision)),
      subpath_(std::move(location.subpath)) {
  endpoint_ = env("HF_ENDPOINT");
  if (endpoint_.empty()) endpoint_ = "https://huggingface.co";
  while (!endpoint_.empty() && endpoint_.back() == '/') endpoint_.pop_back();
  token_ = resolve_token();
}

std::string HubRoot::object_url(std::string_view path) const {
  const std::string full = subpath_.empty() ? std::string(path) : fmt::format("{}/{}", subpath_, path);
  return fmt::format("{}/datasets/{}/resolve/{}/{}", endpoint_, repo_, revision_,
                     percent_encode(full, true));
}

void HubRoot::authorize(HttpRequest& request) const {
  // Resolve URLs redirect to a CDN; libcurl drops the Authorization header when the host changes.
  request.follow_redirects = true;
  if (!token_.empty()) request.headers.push_back("Authorization: Bearer " + token_);
}

std::vector<ObjectInfo> HubRoot::list() const {
  std::string url = fmt::format("{}/api/datasets/{}/tree/{}", endpoint_, repo_, revision_);
  if (!subpath_.empty()) url += "/" + percent_encode(subpath_, true);
  url += "?recursive=true";
  const std::string prefix = subpath_.empty() ? "" : subpath_ + "/";
  std::vector<ObjectInfo> objects;
  int pages = 0;
  while (!url.empty()) {
    if (++pages > 100000) throw FormatError(url, -1, "Hub tree listing: the pages never end");
    HttpRequest request;
    request.url = url;
    const HttpResponse response = send(request, fmt::format("GET {}", url));
    const nlohmann::json page = nlohmann::json::parse(response.body, nullptr, false);
    if (!page.is_array()) {
      throw FormatError(url, -1,
                        fmt::format("Hub tree listing: expected a JSON array, found {} bytes that "
                                    "are not one", response.body.size()));
    }
    for (size_t i = 0; i < page.size(); ++i) {
      const nlohmann::json& entry = page[i];
      auto bad = [&](std::string_view why) {
        throw FormatError(url, -1, fmt::format("Hub tree listing: entry {}: {}", i, why));
      };
      if (!entry.is_object() || !entry.contains("type") || !entry["type"].is_string()) {
        bad("expected an object with a \"type\"");
      }
      if (entry["type"] != "file") continue;
      if (!entry.contains("path") || !entry["path"].is_string()) bad("no \"path\" string");
      if (!entry.contains("size") || !entry["size"].is_number_unsigned()) {
        bad("no non-negative integer \"size\"");
      }
      std::string path = entry["path"].get<std::string>();
      if (!path.starts_with(prefix)) bad(fmt::format("\"{}\" is outside \"{}\"", path, prefix));
      ObjectInfo info;
      info.path = path.substr(prefix.size());
      info.size = entry["size"].get<int64_t>();
      if (entry.contains("lfs") && entry["lfs"].is_object() && entry["lfs"].contains("oid") &&
          entry["lfs"]["oid"].is_string()) {
        info.version = entry["lfs"]["oid"].get<std::string>();
      } else if (entry.contains("oid") && entry["oid"].is_string()) {
        info.version = entry["oid"].get<std::string>();
      }
      objects.push_back(std::move(info));
    }
    url = next_link(response.header("link"));
  }
  std::sort(objects.begin(), objects.end(),
            [](const ObjectInfo& a, const ObjectInfo& b) { return a.path < b.path; });
  return objects;
}

}  // namespace mouse::remote::detail
