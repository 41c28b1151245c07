// write_parquet: rows are shredded into per-leaf buffers, a row group is flushed every
// `row_group_rows` rows, each leaf becomes one column chunk of an optional dictionary page and
// v1 data pages (RLE levels, PLAIN or RLE_DICTIONARY values), compressed, with CRC32 and
// statistics; then the footer with the key/value metadata.
#include <fmt/format.h>
#include <zlib.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <unordered_map>

#include "format/parquet/codecs.hpp"
#include "format/parquet/levels.hpp"
#include "format/parquet/metadata.hpp"
#include "format/parquet/shred.hpp"
#include "mouse/arrow_ipc.hpp"
#include "mouse/arrow_json.hpp"
#include "mouse/error.hpp"
#include "mouse/parquet.hpp"

namespace mouse::parquet {

namespace {

using detail::LeafBuffer;
using detail::Values;
using detail::WriteLeaf;
using arrow::TypeId;

int32_t codec_of(Compression c) {
  switch (c) {
    case Compression::kNone: return detail::kUncompressed;
    case Compression::kSnappy: return detail::kSnappy;
    case Compression::kGzip: return detail::kGzip;
    case Compression::kZstd: return detail::kZstd;
    case Compression::kLz4Raw: return detail::kLz4Raw;
    case Compression::kBrotli: return detail::kBrotli;
  }
  return detail::kUncompressed;
}

// resize + memcpy: GCC 12 misreports vector::insert of small constant ranges (-Wstringop-overflow).
void append(std::vector<uint8_t>& out, const void* p, size_t n) {
  const size_t at = out.size();
  out.resize(at + n);
  std::memcpy(out.data() + at, p, n);
}

std::string_view value_bytes(const Values& v, int64_t i) {
  if (v.width > 0) {
    return {reinterpret_cast<const char*>(v.data.data()) + i * v.width, static_cast<size_t>(v.width)};
  }
  return {reinterpret_cast<const char*>(v.data.data()) + v.offsets[i],
          static_cast<size_t>(v.offsets[i + 1] - v.offsets[i])};
}

// PLAIN encoding of values [b, e).
void plain(const Values& v, int32_t phys, int64_t b, int64_t e, std::vector<uint8_t>& out) {
  if (phys == detail::kBoolean) {
    size_t at = out.size();
    out.resize(at + static_cast<size_t>((e - b + 7) / 8), 0);
    for (int64_t i = b; i < e; ++i) {
      if (v.data[i]) out[at + (i - b) / 8] |= static_cast<uint8_t>(1u << ((i - b) % 8));
    }
  } else if (v.width > 0) {
    out.insert(out.end(), v.data.begin() + b * v.width, v.data.begin() + e * v.width);
  } else {
    for (int64_t i = b; i < e; ++i) {
      uint32_t len = static_cast<uint32_t>(v.offsets[i + 1] - v.offsets[i]);
      const auto* p = reinterpret_cast<const uint8_t*>(&len);
      out.insert(out.end(), p, p + 4);
      out.insert(out.end(), v.data.begin() + v.offsets[i], v.data.begin() + v.offsets[i + 1]);
    }
  }
}

// Element `i` of PLAIN-encoded fixed-width values.
template <class T>
T value_at(const Values& v, int64_t i) {
  T x;
  std::memcpy(&x, v.data.data() + i * static_cast<int64_t>(sizeof(T)), sizeof(T));
  return x;
}

// A float32 / float64 zero statistic rewritten as -0.0 (`negative`) or +0.0; other values and
// types are left as they are.
void set_zero_sign(std::string& bytes, TypeId type, bool negative) {
  auto fix = [&](auto zero) {
    using T = decltype(zero);
    T x;
    std::memcpy(&x, bytes.data(), sizeof(T));
    if (x != 0) return;
    const T z = negative ? -zero : zero;
    bytes.assign(reinterpret_cast<const char*>(&z), sizeof(T));
  };
  if (type == TypeId::kFloat32) fix(0.0f);
  if (type == TypeId::kFloat64) fix(0.0);
}

// Min/max in the column's sort order (signed or unsigned integers, IEEE floats without NaN,
// unsigned bytes); nothing for booleans and float16.
void statistics(const WriteLeaf& leaf, const Values& v, detail::Statistics& s) {
  const int64_t n = v.count();
  int64_t best_min = -1, best_max = -1;
  auto less = [&](int64_t a, int64_t b) -> bool {
    auto lt = [&](auto tag) { return value_at<decltype(tag)>(v, a) < value_at<decltype(tag)>(v, b); };
    switch (leaf.arrow_type) {
      case TypeId::kInt8:
      case TypeId::kInt16:
      case TypeId::kInt32: return lt(int32_t{});
      case TypeId::kUInt8:
      case TypeId::kUInt16:
      case TypeId::kUInt32: return lt(uint32_t{});
      case TypeId::kInt64: return lt(int64_t{});
      case TypeId::kUInt64: return lt(uint64_t{});
      case TypeId::kFloat32: return lt(float{});
      case TypeId::kFloat64: return lt(double{});
      default: {
        std::string_view x = value_bytes(v, a), y = value_bytes(v, b);
        return std::lexicographical_compare(x.begin(), x.end(), y.begin(), y.end(), [](char p, char q) {
          return static_cast<uint8_t>(p) < static_cast<uint8_t>(q);
        });
      }
    }
  };
  auto is_nan = [&](int64_t i) {
    if (leaf.arrow_type == TypeId::kFloat32) return std::isnan(value_at<float>(v, i));
    if (leaf.arrow_type == TypeId::kFloat64) return std::isnan(value_at<double>(v, i));
    return false;
  };
  if (leaf.arrow_type == TypeId::kBool || leaf.arrow_type == TypeId::kFloat16) return;
  for (int64_t i = 0; i < n; ++i) {
    if (is_nan(i)) continue;
    if (best_min < 0 || less(i, best_min)) best_min = i;
    if (best_max < 0 || less(best_max, i)) best_max = i;
  }
  if (best_min < 0) return;
  s.min_value = std::string(value_bytes(v, best_min));
  s.max_value = std::string(value_bytes(v, best_max));
  // -0.0 / +0.0 ordering: writers put -0 as min and +0 as max so readers never exclude zeros.
  set_zero_sign(*s.min_value, leaf.arrow_type, /*negative=*/true);
  set_zero_sign(*s.max_value, leaf.arrow_type, /*negative=*/false);
}

class FileWriter {
 public:
  FileWriter(const arrow::Schema& schema, const WriteOptions& options)
      : shredder_(schema), options_(options), codec_(codec_of(options.compression)) {
    append(out_, "PAR1", 4);
    buffers_.resize(shredder_.leaves().size());
    for (size_t l = 0; l < buffers_.size(); ++l) {
      buffers_[l].values.width = detail::value_width(shredder_.leaves()[l].physical_type,
                                                     shredder_.leaves()[l].type_length);
    }
  }

  void add_batch(const arrow::RecordBatch& batch) {
    for (int64_t r = 0; r < batch.num_rows; ++r) {
      shredder_.shred_row(batch.columns, r, buffers_);
      if (++rows_ >= options_.row_group_rows) flush();
    }
  }

  /// The encoded bytes not yet taken by take_bytes(): whole row groups (and the magic), never a
  /// part of one. Offsets stay those of the whole file.
  std::vector<uint8_t> take_bytes() {
    std::vector<uint8_t> out;
    out.swap(out_);
    taken_ += static_cast<int64_t>(out.size());
    return out;
  }

  std::vector<uint8_t> finish(const arrow::KeyValueMetadata& kv) {
    flush();
    meta_.version = 2;
    meta_.schema = shredder_.elements();
    meta_.key_value = kv;
    meta_.created_by = "mouse-data version 0.1.0";
    std::vector<uint8_t> footer;
    detail::write_file_metadata(footer, meta_);
    out_.insert(out_.end(), footer.begin(), footer.end());
    uint32_t len = static_cast<uint32_t>(footer.size());
    const auto* p = reinterpret_cast<const uint8_t*>(&len);
    out_.insert(out_.end(), p, p + 4);
    append(out_, "PAR1", 4);
    return std::move(out_);
  }

 private:
  void flush() {
    if (rows_ == 0) return;
    detail::RowGroup g;
    g.num_rows = rows_;
    for (size_t l = 0; l < buffers_.size(); ++l) {
      g.columns.push_back(write_chunk(shredder_.leaves()[l], buffers_[l]));
      g.total_byte_size += g.columns.back().meta.total_uncompressed_size;
      buffers_[l].clear();
    }
    meta_.num_rows += rows_;
    meta_.row_groups.push_back(std::move(g));
    rows_ = 0;
  }

  // Appends a page (header + compressed body) and returns the bytes written.
  void put_page(detail::PageHeader h, const std::vector<uint8_t>& raw, detail::ColumnMetaData& m) {
    std::vector<uint8_t> body = detail::compress(codec_, raw, options_.compression_level);
    h.uncompressed_page_size = static_cast<int32_t>(raw.size());
    h.compressed_page_size = static_cast<int32_t>(body.size());
    h.crc = static_cast<int32_t>(crc32(0, body.data(), static_cast<uInt>(body.size())));
    std::vector<uint8_t> header;
    detail::write_page_header(header, h);
    m.total_uncompressed_size += static_cast<int64_t>(header.size() + raw.size());
    m.total_compressed_size += static_cast<int64_t>(header.size() + body.size());
    out_.insert(out_.end(), header.begin(), header.end());
    out_.insert(out_.end(), body.begin(), body.end());
  }

  detail::ColumnChunk write_chunk(const WriteLeaf& leaf, const LeafBuffer& b) {
    detail::ColumnChunk chunk;
    detail::ColumnMetaData& m = chunk.meta;
    chunk.has_meta = true;
    m.type = leaf.physical_type;
    m.path = leaf.path;
    m.codec = codec_;
    const Values& v = b.values;
    const int64_t nvalues = v.count();
    const int64_t entries = leaf.max_def > 0 ? static_cast<int64_t>(b.def.size())
                                             : (leaf.max_rep > 0 ? static_cast<int64_t>(b.rep.size()) : nvalues);
    m.num_values = entries;

    // Dictionary for low-cardinality columns.
    std::vector<uint32_t> indices;
    Values dict;
    dict.width = v.width;
    bool use_dict = false;
    if (options_.dictionary && leaf.physical_type != detail::kBoolean && nvalues > 0) {
      std::unordered_map<std::string_view, uint32_t> ids;
      indices.reserve(static_cast<size_t>(nvalues));
      use_dict = true;
      for (int64_t i = 0; i < nvalues; ++i) {
        std::string_view key = value_bytes(v, i);
        auto [it, added] = ids.emplace(key, static_cast<uint32_t>(ids.size()));
        if (added) {
          if (static_cast<int64_t>(ids.size()) > options_.dictionary_max_values) {
            use_dict = false;
            break;
          }
          dict.data.insert(dict.data.end(), key.begin(), key.end());
          if (dict.width == 0) dict.offsets.push_back(static_cast<int64_t>(dict.data.size()));
        }
        indices.push_back(it->second);
      }
      if (use_dict && static_cast<int64_t>(ids.size()) * 2 > nvalues) use_dict = false;
    }
    const int64_t start = position();
    if (use_dict) {
      m.dictionary_page_offset = start;
      std::vector<uint8_t> raw;
      plain(dict, leaf.physical_type, 0, dict.count(), raw);
      detail::PageHeader h;
      h.type = detail::kDictionaryPage;
      h.num_values = static_cast<int32_t>(dict.count());
      h.encoding = detail::kPlain;
      put_page(h, raw, m);
      m.encodings = {detail::kPlain, detail::kRle, detail::kRleDictionary};
    } else {
      m.encodings = {detail::kPlain, detail::kRle};
    }
    m.data_page_offset = position();
    const int bw = use_dict ? detail::bit_width_for(dict.count() > 0 ? dict.count() - 1 : 0) : 0;

    // Data pages, cut at record starts once the page's values reach the target size.
    const int64_t avg = nvalues > 0 ? std::max<int64_t>(1, static_cast<int64_t>(v.data.size()) / nvalues) : 1;
    int64_t e0 = 0, v0 = 0;
    std::vector<uint32_t> lv;
    while (e0 < entries) {
      int64_t e1 = e0, v1 = v0;
      while (e1 < entries) {
        const bool present = leaf.max_def == 0 || b.def[e1] == leaf.max_def;
        ++e1;
        v1 += present ? 1 : 0;
        if ((v1 - v0) * avg >= options_.page_bytes && (e1 == entries || leaf.max_rep == 0 || b.rep[e1] == 0)) break;
      }
      std::vector<uint8_t> raw;
      auto levels = [&](const std::vector<int16_t>& src, int16_t max) {
        lv.assign(src.begin() + e0, src.begin() + e1);
        std::vector<uint8_t> enc;
        detail::rle_encode(lv.data(), static_cast<int64_t>(lv.size()), detail::bit_width_for(static_cast<uint64_t>(max)), enc);
        uint32_t len = static_cast<uint32_t>(enc.size());
        const auto* p = reinterpret_cast<const uint8_t*>(&len);
        raw.insert(raw.end(), p, p + 4);
        raw.insert(raw.end(), enc.begin(), enc.end());
      };
      if (leaf.max_rep > 0) levels(b.rep, leaf.max_rep);
      if (leaf.max_def > 0) levels(b.def, leaf.max_def);
      detail::PageHeader h;
      h.type = detail::kDataPage;
      h.num_values = static_cast<int32_t>(e1 - e0);
      h.def_encoding = detail::kRle;
      h.rep_encoding = detail::kRle;
      if (use_dict) {
        h.encoding = detail::kRleDictionary;
        raw.push_back(static_cast<uint8_t>(bw));
        detail::rle_encode(indices.data() + v0, v1 - v0, bw, raw);
      } else {
        h.encoding = detail::kPlain;
        plain(v, leaf.physical_type, v0, v1, raw);
      }
      put_page(h, raw, m);
      e0 = e1;
      v0 = v1;
    }
    if (entries == 0) {
      // An empty chunk still gets one empty page, so every reader finds a data page.
      detail::PageHeader h;
      h.type = detail::kDataPage;
      h.num_values = 0;
      put_page(h, {}, m);
    }
    chunk.file_offset = m.data_page_offset;
    if (options_.statistics) {
      m.statistics.null_count = b.nulls;
      statistics(leaf, v, m.statistics);
    }
    return chunk;
  }

  // Offset in the file of the next byte appended to out_.
  int64_t position() const noexcept { return taken_ + static_cast<int64_t>(out_.size()); }

  detail::Shredder shredder_;
  WriteOptions options_;
  int32_t codec_;
  std::vector<uint8_t> out_;
  int64_t taken_ = 0;  // bytes handed out by take_bytes()
  std::vector<LeafBuffer> buffers_;
  int64_t rows_ = 0;
  detail::FileMetaData meta_;
};

void check_batch(const arrow::Schema& schema, const arrow::RecordBatch& b, size_t index) {
  if (b.columns.size() != schema.fields.size()) {
    throw InvalidArgument(fmt::format("write_parquet: batch {} has {} columns, the schema {}", index,
                                      b.columns.size(), schema.fields.size()));
  }
  for (size_t c = 0; c < b.columns.size(); ++c) {
    if (!b.columns[c] || !b.columns[c]->type->equals(*schema.fields[c].type) || b.columns[c]->length != b.num_rows) {
      throw InvalidArgument(fmt::format("write_parquet: batch {} column \"{}\" does not match the schema "
                                        "(type {}, {} rows)", index, schema.fields[c].name,
                                        schema.fields[c].type->to_string(), b.num_rows));
    }
  }
}

}  // namespace

// The file's key/value metadata: the schema's, plus "ARROW:schema" when asked for.
arrow::KeyValueMetadata file_metadata(const std::shared_ptr<const arrow::Schema>& schema,
                                      const WriteOptions& options) {
  arrow::KeyValueMetadata kv = schema->metadata;
  if (options.store_arrow_schema && !schema->metadata_value("ARROW:schema")) {
    // pyarrow's form: base64 of the stream-framed schema message, without end-of-stream marker.
    std::vector<uint8_t> ipc = arrow::write_ipc_stream(schema, {});
    if (ipc.size() >= 8) ipc.resize(ipc.size() - 8);
    kv.emplace_back("ARROW:schema", arrow::base64_encode({reinterpret_cast<const char*>(ipc.data()), ipc.size()}));
  }
  return kv;
}

void check_write_options(const std::shared_ptr<const arrow::Schema>& schema,
                         const WriteOptions& options) {
  if (!schema) throw InvalidArgument("write_parquet: null schema");
  if (options.row_group_rows <= 0 || options.page_bytes <= 0) {
    throw InvalidArgument("write_parquet: row_group_rows and page_bytes must be positive");
  }
}

std::vector<uint8_t> write_parquet(const std::shared_ptr<const arrow::Schema>& schema,
                                   std::span<const arrow::RecordBatch> batches,
                                   const WriteOptions& options) {
  check_write_options(schema, options);
  for (size_t i = 0; i < batches.size(); ++i) check_batch(*schema, batches[i], i);
  FileWriter w(*schema, options);
  for (const auto& b : batches) w.add_batch(b);
  return w.finish(file_metadata(schema, options));
}

void write_parquet(const std::filesystem::path& path, const std::shared_ptr<const arrow::Schema>& schema,
                   std::span<const arrow::RecordBatch> batches, const WriteOptions& options) {
  std::vector<uint8_t> bytes = write_parquet(schema, batches, options);
  write_file_atomically(path, bytes);
}

struct ParquetWriter::Impl {
  std::filesystem::path path;
  std::shared_ptr<const arrow::Schema> schema;
  WriteOptions options;
  FileWriter writer;
  std::string tmp;
  int fd = -1;
  size_t batches = 0;

  Impl(std::filesystem::path p, std::shared_ptr<const arrow::Schema> s, const WriteOptions& o)
      : path(std::move(p)), schema(std::move(s)), options(o), writer(*schema, options) {}

  [[noreturn]] void fail(const char* what, int err) {
    throw IoError(fmt::format("{} {}: {}", what, tmp, std::strerror(err)));
  }

  void drain() {
    const std::vector<uint8_t> bytes = writer.take_bytes();
    size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        fail("cannot write", errno);
      }
      done += static_cast<size_t>(n);
    }
  }

  void discard() noexcept {
    if (fd >= 0) ::close(fd);
    fd = -1;
    if (!tmp.empty()) ::unlink(tmp.c_str());
    tmp.clear();
  }
};

ParquetWriter::ParquetWriter(std::filesystem::path path,
                             std::shared_ptr<const arrow::Schema> schema,
                             const WriteOptions& options) {
  check_write_options(schema, options);
  impl_ = std::make_unique<Impl>(std::move(path), std::move(schema), options);
  // A name of its own beside the target (as write_file_atomically), renamed in by close().
  static constexpr char kLetters[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::random_device entropy;
  for (int attempt = 0; attempt < 100 && impl_->fd < 0; ++attempt) {
    std::string suffix(6, 'a');
    for (char& c : suffix) c = kLetters[entropy() % (sizeof(kLetters) - 1)];
    impl_->tmp = impl_->path.string() + fmt::format(".tmp-{}-{}", ::getpid(), suffix);
    impl_->fd = ::open(impl_->tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (impl_->fd < 0 && errno != EEXIST) break;
  }
  if (impl_->fd < 0) {
    const int err = errno;
    impl_->tmp.clear();
    throw IoError(fmt::format("cannot create a temporary file for {}: {}", impl_->path.string(),
                              std::strerror(err)));
  }
}

ParquetWriter::~ParquetWriter() {
  if (impl_) impl_->discard();
}

void ParquetWriter::write(const arrow::RecordBatch& batch) {
  if (!impl_ || impl_->fd < 0) {
    throw InvalidArgument(fmt::format("ParquetWriter: {} is already closed",
                                      impl_ ? impl_->path.string() : std::string()));
  }
  check_batch(*impl_->schema, batch, impl_->batches++);
  impl_->writer.add_batch(batch);
  impl_->drain();
}

void ParquetWriter::close() {
  if (!impl_ || impl_->fd < 0) return;
  try {
    const std::vector<uint8_t> tail = impl_->writer.finish(file_metadata(impl_->schema, impl_->options));
    size_t done = 0;  // the last row group and the footer
    while (done < tail.size()) {
      const ssize_t n = ::write(impl_->fd, tail.data() + done, tail.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        impl_->fail("cannot write", errno);
      }
      done += static_cast<size_t>(n);
    }
    if (::fsync(impl_->fd) != 0 && errno != EINVAL && errno != EROFS) impl_->fail("cannot sync", errno);
    const int fd = impl_->fd;
    impl_->fd = -1;
    if (::close(fd) != 0) impl_->fail("cannot close", errno);
    if (::rename(impl_->tmp.c_str(), impl_->path.c_str()) != 0) {
      const int err = errno;
      throw IoError(fmt::format("cannot rename into place {}: {}", impl_->path.string(),
                                std::strerror(err)));
    }
    impl_->tmp.clear();
  } catch (...) {
    impl_->discard();
    throw;
  }
}

}  // namespace mouse::parquet
