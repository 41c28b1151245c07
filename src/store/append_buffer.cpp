// Typed column builders for appended rows, and the block / chunk bookkeeping of the buffer.
#include "store/append_buffer.hpp"

#include <fmt/format.h>

#include <optional>

#include "format/arrow/builders.hpp"
#include "mouse/error.hpp"
#include "store/conform.hpp"
#include "store/image_codec.hpp"
#include "store/step_value.hpp"

namespace mouse::detail {

namespace {

using arrow::ArrayPtr;
using arrow::TypeId;
using arrow::TypePtr;

constexpr std::string_view kBufferLabel = "append buffer";

// The PNG bytes of a row's ImagePixels values, encoded while validating (encoding can fail, and
// nothing may change once applying starts), in the order Node::append meets them: depth-first
// through lists.
struct EncodedPixels {
  std::vector<std::string> png;
  size_t next = 0;
};

void encode_pixels(const StepValue& v, std::vector<std::string>& out) {
  if (const auto* px = std::get_if<ImagePixels>(&v.value)) {
    out.push_back(
        encode_png(px->pixels.data(), px->pixels.size(), px->height, px->width, px->channels));
  } else if (const auto* list = std::get_if<StepValue::List>(&v.value)) {
    for (const StepValue& item : *list) encode_pixels(item, out);
  }
}

// One column (or list child) under construction, typed by builder_type() of the column type.
struct Node {
  TypePtr type;
  int32_t fixed = 0;  // list of a fixed_size_list column: a null row still holds `fixed` items
  int64_t length = 0;
  std::vector<bool> valid;
  std::vector<int64_t> ints;  // bool (0/1) and int64
  std::vector<double> floats;
  std::vector<int64_t> offsets{0};  // utf8, binary, image bytes, list
  std::string data;
  std::unique_ptr<Node> child;

  static std::unique_ptr<Node> make(const TypePtr& column, int64_t nulls) {
    auto n = std::make_unique<Node>();
    n->type = builder_type(column);
    MOUSE_DCHECK(n->type != nullptr);
    if (column->is_list_like()) {
      n->fixed = column->id == TypeId::kFixedSizeList ? column->list_size : 0;
      n->child = make(column->value_type(), 0);
    }
    for (int64_t i = 0; i < nulls; ++i) n->append_null();
    return n;
  }

  // Bytes held (what sealing this block copies).
  int64_t bytes() const {
    const auto n = static_cast<int64_t>(valid.size() / 8 + (ints.size() + floats.size() + offsets.size()) * 8 +
                                        data.size());
    return n + (child ? child->bytes() : 0);
  }

  void append_null() {
    valid.push_back(false);
    ++length;
    switch (type->id) {
      case TypeId::kNull: break;
      case TypeId::kBool:
      case TypeId::kInt64: ints.push_back(0); break;
      case TypeId::kFloat64: floats.push_back(0.0); break;
      case TypeId::kList:
        for (int32_t k = 0; k < fixed; ++k) child->append_null();
        offsets.push_back(child->length);
        break;
      default: offsets.push_back(static_cast<int64_t>(data.size())); break;
    }
  }

  // Does not throw but for allocation: the value was checked and its pixels encoded beforehand.
  // valid / length grow last, so they never count a row whose payload is missing.
  void append(const StepValue& v, EncodedPixels& images) {
    if (std::holds_alternative<std::monostate>(v.value)) {
      append_null();
      return;
    }
    switch (type->id) {
      case TypeId::kBool: ints.push_back(std::get<bool>(v.value) ? 1 : 0); break;
      case TypeId::kInt64: ints.push_back(std::get<int64_t>(v.value)); break;
      case TypeId::kFloat64:
        if (const auto* i = std::get_if<int64_t>(&v.value)) {
          floats.push_back(static_cast<double>(*i));
        } else {
          floats.push_back(std::get<double>(v.value));
        }
        break;
      case TypeId::kList:
        for (const StepValue& item : std::get<StepValue::List>(v.value)) {
          child->append(item, images);
        }
        offsets.push_back(child->length);
        break;
      case TypeId::kStruct:
        if (std::holds_alternative<ImagePixels>(v.value)) {
          MOUSE_DCHECK(images.next < images.png.size());
          data += images.png[images.next++];
        } else {
          data += std::get<EncodedImage>(v.value).bytes;
        }
        offsets.push_back(static_cast<int64_t>(data.size()));
        break;
      default:  // utf8, binary
        data += std::get<std::string>(v.value);
        offsets.push_back(static_cast<int64_t>(data.size()));
        break;
    }
    valid.push_back(true);
    ++length;
  }

  std::vector<std::optional<std::string>> strings() const {
    std::vector<std::optional<std::string>> out(static_cast<size_t>(length));
    for (int64_t i = 0; i < length; ++i) {
      const auto k = static_cast<size_t>(i);
      if (valid[k]) out[k] = data.substr(static_cast<size_t>(offsets[k]),
                                         static_cast<size_t>(offsets[k + 1] - offsets[k]));
    }
    return out;
  }

  ArrayPtr finish() const {
    switch (type->id) {
      case TypeId::kNull: return arrow::make_null(length);
      case TypeId::kBool: {
        std::vector<bool> bits(ints.begin(), ints.end());
        return arrow::make_bool(bits, valid);
      }
      case TypeId::kInt64: return arrow::make_primitive<int64_t>(ints, valid);
      case TypeId::kFloat64: return arrow::make_primitive<double>(floats, valid);
      case TypeId::kUtf8: return arrow::make_utf8(strings());
      case TypeId::kBinary: return arrow::make_binary(strings());
      case TypeId::kList: return arrow::make_list(offsets, child->finish(), valid);
      default: {
        std::vector<std::optional<std::string>> no_paths(static_cast<size_t>(length));
        return arrow::make_struct({"bytes", "path"},
                                  {arrow::make_binary(strings()), arrow::make_utf8(no_paths)},
                                  valid, length);
      }
    }
  }
};

// Brings `node` to the column type `column` when null parts of its type were filled in.
void refine(std::unique_ptr<Node>& node, const TypePtr& column) {
  if (node->type->id == TypeId::kNull) {
    if (column->id != TypeId::kNull) node = Node::make(column, node->length);
    return;
  }
  if (node->child && column->is_list_like()) refine(node->child, column->value_type());
}

}  // namespace

struct BlockBuilder {
  std::vector<std::pair<std::string, std::unique_ptr<Node>>> nodes;
  int64_t rows = 0;

  Node* find(std::string_view name) {
    for (auto& [n, node] : nodes) {
      if (n == name) return node.get();
    }
    return nullptr;
  }
};

AppendBuffer::AppendBuffer(const StoreConfig& config)
    : config_(config), block_(std::make_unique<BlockBuilder>()) {}

AppendBuffer::~AppendBuffer() = default;

int AppendBuffer::column_index(std::string_view name) const noexcept {
  for (size_t i = 0; i < columns_.size(); ++i) {
    if (columns_[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

// Fixes the type of column `name`, adding the column if it is new.
void AppendBuffer::set_column_type(const std::string& name, const TypePtr& type) {
  const int index = column_index(name);
  if (index < 0) {
    columns_.push_back({name, type});
  } else {
    columns_[static_cast<size_t>(index)].type = type;
  }
}

void AppendBuffer::check_contract(const std::string& name, const arrow::DataType& type) const {
  for (const KeySpec& spec : key_specs()) {
    if (spec.column != name || !key_enabled(spec.key, config_)) continue;
    try {
      classify_column(spec.key, type, kBufferLabel);
    } catch (const InvalidArgument& e) {
      throw TypeError(fmt::format("append: {}; the store is unchanged", e.what()));
    }
  }
}

void AppendBuffer::append_row(const StepRow& row) {
  if (row.empty()) throw InvalidArgument("append: the row is empty; expected at least one column");
  // Validate everything first, including every step that can fail (PNG encoding): nothing
  // changes unless the whole row fits, and applying cannot throw (but for allocation).
  EncodedPixels images;
  std::vector<TypePtr> merged;
  merged.reserve(row.size());
  for (const auto& [name, value] : row) {
    if (name.empty()) throw InvalidArgument("append: a column name is empty");
    std::string error;
    TypePtr natural = natural_type(value, error);
    const int index = column_index(name);
    TypePtr type = natural ? merge_value_type(index >= 0 ? columns_[static_cast<size_t>(index)].type
                                                         : nullptr,
                                              natural, error)
                           : nullptr;
    if (type) error = check_value(*type, value);
    if (type && error.empty() && !builder_type(type)) {
      error = fmt::format("column type {} cannot be built from rows", type->to_string());
    }
    if (!type || !error.empty()) {
      throw TypeError(fmt::format("append: column \"{}\": {} ({} value); the store is unchanged",
                                  name, error, value_kind(value)));
    }
    check_contract(name, *type);
    try {
      encode_pixels(value, images.png);
    } catch (const Error& e) {
      throw TypeError(
          fmt::format("append: column \"{}\": {}; the store is unchanged", name, e.what()));
    }
    merged.push_back(std::move(type));
  }
  for (const KeySpec& spec : key_specs()) {
    if (!spec.required) continue;
    auto it = row.find(spec.column);
    if (it == row.end() || std::holds_alternative<std::monostate>(it->second.value)) {
      throw InvalidArgument(fmt::format(
          "append: the row has no value for required column \"{}\" (required: action, reward, "
          "done); the store is unchanged",
          spec.column));
    }
  }
  // Apply.
  size_t k = 0;
  for (const auto& [name, value] : row) {
    const TypePtr& type = merged[k++];
    set_column_type(name, type);
    Node* node = block_->find(name);
    if (node == nullptr) {
      block_->nodes.emplace_back(name, Node::make(type, block_->rows));
      node = block_->nodes.back().second.get();
    } else {
      for (auto& [n, owned] : block_->nodes) {
        if (n == name) {
          refine(owned, type);
          node = owned.get();
        }
      }
    }
    node->append(value, images);
  }
  MOUSE_DCHECK(images.next == images.png.size());
  for (auto& [name, node] : block_->nodes) {
    if (node->length == block_->rows) node->append_null();
  }
  ++block_->rows;
  ++rows_;
  dirty_ = true;
  int64_t bytes = 0;
  for (const auto& [name, node] : block_->nodes) bytes += node->bytes();
  if (block_->rows >= kBlockRows || bytes >= kBlockBytes) close_open_block();
}

void AppendBuffer::seal_open_block() {
  dirty_ = false;
  if (block_->rows == 0) return;
  auto schema = std::make_shared<arrow::Schema>();
  auto chunk = std::make_shared<BufferChunk>();
  for (const auto& [name, node] : block_->nodes) {
    schema->fields.push_back(arrow::Field{name, node->type, true, {}});
    chunk->columns.push_back(node->finish());
  }
  chunk->schema = schema;
  chunk->num_rows = block_->rows;
  chunk->plan = plan_schema(*schema, config_, kBufferLabel, false);
  if (last_is_partial_) {
    chunks_.back() = std::move(chunk);
  } else {
    chunks_.push_back(std::move(chunk));
  }
  last_is_partial_ = true;
}

// Seals the open block for good: later rows start a new block (and chunk).
void AppendBuffer::close_open_block() {
  seal_open_block();
  block_ = std::make_unique<BlockBuilder>();
  last_is_partial_ = false;
}

const std::vector<ChunkPtr>& AppendBuffer::sealed() {
  if (dirty_) seal_open_block();
  return chunks_;
}

void AppendBuffer::append_columns(
    const std::vector<std::pair<std::string, arrow::ArrayPtr>>& columns) {
  if (columns.empty()) {
    throw InvalidArgument("append_columns: no columns given; expected at least one");
  }
  const int64_t length = columns.front().second ? columns.front().second->length : 0;
  std::vector<TypePtr> merged;
  std::vector<ArrayPtr> arrays;
  for (size_t c = 0; c < columns.size(); ++c) {
    const auto& [name, array] = columns[c];
    if (name.empty()) throw InvalidArgument("append_columns: a column name is empty");
    for (size_t d = 0; d < c; ++d) {
      if (columns[d].first == name) {
        throw InvalidArgument(fmt::format("append_columns: column \"{}\" is given twice", name));
      }
    }
    if (!array || !array->type) {
      throw InvalidArgument(fmt::format("append_columns: column \"{}\" has no array", name));
    }
    if (array->length != length) {
      throw InvalidArgument(fmt::format(
          "append_columns: column \"{}\" has {} rows, column \"{}\" has {}; expected equal lengths",
          name, array->length, columns.front().first, length));
    }
    try {
      arrow::validate(*array, fmt::format("append_columns: column \"{}\"", name), true);
    } catch (const FormatError& e) {
      throw InvalidArgument(e.what());
    }
    const int index = column_index(name);
    const TypePtr existing = index >= 0 ? columns_[static_cast<size_t>(index)].type : nullptr;
    TypePtr type = array->type;
    if (existing && existing->id != TypeId::kNull && array->type->id != TypeId::kNull) {
      if (!can_conform(*array->type, *existing)) {
        throw TypeError(fmt::format(
            "append_columns: column \"{}\" has type {}, the store's column has type {}; the store "
            "is unchanged",
            name, array->type->to_string(), existing->to_string()));
      }
      type = existing;
    } else if (existing && array->type->id == TypeId::kNull) {
      type = existing;
    }
    if (type->id == TypeId::kStruct && !is_image_struct(*type)) {
      throw TypeError(fmt::format(
          "append_columns: column \"{}\" is a struct ({}); only Image structs are supported", name,
          type->to_string()));
    }
    check_contract(name, *type);
    arrays.push_back(conform(array, type, fmt::format("append_columns: column \"{}\"", name)));
    merged.push_back(std::move(type));
  }
  for (const KeySpec& spec : key_specs()) {
    if (!spec.required) continue;
    bool ok = false;
    for (size_t c = 0; c < columns.size(); ++c) {
      if (columns[c].first == spec.column) ok = arrays[c]->null_count == 0 && merged[c]->id != TypeId::kNull;
    }
    if (!ok) {
      throw InvalidArgument(fmt::format(
          "append_columns: required column \"{}\" is missing or has nulls; the store is unchanged",
          spec.column));
    }
  }
  if (length == 0) return;
  close_open_block();
  auto schema = std::make_shared<arrow::Schema>();
  auto chunk = std::make_shared<BufferChunk>();
  for (size_t c = 0; c < columns.size(); ++c) {
    const std::string& name = columns[c].first;
    set_column_type(name, merged[c]);
    schema->fields.push_back(arrow::Field{name, merged[c], true, {}});
  }
  chunk->schema = schema;
  chunk->columns = std::move(arrays);
  chunk->num_rows = length;
  chunk->plan = plan_schema(*schema, config_, kBufferLabel, false);
  chunks_.push_back(std::move(chunk));
  rows_ += length;
}

}  // namespace mouse::detail
