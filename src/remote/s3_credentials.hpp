// S3's credential, region and endpoint chains, as AWS's own clients resolve them.
#pragma once

#include <string>

namespace mouse::remote::detail {

/// What signs S3 requests. Empty access_key: anonymous (unsigned) requests.
struct S3Credentials {
  std::string access_key;
  std::string secret_key;
  std::string session_token;
  std::string region;
};

/// Keys from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, else from the
/// profile AWS_PROFILE (default "default") of AWS_SHARED_CREDENTIALS_FILE (default
/// ~/.aws/credentials); region from AWS_REGION, else AWS_DEFAULT_REGION, else the profile's
/// `region` in AWS_CONFIG_FILE (default ~/.aws/config), else us-east-1. InvalidArgument when a
/// profile named by AWS_PROFILE exists in neither file, or has a key without its secret (the
/// message names the profile and file, never a key).
S3Credentials resolve_s3_credentials();

/// The S3 endpoint: `option` when set, else AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL; "" for
/// AWS's own regional endpoint. Trailing '/' removed.
std::string resolve_s3_endpoint(const std::string& option);

}  // namespace mouse::remote::detail
