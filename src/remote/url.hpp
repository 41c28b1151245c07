// URL pieces shared by the remote roots.
#pragma once

#include <string>
#include <string_view>

namespace mouse::remote::detail {

/// Percent-encodes every byte but the unreserved ones (A-Z a-z 0-9 - . _ ~) and, when
/// `keep_slash`, '/': the encoding S3's SigV4 canonical requests expect.
std::string percent_encode(std::string_view text, bool keep_slash);

/// InvalidArgument unless `path` is a usable object path under `root_url`: non-empty, no
/// leading '/', no "." or ".." segment, no empty segment.
void check_object_path(std::string_view path, const std::string& root_url);

/// `path` without leading and trailing '/'.
std::string_view trim_slashes(std::string_view path) noexcept;

/// The value of environment variable `name`, "" when unset.
std::string env(const char* name);

}  // namespace mouse::remote::detail
