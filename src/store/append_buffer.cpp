// Typed column builders for appended rows, and the block / chunk bookkeeping of the buffer.
#include "store/append_buffer.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <span>

#include "format/arrow/builders.hpp"
#include "mouse/error.hpp"
#include "store/conform.hpp"
#include "store/image_codec.hpp"
#include "store/numeric.hpp"
#include "store/step_value.hpp"

namespace mouse::detail {

namespace {

using arrow::ArrayData;
using arrow::ArrayPtr;
using arrow::TypeId;
using arrow::TypePtr;

constexpr std::string_view kBufferLabel = "append buffer";

}  // namespace

const std::string& buffer_label() {
  static const std::string label(kBufferLabel);
  return label;
}

Chunk buffer_chunk_view(const BufferChunk& chunk, int64_t first_row) {
  return {chunk.columns, &chunk.plan, &buffer_label(), first_row};
}

namespace {

// The PNG bytes of a row's ImagePixels values in the order Node::append meets them: depth-first
// through lists.
struct EncodedPixels {
  std::vector<std::string> png;
  size_t next = 0;
};

void encode_pixels(const StepValue& v, std::vector<std::string>& out) {
  if (const auto* px = std::get_if<ImagePixels>(&v.value)) {
    if (!px->float_pixels.empty()) {
      const std::vector<uint8_t> pixels = uint8_pixels(*px);
      out.push_back(encode_png(pixels.data(), pixels.size(), px->height, px->width, px->channels));
      return;
    }
    out.push_back(
        encode_png(px->pixels.data(), px->pixels.size(), px->height, px->width, px->channels));
  } else if (const auto* list = std::get_if<StepValue::List>(&v.value)) {
    for (const StepValue& item : *list) encode_pixels(item, out);
  }
}

int column_index(const std::vector<BufferColumn>& columns, std::string_view name) noexcept {
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

void check_contract(const std::string& name, const arrow::DataType& type,
                    const StoreConfig& config) {
  for (const KeySpec& spec : key_specs()) {
    if (spec.column != name || !key_enabled(spec.key, config)) continue;
    const ColumnCheck c = check_column(spec.key, type, kBufferLabel);
    if (!c.problem.empty()) {
      throw TypeError(fmt::format("append: {}; the store is unchanged", c.problem));
    }
  }
}

// The first float of `v` (depth-first through lists) that is not a whole int64, or null.
const double* non_whole(const StepValue& v) {
  if (const auto* d = std::get_if<double>(&v.value)) return is_whole_int64(*d) ? nullptr : d;
  if (const auto* list = std::get_if<StepValue::List>(&v.value)) {
    for (const StepValue& item : *list) {
      if (const double* bad = non_whole(item)) return bad;
    }
  }
  return nullptr;
}

// The key whose column `name` is, when the store encodes it; nullptr otherwise.
const KeySpec* contract_key(std::string_view name, const StoreConfig& config) noexcept {
  for (const KeySpec& spec : key_specs()) {
    if (spec.column == name && key_enabled(spec.key, config)) return &spec;
  }
  return nullptr;
}

// The value checks of SPEC §4 for one appended value of a contract column: whole numbers for
// integer keys (SPEC §3), then done / action / reward ranges.
void check_row_value(const KeySpec& spec, const StepValue& v, const StoreConfig& config,
                     bool q_star, int64_t row_number) {
  if (is_integer_key(spec.key)) {
    if (const double* bad = non_whole(v)) {
      throw InvalidArgument(fmt::format(
          "append: column \"{}\" gets the value {} at row {}, which is not a whole number; "
          "\"{}\" is int64, so its values must be whole numbers; the store is unchanged",
          spec.column, *bad, row_number, spec.name));
    }
  }
  ValueProblem problem = ValueProblem::kNone;
  std::string shown;
  if (const auto* b = std::get_if<bool>(&v.value)) {
    problem = check_value_contract(spec.key, int64_t{*b}, q_star, config.max_action_dim);
    shown = *b ? "True" : "False";
  } else if (const auto* i = std::get_if<int64_t>(&v.value)) {
    problem = check_value_contract(spec.key, *i, q_star, config.max_action_dim);
    shown = fmt::format("{}", *i);
  } else if (const auto* d = std::get_if<double>(&v.value)) {
    problem = check_value_contract(spec.key, *d, q_star, config.max_action_dim);
    shown = fmt::format("{}", *d);
  }
  if (problem != ValueProblem::kNone) {
    throw InvalidArgument(fmt::format("append: column \"{}\" at row {}: {}; the store is unchanged",
                                      spec.column, row_number,
                                      describe_value_problem(problem, shown, config.max_action_dim)));
  }
}

// Whether the store encodes q-values once this append is in: the source has metadata_q_star,
// or the buffer, or the appended row / columns (with a value).
bool encodes_q_star(bool source, const std::vector<BufferColumn>& columns, bool appended) {
  if (source || appended) return true;
  for (const BufferColumn& c : columns) {
    if (c.name == "metadata_q_star" && c.type->id != TypeId::kNull) return true;
  }
  return false;
}

// The shape of an image value (pixels, or the headers of encoded bytes); nullopt otherwise.
std::optional<std::array<int64_t, 3>> image_shape(const StepValue& v) {
  if (const auto* px = std::get_if<ImagePixels>(&v.value)) {
    return std::array<int64_t, 3>{px->height, px->width, px->channels};
  }
  if (const auto* enc = std::get_if<EncodedImage>(&v.value)) return peek_image_shape(enc->bytes);
  return std::nullopt;
}

// Append-only bytes that readers share a prefix of: bytes once written are never rewritten, and
// growing moves them to a new allocation (readers' slices keep the old one alive). Amortised
// O(1) per byte.
class GrowBytes {
 public:
  int64_t size() const noexcept { return size_; }

  void append(const void* bytes, int64_t n) {
    if (n == 0) return;
    reserve(size_ + n);
    std::memcpy(mem_.get() + size_, bytes, static_cast<size_t>(n));
    size_ += n;
  }

  template <class T>
  void push(T v) {
    append(&v, sizeof(T));
  }

  // The first `n` bytes: a slice that later appends leave alone or, with `compact`, a copy of
  // exactly those bytes (for a block that is closed, so the spare capacity is not kept).
  Buffer prefix(int64_t n, bool compact) const {
    MOUSE_DCHECK(n <= size_);
    if (compact || n == 0) return Buffer::copy_of({mem_.get(), static_cast<size_t>(n)});
    return Buffer(mem_.get(), n, mem_);
  }

 private:
  void reserve(int64_t n) {
    if (n <= capacity_) return;
    const int64_t capacity = std::max({n, capacity_ * 2, int64_t{64}});
    // new[] aligns for any fundamental type, so int64 / double values can be read in place.
    std::shared_ptr<uint8_t[]> mem(new uint8_t[static_cast<size_t>(capacity)]);
    if (size_ > 0) std::memcpy(mem.get(), mem_.get(), static_cast<size_t>(size_));
    mem_ = std::move(mem);
    capacity_ = capacity;
  }

  std::shared_ptr<uint8_t[]> mem_;
  int64_t size_ = 0;
  int64_t capacity_ = 0;
};

void set_bit(std::vector<uint8_t>& bits, int64_t i, bool value) {
  if (static_cast<size_t>(i >> 3) >= bits.size()) bits.push_back(0);
  if (value) bits[static_cast<size_t>(i >> 3)] |= static_cast<uint8_t>(1u << (i & 7));
}

// A copy of the first `n` bits: the writer keeps setting bits in the last byte, so readers get
// their own (at most kBlockRows / 8 bytes).
Buffer copy_bits(const std::vector<uint8_t>& bits, int64_t n) {
  return Buffer::copy_of({bits.data(), static_cast<size_t>((n + 7) / 8)});
}

bool has_offsets(TypeId id) noexcept {
  return id == TypeId::kUtf8 || id == TypeId::kBinary || id == TypeId::kList ||
         id == TypeId::kStruct;
}

// One column (or list child) under construction, typed by builder_type() of the column type.
// Offsets are int32 (a block's bytes stay far below 2 GiB).
struct Node {
  TypePtr type;
  int32_t fixed = 0;  // list of a fixed_size_list column: a null row still holds `fixed` items
  int64_t length = 0;
  int64_t null_count = 0;
  std::vector<uint8_t> valid;  // validity bitmap
  std::vector<uint8_t> bools;  // values of a bool column (bitmap)
  GrowBytes values;            // int64 / double values, or the offsets of the types with offsets
  GrowBytes data;              // bytes of utf8, binary and Image values
  std::unique_ptr<Node> child;

  static std::unique_ptr<Node> make(const TypePtr& column, int64_t nulls) {
    auto n = std::make_unique<Node>();
    n->type = builder_type(column);
    MOUSE_DCHECK(n->type != nullptr);
    if (column->is_list_like()) {
      n->fixed = column->id == TypeId::kFixedSizeList ? column->list_size : 0;
      n->child = make(column->value_type(), 0);
    }
    if (has_offsets(n->type->id)) n->values.push<int32_t>(0);
    for (int64_t i = 0; i < nulls; ++i) n->append_null();
    return n;
  }

  // Bytes held.
  int64_t bytes() const {
    const auto n = static_cast<int64_t>(valid.size() + bools.size()) + values.size() + data.size();
    return n + (child ? child->bytes() : 0);
  }

  void push_offset(int64_t end) { values.push<int32_t>(static_cast<int32_t>(end)); }

  void append_null() {
    switch (type->id) {
      case TypeId::kNull: break;
      case TypeId::kBool: set_bit(bools, length, false); break;
      case TypeId::kInt64: values.push<int64_t>(0); break;
      case TypeId::kFloat64: values.push<double>(0.0); break;
      case TypeId::kList:
        for (int32_t k = 0; k < fixed; ++k) child->append_null();
        push_offset(child->length);
        break;
      default: push_offset(data.size()); break;
    }
    set_bit(valid, length, false);
    ++null_count;
    ++length;
  }

  // Does not throw but for allocation: the value was checked and its pixels encoded beforehand.
  void append(const StepValue& v, EncodedPixels& images) {
    if (std::holds_alternative<std::monostate>(v.value)) {
      append_null();
      return;
    }
    switch (type->id) {
      case TypeId::kBool: set_bit(bools, length, std::get<bool>(v.value)); break;
      case TypeId::kInt64:
        if (const auto* b = std::get_if<bool>(&v.value)) {
          values.push<int64_t>(*b ? 1 : 0);
        } else {
          values.push<int64_t>(std::get<int64_t>(v.value));
        }
        break;
      case TypeId::kFloat64:
        if (const auto* i = std::get_if<int64_t>(&v.value)) {
          values.push<double>(static_cast<double>(*i));
        } else if (const auto* b = std::get_if<bool>(&v.value)) {
          values.push<double>(*b ? 1.0 : 0.0);
        } else {
          values.push<double>(std::get<double>(v.value));
        }
        break;
      case TypeId::kList:
        for (const StepValue& item : std::get<StepValue::List>(v.value)) {
          child->append(item, images);
        }
        push_offset(child->length);
        break;
      case TypeId::kStruct: {
        const std::string* bytes = nullptr;
        if (std::holds_alternative<ImagePixels>(v.value)) {
          MOUSE_DCHECK(images.next < images.png.size());
          bytes = &images.png[images.next++];
        } else {
          bytes = &std::get<EncodedImage>(v.value).bytes;
        }
        data.append(bytes->data(), static_cast<int64_t>(bytes->size()));
        push_offset(data.size());
        break;
      }
      default: {  // utf8, binary
        const auto& s = std::get<std::string>(v.value);
        data.append(s.data(), static_cast<int64_t>(s.size()));
        push_offset(data.size());
        break;
      }
    }
    set_bit(valid, length, true);
    ++length;
  }

  // The rows so far as an array: slices of the builders (copies with `compact`), but for the
  // bitmaps, which are always copied.
  ArrayPtr view(bool compact) const {
    if (type->id == TypeId::kNull) return arrow::make_null(length);
    auto a = std::make_shared<arrow::ArrayData>();
    a->type = type;
    a->length = length;
    a->null_count = null_count;
    Buffer validity = null_count > 0 ? copy_bits(valid, length) : Buffer();
    const int64_t offset_bytes = (length + 1) * int64_t{4};
    switch (type->id) {
      case TypeId::kBool: a->buffers = {validity, copy_bits(bools, length)}; break;
      case TypeId::kInt64:
      case TypeId::kFloat64: a->buffers = {validity, values.prefix(length * 8, compact)}; break;
      case TypeId::kList:
        a->buffers = {validity, values.prefix(offset_bytes, compact)};
        a->children = {child->view(compact)};
        break;
      case TypeId::kStruct: {  // Image: {bytes, path}, path always null
        auto bytes = std::make_shared<arrow::ArrayData>();
        bytes->type = type->children[0].type;
        bytes->length = length;
        bytes->null_count = null_count;
        bytes->buffers = {validity, values.prefix(offset_bytes, compact),
                          data.prefix(data.size(), compact)};
        a->buffers = {validity};
        a->children = {std::move(bytes), all_null(arrow::utf8(), length)};
        break;
      }
      default:  // utf8, binary
        a->buffers = {validity, values.prefix(offset_bytes, compact),
                      data.prefix(data.size(), compact)};
        break;
    }
    return a;
  }
};

// A bool or int64 node as an int64 or float64 one (SPEC §4 widening): bools become 0 / 1. The
// values move to a new allocation (readers keep the old).
std::unique_ptr<Node> widen(const Node& from, const TypePtr& to) {
  auto n = std::make_unique<Node>();
  n->type = to;
  n->length = from.length;
  n->null_count = from.null_count;
  n->valid = from.valid;
  const bool to_float = to->id == TypeId::kFloat64;
  if (from.type->id == TypeId::kBool) {
    for (int64_t i = 0; i < from.length; ++i) {
      const bool b = arrow::get_bit(from.bools.data(), i);
      if (to_float) {
        n->values.push<double>(b ? 1.0 : 0.0);
      } else {
        n->values.push<int64_t>(b ? 1 : 0);
      }
    }
    return n;
  }
  MOUSE_DCHECK(from.type->id == TypeId::kInt64 && to_float);
  const Buffer old = from.values.prefix(from.length * 8, false);
  const auto* v = reinterpret_cast<const int64_t*>(old.data());
  for (int64_t i = 0; i < from.length; ++i) n->values.push<double>(static_cast<double>(v[i]));
  return n;
}

// Brings `node` to the column type `column` when null parts of its type were filled in or a
// bool or integer part widened (the node's own type follows its child's, so that a chunk's
// schema matches its arrays).
void refine(std::unique_ptr<Node>& node, const TypePtr& column) {
  if (node->type->id == TypeId::kNull) {
    if (column->id != TypeId::kNull) node = Node::make(column, node->length);
    return;
  }
  if (node->type->id == TypeId::kBool && column->id != TypeId::kBool && !column->is_list_like()) {
    node = widen(*node, builder_type(column));
    return;
  }
  if (node->type->id == TypeId::kInt64 && is_float_type(column->id)) {
    node = widen(*node, arrow::float64());
    return;
  }
  if (node->child && column->is_list_like()) {
    const arrow::DataType* before = node->child->type.get();
    refine(node->child, column->value_type());
    if (node->child->type.get() != before) node->type = builder_type(column);
  }
}

}  // namespace

struct BlockBuilder {
  std::vector<std::pair<std::string, std::unique_ptr<Node>>> nodes;
  int64_t rows = 0;
  // The schema and plan of the nodes' types; null when a node was added or its type changed.
  std::shared_ptr<const arrow::Schema> schema;
  SchemaPlan plan;

  std::unique_ptr<Node>* find(std::string_view name) {
    for (auto& [n, node] : nodes) {
      if (n == name) return &node;
    }
    return nullptr;
  }
};

AppendBuffer::AppendBuffer(const StoreConfig& config)
    : config_(config),
      columns_(std::make_shared<const std::vector<BufferColumn>>()),
      sealed_(std::make_shared<const SealedChunks>()),
      block_(std::make_unique<BlockBuilder>()) {}

AppendBuffer::~AppendBuffer() = default;

// Fixes the types of the given columns, adding the new ones; the list is replaced, not changed,
// and only when something differs (readers and prepared rows hold the old one).
BufferColumns AppendBuffer::with_types(
    const BufferColumns& columns,
    const std::vector<std::pair<const std::string*, TypePtr>>& types) {
  std::shared_ptr<std::vector<BufferColumn>> next;
  for (const auto& [name, type] : types) {
    const std::vector<BufferColumn>& current = next ? *next : *columns;
    const int index = column_index(current, *name);
    if (index >= 0 && current[static_cast<size_t>(index)].type->equals(*type)) continue;
    if (!next) next = std::make_shared<std::vector<BufferColumn>>(*columns);
    if (index < 0) {
      next->push_back({*name, type});
    } else {
      (*next)[static_cast<size_t>(index)].type = type;
    }
  }
  return next ? BufferColumns(std::move(next)) : columns;
}

void AppendBuffer::set_column_types(
    const std::vector<std::pair<const std::string*, TypePtr>>& types) {
  columns_ = with_types(columns_, types);
}

BufferColumns AppendBuffer::columns_after(const StepRow& row, const PreparedRow& prepared) {
  std::vector<std::pair<const std::string*, TypePtr>> types;
  types.reserve(row.size());
  size_t k = 0;
  for (const auto& [name, value] : row) types.emplace_back(&name, prepared.merged[k++]);
  return with_types(prepared.columns, types);
}

BufferColumns AppendBuffer::columns_after(
    const std::vector<std::pair<std::string, arrow::ArrayPtr>>& columns,
    const PreparedColumns& prepared) {
  std::vector<std::pair<const std::string*, TypePtr>> types;
  types.reserve(columns.size());
  for (size_t c = 0; c < columns.size(); ++c) {
    types.emplace_back(&columns[c].first, prepared.merged[c]);
  }
  return with_types(prepared.columns, types);
}

bool same_columns(const BufferColumns& a, const BufferColumns& b) {
  if (a == b) return true;
  if (!a || !b || a->size() != b->size()) return false;
  for (size_t i = 0; i < a->size(); ++i) {
    if ((*a)[i].name != (*b)[i].name || !(*a)[i].type->equals(*(*b)[i].type)) return false;
  }
  return true;
}

PreparedRow AppendBuffer::prepare_row(const StepRow& row, BufferColumns columns,
                                      const StoreConfig& config, const EntryContext& context,
                                      std::vector<std::string>* png) {
  if (row.empty()) throw InvalidArgument("append: the row is empty; expected at least one column");
  const int64_t row_number = context.first_row;
  const auto q_column = row.find("metadata_q_star");
  const bool q_star = encodes_q_star(
      context.source_q_star, *columns,
      q_column != row.end() && !std::holds_alternative<std::monostate>(q_column->second.value));
  // Validate everything, including every step that can fail (PNG encoding): nothing changes
  // unless the whole row fits, and applying cannot throw (but for allocation).
  PreparedRow out;
  if (png != nullptr) out.png = std::move(*png);
  out.merged.reserve(row.size());
  for (const auto& [name, value] : row) {
    if (name.empty()) throw InvalidArgument("append: a column name is empty");
    std::string error;
    TypePtr natural = natural_type(value, error);
    const int index = column_index(*columns, name);
    const TypePtr existing = index >= 0 ? (*columns)[static_cast<size_t>(index)].type : nullptr;
    TypePtr type = natural ? merge_value_type(existing, natural, error) : nullptr;
    if (type) error = check_value(*type, value);
    if (type && error.empty() && !builder_type(type)) {
      error = fmt::format("column type {} cannot be built from rows", type->to_string());
    }
    if (!type || !error.empty()) {
      throw TypeError(fmt::format("append: column \"{}\": {} ({} value); the store is unchanged",
                                  name, error, value_kind(value)));
    }
    check_contract(name, *type, config);
    if (const KeySpec* spec = contract_key(name, config)) {
      check_row_value(*spec, value, config, q_star, row_number);
      if (spec->key == Key::kObsImage && !out.wide_image) {
        const auto shape = image_shape(value);
        if (shape && (*shape)[0] * (*shape)[1] * (*shape)[2] > config.max_obs_image_pixels) {
          out.wide_image = WideImage{*shape, fmt::format("append, row {}", row_number)};
        }
      }
    }
    if (png == nullptr) {
      try {
        encode_pixels(value, out.png);
      } catch (const Error& e) {
        throw TypeError(
            fmt::format("append: column \"{}\": {}; the store is unchanged", name, e.what()));
      }
    }
    out.merged.push_back(std::move(type));
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
  out.columns = std::move(columns);
  return out;
}

void AppendBuffer::apply_row(const StepRow& row, PreparedRow prepared) {
  MOUSE_DCHECK(prepared.columns == columns_ && prepared.merged.size() == row.size());
  std::vector<std::pair<const std::string*, TypePtr>> types;
  types.reserve(row.size());
  size_t k = 0;
  for (const auto& [name, value] : row) types.emplace_back(&name, prepared.merged[k++]);
  set_column_types(types);
  EncodedPixels images{std::move(prepared.png), 0};
  k = 0;
  for (const auto& [name, value] : row) {
    const TypePtr& type = prepared.merged[k++];
    std::unique_ptr<Node>* owned = block_->find(name);
    if (owned == nullptr) {
      block_->nodes.emplace_back(name, Node::make(type, block_->rows));
      owned = &block_->nodes.back().second;
      block_->schema.reset();
    } else {
      const arrow::DataType* before = (*owned)->type.get();
      refine(*owned, type);
      if ((*owned)->type.get() != before) block_->schema.reset();
    }
    (*owned)->append(value, images);
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

// The open block's rows as a chunk (null when it has none).
ChunkPtr AppendBuffer::open_chunk(bool compact) {
  if (block_->rows == 0) return nullptr;
  if (!block_->schema) {
    auto schema = std::make_shared<arrow::Schema>();
    for (const auto& [name, node] : block_->nodes) {
      schema->fields.push_back(arrow::Field{name, node->type, true, {}});
    }
    block_->plan = plan_schema(*schema, config_, kBufferLabel, false);
    block_->schema = std::move(schema);
  }
  auto chunk = std::make_shared<BufferChunk>();
  chunk->schema = block_->schema;
  chunk->columns.reserve(block_->nodes.size());
  for (const auto& [name, node] : block_->nodes) chunk->columns.push_back(node->view(compact));
  chunk->num_rows = block_->rows;
  chunk->plan = block_->plan;
  return chunk;
}

// Publishes `chunk` after the closed ones, as a new SealedChunks.
void AppendBuffer::add_chunk(ChunkPtr chunk) {
  auto next = std::make_shared<SealedChunks>(*sealed_);
  // The copied views point into chunks both lists share, so they stay valid.
  next->list.add(buffer_chunk_view(*chunk, next->list.rows()), chunk->num_rows);
  next->layout.add(chunk->plan);
  next->chunks.push_back(std::move(chunk));
  sealed_ = std::move(next);
}

// Closes the open block for good (its chunk owns exact-size copies): later rows start a new
// block.
void AppendBuffer::close_open_block() {
  if (block_->rows > 0) add_chunk(open_chunk(true));
  block_ = std::make_unique<BlockBuilder>();
  open_.reset();
  dirty_ = false;
}

BufferView AppendBuffer::view() {
  if (dirty_) {
    open_ = open_chunk(false);
    dirty_ = false;
  }
  return {sealed_, open_, columns_};
}

namespace {

constexpr std::string_view kCallRows = "append_columns (rows counted from 0 within the call)";

// The value contract over a whole scalar column of `key` (SPEC §4): a branch-free pass over the
// values finds whether any is out; only then a second pass finds the first, for the message.
void check_column_values(const ArrayData& a, const KeySpec& spec, bool q_star,
                         int64_t max_action_dim) {
  if (spec.key != Key::kDone && spec.key != Key::kAction && spec.key != Key::kReward) return;
  if (a.type->is_list_like()) return;
  int64_t first_bad = -1;
  ValueProblem problem = ValueProblem::kNone;
  std::string shown;
  visit_number(a.type->id, [&](auto tag) {
    using T = typename decltype(tag)::type;
    auto bad = [&](auto v) {
      return check_value_contract(spec.key, v, q_star, max_action_dim) != ValueProblem::kNone;
    };
    if constexpr (std::is_arithmetic_v<T>) {
      if (a.null_count == 0) {
        const T* v = arrow::values<T>(a);
        bool any = false;
        for (int64_t i = 0; i < a.length; ++i) any |= bad(v[i]);
        if (!any) return;
      }
    }
    for (int64_t i = 0; i < a.length; ++i) {
      if (a.null_count > 0 && !a.is_valid(i)) continue;
      const auto v = load<T>(a, i);
      if (bad(v)) {
        first_bad = i;
        problem = check_value_contract(spec.key, v, q_star, max_action_dim);
        shown = fmt::format("{}", v);
        return;
      }
    }
  });
  if (first_bad < 0) return;
  throw InvalidArgument(fmt::format(
      "append_columns: column \"{}\" at row {} of the call (rows counted from 0 within the "
      "call): {}; nothing was appended",
      spec.column, first_bad, describe_value_problem(problem, shown, max_action_dim)));
}

// The first image of an Image (or binary) column wider than max_obs_image_pixels, from the
// headers of its bytes.
std::optional<WideImage> wide_image_in(const ArrayData& a, int64_t max_pixels) {
  const ArrayData* bytes = &a;
  int64_t shift = 0;
  if (a.type->id == TypeId::kStruct) {
    bytes = nullptr;
    shift = a.offset;
    for (size_t f = 0; f < a.type->children.size(); ++f) {
      if (a.type->children[f].name == "bytes") bytes = a.children[f].get();
    }
    if (bytes == nullptr) return std::nullopt;
  } else if (a.type->id != TypeId::kBinary && a.type->id != TypeId::kLargeBinary) {
    return std::nullopt;
  }
  for (int64_t i = 0; i < a.length; ++i) {
    if (!a.is_valid(i) || !bytes->is_valid(i + shift)) continue;
    const auto shape = peek_image_shape(arrow::binary_value(*bytes, i + shift));
    if (shape && (*shape)[0] * (*shape)[1] * (*shape)[2] > max_pixels) {
      return WideImage{*shape, fmt::format("append_columns, row {} of the call", i)};
    }
  }
  return std::nullopt;
}

}  // namespace

PreparedColumns AppendBuffer::prepare_columns(
    const std::vector<std::pair<std::string, arrow::ArrayPtr>>& columns, BufferColumns current,
    const StoreConfig& config, const EntryContext& context) {
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
    const int index = column_index(*current, name);
    const TypePtr existing = index >= 0 ? (*current)[static_cast<size_t>(index)].type : nullptr;
    // The column and the array meet in the wider type (SPEC §4: bool -> int -> float): the
    // array is converted to it, and earlier chunks keep theirs (to_dataset converts them).
    TypePtr type = wider_type(existing, array->type);
    if (!type || !can_conform(*array->type, *type)) {
      throw TypeError(fmt::format(
          "append_columns: column \"{}\" has type {}, the store's column has type {}; the store "
          "is unchanged",
          name, array->type->to_string(), existing->to_string()));
    }
    if (type->id == TypeId::kStruct && !is_image_struct(*type)) {
      throw TypeError(fmt::format(
          "append_columns: column \"{}\" is a struct ({}); only Image structs are supported", name,
          type->to_string()));
    }
    check_contract(name, *type, config);
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
  // The value contract, over whole arrays (no per-row work beyond one pass per contract column).
  bool appended_q_star = false;
  for (size_t c = 0; c < columns.size(); ++c) {
    appended_q_star = appended_q_star ||
                      (columns[c].first == "metadata_q_star" && arrays[c]->null_count < length);
  }
  const bool q_star = encodes_q_star(context.source_q_star, *current, appended_q_star);
  std::optional<WideImage> wide;
  for (size_t c = 0; c < columns.size(); ++c) {
    const KeySpec* spec = contract_key(columns[c].first, config);
    if (spec == nullptr) continue;
    if (is_integer_key(spec->key)) check_whole_numbers(*arrays[c], spec->key, kCallRows, 0);
    check_column_values(*arrays[c], *spec, q_star, config.max_action_dim);
    if (spec->key == Key::kObsImage) wide = wide_image_in(*arrays[c], config.max_obs_image_pixels);
  }
  return {std::move(current), std::move(merged), std::move(arrays), length, std::move(wide)};
}

void AppendBuffer::apply_columns(
    const std::vector<std::pair<std::string, arrow::ArrayPtr>>& columns, PreparedColumns prepared) {
  MOUSE_DCHECK(prepared.columns == columns_ && prepared.merged.size() == columns.size());
  if (prepared.length == 0) return;
  close_open_block();
  std::vector<std::pair<const std::string*, TypePtr>> types;
  auto schema = std::make_shared<arrow::Schema>();
  for (size_t c = 0; c < columns.size(); ++c) {
    types.emplace_back(&columns[c].first, prepared.merged[c]);
    schema->fields.push_back(arrow::Field{columns[c].first, prepared.merged[c], true, {}});
  }
  auto chunk = std::make_shared<BufferChunk>();
  chunk->schema = schema;
  chunk->columns = std::move(prepared.arrays);
  chunk->num_rows = prepared.length;
  chunk->plan = plan_schema(*schema, config_, kBufferLabel, false);
  set_column_types(types);
  add_chunk(std::move(chunk));
  rows_ += prepared.length;
}

}  // namespace mouse::detail
