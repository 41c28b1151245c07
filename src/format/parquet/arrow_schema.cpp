// Restoring Arrow types from "ARROW:schema". Only conversions that keep every value are done:
// 32 -> 64-bit offsets, list -> fixed_size_list when every list has the declared size, and
// child renames; anything else keeps the type the Parquet schema gives.
#include "format/parquet/arrow_schema.hpp"

#include <fmt/format.h>

#include <cstring>
#include <vector>

#include "format/arrow/take.hpp"
#include "mouse/arrow_ipc.hpp"
#include "mouse/error.hpp"

namespace mouse::parquet::detail {

namespace {

using arrow::ArrayData;
using arrow::TypeId;

std::vector<uint8_t> base64_decode(std::string_view in) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::vector<uint8_t> out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=' || c == '\n' || c == '\r') continue;
    int v = val(c);
    if (v < 0) return {};
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<uint8_t>(acc >> bits));
    }
  }
  return out;
}

Buffer widen_offsets(const ArrayData& a) {
  Buffer out = Buffer::allocate((a.length + 1) * 8);
  auto* dst = reinterpret_cast<int64_t*>(out.mutable_data());
  const int32_t* src = a.buffers[1].as<int32_t>() + a.offset;
  for (int64_t i = 0; i <= a.length; ++i) dst[i] = src[i];
  return out;
}

// `n` zeroed, valid items of a fixed-width primitive `type` (placeholders under null list rows),
// or nullptr for other types.
arrow::ArrayPtr zeroed_items(const arrow::TypePtr& type, int64_t n) {
  if (type->byte_width() <= 0) return nullptr;
  auto out = std::make_shared<arrow::ArrayData>();
  out->type = type;
  out->length = n;
  out->buffers = {Buffer(), Buffer::allocate(n * type->byte_width())};
  return out;
}

}  // namespace

std::shared_ptr<const arrow::Schema> decode_arrow_schema(std::string_view b64) {
  std::vector<uint8_t> bytes = base64_decode(b64);
  if (bytes.size() < 8) return nullptr;
  // pyarrow stores the schema message without the end-of-stream marker.
  const uint8_t eos[8] = {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0};
  bytes.insert(bytes.end(), eos, eos + 8);
  try {
    Buffer buf = Buffer::copy_of(bytes);
    return arrow::read_ipc(buf, "ARROW:schema").schema;
  } catch (const Error&) {
    return nullptr;
  }
}

arrow::TypePtr restore_type(const arrow::TypePtr& ours, const arrow::TypePtr& hint) {
  if (!hint) return ours;
  const TypeId o = ours->id, h = hint->id;
  if ((o == TypeId::kUtf8 && h == TypeId::kLargeUtf8) || (o == TypeId::kBinary && h == TypeId::kLargeBinary)) {
    return hint;
  }
  if (o == TypeId::kList && hint->is_list_like()) {
    arrow::Field item = hint->children.front();
    item.type = restore_type(ours->value_type(), item.type);
    item.nullable = ours->children.front().nullable || item.nullable;
    if (h == TypeId::kList) return arrow::list(item);
    if (h == TypeId::kLargeList) return arrow::large_list(item);
    return arrow::fixed_size_list(item, hint->list_size);
  }
  if (o == TypeId::kStruct && h == TypeId::kStruct && ours->children.size() == hint->children.size()) {
    std::vector<arrow::Field> fields;
    for (size_t i = 0; i < ours->children.size(); ++i) {
      if (ours->children[i].name != hint->children[i].name) return ours;
      arrow::Field f = ours->children[i];
      f.type = restore_type(f.type, hint->children[i].type);
      fields.push_back(std::move(f));
    }
    return arrow::struct_(std::move(fields));
  }
  return ours;
}

arrow::ArrayPtr cast_to(const arrow::ArrayPtr& a, const arrow::TypePtr& target, const std::string& source,
                        const std::string& where) {
  if (a->type.get() == target.get()) return a;
  const TypeId from = a->type->id, to = target->id;
  auto out = std::make_shared<ArrayData>(*a);
  out->type = target;
  if (from == to && (from != TypeId::kList && from != TypeId::kStruct)) return out;
  if ((from == TypeId::kUtf8 && to == TypeId::kLargeUtf8) || (from == TypeId::kBinary && to == TypeId::kLargeBinary)) {
    out->buffers[1] = widen_offsets(*a);
    out->offset = 0;
    out->buffers[0] = a->offset == 0 ? a->buffers[0] : Buffer();
    if (a->offset != 0 && a->null_count > 0) return a;  // not produced by the reader
    return out;
  }
  if (from == TypeId::kStruct) {
    for (size_t i = 0; i < out->children.size(); ++i) {
      out->children[i] = cast_to(a->children[i], target->children[i].type, source, where);
    }
    return out;
  }
  if (from == TypeId::kList) {
    const arrow::TypePtr& item_type = target->value_type();
    if (to == TypeId::kList) {
      out->children[0] = cast_to(a->children[0], item_type, source, where);
      return out;
    }
    if (to == TypeId::kLargeList) {
      out->buffers[1] = widen_offsets(*a);
      out->children[0] = cast_to(a->children[0], item_type, source, where);
      return out;
    }
    // fixed_size_list: every valid list must have the declared size; null lists get `size`
    // placeholder items (any elements: they sit under a null slot).
    const int64_t size = target->list_size;
    std::vector<arrow::TakeRange> ranges;
    bool contiguous = true;
    int64_t expect = -1;
    // The reader built these offsets itself (and validates the result), so they are read
    // directly rather than through the checked accessor.
    const int32_t* offs = a->buffers[1].as<int32_t>() + a->offset;
    const uint8_t* bits = a->null_count > 0 && !a->buffers[0].empty() ? a->buffers[0].data() : nullptr;
    arrow::ArrayPtr placeholders;  // `size` items for null rows, when the child has too few
    ranges.reserve(static_cast<size_t>(a->length));
    for (int64_t i = 0; i < a->length; ++i) {
      const int64_t b = offs[i], e = offs[i + 1];
      if (bits == nullptr || arrow::get_bit(bits, a->offset + i)) {
        if (e - b != size) {
          throw FormatError(source, -1, fmt::format("{}: row {} has {} items, ARROW:schema declares "
                                                    "fixed_size_list of {}", where, i, e - b, size));
        }
        if (expect >= 0 && b != expect) contiguous = false;
        if (expect < 0 && i != 0) contiguous = false;
        expect = e;
        ranges.push_back({0, b, size});
      } else {
        contiguous = false;
        if (a->children[0]->length < size) {
          // Too few items to borrow (e.g. every row of the chunk is null): zeroed placeholders
          // of a fixed-width item type.
          if (!placeholders) placeholders = zeroed_items(a->children[0]->type, size);
          if (!placeholders) {
            throw FormatError(source, -1, fmt::format("{}: cannot give null row {} the {} items "
                                                      "of its fixed_size_list", where, i, size));
          }
          ranges.push_back({1, 0, size});
        } else {
          ranges.push_back({0, 0, size});
        }
      }
    }
    arrow::ArrayPtr child = a->children[0];
    if (contiguous && a->length > 0) {
      child = child->slice(offs[0], a->length * size);
    } else if (!contiguous) {
      std::vector<arrow::ArrayPtr> chunks{child};
      if (placeholders) chunks.push_back(placeholders);
      child = arrow::take_ranges(child->type, chunks, ranges);
    } else {
      child = child->slice(0, 0);
    }
    out->buffers = {a->offset == 0 ? a->buffers[0] : Buffer()};
    if (a->offset != 0) return a;  // not produced by the reader
    out->children = {cast_to(child, item_type, source, where)};
    return out;
  }
  return a;
}

}  // namespace mouse::parquet::detail
