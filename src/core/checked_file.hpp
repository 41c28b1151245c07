// Checks every file the library reads goes through before its bytes are touched: it must be a
// regular file (symlinks are followed, with the kernel's bounded number of hops), it is opened
// without blocking (a FIFO or a device is refused, never waited on), and small files read whole
// (metadata JSON, README front matter, configs) have a size cap. Also the limits shared by the
// JSON and YAML readers, and the excerpt that error messages quote instead of whole inputs.
#pragma once

#include <sys/stat.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace mouse::detail {

/// Largest metadata file read whole: dataset_info.json, state.json, dataset_dict.json,
/// fingerprint files, README.md, augment configs (64 MiB).
inline constexpr int64_t kMaxMetadataFileBytes = int64_t{64} << 20;

/// Deepest nesting of arrays/objects (JSON) or sequences/mappings (YAML) a reader accepts.
inline constexpr int kMaxNestingDepth = 256;

/// Most characters of an input that an error message quotes.
inline constexpr size_t kMaxQuotedChars = 200;

/// Opens `path` read-only and close-on-exec without blocking, and checks it is a regular file;
/// fills `*st` from fstat. Returns the descriptor, owned by the caller. Throws IoError naming
/// the path and what it is instead (a directory, a FIFO, a device, a socket) or the errno text.
int open_regular_file(const std::filesystem::path& path, struct stat* st);

/// Reads the whole regular file `path`, refusing one larger than `max_bytes` before reading it.
/// `what` names the kind of file in messages ("metadata file", "augment config"). IoError.
std::string read_small_file(const std::filesystem::path& path, int64_t max_bytes,
                            std::string_view what);

/// Whether `path`, with every symbolic link resolved (weakly: a missing tail is kept as it is
/// spelled), lies inside `root`, also resolved. Never throws; false when `root` cannot be
/// resolved.
bool resolves_inside(const std::filesystem::path& path, const std::filesystem::path& root);

/// At most `max` characters of `text` for an error message, on one line: control characters
/// shown as escapes, "..." and the full length appended when cut.
std::string excerpt(std::string_view text, size_t max = kMaxQuotedChars);

/// The byte offset of the first `[` or `{` nested deeper than `max_depth` in JSON text (strings
/// skipped), or -1. A scan without a parse, so a hostile file is refused before any recursion.
int64_t json_too_deep_at(std::string_view text, int max_depth = kMaxNestingDepth);

/// A conservative estimate for YAML text: the 1-based line where block indentation levels plus
/// leading `- ` / `? ` entries plus flow brackets first exceed `max_depth`, or -1. It may
/// overcount odd but legal layouts, never undercounts what yaml-cpp would recurse into.
int64_t yaml_too_deep_at(std::string_view text, int max_depth = kMaxNestingDepth);

}  // namespace mouse::detail
