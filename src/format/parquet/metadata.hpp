// Parquet footer and page-header structures (the subset of parquet.thrift mouse-data uses),
// decoded from and encoded to the Thrift compact protocol.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mouse::parquet::detail {

/// Physical types (parquet.thrift `Type`).
enum PhysicalType : int32_t {
  kBoolean = 0,
  kInt32 = 1,
  kInt64 = 2,
  kInt96 = 3,
  kFloat = 4,
  kDouble = 5,
  kByteArray = 6,
  kFixedLenByteArray = 7,
};

/// FieldRepetitionType.
enum Repetition : int32_t { kRequired = 0, kOptional = 1, kRepeated = 2 };

/// ConvertedType (legacy annotations); -1 when absent.
enum ConvertedType : int32_t {
  kNoConverted = -1,
  kUtf8 = 0,
  kMap = 1,
  kMapKeyValue = 2,
  kList = 3,
  kEnum = 4,
  kDecimal = 5,
  kDate = 6,
  kTimeMillis = 7,
  kTimeMicros = 8,
  kTimestampMillis = 9,
  kTimestampMicros = 10,
  kUint8 = 11,
  kUint16 = 12,
  kUint32 = 13,
  kUint64 = 14,
  kInt8 = 15,
  kInt16 = 16,
  kInt32Conv = 17,
  kInt64Conv = 18,
  kJson = 19,
  kBson = 20,
  kInterval = 21,
};

/// LogicalType union member ids; 0 when absent.
enum LogicalKind : int32_t {
  kNoLogical = 0,
  kLString = 1,
  kLMap = 2,
  kLList = 3,
  kLEnum = 4,
  kLDecimal = 5,
  kLDate = 6,
  kLTime = 7,
  kLTimestamp = 8,
  kLInteger = 10,
  kLUnknown = 11,
  kLJson = 12,
  kLBson = 13,
  kLUuid = 14,
  kLFloat16 = 15,
};

/// Encodings.
enum Encoding : int32_t {
  kPlain = 0,
  kPlainDictionary = 2,
  kRle = 3,
  kBitPacked = 4,
  kDeltaBinaryPacked = 5,
  kDeltaLengthByteArray = 6,
  kDeltaByteArray = 7,
  kRleDictionary = 8,
  kByteStreamSplit = 9,
};

/// Compression codecs.
enum Codec : int32_t {
  kUncompressed = 0,
  kSnappy = 1,
  kGzip = 2,
  kLzo = 3,
  kBrotli = 4,
  kLz4Hadoop = 5,
  kZstd = 6,
  kLz4Raw = 7,
};

/// Page types.
enum PageType : int32_t { kDataPage = 0, kIndexPage = 1, kDictionaryPage = 2, kDataPageV2 = 3 };

struct SchemaElement {
  std::optional<int32_t> type;  ///< absent for groups
  int32_t type_length = 0;
  int32_t repetition = kRequired;
  bool has_repetition = false;
  std::string name;
  int32_t num_children = 0;
  int32_t converted_type = kNoConverted;
  int32_t scale = 0;
  int32_t precision = 0;
  int32_t logical = kNoLogical;
  int32_t int_bit_width = 0;  ///< LogicalType INTEGER
  bool int_signed = true;
};

struct Statistics {
  std::optional<std::string> min_value, max_value;
  std::optional<int64_t> null_count;
};

struct ColumnMetaData {
  int32_t type = 0;
  std::vector<int32_t> encodings;
  std::vector<std::string> path;
  int32_t codec = kUncompressed;
  int64_t num_values = 0;
  int64_t total_uncompressed_size = 0;
  int64_t total_compressed_size = 0;
  int64_t data_page_offset = 0;
  std::optional<int64_t> dictionary_page_offset;
  Statistics statistics;
};

struct ColumnChunk {
  std::string file_path;
  int64_t file_offset = 0;
  bool has_meta = false;
  ColumnMetaData meta;
};

struct RowGroup {
  std::vector<ColumnChunk> columns;
  int64_t total_byte_size = 0;
  int64_t num_rows = 0;
};

struct FileMetaData {
  int32_t version = 0;
  std::vector<SchemaElement> schema;
  int64_t num_rows = 0;
  std::vector<RowGroup> row_groups;
  std::vector<std::pair<std::string, std::string>> key_value;
  std::string created_by;
};

struct PageHeader {
  int32_t type = 0;
  int32_t uncompressed_page_size = 0;
  int32_t compressed_page_size = 0;
  std::optional<int32_t> crc;
  // DataPageHeader / DataPageHeaderV2 / DictionaryPageHeader (whichever `type` says).
  int32_t num_values = 0;
  int32_t encoding = kPlain;
  int32_t def_encoding = kRle;
  int32_t rep_encoding = kRle;
  int32_t num_nulls = 0;
  int32_t num_rows = 0;
  int32_t def_levels_byte_length = 0;
  int32_t rep_levels_byte_length = 0;
  bool is_compressed = true;
  bool has_body_header = false;
  Statistics statistics;
};

/// Decodes the FileMetaData at `[data, data + size)`; `base` is its offset in `source`.
FileMetaData parse_file_metadata(const uint8_t* data, int64_t size, std::string_view source,
                                 int64_t base);

/// Decodes one page header; returns it and sets `*header_size` to its encoded length.
PageHeader parse_page_header(const uint8_t* data, int64_t size, std::string_view source,
                             int64_t base, int64_t* header_size);

/// Encoders for the writer.
void write_file_metadata(std::vector<uint8_t>& out, const FileMetaData& meta);
void write_page_header(std::vector<uint8_t>& out, const PageHeader& header);

/// Names for messages.
std::string_view physical_type_name(int32_t type);
std::string_view encoding_name(int32_t encoding);
std::string_view codec_name(int32_t codec);

}  // namespace mouse::parquet::detail
