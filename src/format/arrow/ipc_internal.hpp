// Internal pieces of the Arrow IPC reader shared between its translation units.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "format/arrow/flatbuf.hpp"
#include "mouse/arrow.hpp"
#include "mouse/arrow_ipc.hpp"
#include "mouse/buffer.hpp"

namespace mouse::detail {

/// Field ids and enum values from Arrow's Schema.fbs / Message.fbs / File.fbs.
namespace fbs {
// Message
inline constexpr int kMessageVersion = 0, kMessageHeaderType = 1, kMessageHeader = 2,
                     kMessageBodyLength = 3;
inline constexpr uint8_t kHeaderSchema = 1, kHeaderDictionaryBatch = 2, kHeaderRecordBatch = 3,
                         kHeaderTensor = 4, kHeaderSparseTensor = 5;
// MetadataVersion: V1 = 0 ... V5 = 4.
inline constexpr int16_t kVersionV4 = 3, kVersionV5 = 4;
// Schema
inline constexpr int kSchemaEndianness = 0, kSchemaFields = 1, kSchemaMetadata = 2;
// Field
inline constexpr int kFieldName = 0, kFieldNullable = 1, kFieldTypeType = 2, kFieldType = 3,
                     kFieldDictionary = 4, kFieldChildren = 5, kFieldMetadata = 6;
// KeyValue
inline constexpr int kKey = 0, kValue = 1;
// RecordBatch
inline constexpr int kBatchLength = 0, kBatchNodes = 1, kBatchBuffers = 2, kBatchCompression = 3,
                     kBatchVariadicCounts = 4;
// BodyCompression
inline constexpr int kCompressionCodec = 0, kCompressionMethod = 1;
// Footer
inline constexpr int kFooterVersion = 0, kFooterSchema = 1, kFooterDictionaries = 2,
                     kFooterRecordBatches = 3;
}  // namespace fbs

/// Most nested type levels accepted in a schema.
inline constexpr int kMaxTypeDepth = 64;

/// Decodes a Schema table: fields (supported types only), metadata, endianness.
std::shared_ptr<const arrow::Schema> decode_schema(const fb::Table& schema);

/// `name` for error messages: control bytes escaped as \xNN so corrupt names stay readable.
std::string printable_name(std::string_view name);

/// Checks a MetadataVersion value read at `table` (a Message or Footer).
void check_metadata_version(int16_t version, const fb::Table& table);

/// Decompresses `compressed` (the buffer's bytes after the 8-byte length prefix) into a new
/// buffer of exactly `uncompressed_size` bytes. Errors name `source`, `offset` and `what`.
Buffer decompress_buffer(arrow::IpcCompression codec, const uint8_t* compressed,
                         int64_t compressed_size, int64_t uncompressed_size,
                         std::string_view source, int64_t offset, std::string_view what);

}  // namespace mouse::detail
