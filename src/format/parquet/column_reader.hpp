// Reads one column chunk: walks its pages (dictionary, data v1, data v2), checks CRCs,
// decompresses, and decodes repetition levels, definition levels and values.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "format/parquet/encodings.hpp"
#include "format/parquet/metadata.hpp"

namespace mouse::parquet::detail {

/// What the chunk reader needs to know about a leaf column.
struct LeafInfo {
  std::string path;  ///< dotted path, for messages
  int32_t physical_type = 0;
  int32_t type_length = 0;
  int16_t max_def = 0;
  int16_t max_rep = 0;
};

/// Levels and non-null values of one leaf column over one column chunk.
struct LeafData {
  std::vector<int16_t> def;  ///< one per level entry (empty when max_def == 0: all present)
  std::vector<int16_t> rep;  ///< one per level entry (empty when max_rep == 0)
  int64_t entries = 0;       ///< level entries (slots, including nulls and empty lists)
  Values values;             ///< entries whose def == max_def, in order
};

/// Reads the chunk `chunk` of leaf `leaf` from the file bytes `[file, file + file_size)`;
/// pages must lie before `data_end` (the start of the footer). Throws FormatError naming
/// `source`, the byte offset and the column.
LeafData read_column_chunk(const uint8_t* file, int64_t file_size, int64_t data_end,
                           const ColumnChunk& chunk, const LeafInfo& leaf,
                           const std::string& source, bool verify_checksums);

}  // namespace mouse::parquet::detail
