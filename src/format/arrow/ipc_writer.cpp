// Arrow IPC stream writer. Produces what pyarrow's RecordBatchStreamWriter produces: each
// message is 0xFFFFFFFF, an int32 metadata length (flatbuffer padded so the body starts 8-byte
// aligned), a Message flatbuffer (metadata V5) and the body; body buffers sit at 8-byte aligned
// offsets and record their unpadded length (exact, unless the source buffer carries bytes within
// the padding, which pyarrow keeps too); a validity bitmap is omitted (length 0 at the running
// offset) when its node has no nulls. The flatbuffers are built with the generic
// table API; field slots follow Arrow's Schema.fbs / Message.fbs (vtable offset 4 + 2 * id).
#include <flatbuffers/flatbuffers.h>
#include <fmt/format.h>
#include <algorithm>
#include <bit>
#include <cstring>

#include "format/arrow/ipc_write_body.hpp"
#include "mouse/arrow_ipc.hpp"
#include "mouse/error.hpp"

namespace mouse::arrow {

static_assert(std::endian::native == std::endian::little,
              "the IPC writer emits the host's bytes as little-endian");

namespace {

using flatbuffers::FlatBufferBuilder;
using Offset = flatbuffers::Offset<void>;

constexpr flatbuffers::voffset_t slot(int field_id) {
  return static_cast<flatbuffers::voffset_t>(4 + 2 * field_id);
}

// Numbering from Arrow's format/Schema.fbs and format/Message.fbs.
constexpr int16_t kMetadataV5 = 4;
constexpr uint8_t kHeaderSchema = 1;
constexpr uint8_t kHeaderRecordBatch = 3;

enum class FbType : uint8_t {
  kNull = 1,
  kInt = 2,
  kFloatingPoint = 3,
  kBinary = 4,
  kUtf8 = 5,
  kBool = 6,
  kList = 12,
  kStruct = 13,
  kFixedSizeList = 16,
  kLargeBinary = 19,
  kLargeUtf8 = 20,
  kLargeList = 21,
};

// Field slots.
constexpr int kFieldName = 0, kFieldNullable = 1, kFieldTypeType = 2, kFieldType = 3,
              kFieldChildren = 5, kFieldCustomMetadata = 6;
// Schema slots (endianness 0 = Little is the default and not written, as pyarrow does).
constexpr int kSchemaFields = 1, kSchemaCustomMetadata = 2;
// Message slots.
constexpr int kMessageVersion = 0, kMessageHeaderType = 1, kMessageHeader = 2,
              kMessageBodyLength = 3;
// RecordBatch slots.
constexpr int kBatchLength = 0, kBatchNodes = 1, kBatchBuffers = 2, kBatchCompression = 3;
// BodyCompression slots; method BUFFER (0) is the default and not written.
constexpr int kCompressionCodec = 0;

// The Buffer struct of the format: two little-endian int64.
struct FbBuffer {
  int64_t offset;
  int64_t length;
};

constexpr uint8_t kZeros[8] = {};
using detail::pad8;

Offset empty_table(FlatBufferBuilder& b) {
  return Offset(b.EndTable(b.StartTable()));
}

Offset write_metadata(FlatBufferBuilder& b, const KeyValueMetadata& metadata) {
  if (metadata.empty()) return Offset();
  std::vector<Offset> pairs;
  pairs.reserve(metadata.size());
  for (const auto& [key, value] : metadata) {
    // Key before value, as pyarrow >= 2025 does (2024 releases created the value first).
    auto k = b.CreateString(key);
    auto v = b.CreateString(value);
    auto start = b.StartTable();
    b.AddOffset(slot(1), v);
    b.AddOffset(slot(0), k);
    pairs.push_back(Offset(b.EndTable(start)));
  }
  return b.CreateVector(pairs).Union();
}

// Writes the type-specific table of `type` and returns it with its union code.
std::pair<FbType, Offset> write_type(FlatBufferBuilder& b, const DataType& type) {
  auto int_table = [&](int32_t bits, bool is_signed) {
    auto start = b.StartTable();
    b.AddElement<int32_t>(slot(0), bits, 0);
    b.AddElement<uint8_t>(slot(1), is_signed ? 1 : 0, 0);
    return std::pair{FbType::kInt, Offset(b.EndTable(start))};
  };
  auto float_table = [&](int16_t precision) {
    auto start = b.StartTable();
    b.AddElement<int16_t>(slot(0), precision, 0);
    return std::pair{FbType::kFloatingPoint, Offset(b.EndTable(start))};
  };
  switch (type.id) {
    case TypeId::kNull:
      return {FbType::kNull, empty_table(b)};
    case TypeId::kBool:
      return {FbType::kBool, empty_table(b)};
    case TypeId::kInt8:
      return int_table(8, true);
    case TypeId::kInt16:
      return int_table(16, true);
    case TypeId::kInt32:
      return int_table(32, true);
    case TypeId::kInt64:
      return int_table(64, true);
    case TypeId::kUInt8:
      return int_table(8, false);
    case TypeId::kUInt16:
      return int_table(16, false);
    case TypeId::kUInt32:
      return int_table(32, false);
    case TypeId::kUInt64:
      return int_table(64, false);
    case TypeId::kFloat16:
      return float_table(0);
    case TypeId::kFloat32:
      return float_table(1);
    case TypeId::kFloat64:
      return float_table(2);
    case TypeId::kUtf8:
      return {FbType::kUtf8, empty_table(b)};
    case TypeId::kLargeUtf8:
      return {FbType::kLargeUtf8, empty_table(b)};
    case TypeId::kBinary:
      return {FbType::kBinary, empty_table(b)};
    case TypeId::kLargeBinary:
      return {FbType::kLargeBinary, empty_table(b)};
    case TypeId::kList:
      return {FbType::kList, empty_table(b)};
    case TypeId::kLargeList:
      return {FbType::kLargeList, empty_table(b)};
    case TypeId::kStruct:
      return {FbType::kStruct, empty_table(b)};
    case TypeId::kFixedSizeList: {
      auto start = b.StartTable();
      b.AddElement<int32_t>(slot(0), type.list_size, 0);
      return {FbType::kFixedSizeList, Offset(b.EndTable(start))};
    }
  }
  throw InvalidArgument(fmt::format("IPC writer: unknown type id {}", static_cast<int>(type.id)));
}

// Objects are created, and table fields added, in the order Arrow C++'s generated code and
// metadata writer use (fields by size, then in reverse declaration order), so that the
// metadata comes out byte-identical to pyarrow's.
Offset write_field(FlatBufferBuilder& b, const Field& field) {
  // Flatbuffers are built back to front: everything a table refers to is created first.
  std::vector<Offset> children;
  children.reserve(field.type->children.size());
  for (const Field& child : field.type->children) children.push_back(write_field(b, child));
  auto [code, type] = write_type(b, *field.type);
  auto name = b.CreateString(field.name);
  // pyarrow always writes the children vector, even empty; Arrow C++ readers require it.
  auto kids = b.CreateVector(children);
  Offset metadata = write_metadata(b, field.metadata);
  auto start = b.StartTable();
  b.AddOffset(slot(kFieldCustomMetadata), metadata);
  b.AddOffset(slot(kFieldChildren), kids);
  b.AddOffset(slot(kFieldType), type);
  b.AddOffset(slot(kFieldName), name);
  b.AddElement<uint8_t>(slot(kFieldTypeType), static_cast<uint8_t>(code), 0);
  b.AddElement<uint8_t>(slot(kFieldNullable), field.nullable ? 1 : 0, 0);
  return Offset(b.EndTable(start));
}

// Finishes a Message around `header` into `b`.
void finish_message(FlatBufferBuilder& b, uint8_t header_type, Offset header, int64_t body_length) {
  auto start = b.StartTable();
  b.AddElement<int64_t>(slot(kMessageBodyLength), body_length, 0);
  b.AddOffset(slot(kMessageHeader), header);
  b.AddElement<int16_t>(slot(kMessageVersion), kMetadataV5, 0);
  b.AddElement<uint8_t>(slot(kMessageHeaderType), header_type, 0);
  b.Finish(flatbuffers::Offset<flatbuffers::Table>(b.EndTable(start)));
}

void check_type(const DataType& type, const std::string& where) {
  if (type.is_list_like() && type.children.size() != 1) {
    throw InvalidArgument(fmt::format("IPC writer: {}: {} needs exactly one item field, has {}",
                                      where, type_id_name(type.id), type.children.size()));
  }
  if (type.id == TypeId::kFixedSizeList && type.list_size < 0) {
    throw InvalidArgument(
        fmt::format("IPC writer: {}: negative fixed_size_list size {}", where, type.list_size));
  }
  for (const Field& child : type.children) {
    if (!child.type) {
      throw InvalidArgument(fmt::format("IPC writer: {}.{}: field has no type", where, child.name));
    }
    check_type(*child.type, where + "." + child.name);
  }
}

}  // namespace

struct IpcStreamWriter::Impl {
  Sink sink;
  std::shared_ptr<const Schema> schema;
  IpcWriteOptions options;
  int64_t written = 0;
  int64_t batches = 0;
  bool finished = false;
  bool broken = false;  // the sink threw mid-message; the stream is unusable

  void emit(std::span<const uint8_t> bytes) {
    if (bytes.empty()) return;
    sink(bytes);
    written += static_cast<int64_t>(bytes.size());
  }

  // Frames a finished Message flatbuffer: continuation, padded length, flatbuffer, padding.
  void emit_message(const FlatBufferBuilder& b) {
    const auto size = static_cast<int64_t>(b.GetSize());
    const int64_t padded = pad8(8 + size) - 8;
    uint8_t prefix[8] = {0xFF, 0xFF, 0xFF, 0xFF};
    const auto length = static_cast<int32_t>(padded);
    std::memcpy(prefix + 4, &length, 4);
    emit(prefix);
    emit({b.GetBufferPointer(), static_cast<size_t>(size)});
    emit({kZeros, static_cast<size_t>(padded - size)});
  }

  void write_schema() {
    FlatBufferBuilder b(1024);
    std::vector<Offset> fields;
    fields.reserve(schema->fields.size());
    for (const Field& f : schema->fields) fields.push_back(write_field(b, f));
    auto fields_vec = b.CreateVector(fields);
    Offset metadata = write_metadata(b, schema->metadata);
    auto start = b.StartTable();
    b.AddOffset(slot(kSchemaCustomMetadata), metadata);
    b.AddOffset(slot(kSchemaFields), fields_vec);
    finish_message(b, kHeaderSchema, Offset(b.EndTable(start)), 0);
    emit_message(b);
  }

  void write_batch(const RecordBatch& batch) {
    const auto& fields = schema->fields;
    const std::string where_batch = fmt::format("record batch {}", batches);
    if (batch.columns.size() != fields.size()) {
      throw InvalidArgument(fmt::format("IPC writer: {}: has {} columns, schema has {}",
                                        where_batch, batch.columns.size(), fields.size()));
    }
    if (batch.num_rows < 0) {
      throw InvalidArgument(
          fmt::format("IPC writer: {}: negative row count {}", where_batch, batch.num_rows));
    }
    detail::IpcBody body;
    for (size_t i = 0; i < fields.size(); ++i) {
      const std::string where = fmt::format("{}, column \"{}\"", where_batch, fields[i].name);
      const ArrayPtr& column = batch.columns[i];
      if (!column) throw InvalidArgument(fmt::format("IPC writer: {}: column is null", where));
      if (!column->type || !column->type->equals(*fields[i].type)) {
        throw InvalidArgument(fmt::format("IPC writer: {}: has type {}, schema says {}", where,
                                          column->type ? column->type->to_string() : "(none)",
                                          fields[i].type->to_string()));
      }
      if (column->length != batch.num_rows || column->offset < 0) {
        throw InvalidArgument(fmt::format("IPC writer: {}: has {} rows (offset {}), batch has {}",
                                          where, column->length, column->offset, batch.num_rows));
      }
      detail::append_column(body, *column, *fields[i].type, where);
    }

    const bool compress = options.compression != IpcCompression::kNone;
    if (compress) {
      for (Buffer& buf : body.buffers) buf = detail::compress_body_buffer(buf, options.compression);
    }
    std::vector<FbBuffer> layout;
    layout.reserve(body.buffers.size());
    int64_t body_length = 0;
    for (const Buffer& buf : body.buffers) {
      layout.push_back({body_length, buf.size()});
      body_length += pad8(buf.size());
    }

    FlatBufferBuilder b(512 + 16 * (layout.size() + body.nodes.size()));
    auto nodes = b.CreateVectorOfStructs(body.nodes.data(), body.nodes.size());
    auto buffers = b.CreateVectorOfStructs(layout.data(), layout.size());
    Offset compression;
    if (compress) {
      auto start = b.StartTable();
      const int8_t codec = options.compression == IpcCompression::kLz4Frame ? 0 : 1;
      b.AddElement<int8_t>(slot(kCompressionCodec), codec, 0);
      compression = Offset(b.EndTable(start));
    }
    auto start = b.StartTable();
    b.AddElement<int64_t>(slot(kBatchLength), batch.num_rows, 0);
    b.AddOffset(slot(kBatchCompression), compression);
    b.AddOffset(slot(kBatchBuffers), buffers);
    b.AddOffset(slot(kBatchNodes), nodes);
    finish_message(b, kHeaderRecordBatch, Offset(b.EndTable(start)), body_length);

    emit_message(b);
    for (const Buffer& buf : body.buffers) {
      emit(buf.bytes());
      emit({kZeros, static_cast<size_t>(pad8(buf.size()) - buf.size())});
    }
    ++batches;
  }

  void check_open(const char* what) const {
    if (finished) throw InvalidArgument(fmt::format("IPC writer: {} after finish()", what));
    if (broken) {
      throw Error(fmt::format("IPC writer: {} after an earlier write failed midway", what));
    }
  }

  // Runs `f`, marking the stream broken if the sink fails after bytes went out.
  template <class F>
  void guarded(F&& f) {
    const int64_t before = written;
    try {
      f();
    } catch (...) {
      if (written != before) broken = true;
      throw;
    }
  }
};

IpcStreamWriter::IpcStreamWriter(Sink sink, std::shared_ptr<const Schema> schema,
                                 IpcWriteOptions options)
    : impl_(std::make_unique<Impl>()) {
  if (!sink) throw InvalidArgument("IPC writer: no sink");
  if (!schema) throw InvalidArgument("IPC writer: no schema");
  for (const Field& f : schema->fields) {
    if (!f.type) throw InvalidArgument(fmt::format("IPC writer: field \"{}\" has no type", f.name));
    check_type(*f.type, fmt::format("field \"{}\"", f.name));
  }
  impl_->sink = std::move(sink);
  impl_->schema = std::move(schema);
  impl_->options = options;
  impl_->guarded([&] { impl_->write_schema(); });
}

IpcStreamWriter::~IpcStreamWriter() = default;

void IpcStreamWriter::write(const RecordBatch& batch) {
  impl_->check_open("write()");
  impl_->guarded([&] { impl_->write_batch(batch); });
}

void IpcStreamWriter::finish() {
  if (impl_->finished) return;
  if (impl_->broken) throw Error("IPC writer: finish() after an earlier write failed midway");
  static constexpr uint8_t kEos[8] = {0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0};
  impl_->guarded([&] { impl_->emit(kEos); });
  impl_->finished = true;
}

int64_t IpcStreamWriter::bytes_written() const noexcept {
  return impl_->written;
}

std::vector<uint8_t> write_ipc_stream(std::shared_ptr<const Schema> schema,
                                      std::span<const RecordBatch> batches,
                                      const IpcWriteOptions& options) {
  std::vector<uint8_t> out;
  IpcStreamWriter writer(
      [&out](std::span<const uint8_t> bytes) { out.insert(out.end(), bytes.begin(), bytes.end()); },
      std::move(schema), options);
  for (const RecordBatch& batch : batches) writer.write(batch);
  writer.finish();
  return out;
}

}  // namespace mouse::arrow
