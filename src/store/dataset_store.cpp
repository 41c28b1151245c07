// DatasetStore: the two segments, snapshots for readers, indexing, to_dataset.
#include "mouse/dataset_store.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "mouse/memory.hpp"
#include "mouse/error.hpp"
#include "store/conform.hpp"
#include "store/encoder.hpp"
#include "store/split_select.hpp"
#include "store/store_state.hpp"
#include "store/populate.hpp"
#include "store/validate.hpp"

namespace mouse {

namespace detail {

namespace {

void add_segment(SourceIndex& index, SourceSegment segment) {
  index.segments.push_back(std::move(segment));
  index.layout.add(index.segments.back().plan);
  index.segment_starts.push_back(index.segment_starts.back() +
                                 index.segments.back().dataset.num_rows());
}

// Rebuilds the chunk views (they point into `index.segments`, so after every change of it).
void reindex(SourceIndex& index) {
  index.chunks = ChunkList();
  for (const SourceSegment& seg : index.segments) {
    int64_t first = 0;
    const auto& batches = seg.dataset.batches();
    for (size_t b = 0; b < batches.size(); ++b) {
      const auto& batch = batches[b];
      if (batch.num_rows == 0) continue;
      if (seg.frames) {  // decoded frames in place of the Image column
        index.chunks.add({seg.frames->batch_columns[b], &seg.frames->plan, &seg.label, first},
                         batch.num_rows);
      } else {
        index.chunks.add({batch.columns, &seg.plan, &seg.label, first}, batch.num_rows);
      }
      first += batch.num_rows;
    }
  }
}

std::string dataset_label(const Dataset& ds, const std::string& split) {
  std::string where = ds.data_files().empty()
                          ? std::string("in-memory dataset")
                          : ds.data_files().front().path.parent_path().string();
  if (!split.empty()) return fmt::format("split \"{}\" ({})", split, where);
  return fmt::format("dataset {}", where);
}

// A source segment for `ds`, its columns planned (throws if they break the key contract);
// `warning` warns once when the frame cache meets frames wider than max_obs_image_pixels.
SourceSegment plan_segment(const Dataset& ds, const std::string& split, const StoreConfig& config,
                           ImageWidthWarning* warning) {
  std::string label = dataset_label(ds, split);
  SchemaPlan plan = plan_schema(*ds.schema(), config, label, true);
  plan.image_root = ds.image_root();
  // Readers only check the first and last offset of a record batch when they open a file; the
  // columns the store encodes get every offset checked (monotonic, inside the child) once here,
  // so a damaged offsets buffer is an error naming the batch, never rows read as empty lists.
  // A feature type mouse-data does not know (SPEC §2.4) on a column the store encodes.
  for (const int field : plan.field) {
    if (field < 0) continue;
    const std::string& name = ds.schema()->fields[static_cast<size_t>(field)].name;
    if (ds.features().contains(name) && !ds.features().is_supported(name)) {
      throw InvalidArgument(fmt::format("{}: column \"{}\" has feature type {}, which mouse-data "
                                        "does not support",
                                        label, name, ds.features().type_of(name)));
    }
  }
  int64_t batch_index = 0;
  for (const auto& batch : ds.batches()) {
    for (const int field : plan.field) {
      if (field < 0 || static_cast<size_t>(field) >= batch.columns.size()) continue;
      const auto& column = batch.columns[static_cast<size_t>(field)];
      if (!column->type->is_list_like() && column->children.empty() && column->buffers.size() < 3) {
        continue;  // fixed-width values: nothing to check beyond what the reader did
      }
      arrow::validate(*column,
                      fmt::format("{}: record batch {}, column \"{}\"", label, batch_index,
                                  ds.schema()->fields[static_cast<size_t>(field)].name),
                      true);
    }
    ++batch_index;
  }
  // Values before frames: a bad dataset is refused before any frame is decoded for it.
  if (config.validate) validate_dataset(ds, plan, config, label, {validated_cache_root(), true});
  std::optional<CachedFrames> frames = cached_frames(ds, plan, config, label, warning);
  // After the checks, which give back the pages they faulted in.
  if (config.populate) populate_source(ds, plan, frames, label);
  return {ds, std::move(label), std::move(plan), std::move(frames)};
}

// Adds `segs` to the sources as one new immutable index, so that readers see all or none of them.
void publish_segments(StoreState& state, std::vector<SourceSegment> segs) {
  std::lock_guard<std::mutex> lock(state.mutex);
  auto index = std::make_shared<SourceIndex>(*state.source);
  for (auto& seg : segs) add_segment(*index, std::move(seg));
  reindex(*index);
  state.source = std::move(index);
  ++state.version;
  state.source_size.store(state.source->rows());
  state.size.store(state.source->rows() + state.buffer->num_rows());
}

}  // namespace

namespace {

// The open block as a chunk list of its own, owning the block.
struct OpenList {
  ChunkPtr chunk;
  ChunkList list;
};

const std::shared_ptr<const ChunkList>& empty_list() {
  static const auto empty = std::make_shared<const ChunkList>();
  return empty;
}

}  // namespace

std::shared_ptr<const Snapshot> StoreState::snap() const {
  std::lock_guard<std::mutex> lock(mutex);
  if (snapshot && snapshot->version == version) return snapshot;
  auto s = std::make_shared<Snapshot>();
  s->source = source;
  BufferView view = buffer->view();
  ChunkSequence& rows = s->rows;
  rows.parts[0] = std::shared_ptr<const ChunkList>(source, &source->chunks);
  rows.parts[1] = std::shared_ptr<const ChunkList>(view.sealed, &view.sealed->list);
  rows.parts[2] = empty_list();
  s->layout = source->layout;
  s->layout.add(view.sealed->layout);
  if (view.open) {
    auto open = std::make_shared<OpenList>();
    open->chunk = view.open;
    open->list.add(buffer_chunk_view(*view.open, view.sealed->list.rows()), view.open->num_rows);
    rows.parts[2] = std::shared_ptr<const ChunkList>(open, &open->list);
    s->layout.add(view.open->plan);
  }
  rows.count();
  s->sealed = std::move(view.sealed);
  s->open = std::move(view.open);
  s->buffer_columns = std::move(view.columns);
  s->version = version;
  snapshot = s;
  return s;
}

void check_window_slot(const WindowSlot& w, int64_t s, int64_t out_rows, int64_t n) {
  if (w.row < 0 && out_rows % s != 0) {
    throw InvalidArgument(fmt::format(
        "gather_windows: the output has {} rows, not a multiple of sequence_length {}", out_rows,
        s));
  }
  if (w.length < 0 || w.length > s) {
    throw InvalidArgument(fmt::format(
        "gather_windows: window length {} is outside [0, sequence_length {}]", w.length, s));
  }
  if (w.row >= 0) {
    if (w.row > out_rows - w.length) {
      throw InvalidArgument(fmt::format(
          "gather_windows: packed rows [{}, {}) are out of range for an output of {} rows",
          w.row, w.row + w.length, out_rows));
    }
  } else {
    if (w.slot < 0 || w.slot >= out_rows / s) {
      throw InvalidArgument(fmt::format(
          "gather_windows: slot {} is out of range for an output of {} slots", w.slot,
          out_rows / s));
    }
  }
  if (w.start < 0 || w.start > n - w.length || (w.length == 0 && w.start > n)) {
    throw IndexError(fmt::format(
        "gather_windows: rows [{}, {}) are out of range for a store of {} rows", w.start,
        w.start + w.length, n));
  }
}

}  // namespace detail

using detail::Chunk;
using detail::ChunkRun;
using detail::RowRun;
using detail::Snapshot;

namespace {

StoreConfig checked(StoreConfig c) {
  auto bad = [](const char* name, int64_t v, const char* rule) {
    throw InvalidArgument(fmt::format("DatasetStore: {} must be {}, got {}", name, rule, v));
  };
  if (c.max_action_dim <= 0) bad("max_action_dim", c.max_action_dim, "> 0");
  if (c.max_obs_continuous_dim < 0) bad("max_obs_continuous_dim", c.max_obs_continuous_dim, ">= 0");
  if (c.max_obs_discrete_dim < 0) bad("max_obs_discrete_dim", c.max_obs_discrete_dim, ">= 0");
  if (c.max_obs_image_pixels < 0) bad("max_obs_image_pixels", c.max_obs_image_pixels, ">= 0");
  if (c.obs_image_dtype != DType::kInt64 && c.obs_image_dtype != DType::kUInt8) {
    throw InvalidArgument(fmt::format("DatasetStore: obs_image_dtype must be int64 or uint8, got {}",
                                      dtype_name(c.obs_image_dtype)));
  }
  // Each width alone must leave room for one encoded row.
  const int64_t image_bytes = c.obs_image_dtype == DType::kUInt8 ? 1 : 8;
  const std::pair<const char*, int64_t> widths[] = {
      {"max_action_dim", saturating_product({c.max_action_dim, 4})},
      {"max_obs_continuous_dim", saturating_product({c.max_obs_continuous_dim, 8})},
      {"max_obs_discrete_dim", saturating_product({c.max_obs_discrete_dim, 8})},
      {"max_obs_image_pixels", saturating_product({c.max_obs_image_pixels, image_bytes})}};
  for (const auto& [name, bytes] : widths) {
    check_fits_in_memory(bytes, fmt::format("DatasetStore: one row at this {}", name));
  }
  return c;
}

StoreConfig make_config(int64_t a, int64_t c, int64_t d, int64_t i) {
  StoreConfig config;
  config.max_action_dim = a;
  config.max_obs_continuous_dim = c;
  config.max_obs_discrete_dim = d;
  config.max_obs_image_pixels = i;
  return config;
}

// The buffer rows of `snap` in the columns `fields` (in that order; a column the buffer lacks is
// null throughout): each column of the type it settles to over the buffer's chunks (SPEC §4
// widening), starting from the field's type, so that no chunk's value is narrowed.
std::pair<std::shared_ptr<arrow::Schema>, std::vector<arrow::RecordBatch>> buffer_rows(
    const Snapshot& snap, std::vector<arrow::Field> fields) {
  std::vector<const detail::BufferChunk*> chunks;
  for (const auto& chunk : snap.sealed->chunks) chunks.push_back(chunk.get());
  if (snap.open) chunks.push_back(snap.open.get());
  for (arrow::Field& field : fields) {
    for (const detail::BufferChunk* chunk : chunks) {
      const int index = chunk->schema->field_index(field.name);
      if (index < 0) continue;
      const arrow::ArrayData& array = *chunk->columns[static_cast<size_t>(index)];
      arrow::TypePtr settled = detail::settle_type(field.type, array);
      if (!settled) {  // the append checks make the chunks of a column meet
        throw InvalidArgument(fmt::format(
            "to_dataset: buffer column \"{}\" holds values of type {} and {}", field.name,
            field.type->to_string(), array.type->to_string()));
      }
      field.type = std::move(settled);
    }
  }
  auto schema = std::make_shared<arrow::Schema>();
  schema->fields = std::move(fields);
  std::vector<arrow::RecordBatch> batches;
  for (const detail::BufferChunk* chunk : chunks) {
    arrow::RecordBatch batch;
    batch.schema = schema;
    batch.num_rows = chunk->num_rows;
    for (const auto& field : schema->fields) {
      const int index = chunk->schema->field_index(field.name);
      const std::string where = fmt::format("to_dataset: buffer column \"{}\"", field.name);
      batch.columns.push_back(index < 0 ? detail::all_null(field.type, chunk->num_rows)
                                        : detail::conform(chunk->columns[static_cast<size_t>(index)],
                                                          field.type, where));
    }
    batches.push_back(std::move(batch));
  }
  return {std::move(schema), std::move(batches)};
}

// `base` with the features of the columns `changed` inferred from their types in `schema`.
Features with_features_of(const Features& base, const arrow::Schema& schema,
                          const std::vector<std::string>& changed) {
  if (changed.empty()) return base;
  auto json = nlohmann::ordered_json::parse(base.to_json());
  for (const std::string& name : changed) {
    arrow::Schema one;
    one.fields.push_back(schema.fields[static_cast<size_t>(schema.field_index(name))]);
    json[name] = nlohmann::ordered_json::parse(Features::from_schema(one).to_json())[name];
  }
  return Features::from_json(json.dump(), "to_dataset features");
}

Dataset buffer_only_dataset(const Snapshot& snap) {
  std::vector<arrow::Field> fields;
  for (const auto& column : *snap.buffer_columns) {
    fields.push_back(arrow::Field{column.name, column.type, true, {}});
  }
  auto [schema, batches] = buffer_rows(snap, std::move(fields));
  // Image columns are Image features (what `datasets` writes for PIL images), not plain dicts.
  auto json = nlohmann::ordered_json::parse(Features::from_schema(*schema).to_json());
  for (const auto& column : *snap.buffer_columns) {
    if (detail::is_image_struct(*column.type)) json[column.name] = {{"_type", "Image"}};
  }
  return Dataset::from_batches(std::move(schema), std::move(batches),
                               Features::from_json(json.dump(), "buffer features"));
}

// One dataset of `parts` (at least one), in the columns of the first, after bringing every
// column to one type (SPEC §4 widening, never narrowing a value): a column stays as the first
// part has it when every other part's values fit it exactly and are of no wider kind; otherwise
// it takes the wider type, and only the parts whose type differs from it are converted (a
// source's column is then materialized; every other column stays shared). Parts whose columns
// need no change are used as they are. With `last_takes_features`, the last part (the buffer)
// takes the first part's features (ClassLabel names, Image features ...). `labels` name the
// parts in errors.
Dataset concatenate_widened(std::vector<Dataset> parts, const std::vector<std::string>& labels,
                            bool last_takes_features, std::string_view op) {
  const arrow::Schema& first = *parts.front().schema();
  std::vector<arrow::TypePtr> target;
  std::vector<std::string> changed;  // columns whose type is not the first part's
  for (const arrow::Field& field : first.fields) {
    arrow::TypePtr type = field.type;
    size_t decided_by = 0;
    for (size_t p = 1; p < parts.size(); ++p) {
      const arrow::Schema& schema = *parts[p].schema();
      const int index = schema.field_index(field.name);
      if (index < 0 || schema.fields[static_cast<size_t>(index)].type->equals(*type)) continue;
      for (const auto& batch : parts[p].batches()) {
        arrow::TypePtr settled =
            detail::settle_type(type, *batch.columns[static_cast<size_t>(index)]);
        if (!settled) {
          throw InvalidArgument(fmt::format(
              "{}: column \"{}\" is {} in {} and {} in {}; the two cannot be concatenated", op,
              field.name, type->to_string(), labels[decided_by],
              schema.fields[static_cast<size_t>(index)].type->to_string(), labels[p]));
        }
        if (!settled->equals(*type)) decided_by = p;
        type = std::move(settled);
      }
    }
    if (!type->equals(*field.type)) changed.push_back(field.name);
    target.push_back(std::move(type));
  }
  const Features features = with_features_of(parts.front().features(), [&] {
    arrow::Schema s;
    for (size_t c = 0; c < first.fields.size(); ++c) {
      s.fields.push_back(arrow::Field{first.fields[c].name, target[c], true, {}});
    }
    return s;
  }(), changed);
  for (size_t p = 0; p < parts.size(); ++p) {
    const Dataset& part = parts[p];
    const arrow::Schema& schema = *part.schema();
    std::vector<std::string> part_changed;
    auto next = std::make_shared<arrow::Schema>();
    std::vector<int> convert(schema.fields.size(), -1);  // column -> target index
    for (size_t c = 0; c < schema.fields.size(); ++c) {
      arrow::Field field = schema.fields[c];
      const int t = first.field_index(field.name);
      if (t >= 0 && !field.type->equals(*target[static_cast<size_t>(t)])) {
        field.type = target[static_cast<size_t>(t)];
        convert[c] = t;
        part_changed.push_back(field.name);
      }
      next->fields.push_back(std::move(field));
    }
    const bool takes_features = last_takes_features && p + 1 == parts.size() && p > 0;
    if (part_changed.empty() && !takes_features) continue;
    std::vector<arrow::RecordBatch> batches;
    for (const auto& batch : part.batches()) {
      arrow::RecordBatch b;
      b.schema = next;
      b.num_rows = batch.num_rows;
      for (size_t c = 0; c < batch.columns.size(); ++c) {
        b.columns.push_back(
            convert[c] < 0
                ? batch.columns[c]
                : detail::conform(batch.columns[c], next->fields[c].type,
                                  fmt::format("{}: column \"{}\" of {}", op,
                                              next->fields[c].name, labels[p])));
      }
      batches.push_back(std::move(b));
    }
    Features part_features = p == 0 || takes_features
                                 ? features
                                 : with_features_of(part.features(), *next, part_changed);
    parts[p] = Dataset::from_batches(std::move(next), std::move(batches), std::move(part_features));
  }
  return parts.size() == 1 ? parts.front() : Dataset::concatenate(parts);
}

}  // namespace

DatasetStore::DatasetStore(StoreConfig config)
    : state_(std::make_unique<detail::StoreState>(checked(config))) {}

DatasetStore::DatasetStore(int64_t max_action_dim, int64_t max_obs_continuous_dim,
                           int64_t max_obs_discrete_dim, int64_t max_obs_image_pixels)
    : DatasetStore(make_config(max_action_dim, max_obs_continuous_dim, max_obs_discrete_dim,
                               max_obs_image_pixels)) {}

DatasetStore::~DatasetStore() = default;

const StoreConfig& DatasetStore::config() const noexcept { return state_->config; }

namespace {

// The remote shards of `state`, or null for a local store.
std::shared_ptr<detail::RemoteShards> remote_of(const detail::StoreState& state) {
  if (!state.has_remote.load(std::memory_order_acquire)) return nullptr;
  std::lock_guard<std::mutex> lock(state.mutex);
  return state.remote;
}

void refuse_on_remote(const detail::StoreState& state, std::string_view what) {
  if (auto r = remote_of(state)) {
    throw InvalidArgument(fmt::format(
        "{}: the store reads the remote dataset {}, which is read-only here; use another "
        "DatasetStore (several stores mix in one PrefetchBatchifier)",
        what, r->layout().root->display_url()));
  }
}

}  // namespace

void DatasetStore::from_dataset(const Dataset& ds) {
  refuse_on_remote(*state_, "from_dataset");
  if (ds.num_rows() == 0) return;
  std::vector<detail::SourceSegment> segs;
  segs.push_back(detail::plan_segment(ds, ds.split().value_or(""), state_->config,
                                      &state_->image_warning));
  detail::publish_segments(*state_, std::move(segs));
}

void DatasetStore::from_dataset(const DatasetDict& dict, std::optional<std::vector<std::string>> splits,
                                std::optional<std::vector<std::string>> split_pattern) {
  refuse_on_remote(*state_, "from_dataset");
  const auto names = detail::select_splits(dict.split_names(), splits, split_pattern);
  // Plan every split before adding any, so a bad split leaves the store unchanged.
  std::vector<detail::SourceSegment> segs;
  for (const auto& name : names) {
    const Dataset& ds = dict.at(name);
    if (ds.num_rows() == 0) continue;
    segs.push_back(
        detail::plan_segment(ds, name, state_->config, &state_->image_warning));
  }
  detail::publish_segments(*state_, std::move(segs));
}

namespace {

// What the entry checks need to know of the store now (caller holds the lock).
detail::EntryContext entry_context(const detail::StoreState& state) {
  return {state.source->rows() + state.buffer->num_rows(),
          state.source->layout.present[static_cast<int>(detail::Key::kQStar)]};
}

void report_wide_image(const detail::StoreState& state, const std::optional<detail::WideImage>& w) {
  if (!w) return;
  state.image_warning.check("observation_image", w->where, w->shape[0], w->shape[1], w->shape[2],
                            state.config.max_obs_image_pixels);
}

}  // namespace

// Both appends check, convert and encode against the column types of the moment without the
// lock, so readers are not held up for it, then apply under the lock. If the column types
// changed in between (another thread appended a new column, or cleared the store), or a source
// with q-values arrived, the checks run again under the lock against the current state: the
// append then behaves exactly as if it had run entirely under the lock. A failed check changes
// nothing, wherever it ran.
void DatasetStore::append(const StepRow& row) {
  refuse_on_remote(*state_, "append");
  using detail::AppendBuffer;
  detail::BufferColumns columns;
  detail::EntryContext context;
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    columns = state_->buffer->column_types();
    context = entry_context(*state_);
  }
  detail::PreparedRow prepared =
      AppendBuffer::prepare_row(row, std::move(columns), state_->config, context);
  std::optional<detail::WideImage> wide;
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    AppendBuffer& buffer = *state_->buffer;
    const detail::EntryContext now = entry_context(*state_);
    if (prepared.columns != buffer.column_types() || now.source_q_star != context.source_q_star) {
      prepared = AppendBuffer::prepare_row(row, buffer.column_types(), state_->config, now,
                                           &prepared.png);
    }
    wide = std::move(prepared.wide_image);
    buffer.apply_row(row, std::move(prepared));
    ++state_->version;
    state_->size.store(state_->source->rows() + buffer.num_rows());
  }
  report_wide_image(*state_, wide);
}

void DatasetStore::append_rows(std::span<const StepRow> rows) {
  refuse_on_remote(*state_, "append_rows");
  using detail::AppendBuffer;
  if (rows.empty()) return;
  // Every row is checked (each against the column types the rows before it leave) before any
  // is applied, so a bad row leaves the store as it was.
  auto prepare_all = [&](detail::BufferColumns columns, detail::EntryContext context,
                         std::vector<detail::PreparedRow>* earlier) {
    std::vector<detail::PreparedRow> out;
    out.reserve(rows.size());
    const int64_t first = context.first_row;
    for (size_t i = 0; i < rows.size(); ++i) {
      context.first_row = first + static_cast<int64_t>(i);
      std::vector<std::string>* png = earlier != nullptr ? &(*earlier)[i].png : nullptr;
      detail::PreparedRow p = AppendBuffer::prepare_row(rows[i], columns, state_->config, context, png);
      columns = AppendBuffer::columns_after(rows[i], p);
      out.push_back(std::move(p));
    }
    return out;
  };
  detail::BufferColumns columns;
  detail::EntryContext context;
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    columns = state_->buffer->column_types();
    context = entry_context(*state_);
  }
  std::vector<detail::PreparedRow> prepared = prepare_all(columns, context, nullptr);
  std::optional<detail::WideImage> wide;
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    AppendBuffer& buffer = *state_->buffer;
    const detail::EntryContext now = entry_context(*state_);
    if (buffer.column_types() != columns || now.source_q_star != context.source_q_star ||
        now.first_row != context.first_row) {
      prepared = prepare_all(buffer.column_types(), now, &prepared);  // another writer came first
    }
    for (size_t i = 0; i < rows.size(); ++i) {
      if (!wide) wide = std::move(prepared[i].wide_image);
      buffer.apply_row(rows[i], std::move(prepared[i]));
    }
    ++state_->version;
    state_->size.store(state_->source->rows() + buffer.num_rows());
  }
  report_wide_image(*state_, wide);
}

void DatasetStore::append_columns(
    const std::vector<std::pair<std::string, arrow::ArrayPtr>>& columns) {
  refuse_on_remote(*state_, "append_columns");
  using detail::AppendBuffer;
  detail::BufferColumns types;
  detail::EntryContext context;
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    types = state_->buffer->column_types();
    context = entry_context(*state_);
  }
  detail::PreparedColumns prepared =
      AppendBuffer::prepare_columns(columns, std::move(types), state_->config, context);
  std::optional<detail::WideImage> wide;
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    AppendBuffer& buffer = *state_->buffer;
    const detail::EntryContext now = entry_context(*state_);
    if (prepared.columns != buffer.column_types() || now.source_q_star != context.source_q_star) {
      prepared = AppendBuffer::prepare_columns(columns, buffer.column_types(), state_->config, now);
    }
    wide = std::move(prepared.wide_image);
    buffer.apply_columns(columns, std::move(prepared));
    ++state_->version;
    state_->size.store(state_->source->rows() + buffer.num_rows());
  }
  report_wide_image(*state_, wide);
}

void DatasetStore::append_column_blocks(std::span<const ColumnBlock> blocks) {
  refuse_on_remote(*state_, "append_column_blocks");
  using detail::AppendBuffer;
  if (blocks.empty()) return;
  // Every block is checked (each against the column types the blocks before it leave) before
  // any is applied, as append_rows does for rows: all the blocks or none, in one step readers see.
  auto prepare_all = [&](detail::BufferColumns columns, const detail::EntryContext& context) {
    std::vector<detail::PreparedColumns> out;
    out.reserve(blocks.size());
    for (const ColumnBlock& block : blocks) {
      detail::PreparedColumns p =
          AppendBuffer::prepare_columns(block, columns, state_->config, context);
      columns = AppendBuffer::columns_after(block, p);
      out.push_back(std::move(p));
    }
    return out;
  };
  detail::BufferColumns columns;
  detail::EntryContext context;
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    columns = state_->buffer->column_types();
    context = entry_context(*state_);
  }
  std::vector<detail::PreparedColumns> prepared = prepare_all(columns, context);
  std::optional<detail::WideImage> wide;
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    AppendBuffer& buffer = *state_->buffer;
    const detail::EntryContext now = entry_context(*state_);
    if (buffer.column_types() != columns || now.source_q_star != context.source_q_star) {
      prepared = prepare_all(buffer.column_types(), now);  // another writer came first
    }
    for (size_t i = 0; i < blocks.size(); ++i) {
      if (!wide) wide = std::move(prepared[i].wide_image);
      // columns_after made an equal list, not the one the buffer made when it applied the
      // block before: the buffer's own list is the one to apply against.
      MOUSE_DCHECK(detail::same_columns(prepared[i].columns, buffer.column_types()));
      prepared[i].columns = buffer.column_types();
      buffer.apply_columns(blocks[i], std::move(prepared[i]));
    }
    ++state_->version;
    state_->size.store(state_->source->rows() + buffer.num_rows());
  }
  report_wide_image(*state_, wide);
}

int64_t DatasetStore::size() const noexcept { return state_->size.load(); }

int64_t DatasetStore::source_size() const noexcept { return state_->source_size.load(); }

std::vector<int64_t> DatasetStore::segment_starts() const {
  // Read under the lock rather than through snap(): no snapshot is built just for boundaries.
  std::lock_guard<std::mutex> lock(state_->mutex);
  if (state_->remote) {
    std::vector<int64_t> out = state_->remote->starts();
    out.push_back(out.back());
    return out;
  }
  std::vector<int64_t> out = state_->source->segment_starts;
  out.push_back(state_->source->rows() + state_->buffer->num_rows());
  return out;
}

TensorDict DatasetStore::get(std::span<const int64_t> indices, const Allocator& allocator) const {
  if (auto r = remote_of(*state_)) return detail::remote_get(*r, indices, allocator);
  const auto snap = state_->snap();
  const int64_t n = snap->size();
  // Runs of consecutive rows within one chunk, in output order: a window asked for row by row
  // costs one chunk lookup per run, not per row.
  struct Piece {
    size_t chunk;
    RowRun run;
  };
  std::vector<Piece> pieces;
  std::vector<const Chunk*> chunk_of;  // by the pieces' chunk numbers
  const size_t count = indices.size();
  for (size_t i = 0; i < count;) {
    int64_t g = indices[i];
    if (g < -n || g >= n) {
      throw IndexError(fmt::format("index {} is out of range for a store of {} rows", g, n));
    }
    if (g < 0) g += n;
    const ChunkRun at = snap->rows.locate(g);
    if (chunk_of.empty()) chunk_of.resize(snap->rows.num_chunks());
    chunk_of[at.index] = at.chunk;
    // The indices that go on consecutively inside the chunk join the run (in range, as g is).
    const auto limit = static_cast<size_t>(std::min<int64_t>(at.n, static_cast<int64_t>(count - i)));
    size_t len = 1;
    while (len < limit && indices[i + len] == g + static_cast<int64_t>(len)) ++len;
    pieces.push_back({at.index, RowRun{static_cast<int64_t>(i), at.local, static_cast<int64_t>(len)}});
    i += len;
  }
  detail::BatchEncoder encoder(state_->config, snap->layout, static_cast<int64_t>(indices.size()),
                               allocator);
  encoder.warn_wide_images(&state_->image_warning);
  // Runs of one chunk are encoded together: a counting sort by chunk (stable, so each chunk's
  // runs keep the order they were asked in).
  const size_t num_chunks = chunk_of.size();
  std::vector<int64_t> bucket(num_chunks + 1, 0);
  for (const Piece& p : pieces) ++bucket[p.chunk + 1];
  for (size_t c = 1; c <= num_chunks; ++c) bucket[c] += bucket[c - 1];
  std::vector<RowRun> runs(pieces.size());
  for (const Piece& p : pieces) runs[static_cast<size_t>(bucket[p.chunk]++)] = p.run;
  // bucket[c] is now the end of chunk c's runs.
  int64_t begin = 0;
  for (size_t c = 0; c < num_chunks; ++c) {
    const int64_t end = bucket[c];
    if (end == begin) continue;
    const Chunk* chunk = chunk_of[c];
    encoder.encode(chunk->columns, *chunk->plan,
                   std::span<const RowRun>(runs.data() + begin, static_cast<size_t>(end - begin)),
                   *chunk->label, chunk->first_row);
    begin = end;
  }
  return encoder.finish();
}

TensorDict DatasetStore::empty_rows(int64_t rows, const Allocator& allocator) const {
  if (rows < 0) {
    throw InvalidArgument(fmt::format("empty_rows: rows must be >= 0, got {}", rows));
  }
  if (auto r = remote_of(*state_)) return detail::remote_empty_rows(*r, rows, allocator);
  const auto snap = state_->snap();
  return detail::BatchEncoder(state_->config, snap->layout, rows, allocator).finish();
}

void DatasetStore::gather_windows(std::span<const WindowSlot> windows, int64_t sequence_length,
                                  TensorDict& out, const Allocator& allocator) const {
  if (auto r = remote_of(*state_)) {
    detail::remote_gather_windows(*r, windows, sequence_length, out, allocator);
    return;
  }
  const int64_t s = sequence_length;
  if (s <= 0) {
    throw InvalidArgument(fmt::format("gather_windows: sequence_length must be > 0, got {}", s));
  }
  const auto snap = state_->snap();
  const int64_t n = snap->size();
  const int64_t out_rows = out.batch_size().empty() ? 0 : out.batch_size()[0];
  for (const WindowSlot& w : windows) {
    detail::check_window_slot(w, s, out_rows, n);
  }
  if (out.size() == 0) {
    out = detail::BatchEncoder(state_->config, snap->layout, out_rows, allocator).finish();
  }
  detail::BatchEncoder encoder(state_->config, snap->layout, out);
  encoder.warn_wide_images(&state_->image_warning);
  // Each window's bytes are asked for kAhead windows before they are copied: the misses of
  // several windows overlap with each other and with the copying, instead of each run waiting
  // for its own.
  constexpr size_t kAhead = 16;
  auto prefetch = [&](size_t i) {
    if (i >= windows.size()) return;
    const WindowSlot& w = windows[i];
    snap->rows.for_each_run(w.start, w.start + w.length, [&](const ChunkRun& r) {
      detail::prefetch_rows(r.chunk->columns, *r.chunk->plan, r.local, r.n);
    });
  };
  for (size_t i = 0; i < kAhead; ++i) prefetch(i);
  std::vector<RowRun> padding;
  for (size_t i = 0; i < windows.size(); ++i) {
    prefetch(i + kAhead);
    const WindowSlot& w = windows[i];
    const int64_t first_out = w.row >= 0 ? w.row : w.slot * s;
    snap->rows.for_each_run(w.start, w.start + w.length, [&](const ChunkRun& r) {
      const RowRun run{first_out + r.offset, r.local, r.n};
      encoder.encode(r.chunk->columns, *r.chunk->plan, std::span<const RowRun>(&run, 1),
                     *r.chunk->label, r.chunk->first_row);
    });
    if (w.row < 0 && w.length < s) padding.push_back({first_out + w.length, 0, s - w.length});
  }
  encoder.pad(padding);
}

void DatasetStore::read_done(int64_t begin, int64_t end, std::span<int64_t> out) const {
  if (auto r = remote_of(*state_)) {
    detail::remote_read_done(*r, begin, end, out);
    return;
  }
  const auto snap = state_->snap();
  const int64_t n = snap->size();
  if (begin < 0 || begin > end || end > n) {
    throw IndexError(
        fmt::format("rows [{}, {}) are out of range for a store of {} rows", begin, end, n));
  }
  if (static_cast<int64_t>(out.size()) != end - begin) {
    throw InvalidArgument(fmt::format("read_done: out holds {} values for {} rows", out.size(),
                                      end - begin));
  }
  snap->rows.for_each_run(begin, end, [&](const ChunkRun& r) {
    detail::read_done_column(r.chunk->columns, *r.chunk->plan, r.local, r.n,
                             out.data() + r.offset, *r.chunk->label, r.chunk->first_row);
  });
}

TensorDict DatasetStore::encode_hf_rows(const Dataset& rows) const {
  return detail::encode_dataset(rows, state_->config, "encode_hf_rows: rows", default_allocator(),
                                &state_->image_warning);
}

Dataset DatasetStore::to_dataset() const {
  if (auto r = remote_of(*state_)) {
    throw InvalidArgument(fmt::format(
        "to_dataset: the store reads the remote dataset {} shard by shard and never holds all "
        "of it; load it with datasets.load_dataset, or save a local copy, instead",
        r->layout().root->display_url()));
  }
  const auto snap = state_->snap();
  const auto& segments = snap->source->segments;
  const bool has_buffer = snap->buffer_rows() > 0;
  if (segments.empty() && !has_buffer) return Dataset();
  std::vector<Dataset> parts;
  std::vector<std::string> labels;
  for (const auto& seg : segments) {
    parts.push_back(seg.dataset);
    labels.push_back(seg.label);
  }
  if (!has_buffer) {
    return parts.size() == 1 ? parts.front()
                             : concatenate_widened(std::move(parts), labels, false, "to_dataset");
  }
  if (parts.empty()) return buffer_only_dataset(*snap);
  // Both: the buffer in the first source's columns (its own types where it has the column), then
  // every column in the type both meet in.
  const Dataset& first = parts.front();
  for (const auto& column : *snap->buffer_columns) {
    if (first.schema()->field_index(column.name) < 0) {
      throw InvalidArgument(fmt::format(
          "to_dataset: buffer column \"{}\" is not a column of the source ({}); the two cannot "
          "be concatenated",
          column.name, segments.front().label));
    }
  }
  std::vector<arrow::Field> fields;
  for (const arrow::Field& field : first.schema()->fields) {
    arrow::Field f{field.name, field.type, true, {}};
    for (const auto& column : *snap->buffer_columns) {
      if (column.name == field.name && column.type->id != arrow::TypeId::kNull) f.type = column.type;
    }
    fields.push_back(std::move(f));
  }
  auto [schema, batches] = buffer_rows(*snap, std::move(fields));
  parts.push_back(Dataset::from_batches(schema, std::move(batches), Features::from_schema(*schema)));
  labels.push_back(detail::buffer_label());
  return concatenate_widened(std::move(parts), labels, true, "to_dataset");
}

Dataset DatasetStore::buffer_to_dataset() const {
  const auto snap = state_->snap();
  return snap->buffer_rows() > 0 ? buffer_only_dataset(*snap) : Dataset();
}

Dataset DatasetStore::merge_stores_to_dataset(std::span<const DatasetStore* const> stores) {
  std::vector<Dataset> parts;
  std::vector<std::string> labels;
  for (size_t i = 0; i < stores.size(); ++i) {
    const DatasetStore* store = stores[i];
    if (store == nullptr) throw InvalidArgument("merge_stores_to_dataset: a store is null");
    if (store->size() == 0) continue;
    parts.push_back(store->to_dataset());
    labels.push_back(fmt::format("store {}", i));
  }
  if (parts.empty()) return Dataset();
  // Columns lined up by name first (a store without a column has nulls there), so the stores'
  // rows concatenate.
  return concatenate_widened(align_columns(parts), labels, false, "merge_stores_to_dataset");
}

void DatasetStore::clear() {
  std::shared_ptr<detail::RemoteShards> remote;  // released after the lock (joins its fetcher)
  std::lock_guard<std::mutex> lock(state_->mutex);
  remote = std::move(state_->remote);
  state_->has_remote.store(false);
  state_->source = std::make_shared<detail::SourceIndex>();
  state_->buffer = std::make_unique<detail::AppendBuffer>(state_->config);
  ++state_->version;
  state_->source_size.store(0);
  state_->size.store(0);
}

}  // namespace mouse
