// save_stream_to_disk: a save_to_disk directory written from record batches produced on demand,
// holding one batch at a time (ShardWriter writes exactly what save_to_disk writes for them).
//
// The shard count, int(nbytes / max_shard_bytes) + 1, depends on the byte size of all rows,
// known only at the end, and the shard boundaries depend on the count, so shards cannot be
// written first and renamed later. The first pass therefore writes straight into the single
// shard that small datasets get while counting bytes; as soon as the count says that one shard
// will not do, that file is deleted and the pass goes on measuring only. A second pass then
// writes the final shards. Outputs below max_shard_bytes (500 MB by default) take one pass.
#include <fmt/format.h>

#include <memory>

#include "hf/atomic_dir.hpp"
#include "hf/dataset_state.hpp"
#include "hf/shard_writer.hpp"
#include "mouse/dataset.hpp"
#include "mouse/error.hpp"

namespace mouse {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kWhere = "save_stream_to_disk";

void check_stream(const BatchStream& stream, std::string_view name) {
  detail::check_stream(stream, name, kWhere);
}

template <class Take>
void run_pass(const BatchStream& stream, const arrow::Schema& schema, int pass, Take&& take) {
  detail::run_stream_pass(stream, schema, pass, kWhere, std::forward<Take>(take));
}

// Writes one streamed dataset into the existing, empty directory `dir`.
void write_stream(const BatchStream& stream, const fs::path& dir, const SaveOptions& options) {
  const detail::DatasetState& layout = detail::DatasetAccess::state(stream.layout);
  const arrow::Schema& schema = *layout.schema;
  const int64_t rows = stream.num_rows;
  auto make_writer = [&](int64_t shards) {
    return std::make_unique<detail::ShardWriter>(dir, schema, layout.features, rows, shards,
                                                 options.max_batch_rows);
  };

  if (options.num_shards) {
    auto writer = make_writer(detail::shard_count(options, rows, 0));
    run_pass(stream, schema, 1, [&](const arrow::RecordBatch& batch, int64_t) { writer->write(batch); });
    writer->finish(layout.info, layout.split);
    return;
  }

  auto writer = make_writer(1);
  int64_t total = 0;
  run_pass(stream, schema, 1, [&](const arrow::RecordBatch& batch, int64_t nbytes) {
    total = nbytes;
    if (writer && detail::shard_count(options, rows, nbytes) > 1) {
      writer->abandon();
      writer.reset();
    }
    if (writer) writer->write(batch);
  });
  if (writer) {
    writer->finish(layout.info, layout.split);
    return;
  }

  writer = make_writer(detail::shard_count(options, rows, total));
  int64_t again = 0;
  run_pass(stream, schema, 2, [&](const arrow::RecordBatch& batch, int64_t nbytes) {
    again = nbytes;
    if (nbytes > total) {
      throw InvalidArgument(fmt::format(
          "{}: the stream produced other batches on its second call (over {} bytes, the first "
          "call {})",
          kWhere, nbytes, total));
    }
    writer->write(batch);
  });
  if (again != total) {
    throw InvalidArgument(fmt::format(
        "{}: the stream produced other batches on its second call ({} bytes, the first call {})",
        kWhere, again, total));
  }
  writer->finish(layout.info, layout.split);
}

}  // namespace

namespace detail {

void check_stream(const BatchStream& stream, std::string_view name, std::string_view where) {
  const std::string of = name.empty() ? std::string() : fmt::format(" (split \"{}\")", name);
  if (!stream.produce) {
    throw InvalidArgument(fmt::format("{}: the stream{} has no produce function", where, of));
  }
  if (stream.num_rows < 0) {
    throw InvalidArgument(
        fmt::format("{}: num_rows{} must be >= 0, got {}", where, of, stream.num_rows));
  }
}

}  // namespace detail

void save_stream_to_disk(const BatchStream& stream, const fs::path& path, const SaveOptions& options) {
  detail::check_save_options(options);
  check_stream(stream, "");
  detail::replace_directory_atomically(path, [&](const fs::path& dir) { write_stream(stream, dir, options); });
}

void save_streams_to_disk(const std::vector<std::pair<std::string, BatchStream>>& splits,
                          const fs::path& path, const SaveOptions& options) {
  detail::check_save_options(options);
  if (splits.empty()) throw InvalidArgument(fmt::format("{}: no splits given", kWhere));
  std::vector<std::string> names;
  for (const auto& [name, stream] : splits) {
    if (!detail::valid_split_name(name)) {
      throw InvalidArgument(fmt::format(
          "{}: invalid split name \"{}\": it names a directory, so it must be non-empty and not "
          "contain '/' or be \".\" or \"..\"",
          kWhere, name));
    }
    for (const auto& seen : names) {
      if (seen == name) throw InvalidArgument(fmt::format("{}: split \"{}\" is given twice", kWhere, name));
    }
    check_stream(stream, name);
    names.push_back(name);
  }
  detail::replace_directory_atomically(path, [&](const fs::path& dir) {
    detail::write_dataset_dict(dir, names, [&](size_t i, const fs::path& split_dir) {
      write_stream(splits[i].second, split_dir, options);
    });
  });
}

}  // namespace mouse
