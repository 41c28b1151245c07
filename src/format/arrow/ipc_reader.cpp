// Arrow IPC reader: framing (stream, legacy stream, file), messages and record batches.
// Untrusted bytes go through peek -> verify -> decode -> validate: every length, offset and count
// is checked against the bytes actually present before it is used or allocated for.
#include <fmt/format.h>
#include <algorithm>
#include <cstring>

#include "format/arrow/ipc_internal.hpp"
#include "mouse/arrow_ipc.hpp"
#include "mouse/error.hpp"

namespace mouse::arrow {

using detail::fb::Bytes;
using detail::fb::Table;
using detail::fb::Vector;
namespace fbs = detail::fbs;

namespace {

constexpr uint32_t kContinuation = 0xFFFFFFFFu;
constexpr char kMagic[] = "ARROW1";
constexpr int64_t kMagicSize = 6;
// Decompressed bytes allowed per file: generous for real data, bounded for hostile input.
constexpr int64_t kDecompressRatio = 1024;
constexpr int64_t kDecompressSlack = int64_t{16} << 20;

template <class T>
T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// One framed message: its flatbuffer and its body, both checked to lie inside the input.
struct Message {
  int64_t offset = 0;  // file offset of the framing prefix
  Bytes meta;          // the flatbuffer
  int16_t version = 0;
  uint8_t header_type = 0;
  std::optional<Table> header;
  int64_t body_offset = 0;
  int64_t body_length = 0;
};

class Reader {
 public:
  Reader(const Buffer& input, std::string_view source, const IpcReadOptions& options,
         const MappedFile* map = nullptr)
      : in_(input), source_(source), options_(options), map_(map) {}

  IpcTable read() {
    const uint8_t* d = in_.data();
    if (in_.size() >= kMagicSize && std::memcmp(d, kMagic, kMagicSize) == 0) return read_file();
    return read_stream();
  }

 private:
  [[noreturn]] void fail(int64_t offset, const std::string& what) const {
    throw FormatError(std::string(source_), offset, what);
  }

  // --- framing -------------------------------------------------------------------------------

  // Reads the message framed at `pos` of the input, not extending past `limit`. Returns false
  // at an end-of-stream marker, or (when `clean_end_ok`) at `limit` exactly.
  bool read_message(int64_t pos, int64_t limit, bool clean_end_ok, Message& m, int64_t& next) {
    const uint8_t* d = in_.data();
    if (pos == limit && clean_end_ok) return false;
    if (limit - pos < 4) {
      fail(pos, fmt::format("expected a 4-byte message length or continuation marker, found {} "
                            "bytes",
                            limit - pos));
    }
    int64_t prefix = 4;
    uint32_t first = load<uint32_t>(d + pos);
    if (first == kContinuation) {
      if (limit - pos < 8) {
        fail(pos, fmt::format("expected an int32 metadata length after the continuation marker, "
                              "found {} bytes",
                              limit - pos - 4));
      }
      first = load<uint32_t>(d + pos + 4);
      prefix = 8;
    }
    if (!seen_message_) {
      framing_ = prefix == 8 ? IpcFraming::kStream : IpcFraming::kLegacyStream;
      seen_message_ = true;
    }
    const int32_t meta_len = static_cast<int32_t>(first);
    if (meta_len == 0) {
      next = pos + prefix;
      return false;  // end of stream
    }
    if (meta_len < 0) fail(pos, fmt::format("negative metadata length {}", meta_len));
    const int64_t meta_pos = pos + prefix;
    if (meta_len > limit - meta_pos) {
      fail(pos,
           fmt::format("message metadata needs {} bytes, {} left", meta_len, limit - meta_pos));
    }
    m.offset = pos;
    m.meta = Bytes{d + meta_pos, static_cast<uint32_t>(meta_len), source_, meta_pos};
    Table msg = Table::root(m.meta);
    m.version = msg.scalar<int16_t>(fbs::kMessageVersion, 0);
    detail::check_metadata_version(m.version, msg);
    m.header_type = msg.scalar<uint8_t>(fbs::kMessageHeaderType, 0);
    m.header = msg.table(fbs::kMessageHeader);
    if (!m.header) fail(meta_pos, "message has no header");
    m.body_length = msg.scalar<int64_t>(fbs::kMessageBodyLength, 0);
    m.body_offset = meta_pos + meta_len;
    if (m.body_length < 0 || m.body_length > limit - m.body_offset) {
      fail(meta_pos, fmt::format("message body of {} bytes does not fit: {} bytes left",
                                 m.body_length, limit - m.body_offset));
    }
    next = m.body_offset + m.body_length;
    return true;
  }

  IpcTable read_stream() {
    IpcTable table;
    framing_ = IpcFraming::kStream;
    const int64_t end = in_.size();
    int64_t pos = 0;
    Message m;
    int64_t next = 0;
    if (!read_message(pos, end, false, m, next)) {
      fail(pos, "stream ends before its schema message");
    }
    if (m.header_type != fbs::kHeaderSchema) {
      fail(m.offset,
           fmt::format("first message is {}, expected a Schema", header_name(m.header_type)));
    }
    schema_ = detail::decode_schema(*m.header);
    pos = next;
    while (read_message(pos, end, true, m, next)) {
      handle_batch_message(m, table);
      pos = next;
      release_now_and_then(pos);
    }
    table.schema = schema_;
    table.framing = framing_;
    return table;
  }

  IpcTable read_file() {
    const uint8_t* d = in_.data();
    const int64_t size = in_.size();
    // "ARROW1" + 2 padding bytes, ..., footer, int32 footer length, "ARROW1".
    if (size < 8 + 4 + kMagicSize) {
      fail(0, fmt::format("file framing: expected at least {} bytes, found {}", 8 + 4 + kMagicSize,
                          size));
    }
    if (std::memcmp(d + size - kMagicSize, kMagic, kMagicSize) != 0) {
      fail(size - kMagicSize, "file framing: trailing ARROW1 magic missing (truncated file?)");
    }
    const int64_t len_pos = size - kMagicSize - 4;
    const int32_t footer_len = load<int32_t>(d + len_pos);
    if (footer_len <= 0 || footer_len > len_pos - 8) {
      fail(len_pos,
           fmt::format("file framing: footer length {} outside [1, {}]", footer_len, len_pos - 8));
    }
    const int64_t footer_pos = len_pos - footer_len;
    Bytes footer_bytes{d + footer_pos, static_cast<uint32_t>(footer_len), source_, footer_pos};
    Table footer = Table::root(footer_bytes);
    detail::check_metadata_version(footer.scalar<int16_t>(fbs::kFooterVersion, 0), footer);
    auto schema = footer.table(fbs::kFooterSchema);
    if (!schema) fail(footer_pos, "file footer has no schema");
    schema_ = detail::decode_schema(*schema);
    if (auto dicts = footer.vector(fbs::kFooterDictionaries, 24, 8); dicts && dicts->size() > 0) {
      fail(dicts->file_offset(0), "dictionary batches are not supported");
    }
    IpcTable table;
    table.schema = schema_;
    table.framing = IpcFraming::kFile;
    auto blocks = footer.vector(fbs::kFooterRecordBatches, 24, 8);
    if (!blocks) return table;
    // Real writers never share bytes between blocks; bounding their total by the file size also
    // bounds the work a hostile footer can ask for.
    int64_t total = 0;
    for (uint32_t i = 0; i < blocks->size(); ++i) {
      const int64_t offset = blocks->get<int64_t>(i, 0);
      const int32_t meta_len = blocks->get<int32_t>(i, 8);
      const int64_t body_len = blocks->get<int64_t>(i, 16);
      const int64_t at = blocks->file_offset(i);
      if (offset < 8 || meta_len <= 0 || body_len < 0 || offset > footer_pos ||
          meta_len > footer_pos - offset || body_len > footer_pos - offset - meta_len) {
        fail(at, fmt::format("record batch block {}: offset {}, metadata {} bytes, body {} bytes "
                             "do not fit between byte 8 and the footer at {}",
                             i, offset, meta_len, body_len, footer_pos));
      }
      total += meta_len + body_len;
      if (total > size) {
        fail(at, fmt::format("record batch blocks cover {} bytes, more than the {}-byte file",
                             total, size));
      }
      Message m;
      int64_t next = 0;
      if (!read_message(offset, offset + meta_len + body_len, false, m, next)) {
        fail(offset, fmt::format("record batch block {} holds an end-of-stream marker", i));
      }
      if (m.body_offset != offset + meta_len || m.body_length != body_len) {
        fail(offset, fmt::format("record batch block {}: message metadata ends at {} with a "
                                 "{}-byte body; the footer says {} and {}",
                                 i, m.body_offset, m.body_length, offset + meta_len, body_len));
      }
      handle_batch_message(m, table);
      release_now_and_then(total);
    }
    return table;
  }

  static std::string header_name(uint8_t t) {
    switch (t) {
      case fbs::kHeaderSchema:
        return "a Schema";
      case fbs::kHeaderDictionaryBatch:
        return "a DictionaryBatch";
      case fbs::kHeaderRecordBatch:
        return "a RecordBatch";
      case fbs::kHeaderTensor:
        return "a Tensor";
      case fbs::kHeaderSparseTensor:
        return "a SparseTensor";
      default:
        return fmt::format("message header type {}", t);
    }
  }

  void handle_batch_message(const Message& m, IpcTable& table) {
    switch (m.header_type) {
      case fbs::kHeaderRecordBatch:
        table.batches.push_back(decode_batch(m, static_cast<int64_t>(table.batches.size())));
        return;
      case fbs::kHeaderDictionaryBatch:
        fail(m.offset, "dictionary batches are not supported");
      case fbs::kHeaderSchema:
        fail(m.offset, "a second Schema message in the stream");
      default:
        fail(m.offset, fmt::format("unexpected message: {}", header_name(m.header_type)));
    }
  }

  // --- record batches ------------------------------------------------------------------------

  struct BatchState {
    const Message* msg;
    int64_t index;
    std::optional<Vector> nodes;
    std::optional<Vector> buffers;
    uint32_t next_node = 0;
    uint32_t next_buffer = 0;
    IpcCompression compression = IpcCompression::kNone;
    std::string column;  // for error messages
  };

  [[noreturn]] void fail_batch(const BatchState& s, int64_t offset, const std::string& what) const {
    fail(offset, fmt::format("record batch {}, column \"{}\": {}", s.index,
                             detail::printable_name(s.column), what));
  }

  RecordBatch decode_batch(const Message& m, int64_t index) {
    const Table& rb = *m.header;
    BatchState s{&m, index, {}, {}, 0, 0, IpcCompression::kNone, {}};
    RecordBatch batch;
    batch.schema = schema_;
    batch.num_rows = rb.scalar<int64_t>(fbs::kBatchLength, 0);
    if (batch.num_rows < 0) {
      fail(rb.file_offset(),
           fmt::format("record batch {}: negative length {}", index, batch.num_rows));
    }
    if (auto variadic = rb.vector(fbs::kBatchVariadicCounts, 8, 8); variadic && variadic->size()) {
      fail(rb.file_offset(), fmt::format("record batch {}: variadic buffer counts (view types) are "
                                         "not supported",
                                         index));
    }
    if (auto comp = rb.table(fbs::kBatchCompression)) {
      const int8_t codec = comp->scalar<int8_t>(fbs::kCompressionCodec, 0);
      const int8_t method = comp->scalar<int8_t>(fbs::kCompressionMethod, 0);
      if (codec != 0 && codec != 1) {
        fail(comp->file_offset(), fmt::format("record batch {}: unknown compression codec {} "
                                              "(expected LZ4_FRAME=0 or ZSTD=1)",
                                              index, codec));
      }
      if (method != 0) {
        fail(comp->file_offset(), fmt::format("record batch {}: compression method {} (only "
                                              "BUFFER=0 is defined)",
                                              index, method));
      }
      s.compression = codec == 0 ? IpcCompression::kLz4Frame : IpcCompression::kZstd;
    }
    s.nodes = rb.vector(fbs::kBatchNodes, 16, 8);
    s.buffers = rb.vector(fbs::kBatchBuffers, 16, 8);
    batch.columns.reserve(schema_->fields.size());
    for (const Field& f : schema_->fields) {
      s.column = f.name;
      ArrayPtr col = decode_array(s, f, 0);
      if (col->length != batch.num_rows) {
        fail_batch(
            s, m.offset,
            fmt::format("column has {} rows, the batch has {}", col->length, batch.num_rows));
      }
      try {
        validate(
            *col,
            fmt::format("record batch {}, column \"{}\"", index, detail::printable_name(f.name)),
            options_.validate_full);
      } catch (const FormatError& e) {
        fail(m.body_offset, e.what());
      }
      batch.columns.push_back(std::move(col));
    }
    const uint32_t n_nodes = s.nodes ? s.nodes->size() : 0;
    const uint32_t n_buffers = s.buffers ? s.buffers->size() : 0;
    if (s.next_node != n_nodes || s.next_buffer != n_buffers) {
      fail(rb.file_offset(), fmt::format("record batch {}: the schema uses {} field nodes and {} "
                                         "buffers, the message has {} and {}",
                                         index, s.next_node, s.next_buffer, n_nodes, n_buffers));
    }
    return batch;
  }

  ArrayPtr decode_array(BatchState& s, const Field& field, int depth) {
    if (depth > detail::kMaxTypeDepth) fail_batch(s, s.msg->offset, "nesting too deep");
    const uint32_t n_nodes = s.nodes ? s.nodes->size() : 0;
    if (s.next_node >= n_nodes) {
      fail_batch(s, s.msg->offset,
                 fmt::format("field \"{}\" needs field node {}, the message has "
                             "{}",
                             detail::printable_name(field.name), s.next_node, n_nodes));
    }
    const uint32_t node = s.next_node++;
    auto a = std::make_shared<ArrayData>();
    a->type = field.type;
    a->length = s.nodes->get<int64_t>(node, 0);
    a->null_count = s.nodes->get<int64_t>(node, 8);
    if (a->length < 0 || a->null_count < 0 || a->null_count > a->length) {
      fail_batch(s, s.nodes->file_offset(node),
                 fmt::format("field \"{}\": node length {} and null count {} (expected 0 <= null "
                             "count <= length)",
                             detail::printable_name(field.name), a->length, a->null_count));
    }
    const DataType& t = *field.type;
    switch (t.id) {
      case TypeId::kNull:
        a->null_count = a->length;
        a->buffers.emplace_back();
        break;
      case TypeId::kStruct:
        a->buffers.push_back(take_buffer(s, field, 1));
        for (const Field& child : t.children)
          a->children.push_back(decode_array(s, child, depth + 1));
        break;
      case TypeId::kFixedSizeList:
        a->buffers.push_back(take_buffer(s, field, 1));
        a->children.push_back(decode_array(s, t.children[0], depth + 1));
        break;
      case TypeId::kList:
      case TypeId::kLargeList:
        a->buffers.push_back(take_buffer(s, field, 1));
        a->buffers.push_back(take_buffer(s, field, t.has_large_offsets() ? 8 : 4));
        a->children.push_back(decode_array(s, t.children[0], depth + 1));
        break;
      case TypeId::kUtf8:
      case TypeId::kLargeUtf8:
      case TypeId::kBinary:
      case TypeId::kLargeBinary:
        a->buffers.push_back(take_buffer(s, field, 1));
        a->buffers.push_back(take_buffer(s, field, t.has_large_offsets() ? 8 : 4));
        a->buffers.push_back(take_buffer(s, field, 1));
        break;
      case TypeId::kBool:
        a->buffers.push_back(take_buffer(s, field, 1));
        a->buffers.push_back(take_buffer(s, field, 1));
        break;
      default:
        a->buffers.push_back(take_buffer(s, field, 1));
        a->buffers.push_back(take_buffer(s, field, static_cast<size_t>(t.byte_width())));
        break;
    }
    return a;
  }

  // The next buffer of the batch as a view into the body (or its decompressed copy), aligned to
  // `alignment` (a misaligned buffer is copied rather than misread).
  Buffer take_buffer(BatchState& s, const Field& field, size_t alignment) {
    const uint32_t n_buffers = s.buffers ? s.buffers->size() : 0;
    if (s.next_buffer >= n_buffers) {
      fail_batch(s, s.msg->offset,
                 fmt::format("field \"{}\" needs buffer {}, the message has {}",
                             detail::printable_name(field.name), s.next_buffer, n_buffers));
    }
    const uint32_t i = s.next_buffer++;
    const int64_t offset = s.buffers->get<int64_t>(i, 0);
    const int64_t length = s.buffers->get<int64_t>(i, 8);
    const int64_t body = s.msg->body_length;
    if (offset < 0 || length < 0 || offset > body || length > body - offset) {
      // offset + length may overflow int64; two non-negative int64 never overflow as uint64.
      std::string needs = "a non-negative range";
      if (offset >= 0 && length >= 0) {
        needs = fmt::format("{}", static_cast<uint64_t>(offset) + static_cast<uint64_t>(length));
      }
      fail_batch(s, s.buffers->file_offset(i),
                 fmt::format("field \"{}\": buffer {} (offset {}, length {}) needs {} bytes, body "
                             "has {}",
                             detail::printable_name(field.name), i, offset, length, needs, body));
    }
    if (length == 0) return Buffer();
    const int64_t at = s.msg->body_offset + offset;
    Buffer raw = in_.slice(at, length);
    if (s.compression != IpcCompression::kNone) {
      if (length < 8) {
        fail_batch(s, at,
                   fmt::format("field \"{}\": compressed buffer {} has {} bytes, expected "
                               "at least the 8-byte length prefix",
                               detail::printable_name(field.name), i, length));
      }
      const int64_t claimed = load<int64_t>(raw.data());
      if (claimed == -1) {
        raw = raw.slice(8, length - 8);
      } else {
        const int64_t payload = length - 8;
        const int64_t room = kDecompressSlack + in_.size() * kDecompressRatio - decompressed_;
        if (claimed < 0 || claimed > room || (claimed > 0 && payload == 0)) {
          fail_batch(s, at,
                     fmt::format("field \"{}\": compressed buffer {} claims {} "
                                 "uncompressed bytes from {} compressed (allowed: 0 to {})",
                                 detail::printable_name(field.name), i, claimed, payload, room));
        }
        decompressed_ += claimed;
        return detail::decompress_buffer(
            s.compression, raw.data() + 8, payload, claimed, source_, at,
            fmt::format("record batch {}, column \"{}\": field \"{}\": buffer {}", s.index,
                        detail::printable_name(s.column), detail::printable_name(field.name), i));
      }
    }
    if (reinterpret_cast<uintptr_t>(raw.data()) % alignment != 0) {
      return Buffer::copy_of(raw.bytes());
    }
    return raw;
  }

  // Each record batch's header is read through the map, and the kernel maps the pages around
  // it too; dropping the mappings every few MB keeps an open's resident memory bounded instead
  // of growing with the file.
  void release_now_and_then(int64_t pos) {
    constexpr int64_t kReleaseEvery = 16 << 20;
    if (map_ != nullptr && pos - released_at_ >= kReleaseEvery) {
      map_->release_resident();
      released_at_ = pos;
    }
  }

  const Buffer& in_;
  std::string_view source_;
  IpcReadOptions options_;
  const MappedFile* map_ = nullptr;
  int64_t released_at_ = 0;
  std::shared_ptr<const Schema> schema_;
  IpcFraming framing_ = IpcFraming::kStream;
  bool seen_message_ = false;
  int64_t decompressed_ = 0;
};

}  // namespace

int64_t IpcTable::num_rows() const noexcept {
  int64_t n = 0;
  for (const RecordBatch& b : batches) n += b.num_rows;
  return n;
}

IpcTable read_ipc(const Buffer& bytes, std::string_view source, const IpcReadOptions& options) {
  return Reader(bytes, source, options).read();
}

IpcTable read_ipc(const std::filesystem::path& path, const IpcReadOptions& options) {
  std::shared_ptr<MappedFile> map = MappedFile::open(path);
  const std::string source = path.string();
  const Buffer bytes = map->buffer();
  IpcTable table = Reader(bytes, source, options, map.get()).read();
  map->release_resident();
  return table;
}

}  // namespace mouse::arrow
