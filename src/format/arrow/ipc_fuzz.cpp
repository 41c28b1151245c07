// The Arrow IPC fuzz body: read, fully validate, then touch every value so that a validation
// gap shows up as a sanitizer report instead of passing silently.
#include "format/arrow/ipc_fuzz.hpp"

#include <cstring>

#include "mouse/arrow_ipc.hpp"
#include "mouse/error.hpp"

namespace mouse::detail {

namespace {

using arrow::ArrayData;
using arrow::TypeId;

// Visits element [first, first + count) of `a`, folding bytes into `acc`.
void touch(const ArrayData& a, int64_t first, int64_t count, uint64_t& acc) {
  const arrow::DataType& t = *a.type;
  for (int64_t i = first; i < first + count; ++i) acc += a.is_valid(i) ? 1 : 0;
  switch (t.id) {
    case TypeId::kNull:
      return;
    case TypeId::kBool:
      for (int64_t i = first; i < first + count; ++i) acc += arrow::bool_value(a, i);
      return;
    case TypeId::kUtf8:
    case TypeId::kLargeUtf8:
    case TypeId::kBinary:
    case TypeId::kLargeBinary:
      for (int64_t i = first; i < first + count; ++i) {
        std::string_view v = arrow::binary_value(a, i);
        for (char c : v) acc += static_cast<uint8_t>(c);
      }
      return;
    case TypeId::kList:
    case TypeId::kLargeList:
      for (int64_t i = first; i < first + count; ++i) {
        auto [b, e] = arrow::value_range(a, i);
        touch(*a.children[0], b, e - b, acc);
      }
      return;
    case TypeId::kFixedSizeList:
      touch(*a.children[0], (a.offset + first) * t.list_size, count * t.list_size, acc);
      return;
    case TypeId::kStruct:
      for (const auto& c : a.children) touch(*c, a.offset + first, count, acc);
      return;
    default: {
      const int w = t.byte_width();
      const uint8_t* p = a.buffers[1].data() + (a.offset + first) * w;
      for (int64_t k = 0; k < count * w; ++k) acc += p[k];
      return;
    }
  }
}

}  // namespace

int fuzz_ipc(const uint8_t* data, size_t size) {
  try {
    Buffer bytes(data, static_cast<int64_t>(size), nullptr);
    arrow::IpcReadOptions options;
    options.validate_full = true;
    arrow::IpcTable table = arrow::read_ipc(bytes, "fuzz-input", options);
    uint64_t acc = 0;
    for (const auto& batch : table.batches) {
      for (const auto& col : batch.columns) touch(*col, 0, col->length, acc);
    }
    volatile uint64_t sink = acc;
    (void)sink;
  } catch (const Error&) {
  }
  return 0;
}

}  // namespace mouse::detail
