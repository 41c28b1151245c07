// The shards, dataset_info.json and state.json of one save_to_disk directory, written from
// record batches handed over one at a time (save.cpp for in-memory datasets, save_stream.cpp for
// streamed ones), so both write the same bytes by construction.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "hf/atomic_dir.hpp"
#include "hf/dataset_state.hpp"
#include "hf/features.hpp"
#include "mouse/arrow.hpp"
#include "mouse/arrow_ipc.hpp"
#include "mouse/dataset.hpp"
#include "mouse/error.hpp"

namespace mouse::detail {

/// InvalidArgument, prefixed `where` and naming split `name` when given, for a stream without
/// a produce function or with num_rows < 0.
void check_stream(const BatchStream& stream, std::string_view name, std::string_view where);

/// Runs stream.produce once, checking every batch against `schema` (check_batch) and the rows
/// against num_rows (InvalidArgument prefixed `where`; `pass` 2 says "on its second call"), and
/// hands each batch to `take(batch, bytes so far)` (batch_nbytes summed).
template <class Take>
void run_stream_pass(const BatchStream& stream, const arrow::Schema& schema, int pass,
                     std::string_view where, Take&& take);

/// Bytes of column data of `batch` as pyarrow's nbytes counts them (dataset_nbytes sums this
/// over a dataset's batches).
int64_t batch_nbytes(const arrow::RecordBatch& batch);

/// The shard count save_to_disk uses for `rows` rows holding `nbytes` bytes of column data:
/// options.num_shards, else int(nbytes / max_shard_bytes) + 1, at most one shard per row (and
/// at least one).
int64_t shard_count(const SaveOptions& options, int64_t rows, int64_t nbytes);

/// Writes `rows` rows as `num_shards` contiguous shards data-NNNNN-of-MMMMM.arrow of near-equal
/// row counts (the first rows % num_shards shards get one row more) into an existing directory,
/// from source batches given in row order. Each source batch is cut at shard boundaries and
/// into pieces of at most max_batch_rows rows; a whole batch is written as it is. Holds no
/// batch after write() returns. Not thread-safe. IoError from the files; InvalidArgument when
/// the batches hold more or fewer than `rows` rows.
class ShardWriter {
 public:
  /// `schema` gives the fields (written nullable, with the features as `huggingface`
  /// metadata); `features` are the dataset's (already matched to the schema).
  ShardWriter(std::filesystem::path dir, const arrow::Schema& schema, const Features& features,
              int64_t rows, int64_t num_shards, int64_t max_batch_rows);
  ~ShardWriter();
  ShardWriter(const ShardWriter&) = delete;
  ShardWriter& operator=(const ShardWriter&) = delete;

  /// Appends the rows of `batch` (its columns must match the schema; checked by the caller).
  void write(const arrow::RecordBatch& batch);
  /// Closes the last shard and writes dataset_info.json (from `info`, a default one when it is
  /// not an object) and state.json (with `split` and the fingerprint of what was written).
  void finish(const nlohmann::ordered_json& info, const std::optional<std::string>& split);
  /// Closes and deletes the shard files written so far (a streamed save found that it needs
  /// another shard count); the writer takes no more rows. Never throws.
  void abandon() noexcept;

 private:
  struct Shard;
  void open_shard();
  void close_shard();
  int64_t shard_rows(int64_t shard) const noexcept;

  std::filesystem::path dir_;
  nlohmann::ordered_json features_json_;
  std::shared_ptr<arrow::Schema> schema_;
  int64_t rows_;
  int64_t num_shards_;
  int64_t max_batch_rows_;
  int64_t shard_ = -1;           // index of the open shard
  int64_t rows_in_shard_ = 0;    // rows written to it
  int64_t rows_written_ = 0;
  std::unique_ptr<Shard> open_;
  ContentHash hash_;
  nlohmann::ordered_json data_files_ = nlohmann::ordered_json::array();
};

}  // namespace mouse::detail

namespace mouse::detail {

template <class Take>
void run_stream_pass(const BatchStream& stream, const arrow::Schema& schema, int pass,
                     std::string_view where, Take&& take) {
  int64_t rows = 0;
  int64_t nbytes = 0;
  size_t index = 0;
  stream.produce([&](const arrow::RecordBatch& batch) {
    check_batch(schema, batch, index++, where);
    rows += batch.num_rows;
    if (rows > stream.num_rows) {
      throw InvalidArgument(fmt::format("{}: expected {} rows, the stream produced at least {}",
                                        where, stream.num_rows, rows));
    }
    nbytes += batch_nbytes(batch);
    take(batch, nbytes);
  });
  if (rows != stream.num_rows) {
    throw InvalidArgument(fmt::format("{}: expected {} rows, the stream produced {}{}", where,
                                      stream.num_rows, rows, pass == 2 ? " on its second call" : ""));
  }
}

}  // namespace mouse::detail
