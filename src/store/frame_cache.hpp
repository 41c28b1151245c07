// The decoded-frame cache (StoreConfig::image_cache): every frame of a source dataset's Image
// column decoded once into a memory-mapped file of rows x max_obs_image_pixels uint8 values
// (each row exactly what the decode path writes: the pixels, then zeros; a null frame all
// zeros), after which image windows are plain run copies.
//
// Entry: <cache root>/frames-<16 hex>/ with
//   frames.u8          the decoded rows, written as frames.u8.tmp-<pid> and renamed into place
//   fingerprint.json   what the rows were decoded from, written last (through a rename)
//   lock               flock()ed by whoever reads or fills the entry
// The source fingerprint is the stamp (path, size, mtime) of each data file of the dataset, or,
// for a dataset without files (in memory, or passed from Python), a hash of every image's bytes;
// plus the column and the row width. A mismatching or damaged entry is rebuilt; processes and
// threads sharing a cache serialise on the entry's lock, so the first builds and the others map
// its result. Temporaries of killed builds are removed under the lock; after a load, entries
// whose source files are gone are removed (each only if nobody holds its lock).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mouse/buffer.hpp"
#include "mouse/dataset.hpp"
#include "mouse/dataset_store.hpp"
#include "store/contract.hpp"
#include "store/encoder.hpp"

namespace mouse::detail {

/// A dataset's record batches with the Image column replaced by a fixed_size_list<uint8> view
/// of the mapped cache, and the plan for them.
struct CachedFrames {
  std::vector<std::vector<arrow::ArrayPtr>> batch_columns;  ///< per record batch of the dataset
  SchemaPlan plan;
  std::shared_ptr<MappedFile> file;  ///< owns the bytes the views point into
  std::filesystem::path path;        ///< the frames.u8 file
  bool built = false;                ///< decoded by this call (false: an existing entry matched)
};

/// The cache root `setting` names: "auto" (or "default") -> $MOUSE_DATA_CACHE/frames, else
/// $XDG_CACHE_HOME/mouse-data/frames, else ~/.cache/mouse-data/frames; anything else is the
/// directory itself. InvalidArgument when "auto" finds none of those variables.
std::filesystem::path frame_cache_root(const std::string& setting);

/// The cached frames of `ds` (planned as `plan` under `config`, named `label` in messages), or
/// nullopt when the store does not decode an Image column of it (no obs_image key, or the column
/// is not an Image) or config.image_cache is empty. Builds the entry when it is missing or
/// stale: announces its size on stderr, refuses with IoError naming the directory, the bytes
/// needed and the bytes free when the disk lacks the space, and shows progress while decoding.
/// Errors while decoding are those of the decode path (FormatError naming the row). Frames wider
/// than max_obs_image_pixels are reported to `warning` when given. With image_cache "default"
/// the entry may take at most a quarter of the free space, and any error but a FormatError of a
/// frame (no cache directory, one that cannot be written, too little room) is one line on
/// stderr and nullopt (frames decoded on every read).
std::optional<CachedFrames> cached_frames(const Dataset& ds, const SchemaPlan& plan,
                                          const StoreConfig& config, const std::string& label,
                                          ImageWidthWarning* warning = nullptr);

}  // namespace mouse::detail
