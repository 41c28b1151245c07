// Apache Parquet: reading files into Arrow record batches and writing record batches as
// Parquet files that other implementations (pyarrow, DuckDB, parquet-rs) read back exactly.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mouse/arrow.hpp"
#include "mouse/buffer.hpp"

namespace mouse::parquet {

/// Options for reading.
struct ReadOptions {
  /// Top-level columns to read, in the order given; empty reads every column. A name that is
  /// not in the file is a KeyError.
  std::vector<std::string> columns;
  /// Check the CRC32 of pages that carry one (a mismatch is a FormatError).
  bool verify_checksums = true;
  /// When the file has an "ARROW:schema" key (pyarrow, the Hub, our writer), give columns the
  /// Arrow types recorded there where they only differ in representation: large_utf8 /
  /// large_binary / large_list, fixed_size_list (HF `Sequence(length=N)`), item names.
  bool use_arrow_schema = true;
};

/// A decoded Parquet file: the Arrow schema (its metadata holds the file's key/value metadata,
/// e.g. "huggingface" and "ARROW:schema") and one record batch per row group. Batches own
/// their buffers (Parquet data is always decoded, never viewed in place).
struct Table {
  std::shared_ptr<const arrow::Schema> schema;
  std::vector<arrow::RecordBatch> batches;
  /// Sum of the batches' row counts (counted from the levels, not taken from the footer).
  int64_t num_rows() const noexcept;
};

/// Reads the Parquet file at `path`. Types map as pyarrow maps them: BOOLEAN -> bool, INT32 /
/// INT64 with their INTEGER annotation -> (u)int8..64, FLOAT / DOUBLE -> float / double,
/// FLOAT16 -> float16, BYTE_ARRAY with STRING / ENUM / JSON -> utf8, other BYTE_ARRAY and
/// FIXED_LEN_BYTE_ARRAY -> binary, UNKNOWN (null) -> null; LIST (3-level and legacy 2-level)
/// and unannotated repeated fields -> list, MAP -> list<struct<key, value>>, groups -> struct.
/// Throws IoError if the file cannot be read, KeyError for an unknown column in `options`, and
/// FormatError (file, byte offset, expected vs found) for corrupt data or for a selected column
/// of a type outside that list (INT96, DECIMAL, DATE, TIME, TIMESTAMP, INTERVAL), naming it.
Table read_parquet(const std::filesystem::path& path, const ReadOptions& options = {});

/// Reads Parquet bytes held by `bytes`; `source` names them in errors. Not retained.
Table read_parquet(const Buffer& bytes, std::string_view source, const ReadOptions& options = {});

/// One top-level column of a Parquet file as `inspect_parquet` describes it.
struct ColumnInfo {
  std::string name;
  /// The Arrow type it reads as, or nullptr when `unsupported` is set.
  arrow::TypePtr type;
  bool nullable = true;
  /// Why the column cannot be read (names the leaf and its Parquet type); empty if it can.
  std::string unsupported;
};

/// What the footer of a Parquet file says, without decoding any page.
struct FileInfo {
  std::vector<ColumnInfo> columns;
  int64_t num_row_groups = 0;
  /// The footer's row count (informational: some writers get it wrong; reading counts rows).
  int64_t footer_num_rows = 0;
  /// Sum of the row groups' total_byte_size: the column data's size uncompressed (an estimate of
  /// its size decoded).
  int64_t uncompressed_bytes = 0;
  arrow::KeyValueMetadata metadata;
  std::string created_by;
};

/// Reads and checks the footer and schema of the Parquet file at `path`. Throws IoError and
/// FormatError as `read_parquet` does.
FileInfo inspect_parquet(const std::filesystem::path& path);

/// As above over bytes held by `bytes`; `source` names them in errors.
FileInfo inspect_parquet(const Buffer& bytes, std::string_view source);

/// Page compression for writing.
enum class Compression { kNone, kSnappy, kGzip, kZstd, kLz4Raw, kBrotli };

/// Options for writing.
struct WriteOptions {
  Compression compression = Compression::kSnappy;
  /// Codec level (zstd, gzip, brotli); 0 picks the codec's default.
  int compression_level = 0;
  /// Rows per row group (a row group is never split across input batches' boundaries; it is
  /// cut every `row_group_rows` rows).
  int64_t row_group_rows = 1 << 20;
  /// Target size of one data page's values, in bytes before compression.
  int64_t page_bytes = 1 << 20;
  /// Dictionary-encode a column chunk (RLE_DICTIONARY) when it has at most
  /// `dictionary_max_values` distinct values and they are fewer than half of its values;
  /// otherwise PLAIN.
  bool dictionary = true;
  int64_t dictionary_max_values = 1 << 16;
  /// Write min/max/null_count statistics for each column chunk.
  bool statistics = true;
  /// Also write an "ARROW:schema" key (base64 of the stream-framed IPC schema message, as
  /// pyarrow and the Hub write it) unless the schema metadata already has one.
  bool store_arrow_schema = true;
};

/// Encodes `batches` (which must all match `schema`) as a Parquet file (format version 2,
/// data page v1). The schema's metadata becomes the file's key/value metadata (so a
/// "huggingface" key is written as `datasets` writes it). Supported column types: bool, all
/// integer widths, float16/32/64, utf8/binary (and large), list / large_list /
/// fixed_size_list (written as LIST) and struct, nested and nullable at any level. Throws
/// InvalidArgument for other types or mismatched batches.
std::vector<uint8_t> write_parquet(const std::shared_ptr<const arrow::Schema>& schema,
                                   std::span<const arrow::RecordBatch> batches,
                                   const WriteOptions& options = {});

/// As above, written to `path` atomically (temporary file renamed into place). Throws IoError.
void write_parquet(const std::filesystem::path& path,
                   const std::shared_ptr<const arrow::Schema>& schema,
                   std::span<const arrow::RecordBatch> batches, const WriteOptions& options = {});

/// A Parquet file written batch by batch: rows are shredded as they come and each row group is
/// encoded and written out once it holds options.row_group_rows rows, so memory holds one row
/// group however many rows the file gets. The bytes are those write_parquet gives for the same
/// batches. The file is written under a temporary name beside `path` and renamed into place by
/// close(); a writer destroyed without close() (an error, an exception) removes it, leaving
/// `path` as it was. Not thread-safe.
class ParquetWriter {
 public:
  /// Creates the temporary file. InvalidArgument for a null schema or bad options; IoError.
  ParquetWriter(std::filesystem::path path, std::shared_ptr<const arrow::Schema> schema,
                const WriteOptions& options = {});
  ~ParquetWriter();
  ParquetWriter(const ParquetWriter&) = delete;
  ParquetWriter& operator=(const ParquetWriter&) = delete;

  /// Appends the rows of `batch` (columns matching the schema: InvalidArgument naming the
  /// column otherwise); the batch is not kept. IoError when the file cannot be written.
  void write(const arrow::RecordBatch& batch);
  /// Writes the last row group and the footer, syncs and renames the file into place. Further
  /// writes are errors; a second close() does nothing. IoError.
  void close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mouse::parquet
