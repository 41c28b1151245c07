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
#include "hf/shard_writer.hpp"
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

int64_t batch_nbytes(const arrow::RecordBatch& batch) {
  int64_t n = 0;
  for (const auto& c : batch.columns) n += array_nbytes(*c, 0, batch.num_rows);
  return n;
}

int64_t dataset_nbytes(const DatasetState& s) {
  int64_t n = 0;
  for (const auto& b : s.batches) n += batch_nbytes(b);
  return n;
}

int64_t shard_count(const SaveOptions& options, int64_t rows, int64_t nbytes) {
  const int64_t n = options.num_shards ? *options.num_shards : nbytes / options.max_shard_bytes + 1;
  // More shards than rows would only add empty files.
  return std::clamp<int64_t>(n, 1, std::max<int64_t>(rows, 1));
}

namespace {

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

struct ShardWriter::Shard {
  std::string name;
  FileWriter file;
  arrow::IpcStreamWriter writer;

  Shard(const fs::path& dir, std::string shard_name, std::shared_ptr<const arrow::Schema> schema,
        ContentHash& hash)
      : name(std::move(shard_name)),
        file(dir / name),
        writer(
            [this, &hash](std::span<const uint8_t> bytes) {
              file.write(bytes);
              hash.update(bytes);
            },
            std::move(schema)) {}
};

ShardWriter::ShardWriter(fs::path dir, const arrow::Schema& schema, const Features& features,
                         int64_t rows, int64_t num_shards, int64_t max_batch_rows)
    : dir_(std::move(dir)),
      features_json_(features.impl().to_json()),
      schema_(std::make_shared<arrow::Schema>()),
      rows_(rows),
      num_shards_(num_shards),
      max_batch_rows_(max_batch_rows) {
  MOUSE_DCHECK(num_shards_ >= 1 && max_batch_rows_ >= 1);
  ordered_json hf = ordered_json::object();
  hf["info"] = ordered_json::object();
  hf["info"]["features"] = features_json_;
  schema_->fields = schema.fields;
  for (auto& f : schema_->fields) f.nullable = true;
  schema_->metadata = {{"huggingface", py_dumps(hf)}};
  hash_.update(py_dumps(features_json_));
  open_shard();
}

ShardWriter::~ShardWriter() = default;

int64_t ShardWriter::shard_rows(int64_t shard) const noexcept {
  return rows_ / num_shards_ + (shard < rows_ % num_shards_ ? 1 : 0);
}

void ShardWriter::open_shard() {
  ++shard_;
  rows_in_shard_ = 0;
  open_ = std::make_unique<Shard>(dir_, fmt::format("data-{:05d}-of-{:05d}.arrow", shard_, num_shards_),
                                  schema_, hash_);
}

void ShardWriter::close_shard() {
  open_->writer.finish();
  open_->file.close();
  data_files_.push_back(ordered_json{{"filename", open_->name}});
  open_.reset();
}

void ShardWriter::write(const arrow::RecordBatch& batch) {
  MOUSE_DCHECK(open_);
  if (rows_written_ + batch.num_rows > rows_) {
    throw InvalidArgument(fmt::format("save_to_disk: expected {} rows, got at least {}", rows_,
                                      rows_written_ + batch.num_rows));
  }
  // Pieces of the batch, each within one shard and at most max_batch_rows_ long, cut from the
  // start of the batch's part in that shard (as for an in-memory dataset's source batches).
  int64_t p = 0;
  while (p < batch.num_rows) {
    if (rows_in_shard_ == shard_rows(shard_)) {
      close_shard();
      open_shard();
    }
    const int64_t part_end = p + std::min(batch.num_rows - p, shard_rows(shard_) - rows_in_shard_);
    for (; p < part_end; p += std::min(max_batch_rows_, part_end - p)) {
      const int64_t len = std::min(max_batch_rows_, part_end - p);
      arrow::RecordBatch piece;
      piece.schema = schema_;
      piece.num_rows = len;
      if (p == 0 && len == batch.num_rows) {
        piece.columns = batch.columns;
      } else {
        for (const auto& c : batch.columns) piece.columns.push_back(c->slice(p, len));
      }
      open_->writer.write(piece);
      rows_in_shard_ += len;
      rows_written_ += len;
    }
  }
}

void ShardWriter::finish(const ordered_json& info_in, const std::optional<std::string>& split) {
  MOUSE_DCHECK(open_);
  if (rows_written_ != rows_ || shard_ != num_shards_ - 1) {
    throw InvalidArgument(
        fmt::format("save_to_disk: expected {} rows, got {}", rows_, rows_written_));
  }
  close_shard();

  ordered_json info;
  if (info_in.is_object()) {
    info = info_in;
  } else {
    info = ordered_json{{"citation", ""}, {"description", ""}, {"homepage", ""}, {"license", ""}};
  }
  info["features"] = features_json_;
  write_text(dir_ / "dataset_info.json", py_dumps(sorted_top_level(info), 2));

  ordered_json state = ordered_json::object();
  state["_data_files"] = data_files_;
  state["_fingerprint"] = hash_.hex();
  state["_format_columns"] = nullptr;
  state["_format_kwargs"] = ordered_json::object();
  state["_format_type"] = nullptr;
  state["_output_all_columns"] = false;
  state["_split"] = split ? ordered_json(*split) : ordered_json(nullptr);
  write_text(dir_ / "state.json", py_dumps(state, 2));
}

void ShardWriter::abandon() noexcept {
  open_.reset();
  std::error_code ec;
  for (int64_t i = 0; i <= shard_; ++i) {
    fs::remove(dir_ / fmt::format("data-{:05d}-of-{:05d}.arrow", i, num_shards_), ec);
  }
  data_files_ = ordered_json::array();
}

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
  const int64_t rows = s.num_rows();
  ShardWriter writer(dir, *s.schema, s.features, rows,
                     shard_count(options, rows, options.num_shards ? 0 : dataset_nbytes(s)),
                     options.max_batch_rows);
  for (const auto& b : s.batches) writer.write(b);
  writer.finish(s.info, s.split);
}

}  // namespace detail

void Dataset::save_to_disk(const fs::path& path, const SaveOptions& options) const {
  detail::check_save_options(options);
  detail::replace_directory_atomically(
      path, [&](const fs::path& dir) { detail::write_dataset(*state_, dir, options); });
}

}  // namespace mouse
