// save_to_disk: shards in the IPC stream framing plus dataset_info.json and state.json, laid
// out as Python `datasets` writes them (Dataset.save_to_disk / ArrowWriter):
//  - num_shards = int(nbytes / max_shard_size) + 1 contiguous shards of near-equal row counts
//    (the first `rows % num_shards` shards get one row more), data-NNNNN-of-MMMMM.arrow;
//  - every field nullable, schema metadata only {"huggingface": json.dumps({"info":
//    {"features": ...}})};
//  - dataset_info.json: json.dump(indent=2) with the top-level keys sorted;
//  - state.json: json.dump(indent=2, sort_keys=True).
// Record batches are cut at at most max_batch_rows rows and also at the source's batch
// boundaries, so no column data is copied (pyarrow would combine chunks; readers don't care).
#include <fmt/format.h>

#include <algorithm>

#include "hf/atomic_dir.hpp"
#include "hf/dataset_state.hpp"
#include "hf/py_json.hpp"
#include "mouse/arrow_ipc.hpp"
#include "mouse/dataset.hpp"
#include "mouse/error.hpp"

namespace mouse {

namespace fs = std::filesystem;

namespace detail {

namespace {

using nlohmann::ordered_json;

template <class O>
std::pair<int64_t, int64_t> offset_span(const arrow::ArrayData& a, int64_t start, int64_t len) {
  const int64_t need = (a.offset + start + len + 1) * static_cast<int64_t>(sizeof(O));
  if (a.buffers.size() < 2 || a.buffers[1].size() < need) return {0, 0};
  const O* o = a.buffers[1].as<O>() + a.offset;
  return {static_cast<int64_t>(o[start]), static_cast<int64_t>(o[start + len])};
}

// Bytes of column data in elements [start, start + len) of `a`, as pyarrow's nbytes counts
// them for a slice. Only reads the first and last offsets of variable-size types.
int64_t array_nbytes(const arrow::ArrayData& a, int64_t start, int64_t len) {
  if (len <= 0 || !a.type) return 0;
  int64_t n = 0;
  if (!a.buffers.empty() && !a.buffers[0].empty()) n += (len + 7) / 8;
  const arrow::DataType& t = *a.type;
  switch (t.id) {
    case arrow::TypeId::kNull:
      return 0;
    case arrow::TypeId::kBool:
      return n + (len + 7) / 8;
    case arrow::TypeId::kUtf8:
    case arrow::TypeId::kBinary: {
      const auto [b, e] = offset_span<int32_t>(a, start, len);
      return n + (len + 1) * 4 + (e - b);
    }
    case arrow::TypeId::kLargeUtf8:
    case arrow::TypeId::kLargeBinary: {
      const auto [b, e] = offset_span<int64_t>(a, start, len);
      return n + (len + 1) * 8 + (e - b);
    }
    case arrow::TypeId::kList:
    case arrow::TypeId::kLargeList: {
      const bool large = t.id == arrow::TypeId::kLargeList;
      const auto [b, e] = large ? offset_span<int64_t>(a, start, len)
                                : offset_span<int32_t>(a, start, len);
      n += (len + 1) * (large ? 8 : 4);
      if (!a.children.empty()) n += array_nbytes(*a.children[0], b, e - b);
      return n;
    }
    case arrow::TypeId::kFixedSizeList:
      if (!a.children.empty()) {
        n += array_nbytes(*a.children[0], (a.offset + start) * t.list_size, len * t.list_size);
      }
      return n;
    case arrow::TypeId::kStruct:
      for (const auto& c : a.children) n += array_nbytes(*c, a.offset + start, len);
      return n;
    default:
      return n + len * t.byte_width();
  }
}

}  // namespace

int64_t dataset_nbytes(const DatasetState& s) {
  int64_t n = 0;
  for (const auto& b : s.batches) {
    for (const auto& c : b.columns) n += array_nbytes(*c, 0, b.num_rows);
  }
  return n;
}

namespace {

// The record batches for rows [lo, hi): pieces of the source batches of at most `max_rows`.
template <class F>
void for_each_piece(const DatasetState& s, int64_t lo, int64_t hi, int64_t max_rows, F&& emit) {
  for (size_t b = 0; b < s.batches.size(); ++b) {
    const int64_t bs = s.starts[b];
    const int64_t be = s.starts[b + 1];
    const int64_t from = std::max(lo, bs);
    const int64_t to = std::min(hi, be);
    for (int64_t p = from; p < to; p += max_rows) {
      const int64_t len = std::min(max_rows, to - p);
      const arrow::RecordBatch& src = s.batches[b];
      if (p == bs && len == src.num_rows) {
        emit(src);
        continue;
      }
      arrow::RecordBatch piece;
      piece.schema = src.schema;
      piece.num_rows = len;
      for (const auto& c : src.columns) piece.columns.push_back(c->slice(p - bs, len));
      emit(piece);
    }
  }
}

ordered_json sorted_top_level(const ordered_json& j) {
  std::vector<std::string> keys;
  for (const auto& [k, v] : j.items()) keys.push_back(k);
  std::sort(keys.begin(), keys.end());
  ordered_json out = ordered_json::object();
  for (const auto& k : keys) out[k] = j.at(k);
  return out;
}

void write_text(const fs::path& path, const std::string& text) {
  FileWriter file(path);
  file.write(text);
  file.close();
}

}  // namespace

void check_save_options(const SaveOptions& o) {
  if (o.max_shard_bytes <= 0) {
    throw InvalidArgument(fmt::format("save_to_disk: max_shard_bytes must be > 0, got {}",
                                      o.max_shard_bytes));
  }
  if (o.max_batch_rows <= 0) {
    throw InvalidArgument(
        fmt::format("save_to_disk: max_batch_rows must be > 0, got {}", o.max_batch_rows));
  }
  if (o.num_shards && *o.num_shards < 1) {
    throw InvalidArgument(fmt::format("save_to_disk: num_shards must be >= 1, got {}", *o.num_shards));
  }
}

void write_dataset(const DatasetState& s, const fs::path& dir, const SaveOptions& options) {
  const ordered_json features = s.features.impl().to_json();
  ordered_json hf = ordered_json::object();
  hf["info"] = ordered_json::object();
  hf["info"]["features"] = features;

  auto schema = std::make_shared<arrow::Schema>();
  schema->fields = s.schema->fields;
  for (auto& f : schema->fields) f.nullable = true;
  schema->metadata = {{"huggingface", py_dumps(hf)}};

  const int64_t rows = s.num_rows();
  int64_t num_shards = options.num_shards ? *options.num_shards
                                          : dataset_nbytes(s) / options.max_shard_bytes + 1;
  // More shards than rows would only add empty files.
  num_shards = std::clamp<int64_t>(num_shards, 1, std::max<int64_t>(rows, 1));

  ContentHash hash;
  hash.update(py_dumps(features));
  ordered_json data_files = ordered_json::array();
  const int64_t div = rows / num_shards;
  const int64_t mod = rows % num_shards;
  for (int64_t i = 0; i < num_shards; ++i) {
    const int64_t lo = div * i + std::min(i, mod);
    const int64_t hi = lo + div + (i < mod ? 1 : 0);
    const std::string name = fmt::format("data-{:05d}-of-{:05d}.arrow", i, num_shards);
    FileWriter file(dir / name);
    arrow::IpcStreamWriter writer(
        [&](std::span<const uint8_t> bytes) {
          file.write(bytes);
          hash.update(bytes);
        },
        schema);
    for_each_piece(s, lo, hi, options.max_batch_rows, [&](const arrow::RecordBatch& b) {
      if (b.schema == schema) {
        writer.write(b);
      } else {
        arrow::RecordBatch out = b;
        out.schema = schema;
        writer.write(out);
      }
    });
    writer.finish();
    file.close();
    data_files.push_back(ordered_json{{"filename", name}});
  }

  ordered_json info;
  if (s.info.is_object()) {
    info = s.info;
  } else {
    info = ordered_json{{"citation", ""}, {"description", ""}, {"homepage", ""}, {"license", ""}};
  }
  info["features"] = features;
  write_text(dir / "dataset_info.json", py_dumps(sorted_top_level(info), 2));

  ordered_json state = ordered_json::object();
  state["_data_files"] = data_files;
  state["_fingerprint"] = hash.hex();
  state["_format_columns"] = nullptr;
  state["_format_kwargs"] = ordered_json::object();
  state["_format_type"] = nullptr;
  state["_output_all_columns"] = false;
  state["_split"] = s.split ? ordered_json(*s.split) : ordered_json(nullptr);
  write_text(dir / "state.json", py_dumps(state, 2));
}

}  // namespace detail

void Dataset::save_to_disk(const fs::path& path, const SaveOptions& options) const {
  detail::check_save_options(options);
  detail::replace_directory_atomically(
      path, [&](const fs::path& dir) { detail::write_dataset(*state_, dir, options); });
}

}  // namespace mouse
