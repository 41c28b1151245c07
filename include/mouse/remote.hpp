// Remote objects (SPEC §8): the files of a dataset kept in S3-compatible object storage
// (`s3://bucket/prefix`), on the Hugging Face Hub (`hf://datasets/org/name[@revision]`, also
// behind HF_ENDPOINT) or on a plain HTTP(S) server (`http(s)://host/path`). This layer lists,
// stats and reads them through libcurl: ranged GETs, retries with exponential backoff, S3 SigV4
// signing with the standard credential chain, Hub tokens. It knows nothing of Parquet or
// datasets; the Hub loader above it does.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mouse::remote {

/// How requests ride out faults. Connection errors, timeouts, HTTP 408, 429 and 5xx are retried
/// with exponential backoff (initial_backoff_s doubling up to max_backoff_s, with jitter) until
/// `max_attempts` attempts or `max_total_s` seconds since the first attempt, whichever comes
/// first; then IoError naming the URL, the byte range and the attempts. Other 4xx fail at once.
/// The defaults ride out an outage of at least 60 s.
struct RetryPolicy {
  /// Attempts per request, >= 1.
  int max_attempts = 12;
  /// First wait between attempts, seconds, > 0.
  double initial_backoff_s = 0.25;
  /// Longest wait between attempts, seconds.
  double max_backoff_s = 8.0;
  /// Total time a request may take over all its attempts, seconds.
  double max_total_s = 90.0;
  /// Connection timeout of one attempt, seconds.
  double connect_timeout_s = 10.0;
  /// An attempt whose transfer stalls (under 1 byte/s) this long is abandoned, seconds.
  double stall_timeout_s = 30.0;
};

/// Options of RemoteRoot::open.
struct RemoteOptions {
  /// S3 endpoint (e.g. "http://127.0.0.1:8333" for an S3-compatible store). Empty: the
  /// AWS_ENDPOINT_URL_S3 variable, else AWS_ENDPOINT_URL, else AWS's regional endpoint.
  /// Ignored for hf:// and http(s):// roots.
  std::string endpoint_url;
  RetryPolicy retry;
};

/// One object under a root.
struct ObjectInfo {
  /// Path relative to the root, '/'-separated, no leading '/'.
  std::string path;
  /// Size in bytes; -1 when unknown (a plain HTTP file before stat()).
  int64_t size = -1;
  /// What identifies the object's contents: the S3 / HTTP ETag (quotes kept as served), or the
  /// Hub's LFS sha256 / git oid. Empty when the service gives none.
  std::string version;
};

/// The last bytes of an object (RemoteRoot::read_tail).
struct Tail {
  std::string bytes;
  /// The whole object's size (from Content-Range).
  int64_t size = 0;
  /// Its ETag header, if served.
  std::string etag;
};

/// Counters of one root's requests (all threads).
struct TransferStats {
  int64_t requests = 0;
  int64_t retries = 0;
  int64_t bytes = 0;  ///< response body bytes received
};

/// A dataset root. Thread-safe: any number of threads may call its methods at once (each request
/// uses its own libcurl handle).
class RemoteRoot {
 public:
  /// Parses `url` and resolves what requests need (credentials, endpoint, token); no request is
  /// made. Accepted forms: `s3://bucket[/prefix]`, `hf://datasets/org/name[@revision][/path]`
  /// (revision "main" by default; a revision holding '/' URL-encoded, as huggingface_hub does),
  /// `http://…` and `https://…` (a directory; a trailing '/' is implied). InvalidArgument naming
  /// the URL for anything else (another scheme, an empty bucket, hf:// other than datasets/).
  ///
  /// Credentials, as the services' own clients take them: S3 from AWS_ACCESS_KEY_ID /
  /// AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, else the profile AWS_PROFILE (default "default")
  /// of AWS_SHARED_CREDENTIALS_FILE (default ~/.aws/credentials); region AWS_REGION, else
  /// AWS_DEFAULT_REGION, else the profile's `region` in AWS_CONFIG_FILE (default ~/.aws/config),
  /// else us-east-1; no credentials: unsigned requests. Custom endpoints use path-style URLs,
  /// AWS's own virtual-hosted ones. The Hub: endpoint HF_ENDPOINT (default
  /// https://huggingface.co), token HF_TOKEN, else the file HF_TOKEN_PATH, else $HF_HOME/token
  /// (HF_HOME default ~/.cache/huggingface); no token: anonymous. Secrets never appear in
  /// errors, logs or display_url().
  static std::shared_ptr<RemoteRoot> open(std::string_view url, const RemoteOptions& options = {});

  virtual ~RemoteRoot() = default;

  /// The URL as given, normalised (no secrets in it).
  virtual const std::string& display_url() const noexcept = 0;
  /// "s3", "hf" or "http".
  virtual std::string_view scheme() const noexcept = 0;
  /// Where `path` (relative to the root) is fetched from, for messages and cache keys (no
  /// secrets): the object's HTTP(S) URL.
  virtual std::string object_url(std::string_view path) const = 0;

  /// Whether list() works (S3 and the Hub list; a plain HTTP directory does not).
  virtual bool listable() const noexcept = 0;
  /// Every object under the root, recursively, sorted by path: S3 ListObjectsV2 (all pages),
  /// the Hub's tree API `GET {endpoint}/api/datasets/{org}/{name}/tree/{revision}?recursive=true`
  /// (following `Link: <…>; rel="next"` pages; file entries only, `lfs.oid` else `oid` as the
  /// version). IoError when the root does not exist or cannot be listed (status and URL named);
  /// FormatError naming the URL for a listing that does not parse; InvalidArgument when
  /// !listable().
  virtual std::vector<ObjectInfo> list() const = 0;

  /// The whole object at `path` when it exists, nullopt on 404 (for README.md). Meant for small
  /// objects; IoError as the other reads.
  virtual std::optional<std::string> read_if_exists(std::string_view path) const = 0;
  /// Size and ETag of the object at `path` (a HEAD request). IoError naming the URL (404
  /// included).
  virtual ObjectInfo stat(std::string_view path) const = 0;
  /// The last `length` bytes of `path` (all of it when shorter), with its total size and ETag:
  /// one `Range: bytes=-length` request. IoError naming URL and range.
  virtual Tail read_tail(std::string_view path, int64_t length) const = 0;
  /// Bytes [offset, offset + length) of `object` (which must lie inside it). When
  /// object.version is an ETag (S3, HTTP) the request carries `If-Match`, so an object changed
  /// since it was listed fails (IoError saying it changed, naming the URL) instead of mixing
  /// versions. A short body is a FormatError naming URL and range.
  virtual std::string read_range(const ObjectInfo& object, int64_t offset, int64_t length) const = 0;
  /// Writes the whole of `object` to `dest`: into `dest` + ".part-<pid>-<n>" first, renamed to
  /// `dest` only once object.size bytes arrived (with If-Match as read_range), so an
  /// interrupted or failed download leaves no file at `dest` (and removes its temporary).
  /// `progress(bytes so far)` may be called from the calling thread. Retries resume where the
  /// last attempt stopped (ranged). IoError naming URL, range and attempts; FormatError naming
  /// the URL when the body is shorter or longer than object.size.
  virtual void download(const ObjectInfo& object, const std::filesystem::path& dest,
                        const std::function<void(int64_t)>& progress = {}) const = 0;

  /// Request counters so far.
  virtual TransferStats stats() const = 0;

  /// Aborts the requests in flight (within about 50 ms, backoff waits included) and makes every
  /// later request fail at once with IoError saying it was cancelled. For shutting down: a
  /// reader whose server is gone need not wait out the retry policy. Irreversible.
  virtual void cancel() noexcept = 0;
};

/// Whether `path_or_url` is a remote URL this layer handles (s3://, hf://, http://, https://).
bool is_remote_url(std::string_view path_or_url) noexcept;

}  // namespace mouse::remote
