#include "remote/s3_credentials.hpp"

#include <fstream>
#include <map>
#include <optional>

#include <fmt/format.h>

#include "mouse/error.hpp"
#include "remote/url.hpp"

namespace mouse::remote::detail {
namespace {

using Section = std::map<std::string, std::string>;

std::string trim(std::string_view s) {
  const size_t begin = s.find_first_not_of(" \t\r\n");
  if (begin == std::string_view::npos) return {};
  const size_t end = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(begin, end - begin + 1));
}

// The `section` of an INI file (AWS's credentials / config format), nullopt when the file or
// the section is missing.
std::optional<Section> read_ini_section(const std::string& path, const std::string& section) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::optional<Section> found;
  bool inside = false;
  std::string line;
  while (std::getline(in, line)) {
    const std::string text = trim(line);
    if (text.empty() || text.front() == '#' || text.front() == ';') continue;
    if (text.front() == '[' && text.back() == ']') {
      inside = trim(std::string_view(text).substr(1, text.size() - 2)) == section;
      if (inside && !found) found.emplace();
      continue;
    }
    if (!inside) continue;
    const size_t eq = text.find('=');
    if (eq == std::string::npos) continue;
    (*found)[trim(std::string_view(text).substr(0, eq))] = trim(std::string_view(text).substr(eq + 1));
  }
  return found;
}

std::string home_file(const char* relative) {
  const std::string home = env("HOME");
  return home.empty() ? std::string() : fmt::format("{}/{}", home, relative);
}

}  // namespace

S3Credentials resolve_s3_credentials() {
  S3Credentials out;
  const std::string explicit_profile = env("AWS_PROFILE");
  const std::string profile = explicit_profile.empty() ? "default" : explicit_profile;
  std::string credentials_file = env("AWS_SHARED_CREDENTIALS_FILE");
  if (credentials_file.empty()) credentials_file = home_file(".aws/credentials");
  std::string config_file = env("AWS_CONFIG_FILE");
  if (config_file.empty()) config_file = home_file(".aws/config");

  const auto credentials = read_ini_section(credentials_file, profile);
  // The config file names profiles "[profile x]", except "[default]".
  const auto config =
      read_ini_section(config_file, profile == "default" ? profile : "profile " + profile);
  if (!explicit_profile.empty() && !credentials && !config) {
    throw InvalidArgument(fmt::format(
        "S3: the profile \"{}\" (AWS_PROFILE) is in neither {} nor {}", profile,
        credentials_file.empty() ? "AWS_SHARED_CREDENTIALS_FILE" : credentials_file,
        config_file.empty() ? "AWS_CONFIG_FILE" : config_file));
  }

  out.access_key = env("AWS_ACCESS_KEY_ID");
  out.secret_key = env("AWS_SECRET_ACCESS_KEY");
  out.session_token = env("AWS_SESSION_TOKEN");
  if (out.access_key.empty() || out.secret_key.empty()) {
    out = {};
    // Keys may sit in either file (the config file accepts them too); the credentials file wins.
    for (const auto* section : {&credentials, &config}) {
      if (!*section || !(*section)->count("aws_access_key_id")) continue;
      const Section& s = **section;
      out.access_key = s.at("aws_access_key_id");
      const auto secret = s.find("aws_secret_access_key");
      if (secret == s.end() || secret->second.empty()) {
        throw InvalidArgument(fmt::format(
            "S3: the profile \"{}\" of {} has aws_access_key_id but no aws_secret_access_key",
            profile, section == &credentials ? credentials_file : config_file));
      }
      out.secret_key = secret->second;
      const auto token = s.find("aws_session_token");
      if (token != s.end()) out.session_token = token->second;
      break;
    }
  }

  out.region = env("AWS_REGION");
  if (out.region.empty()) out.region = env("AWS_DEFAULT_REGION");
  if (out.region.empty() && config) {
    const auto region = config->find("region");
    if (region != config->end()) out.region = region->second;
  }
  if (out.region.empty()) out.region = "us-east-1";
  return out;
}

std::string resolve_s3_endpoint(const std::string& option) {
  std::string endpoint = option;
  if (endpoint.empty()) endpoint = env("AWS_ENDPOINT_URL_S3");
  if (endpoint.empty()) endpoint = env("AWS_ENDPOINT_URL");
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
  return endpoint;
}

}  // namespace mouse::remote::detail
