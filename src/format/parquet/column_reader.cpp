// Column chunk reader: page headers are decoded with a reader bounded by the chunk, page bodies
// are checked against the chunk and the declared sizes before they are decompressed.
#include "format/parquet/column_reader.hpp"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>

#include "format/parquet/codecs.hpp"
#include "mouse/error.hpp"

namespace mouse::parquet::detail {

namespace {

// Level entries one page may declare: bounds the level arrays a tiny RLE page could ask for.
constexpr int64_t kMaxPageEntries = int64_t{1} << 26;
// Decompressed page size limits (absolute, and relative to the compressed size).
constexpr int64_t kMaxPageBytes = int64_t{1} << 30;
constexpr int64_t kMaxRatio = 4096;

struct ChunkContext {
  const uint8_t* file;
  const LeafInfo& leaf;
  const std::string& source;
  int32_t codec;
  std::string what_levels_rep, what_levels_def, what_values;
};

[[noreturn]] void fail(const ChunkContext& c, int64_t offset, const std::string& what) {
  throw FormatError(c.source, offset, fmt::format("column \"{}\": {}", c.leaf.path, what));
}

std::vector<uint8_t> page_bytes(const ChunkContext& c, const uint8_t* p, int64_t compressed,
                                int64_t uncompressed, int64_t offset, int32_t codec) {
  if (uncompressed > kMaxPageBytes || uncompressed > compressed * kMaxRatio + (1 << 20)) {
    fail(c, offset, fmt::format("page of {} compressed bytes claims {} uncompressed bytes",
                                compressed, uncompressed));
  }
  return decompress(codec, {p, static_cast<size_t>(compressed)}, uncompressed, c.source, offset);
}

int64_t count_present(const std::vector<int16_t>& def, int64_t from, int16_t max_def) {
  return std::count(def.begin() + from, def.end(), max_def);
}

}  // namespace

LeafData read_column_chunk(const uint8_t* file, int64_t file_size, int64_t data_end,
                           const ColumnChunk& chunk, const LeafInfo& leaf,
                           const std::string& source, bool verify_checksums) {
  const ColumnMetaData& m = chunk.meta;
  ChunkContext c{file, leaf, source, m.codec, {}, {}, {}};
  c.what_levels_rep = fmt::format("column \"{}\" repetition levels", leaf.path);
  c.what_levels_def = fmt::format("column \"{}\" definition levels", leaf.path);
  c.what_values = fmt::format("column \"{}\" values", leaf.path);
  if (!chunk.has_meta) fail(c, -1, "column chunk without ColumnMetaData");
  if (!chunk.file_path.empty()) fail(c, -1, fmt::format("column chunk in external file \"{}\" is not supported", chunk.file_path));
  if (m.type != leaf.physical_type) {
    fail(c, -1, fmt::format("chunk type {} does not match the schema's {}", physical_type_name(m.type),
                            physical_type_name(leaf.physical_type)));
  }
  if (m.num_values < 0) fail(c, -1, fmt::format("num_values >= 0, found {}", m.num_values));
  LeafData out;
  out.values.width = value_width(leaf.physical_type, leaf.type_length);
  if (m.num_values == 0) return out;  // empty chunk: writers may leave its offsets at 0
  int64_t start = m.data_page_offset;
  if (m.dictionary_page_offset && *m.dictionary_page_offset > 0 && *m.dictionary_page_offset < start) {
    start = *m.dictionary_page_offset;
  }
  if (start < 4 || start >= data_end) {
    fail(c, start, fmt::format("column chunk start inside the data area [4, {}), found {}", data_end, start));
  }
  // Level entries cost memory even when a page encodes millions of them in a few bytes of
  // RLE; real files stay far below this ratio (all-null pages of pyarrow: ~1000 entries/byte).
  if (m.num_values > file_size * 4096 + (int64_t{1} << 20)) {
    fail(c, -1, fmt::format("{} values in a file of {} bytes", m.num_values, file_size));
  }
  if (leaf.physical_type == kFixedLenByteArray && out.values.width <= 0) {
    fail(c, -1, fmt::format("FIXED_LEN_BYTE_ARRAY type_length > 0, found {}", leaf.type_length));
  }
  Values dict;
  dict.width = out.values.width;
  bool have_dict = false;
  int64_t pos = start;
  int64_t entries = 0;
  while (entries < m.num_values) {
    if (pos >= data_end) {
      fail(c, pos, fmt::format("column chunk ends after {} of its {} values", entries, m.num_values));
    }
    int64_t hsize = 0;
    PageHeader h = parse_page_header(file + pos, data_end - pos, source, pos, &hsize);
    const int64_t body = pos + hsize;
    if (h.compressed_page_size < 0 || h.uncompressed_page_size < 0) {
      fail(c, pos, fmt::format("page sizes >= 0, found {} / {}", h.compressed_page_size, h.uncompressed_page_size));
    }
    if (h.compressed_page_size > data_end - body) {
      fail(c, body, fmt::format("page of {} bytes, only {} left before the footer", h.compressed_page_size, data_end - body));
    }
    const uint8_t* p = file + body;
    const int64_t psize = h.compressed_page_size;
    pos = body + psize;
    if (h.type != kDataPage && h.type != kDataPageV2 && h.type != kDictionaryPage) continue;  // index pages
    if (!h.has_body_header) fail(c, body, "page header without its type's sub-header");
    if (verify_checksums && h.crc) {
      uint32_t crc = static_cast<uint32_t>(crc32(0, p, static_cast<uInt>(psize)));
      if (crc != static_cast<uint32_t>(*h.crc)) {
        fail(c, body, fmt::format("page CRC32 {:08x}, computed {:08x}", static_cast<uint32_t>(*h.crc), crc));
      }
    }
    if (h.num_values < 0) fail(c, body, fmt::format("page num_values >= 0, found {}", h.num_values));
    if (h.type == kDictionaryPage) {
      if (have_dict) fail(c, body, "a second dictionary page in one column chunk");
      if (h.encoding != kPlain && h.encoding != kPlainDictionary) {
        fail(c, body, fmt::format("dictionary page encoding PLAIN, found {}", encoding_name(h.encoding)));
      }
      auto bytes = page_bytes(c, p, psize, h.uncompressed_page_size, body, m.codec);
      ByteSource src{source, m.codec == kUncompressed ? body : -1, c.what_values};
      if (h.num_values > static_cast<int64_t>(bytes.size()) * 8 + 8) {
        fail(c, body, fmt::format("dictionary of {} values in {} bytes", h.num_values, bytes.size()));
      }
      decode_values(leaf.physical_type, kPlain, bytes.data(), static_cast<int64_t>(bytes.size()),
                    h.num_values, nullptr, dict, src);
      have_dict = true;
      continue;
    }
    const int64_t n = h.num_values;
    if (n > kMaxPageEntries) fail(c, body, fmt::format("page of at most {} values, found {}", kMaxPageEntries, n));
    if (n > m.num_values - entries) {
      fail(c, body, fmt::format("page of {} values, only {} of the chunk's {} left", n, m.num_values - entries, m.num_values));
    }
    if (leaf.max_rep > 0) out.rep.resize(static_cast<size_t>(entries + n));
    if (leaf.max_def > 0) out.def.resize(static_cast<size_t>(entries + n));
    int16_t* rep = leaf.max_rep > 0 ? out.rep.data() + entries : nullptr;
    int16_t* def = leaf.max_def > 0 ? out.def.data() + entries : nullptr;
    std::vector<uint8_t> bytes;
    const uint8_t* values_ptr = nullptr;
    int64_t values_size = 0;
    int64_t values_offset = -1;
    if (h.type == kDataPage) {
      bytes = page_bytes(c, p, psize, h.uncompressed_page_size, body, m.codec);
      const int64_t off0 = m.codec == kUncompressed ? body : -1;
      int64_t at = 0;
      const int64_t total = static_cast<int64_t>(bytes.size());
      if (rep) {
        at += decode_levels(h.rep_encoding, bytes.data(), total, leaf.max_rep, n, true, rep,
                            {source, off0, c.what_levels_rep});
      }
      if (def) {
        at += decode_levels(h.def_encoding, bytes.data() + at, total - at, leaf.max_def, n, true, def,
                            {source, off0 >= 0 ? off0 + at : -1, c.what_levels_def});
      }
      values_ptr = bytes.data() + at;
      values_size = total - at;
      values_offset = off0 >= 0 ? off0 + at : -1;
    } else {
      const int64_t rl = h.rep_levels_byte_length, dl = h.def_levels_byte_length;
      if (rl < 0 || dl < 0 || rl > psize || dl > psize - rl) {
        fail(c, body, fmt::format("v2 level sections of {} + {} bytes in a page of {}", rl, dl, psize));
      }
      if (rep) decode_levels(kRle, p, rl, leaf.max_rep, n, false, rep, {source, body, c.what_levels_rep});
      if (def) decode_levels(kRle, p + rl, dl, leaf.max_def, n, false, def, {source, body + rl, c.what_levels_def});
      const int64_t vsize = psize - rl - dl;
      const int64_t vraw = static_cast<int64_t>(h.uncompressed_page_size) - rl - dl;
      if (vraw < 0) fail(c, body, fmt::format("uncompressed page size {} smaller than its levels", h.uncompressed_page_size));
      // An empty values section is never fed to the codec (all-null pages). Some old writers
      // set is_compressed = false on compressed pages; sizes that differ give them away.
      bool compressed = m.codec != kUncompressed && vsize > 0 && (h.is_compressed || vsize != vraw);
      if (compressed) {
        bytes = page_bytes(c, p + rl + dl, vsize, vraw, body + rl + dl, m.codec);
        values_ptr = bytes.data();
        values_size = static_cast<int64_t>(bytes.size());
      } else {
        values_ptr = p + rl + dl;
        values_size = vsize;
        values_offset = body + rl + dl;
      }
    }
    const int64_t present = def ? count_present(out.def, entries, leaf.max_def) : n;
    decode_values(leaf.physical_type, h.encoding, values_ptr, values_size, present,
                  have_dict ? &dict : nullptr, out.values, {source, values_offset, c.what_values});
    entries += n;
  }
  out.entries = entries;
  return out;
}

}  // namespace mouse::parquet::detail
