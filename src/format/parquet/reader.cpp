// read_parquet: footer -> schema plan -> per row group, the selected leaves' chunks -> arrays.
// Row counts come from the levels (the footer's counts are not trusted).
#include <fmt/format.h>

#include <cstring>
#include <unordered_map>

#include "format/parquet/arrow_schema.hpp"
#include "format/parquet/assemble.hpp"
#include "format/parquet/column_reader.hpp"
#include "format/parquet/metadata.hpp"
#include "format/parquet/schema.hpp"
#include "mouse/error.hpp"
#include "mouse/parquet.hpp"

namespace mouse::parquet {

namespace {

using detail::FileMetaData;
using detail::LeafData;
using detail::Node;
using detail::SchemaPlan;

// Rows of a column chunk: entries that start a new record.
int64_t count_rows(const LeafData& l) {
  if (l.rep.empty()) return l.entries;
  int64_t rows = 0;
  for (int16_t r : l.rep) rows += r == 0 ? 1 : 0;
  return rows;
}

}  // namespace

int64_t Table::num_rows() const noexcept {
  int64_t n = 0;
  for (const auto& b : batches) n += b.num_rows;
  return n;
}

Table read_parquet(const std::filesystem::path& path, const ReadOptions& options) {
  auto map = MappedFile::open(path);
  return read_parquet(map->buffer(), path.filename().string(), options);
}

namespace {

struct Footer {
  FileMetaData meta;
  SchemaPlan plan;
  int64_t start = 0;
};

Footer read_footer(const Buffer& bytes, const std::string& source) {
  const uint8_t* p = bytes.data();
  const int64_t size = bytes.size();
  if (size < 12) throw FormatError(source, 0, fmt::format("a Parquet file of at least 12 bytes, found {}", size));
  if (std::memcmp(p + size - 4, "PARE", 4) == 0) {
    throw FormatError(source, size - 4, "encrypted Parquet files (PARE footer) are not supported");
  }
  if (std::memcmp(p, "PAR1", 4) != 0) {
    throw FormatError(source, 0, fmt::format("magic \"PAR1\", found {:02x} {:02x} {:02x} {:02x}", p[0], p[1], p[2], p[3]));
  }
  if (std::memcmp(p + size - 4, "PAR1", 4) != 0) {
    throw FormatError(source, size - 4, "trailing magic \"PAR1\" (the file may be truncated)");
  }
  uint32_t footer_len;
  std::memcpy(&footer_len, p + size - 8, 4);
  if (footer_len > static_cast<uint64_t>(size - 12)) {
    throw FormatError(source, size - 8, fmt::format("footer of at most {} bytes, found length {}", size - 12, footer_len));
  }
  const int64_t footer_start = size - 8 - footer_len;
  Footer f;
  f.start = footer_start;
  f.meta = detail::parse_file_metadata(p + footer_start, footer_len, source, footer_start);
  f.plan = detail::build_schema(f.meta, source);
  return f;
}

}  // namespace

FileInfo inspect_parquet(const std::filesystem::path& path) {
  auto map = MappedFile::open(path);
  return inspect_parquet(map->buffer(), path.filename().string());
}

FileInfo inspect_parquet(const Buffer& bytes, std::string_view source) {
  Footer f = read_footer(bytes, std::string(source));
  FileInfo info;
  for (const Node& n : f.plan.fields) {
    ColumnInfo c;
    c.name = n.name;
    c.nullable = n.nullable;
    c.unsupported = n.unsupported;
    if (n.unsupported.empty()) c.type = n.type;
    info.columns.push_back(std::move(c));
  }
  info.num_row_groups = static_cast<int64_t>(f.meta.row_groups.size());
  info.footer_num_rows = f.meta.num_rows;
  for (const auto& rg : f.meta.row_groups) info.uncompressed_bytes += rg.total_byte_size;
  info.metadata = f.meta.key_value;
  info.created_by = f.meta.created_by;
  return info;
}

Table read_parquet(const Buffer& bytes, std::string_view source_view, const ReadOptions& options) {
  const std::string source(source_view);
  const uint8_t* p = bytes.data();
  const int64_t size = bytes.size();
  Footer footer = read_footer(bytes, source);
  const FileMetaData& meta = footer.meta;
  const SchemaPlan& plan = footer.plan;
  const int64_t footer_start = footer.start;

  // Column selection.
  std::vector<int> selected;
  if (options.columns.empty()) {
    for (size_t i = 0; i < plan.fields.size(); ++i) selected.push_back(static_cast<int>(i));
  } else {
    for (const auto& name : options.columns) {
      int found = -1;
      for (size_t i = 0; i < plan.fields.size(); ++i) {
        if (plan.fields[i].name == name) found = static_cast<int>(i);
      }
      if (found < 0) throw KeyError(fmt::format("{}: no column \"{}\"", source, name));
      selected.push_back(found);
    }
  }
  std::shared_ptr<const arrow::Schema> hint;
  if (options.use_arrow_schema) {
    for (const auto& [k, v] : meta.key_value) {
      if (k == "ARROW:schema") hint = detail::decode_arrow_schema(v);
    }
  }
  auto schema = std::make_shared<arrow::Schema>();
  for (int f : selected) {
    const Node& n = plan.fields[f];
    if (!n.unsupported.empty()) throw FormatError(source, -1, n.unsupported);
    arrow::TypePtr type = n.type;
    if (hint && static_cast<size_t>(f) < hint->fields.size() && hint->fields[f].name == n.name) {
      type = detail::restore_type(n.type, hint->fields[f].type);
    }
    schema->fields.push_back(arrow::Field{n.name, type, n.nullable, {}});
  }
  schema->metadata = meta.key_value;

  Table table;
  table.schema = schema;
  for (size_t g = 0; g < meta.row_groups.size(); ++g) {
    const auto& rg = meta.row_groups[g];
    if (rg.columns.size() != plan.leaves.size()) {
      throw FormatError(source, -1, fmt::format("row group {}: {} column chunks, the schema has {} leaf columns",
                                                g, rg.columns.size(), plan.leaves.size()));
    }
    // Every non-repeated leaf holds exactly one level entry per row: a cheap consistency check
    // over all chunks, read or not.
    for (size_t l = 0; l < plan.leaves.size(); ++l) {
      const auto& chunk = rg.columns[l];
      if (plan.leaves[l].max_rep == 0 && chunk.has_meta && chunk.meta.num_values != rg.num_rows) {
        throw FormatError(source, -1, fmt::format("row group {}: column \"{}\" has {} values, the row group {} rows",
                                                  g, plan.leaves[l].path, chunk.meta.num_values, rg.num_rows));
      }
    }
    std::vector<LeafData> leaves(plan.leaves.size());
    arrow::RecordBatch batch;
    batch.schema = schema;
    int64_t rows = -1;
    std::string rows_from;
    for (int f : selected) {
      const Node& n = plan.fields[f];
      std::vector<int> used;
      detail::collect_leaves(n, used);
      for (int l : used) {
        const auto& info = plan.leaves[l];
        const auto& chunk = rg.columns[l];
        if (chunk.has_meta && !chunk.meta.path.empty()) {
          std::string dotted;
          for (const auto& part : chunk.meta.path) dotted += (dotted.empty() ? "" : ".") + part;
          if (dotted != info.path) {
            throw FormatError(source, -1, fmt::format("row group {}: chunk {} is for \"{}\", the schema says \"{}\"", g, l, dotted, info.path));
          }
        }
        leaves[l] = detail::read_column_chunk(p, size, footer_start, chunk, info, source, options.verify_checksums);
        const LeafData& ld = leaves[l];
        if (!ld.rep.empty() && ld.rep[0] != 0) {
          throw FormatError(source, -1, fmt::format("row group {}, column \"{}\": first repetition level 0, found {}", g, info.path, ld.rep[0]));
        }
        int64_t r = count_rows(ld);
        if (rows < 0) {
          rows = r;
          rows_from = info.path;
        } else if (r != rows) {
          throw FormatError(source, -1, fmt::format("row group {}: column \"{}\" has {} rows, column \"{}\" has {}",
                                                    g, info.path, r, rows_from, rows));
        }
      }
      const std::string where = fmt::format("row group {}, column \"{}\"", g, n.name);
      auto array = detail::assemble(n, leaves, plan.leaves, source, where);
      array = detail::cast_to(array, schema->fields[batch.columns.size()].type, source, where);
      arrow::validate(*array, source + ": " + where, true);
      batch.columns.push_back(std::move(array));
      for (int l : used) leaves[l] = LeafData();
    }
    if (rg.num_rows < 0) throw FormatError(source, -1, fmt::format("row group {}: num_rows >= 0, found {}", g, rg.num_rows));
    if (rows < 0) {
      rows = rg.num_rows;  // no column selected: the footer is all there is
    } else if (rows != rg.num_rows) {
      // The file total may be wrong (some writers leave it 0), but a row group whose columns
      // disagree with its own count is corrupt.
      throw FormatError(source, -1, fmt::format("row group {}: num_rows {}, column \"{}\" has {} rows",
                                                g, rg.num_rows, rows_from, rows));
    }
    batch.num_rows = rows;
    table.batches.push_back(std::move(batch));
  }
  return table;
}

}  // namespace mouse::parquet
