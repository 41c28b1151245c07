// Arrow IPC: reading the stream framing (also the pre-1.0 legacy framing) and the file framing
// over memory-mapped files, and writing the stream framing the way Hugging Face `datasets` does.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mouse/arrow.hpp"
#include "mouse/buffer.hpp"

namespace mouse::arrow {

/// How the messages of an IPC payload are framed.
enum class IpcFraming {
  kStream,        ///< 0xFFFFFFFF continuation + int32 length + flatbuffer + body (Arrow >= 0.15)
  kLegacyStream,  ///< int32 length + flatbuffer + body (Arrow < 0.15)
  kFile,          ///< "ARROW1" magic, a stream, a footer flatbuffer and "ARROW1" again
};

/// Body compression codecs (Arrow's BodyCompression).
enum class IpcCompression { kNone, kLz4Frame, kZstd };

/// Options for reading.
struct IpcReadOptions {
  /// Also check every offset of every variable-size array (touches all offsets pages); the
  /// default checks structure only, in time and memory independent of the row count.
  bool validate_full = false;
};

/// A fully-indexed IPC payload: the schema and every record batch. Column buffers point into
/// the mapped file (or, for compressed bodies, into their decompressed copies) and keep it alive.
struct IpcTable {
  std::shared_ptr<const Schema> schema;
  std::vector<RecordBatch> batches;
  IpcFraming framing = IpcFraming::kStream;
  /// Sum of the batches' row counts.
  int64_t num_rows() const noexcept;
};

/// Memory-maps `path` and reads it, detecting the framing. Throws IoError if the file cannot be
/// opened and FormatError (naming the file, byte offset, expected vs found) if it is corrupt,
/// truncated, big-endian, newer than metadata V5, or uses a type outside SPEC §2.5.
IpcTable read_ipc(const std::filesystem::path& path, const IpcReadOptions& options = {});

/// Reads IPC bytes held by `bytes` (kept alive by the result); `source` names them in errors.
IpcTable read_ipc(const Buffer& bytes, std::string_view source,
                  const IpcReadOptions& options = {});

/// Options for writing.
struct IpcWriteOptions {
  /// Body compression (datasets writes none; readers must then support it).
  IpcCompression compression = IpcCompression::kNone;
};

/// Writes the IPC stream framing incrementally to a byte sink: the schema message on
/// construction, one message per `write`, the end-of-stream marker on `finish`. Validity
/// buffers are omitted (length 0) for columns without nulls, buffers are 8-byte aligned and
/// padded, as pyarrow writes them. Not thread-safe.
class IpcStreamWriter {
 public:
  /// Receives the output bytes in order.
  using Sink = std::function<void(std::span<const uint8_t>)>;
  IpcStreamWriter(Sink sink, std::shared_ptr<const Schema> schema, IpcWriteOptions options = {});
  ~IpcStreamWriter();
  IpcStreamWriter(const IpcStreamWriter&) = delete;
  IpcStreamWriter& operator=(const IpcStreamWriter&) = delete;

  /// Appends one record batch; InvalidArgument if its columns do not match the schema.
  void write(const RecordBatch& batch);
  /// Writes the end-of-stream marker; further writes are an error. Idempotent.
  void finish();
  /// Bytes handed to the sink so far.
  int64_t bytes_written() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Convenience: the whole stream for `schema` and `batches` as bytes.
std::vector<uint8_t> write_ipc_stream(std::shared_ptr<const Schema> schema,
                                      std::span<const RecordBatch> batches,
                                      const IpcWriteOptions& options = {});

}  // namespace mouse::arrow
