// A Hub layout served remotely (SPEC §8): its shards found through the service's listing (or the
// README of a plain HTTP directory), their row counts read from the Parquet footers with ranged
// requests, and one shard at a time fetched whole and decoded into a memory-mapped Arrow cache
// entry. What to fetch when, and how much to keep, is the store's business (store/remote_shards).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "mouse/dataset.hpp"
#include "mouse/remote.hpp"

namespace mouse::detail {

/// One Parquet shard of a remote layout.
struct RemoteShard {
  /// Split it belongs to.
  std::string split;
  /// The object (path relative to the root, size, version: ETag or Hub hash).
  remote::ObjectInfo object;
  /// Its URL, for messages and the cache key.
  std::string url;
  /// Rows, from the footer.
  int64_t rows = 0;
  /// The footer's uncompressed column bytes: the estimate of its decoded size.
  int64_t decoded_estimate = 0;
};

/// The shards of the chosen config, splits in order, each split's shards in name order.
struct RemoteLayout {
  std::shared_ptr<remote::RemoteRoot> root;
  std::vector<RemoteShard> shards;
  /// Split names in order with their shard counts.
  std::vector<std::pair<std::string, int64_t>> splits;
  /// The README's features for shards without `huggingface` metadata ({"info": {"features":
  /// ...}}), and a hash of it; empty when the README has none.
  std::string readme_metadata;
  std::string readme_hash;
};

/// Lists the layout at `url`, picks `config` (as load_hub_layout picks it) and keeps the splits
/// `keep` accepts (all when empty), then reads every kept shard's footer (a few requests in
/// parallel). Throws InvalidArgument (bad URL; a save_to_disk directory, saying to convert it),
/// FormatError naming the URL (no Parquet shard, a README naming globs on a plain HTTP root, a
/// corrupt footer, shards of one layout with other columns), KeyError (unknown config), IoError
/// (the service).
RemoteLayout open_remote_layout(
    const std::string& url, const std::optional<std::string>& config,
    const remote::RemoteOptions& options,
    const std::function<std::vector<std::string>(const std::vector<std::string>&)>& keep,
    const std::filesystem::path& scratch);

/// What fetching one shard did.
struct FetchedShard {
  Dataset dataset;
  /// Bytes the decoded entry holds on disk.
  int64_t disk_bytes = 0;
  /// Whether the entry was already complete (nothing fetched).
  bool cached = false;
  /// Bytes downloaded.
  int64_t fetched_bytes = 0;
};

/// The cache entry directory of `shard` under `cache_dir`: named by hashes of its URL and
/// version, so another version of the object never maps this one's bytes.
std::filesystem::path shard_entry(const std::filesystem::path& cache_dir, const RemoteShard& shard);
/// Whether `shard`'s entry is complete (its manifest matches), and its disk bytes.
std::optional<int64_t> cached_shard_bytes(const std::filesystem::path& cache_dir,
                                          const RemoteShard& shard);
/// Maps `shard` from its entry, or downloads and decodes it into the entry first (under the
/// entry's lock, so processes sharing the cache fetch it once). The Parquet file is removed once
/// decoded; an interrupted fill leaves nothing a later run maps. Entries of other versions of
/// the same URL are removed. FormatError naming the URL for a corrupt or short object or a row
/// count other than the footer's; IoError from the transfer.
FetchedShard fetch_remote_shard(const RemoteLayout& layout, size_t index,
                                const std::filesystem::path& cache_dir);
/// Removes `shard`'s entry (under its lock). Returns false when it is in use (locked).
bool evict_remote_shard(const std::filesystem::path& cache_dir, const RemoteShard& shard);

}  // namespace mouse::detail
