// Arrow C data / C stream interface: import of foreign arrays as zero-copy ArrayData and export
// of ours. The interface carries no buffer sizes, so import derives each size from the type,
// offset and length and then runs the same structural validation as the IPC reader.
#include "mouse/arrow_c_data.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <string>
#include <string_view>

#include "mouse/error.hpp"

namespace mouse::arrow {

namespace {

[[noreturn]] void fail(std::string_view where, const std::string& what) {
  throw FormatError(std::string(where), -1, what);
}

struct FormatEntry {
  std::string_view format;
  TypeId id;
};

constexpr FormatEntry kPrimitiveFormats[] = {
    {"n", TypeId::kNull},    {"b", TypeId::kBool},      {"c", TypeId::kInt8},
    {"C", TypeId::kUInt8},   {"s", TypeId::kInt16},     {"S", TypeId::kUInt16},
    {"i", TypeId::kInt32},   {"I", TypeId::kUInt32},    {"l", TypeId::kInt64},
    {"L", TypeId::kUInt64},  {"e", TypeId::kFloat16},   {"f", TypeId::kFloat32},
    {"g", TypeId::kFloat64}, {"z", TypeId::kBinary},    {"Z", TypeId::kLargeBinary},
    {"u", TypeId::kUtf8},    {"U", TypeId::kLargeUtf8},
};

std::string_view primitive_format(TypeId id) noexcept {
  for (const auto& e : kPrimitiveFormats) {
    if (e.id == id) return e.format;
  }
  return {};
}

int32_t read_i32(const char*& p) noexcept {
  int32_t v;
  std::memcpy(&v, p, 4);
  p += 4;
  return v;
}

KeyValueMetadata parse_metadata(const char* p, std::string_view where) {
  KeyValueMetadata out;
  if (p == nullptr) return out;
  const int32_t n = read_i32(p);
  if (n < 0) fail(where, fmt::format("metadata has a negative pair count {}", n));
  out.reserve(static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i) {
    const int32_t klen = read_i32(p);
    if (klen < 0) fail(where, fmt::format("metadata key {} has negative length {}", i, klen));
    std::string key(p, static_cast<size_t>(klen));
    p += klen;
    const int32_t vlen = read_i32(p);
    if (vlen < 0) fail(where, fmt::format("metadata value {} has negative length {}", i, vlen));
    std::string value(p, static_cast<size_t>(vlen));
    p += vlen;
    out.emplace_back(std::move(key), std::move(value));
  }
  return out;
}

std::string encode_metadata(const KeyValueMetadata& metadata) {
  std::string out;
  if (metadata.empty()) return out;
  auto put = [&out](int32_t v) { out.append(reinterpret_cast<const char*>(&v), 4); };
  put(static_cast<int32_t>(metadata.size()));
  for (const auto& [k, v] : metadata) {
    put(static_cast<int32_t>(k.size()));
    out += k;
    put(static_cast<int32_t>(v.size()));
    out += v;
  }
  return out;
}

TypePtr import_type(const ArrowSchema& s, std::string_view where) {
  if (s.format == nullptr) fail(where, "schema has no format string");
  if (s.dictionary != nullptr) {
    fail(where, "dictionary-encoded columns are not supported (decode them first, e.g. "
                "pyarrow's Array.dictionary_decode)");
  }
  const std::string_view f = s.format;
  auto child = [&](int64_t i) -> Field {
    if (s.children == nullptr || s.children[i] == nullptr) {
      fail(where, fmt::format("child {} of format \"{}\" is missing", i, f));
    }
    return import_field(*s.children[i]);
  };
  auto expect_children = [&](int64_t n) {
    if (s.n_children != n) {
      fail(where, fmt::format("format \"{}\" needs {} children, has {}", f, n, s.n_children));
    }
  };
  for (const auto& e : kPrimitiveFormats) {
    if (e.format == f) {
      expect_children(0);
      return primitive(e.id);
    }
  }
  if (f == "+l" || f == "+L") {
    expect_children(1);
    return f == "+l" ? list(child(0)) : large_list(child(0));
  }
  if (f.starts_with("+w:")) {
    expect_children(1);
    int32_t size = -1;
    const auto digits = f.substr(3);
    auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), size);
    if (ec != std::errc() || ptr != digits.data() + digits.size() || size < 0) {
      fail(where, fmt::format("bad fixed-size list format \"{}\"", f));
    }
    return fixed_size_list(child(0), size);
  }
  if (f == "+s") {
    if (s.n_children < 0) fail(where, fmt::format("negative child count {}", s.n_children));
    std::vector<Field> fields;
    fields.reserve(static_cast<size_t>(s.n_children));
    for (int64_t i = 0; i < s.n_children; ++i) fields.push_back(child(i));
    return struct_(std::move(fields));
  }
  fail(where, fmt::format("Arrow format \"{}\" is not supported (supported: null, bool, integers, "
                          "float16/32/64, (large) string and binary, (large/fixed-size) list, "
                          "struct)",
                          f));
}

// Owns a moved-out C array and calls the producer's release when the last buffer view dies.
struct ImportedArray {
  ArrowArray array;
  ImportedArray(const ImportedArray&) = delete;
  ImportedArray& operator=(const ImportedArray&) = delete;
  explicit ImportedArray(ArrowArray* from) : array(*from) { from->release = nullptr; }
  ~ImportedArray() {
    if (array.release != nullptr) array.release(&array);
  }
};

int64_t bitmap_bytes(int64_t bits) noexcept { return bits / 8 + (bits % 8 != 0 ? 1 : 0); }

// Eight zero bytes: the offsets of an empty array whose producer passed no buffer.
alignas(64) constexpr uint8_t kZeros[64] = {};

struct Importer {
  std::shared_ptr<const void> owner;

  Buffer view(const void* p, int64_t size, std::string_view where, std::string_view what) const {
    if (p == nullptr) {
      if (size == 0) return Buffer(kZeros, 0, nullptr);
      if (size <= static_cast<int64_t>(sizeof(kZeros)) && what == "offsets") {
        return Buffer(kZeros, size, nullptr);
      }
      fail(where, fmt::format("{} buffer is null but {} bytes are needed", what, size));
    }
    return Buffer(static_cast<const uint8_t*>(p), size, owner);
  }

  ArrayPtr build(const ArrowArray& c, const TypePtr& type, const std::string& where) const {
    const DataType& t = *type;
    if (c.length < 0 || c.offset < 0) {
      fail(where, fmt::format("negative length {} or offset {}", c.length, c.offset));
    }
    if (c.dictionary != nullptr) fail(where, "array has a dictionary but its type has none");
    int64_t end = 0;
    if (__builtin_add_overflow(c.length, c.offset, &end)) {
      fail(where, "offset + length overflows");
    }
    auto out = std::make_shared<ArrayData>();
    out->type = type;
    out->length = c.length;
    out->offset = c.offset;

    const int64_t want_buffers = t.id == TypeId::kNull                               ? 0
                                 : t.is_binary_like()                                ? 3
                                 : t.id == TypeId::kFixedSizeList || t.id == TypeId::kStruct ? 1
                                                                                     : 2;
    const int64_t want_children = t.id == TypeId::kStruct ? static_cast<int64_t>(t.children.size())
                                  : t.is_list_like()      ? 1
                                                          : 0;
    if (c.n_buffers != want_buffers) {
      fail(where, fmt::format("{} array needs {} buffers, has {}", t.to_string(), want_buffers,
                              c.n_buffers));
    }
    if (c.n_children != want_children) {
      fail(where, fmt::format("{} array needs {} children, has {}", t.to_string(), want_children,
                              c.n_children));
    }
    if (want_buffers > 0 && c.buffers == nullptr) fail(where, "buffers array is null");
    if (want_children > 0 && c.children == nullptr) fail(where, "children array is null");

    if (t.id == TypeId::kNull) {
      out->null_count = c.length;
      return out;
    }
    // Validity: absent means no nulls.
    bool unknown_nulls = false;
    if (c.buffers[0] == nullptr) {
      if (c.null_count > 0) {
        fail(where, fmt::format("null count is {} but there is no validity bitmap", c.null_count));
      }
      out->buffers.emplace_back();
      out->null_count = 0;
    } else {
      out->buffers.push_back(view(c.buffers[0], bitmap_bytes(end), where, "validity"));
      unknown_nulls = c.null_count < 0;
      out->null_count = unknown_nulls ? 0 : c.null_count;
    }

    if (t.id == TypeId::kBool) {
      out->buffers.push_back(view(c.buffers[1], bitmap_bytes(end), where, "values"));
    } else if (t.is_numeric()) {
      int64_t bytes = 0;
      if (__builtin_mul_overflow(end, static_cast<int64_t>(t.byte_width()), &bytes)) {
        fail(where, "values buffer size overflows");
      }
      out->buffers.push_back(view(c.buffers[1], bytes, where, "values"));
    } else if (t.is_binary_like() || t.id == TypeId::kList || t.id == TypeId::kLargeList) {
      const int64_t width = t.has_large_offsets() ? 8 : 4;
      Buffer offsets = view(c.buffers[1], (end + 1) * width, where, "offsets");
      int64_t last = 0;
      if (t.has_large_offsets()) {
        std::memcpy(&last, offsets.data() + end * 8, 8);
      } else {
        int32_t v;
        std::memcpy(&v, offsets.data() + end * 4, 4);
        last = v;
      }
      if (last < 0) fail(where, fmt::format("last offset {} is negative", last));
      out->buffers.push_back(std::move(offsets));
      if (t.is_binary_like()) {
        out->buffers.push_back(view(c.buffers[2], last, where, "data"));
      }
    }
    for (int64_t i = 0; i < want_children; ++i) {
      const ArrowArray* child = c.children[i];
      if (child == nullptr) fail(where, fmt::format("child {} is null", i));
      const Field& f = t.children[static_cast<size_t>(i)];
      out->children.push_back(build(*child, f.type, fmt::format("{}.{}", where, f.name)));
    }
    validate(*out, where, false);
    if (unknown_nulls) return out->slice(0, out->length);
    return out;
  }
};

// --- export ----------------------------------------------------------------------------------

struct SchemaPrivate {
  std::string format;
  std::string name;
  std::string metadata;
  std::vector<ArrowSchema> children;
  std::vector<ArrowSchema*> child_ptrs;
};

void release_schema(ArrowSchema* s) {
  if (s == nullptr || s->release == nullptr) return;
  for (int64_t i = 0; i < s->n_children; ++i) {
    ArrowSchema* child = s->children[i];
    if (child->release != nullptr) child->release(child);
  }
  delete static_cast<SchemaPrivate*>(s->private_data);
  s->release = nullptr;
}

void fill_schema(const std::string& format, const std::string& name,
                 const KeyValueMetadata& metadata, int64_t flags, const std::vector<Field>& kids,
                 ArrowSchema* out) {
  auto* p = new SchemaPrivate;
  p->format = format;
  p->name = name;
  p->metadata = encode_metadata(metadata);
  p->children.resize(kids.size());
  for (size_t i = 0; i < kids.size(); ++i) export_field(kids[i], &p->children[i]);
  for (auto& c : p->children) p->child_ptrs.push_back(&c);
  out->format = p->format.c_str();
  out->name = p->name.c_str();
  out->metadata = p->metadata.empty() ? nullptr : p->metadata.data();
  out->flags = flags;
  out->n_children = static_cast<int64_t>(kids.size());
  out->children = p->child_ptrs.empty() ? nullptr : p->child_ptrs.data();
  out->dictionary = nullptr;
  out->release = release_schema;
  out->private_data = p;
}

std::string format_of(const DataType& t) {
  switch (t.id) {
    case TypeId::kList:
      return "+l";
    case TypeId::kLargeList:
      return "+L";
    case TypeId::kFixedSizeList:
      return fmt::format("+w:{}", t.list_size);
    case TypeId::kStruct:
      return "+s";
    default:
      return std::string(primitive_format(t.id));
  }
}

struct ArrayPrivate {
  ArrayPtr array;
  std::vector<const void*> buffers;
  std::vector<ArrowArray> children;
  std::vector<ArrowArray*> child_ptrs;
};

void release_array(ArrowArray* a) {
  if (a == nullptr || a->release == nullptr) return;
  for (int64_t i = 0; i < a->n_children; ++i) {
    ArrowArray* child = a->children[i];
    if (child->release != nullptr) child->release(child);
  }
  delete static_cast<ArrayPrivate*>(a->private_data);
  a->release = nullptr;
}

// Fills `out` from a private block whose buffers and children are already set.
void fill_array(ArrayPrivate* p, int64_t length, int64_t null_count, int64_t offset,
                ArrowArray* out) {
  for (auto& c : p->children) p->child_ptrs.push_back(&c);
  out->length = length;
  out->null_count = null_count;
  out->offset = offset;
  out->n_buffers = static_cast<int64_t>(p->buffers.size());
  out->n_children = static_cast<int64_t>(p->children.size());
  out->buffers = p->buffers.empty() ? nullptr : p->buffers.data();
  out->children = p->child_ptrs.empty() ? nullptr : p->child_ptrs.data();
  out->dictionary = nullptr;
  out->release = release_array;
  out->private_data = p;
}

struct StreamPrivate {
  std::shared_ptr<const Schema> schema;
  std::vector<RecordBatch> batches;
  size_t next = 0;
  std::string error;
};

int stream_get_schema(ArrowArrayStream* s, ArrowSchema* out) {
  auto* p = static_cast<StreamPrivate*>(s->private_data);
  try {
    export_schema(*p->schema, out);
    return 0;
  } catch (const std::exception& e) {
    p->error = e.what();
    return ENOMEM;
  }
}

int stream_get_next(ArrowArrayStream* s, ArrowArray* out) {
  auto* p = static_cast<StreamPrivate*>(s->private_data);
  if (p->next >= p->batches.size()) {
    out->release = nullptr;
    return 0;
  }
  try {
    const RecordBatch& b = p->batches[p->next];
    auto* priv = new ArrayPrivate;
    priv->buffers.push_back(nullptr);
    priv->children.resize(b.columns.size());
    for (size_t i = 0; i < b.columns.size(); ++i) export_array(b.columns[i], &priv->children[i]);
    fill_array(priv, b.num_rows, 0, 0, out);
    ++p->next;
    return 0;
  } catch (const std::exception& e) {
    p->error = e.what();
    return ENOMEM;
  }
}

const char* stream_last_error(ArrowArrayStream* s) {
  auto* p = static_cast<StreamPrivate*>(s->private_data);
  return p->error.empty() ? nullptr : p->error.c_str();
}

void stream_release(ArrowArrayStream* s) {
  if (s == nullptr || s->release == nullptr) return;
  delete static_cast<StreamPrivate*>(s->private_data);
  s->release = nullptr;
}

}  // namespace

Field import_field(const ArrowSchema& schema) {
  Field field;
  field.name = schema.name != nullptr ? schema.name : "";
  const std::string where = fmt::format("Arrow C schema, field \"{}\"", field.name);
  field.type = import_type(schema, where);
  field.nullable = (schema.flags & ARROW_FLAG_NULLABLE) != 0;
  field.metadata = parse_metadata(schema.metadata, where);
  return field;
}

Schema import_schema(const ArrowSchema& schema) {
  if (schema.format == nullptr || std::string_view(schema.format) != "+s") {
    fail("Arrow C schema", fmt::format("a record batch schema must be a struct (\"+s\"), found \"{}\"",
                                       schema.format != nullptr ? schema.format : "(null)"));
  }
  Field top = import_field(schema);
  Schema out;
  out.fields = top.type->children;
  out.metadata = std::move(top.metadata);
  return out;
}

ArrayPtr import_array(ArrowArray* array, const TypePtr& type, std::string_view where) {
  if (array == nullptr || array->release == nullptr) {
    fail(where, "the C array is null or already released");
  }
  Importer importer{std::make_shared<ImportedArray>(array)};
  const auto& held = static_cast<const ImportedArray*>(importer.owner.get())->array;
  return importer.build(held, type, std::string(where));
}

RecordBatch import_record_batch(ArrowArray* array, std::shared_ptr<const Schema> schema,
                                std::string_view where) {
  const TypePtr type = struct_(schema->fields);
  ArrayPtr top = import_array(array, type, where);
  if (top->null_count != 0) {
    fail(where, fmt::format("a record batch must have no top-level nulls, found {}", top->null_count));
  }
  RecordBatch batch;
  batch.num_rows = top->length;
  batch.schema = std::move(schema);
  for (const auto& child : top->children) {
    batch.columns.push_back(top->offset == 0 && child->length == top->length
                                ? child
                                : child->slice(top->offset, top->length));
  }
  return batch;
}

ImportedStream import_stream(ArrowArrayStream* stream, std::string_view where) {
  if (stream == nullptr || stream->release == nullptr) {
    fail(where, "the C stream is null or already released");
  }
  struct Releaser {
    ArrowArrayStream* s;
    ~Releaser() {
      if (s->release != nullptr) s->release(s);
    }
  } releaser{stream};
  auto producer_error = [&](const char* what, int code) {
    const char* msg = stream->get_last_error != nullptr ? stream->get_last_error(stream) : nullptr;
    throw IoError(fmt::format("{}: {} failed (error {}){}{}", where, what, code,
                              msg != nullptr ? ": " : "", msg != nullptr ? msg : ""));
  };
  ArrowSchema c_schema{};
  if (int rc = stream->get_schema(stream, &c_schema); rc != 0) producer_error("get_schema", rc);
  ImportedStream out;
  try {
    out.schema = std::make_shared<const Schema>(import_schema(c_schema));
  } catch (...) {
    if (c_schema.release != nullptr) c_schema.release(&c_schema);
    throw;
  }
  if (c_schema.release != nullptr) c_schema.release(&c_schema);
  for (size_t b = 0;; ++b) {
    ArrowArray c_array{};
    if (int rc = stream->get_next(stream, &c_array); rc != 0) producer_error("get_next", rc);
    if (c_array.release == nullptr) break;
    out.batches.push_back(
        import_record_batch(&c_array, out.schema, fmt::format("{}: record batch {}", where, b)));
  }
  return out;
}

void export_field(const Field& field, ArrowSchema* out) {
  const std::string format = format_of(*field.type);
  fill_schema(format, field.name, field.metadata, field.nullable ? ARROW_FLAG_NULLABLE : 0,
              field.type->children, out);
}

void export_schema(const Schema& schema, ArrowSchema* out) {
  fill_schema("+s", "", schema.metadata, 0, schema.fields, out);
}

void export_array(const ArrayPtr& array, ArrowArray* out) {
  auto* p = new ArrayPrivate;
  p->array = array;
  const DataType& t = *array->type;
  if (t.id != TypeId::kNull) {
    for (size_t i = 0; i < array->buffers.size(); ++i) {
      const Buffer& b = array->buffers[i];
      // Validity may be absent; any other empty buffer still gets a valid pointer.
      p->buffers.push_back(i == 0 && b.empty() ? nullptr
                           : b.data() != nullptr ? static_cast<const void*>(b.data())
                                                 : static_cast<const void*>(kZeros));
    }
  }
  p->children.resize(array->children.size());
  for (size_t i = 0; i < array->children.size(); ++i) {
    export_array(array->children[i], &p->children[i]);
  }
  fill_array(p, array->length, array->null_count, array->offset, out);
}

void export_stream(std::shared_ptr<const Schema> schema, std::vector<RecordBatch> batches,
                   ArrowArrayStream* out) {
  auto* p = new StreamPrivate;
  p->schema = std::move(schema);
  p->batches = std::move(batches);
  out->get_schema = stream_get_schema;
  out->get_next = stream_get_next;
  out->get_last_error = stream_last_error;
  out->release = stream_release;
  out->private_data = p;
}

}  // namespace mouse::arrow
