// Lining datasets up by column name (SPEC §4, merging stores and splits): the union of their
// columns, each widened to a type every dataset's values fit (bool -> int -> float, never
// narrower), and null where a dataset lacks the column.
#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "mouse/dataset_store.hpp"
#include "mouse/error.hpp"
#include "store/conform.hpp"
#include "store/numeric.hpp"

namespace mouse {

namespace {

using arrow::DataType;
using arrow::TypeId;
using arrow::TypePtr;
using Json = nlohmann::ordered_json;

// 0 bool, 1 integer, 2 float; -1 for anything else.
int number_rank(const DataType& t) noexcept {
  if (t.id == TypeId::kBool) return 0;
  if (detail::is_integer_type(t.id)) return 1;
  if (detail::is_float_type(t.id)) return 2;
  return -1;
}

// The type both `a` and `b` convert into without losing a value, or nullptr when there is none.
TypePtr widen(const TypePtr& a, const TypePtr& b) {
  if (a->equals(*b) || b->id == TypeId::kNull) return a;
  if (a->id == TypeId::kNull) return b;
  const int ra = number_rank(*a);
  const int rb = number_rank(*b);
  if (ra >= 0 && rb >= 0) {
    if (ra == 2 || rb == 2) {
      // Two floats: the wider; a float and an integer or bool: float64 unless the float is
      // float64 already or the integer is narrow enough for float32 (as numpy promotes).
      if (ra == 2 && rb == 2) return a->byte_width() >= b->byte_width() ? a : b;
      const TypePtr& f = ra == 2 ? a : b;
      const TypePtr& other = ra == 2 ? b : a;
      if (f->id == TypeId::kFloat64 || other->byte_width() <= 2) {
        return f->id == TypeId::kFloat16 ? arrow::float32() : f;
      }
      return arrow::float64();
    }
    if (ra == 1 && rb == 1) return arrow::int64();  // two integer widths: the common wide one
    return ra == 1 ? a : b;                        // bool and an integer: the integer
  }
  if (detail::can_conform(*a, *b) && !detail::can_conform(*b, *a)) return b;
  if (detail::can_conform(*b, *a)) return a;
  return nullptr;
}

// The features JSON of one column, as `datasets` infers it for `type`.
Json inferred_feature(const std::string& name, const TypePtr& type) {
  arrow::Schema one;
  one.fields.push_back(arrow::Field{name, type, true, {}});
  return Json::parse(Features::from_schema(one).to_json()).at(name);
}

}  // namespace

std::vector<Dataset> align_columns(std::span<const Dataset> datasets) {
  struct Column {
    std::string name;
    TypePtr type;
    Json feature;
    size_t first = 0;  // the dataset it was first seen in
    bool widened = false;
  };
  std::vector<Column> columns;
  std::vector<Json> features;
  for (size_t d = 0; d < datasets.size(); ++d) {
    features.push_back(Json::parse(datasets[d].features().to_json()));
    for (const arrow::Field& field : datasets[d].schema()->fields) {
      auto it = std::find_if(columns.begin(), columns.end(),
                             [&](const Column& c) { return c.name == field.name; });
      if (it == columns.end()) {
        columns.push_back({field.name, field.type, features[d].at(field.name), d, false});
        continue;
      }
      TypePtr to = widen(it->type, field.type);
      if (!to) {
        throw InvalidArgument(fmt::format(
            "column \"{}\" is {} in dataset {} but {} in dataset {}; they cannot be lined up "
            "in one dataset (only bool -> integer -> float widen)",
            field.name, it->type->to_string(), it->first, field.type->to_string(), d));
      }
      if (it->type->id == TypeId::kNull && field.type->id != TypeId::kNull) {
        it->feature = features[d].at(field.name);  // the first feature with values
      } else if (!to->equals(*it->type)) {
        it->widened = true;
      }
      it->type = std::move(to);
    }
  }
  auto schema = std::make_shared<arrow::Schema>();
  Json unified = Json::object();
  for (Column& c : columns) {
    if (c.widened) c.feature = inferred_feature(c.name, c.type);
    schema->fields.push_back(arrow::Field{c.name, c.type, true, {}});
    unified[c.name] = c.feature;
  }
  const Features unified_features = Features::from_json(unified.dump(), "merged features");

  std::vector<Dataset> out;
  out.reserve(datasets.size());
  for (size_t d = 0; d < datasets.size(); ++d) {
    const Dataset& ds = datasets[d];
    const arrow::Schema& have = *ds.schema();
    bool same = have.fields.size() == columns.size() && ds.features() == unified_features;
    for (size_t c = 0; same && c < columns.size(); ++c) {
      same = have.fields[c].name == columns[c].name && have.fields[c].type->equals(*columns[c].type);
    }
    if (same) {
      out.push_back(ds);  // zero-copy, keeping its files
      continue;
    }
    std::vector<arrow::RecordBatch> batches;
    batches.reserve(ds.batches().size());
    for (const arrow::RecordBatch& batch : ds.batches()) {
      arrow::RecordBatch rb;
      rb.schema = schema;
      rb.num_rows = batch.num_rows;
      for (const Column& c : columns) {
        const int i = have.field_index(c.name);
        if (i < 0) {
          rb.columns.push_back(detail::all_null(c.type, batch.num_rows));
        } else {
          rb.columns.push_back(detail::conform(batch.columns[static_cast<size_t>(i)], c.type,
                                               fmt::format("dataset {}, column \"{}\"", d, c.name)));
        }
      }
      batches.push_back(std::move(rb));
    }
    out.push_back(Dataset::from_batches(schema, std::move(batches), unified_features));
  }
  return out;
}

}  // namespace mouse

namespace mouse {

namespace {

// Each split's stores merged, the splits lined up; empty splits left out.
DatasetDict merged_splits(const StoreConfigSplits& config) {
  std::vector<std::string> names;
  std::vector<Dataset> merged;
  for (const StoreSplit& split : config.splits) {
    Dataset ds = DatasetStore::merge_stores_to_dataset(split.stores);
    if (ds.num_rows() == 0) continue;
    names.push_back(split.name);
    merged.push_back(std::move(ds));
  }
  std::vector<Dataset> aligned = merged.size() <= 1 ? merged : align_columns(merged);
  DatasetDict dict;
  for (size_t i = 0; i < names.size(); ++i) dict.insert(names[i], std::move(aligned[i]));
  return dict;
}

}  // namespace

bool save_stores_to_hub_layout(const StoreConfigSplits& config, const std::filesystem::path& dir,
                               HubSaveOptions options) {
  DatasetDict dict = merged_splits(config);
  if (dict.size() == 0) return false;
  options.config_name = config.config;
  save_to_hub_layout(dict, dir, options);
  return true;
}

bool save_stores_to_hub_layout(const std::vector<StoreConfigSplits>& configs,
                               const std::filesystem::path& dir, const HubSaveOptions& options) {
  std::vector<std::pair<std::string, DatasetDict>> dicts;
  for (const StoreConfigSplits& config : configs) {
    DatasetDict dict = merged_splits(config);
    if (dict.size() > 0) dicts.emplace_back(config.config, std::move(dict));
  }
  if (dicts.empty()) return false;
  save_to_hub_layout(dicts, dir, options);
  return true;
}

}  // namespace mouse
