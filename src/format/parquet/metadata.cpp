// Parquet metadata <-> Thrift compact. Field ids follow parquet.thrift; unknown fields are
// skipped so newer writers' additions do not break reading.
#include "format/parquet/metadata.hpp"

#include <fmt/format.h>

#include "format/parquet/thrift.hpp"
#include "mouse/error.hpp"

namespace mouse::parquet::detail {

namespace {

using T = ThriftType;

void expect(ThriftReader& r, ThriftType got, ThriftType want, std::string_view what) {
  if (got != want) {
    r.fail(fmt::format("{} of wire type {}, found wire type {}", what, static_cast<int>(want),
                       static_cast<int>(got)));
  }
}

int32_t read_i32_field(ThriftReader& r, ThriftType t, std::string_view what) {
  if (t == T::kByte) return r.read_byte();
  if (t == T::kI16) return r.read_i16();
  expect(r, t, T::kI32, what);
  return r.read_i32();
}

int64_t read_i64_field(ThriftReader& r, ThriftType t, std::string_view what) {
  if (t == T::kI32) return r.read_i32();
  expect(r, t, T::kI64, what);
  return r.read_i64();
}

std::string read_string_field(ThriftReader& r, ThriftType t, std::string_view what) {
  expect(r, t, T::kBinary, what);
  return std::string(r.read_binary());
}

bool read_bool_field(ThriftReader& r, ThriftType t, std::string_view what) {
  if (t != T::kTrue && t != T::kFalse) {
    r.fail(fmt::format("{} as a bool, found wire type {}", what, static_cast<int>(t)));
  }
  return ThriftReader::bool_of(t);
}

// Calls `fn(id, type)` for every field of a struct the reader is positioned at.
template <class Fn>
void read_struct(ThriftReader& r, Fn&& fn) {
  r.begin_struct();
  int16_t id;
  ThriftType t;
  while (r.next_field(&id, &t)) fn(id, t);
  r.end_struct();
}

template <class Fn>
void read_list(ThriftReader& r, ThriftType t, ThriftType want, std::string_view what, Fn&& fn) {
  expect(r, t, T::kList, what);
  ThriftType elem;
  int64_t n = r.read_list_header(&elem);
  // i16/i32/i64 share the zigzag-varint encoding; some writers use a narrower wire type.
  const bool varint_ok = want == T::kI32 && (elem == T::kI16 || elem == T::kI64);
  if (n > 0 && !varint_ok) expect(r, elem, want, what);
  for (int64_t i = 0; i < n; ++i) fn(i);
}

void parse_logical(ThriftReader& r, SchemaElement& e) {
  read_struct(r, [&](int16_t id, ThriftType t) {
    if (t != T::kStruct) {
      r.skip(t);
      return;
    }
    e.logical = id;
    if (id == kLInteger) {
      read_struct(r, [&](int16_t fid, ThriftType ft) {
        if (fid == 1) {
          e.int_bit_width = read_i32_field(r, ft, "IntType.bitWidth");
        } else if (fid == 2) {
          e.int_signed = read_bool_field(r, ft, "IntType.isSigned");
        } else {
          r.skip(ft);
        }
      });
    } else if (id == kLDecimal) {
      read_struct(r, [&](int16_t fid, ThriftType ft) {
        if (fid == 1) {
          e.scale = read_i32_field(r, ft, "DecimalType.scale");
        } else if (fid == 2) {
          e.precision = read_i32_field(r, ft, "DecimalType.precision");
        } else {
          r.skip(ft);
        }
      });
    } else {
      r.skip(t);
    }
  });
}

SchemaElement parse_schema_element(ThriftReader& r) {
  SchemaElement e;
  read_struct(r, [&](int16_t id, ThriftType t) {
    switch (id) {
      case 1: e.type = read_i32_field(r, t, "SchemaElement.type"); break;
      case 2: e.type_length = read_i32_field(r, t, "SchemaElement.type_length"); break;
      case 3:
        e.repetition = read_i32_field(r, t, "SchemaElement.repetition_type");
        e.has_repetition = true;
        break;
      case 4: e.name = read_string_field(r, t, "SchemaElement.name"); break;
      case 5: e.num_children = read_i32_field(r, t, "SchemaElement.num_children"); break;
      case 6: e.converted_type = read_i32_field(r, t, "SchemaElement.converted_type"); break;
      case 7: e.scale = read_i32_field(r, t, "SchemaElement.scale"); break;
      case 8: e.precision = read_i32_field(r, t, "SchemaElement.precision"); break;
      case 10:
        expect(r, t, T::kStruct, "SchemaElement.logicalType");
        parse_logical(r, e);
        break;
      default: r.skip(t);
    }
  });
  return e;
}

Statistics parse_statistics(ThriftReader& r) {
  Statistics s;
  read_struct(r, [&](int16_t id, ThriftType t) {
    switch (id) {
      case 3: s.null_count = read_i64_field(r, t, "Statistics.null_count"); break;
      case 5: s.max_value = read_string_field(r, t, "Statistics.max_value"); break;
      case 6: s.min_value = read_string_field(r, t, "Statistics.min_value"); break;
      default: r.skip(t);
    }
  });
  return s;
}

ColumnMetaData parse_column_meta(ThriftReader& r) {
  ColumnMetaData m;
  read_struct(r, [&](int16_t id, ThriftType t) {
    switch (id) {
      case 1: m.type = read_i32_field(r, t, "ColumnMetaData.type"); break;
      case 2:
        read_list(r, t, T::kI32, "ColumnMetaData.encodings",
                  [&](int64_t) { m.encodings.push_back(r.read_i32()); });
        break;
      case 3:
        read_list(r, t, T::kBinary, "ColumnMetaData.path_in_schema",
                  [&](int64_t) { m.path.emplace_back(r.read_binary()); });
        break;
      case 4: m.codec = read_i32_field(r, t, "ColumnMetaData.codec"); break;
      case 5: m.num_values = read_i64_field(r, t, "ColumnMetaData.num_values"); break;
      case 6:
        m.total_uncompressed_size = read_i64_field(r, t, "ColumnMetaData.total_uncompressed_size");
        break;
      case 7:
        m.total_compressed_size = read_i64_field(r, t, "ColumnMetaData.total_compressed_size");
        break;
      case 9: m.data_page_offset = read_i64_field(r, t, "ColumnMetaData.data_page_offset"); break;
      case 11:
        m.dictionary_page_offset = read_i64_field(r, t, "ColumnMetaData.dictionary_page_offset");
        break;
      case 12:
        expect(r, t, T::kStruct, "ColumnMetaData.statistics");
        m.statistics = parse_statistics(r);
        break;
      default: r.skip(t);
    }
  });
  return m;
}

RowGroup parse_row_group(ThriftReader& r) {
  RowGroup g;
  read_struct(r, [&](int16_t id, ThriftType t) {
    switch (id) {
      case 1:
        read_list(r, t, T::kStruct, "RowGroup.columns", [&](int64_t) {
          ColumnChunk c;
          read_struct(r, [&](int16_t cid, ThriftType ct) {
            if (cid == 1) {
              c.file_path = read_string_field(r, ct, "ColumnChunk.file_path");
            } else if (cid == 2) {
              c.file_offset = read_i64_field(r, ct, "ColumnChunk.file_offset");
            } else if (cid == 3) {
              expect(r, ct, T::kStruct, "ColumnChunk.meta_data");
              c.meta = parse_column_meta(r);
              c.has_meta = true;
            } else {
              r.skip(ct);
            }
          });
          g.columns.push_back(std::move(c));
        });
        break;
      case 2: g.total_byte_size = read_i64_field(r, t, "RowGroup.total_byte_size"); break;
      case 3: g.num_rows = read_i64_field(r, t, "RowGroup.num_rows"); break;
      default: r.skip(t);
    }
  });
  return g;
}

}  // namespace

FileMetaData parse_file_metadata(const uint8_t* data, int64_t size, std::string_view source,
                                 int64_t base) {
  ThriftReader r(data, size, source, base);
  FileMetaData m;
  read_struct(r, [&](int16_t id, ThriftType t) {
    switch (id) {
      case 1: m.version = read_i32_field(r, t, "FileMetaData.version"); break;
      case 2:
        read_list(r, t, T::kStruct, "FileMetaData.schema",
                  [&](int64_t) { m.schema.push_back(parse_schema_element(r)); });
        break;
      case 3: m.num_rows = read_i64_field(r, t, "FileMetaData.num_rows"); break;
      case 4:
        read_list(r, t, T::kStruct, "FileMetaData.row_groups",
                  [&](int64_t) { m.row_groups.push_back(parse_row_group(r)); });
        break;
      case 5:
        read_list(r, t, T::kStruct, "FileMetaData.key_value_metadata", [&](int64_t) {
          std::pair<std::string, std::string> kv;
          read_struct(r, [&](int16_t kid, ThriftType kt) {
            if (kid == 1) {
              kv.first = read_string_field(r, kt, "KeyValue.key");
            } else if (kid == 2) {
              kv.second = read_string_field(r, kt, "KeyValue.value");
            } else {
              r.skip(kt);
            }
          });
          m.key_value.push_back(std::move(kv));
        });
        break;
      case 6: m.created_by = read_string_field(r, t, "FileMetaData.created_by"); break;
      default: r.skip(t);
    }
  });
  return m;
}

PageHeader parse_page_header(const uint8_t* data, int64_t size, std::string_view source,
                             int64_t base, int64_t* header_size) {
  ThriftReader r(data, size, source, base);
  PageHeader h;
  read_struct(r, [&](int16_t id, ThriftType t) {
    switch (id) {
      case 1: h.type = read_i32_field(r, t, "PageHeader.type"); break;
      case 2: h.uncompressed_page_size = read_i32_field(r, t, "PageHeader.uncompressed_page_size"); break;
      case 3: h.compressed_page_size = read_i32_field(r, t, "PageHeader.compressed_page_size"); break;
      case 4: h.crc = read_i32_field(r, t, "PageHeader.crc"); break;
      case 5:  // DataPageHeader
        expect(r, t, T::kStruct, "PageHeader.data_page_header");
        h.has_body_header = h.type == kDataPage;
        read_struct(r, [&](int16_t fid, ThriftType ft) {
          switch (fid) {
            case 1: h.num_values = read_i32_field(r, ft, "DataPageHeader.num_values"); break;
            case 2: h.encoding = read_i32_field(r, ft, "DataPageHeader.encoding"); break;
            case 3: h.def_encoding = read_i32_field(r, ft, "DataPageHeader.definition_level_encoding"); break;
            case 4: h.rep_encoding = read_i32_field(r, ft, "DataPageHeader.repetition_level_encoding"); break;
            default: r.skip(ft);
          }
        });
        break;
      case 7:  // DictionaryPageHeader
        expect(r, t, T::kStruct, "PageHeader.dictionary_page_header");
        h.has_body_header = h.type == kDictionaryPage;
        read_struct(r, [&](int16_t fid, ThriftType ft) {
          switch (fid) {
            case 1: h.num_values = read_i32_field(r, ft, "DictionaryPageHeader.num_values"); break;
            case 2: h.encoding = read_i32_field(r, ft, "DictionaryPageHeader.encoding"); break;
            default: r.skip(ft);
          }
        });
        break;
      case 8:  // DataPageHeaderV2
        expect(r, t, T::kStruct, "PageHeader.data_page_header_v2");
        h.has_body_header = h.type == kDataPageV2;
        read_struct(r, [&](int16_t fid, ThriftType ft) {
          switch (fid) {
            case 1: h.num_values = read_i32_field(r, ft, "DataPageHeaderV2.num_values"); break;
            case 2: h.num_nulls = read_i32_field(r, ft, "DataPageHeaderV2.num_nulls"); break;
            case 3: h.num_rows = read_i32_field(r, ft, "DataPageHeaderV2.num_rows"); break;
            case 4: h.encoding = read_i32_field(r, ft, "DataPageHeaderV2.encoding"); break;
            case 5: h.def_levels_byte_length = read_i32_field(r, ft, "DataPageHeaderV2.definition_levels_byte_length"); break;
            case 6: h.rep_levels_byte_length = read_i32_field(r, ft, "DataPageHeaderV2.repetition_levels_byte_length"); break;
            case 7: h.is_compressed = read_bool_field(r, ft, "DataPageHeaderV2.is_compressed"); break;
            default: r.skip(ft);
          }
        });
        break;
      default: r.skip(t);
    }
  });
  *header_size = r.position();
  return h;
}

// ---------------------------------------------------------------------------------------------

namespace {

void write_statistics(ThriftWriter& w, int16_t id, const Statistics& s) {
  w.field(id, T::kStruct);
  w.begin_struct();
  if (s.null_count) w.i64(3, *s.null_count);
  if (s.max_value) w.binary(5, *s.max_value);
  if (s.min_value) w.binary(6, *s.min_value);
  w.end_struct();
}

void write_schema_element(ThriftWriter& w, const SchemaElement& e) {
  w.begin_struct();
  if (e.type) w.i32(1, *e.type);
  if (e.type_length > 0) w.i32(2, e.type_length);
  if (e.has_repetition) w.i32(3, e.repetition);
  w.binary(4, e.name);
  if (e.num_children > 0 || !e.type) w.i32(5, e.num_children);
  if (e.converted_type != kNoConverted) w.i32(6, e.converted_type);
  if (e.logical != kNoLogical) {
    w.field(10, T::kStruct);
    w.begin_struct();
    w.field(static_cast<int16_t>(e.logical), T::kStruct);
    w.begin_struct();  // every logical type but INTEGER (written by the caller) is empty
    w.end_struct();
    w.end_struct();
  }
  w.end_struct();
}

}  // namespace

void write_file_metadata(std::vector<uint8_t>& out, const FileMetaData& m) {
  ThriftWriter w(out);
  w.begin_struct();
  w.i32(1, m.version);
  w.list_header(2, T::kStruct, static_cast<int64_t>(m.schema.size()));
  for (const auto& e : m.schema) {
    if (e.logical == kLInteger) {
      // IntType carries an i8 and a bool; written by hand to keep the generic writer small.
      w.begin_struct();
      if (e.type) w.i32(1, *e.type);
      if (e.has_repetition) w.i32(3, e.repetition);
      w.binary(4, e.name);
      if (e.converted_type != kNoConverted) w.i32(6, e.converted_type);
      w.field(10, T::kStruct);
      w.begin_struct();
      w.field(kLInteger, T::kStruct);
      w.begin_struct();
      w.field(1, T::kByte);
      out.push_back(static_cast<uint8_t>(e.int_bit_width));
      w.boolean(2, e.int_signed);
      w.end_struct();
      w.end_struct();
      w.end_struct();
    } else {
      write_schema_element(w, e);
    }
  }
  w.i64(3, m.num_rows);
  w.list_header(4, T::kStruct, static_cast<int64_t>(m.row_groups.size()));
  for (const auto& g : m.row_groups) {
    w.begin_struct();
    w.list_header(1, T::kStruct, static_cast<int64_t>(g.columns.size()));
    int64_t compressed = 0;
    for (const auto& c : g.columns) {
      const ColumnMetaData& cm = c.meta;
      compressed += cm.total_compressed_size;
      w.begin_struct();
      w.i64(2, c.file_offset);
      w.field(3, T::kStruct);
      w.begin_struct();
      w.i32(1, cm.type);
      w.list_header(2, T::kI32, static_cast<int64_t>(cm.encodings.size()));
      for (int32_t e : cm.encodings) w.elem_i32(e);
      w.list_header(3, T::kBinary, static_cast<int64_t>(cm.path.size()));
      for (const auto& p : cm.path) w.elem_binary(p);
      w.i32(4, cm.codec);
      w.i64(5, cm.num_values);
      w.i64(6, cm.total_uncompressed_size);
      w.i64(7, cm.total_compressed_size);
      w.i64(9, cm.data_page_offset);
      if (cm.dictionary_page_offset) w.i64(11, *cm.dictionary_page_offset);
      write_statistics(w, 12, cm.statistics);
      w.end_struct();
      w.end_struct();
    }
    w.i64(2, g.total_byte_size);
    w.i64(3, g.num_rows);
    if (!g.columns.empty()) w.i64(5, g.columns.front().meta.dictionary_page_offset.value_or(
                                         g.columns.front().meta.data_page_offset));
    w.i64(6, compressed);
    w.end_struct();
  }
  if (!m.key_value.empty()) {
    w.list_header(5, T::kStruct, static_cast<int64_t>(m.key_value.size()));
    for (const auto& [k, v] : m.key_value) {
      w.begin_struct();
      w.binary(1, k);
      w.binary(2, v);
      w.end_struct();
    }
  }
  w.binary(6, m.created_by);
  // column_orders: TYPE_ORDER for every leaf, so readers trust min/max (unsigned order for
  // unsigned ints and byte arrays, as the logical types define).
  int64_t leaves = 0;
  for (const auto& e : m.schema) leaves += e.type ? 1 : 0;
  w.list_header(7, T::kStruct, leaves);
  for (int64_t i = 0; i < leaves; ++i) {
    w.begin_struct();
    w.field(1, T::kStruct);
    w.begin_struct();
    w.end_struct();
    w.end_struct();
  }
  w.end_struct();
}

void write_page_header(std::vector<uint8_t>& out, const PageHeader& h) {
  ThriftWriter w(out);
  w.begin_struct();
  w.i32(1, h.type);
  w.i32(2, h.uncompressed_page_size);
  w.i32(3, h.compressed_page_size);
  if (h.crc) w.i32(4, *h.crc);
  if (h.type == kDataPage) {
    w.field(5, T::kStruct);
    w.begin_struct();
    w.i32(1, h.num_values);
    w.i32(2, h.encoding);
    w.i32(3, h.def_encoding);
    w.i32(4, h.rep_encoding);
    w.end_struct();
  } else if (h.type == kDictionaryPage) {
    w.field(7, T::kStruct);
    w.begin_struct();
    w.i32(1, h.num_values);
    w.i32(2, h.encoding);
    w.end_struct();
  } else if (h.type == kDataPageV2) {
    w.field(8, T::kStruct);
    w.begin_struct();
    w.i32(1, h.num_values);
    w.i32(2, h.num_nulls);
    w.i32(3, h.num_rows);
    w.i32(4, h.encoding);
    w.i32(5, h.def_levels_byte_length);
    w.i32(6, h.rep_levels_byte_length);
    w.boolean(7, h.is_compressed);
    w.end_struct();
  }
  w.end_struct();
}

std::string_view physical_type_name(int32_t type) {
  static constexpr std::string_view kNames[] = {
      "BOOLEAN", "INT32", "INT64", "INT96", "FLOAT", "DOUBLE", "BYTE_ARRAY", "FIXED_LEN_BYTE_ARRAY"};
  return type >= 0 && type < 8 ? kNames[type] : "unknown type";
}

std::string_view encoding_name(int32_t e) {
  switch (e) {
    case kPlain: return "PLAIN";
    case kPlainDictionary: return "PLAIN_DICTIONARY";
    case kRle: return "RLE";
    case kBitPacked: return "BIT_PACKED";
    case kDeltaBinaryPacked: return "DELTA_BINARY_PACKED";
    case kDeltaLengthByteArray: return "DELTA_LENGTH_BYTE_ARRAY";
    case kDeltaByteArray: return "DELTA_BYTE_ARRAY";
    case kRleDictionary: return "RLE_DICTIONARY";
    case kByteStreamSplit: return "BYTE_STREAM_SPLIT";
    default: return "unknown encoding";
  }
}

std::string_view codec_name(int32_t c) {
  static constexpr std::string_view kNames[] = {"UNCOMPRESSED", "SNAPPY", "GZIP", "LZO",
                                                "BROTLI", "LZ4", "ZSTD", "LZ4_RAW"};
  return c >= 0 && c < 8 ? kNames[c] : "unknown codec";
}

}  // namespace mouse::parquet::detail
