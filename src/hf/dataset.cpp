// Dataset: construction from batches, accessors, columns, slice / select / concatenate.
#include <fmt/format.h>

#include <algorithm>
#include <optional>

#include "format/arrow/take.hpp"
#include "hf/dataset_state.hpp"
#include "hf/features.hpp"
#include "hf/py_json.hpp"
#include "mouse/dataset.hpp"
#include "mouse/error.hpp"

namespace mouse {

namespace detail {

void index_batches(DatasetState& state) {
  state.starts.assign(1, 0);
  state.starts.reserve(state.batches.size() + 1);
  for (const auto& b : state.batches) state.starts.push_back(state.starts.back() + b.num_rows);
}

std::string missing_column_message(std::string_view name, const std::vector<std::string>& names) {
  std::string list;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i) list += ", ";
    list += fmt::format("\"{}\"", names[i]);
  }
  return fmt::format("column \"{}\" not found; available columns: [{}]", name, list);
}

std::shared_ptr<FeaturesImpl> features_from_hf_metadata(const std::string& text,
                                                        const std::string& source) {
  const auto meta = parse_json(text, source);
  if (!meta.is_object()) {
    throw FormatError(source, -1, "expected a JSON object {\"info\": {\"features\": ...}}");
  }
  auto info = meta.find("info");
  if (info == meta.end() || !info->is_object()) return nullptr;
  auto features = info->find("features");
  if (features == info->end() || features->is_null()) return nullptr;
  return parse_features(*features, source);
}

void check_batch(const arrow::Schema& schema, const arrow::RecordBatch& batch, size_t b,
                 std::string_view context) {
  if (batch.columns.size() != schema.fields.size()) {
    throw InvalidArgument(fmt::format("{}: record batch {} has {} columns, the schema {}", context,
                                      b, batch.columns.size(), schema.fields.size()));
  }
  if (batch.num_rows < 0) {
    throw InvalidArgument(fmt::format("{}: record batch {} has {} rows", context, b, batch.num_rows));
  }
  for (size_t c = 0; c < schema.fields.size(); ++c) {
    const arrow::Field& field = schema.fields[c];
    const arrow::ArrayPtr& col = batch.columns[c];
    const std::string where = fmt::format("record batch {}, column \"{}\"", b, field.name);
    if (!col || !col->type) throw InvalidArgument(fmt::format("{}: {}: no array", context, where));
    if (!col->type->equals(*field.type)) {
      throw InvalidArgument(fmt::format("{}: {}: has type {}, the schema says {}", context, where,
                                        col->type->to_string(), field.type->to_string()));
    }
    if (col->length != batch.num_rows) {
      throw InvalidArgument(fmt::format("{}: {}: has {} rows, the batch {}", context, where,
                                        col->length, batch.num_rows));
    }
    try {
      arrow::validate(*col, where, false);
    } catch (const FormatError& e) {
      throw InvalidArgument(fmt::format("{}: {}", context, e.what()));
    }
  }
}

}  // namespace detail

namespace {

using detail::DatasetAccess;
using detail::DatasetState;

bool contains_image(const detail::Feature& f) {
  if (f.kind == detail::FeatureKind::kImage) return true;
  if (f.item && contains_image(*f.item)) return true;
  return std::any_of(f.members.begin(), f.members.end(),
                     [](const auto& m) { return m.second && contains_image(*m.second); });
}

// Whether any column holds Image values, at any depth (feature trees are depth-capped).
bool has_image_feature(const detail::FeaturesImpl& features) {
  return std::any_of(features.columns.begin(), features.columns.end(),
                     [](const auto& c) { return c.second && contains_image(*c.second); });
}

std::shared_ptr<DatasetState> derived_state(const DatasetState& from) {
  auto st = std::make_shared<DatasetState>();
  st->schema = from.schema;
  st->features = from.features;
  st->split = from.split;
  st->info = from.info;
  st->image_root = from.image_root;
  return st;
}

}  // namespace

ChunkLocation ChunkedColumn::locate(int64_t row) const {
  if (row < 0 || row >= length()) {
    throw IndexError(fmt::format("row {} is out of range for column \"{}\" of {} rows", row,
                                 field.name, length()));
  }
  // The last chunk starting at or before `row`; empty chunks share their start with the next
  // chunk, and upper_bound skips past them.
  auto it = std::upper_bound(chunk_starts.begin(), chunk_starts.end(), row);
  const size_t chunk = static_cast<size_t>(it - chunk_starts.begin()) - 1;
  return {chunk, row - chunk_starts[chunk]};
}

Dataset::Dataset() : Dataset(std::make_shared<DatasetState>()) {}

Dataset::Dataset(std::shared_ptr<const DatasetState> state) : state_(std::move(state)) {
  if (!state_->schema) {
    auto st = std::make_shared<DatasetState>(*state_);
    st->schema = std::make_shared<arrow::Schema>();
    state_ = std::move(st);
  }
}

Dataset Dataset::from_batches(std::shared_ptr<const arrow::Schema> schema,
                              std::vector<arrow::RecordBatch> batches,
                              std::optional<Features> features) {
  if (!schema) throw InvalidArgument("from_batches: schema is null");
  for (const auto& field : schema->fields) {
    if (!field.type) {
      throw InvalidArgument(fmt::format("from_batches: field \"{}\" has no type", field.name));
    }
  }
  auto st = std::make_shared<DatasetState>();
  st->schema = schema;
  for (size_t b = 0; b < batches.size(); ++b) {
    detail::check_batch(*schema, batches[b], b);
    batches[b].schema = schema;
  }
  st->batches = std::move(batches);
  detail::index_batches(*st);

  std::string error;
  if (features) {
    auto matched = detail::match_features(features->impl(), *schema, error);
    if (!matched) {
      throw InvalidArgument(fmt::format("from_batches: features do not match the schema: {}", error));
    }
    st->features = Features(std::move(matched));
  } else if (auto hf = schema->metadata_value("huggingface")) {
    const std::string source = "schema metadata \"huggingface\"";
    auto parsed = detail::features_from_hf_metadata(*hf, source);
    auto matched = parsed ? detail::match_features(*parsed, *schema, error)
                          : detail::infer_features(*schema);
    if (!matched) {
      throw FormatError(source, -1, fmt::format("features do not match the schema: {}", error));
    }
    st->features = Features(std::move(matched));
  } else {
    st->features = Features(detail::infer_features(*schema));
  }
  return Dataset(std::move(st));
}

int64_t Dataset::num_rows() const noexcept { return state_->num_rows(); }

int64_t Dataset::num_columns() const noexcept {
  return static_cast<int64_t>(state_->schema->fields.size());
}

std::vector<std::string> Dataset::column_names() const {
  std::vector<std::string> out;
  out.reserve(state_->schema->fields.size());
  for (const auto& f : state_->schema->fields) out.push_back(f.name);
  return out;
}

const Features& Dataset::features() const noexcept { return state_->features; }

const std::shared_ptr<const arrow::Schema>& Dataset::schema() const noexcept {
  return state_->schema;
}

const std::vector<arrow::RecordBatch>& Dataset::batches() const noexcept {
  return state_->batches;
}

const std::vector<DataFile>& Dataset::data_files() const noexcept { return state_->data_files; }

const std::optional<std::string>& Dataset::split() const noexcept { return state_->split; }

const std::string& Dataset::fingerprint() const noexcept { return state_->fingerprint; }

const std::optional<std::filesystem::path>& Dataset::image_root() const noexcept {
  return state_->image_root;
}

ChunkedColumn Dataset::column(std::string_view name) const {
  const int index = state_->schema->field_index(name);
  if (index < 0) throw KeyError(detail::missing_column_message(name, column_names()));
  ChunkedColumn out;
  out.field = state_->schema->fields[static_cast<size_t>(index)];
  out.chunks.reserve(state_->batches.size());
  for (const auto& b : state_->batches) out.chunks.push_back(b.columns[static_cast<size_t>(index)]);
  out.chunk_starts = state_->starts;
  return out;
}

Dataset Dataset::slice(int64_t start, int64_t length) const {
  const int64_t n = num_rows();
  if (start < 0 || length < 0 || start > n || length > n - start) {
    throw IndexError(fmt::format("slice [{}, {}) is out of range for a dataset of {} rows", start,
                                 start + length, n));
  }
  auto st = derived_state(*state_);
  st->data_files = state_->data_files;
  const int64_t end = start + length;
  for (size_t b = 0; b < state_->batches.size(); ++b) {
    const int64_t bs = state_->starts[b];
    const int64_t be = state_->starts[b + 1];
    const int64_t lo = std::max(start, bs);
    const int64_t hi = std::min(end, be);
    if (lo >= hi) continue;
    const arrow::RecordBatch& src = state_->batches[b];
    if (lo == bs && hi == be) {
      st->batches.push_back(src);
      continue;
    }
    arrow::RecordBatch part;
    part.schema = src.schema;
    part.num_rows = hi - lo;
    for (const auto& col : src.columns) part.columns.push_back(col->slice(lo - bs, hi - lo));
    st->batches.push_back(std::move(part));
  }
  detail::index_batches(*st);
  return Dataset(std::move(st));
}

Dataset Dataset::select(std::span<const int64_t> indices) const {
  const int64_t n = num_rows();
  const auto& starts = state_->starts;
  std::vector<arrow::TakeRange> ranges;
  for (int64_t index : indices) {
    if (index < 0 || index >= n) {
      throw IndexError(
          fmt::format("select: index {} is out of range for a dataset of {} rows", index, n));
    }
    const auto it = std::upper_bound(starts.begin(), starts.end(), index);
    const int64_t batch = (it - starts.begin()) - 1;
    const int64_t local = index - starts[static_cast<size_t>(batch)];
    if (!ranges.empty() && ranges.back().chunk == batch &&
        ranges.back().start + ranges.back().length == local) {
      ++ranges.back().length;
    } else {
      ranges.push_back({batch, local, 1});
    }
  }
  auto st = derived_state(*state_);
  if (!indices.empty()) {
    arrow::RecordBatch out;
    out.schema = state_->schema;
    out.num_rows = static_cast<int64_t>(indices.size());
    std::vector<arrow::ArrayPtr> chunks(state_->batches.size());
    for (size_t c = 0; c < state_->schema->fields.size(); ++c) {
      for (size_t b = 0; b < state_->batches.size(); ++b) chunks[b] = state_->batches[b].columns[c];
      out.columns.push_back(arrow::take_ranges(state_->schema->fields[c].type, chunks, ranges));
    }
    st->batches.push_back(std::move(out));
  }
  detail::index_batches(*st);
  return Dataset(std::move(st));
}

Dataset Dataset::concatenate(std::span<const Dataset> datasets) {
  if (datasets.empty()) throw InvalidArgument("concatenate: no datasets given");
  const DatasetState& first = *datasets[0].state_;
  const auto& fields = first.schema->fields;
  const auto& features = first.features.impl().columns;
  auto st = derived_state(first);
  for (size_t k = 0; k < datasets.size(); ++k) {
    const DatasetState& other = *datasets[k].state_;
    // Column c of the result is column order[c] of `other`: the same columns in another order
    // are aligned by name (as datasets.concatenate_datasets does), zero-copy.
    std::vector<size_t> order(fields.size());
    bool reordered = false;
    if (k > 0) {
      const auto& ofields = other.schema->fields;
      const auto& ofeatures = other.features.impl().columns;
      auto position = [&](const std::string& name) -> std::optional<size_t> {
        for (size_t j = 0; j < ofields.size(); ++j) {
          if (ofields[j].name == name) return j;
        }
        return std::nullopt;
      };
      bool same_set = fields.size() == ofields.size();
      for (size_t c = 0; same_set && c < fields.size(); ++c) {
        const auto j = position(fields[c].name);
        same_set = j.has_value();
        if (j) order[c] = *j;
      }
      for (size_t c = 0; c < std::max(fields.size(), ofields.size()); ++c) {
        if (!same_set &&
            (c >= fields.size() || c >= ofields.size() || fields[c].name != ofields[c].name)) {
          throw InvalidArgument(fmt::format(
              "concatenate: dataset {} has column \"{}\" at position {}, dataset 0 has \"{}\"", k,
              c < ofields.size() ? ofields[c].name : "(none)", c,
              c < fields.size() ? fields[c].name : "(none)"));
        }
      }
      for (size_t c = 0; c < fields.size(); ++c) {
        const size_t j = order[c];
        reordered = reordered || j != c;
        const detail::Feature& a = *features[c].second;
        const detail::Feature& b = *ofeatures[j].second;
        if (!detail::same_feature(a, b) || !fields[c].type->equals(*ofields[j].type)) {
          throw InvalidArgument(fmt::format(
              "concatenate: column \"{}\" is {} ({}) in dataset {} but {} ({}) in dataset 0",
              fields[c].name, detail::describe(b), ofields[j].type->to_string(), k,
              detail::describe(a), fields[c].type->to_string()));
        }
      }
      if (st->split != other.split) st->split.reset();
      // Image paths of one dataset must not resolve under another's root (nor a Hub dataset's
      // leave its root): datasets whose paths resolve differently do not mix when they hold
      // images. Without Image columns the root means nothing and is dropped.
      if (st->image_root != other.image_root) {
        if (has_image_feature(first.features.impl())) {
          const auto where = [](const std::optional<std::filesystem::path>& root) {
            return root ? fmt::format("under {}", root->string()) : std::string("as given");
          };
          throw InvalidArgument(fmt::format(
              "concatenate: dataset {} reads Image paths {}, dataset 0 {}; datasets whose "
              "image paths resolve differently cannot be concatenated",
              k, where(other.image_root), where(first.image_root)));
        }
        st->image_root.reset();
      }
    }
    for (const auto& batch : other.batches) {
      arrow::RecordBatch b = batch;
      if (reordered) {
        for (size_t c = 0; c < fields.size(); ++c) b.columns[c] = batch.columns[order[c]];
      }
      b.schema = first.schema;
      st->batches.push_back(std::move(b));
    }
    for (const auto& f : other.data_files) {
      const bool seen = std::any_of(st->data_files.begin(), st->data_files.end(),
                                    [&](const DataFile& d) { return d.path == f.path; });
      if (!seen) st->data_files.push_back(f);
    }
  }
  detail::index_batches(*st);
  return Dataset(std::move(st));
}

}  // namespace mouse
