// The Parquet fuzz body: inspect, read the representable columns, fully validate and touch every
// value, so that a validation gap shows up as a sanitizer report instead of passing silently.
#include "format/parquet/parquet_fuzz.hpp"

#include "mouse/arrow_json.hpp"
#include "mouse/error.hpp"
#include "mouse/parquet.hpp"

namespace mouse::detail {

int fuzz_parquet(const uint8_t* data, size_t size) {
  Buffer bytes(data, static_cast<int64_t>(size), nullptr);
  for (bool verify : {true, false}) {
    try {
      parquet::FileInfo info = parquet::inspect_parquet(bytes, "fuzz-input");
      parquet::ReadOptions options;
      options.verify_checksums = verify;
      for (const auto& c : info.columns) {
        if (c.unsupported.empty()) options.columns.push_back(c.name);
      }
      if (options.columns.empty()) return 0;
      parquet::Table table = parquet::read_parquet(bytes, "fuzz-input", options);
      std::string sink;
      for (const auto& batch : table.batches) {
        for (const auto& col : batch.columns) {
          arrow::validate(*col, "fuzz-input", true);
          for (int64_t i = 0; i < col->length; ++i) {
            sink.clear();
            arrow::append_json_value(sink, *col, i);
          }
        }
      }
      return 0;
    } catch (const Error&) {
    }
  }
  return 0;
}

}  // namespace mouse::detail
